"""drift_retrain_sensor: requests a retrain of the latest day when data or accuracy drifts.

It only reads what drift_score and model_health stored (sensor ticks time out at 60 s); the
rules (hysteresis, cooldown, no retrain from a day that broke the contract) are
`forecastops.triggers.decide_retrain`.
"""

from datetime import UTC, datetime

import dagster as dg

from forecast_jobs.jobs import retrain_job
from resources.storage import LakeStorage

TRIGGER_TAG = "forecastops/trigger"
TOP_DRIFTED_TAG = "forecastops/top_drifted_features"
REASON_TAG = "forecastops/trigger_reason"
TICK_INTERVAL_SECONDS = 300


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=TICK_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains the latest day when its drift score or the champion's accuracy "
    "crosses its threshold (with hysteresis and a 24 h cooldown).",
)
def drift_retrain_sensor(
    context: dg.SensorEvaluationContext, storage: LakeStorage
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
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=decision.run_key,
                partition_key=decision.day,
                tags={
                    TRIGGER_TAG: decision.trigger,
                    REASON_TAG: decision.reason,
                    TOP_DRIFTED_TAG: signals.top_features or "none",
                },
            )
        ],
        cursor=decision.state.to_cursor(),
    )
