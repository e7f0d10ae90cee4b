"""model_health: a demand shift after the champion was trained shows as performance drift."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.monitoring import HEALTH_CHECK, drift_score, model_health
from forecastops.pipeline.monitoring import PERFORMANCE_TABLE
from forecastops.stores.lake import Lake
from tests.dagster.pipeline import (
    DRIFTED_DAY,
    ingest_and_train_champion,
    pipeline_definitions,
    write_drifted_landing,
)

pytestmark = pytest.mark.slow

HEALTH_DAY = DRIFTED_DAY


def test_a_demand_shift_after_training_makes_the_champion_drift(tmp_path: Path) -> None:
    write_drifted_landing(tmp_path)
    defs = pipeline_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        assert all(result.success for result in ingest_and_train_champion(defs, instance))
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
    [materialization] = result.asset_materializations_for_node("model_health")
    verdict = str(materialization.metadata["verdict"].value)
    assert next(iter(materialization.metadata)) == "verdict"  # the page leads with it
    assert verdict.startswith("Champion v1 is drifting: MAE +")
    assert "approve its performance_drift alert" in verdict
    assert checks[HEALTH_CHECK].description == verdict
    # the page and the stored record give the same operational metrics of the last 7 days
    for name in ("mape_7d", "stockout_miss_rate_7d", "overstock_rate_7d"):
        stored = float(summary[name].item())
        assert stored >= 0.0 and materialization.metadata[name].value == pytest.approx(stored)
    assert "stockout-miss rate" in str(materialization.metadata["performance"].value)
