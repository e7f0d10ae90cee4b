"""ForecastOps installed from its wheel, as a user without the source checkout has it: the wheel
is built from a copy of the project, installed with the locked dependencies into a fresh venv in
a temporary folder, and `forecastops doctor` and `forecastops report` run from a directory
outside the repo (docs/decisions/0010). Last, a foreign distribution that also installs a
top-level `sensors` package is installed beside it, and the doctor names it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from forecastops.pipeline.incident_report import SECTIONS, IncidentReport
from forecastops.stores.settings import MANAGED_MARKER
from tests.integration.test_doctor import all_ok, verdicts

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = REPO_ROOT / ".tools" / "bin" / "uv"
TOP_LEVEL_PACKAGES = {"forecastops", "forecast_assets", "forecast_jobs", "resources", "sensors"}
"""What the wheel installs into site-packages, and nothing else (docs/decisions/0010)."""
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".tools", ".forecastops", "build", "dist", "*.egg-info", "__pycache__",
    ".mypy_cache", ".pytest_cache", ".ruff_cache",
)  # fmt: skip
STEP_TIMEOUT_S = 600


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    outside: Path
    """An empty folder outside the repo: the commands' working directory."""
    seconds: dict[str, float]

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """A user's shell with nothing of this test session's: no FORECASTOPS_* (the user sets
        what `extra` gives), no DAGSTER_HOME, no PYTHONPATH, no virtualenv of the repo's. Python
        may cache bytecode, as for any user: uv installs none, and importing Dagster and MLflow
        from source alone takes several times longer in every command."""
        dropped = {
            "DAGSTER_HOME",
            "MLFLOW_TRACKING_URI",
            "PYTHONPATH",
            "VIRTUAL_ENV",
            "PYTHONDONTWRITEBYTECODE",
        }
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("FORECASTOPS_", "UV_")) and name not in dropped
        }
        env["HOME"] = str(self.outside.parent / "user-home")
        return {**env, **extra}

    def run(self, command: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / command[0]), *command[1:]],
            cwd=self.outside,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )


def _step(seconds: dict[str, float], name: str, command: list[str], cwd: Path) -> str:
    """Run one build step, timed into `seconds[name]`; its stderr (uv's warnings)."""
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
    )
    seconds[name] = time.perf_counter() - started
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if not UV.is_file():
        pytest.fail(f"{UV} is missing: run `make setup` first")
    root = tmp_path_factory.mktemp("installed")
    assert not root.resolve().is_relative_to(REPO_ROOT)
    source, dist, venv = root / "source", root / "dist", root / "venv"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_COPIED, symlinks=True)
    seconds: dict[str, float] = {}
    uv = str(UV)
    _step(seconds, "build", [uv, "build", "--wheel", "--out-dir", str(dist), str(source)], root)
    [wheel] = dist.glob("forecastops-*.whl")
    requirements = root / "requirements.txt"
    export = [uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--quiet"]
    _step(seconds, "export", [*export, "--project", str(source), "-o", str(requirements)], root)
    _step(seconds, "venv", [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], root)
    install = [uv, "pip", "install", "--python", str(venv / "bin" / "python")]
    _step(seconds, "install", [*install, "-r", str(requirements), str(wheel)], root)
    print(f"\nwheel build and install, seconds: {seconds}")  # shown with -s
    outside = root / "somewhere-else"
    outside.mkdir()
    yield Installed(wheel, venv, outside, seconds)


def test_the_wheel_holds_our_packages_and_the_instance_templates_but_no_tests(
    installed: Installed,
) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
    top_level = {
        name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")
    }
    assert top_level == TOP_LEVEL_PACKAGES
    assert not [name for name in names if "/tests/" in f"/{name}"]
    templates = {name for name in names if name.startswith("forecast_jobs/instance_templates/")}
    assert templates == {
        "forecast_jobs/instance_templates/embedded.yaml",
        "forecast_jobs/instance_templates/postgres.yaml",
    }


def test_state_defaults_to_the_users_home_not_site_packages(installed: Installed) -> None:
    probe = "from forecastops.stores.settings import load_settings; print(load_settings().home)"
    result = installed.run(["python", "-c", probe])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(installed.outside.parent / "user-home" / ".forecastops")


def test_doctor_fixes_and_passes_and_report_is_written_outside_the_repo(
    installed: Installed, tmp_path: Path
) -> None:
    home = tmp_path / "forecastops-home"
    fixed = installed.run(["forecastops", "doctor", "--fix"], FORECASTOPS_HOME=str(home))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    doctor = installed.run(["forecastops", "doctor"], FORECASTOPS_HOME=str(home))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert all_ok(doctor.stdout), doctor.stdout
    assert "code location: forecast_jobs.definitions loads (" in doctor.stdout
    # The embedded instance's dagster.yaml came from the package data.
    dagster_yaml = (home / "dagster" / "dagster.yaml").read_text()
    assert dagster_yaml.startswith(f"{MANAGED_MARKER} (FORECASTOPS_INSTANCE=embedded)")

    out = tmp_path / "report.csv"
    report = installed.run(
        ["forecastops", "report", "--format", "csv", "--out", str(out)],
        FORECASTOPS_HOME=str(home),
    )
    assert report.returncode == 0, report.stderr
    assert "Warning" not in report.stderr
    sections = IncidentReport.from_csv(out).sections
    assert list(sections) == list(SECTIONS)
    source = sections["report"]["runs_source"].item()
    assert source == f"Dagster instance at DAGSTER_HOME={home / 'dagster'}"
    # Nothing landed where the commands ran, nor in the installed packages.
    assert list(installed.outside.iterdir()) == []
    assert not list(installed.venv.glob("lib/python*/site-packages/.forecastops"))


def test_doctor_names_a_distribution_that_installs_a_sensors_package_over_ours(
    installed: Installed, tmp_path: Path
) -> None:
    """Runs last: it breaks the venv, as such a distribution does."""
    project = tmp_path / "lm-sensors-py"
    (project / "sensors").mkdir(parents=True)
    (project / "sensors" / "__init__.py").write_text('"""Hardware sensors, not ForecastOps\'."""\n')
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=75"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "lm-sensors-py"\nversion = "1.0"\n'
        '[tool.setuptools]\npackages = ["sensors"]\n'
    )
    seconds: dict[str, float] = {}
    uv = str(UV)
    _step(
        seconds,
        "build",
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(project)],
        tmp_path,
    )
    [intruder] = tmp_path.glob("lm_sensors_py-*.whl")
    python = str(installed.bin / "python")
    uv_said = _step(
        seconds, "install", [uv, "pip", "install", "--python", python, str(intruder)], tmp_path
    )
    print(f"\nuv installing the intruder said: {uv_said!r}")  # shown with -s

    result = installed.run(["forecastops", "doctor"], FORECASTOPS_HOME=str(tmp_path / "home"))

    assert result.returncode == 1
    code_location = verdicts(result.stdout)["code location"]
    assert code_location.startswith(
        "FAIL  code location: the distribution lm-sensors-py also installs a top-level package "
        "`sensors` into "
    ), result.stdout
    assert "fix: uninstall lm-sensors-py, then reinstall forecastops" in result.stdout
