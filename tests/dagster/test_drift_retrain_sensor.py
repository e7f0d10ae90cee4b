"""drift_retrain_sensor ticks over a lake holding stored monitoring results."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_jobs.definitions import build_resources
from forecastops.domain.alerts import Alert, AlertStatus, Severity
from forecastops.domain.runs import ALERT_IDS_TAG, TOP_DRIFTED_TAG, TRIGGER_TAG
from forecastops.domain.triggers import DATA_DRIFT, PERFORMANCE_DRIFT, TriggerState
from forecastops.pipeline.alerts import drift_alert_key, retrain_recommendation
from forecastops.pipeline.ingest import CONTRACT_TABLE
from forecastops.pipeline.monitoring import DRIFT_TABLE, PERFORMANCE_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.settings import load_settings
from resources.alerts import AlertStoreResource
from resources.policies import MonitoringPolicy
from resources.storage import LakeStorage
from sensors.drift_retrain import SENSOR_ACTOR, drift_retrain_sensor

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


def _resources(root: Path, monitoring: MonitoringPolicy | None = None) -> dict[str, object]:
    return {
        "storage": LakeStorage(root=str(root)),
        "alert_store": AlertStoreResource(url=_alerts_url(root)),
        "monitoring": monitoring or MonitoringPolicy(),
    }


def _alerts_url(root: Path) -> str:
    return f"sqlite:///{root / 'alerts.db'}"


def _tick(
    lake_root: Path, cursor: str | None = None, monitoring: MonitoringPolicy | None = None
) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=_resources(lake_root, monitoring)
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
    assert ALERT_IDS_TAG not in request.tags  # no drift alert was raised for the day
    second = _tick(tmp_path, first.cursor)
    assert not second.run_requests


def _alert_store(root: Path) -> AlertStore:
    store = AlertStore(_alerts_url(root))
    store.create_schema()
    return store


def _drift_alert(store: AlertStore, trigger: str, day: str = DAY.isoformat()) -> Alert:
    """The alert drift_score (DATA_DRIFT) or model_health (PERFORMANCE_DRIFT) raises for `day`."""
    return store.raise_alert(
        type=trigger,
        severity=Severity.WARNING,
        title=f"{trigger} on {day}",
        message="",
        dedup_key=drift_alert_key(trigger, day),
        recommendation=retrain_recommendation(day),
    )


def test_the_retrain_actions_the_days_drift_alerts_so_approving_one_cannot_repeat_it(
    tmp_path: Path,
) -> None:
    _store(Lake(tmp_path), score=1.4)
    store = _alert_store(tmp_path)
    other_day = _drift_alert(store, DATA_DRIFT, "2025-05-30")
    data = _drift_alert(store, DATA_DRIFT)
    performance = _drift_alert(store, PERFORMANCE_DRIFT)
    [request] = _tick(tmp_path).run_requests or []
    assert request.tags[TRIGGER_TAG] == DATA_DRIFT
    assert request.tags[ALERT_IDS_TAG] == f"{data.id},{performance.id}"
    for alert in (data, performance):
        actioned = store.get(alert.id)
        assert actioned.status is AlertStatus.ACTIONED
        assert actioned.actor == SENSOR_ACTOR
        assert actioned.notes is not None and "data_drift:2025-05-31" in actioned.notes
    assert store.get(other_day.id).is_open


def test_alerts_operators_already_approved_stop_the_sensor_repeating_their_retrain(
    tmp_path: Path,
) -> None:
    _store(Lake(tmp_path), score=1.4)
    store = _alert_store(tmp_path)
    _drift_alert(store, DATA_DRIFT, "2025-05-30")  # another day's alert does not count
    data = store.action(_drift_alert(store, DATA_DRIFT).id, "alice", "retraining")
    performance = store.action(_drift_alert(store, PERFORMANCE_DRIFT).id, "bob")

    first = _tick(tmp_path)

    assert not first.run_requests
    assert first.skip_reason is not None
    reason = first.skip_reason.skip_message or ""
    assert f"alert {data.id} (data_drift) approved by alice" in reason
    assert f"alert {performance.id} (performance_drift) approved by bob" in reason
    assert "no second run" in reason
    assert (store.get(data.id), store.get(performance.id)) == (data, performance)
    # the cursor moved as if the sensor had fired when bob approved: no re-firing next tick
    state = TriggerState.from_cursor(first.cursor)
    assert state.armed == {DATA_DRIFT: False, PERFORMANCE_DRIFT: True}
    assert state.last_fired_at == performance.status_changed_at.isoformat()
    second = _tick(tmp_path, first.cursor)
    assert not second.run_requests
    assert second.skip_reason is not None
    assert "no armed threshold crossed" in (second.skip_reason.skip_message or "")


def test_a_day_only_partly_approved_still_retrains_and_actions_the_open_alert(
    tmp_path: Path,
) -> None:
    _store(Lake(tmp_path), score=1.4)
    store = _alert_store(tmp_path)
    data = store.action(_drift_alert(store, DATA_DRIFT).id, "alice")
    performance = _drift_alert(store, PERFORMANCE_DRIFT)

    [request] = _tick(tmp_path).run_requests or []

    assert request.run_key == "data_drift:2025-05-31"
    assert request.tags[ALERT_IDS_TAG] == str(performance.id)
    assert store.get(performance.id).actor == SENSOR_ACTOR
    assert store.get(data.id) == data


def test_a_down_alert_store_does_not_stop_the_retrain(tmp_path: Path) -> None:
    _store(Lake(tmp_path), score=1.4)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "storage": LakeStorage(root=str(tmp_path)),
                "alert_store": AlertStoreResource(url="postgresql://nobody@127.0.0.1:9/none"),
                "monitoring": MonitoringPolicy(),
            },
        )
        result = drift_retrain_sensor(context)
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    assert request.tags[TRIGGER_TAG] == "data_drift" and ALERT_IDS_TAG not in request.tags


def test_a_blocked_day_never_triggers(tmp_path: Path) -> None:
    _store(Lake(tmp_path), score=5.0, passed=False)
    result = _tick(tmp_path)
    assert not result.run_requests
    assert result.skip_reason is not None and "contract" in str(result.skip_reason.skip_message)


def test_no_stored_results_skip(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources=_resources(tmp_path))
        assert isinstance(drift_retrain_sensor(context), dg.SkipReason)


def _configured_monitoring(monkeypatch: pytest.MonkeyPatch, **variables: str) -> MonitoringPolicy:
    """The `monitoring` resource the code location builds from the environment `variables`."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    resource = build_resources(load_settings())["monitoring"]
    assert isinstance(resource, MonitoringPolicy)
    return resource


def test_the_retrain_cooldown_is_the_one_its_variable_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(tmp_path)
    _store(lake, score=1.4)
    first = _tick(tmp_path, monitoring=_configured_monitoring(monkeypatch))
    assert [r.tags[TRIGGER_TAG] for r in first.run_requests or []] == [DATA_DRIFT]
    # the same day, the champion's accuracy drifts too: a second trigger within the cooldown
    lake.write_partition(
        PERFORMANCE_TABLE, DAY, {"data": pd.DataFrame({"overall_degradation": [0.5]})}
    )
    held = _tick(tmp_path, first.cursor, _configured_monitoring(monkeypatch))
    assert not held.run_requests
    assert "cooldown 1 day" in str(held.skip_reason and held.skip_reason.skip_message)
    no_cooldown = _configured_monitoring(monkeypatch, FORECASTOPS_TRIGGER_COOLDOWN_HOURS="0")
    assert no_cooldown.trigger_cooldown_hours == 0
    [request] = _tick(tmp_path, first.cursor, no_cooldown).run_requests or []
    assert request.tags[TRIGGER_TAG] == PERFORMANCE_DRIFT
