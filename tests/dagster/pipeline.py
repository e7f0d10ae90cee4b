"""The whole pipeline's Definitions pointed at a test folder (lake, landing, MLflow, reports)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from forecast_jobs.definitions import build_definitions
from forecastops.settings import Settings


def pipeline_settings(workdir: Path) -> Settings:
    """Settings rooted at `workdir`, with a small window and backtest so a cycle runs fast."""
    return Settings(
        home=workdir,
        landing_dir=workdir / "landing",
        lake_dir=workdir / "lake",
        mlflow_tracking_uri=tracking_uri(workdir),
        training_window_days=60,
        horizon_days=14,
        backtest_days=42,
        backtest_folds=3,
    )


def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


def pipeline_definitions(workdir: Path) -> dg.Definitions:
    return build_definitions(pipeline_settings(workdir))
