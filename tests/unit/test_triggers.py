from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forecastops.domain.alerts import Alert, AlertType
from forecastops.domain.triggers import (
    ALERT_IDS_TAG,
    DATA_DRIFT,
    PERFORMANCE_DRIFT,
    REASON_TAG,
    TRIGGER_TAG,
    RetrainDecision,
    Signals,
    TriggerPolicy,
    TriggerState,
    approval_tags,
    decide_retrain,
    defer_to_approvals,
)
from forecastops.stores.alerts.store import AlertStore
from tests.alert_races import drift_alert

NOW = datetime(2025, 6, 1, 7, 0, tzinfo=UTC)
POLICY = TriggerPolicy()


def _signals(drift: float | None = 0.2, degradation: float | None = 0.0, passed: bool = True):  # type: ignore[no-untyped-def]
    return Signals(
        day="2025-05-31", contract_passed=passed, drift_score=drift, degradation=degradation
    )


def test_a_drift_score_over_the_threshold_fires_once_with_a_run_key_per_day_and_trigger() -> None:
    decision = decide_retrain(TriggerState(), _signals(drift=1.3), NOW, POLICY)
    assert decision.trigger == DATA_DRIFT
    assert decision.run_key == "data_drift:2025-05-31"
    again = decide_retrain(decision.state, _signals(drift=1.3), NOW + timedelta(days=2), POLICY)
    assert again.trigger is None  # disarmed until the score falls below the re-arm level


def test_hysteresis_rearms_only_below_the_lower_threshold() -> None:
    fired = decide_retrain(TriggerState(), _signals(drift=1.1), NOW, POLICY).state
    later = NOW + timedelta(days=2)
    hovering = decide_retrain(fired, _signals(drift=0.9), later, POLICY)
    assert hovering.trigger is None and not hovering.state.armed[DATA_DRIFT]
    back_up = decide_retrain(hovering.state, _signals(drift=1.05), later, POLICY)
    assert back_up.trigger is None
    calmed = decide_retrain(back_up.state, _signals(drift=0.5), later, POLICY)
    assert calmed.state.armed[DATA_DRIFT]
    assert decide_retrain(calmed.state, _signals(drift=1.2), later, POLICY).trigger == DATA_DRIFT


def test_the_cooldown_holds_back_a_second_trigger() -> None:
    fired = decide_retrain(TriggerState(), _signals(drift=1.5), NOW, POLICY).state
    soon = decide_retrain(
        fired, _signals(drift=0.2, degradation=0.4), NOW + timedelta(hours=3), POLICY
    )
    assert soon.trigger is None and "cooldown" in soon.reason
    later = decide_retrain(
        soon.state, _signals(drift=0.2, degradation=0.4), NOW + timedelta(hours=25), POLICY
    )
    assert later.trigger == PERFORMANCE_DRIFT


def test_a_day_that_broke_the_contract_never_triggers() -> None:
    decision = decide_retrain(TriggerState(), _signals(drift=3.0, passed=False), NOW, POLICY)
    assert decision.trigger is None and "contract" in decision.reason


def test_performance_drift_fires_above_fifteen_percent_only() -> None:
    assert decide_retrain(TriggerState(), _signals(degradation=0.15), NOW, POLICY).trigger is None
    assert (
        decide_retrain(TriggerState(), _signals(degradation=0.16), NOW, POLICY).trigger
        == PERFORMANCE_DRIFT
    )


def test_the_cursor_round_trips() -> None:
    state = decide_retrain(TriggerState(), _signals(drift=1.5), NOW, POLICY).state
    assert TriggerState.from_cursor(state.to_cursor()) == state
    assert TriggerState.from_cursor(None) == TriggerState()


# --- deferring to operators who approved the day's drift alerts ------------------------------

SENSOR = "dagster:drift_retrain_sensor"


class Clock:
    """The alert store's clock, set by the test."""

    def __init__(self) -> None:
        self.now = NOW - timedelta(hours=3)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[AlertStore]:
    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}", clock=clock) as alert_store:
        alert_store.create_schema()
        yield alert_store


def _day_alerts(store: AlertStore) -> tuple[Alert, Alert]:
    """The data drift and performance drift alerts of 2025-05-31, open."""
    return (
        drift_alert(store, dedup_key="data_drift:drift_score:2025-05-31"),
        drift_alert(
            store,
            type=AlertType.PERFORMANCE_DRIFT,
            severity="critical",
            dedup_key="performance_drift:model_health:2025-05-31",
        ),
    )


def _fired(previous: TriggerState | None = None) -> RetrainDecision:
    decision = decide_retrain(previous or TriggerState(), _signals(drift=1.4), NOW, POLICY)
    assert decision.trigger == DATA_DRIFT
    return decision


