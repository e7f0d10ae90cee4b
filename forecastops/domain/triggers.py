"""When drift should trigger a retrain: thresholds with hysteresis, a cooldown, and never from a
day whose landing file broke the contract.

The drift retrain sensor calls `decide_retrain` with what the monitoring assets stored for the
latest day and the sensor's cursor (`TriggerState`); it computes nothing heavy itself. When it
would retrain, `defer_to_approvals` holds it back if operators already approved the day's drift
alerts: approving one (`forecastops alerts action ID --approve`) queues the same retrain, tagged
alike (`approval_tags`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from forecastops.domain.alerts import AlertStatus
from forecastops.domain.runs import ALERT_IDS_TAG, REASON_TAG, TRIGGER_TAG

if TYPE_CHECKING:
    from forecastops.domain.alerts import Alert

DATA_DRIFT = "data_drift"
PERFORMANCE_DRIFT = "performance_drift"


@dataclass(frozen=True)
class TriggerPolicy:
    """Fire at `*_fire`, re-arm only once the score fell below `*_rearm` (hysteresis: a score
    hovering at the threshold fires once, not on every tick); at most one retrain per
    `trigger_cooldown_hours` across both triggers.

    Data drift uses the drift score's `overall_score` (>= 1.0 is Evidently's alarm, see
    `forecastops.domain.drift.DriftResult`); performance drift uses the champion's relative MAE
    degradation vs its backtest (> 0.15 is "drifting", see `forecastops.domain.performance`).
    The fields are the settings of the same names (`forecastops.stores.settings.PolicySettings`).
    """

    trigger_data_fire: float = 1.0
    trigger_data_rearm: float = 0.8
    trigger_performance_fire: float = 0.15
    trigger_performance_rearm: float = 0.10
    trigger_cooldown_hours: float = 24.0


@dataclass(frozen=True)
class TriggerState:
    """The sensor's memory between ticks (its cursor)."""

    armed: dict[str, bool] = field(
        default_factory=lambda: {DATA_DRIFT: True, PERFORMANCE_DRIFT: True}
    )
    last_fired_at: str | None = None

    def to_cursor(self) -> str:
        return json.dumps({"armed": self.armed, "last_fired_at": self.last_fired_at})

    @classmethod
    def from_cursor(cls, cursor: str | None) -> TriggerState:
        if not cursor:
            return cls()
        values = json.loads(cursor)
        return cls(armed=dict(values["armed"]), last_fired_at=values.get("last_fired_at"))


@dataclass(frozen=True)
class Signals:
    """What the monitoring assets stored for one day."""

    day: str
    contract_passed: bool
    drift_score: float | None
    degradation: float | None
    top_features: str = ""
    drift_signal: str = ""
    """Which drift signal fired, in words (`DriftResult.signal`); empty for days stored before."""


@dataclass(frozen=True)
class RetrainDecision:
    """`trigger`: DATA_DRIFT / PERFORMANCE_DRIFT, or None for no retrain; `reason` in words;
    `state`: the sensor's next cursor; `day`: the partition to retrain."""

    trigger: str | None
    reason: str
    state: TriggerState
    day: str

    @property
    def run_key(self) -> str | None:
        """One run per (day, trigger): a repeated tick can never launch a duplicate."""
        return None if self.trigger is None else f"{self.trigger}:{self.day}"


def _rearmed(state: TriggerState, signals: Signals, policy: TriggerPolicy) -> TriggerState:
    armed = dict(state.armed)
    if signals.drift_score is not None and signals.drift_score < policy.trigger_data_rearm:
        armed[DATA_DRIFT] = True
    if signals.degradation is not None and signals.degradation < policy.trigger_performance_rearm:
        armed[PERFORMANCE_DRIFT] = True
    return replace(state, armed=armed)


def _crossed(signals: Signals, policy: TriggerPolicy) -> list[tuple[str, str]]:
    crossed = []
    if signals.drift_score is not None and signals.drift_score >= policy.trigger_data_fire:
        crossed.append(
            (
                DATA_DRIFT,
                f"drift score {signals.drift_score:.2f} >= {policy.trigger_data_fire:.2f}"
                + (f" ({signals.drift_signal})" if signals.drift_signal else ""),
            )
        )
    if (
        signals.degradation is not None
        and not math.isnan(signals.degradation)
        and signals.degradation > policy.trigger_performance_fire
    ):
        crossed.append(
            (
                PERFORMANCE_DRIFT,
                f"champion MAE {signals.degradation:+.1%} vs backtest "
                f"(> {policy.trigger_performance_fire:.0%})",
            )
        )
    return crossed


