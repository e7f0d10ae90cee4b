"""The whole pipeline's Definitions pointed at a test folder (lake, landing, MLflow, reports)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from forecast_assets.ingest import raw_sales, sales_quality_report
from forecast_assets.model import (
    backtest,
    challenger_model,
    forecasts,
    promotion_decision,
    sales_features,
)
from forecast_assets.monitoring import drift_score, model_health
from forecast_jobs.jobs import ingest_job, retrain_job
from resources.mlflow_registry import MlflowRegistry, RetrainPolicy
from resources.storage import LakeStorage, LandingSalesSource, ReportsFolder

SMALL_POLICY = RetrainPolicy(window_days=60, horizon_days=14, backtest_days=42, backtest_folds=3)


def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


def pipeline_definitions(workdir: Path, policy: RetrainPolicy = SMALL_POLICY) -> dg.Definitions:
    return dg.Definitions(
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
        ],
        jobs=[ingest_job, retrain_job],
        resources={
            "landing": LandingSalesSource(landing_dir=str(workdir / "landing")),
            "storage": LakeStorage(root=str(workdir / "lake")),
            "mlflow_registry": MlflowRegistry(tracking_uri=tracking_uri(workdir)),
            "retrain": policy,
            "reports": ReportsFolder(root=str(workdir / "reports")),
        },
    )
