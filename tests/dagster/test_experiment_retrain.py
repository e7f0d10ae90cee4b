"""An approved experiment's retrain through the real assets: a run tagged by
`experiment_run_tags` backtests and trains the experiment's objective and window (not the
resource's nor the ranked winner's), tags the version with the experiment's id, and
`sync_experiment_versions` then moves the experiment to shadow_testing with its test period
starting the day after the cutoff."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg

from forecast_assets.model import backtest, challenger_model, sales_features
from forecastops.domain.experiments import ExperimentStatus
from forecastops.domain.simulator import SimulationSpec, simulate_sales
from forecastops.pipeline.experiments import (
    experiment_config,
    experiment_run_tags,
    sync_experiment_versions,
)
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.stores.alerts.experiments import ExperimentStore
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.settings import PolicySettings
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.policies import RetrainPolicy
from resources.storage import LakeStorage
from tests.registry_helpers import CUTOFF, POLICY, START, empty_mlflow_store


def test_an_experiments_retrain_trains_its_configuration_and_starts_its_shadow_test(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake")
    sales = simulate_sales(SimulationSpec(start=START, end=CUTOFF, stores=2, products=6, seed=11))
    for day, rows in sales.groupby("date"):
        lake.write_partition(RAW_SALES_TABLE, day.date(), {"data": rows.reset_index(drop=True)})
    shutil.copyfile(empty_mlflow_store(), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    alerts = AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")
    alerts.create_schema()
    store = ExperimentStore(alerts)
    assert isinstance(POLICY, RetrainPolicy) and POLICY.objective == "tweedie"
    proposed = store.propose(
        title="Poisson, 56 days",
        hypothesis="Poisson on a shorter window fits the sparse products better.",
        proposer="alice",
        config=experiment_config(PolicySettings(), objective="poisson", training_window_days=56),
        test_period_days=14,
    )
    approved = store.approve(proposed.id, "bob")
    tags = experiment_run_tags(approved)
    store.start(proposed.id, "bob", notes="launched by the test")

    result = dg.materialize(
        [sales_features, backtest, challenger_model],
        partition_key=CUTOFF.isoformat(),
        resources={
            "storage": LakeStorage(root=str(lake.root)),
            "mlflow_registry": MlflowRegistry(tracking_uri=uri),
            "retrain": POLICY,
            "alert_store": AlertStoreResource(url=f"sqlite:///{tmp_path / 'alerts.db'}"),
        },
        tags=tags,
    )

    assert result.success
    registry = ModelRegistry(uri)
    version_tags = registry.version_tags("1")
    assert version_tags["experiment_id"] == str(proposed.id)
    assert (version_tags["objective"], version_tags["window_days"]) == ("poisson", "56")
    assert version_tags["selected_by"] == (
        f"experiment {proposed.id}: objective poisson, window 56 days"
    )
    assert sync_experiment_versions(store, registry, "dagster:test") == 1
    shadowing = store.get(proposed.id)
    assert shadowing.status is ExperimentStatus.SHADOW_TESTING
    assert shadowing.experimental_version == "1"
    assert shadowing.test_started_on == CUTOFF + timedelta(days=1)
    assert sync_experiment_versions(store, registry, "dagster:test") == 0
    alerts.close()
