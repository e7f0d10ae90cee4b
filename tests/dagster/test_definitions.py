"""The code location's shape, snapshotted so an accidental change shows in review.

Regenerate after an intended change: `UPDATE_SNAPSHOTS=1 make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_every_url_from_the_environment_reaches_the_resources_as_an_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI shows an EnvVar's name, never its value (a password), and Dagster stores only the
    name in its job snapshots; a URL set in code or defaulted stays a plain value."""
    import dagster as dg

    from forecastops.stores.settings import load_settings

    monkeypatch.setenv("FORECASTOPS_HOME", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg2://u:pw@db:5432/mlflow")
    monkeypatch.setenv("FORECASTOPS_ALERTS_DB_URL", "postgresql://u:pw@db:5432/alerts")
    monkeypatch.setenv("FORECASTOPS_MLFLOW_ARTIFACT_ROOT", "ftp://files.example/artifacts")
    resources = build_resources(load_settings())
    registry, alerts = resources["mlflow_registry"], resources["alert_store"]
    assert (registry.tracking_uri, registry.artifact_location, alerts.url) == (
        dg.EnvVar("MLFLOW_TRACKING_URI"),
        dg.EnvVar("FORECASTOPS_MLFLOW_ARTIFACT_ROOT"),
        dg.EnvVar("FORECASTOPS_ALERTS_DB_URL"),
    )
    assert all(
        isinstance(value, dg.EnvVar)
        for value in (registry.tracking_uri, registry.artifact_location, alerts.url)
    )
    monkeypatch.delenv("FORECASTOPS_ALERTS_DB_URL")
    in_code = build_resources(Settings(home=tmp_path, mlflow_tracking_uri="sqlite:///m.db"))
    assert not isinstance(in_code["mlflow_registry"].tracking_uri, dg.EnvVar)
    assert not isinstance(in_code["alert_store"].url, dg.EnvVar)
