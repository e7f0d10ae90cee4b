"""model_health: a demand shift after the champion was trained shows as performance drift."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.monitoring import HEALTH_CHECK, drift_score, model_health
from forecast_jobs.launch import execute_partition_range
from forecastops.lake import Lake
from forecastops.monitoring import PERFORMANCE_TABLE
from forecastops.simulator import DriftScenario, SimulationSpec, write_landing_files
from tests.dagster.pipeline import pipeline_definitions

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
TRAINED_AT = START + timedelta(days=149)
HEALTH_DAY = TRAINED_AT + timedelta(days=14)


def test_a_demand_shift_after_training_makes_the_champion_drift(tmp_path: Path) -> None:
    spec = SimulationSpec(
        start=START,
        end=HEALTH_DAY,
        stores=3,
        products=10,
        seed=11,
        drift=DriftScenario(start=TRAINED_AT + timedelta(days=1), demand_factor=1.8),
    )
    write_landing_files(spec, tmp_path / "landing")
    defs = pipeline_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        assert execute_partition_range(
            defs.resolve_job_def("ingest_job"), START, HEALTH_DAY, instance
        ).success
        assert (
            defs.resolve_job_def("retrain_job")
            .execute_in_process(instance=instance, partition_key=TRAINED_AT.isoformat())
            .success
        )
        result = dg.materialize(
            [drift_score, model_health],
            partition_key=HEALTH_DAY.isoformat(),
            instance=instance,
            resources=defs.resources,
        )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks[HEALTH_CHECK].passed
    summary = Lake(tmp_path / "lake").read_partition(PERFORMANCE_TABLE, HEALTH_DAY)
    assert summary["model_status"].item() == "drifting"
    assert summary["overall_degradation"].item() > 0.15
    assert summary["scored_days"].item() == 14