def decide_retrain(
    state: TriggerState, signals: Signals, now: datetime, policy: TriggerPolicy
) -> RetrainDecision:
    """Whether to request a retrain for `signals.day`, and the sensor's next state."""
    state = _rearmed(state, signals, policy)
    if not signals.contract_passed:
        return RetrainDecision(
            None,
            f"{signals.day} broke the landing contract: no retrain from it",
            state,
            signals.day,
        )
    crossed = [(name, why) for name, why in _crossed(signals, policy) if state.armed[name]]
    if not crossed:
        return RetrainDecision(
            None, f"{signals.day}: no armed threshold crossed", state, signals.day
        )
    if state.last_fired_at is not None:
        since = now - datetime.fromisoformat(state.last_fired_at)
        cooldown = timedelta(hours=policy.trigger_cooldown_hours)
        if since < cooldown:
            return RetrainDecision(
                None,
                f"{signals.day}: {crossed[0][1]}, but the last drift retrain was {since} ago "
                f"(cooldown {cooldown})",
                state,
                signals.day,
            )
    trigger, why = crossed[0]
    fired = replace(state, armed={**state.armed, trigger: False}, last_fired_at=now.isoformat())
    return RetrainDecision(trigger, why, fired, signals.day)


def defer_to_approvals(
    decision: RetrainDecision,
    previous: TriggerState,
    day_alerts: Sequence[Alert],
    sensor_actor: str,
) -> RetrainDecision:
    """`decision` itself, unless it requests a retrain and operators already approved it.

    `day_alerts`: the newest alert of each drift alert key of `decision.day` (data drift,
    performance drift; those never raised are absent); `previous`: the state `decision` started
    from; `sensor_actor`: the name the sensor actions alerts under.

    A dismissed alert asks for nothing, so it is left out. If at least one alert remains and
    every one of them was approved (actioned) by someone other than `sensor_actor`, each
    approval already queued a retrain of the day (`forecastops alerts action ID --approve`), so
    this returns no retrain, with a reason naming the alerts and who approved them, and the
    state the retrain would have left (the trigger disarmed until its score falls below its
    re-arm level) except that the cooldown counts from the newest approval, the operator's
    retrain, rather than from now (never earlier than `previous.last_fired_at`). Otherwise (an
    alert still open, one actioned by the sensor, none raised) the decision stands.
    """
    answerable = [alert for alert in day_alerts if alert.status is not AlertStatus.DISMISSED]
    if (
        decision.trigger is None
        or not answerable
        or any(
            alert.status is not AlertStatus.ACTIONED or alert.actor == sensor_actor
            for alert in answerable
        )
    ):
        return decision
    approved_at = max(alert.status_changed_at for alert in answerable)
    if previous.last_fired_at is not None:
        approved_at = max(approved_at, datetime.fromisoformat(previous.last_fired_at))
    approvals = "; ".join(
        f"alert {alert.id} ({alert.type}) approved by {alert.actor} at "
        f"{alert.status_changed_at:%Y-%m-%d %H:%M:%S} UTC"
        for alert in answerable
    )
    return RetrainDecision(
        None,
        f"{decision.day}: {decision.reason}, but the day's drift alerts were already approved, "
        f"which queued its retrain ({approvals}): no second run; the {decision.trigger} trigger "
        "stays disarmed and the cooldown counts from the approval",
        replace(decision.state, last_fired_at=approved_at.isoformat()),
        decision.day,
    )


def approval_tags(alert: Alert) -> dict[str, str]:
    """The run tags of the retrain that approving `alert` queues (`forecastops alerts action ID
    --approve`; `alert` as actioned, so its actor is the approver): its id and why, and for a
    drift alert its trigger, as drift_retrain_sensor tags its own retrain. So the promotion gate
    treats both alike (refusing a drift retrain raises a warning) and Runs filtered by tag
    `forecastops/trigger` or `forecastops/alert_ids` finds either."""
    tags = {
        ALERT_IDS_TAG: str(alert.id),
        REASON_TAG: f"alert {alert.id} ({alert.type}) approved by {alert.actor}",
    }
    if alert.type in (DATA_DRIFT, PERFORMANCE_DRIFT):
        tags[TRIGGER_TAG] = str(alert.type)
    return tags
