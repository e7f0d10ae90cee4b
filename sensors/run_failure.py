"""A critical `run_failure` alert for every failed run of this code location.

The sensor reads what Dagster recorded about the failure (the failed steps and their errors);
it computes nothing. One alert per run (dedup key `run_failure:<run_id>`), so a re-evaluated
tick never raises it twice. If the alert store cannot be reached the tick fails with the
store's message (visible on the sensor's page); Dagster moves the sensor's cursor past the run
anyway, so that failure is not alerted on later.
"""

# No `from __future__ import annotations`: Dagster reads the `alert_store` annotation at
# definition time to supply the resource. The alert store (SQLAlchemy) loads inside the body.
from collections.abc import Collection

import dagster as dg

from forecastops.domain.alerts import shorten
from forecastops.domain.runs import (
    DAGSTER_BACKFILL_TAG,
    DAGSTER_PARTITION_TAG,
    RETRAIN_JOB,
    run_partition,
)
from forecastops.domain.secrets import mask_urls_in
from resources.alerts import AlertStoreResource

RUN_FAILURE_SENSOR = "run_failure_alerts"
MAX_ERROR_CHARS = 1500
"""Longest error text quoted per failed step; the run page has the whole stack trace."""
MAX_ASSETS_NAMED = 5


@dg.run_failure_sensor(
    name=RUN_FAILURE_SENSOR,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Raises a critical run_failure alert (forecastops alerts list) for every failed "
    "run of this code location: the job, the partition, the failed steps and their errors.",
)
def run_failure_alerts(
    context: dg.RunFailureSensorContext, alert_store: AlertStoreResource
) -> None:
    from forecastops.domain.alerts import AlertType, Severity
    from forecastops.stores.alerts.store import KEY_MAX_CHARS, TITLE_MAX_CHARS

    run = context.dagster_run
    partition = run_partition(run.tags)
    what = run_label(run.job_name, run.asset_selection)
    alert = alert_store.store.raise_alert(
        type=AlertType.RUN_FAILURE,
        severity=Severity.CRITICAL,
        title=shorten(
            f"{what} failed" + (f" for partition {partition}" if partition else ""), TITLE_MAX_CHARS
        ),
        message=failure_message(context, what, partition),
        links=run_links(run.run_id, run.tags.get(DAGSTER_BACKFILL_TAG), alert_store.dagster_ui),
        subject=shorten(f"{what}/{partition}" if partition else what, KEY_MAX_CHARS),
        dedup_key=f"run_failure:{run.run_id}",
        recommendation=(
            {"action": "retrain", "partition": partition}
            if run.job_name == RETRAIN_JOB and run.tags.get(DAGSTER_PARTITION_TAG)
            else None
        ),
    )
    context.log.info(f"Alert {alert.id} ({alert.status}): {alert.title}")


def run_label(job_name: str, asset_selection: Collection[dg.AssetKey] | None) -> str:
    """The job's name; for Dagster's hidden asset job (an ad-hoc materialization) the assets."""
    if not job_name.startswith("__") or not asset_selection:
        return job_name
    names = sorted(key.to_user_string() for key in asset_selection)
    shown = ", ".join(names[:MAX_ASSETS_NAMED])
    more = f" (+{len(names) - MAX_ASSETS_NAMED} more)" if len(names) > MAX_ASSETS_NAMED else ""
    return f"materialization of {shown}{more}"


def run_links(run_id: str, backfill_id: str | None, dagster_ui: str = "") -> list[dict[str, str]]:
    """The run's page in the Dagster UI at `dagster_ui` (and its backfill's); empty
    `dagster_ui`: paths relative to the UI."""
    from forecastops.pipeline.alerts import dagster_run_link

    links = [dagster_run_link(run_id, dagster_ui).to_dict()]
    if backfill_id:
        base = dagster_ui.rstrip("/")
        links.append({"label": "Dagster backfill", "url": f"{base}/runs/b/{backfill_id}"})
    return links


def failure_message(context: dg.RunFailureSensorContext, what: str, partition: str | None) -> str:
    """What failed and why: each failed step with its error, or the run's own failure when it
    failed outside any step (e.g. its process died). Any URL quoted in an error (a database's,
    from a library's exception) has its password masked."""
    return mask_urls_in(_failure_text(context, what, partition))


def _failure_text(context: dg.RunFailureSensorContext, what: str, partition: str | None) -> str:
    run = context.dagster_run
    head = f"Run {run.run_id} of {what}" + (f" (partition {partition})" if partition else "")
    steps = [
        (event.step_key or "?", _step_error(event)) for event in context.get_step_failure_events()
    ]
    if steps:
        keys = ", ".join(key for key, _ in steps)
        errors = "\n".join(f"- {key}: {error}" for key, error in steps)
        return f"{head} failed in step(s) {keys}.\n\n{errors}"
    event = context.failure_event
    data = event.event_specific_data
    error = getattr(data, "error", None)
    reason = shorten(error.message.strip(), MAX_ERROR_CHARS) if error is not None else ""
    return f"{head} failed outside its steps: {event.message or 'no message'}" + (
        f"\n\n{reason}" if reason else ""
    )


def _step_error(event: dg.DagsterEvent) -> str:
    """The most specific message of a step failure: a `dagster.Failure`'s description, the
    user's exception under Dagster's wrapper, or the error itself."""
    data = event.event_specific_data
    user_failure = getattr(data, "user_failure_data", None)
    if user_failure is not None and user_failure.description:
        text = user_failure.description
    else:
        error = getattr(data, "error", None)
        if error is None:
            text = event.message or "no error recorded"
        elif error.cls_name == "DagsterExecutionStepExecutionError" and error.cause is not None:
            text = error.cause.message
        else:
            text = error.message
    return shorten(text.strip(), MAX_ERROR_CHARS)
