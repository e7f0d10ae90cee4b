"""plan_repair (decision 0020): which stored partitions a re-delivered day makes stale, and
which of them the repair recomputes."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from forecastops.pipeline.cycle import FEATURES_TABLE
from forecastops.pipeline.ingest import CONTRACT_TABLE, RAW_SALES_TABLE
from forecastops.pipeline.monitoring import DRIFT_TABLE, PERFORMANCE_TABLE
from forecastops.pipeline.repair import (
    MAX_MONITORING_REPAIRS,
    RepairWindows,
    plan_repair,
    repair_runs_path,
)
from forecastops.stores.lake import Lake

GAP = date(2025, 5, 1)
DELIVERED_AT = datetime(2025, 6, 10, 8, 0, tzinfo=UTC)
WINDOWS = RepairWindows(training_days=30, drift_days=20, health_days=14)
FRAME = {"data": pd.DataFrame({"x": [1]})}


def _write(lake: Lake, table: str, day: date, written_at: datetime) -> None:
    path = lake.write_partition(table, day, FRAME)
    stamp = written_at.timestamp()
    for file in [path, *path.rglob("*")]:
        os.utime(file, (stamp, stamp))


def _deliver(lake: Lake, passed: bool = True) -> None:
    if passed:
        lake.write_partition(RAW_SALES_TABLE, GAP, FRAME)
    record = pd.DataFrame(
        {
            "passed": [passed],
            "source_sha256": ["ab" * 32],
            "checked_at": [DELIVERED_AT.isoformat()],
        }
    )
    lake.write_partition(CONTRACT_TABLE, GAP, {"data": record})


def _day(offset: int) -> date:
    return GAP + timedelta(days=offset)


def test_the_newest_stale_cutoff_is_retrained_and_older_ones_left_stale(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    before, after = DELIVERED_AT - timedelta(hours=1), DELIVERED_AT + timedelta(hours=1)
    _write(lake, FEATURES_TABLE, _day(-1), before)  # before the gap: never read it
    _write(lake, FEATURES_TABLE, _day(0), before)
    _write(lake, FEATURES_TABLE, _day(10), before)
    _write(lake, FEATURES_TABLE, _day(20), after)  # computed after the re-delivery: fresh
    _write(lake, FEATURES_TABLE, _day(30), before)  # its window ends a day after the gap
    _deliver(lake)
    plan = plan_repair(lake, GAP, WINDOWS)
    assert plan is not None
    assert plan.stale_cutoffs == (_day(0), _day(10))
    assert plan.retrain_cutoff == _day(10)
    assert plan.left_stale == (_day(0),)
    assert plan.delivery == "ab" * 6
    assert (
        plan.run_key("retrain_job", _day(10)) == f"repair:{GAP}:{'ab' * 6}:retrain_job:{_day(10)}"
    )


def test_monitoring_is_recomputed_for_the_newest_stale_days_only(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    before = DELIVERED_AT - timedelta(hours=1)
    for offset in range(25):
        _write(lake, DRIFT_TABLE, _day(offset), before)
    _write(lake, PERFORMANCE_TABLE, _day(5), before)
    _write(lake, FEATURES_TABLE, _day(40), before)  # a later cycle, whose window misses the gap
    _deliver(lake)
    plan = plan_repair(lake, GAP, WINDOWS)
    assert plan is not None
    assert plan.stale_monitoring_days == tuple(_day(offset) for offset in range(20))
    assert plan.monitoring_days == tuple(_day(o) for o in range(20 - MAX_MONITORING_REPAIRS, 20))
    assert plan.retrain_cutoff is None
    assert "no retrain" in plan.summary()


def test_a_day_still_rejected_has_no_repair(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    _deliver(lake, passed=False)
    assert plan_repair(lake, GAP, WINDOWS) is None
    assert plan_repair(lake, _day(1), WINDOWS) is None  # never delivered at all


def test_the_runs_link_filters_on_the_repair_tag() -> None:
    assert repair_runs_path(GAP) == ("/runs?q%5B0%5D=tag%3Aforecastops%2Frepaired_day%3D2025-05-01")


def test_the_newest_day_rejected_gets_its_own_cycle_run(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    before = DELIVERED_AT - timedelta(hours=1)
    _write(lake, FEATURES_TABLE, _day(-1), before)  # yesterday's cycle; the gap's was stopped
    _write(lake, DRIFT_TABLE, _day(-1), before)
    _deliver(lake)
    plan = plan_repair(lake, GAP, WINDOWS)
    assert plan is not None
    assert plan.retrain_cutoff == GAP
    assert plan.monitoring_days == (GAP,)
    assert plan.left_stale == ()
