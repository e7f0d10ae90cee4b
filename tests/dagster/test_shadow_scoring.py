"""End to end through the real assets: the challenger forecasts in shadow beside the champion,
model_health scores it on the champion's rows, `forecastops status` shows its realized numbers
(decision 0022)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.monitoring import drift_score, model_health
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.performance import PerformancePolicy
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.ops.status import status_report
from forecastops.pipeline.cycle import FORECASTS_TABLE, SHADOW_FORECASTS_TABLE, CyclePolicy
from forecastops.pipeline.monitoring import SHADOW_PERFORMANCE_TABLE
from forecastops.pipeline.operations import stored_forecasts
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from tests.dagster.pipeline import pipeline_definitions, pipeline_settings, tracking_uri

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
CHAMPION_DAY = START + timedelta(days=148)
CHALLENGER_DAY = CHAMPION_DAY + timedelta(days=1)
SCORED_DAY = CHALLENGER_DAY + timedelta(days=2)


def test_the_challenger_forecasts_in_shadow_and_is_scored_on_the_champions_rows(
    tmp_path: Path,
) -> None:
    write_landing_files(
        SimulationSpec(start=START, end=SCORED_DAY, stores=2, products=6, seed=5),
        tmp_path / "landing",
    )
    defs = pipeline_definitions(tmp_path)
    retrain = defs.resolve_job_def("retrain_job")
    with dg.instance_for_test() as instance:
        assert execute_partition_range(
            defs.resolve_job_def("ingest_job"), START, SCORED_DAY, instance
        ).success
        for day in (CHAMPION_DAY, CHALLENGER_DAY):
            assert retrain.execute_in_process(
                instance=instance, partition_key=day.isoformat()
            ).success
        health = dg.materialize(
            [drift_score, model_health],
            partition_key=SCORED_DAY.isoformat(),
            instance=instance,
            resources=defs.resources,
            selection=[model_health],
        )
    assert health.success
    registry, lake = ModelRegistry(tracking_uri(tmp_path)), Lake(tmp_path / "lake")
    champion, challenger = registry.alias_version("champion"), registry.alias_version("challenger")
    assert (champion, challenger) == ("1", "2")

    # served rows stay the champion's; the challenger's rows are stored beside, same shape
    served = stored_forecasts(lake, CHALLENGER_DAY)
    shadow = lake.read_partition(SHADOW_FORECASTS_TABLE, CHALLENGER_DAY)
    assert set(served["model_version"]) == {"1"}
    assert set(shadow["model_version"]) == {"2"} and set(shadow["champion_version"]) == {"1"}
    assert len(shadow) == len(served) == 2 * 6 * 14
    assert set(lake.read_partition(FORECASTS_TABLE, CHALLENGER_DAY).columns) < set(shadow.columns)
    assert not (shadow["p50"].to_numpy() == served["p50"].to_numpy()).all()  # a real refit

    # the two days after the origin are scored on both sides, for each of the 2 stores
    record = lake.read_partition(SHADOW_PERFORMANCE_TABLE, SCORED_DAY).iloc[0]
    assert record["realized_days"] == 2
    assert record["challenger_version"] == "2" and record["champion_version"] == "1"
    assert record["since"] == CHAMPION_DAY.isoformat()
    assert 0 < record["wape"] < 1 and 0 < record["champion_wape"] < 1
    assert record["wape_7d"] == pytest.approx(record["wape"])
    assert len(lake.read_partition(SHADOW_PERFORMANCE_TABLE, SCORED_DAY, "stores")) == 2
    [materialization] = health.asset_materializations_for_node("model_health")
    assert "(v2) realized WAPE" in str(materialization.metadata["challenger_shadow"].value)

    # status judges the challenger with the settings' gate on the day's evidence
    cycle = CyclePolicy.from_settings(pipeline_settings(tmp_path))
    report = status_report(registry, lake, None, SCORED_DAY, PerformancePolicy(), cycle)
    block = report["challenger"]
    assert block["version"] == "2" and block["realized_days"] == 2
    assert block["wape_7d"] == pytest.approx(record["wape_7d"])
    assert block["mae_7d"] == pytest.approx(record["mae_7d"])
    assert block["promotion_eligible"] is False
    assert block["promotion_reasons"].startswith("2 of 7 shadow days: stream objective=")
    assert block["decision_source"] == f"gate on {SCORED_DAY.isoformat()}"
