from __future__ import annotations

from datetime import UTC, datetime, timedelta

from forecastops.triggers import (
    DATA_DRIFT,
    PERFORMANCE_DRIFT,
    Signals,
    TriggerPolicy,
    TriggerState,
    decide_retrain,
)

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
