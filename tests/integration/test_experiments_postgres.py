"""Experiments on the real PostgreSQL server (127.0.0.1:5432): a store at revision 0003 is
upgraded to the experiments tables with its alerts kept, and concurrent approvals of one
experiment from several connections have exactly one winner and one audit row."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from alembic import command

from forecastops.domain.experiments import ExperimentStatus, ExperimentTransitionError
from forecastops.pipeline.experiments import experiment_config
from forecastops.stores.alerts.experiments import EVENTS_TABLE, EXPERIMENTS_TABLE, ExperimentStore
from forecastops.stores.alerts.identity import AlertSchemaError
from forecastops.stores.alerts.migrations import _config
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.settings import PolicySettings
from tests.alert_races import WORKERS, drift_alert
from tests.alert_schema import table_names
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.postgres


def test_a_postgres_store_at_0003_is_upgraded_to_experiments_and_approvals_race_to_one_winner() -> (
    None
):
    with fresh_database("forecastops_experiments") as url:
        stores = [AlertStore(url) for _ in range(WORKERS)]
        try:
            alerts = stores[0]
            with alerts._locked() as connection:
                command.upgrade(_config(connection), "0003_missing_data_type")
            kept = drift_alert(alerts, dedup_key="drift:k")
            assert EXPERIMENTS_TABLE not in table_names(url)
            with pytest.raises(AlertSchemaError, match="at 0003_missing_data_type, head 0004"):
                alerts.create_schema()

            report = alerts.migrate()

            assert str(report) == (
                "upgraded the schema from 0003_missing_data_type to 0004_experiments"
            )
            assert {EXPERIMENTS_TABLE, EVENTS_TABLE} <= set(table_names(url))
            assert alerts.get(kept.id) == kept
            experiment = ExperimentStore(alerts).propose(
                title="Poisson objective",
                hypothesis="Poisson fits the sparse products better.",
                proposer="alice",
                config=experiment_config(PolicySettings(), objective="poisson"),
                test_period_days=14,
            )
            assert experiment.created_at.tzinfo is not None
            barrier = threading.Barrier(WORKERS)

            def approve(worker: int) -> str:
                barrier.wait(timeout=10)
                try:
                    ExperimentStore(stores[worker]).approve(experiment.id, f"operator-{worker}")
                except ExperimentTransitionError as error:
                    assert "it is approved" in str(error)
                    return "lost"
                return "won"

            with ThreadPoolExecutor(WORKERS) as pool:
                outcomes = list(pool.map(approve, range(WORKERS)))

            assert outcomes.count("won") == 1
            store = ExperimentStore(alerts)
            store.start(experiment.id, "carol")
            shadowing = store.shadow(
                experiment.id, "carol", experimental_version="3", test_started_on=date(2025, 6, 2)
            )
            assert shadowing.status is ExperimentStatus.SHADOW_TESTING
            assert shadowing.test_started_on == date(2025, 6, 2)
            assert [event.command for event in shadowing.events] == [
                "propose",
                "approve",
                "start",
                "shadow",
            ]
        finally:
            for alert_store in stores:
                alert_store.close()
