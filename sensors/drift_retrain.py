"""drift_retrain_sensor: requests a retrain of the latest day when data or accuracy drifts.

It only reads what drift_score and model_health stored (sensor ticks time out at 60 s); the
rules (hysteresis, cooldown, no retrain from a day that broke the contract) are
`forecastops.triggers.decide_retrain`.

The drift alerts the monitoring assets raised for that day (data drift, performance drift)
recommend that same retrain. When the sensor requests it, it actions those alerts (their notes
name the run key) and tags the run with their ids, so approving one later cannot queue the
retrain a second time. Alerts the sensor does not act on (cooldown, hysteresis) stay open, and
approving one queues the retrain.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations at definition
# time. The alert store (SQLAlchemy) loads inside the body.
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from forecast_jobs.jobs import retrain_job
from forecastops.triggers import ALERT_IDS_TAG, REASON_TAG, TOP_DRIFTED_TAG, TRIGGER_TAG
from resources.alerts import AlertStoreResource
from resources.storage import LakeStorage

if TYPE_CHECKING:
    from forecastops.alerts import Alert

TICK_INTERVAL_SECONDS = 300
SENSOR_ACTOR = "dagster:drift_retrain_sensor"


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=TICK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains the latest day when its drift score or the champion's accuracy "
    "crosses its threshold (with hysteresis and a 24 h cooldown), and actions the day's drift "
    "alerts that retrain answers.",
)
def drift_retrain_sensor(
    context: dg.SensorEvaluationContext, storage: LakeStorage, alert_store: AlertStoreResource
) -> dg.SensorResult | dg.SkipReason:
    from forecastops.monitoring import latest_signals
    from forecastops.triggers import TriggerPolicy, TriggerState, decide_retrain

    signals = latest_signals(storage.lake)
    if signals is None:
        return dg.SkipReason("No drift score or model health stored yet.")
    decision = decide_retrain(
        TriggerState.from_cursor(context.cursor), signals, datetime.now(UTC), TriggerPolicy()
    )
    if decision.trigger is None or decision.run_key is None:
        return dg.SensorResult(skip_reason=decision.reason, cursor=decision.state.to_cursor())
    answered = _action_drift_alerts(context, alert_store, decision.day, decision.run_key)
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


def _action_drift_alerts(
    context: dg.SensorEvaluationContext, alert_store: AlertStoreResource, day: str, run_key: str
) -> "list[Alert]":
    """Action the open drift alerts of `day` (notes: the run key) and return them; none when
    none is open (never raised, already dismissed or approved). A store that fails is logged and
    the retrain goes ahead: the retrain matters more than the alerts' bookkeeping."""
    from forecastops.alerts import (
        AlertStoreConfigError,
        AlertStoreUnavailableError,
        AlertTransitionError,
    )
    from forecastops.pipeline_alerts import DRIFT_ALERT_ASSETS, drift_alert_key

    notes = (
        f"Retrain of {day} requested by drift_retrain_sensor (run key {run_key}, run tag "
        f"{ALERT_IDS_TAG}); it goes through the promotion gate."
    )
    answered = []
    try:
        store = alert_store.store
        for trigger in DRIFT_ALERT_ASSETS:
            alert = store.open_alert(drift_alert_key(trigger, day))
            if alert is None:
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