def test_alerts_all_approved_by_operators_stand_for_the_retrain_and_start_the_cooldown(
    store: AlertStore, clock: Clock
) -> None:
    data, performance = _day_alerts(store)
    clock.now = NOW - timedelta(hours=2)
    store.action(data.id, "alice", "retraining")
    clock.now = NOW - timedelta(hours=1)
    store.action(performance.id, "bob")
    fired = _fired()

    deferred = defer_to_approvals(
        fired, TriggerState(), [store.get(data.id), store.get(performance.id)], SENSOR
    )

    assert deferred.trigger is None and deferred.run_key is None
    assert deferred.day == "2025-05-31"
    assert f"alert {data.id} (data_drift) approved by alice" in deferred.reason
    assert f"alert {performance.id} (performance_drift) approved by bob" in deferred.reason
    assert "drift score 1.40 >= 1.00" in deferred.reason and "no second run" in deferred.reason
    # as if the sensor had fired at the newest approval: disarmed, cooldown from then
    assert deferred.state.armed == fired.state.armed == {DATA_DRIFT: False, PERFORMANCE_DRIFT: True}
    assert deferred.state.last_fired_at == (NOW - timedelta(hours=1)).isoformat()
    cursor = TriggerState.from_cursor(deferred.state.to_cursor())
    performance_later = decide_retrain(
        cursor, _signals(drift=1.4, degradation=0.4), NOW + timedelta(hours=22), POLICY
    )
    assert performance_later.trigger is None and "cooldown" in performance_later.reason
    after_cooldown = decide_retrain(
        cursor, _signals(drift=1.4, degradation=0.4), NOW + timedelta(hours=23), POLICY
    )
    assert after_cooldown.trigger == PERFORMANCE_DRIFT


def test_a_dismissed_alert_asks_for_nothing_so_the_approved_one_stands(store: AlertStore) -> None:
    data, performance = _day_alerts(store)
    store.action(data.id, "alice")
    store.dismiss(performance.id, "bob", "known promotion week")
    alerts = [store.get(data.id), store.get(performance.id)]
    assert defer_to_approvals(_fired(), TriggerState(), alerts, SENSOR).trigger is None


def _close(store: AlertStore, data: Alert, performance: Alert, how: str) -> None:
    if how in {"one open", "one actioned by the sensor"}:
        store.action(data.id, "alice")
    if how == "one actioned by the sensor":
        store.action(performance.id, SENSOR)
    if how == "all dismissed":
        store.dismiss(data.id, "alice")
        store.dismiss(performance.id, "bob")


@pytest.mark.parametrize(
    "how", ["both open", "one open", "one actioned by the sensor", "all dismissed"]
)
def test_the_retrain_stands_unless_every_alert_was_approved_by_an_operator(
    store: AlertStore, how: str
) -> None:
    data, performance = _day_alerts(store)
    _close(store, data, performance, how)
    fired = _fired()
    alerts = [store.get(data.id), store.get(performance.id)]
    assert defer_to_approvals(fired, TriggerState(), alerts, SENSOR) == fired
    assert defer_to_approvals(fired, TriggerState(), [], SENSOR) == fired  # none raised


def test_no_retrain_stays_no_retrain(store: AlertStore) -> None:
    data, _ = _day_alerts(store)
    store.action(data.id, "alice")
    calm = decide_retrain(TriggerState(), _signals(drift=0.3), NOW, POLICY)
    assert defer_to_approvals(calm, TriggerState(), [store.get(data.id)], SENSOR) == calm


def test_the_cooldown_never_moves_back_before_the_last_retrain(
    store: AlertStore, clock: Clock
) -> None:
    data, _ = _day_alerts(store)
    clock.now = NOW - timedelta(days=3)
    store.action(data.id, "alice")
    previous = TriggerState(last_fired_at=(NOW - timedelta(days=2)).isoformat())
    deferred = defer_to_approvals(_fired(previous), previous, [store.get(data.id)], SENSOR)
    assert deferred.trigger is None
    assert deferred.state.last_fired_at == previous.last_fired_at


def test_an_approved_drift_alert_tags_its_retrain_as_the_sensor_tags_its_own(
    store: AlertStore,
) -> None:
    data, _ = _day_alerts(store)
    approved = store.action(data.id, "alice")
    assert approval_tags(approved) == {
        ALERT_IDS_TAG: str(data.id),
        REASON_TAG: f"alert {data.id} (data_drift) approved by alice",
        TRIGGER_TAG: DATA_DRIFT,
    }
    failure = store.action(drift_alert(store, type=AlertType.RUN_FAILURE).id, "bob")
    assert TRIGGER_TAG not in approval_tags(failure)  # not a drift retrain: no trigger
    assert approval_tags(failure)[ALERT_IDS_TAG] == str(failure.id)
