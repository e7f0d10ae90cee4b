"""The doctor's code location item when a foreign package takes the name of one of ours: the
wheel installs the top-level packages `resources` and `sensors` (docs/decisions/0010), names
another distribution or a folder on PYTHONPATH may also use. The verdict names the intruder and
the fix. (The healthy case runs in tests/integration/test_doctor.py and, from an installed wheel
with a real intruding distribution, in tests/integration/test_installed_wheel.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import forecastops
from forecastops.ops.doctor import check_code_location
from forecastops.stores.settings import Settings

OURS = Path(forecastops.__file__).resolve().parent.parent
"""Where our top-level packages are installed: beside `forecastops`."""


def test_a_foreign_resources_package_on_pythonpath_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "resources").mkdir(parents=True)
    (elsewhere / "resources" / "__init__.py").write_text('"""Not ForecastOps\' resources."""\n')
    monkeypatch.setenv("PYTHONPATH", str(elsewhere))

    verdict = check_code_location(Settings(home=tmp_path / "home"))

    assert not verdict.healthy
    assert verdict.detail == (
        f"`import resources` finds {elsewhere / 'resources'}, not ForecastOps' "
        f"{OURS / 'resources'}: a foreign package named `resources` shadows ours"
    )
    assert verdict.fix.startswith(f"take {elsewhere} off PYTHONPATH, so that `resources` is")
    assert "docs/decisions/0010" in verdict.fix


def test_another_distribution_declaring_our_package_name_is_named_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed into the same site-packages, its `sensors` files would overwrite ours; the
    import still finds the folder beside forecastops, so only its metadata tells."""
    site = tmp_path / "site"
    dist_info = site / "lm_sensors_py-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lm-sensors-py\nVersion: 1.0\n"
    )
    (dist_info / "top_level.txt").write_text("sensors\n")
    monkeypatch.syspath_prepend(str(site))  # where this process finds distributions

    verdict = check_code_location(Settings(home=tmp_path / "home"))

    assert not verdict.healthy
    assert verdict.detail == (
        "the distribution lm-sensors-py also installs a top-level package `sensors` into "
        f"{OURS}, over ForecastOps' files"
    )
    assert verdict.fix == (
        "uninstall lm-sensors-py, then reinstall forecastops (e.g. `pip install "
        "--force-reinstall --no-deps forecastops`)"
    )
