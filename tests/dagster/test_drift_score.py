"""drift_score over the lake: quiet on undrifted data, fires on a demand shift.

No champion is trained here (that costs a retrain cycle), so the reference is the window before
the current one; `test_monitoring.py` covers choosing the champion's training window."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.monitoring import DRIFT_CHECK, drift_score
from forecast_jobs.definitions import build_resources
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.drift import CATEGORICAL, NUMERIC, DriftPolicy
from forecastops.domain.simulator import (
    DriftScenario,
    SimulationSpec,
    simulate_sales,
    write_landing_files,
)
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.pipeline.monitoring import DRIFT_TABLE
from forecastops.stores.lake import Lake
from forecastops.stores.settings import load_settings
from tests.dagster.pipeline import pipeline_definitions, small_cycle_env, tracking_uri
from tests.registry_helpers import empty_mlflow_store

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
SHIFT_DAY = START + timedelta(days=150)
SCORED_DAY = START + timedelta(days=179)


def _run(tmp_path: Path, drift: DriftScenario | None) -> tuple[dg.AssetCheckEvaluation, Lake]:
    spec = SimulationSpec(start=START, end=SCORED_DAY, stores=3, products=10, seed=11, drift=drift)
    write_landing_files(spec, tmp_path / "landing")
    defs = pipeline_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        assert execute_partition_range(
            defs.resolve_job_def("ingest_job"), START, SCORED_DAY, instance
        ).success
        result = dg.materialize(
            [drift_score],
            partition_key=SCORED_DAY.isoformat(),
            instance=instance,
            resources=defs.resources,
        )
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == DRIFT_CHECK]
    return check, Lake(tmp_path / "lake")


def test_undrifted_data_does_not_raise_the_drift_alarm(tmp_path: Path) -> None:
    check, lake = _run(tmp_path, None)
    assert check.passed
    summary = lake.read_partition(DRIFT_TABLE, SCORED_DAY)
    assert not summary["alarm"].item()
    assert summary["reference"].item() == "previous window (no champion yet)"
    assert Path(summary["html_report"].item()).stat().st_size > 0


def test_a_demand_shift_raises_the_drift_alarm_and_ranks_units_features_first(
    tmp_path: Path,
) -> None:
    check, lake = _run(tmp_path, DriftScenario(start=SHIFT_DAY, demand_factor=1.8))
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    summary = lake.read_partition(DRIFT_TABLE, SCORED_DAY)
    assert summary["alarm"].item()
    assert summary["target_shift"].item() > 0.3
    features = lake.read_partition(DRIFT_TABLE, SCORED_DAY, "features")
    assert features.iloc[0]["feature"].startswith(("lag_", "rolling_"))


def test_the_drift_threshold_is_the_one_its_variable_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path / "lake")
    sales = simulate_sales(
        SimulationSpec(start=START, end=SCORED_DAY, stores=3, products=10, seed=11)
    )
    for day, rows in sales.groupby("date"):
        lake.write_partition(RAW_SALES_TABLE, day.date(), {"data": rows.reset_index(drop=True)})
    shutil.copyfile(empty_mlflow_store(), tmp_path / "mlflow.db")
    environment = {
        **small_cycle_env(),
        "FORECASTOPS_HOME": str(tmp_path),
        "MLFLOW_TRACKING_URI": tracking_uri(tmp_path),
        "FORECASTOPS_DRIFT_NUMERIC_THRESHOLD": "0.001",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [drift_score],
            partition_key=SCORED_DAY.isoformat(),
            instance=instance,
            resources=build_resources(load_settings()),
        )
    features = lake.read_partition(DRIFT_TABLE, SCORED_DAY, "features").set_index("kind")
    assert (features.loc[NUMERIC, "threshold"] == 0.001).all()
    assert (
        features.loc[CATEGORICAL, "threshold"] == DriftPolicy().drift_categorical_threshold
    ).all()
    # undrifted data (quiet at the default 0.2) drifts at a threshold of 0.001
    assert features.loc[NUMERIC, "drifted"].all()
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == DRIFT_CHECK]
    assert not check.passed and lake.read_partition(DRIFT_TABLE, SCORED_DAY)["alarm"].item()
