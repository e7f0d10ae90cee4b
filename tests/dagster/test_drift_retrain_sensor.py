"""drift_retrain_sensor ticks over a lake holding stored monitoring results."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from forecastops.ingest import CONTRACT_TABLE
from forecastops.lake import Lake
from forecastops.monitoring import DRIFT_TABLE
from resources.storage import LakeStorage
from sensors.drift_retrain import TOP_DRIFTED_TAG, TRIGGER_TAG, drift_retrain_sensor

DAY = date(2025, 5, 31)


def _store(lake: Lake, score: float, passed: bool = True) -> None:
    lake.write_partition(
        DRIFT_TABLE,
        DAY,
        {
            "data": pd.DataFrame(
                {"overall_score": [score], "top_features": ["lag_7,rolling_mean_7"]}
            )
        },
    )
    lake.write_partition(CONTRACT_TABLE, DAY, {"data": pd.DataFrame({"passed": [passed]})})


def _tick(lake_root: Path, cursor: str | None = None) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"storage": LakeStorage(root=str(lake_root))},
        )
        result = drift_retrain_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_a_drifted_day_requests_one_tagged_retrain_and_then_stays_quiet(tmp_path: Path) -> None:
    _store(Lake(tmp_path), score=1.4)
    first = _tick(tmp_path)
    [request] = first.run_requests or []
    assert request.partition_key == "2025-05-31"
    assert request.run_key == "data_drift:2025-05-31"
    assert request.tags[TRIGGER_TAG] == "data_drift"
    assert request.tags[TOP_DRIFTED_TAG] == "lag_7,rolling_mean_7"
    second = _tick(tmp_path, first.cursor)
    assert not second.run_requests


def test_a_blocked_day_never_triggers(tmp_path: Path) -> None:
    _store(Lake(tmp_path), score=5.0, passed=False)
    result = _tick(tmp_path)
    assert not result.run_requests
    assert result.skip_reason is not None and "contract" in str(result.skip_reason.skip_message)


def test_no_stored_results_skip(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"storage": LakeStorage(root=str(tmp_path))}
        )
        assert isinstance(drift_retrain_sensor(context), dg.SkipReason)
