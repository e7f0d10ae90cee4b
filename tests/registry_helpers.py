"""Shared builders for tests of the registry and its operations."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pandas as pd

from forecastops.cycle import FORECASTS_TABLE
from forecastops.lake import Lake
from forecastops.registry import CHAMPION, ModelRegistry


def empty_mlflow_store() -> Path:
    """An empty MLflow SQLite store, made once per test session in its temporary home
    (creating the tables takes seconds; copying the file takes milliseconds)."""
    template = Path(os.environ["FORECASTOPS_HOME"]) / "mlflow-template" / "mlflow.db"
    if not template.is_file():
        template.parent.mkdir(parents=True, exist_ok=True)
        ModelRegistry(f"sqlite:///{template}").alias_version(CHAMPION)
    return template


def write_forecasts(
    lake: Lake, rows: pd.DataFrame, cutoff: date, version: str, p50: pd.Series | float
) -> None:
    """Store a forecasts partition for `cutoff`: `rows` (date, store_id, product_id) with the
    P50 `p50`, P10/P90 at 0.8x/1.2x and made-up lineage naming `version`."""
    p50_values = pd.Series(p50, index=rows.index, dtype=float)
    lake.write_partition(
        FORECASTS_TABLE,
        cutoff,
        {
            "data": rows.assign(
                p10=p50_values * 0.8,
                p50=p50_values,
                p90=p50_values * 1.2,
                horizon_step=(rows["date"] - pd.Timestamp(cutoff)).dt.days,
                training_cutoff=cutoff.isoformat(),
                model_version=version,
                feature_set_version="abc123",
                data_sha256="f" * 64,
                dagster_run_id="run-1",
            ).reset_index(drop=True)
        },
    )
