"""The single code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from forecast_assets.alerts import open_alerts
from forecast_assets.champion_backtest import champion_backtest
from forecast_assets.experiments import experiments
from forecast_assets.ingest import raw_sales, sales_quality_report
from forecast_assets.model import (
    backtest,
    challenger_model,
    forecasts,
    promotion_decision,
    sales_features,
)
from forecast_assets.monitoring import drift_score, model_health
from forecast_assets.reports import incident_report
from forecast_jobs.executors import build_executor
from forecast_jobs.jobs import (
    daily_cycle_job,
    health_refresh_job,
    ingest_job,
    monitoring_job,
    open_alerts_job,
    retrain_job,
    weekly_backtest_job,
)
from forecast_jobs.operator_jobs import alert_action_job, queue_retrain_job
from forecast_jobs.registry_jobs import promote_model_job, rollback_model_job
from forecast_jobs.schedules import (
    daily_cycle_schedule,
    daily_ingest_schedule,
    weekly_backtest_schedule,
)
from forecastops.stores.settings import ENV_PREFIX, Settings, load_settings
from resources.alerts import AlertNotifierResource, AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.policies import MonitoringPolicy, RetrainPolicy
from resources.storage import LakeStorage, LandingSalesSource, ReportsFolder
from sensors.alert_notifier import alert_notifier
from sensors.drift_retrain import drift_retrain_sensor
from sensors.refresh import champion_health_refresh, open_alerts_refresh
from sensors.repair import build_repair_sensor
from sensors.run_failure import run_failure_alerts

PIPELINE_ASSETS = (
    raw_sales,
    sales_quality_report,
    sales_features,
    backtest,
    challenger_model,
    promotion_decision,
    forecasts,
    drift_score,
    model_health,
    open_alerts,
    experiments,
    incident_report,
    champion_backtest,
)
"""Every asset, in data-flow order (the weekly `champion_backtest` last, off the daily path)."""


def from_environment(value: str, *variables: str) -> str:
    """`value` as `dg.EnvVar(<variable>)` when it came from one of `variables` (the first
    that holds it), else `value` itself (set in code, or a default under FORECASTOPS_HOME).

    For every URL that may carry a password: the UI shows an EnvVar's name, never its value,
    and the job snapshots Dagster stores hold the name only; runs read the value from their
    environment."""
    for variable in variables:
        if os.environ.get(variable) == value:
            return dg.EnvVar(variable)
    return value


def build_resources(settings: Settings) -> dict[str, Any]:
    """The resources every asset, sensor and job uses, configured from `settings`; the URLs
    through `from_environment`."""
    return {
        "landing": LandingSalesSource(landing_dir=str(settings.landing_path)),
        "storage": LakeStorage(root=str(settings.lake_path)),
        "reports": ReportsFolder(root=str(settings.reports_path)),
        "mlflow_registry": MlflowRegistry(
            tracking_uri=from_environment(
                settings.mlflow_uri, "MLFLOW_TRACKING_URI", f"{ENV_PREFIX}MLFLOW_TRACKING_URI"
            ),
            model_name=settings.model_name,
            experiment=settings.experiment_name,
            artifact_location=from_environment(
                settings.mlflow_artifact_uri, f"{ENV_PREFIX}MLFLOW_ARTIFACT_ROOT"
            ),
            ui_url=settings.mlflow_ui,
        ),
        "retrain": RetrainPolicy.from_settings(settings),
        "monitoring": MonitoringPolicy.from_settings(settings),
        # A PostgreSQL URL may carry a password: when the URL is set, the UI shows the variable.
        "alert_store": AlertStoreResource(
            url=from_environment(settings.alerts_url, f"{ENV_PREFIX}ALERTS_DB_URL"),
            dagster_ui=settings.dagster_ui,
        ),
        # The notification URLs carry tokens: set, the UI shows the variable.
        "notifier": AlertNotifierResource(
            urls=from_environment(
                settings.alert_notify_urls or "", f"{ENV_PREFIX}ALERT_NOTIFY_URLS"
            ),
            min_severity=settings.alert_notify_min_severity,
            dagster_ui=settings.dagster_ui,
        ),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    """The code location for `settings` (tests point it at a temporary folder)."""
    return dg.Definitions(
        assets=list(PIPELINE_ASSETS),
        jobs=[
            ingest_job,
            retrain_job,
            daily_cycle_job,
            monitoring_job,
            weekly_backtest_job,
            health_refresh_job,
            open_alerts_job,
            promote_model_job,
            rollback_model_job,
            alert_action_job,
            queue_retrain_job,
        ],
        schedules=[daily_cycle_schedule, daily_ingest_schedule, weekly_backtest_schedule],
        sensors=[
            drift_retrain_sensor,
            build_repair_sensor([retrain_job, monitoring_job]),
            run_failure_alerts,
            alert_notifier,
            champion_health_refresh,
            open_alerts_refresh,
        ],
        resources=build_resources(settings),
        executor=build_executor(settings),
    )


defs = build_definitions(load_settings())
