"""The whole pipeline's Definitions pointed at a test folder (lake, landing, MLflow, reports)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from forecast_jobs.definitions import build_definitions
from forecastops.settings import ENV_PREFIX, Settings

SMALL_CYCLE = {
    "training_window_days": 60,
    "horizon_days": 14,
    "backtest_days": 42,
    "backtest_folds": 3,
}
"""A small window and backtest, so a retrain cycle runs fast."""


def small_cycle_env() -> dict[str, str]:
    """`SMALL_CYCLE` as the environment variables a subprocess reads it from."""
    return {f"{ENV_PREFIX}{name.upper()}": str(value) for name, value in SMALL_CYCLE.items()}


def pipeline_settings(workdir: Path) -> Settings:
    """Settings rooted at `workdir`, with the small cycle."""
    return Settings(
        home=workdir,
        landing_dir=workdir / "landing",
        lake_dir=workdir / "lake",
        mlflow_tracking_uri=tracking_uri(workdir),
        **SMALL_CYCLE,
    )


def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


def pipeline_definitions(workdir: Path) -> dg.Definitions:
    return build_definitions(pipeline_settings(workdir))
