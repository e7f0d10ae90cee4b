"""repair_sensor: once a rejected (or missing) day is re-delivered and passes the contract, it
re-runs what was computed without it and actions the day's alert (decision 0020).

The open alerts are its state: each open `contract_break` or `missing_data` alert names a day
with no `raw_sales` partition. On a tick, a day of those that now has a passing delivery is
repaired: `forecastops.pipeline.repair.plan_repair` lists its stale partitions (stored before
the delivery, with windows covering the day) and the sensor requests

- `retrain_job` for the newest stale cutoff, and
- `monitoring_job` (drift_score, model_health) for the newest stale monitoring days,

each with a run key naming the day, the delivery's checksum, the job and the partition (so a
delivery is repaired once; a later re-delivery is a new repair) and the run tag `REPAIR_TAG`.
Then it actions the day's open alerts, the notes naming the run keys and where to find the runs,
so the next tick has nothing to do. A store that fails is logged and the tick skips: without
the alerts the sensor cannot tell which day to repair, and `forecastops repair --date D` does it
by hand.

`forecast_jobs/definitions.py` builds it with the two jobs (`build_repair_sensor`): sensors never
import forecast_jobs.
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations at definition
# time. The alert store (SQLAlchemy) and pandas load inside the body.
from datetime import date
from typing import TYPE_CHECKING

import dagster as dg

from forecastops.domain.runs import MONITORING_JOB, REPAIR_TAG, RETRAIN_JOB
from resources.alerts import AlertStoreResource
from resources.policies import MonitoringPolicy, RetrainPolicy
from resources.storage import LakeStorage

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dagster._core.definitions.target import ExecutableDefinition

    from forecastops.domain.alerts import Alert
    from forecastops.pipeline.repair import RepairPlan

TICK_INTERVAL_SECONDS = 300
SENSOR_ACTOR = "dagster:repair_sensor"
MAX_OPEN_ALERTS_READ = 500
"""Most open contract_break / missing_data alerts one tick reads (newest first)."""


def build_repair_sensor(jobs: "Sequence[ExecutableDefinition]") -> dg.SensorDefinition:
    """repair_sensor, requesting runs of `jobs` (retrain_job and monitoring_job)."""

    @dg.sensor(
        name="repair_sensor",
        jobs=jobs,
        minimum_interval_seconds=TICK_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When a day with an open contract_break or missing_data alert is re-delivered "
        "and passes the contract: retrains the newest cutoff whose training window held it, "
        "re-runs the drift score and health of the recent days whose windows held it, and actions "
        "the alert naming those runs.",
    )
    def repair_sensor(
        context: dg.SensorEvaluationContext,
        storage: LakeStorage,
        alert_store: AlertStoreResource,
        retrain: RetrainPolicy,
        monitoring: MonitoringPolicy,
    ) -> dg.SensorResult | dg.SkipReason:
        from forecastops.pipeline.repair import RepairWindows, plan_repair
        from forecastops.stores.alerts.identity import (
            AlertStoreConfigError,
            AlertStoreUnavailableError,
        )

        try:
            by_day = _open_gap_alerts(alert_store)
        except (AlertStoreUnavailableError, AlertStoreConfigError) as error:
            return dg.SkipReason(f"Alert store unavailable, no repair looked for: {error}")
        policy = retrain.policy
        windows = RepairWindows.from_policy(
            policy.training_window_days,
            policy.feature_spec.lookback_days,
            monitoring.health_window_days,
        )
        requests: list[dg.RunRequest] = []
        repaired: list[str] = []
        for day, alerts in sorted(by_day.items()):
            plan = plan_repair(storage.lake, day, windows)
            if plan is None:  # still rejected or not delivered
                continue
            day_requests = repair_requests(plan)
            _action(context, alert_store, alerts, plan, day_requests)
            requests += day_requests
            repaired.append(plan.summary())
        if not repaired:
            return dg.SkipReason(
                f"No re-delivered day among the {len(by_day)} day(s) with an open "
                "contract_break or missing_data alert."
            )
        for line in repaired:
            context.log.info(line)
        return dg.SensorResult(run_requests=requests)

    return repair_sensor


def repair_requests(plan: "RepairPlan") -> list[dg.RunRequest]:
    """The runs that repair `plan.day`: the newest stale cutoff's retrain, then the monitoring
    of each recomputed day."""
    tags = {REPAIR_TAG: plan.day.isoformat()}
    runs = [(RETRAIN_JOB, plan.retrain_cutoff)] if plan.retrain_cutoff else []
    runs += [(MONITORING_JOB, day) for day in plan.monitoring_days]
    return [
        dg.RunRequest(
            run_key=plan.run_key(job, partition),
            job_name=job,
            partition_key=partition.isoformat(),
            tags=tags,
        )
        for job, partition in runs
    ]


def _open_gap_alerts(alert_store: AlertStoreResource) -> "dict[date, list[Alert]]":
    """Day -> its open contract_break and missing_data alerts."""
    from forecastops.domain.alerts import OPEN_STATUSES, AlertType
    from forecastops.pipeline.alerts import contract_break_key, missing_data_key

    alerts = alert_store.store.list(
        status=OPEN_STATUSES,
        type=(AlertType.CONTRACT_BREAK, AlertType.MISSING_DATA),
        limit=MAX_OPEN_ALERTS_READ,
    )
    by_day: dict[date, list[Alert]] = {}
    for alert in alerts:
        day_text = (alert.dedup_key or "").rpartition(":")[2]
        try:
            day = date.fromisoformat(day_text)
        except ValueError:  # not keyed by a day: not one this sensor raised or repairs
            continue
        if alert.dedup_key in (contract_break_key(day), missing_data_key(day)):
            by_day.setdefault(day, []).append(alert)
    return by_day


def _action(
    context: dg.SensorEvaluationContext,
    alert_store: AlertStoreResource,
    alerts: "list[Alert]",
    plan: "RepairPlan",
    requests: list[dg.RunRequest],
) -> None:
    """Action `alerts` (notes: the plan and the run keys); one an operator closed in the
    meantime, or a store that fails, is logged (the run keys keep the repair from repeating)."""
    from forecastops.stores.alerts.identity import AlertStoreConfigError, AlertStoreUnavailableError
    from forecastops.stores.alerts.store import AlertTransitionError

    notes = repair_notes(plan, [request.run_key or "" for request in requests])
    for alert in alerts:
        try:
            alert_store.store.action(alert.id, SENSOR_ACTOR, notes)
        except AlertTransitionError as error:
            context.log.info(f"Alert {alert.id} not actioned: {error}")
        except (AlertStoreUnavailableError, AlertStoreConfigError) as error:
            context.log.warning(f"Repair of {plan.day} requested; alert {alert.id} open: {error}")


def repair_notes(plan: "RepairPlan", run_keys: list[str]) -> str:
    """What the actioned alert says: the plan, each run key, and the runs' page in the UI."""
    from forecastops.pipeline.repair import repair_runs_path

    runs = "; ".join(run_keys) if run_keys else "none (nothing stale)"
    return (
        f"Repaired by repair_sensor: {plan.summary()} Runs (run keys): {runs}. In the UI: "
        f"{repair_runs_path(plan.day)}"
    )
