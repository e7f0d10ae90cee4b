"""The whole pipeline's Definitions pointed at a test folder (lake, landing, MLflow, reports)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from forecast_jobs.definitions import build_definitions
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import DriftScenario, SimulationSpec, write_landing_files
from forecastops.stores.settings import ENV_PREFIX, Settings

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


def pipeline_settings(workdir: Path, **knobs: object) -> Settings:
    """Settings rooted at `workdir`, with the small cycle and `knobs` (settings by name)."""
    return Settings(
        home=workdir,
        landing_dir=workdir / "landing",
        lake_dir=workdir / "lake",
        mlflow_tracking_uri=tracking_uri(workdir),
        **{**SMALL_CYCLE, **knobs},  # type: ignore[arg-type]
    )


def tracking_uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'mlflow.db'}"


def pipeline_definitions(workdir: Path, **knobs: object) -> dg.Definitions:
    return build_definitions(pipeline_settings(workdir, **knobs))


DRIFT_START = date(2025, 1, 1)
"""The first day of the drifted retailer (`write_drifted_landing`)."""
DRIFT_TRAINED_AT = DRIFT_START + timedelta(days=149)
"""Its champion's training cutoff: demand shifts by 1.8x from the next day on."""
DRIFTED_DAY = DRIFT_TRAINED_AT + timedelta(days=14)
"""Its last day, two weeks into the shift."""


def write_drifted_landing(workdir: Path, stores: int = 3, products: int = 10) -> None:
    """Landing files of a retailer whose demand shifts after `DRIFT_TRAINED_AT`."""
    spec = SimulationSpec(
        start=DRIFT_START,
        end=DRIFTED_DAY,
        stores=stores,
        products=products,
        seed=11,
        drift=DriftScenario(start=DRIFT_TRAINED_AT + timedelta(days=1), demand_factor=1.8),
    )
    write_landing_files(spec, workdir / "landing")


def ingest_and_train_champion(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> tuple[dg.ExecuteInProcessResult, dg.ExecuteInProcessResult]:
    """Ingest the drifted retailer's days in one run and train the first champion at
    `DRIFT_TRAINED_AT`, before the shift; the ingest and retrain results."""
    ingest = execute_partition_range(
        defs.resolve_job_def("ingest_job"), DRIFT_START, DRIFTED_DAY, instance
    )
    retrain = defs.resolve_job_def("retrain_job").execute_in_process(
        instance=instance, partition_key=DRIFT_TRAINED_AT.isoformat()
    )
    return ingest, retrain


def op_failure(result: dg.ExecuteInProcessResult, op: str) -> str:
    """The description of the `dagster.Failure` that failed `op` in a failed run."""
    assert not result.success
    failure = result.failure_data_for_node(op)
    assert failure is not None and failure.user_failure_data is not None
    return str(failure.user_failure_data.description)
