"""drift_retrain_sensor: requests a retrain of the latest day when data or accuracy drifts.

It only reads what drift_score and model_health stored (sensor ticks time out at 60 s); the
rules (hysteresis, cooldown, no retrain from a day that broke the contract) are
`forecastops.domain.triggers.decide_retrain`, with the thresholds and the cooldown of the
`monitoring` resource (settings `FORECASTOPS_TRIGGER_*`, docs/configuration.md).

The drift alerts the monitoring assets raised for that day (data drift, performance drift)
recommend that same retrain, and approving one (`forecastops alerts action ID --approve`)
queues it. So before requesting the retrain the sensor reads the day's drift alerts
(`forecastops.domain.triggers.defer_to_approvals`):

- every one of them (dismissed ones aside) already approved by an operator: the retrain is
  queued already, so it requests nothing. Its skip reason names the alerts and who approved
  them; its cursor moves as if it had fired (the trigger disarmed until the score falls below
  its re-arm level), with the cooldown counted from the newest approval.
- otherwise (one still open, none raised): it requests the retrain, actions the open alerts
  (their notes name the run key) and tags the run with their ids, so approving one later cannot
  queue the retrain a second time.

Alerts the sensor does not act on (cooldown, hysteresis) stay open, and approving one queues
the retrain. If the alert store is down the sensor logs it and requests the retrain.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations at definition
# time. The alert store (SQLAlchemy) loads inside the body.
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from forecastops.domain.runs import (
    ALERT_IDS_TAG,
    REASON_TAG,
    RETRAIN_JOB,
    TOP_DRIFTED_TAG,
    TRIGGER_TAG,
)
from resources.alerts import AlertStoreResource
from resources.policies import MonitoringPolicy
from resources.storage import LakeStorage

if TYPE_CHECKING:
    from forecastops.domain.alerts import Alert

TICK_INTERVAL_SECONDS = 300
SENSOR_ACTOR = "dagster:drift_retrain_sensor"


@dg.sensor(
    job_name=RETRAIN_JOB,
    minimum_interval_seconds=TICK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains the latest day when its drift score or the champion's accuracy "
    "crosses its threshold (with hysteresis and a cooldown, 24 h unless "
    "FORECASTOPS_TRIGGER_COOLDOWN_HOURS says otherwise), and actions the day's drift "
    "alerts that retrain answers; requests nothing when operators already approved them all "
    "(their approval queued the retrain).",
)
def drift_retrain_sensor(
    context: dg.SensorEvaluationContext,
    storage: LakeStorage,
    alert_store: AlertStoreResource,
    monitoring: MonitoringPolicy,
) -> dg.SensorResult | dg.SkipReason:
    from forecastops.domain.triggers import (
        TriggerState,
        decide_retrain,
        defer_to_approvals,
    )
    from forecastops.pipeline.monitoring import latest_signals

    signals = latest_signals(storage.lake)
    if signals is None:
        return dg.SkipReason("No drift score or model health stored yet.")
    previous = TriggerState.from_cursor(context.cursor)
    decision = decide_retrain(previous, signals, datetime.now(UTC), monitoring.trigger)
    alerts: list[Alert] = []
    if decision.trigger is not None:
        alerts = _day_drift_alerts(context, alert_store, decision.day)
        decision = defer_to_approvals(decision, previous, alerts, SENSOR_ACTOR)
    if decision.trigger is None or decision.run_key is None:
        return dg.SensorResult(skip_reason=decision.reason, cursor=decision.state.to_cursor())
    answered = _action_open_alerts(context, alert_store, alerts, decision.day, decision.run_key)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=decision.run_key,
                partition_key=decision.day,
                tags={
                    TRIGGER_TAG: decision.trigger,
                    REASON_TAG: decision.reason,
                    TOP_DRIFTED_TAG: signals.top_features or "none",
                    **(
                        {ALERT_IDS_TAG: ",".join(str(alert.id) for alert in answered)}
                        if answered
                        else {}
                    ),
                },
            )
        ],
        cursor=decision.state.to_cursor(),
    )


def _day_drift_alerts(
    context: dg.SensorEvaluationContext, alert_store: AlertStoreResource, day: str
) -> "list[Alert]":
    """The newest alert of each drift alert key of `day` (whatever its status); none when the
    store fails (logged): the retrain matters more than the alerts' bookkeeping."""
    from forecastops.pipeline.alerts import DRIFT_ALERT_ASSETS, drift_alert_key
    from forecastops.stores.alerts.identity import AlertStoreConfigError, AlertStoreUnavailableError

    try:
        store = alert_store.store
        found = [store.latest(drift_alert_key(trigger, day)) for trigger in DRIFT_ALERT_ASSETS]
    except (AlertStoreUnavailableError, AlertStoreConfigError) as error:
        context.log.warning(f"Drift alerts of {day} not read; no approval can be seen: {error}")
        return []
    return [alert for alert in found if alert is not None]


def _action_open_alerts(
    context: dg.SensorEvaluationContext,
    alert_store: AlertStoreResource,
    alerts: "list[Alert]",
    day: str,
    run_key: str,
) -> "list[Alert]":
    """Action the open ones of `alerts` (notes: the run key) and return them. One an operator
    closed in the meantime is skipped (logged); a store that fails is logged and the retrain
    goes ahead."""
    from forecastops.stores.alerts.identity import AlertStoreConfigError, AlertStoreUnavailableError
    from forecastops.stores.alerts.store import AlertTransitionError

    notes = (
        f"Retrain of {day} requested by drift_retrain_sensor (run key {run_key}, run tag "
        f"{ALERT_IDS_TAG}); it goes through the promotion gate."
    )
    answered = []
    try:
        store = alert_store.store
        for alert in alerts:
            if not alert.is_open:
                continue
            try:
                answered.append(store.action(alert.id, SENSOR_ACTOR, notes))
            except AlertTransitionError as error:  # an operator acted on it in the meantime
                context.log.info(f"Alert {alert.id} not actioned: {error}")
    except (AlertStoreUnavailableError, AlertStoreConfigError) as error:
        context.log.warning(
            f"Requesting the retrain ({run_key}); drift alerts not actioned: {error}"
        )
    return answered
