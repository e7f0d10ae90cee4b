from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pandas as pd

from forecastops.domain.performance import AWAITING_ACTUALS, PerformancePolicy
from forecastops.domain.promotion import ChampionHealth
from forecastops.pipeline.cycle import CyclePolicy
from forecastops.pipeline.monitoring import (
    CURRENT_WINDOW_DAYS,
    PERFORMANCE_TABLE,
    champion_health,
    reference_for,
    score_performance,
)
from forecastops.stores.lake import Lake

DAY = date(2025, 6, 30)


def test_the_reference_is_the_champions_training_window() -> None:
    reference = reference_for(DAY, CyclePolicy(), ("4", date(2025, 5, 1), 90))
    assert (reference.cutoff, reference.window_days) == (date(2025, 5, 1), 90)
    assert reference.source == "champion v4"


def test_without_a_champion_the_reference_is_the_window_before_the_current_one() -> None:
    reference = reference_for(DAY, CyclePolicy(training_window_days=60), None)
    assert reference.cutoff == date(2025, 6, 2)
    assert (DAY - reference.cutoff).days == CURRENT_WINDOW_DAYS
    assert reference.window_days == 60


def _store_performance(lake: Lake, day: date, version: str, status: str, change: float) -> None:
    summary = pd.DataFrame(
        {
            "partition_date": [day.isoformat()],
            "model_version": [version],
            "model_status": [status],
            "overall_degradation": [change],
        }
    )
    lake.write_partition(PERFORMANCE_TABLE, day, {"data": summary})


def test_champion_health_is_its_newest_record_on_or_before_the_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert champion_health(lake, "4", DAY) is None
    _store_performance(lake, date(2025, 6, 28), "4", "degrading", 0.08)
    _store_performance(lake, date(2025, 6, 29), "4", "drifting", 2.06)
    _store_performance(lake, DAY, "5", "healthy", 0.0)  # another version's record
    _store_performance(lake, date(2025, 7, 1), "4", "healthy", 0.01)  # after the day

    assert champion_health(lake, "4", DAY) == ChampionHealth(
        status="drifting", day=date(2025, 6, 29), degradation=2.06
    )
    assert champion_health(lake, "4", date(2025, 6, 28)) == ChampionHealth(
        status="degrading", day=date(2025, 6, 28), degradation=0.08
    )
    assert champion_health(lake, "4", date(2025, 6, 27)) is None
    assert champion_health(lake, "6", DAY) is None


def test_a_day_without_actuals_is_stored_as_awaiting_actuals_which_the_gate_reads(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake")
    tags = {"training_cutoff": "2025-06-01", "objective": "tweedie"}

    health = score_performance(lake, DAY, "4", tags, PerformancePolicy())

    assert health.status == AWAITING_ACTUALS
    stored = lake.read_partition(PERFORMANCE_TABLE, DAY).iloc[0]
    assert stored["model_status"] == AWAITING_ACTUALS and stored["as_of"] == DAY.isoformat()
    assert math.isnan(stored["overall_degradation"]) and math.isnan(stored["wape_7d"])
    gate_view = champion_health(lake, "4", DAY)
    assert gate_view is not None and gate_view.status == AWAITING_ACTUALS
    assert not gate_view.is_drifting
    assert gate_view.describe() == f"awaiting_actuals on {DAY} (MAE not computable)"
