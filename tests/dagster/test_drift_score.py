"""drift_score over the lake: quiet on undrifted data, fires on a demand shift.

No champion is trained here (that costs a retrain cycle), so the reference is the window before
the current one; `test_monitoring.py` covers choosing the champion's training window."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.monitoring import DRIFT_CHECK, drift_score
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import DriftScenario, SimulationSpec, write_landing_files
from forecastops.pipeline.monitoring import DRIFT_TABLE
from forecastops.stores.lake import Lake
from tests.dagster.pipeline import pipeline_definitions

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
