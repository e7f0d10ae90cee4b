"""Approve or dismiss an alert, and queue a retrain of chosen days, from the Dagster launchpad:
op jobs over the core the CLI uses, with the same rules and messages.

    ops:
      act_on_alert:
        config: {alert_id: 12, decision: approve, notes: "retrained after the holiday"}

    ops:
      queue_retrain:
        config: {days: "2026-11-01..2026-11-07"}

Every change is recorded with actor `dagster:<run_id>`. A refusal fails the run with a
`dagster.Failure` naming the config field and the fix, without retries (it would be refused
again); nothing changes.
"""

# No `from __future__ import annotations`: Dagster reads the op's annotations at definition
# time. The core loads inside the bodies.
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Literal

import dagster as dg
from pydantic import Field

from forecastops.domain.runs import ALERT_ACTION_JOB, KIND_TAG, QUEUE_RETRAIN_JOB
from resources.alerts import AlertStoreResource

ACT_ON_ALERT_OP = "act_on_alert"
QUEUE_RETRAIN_OP = "queue_retrain"


class AlertActionConfig(dg.Config):
    """Launchpad config of `alert_action_job`."""

    alert_id: int = Field(description="The alert to close (`forecastops alerts list`).")
    decision: Literal["approve", "dismiss"] = Field(
        description="approve: done what it asks (actioned; an alert recommending a retrain "
        "queues it); dismiss: nothing to do."
    )
    notes: str | None = Field(default=None, description="A sentence recorded with the alert.")


class QueueRetrainConfig(dg.Config):
    """Launchpad config of `queue_retrain_job`."""

    days: str = Field(
        description="Cutoff days to retrain: a range `2026-11-01..2026-11-07` (both included) or "
        "days separated by commas `2026-11-01,2026-11-08`."
    )


@contextmanager
def _refusals(op_name: str) -> Iterator[None]:
    """The core's refusals as a `dagster.Failure` naming `ops.<op>.config.<field>`, never
    retried (the same input is refused again)."""
    from forecastops.ops.alert_actions import AlertActionRefused
    from forecastops.ops.retrain_queue import RetrainLaunchError, RetrainRefused
    from forecastops.stores.alerts.identity import AlertNotFoundError, InvalidAlertError
    from forecastops.stores.alerts.store import AlertTransitionError

    try:
        yield
    except (AlertActionRefused, RetrainRefused) as error:
        # the core names the CLI's flags (from, to, partitions); here they are one field, days
        field = "days" if isinstance(error, RetrainRefused) and error.field else error.field
        where = f"Config field ops.{op_name}.config.{field}: " if field else ""
        raise dg.Failure(description=f"{where}{error}", allow_retries=False) from None
    except AlertNotFoundError as error:
        raise dg.Failure(
            description=f"Config field ops.{op_name}.config.alert_id: {error} List them with "
            "`forecastops alerts list --status all`.",
            allow_retries=False,
        ) from None
    except (AlertTransitionError, InvalidAlertError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    except RetrainLaunchError as error:
        raise dg.Failure(description=f"The retrain was not queued: {error}") from error


def _queue(context: dg.OpExecutionContext, days: tuple[date, ...], tags: dict[str, str]) -> None:
    """Queue one retrain_job run per day for the daemon, as `forecastops retrain` does, and put
    the backfill on the op's output metadata."""
    from forecastops.ops.retrain_queue import queue_retrain
    from forecastops.stores.settings import load_settings

    queued = queue_retrain(days, load_settings(), tags)
    if queued.warning:
        context.log.warning(queued.warning)
    context.add_output_metadata(
        {
            "backfill_id": queued.backfill_id,
            "days": [day.isoformat() for day in queued.partitions],
            "backfill": dg.MetadataValue.path(queued.ui_path),
        }
    )


@dg.op(
    name=ACT_ON_ALERT_OP,
    description="Approve or dismiss an open alert (same rules as forecastops alerts action).",
)
def act_on_alert(
    context: dg.OpExecutionContext, config: AlertActionConfig, alert_store: AlertStoreResource
) -> None:
    from forecastops.domain.triggers import approval_tags
    from forecastops.ops.alert_actions import close_alert
    from forecastops.stores.settings import load_settings

    with _refusals(ACT_ON_ALERT_OP):
        closed = close_alert(
            alert_store.store,
            config.alert_id,
            approve=config.decision == "approve",
            actor=f"dagster:{context.run_id}",
            notes=config.notes,
            settings=load_settings(),
        )
        context.log.info(closed.summary)
        context.add_output_metadata(
            {
                "alert_id": closed.alert.id,
                "status": closed.alert.status.value,
                "actor": closed.alert.actor or "",
                "summary": closed.summary,
            }
        )
        if closed.manual_recommendation:
            context.log.info(closed.manual_recommendation)
        if closed.retrain_days is not None:
            _queue(context, closed.retrain_days, approval_tags(closed.alert))


@dg.op(
    name=QUEUE_RETRAIN_OP,
    description="Queue one retrain_job run per chosen day for the daemon (a backfill).",
)
def queue_retrain_days(context: dg.OpExecutionContext, config: QueueRetrainConfig) -> None:
    from forecastops.ops.retrain_queue import plan_partitions, plan_range
    from forecastops.stores.settings import load_settings

    settings = load_settings()
    with _refusals(QUEUE_RETRAIN_OP):
        first, sep, last = config.days.partition("..")
        days = plan_range(first, last, settings) if sep else plan_partitions(config.days, settings)
        _queue(context, days, {})


@dg.job(
    name=ALERT_ACTION_JOB,
    description="Approve or dismiss an alert from the launchpad: config alert_id, decision "
    "(approve | dismiss), notes. Approving a retrain recommendation queues that retrain.",
    tags={KIND_TAG: "operator"},
)
def alert_action_job() -> None:
    act_on_alert()


@dg.job(
    name=QUEUE_RETRAIN_JOB,
    description="Queue retrain_job runs for chosen cutoff days from the launchpad: config days "
    "(2026-11-01..2026-11-07 or 2026-11-01,2026-11-08).",
    tags={KIND_TAG: "operator"},
)
def queue_retrain_job() -> None:
    queue_retrain_days()
