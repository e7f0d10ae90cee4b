"""Monitoring: the incident report, the operational snapshot an operator opens first.

Unpartitioned on purpose: it reports the state *now* (registry, open alerts, run history),
which cannot be recomputed for a past day. It runs at the end of every daily cycle and on
demand; each materialization writes new files named by its UTC time (docs/operations.md). The
champion's health in it is for the day of the run that materializes it (the daily cycle's
partition, the last day of a range), or without one the newest day whose partition is over.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. The core (pandas, MLflow, SQLAlchemy) loads inside the body.
from datetime import UTC, date, datetime

import dagster as dg

from forecast_assets.monitoring import drift_score, model_health
from forecast_assets.partitions import daily_partitions
from forecast_assets.run_history import recent_runs
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.policies import MonitoringPolicy
from resources.storage import LakeStorage, ReportsFolder


def _health_day(context: dg.AssetExecutionContext) -> date:
    """The day the report's health is for: its run's partition (the last day of a range run),
    else the newest day whose daily partition is over."""
    from forecastops.domain.runs import PARTITION_RANGE_SEPARATOR, run_partition
    from forecastops.pipeline.operations import due_day

    partition = run_partition(context.run.tags)
    if partition:
        return date.fromisoformat(partition.split(PARTITION_RANGE_SEPARATOR)[-1])
    return due_day(daily_partitions.timezone or "UTC")


@dg.asset(
    deps=[drift_score, model_health],
    group_name="monitoring",
    kinds={"csv", "markdown"},
)
def incident_report(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    mlflow_registry: MlflowRegistry,
    alert_store: AlertStoreResource,
    reports: ReportsFolder,
    monitoring: MonitoringPolicy,
) -> dg.MaterializeResult:
    """Model health (champion/challenger, realized MAE/WAPE over 7 days, trend, performance
    class), the newest drift score, the open alerts, the newest runs and the newest promotions,
    written as Markdown and CSV under `$FORECASTOPS_HOME/reports/`."""
    from forecastops.pipeline.incident_report import (
        build_incident_report,
        report_stem,
        write_atomically,
    )

    generated_at = datetime.now(UTC)
    report = build_incident_report(
        generated_at=generated_at,
        as_of=_health_day(context),
        lake=storage.lake,
        registry=mlflow_registry.registry,
        alert_store=alert_store.store,
        runs=recent_runs(context.instance),
        runs_source="this run's Dagster instance",
        health_policy=monitoring.performance,
    )
    stem = report_stem(generated_at)
    markdown = report.to_markdown()
    markdown_file = write_atomically(reports.path_for(f"{stem}.md"), markdown)
    csv_file = write_atomically(reports.path_for(f"{stem}.csv"), report.to_csv())
    return dg.MaterializeResult(
        metadata={
            "markdown_file": dg.MetadataValue.path(str(markdown_file)),
            "csv_file": dg.MetadataValue.path(str(csv_file)),
            "open_alerts": int(report.sections["open_alert_counts"]["total"].iloc[0]),
            "report": dg.MetadataValue.md(markdown),
        }
    )
