"""The single code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from forecast_assets.ingest import raw_sales, sales_quality_report
from forecast_assets.model import (
    backtest,
    challenger_model,
    forecasts,
    promotion_decision,
    sales_features,
)
from forecast_jobs.jobs import ingest_job, retrain_job
from forecast_jobs.registry_jobs import promote_model_job, rollback_model_job
from forecast_jobs.schedules import daily_ingest_schedule
from forecastops.settings import load_settings
from resources.mlflow_registry import MlflowRegistry, RetrainPolicy
from resources.storage import LakeStorage, LandingSalesSource

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
    ],
    jobs=[ingest_job, retrain_job, promote_model_job, rollback_model_job],
    schedules=[daily_ingest_schedule],
    resources={
        "landing": LandingSalesSource(landing_dir=str(_settings.landing_path)),
        "storage": LakeStorage(root=str(_settings.lake_path)),
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
    },
)
