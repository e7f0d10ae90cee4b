"""The single code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from forecast_assets.alerts import open_alerts
from forecast_assets.ingest import raw_sales, sales_quality_report
from forecast_assets.model import (
    backtest,
    challenger_model,
    forecasts,
    promotion_decision,
    sales_features,
)
from forecast_assets.monitoring import drift_score, model_health
from forecast_jobs.jobs import daily_cycle_job, ingest_job, retrain_job, weekly_backtest_job
from forecast_jobs.registry_jobs import promote_model_job, rollback_model_job
from forecast_jobs.schedules import (
    daily_cycle_schedule,
    daily_ingest_schedule,
    weekly_backtest_schedule,
)
from forecastops.settings import ENV_PREFIX, load_settings
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry, RetrainPolicy
from resources.storage import LakeStorage, LandingSalesSource, ReportsFolder
from sensors.drift_retrain import drift_retrain_sensor
from sensors.run_failure import run_failure_alerts

_settings = load_settings()

defs = dg.Definitions(
    assets=[
        raw_sales,
        sales_quality_report,
        sales_features,
        challenger_model,
        backtest,
        promotion_decision,
        forecasts,
        drift_score,
        model_health,
        open_alerts,
    ],
    jobs=[
        ingest_job,
        retrain_job,
        daily_cycle_job,
        weekly_backtest_job,
        promote_model_job,
        rollback_model_job,
    ],
    schedules=[daily_ingest_schedule, daily_cycle_schedule, weekly_backtest_schedule],
    sensors=[drift_retrain_sensor, run_failure_alerts],
    resources={
        "landing": LandingSalesSource(landing_dir=str(_settings.landing_path)),
        "storage": LakeStorage(root=str(_settings.lake_path)),
        "reports": ReportsFolder(root=str(_settings.reports_path)),
        "mlflow_registry": MlflowRegistry(
            tracking_uri=_settings.mlflow_uri,
            model_name=_settings.model_name,
            experiment=_settings.experiment_name,
        ),
        "retrain": RetrainPolicy(
            window_days=_settings.training_window_days,
            horizon_days=_settings.horizon_days,
            backtest_days=_settings.backtest_days,
            backtest_folds=_settings.backtest_folds,
            objective=_settings.objective,
            min_wape_improvement=_settings.min_wape_improvement,
            max_store_degradation=_settings.max_store_degradation,
        ),
        # A PostgreSQL URL may carry a password: when the URL is set, the UI shows the variable.
        "alert_store": AlertStoreResource(
            url=dg.EnvVar(f"{ENV_PREFIX}ALERTS_DB_URL")
            if _settings.alerts_db_url
            else _settings.alerts_url
        ),
    },
)
