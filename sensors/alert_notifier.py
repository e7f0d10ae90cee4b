"""alert_notifier: posts new warning/critical alerts and their resolution to chat or a webhook.

Every minute it reads the alert store past its cursor and posts through Apprise
(`forecastops.pipeline.notifications`: what is posted, in which order, and why a row younger
than 30 s waits for the next tick). The cursor lives in the sensor's state, so a post that
failed (receiver down, timed out) is retried on the next tick, in order; the tick's skip reason
says what was posted and what waits. Runs never post, so a receiver that is down never fails a
run. Without `FORECASTOPS_ALERT_NOTIFY_URLS` every tick skips and says so.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations at definition
# time. The alert store (SQLAlchemy) and Apprise load inside the body.
from datetime import UTC, datetime

import dagster as dg

from resources.alerts import AlertNotifierResource, AlertStoreResource

ALERT_NOTIFIER_SENSOR = "alert_notifier"
NOTIFY_INTERVAL_SECONDS = 60


@dg.sensor(
    name=ALERT_NOTIFIER_SENSOR,
    minimum_interval_seconds=NOTIFY_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts each new warning/critical alert, and its resolution, to the targets of "
    "FORECASTOPS_ALERT_NOTIFY_URLS (Slack, any JSON webhook, mail: Apprise URLs); a failed "
    "post is retried on the next tick.",
)
def alert_notifier(
    context: dg.SensorEvaluationContext,
    alert_store: AlertStoreResource,
    notifier: AlertNotifierResource,
) -> dg.SkipReason:
    from forecastops.pipeline.notifications import NotifyCursor, notify_alert_changes

    targets = notifier.open()
    if targets is None:
        return dg.SkipReason(
            "FORECASTOPS_ALERT_NOTIFY_URLS is unset: alerts stay in the alert store "
            "(forecastops alerts list)."
        )
    now = datetime.now(UTC)
    store = alert_store.store
    if context.cursor is None:
        cursor = NotifyCursor.starting_now(store)
        context.update_cursor(cursor.to_json())
        return dg.SkipReason(
            f"Notifications to {', '.join(targets.targets)} start now, after alert "
            f"#{cursor.raised_through}; earlier alerts are in `forecastops alerts list`."
        )
    outcome = notify_alert_changes(
        store,
        targets,
        NotifyCursor.from_json(context.cursor),
        min_severity=notifier.min_severity,
        dagster_ui=notifier.dagster_ui,
        now=now,
    )
    context.update_cursor(outcome.cursor.to_json())
    if outcome.failure:
        context.log.warning(outcome.failure)
    return dg.SkipReason(outcome.summary())
