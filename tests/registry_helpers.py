"""Shared builders for tests of the registry and its operations."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from forecast_assets.model import challenger_model, sales_features
from forecastops.domain.simulator import SimulationSpec, simulate_sales
from forecastops.pipeline.cycle import FORECASTS_TABLE
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHAMPION
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.policies import RetrainPolicy
from resources.storage import LakeStorage

START = date(2025, 1, 1)
DAYS = 100
CUTOFF = START + timedelta(days=DAYS - 1)
"""The simulated lake of `trained_challengers`: `DAYS` days from `START` up to `CUTOFF`."""
POLICY = RetrainPolicy(training_window_days=60, horizon_days=14, backtest_days=42, backtest_folds=3)


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


def trained_challengers(workdir: Path, cutoffs: Iterable[date]) -> tuple[pd.DataFrame, Lake, str]:
    """Simulate `DAYS` days (2 stores x 8 products) into `workdir/lake`, then train one
    challenger per cutoff with the real `challenger_model` asset into a fresh MLflow store at
    `workdir/mlflow.db`. Returns the sales, the lake and the tracking URI; version N is the
    N-th cutoff's challenger (the last one holds the `challenger` alias)."""
    lake = Lake(workdir / "lake")
    sales = simulate_sales(SimulationSpec(start=START, end=CUTOFF, stores=2, products=8, seed=5))
    for day, rows in sales.groupby("date"):
        lake.write_partition(RAW_SALES_TABLE, day.date(), {"data": rows.reset_index(drop=True)})
    shutil.copyfile(empty_mlflow_store(), workdir / "mlflow.db")
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    resources = {
        "storage": LakeStorage(root=str(lake.root)),
        "mlflow_registry": MlflowRegistry(tracking_uri=uri),
        "retrain": POLICY,
        "alert_store": AlertStoreResource(url=f"sqlite:///{workdir / 'alerts.db'}"),
    }
    for cutoff in cutoffs:
        assert dg.materialize(
            [sales_features, challenger_model],
            partition_key=cutoff.isoformat(),
            resources=resources,
        ).success
    return sales, lake, uri
