"""The code location's shape, snapshotted so an accidental change shows in review.

Regenerate after an intended change: `UPDATE_SNAPSHOTS=1 make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from forecast_jobs.definitions import build_resources, defs
from forecastops.stores.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
HEAVY_MODULES = (
    "pandas",
    "pandera",
    "mlflow",
    "evidently",
    "lightgbm",
    "sklearn",
    "duckdb",
    "sqlalchemy",
)


def _shape() -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
        "asset_checks": sorted(
            f"{key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys
        ),
        "blocking_checks": sorted(
            f"{spec.asset_key.to_user_string()}:{spec.name}"
            for assets_def in graph.assets_defs
            for spec in assets_def.check_specs
            if spec.blocking
        ),
        "jobs": sorted(
            job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")
        ),
        "schedules": sorted(
            f"{s.name} [{s.cron_schedule} {s.execution_timezone}] -> {s.job_name}"
            for s in (defs.resolve_schedule_def(d.name) for d in defs.schedules or [])
        ),
        "sensors": sorted(s.name for s in defs.sensors or []),
        "resources": {
            key: sorted(type(resource).model_fields)
            for key, resource in sorted((defs.resources or {}).items())
        },
    }


def test_definitions_match_the_snapshot() -> None:
    shape = _shape()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(shape, indent=2) + "\n")
    assert shape == json.loads(SNAPSHOT.read_text())


def test_loading_the_code_location_imports_no_heavy_library() -> None:
    probe = (
        "import sys, forecast_jobs.definitions; "
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def test_import_resources_is_this_repo_not_the_registry_package() -> None:
    import resources

    assert Path(resources.__file__).resolve().parent == REPO_ROOT / "resources"


def test_the_retrain_settings_reach_the_cycle_policy(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, training_window_days=90, backtest_folds=4, backtest_workers=3
    )
    policy = build_resources(settings)["retrain"].policy
    assert (policy.training_window_days, policy.backtest_folds, policy.backtest_workers) == (
        90,
        4,
        3,
    )
