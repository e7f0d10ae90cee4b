"""The alert store on the real PostgreSQL server (127.0.0.1:5432, user postgres, trust auth).

The module creates a database of its own (a unique name) and drops it afterwards. Without a
reachable server the tests are skipped, except under CI (env `CI` set), where they fail and say
how to start it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC

import pytest
from sqlalchemy import text

from forecastops.alerts import (
    OPEN_STATUSES,
    TABLE_NAME,
    AlertLink,
    AlertNotFoundError,
    AlertStatus,
    AlertStore,
    AlertTransitionError,
    Severity,
)
from tests.alert_races import WORKERS, drift_alert, race
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.postgres

SERVER = "postgres@127.0.0.1:5432"


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A fresh database on the server, dropped (even with connections left open) at the end."""
    with fresh_database("forecastops_alerts_test") as url:
        yield url.rsplit("/", 1)[1]


def url_of(database: str, scheme: str = "postgresql") -> str:
    return f"{scheme}://{SERVER}/{database}"


@pytest.fixture
def store(database: str) -> Iterator[AlertStore]:
    """A store on the module's database with the schema created and no alerts in it."""
    with AlertStore(url_of(database)) as alert_store:
        alert_store.create_schema()
        with alert_store.engine.begin() as connection:
            connection.execute(text(f"DELETE FROM {TABLE_NAME}"))
        yield alert_store


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
def test_both_url_spellings_connect_through_psycopg3(database: str, scheme: str) -> None:
    with AlertStore(url_of(database, scheme)) as store:
        store.create_schema()
        assert store.engine.dialect.driver == "psycopg"
        with store.engine.connect() as connection:
            driver_connection = connection.connection.driver_connection
            assert type(driver_connection).__module__.startswith("psycopg")
        assert store.open_counts() == store.open_counts()  # it can query


def test_create_schema_from_many_stores_at_once_on_postgres(database: str) -> None:
    stores = [AlertStore(url_of(database)) for _ in range(WORKERS)]
    with stores[0].engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {TABLE_NAME}"))
    barrier = threading.Barrier(WORKERS)

    def create(worker: int) -> None:
        barrier.wait(timeout=10)
        stores[worker].create_schema()

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(create, range(WORKERS)))  # re-raises any worker's error
        assert stores[0].open_counts() == dict.fromkeys(Severity, 0)
    finally:
        for worker_store in stores:
            worker_store.close()


def test_alert_lifecycle_on_postgres(store: AlertStore) -> None:
    store.create_schema()  # idempotent on an existing schema
    nested = {"action": "retrain", "partition": "2025-03-01", "stores": [1, 2]}
    alert = drift_alert(store, dedup_key="data_drift:raw_sales:2025-03-01", recommendation=nested)

    assert alert == store.get(alert.id)
    assert alert.links == (AlertLink("Dagster run", "http://127.0.0.1:3000/runs/abc"),)
    assert dict(alert.recommendation or {}) == {
        "action": "retrain",
        "partition": "2025-03-01",
        "stores": [1, 2],
    }
    assert alert.created_at.tzinfo == UTC
    assert drift_alert(store, dedup_key="data_drift:raw_sales:2025-03-01") == alert
    other = drift_alert(store, type="promotion", severity="info", title="v7 promoted")
    assert store.open_counts() == {Severity.INFO: 1, Severity.WARNING: 1, Severity.CRITICAL: 0}

    read = store.mark_read(alert.id, actor="alice")
    assert read.status is AlertStatus.READ and read.actor == "alice"
    assert read.status_changed_at >= read.created_at
    with pytest.raises(AlertTransitionError, match=f"alert {alert.id} as read: it is read"):
        store.mark_read(alert.id, actor="bob")
    actioned = store.action(alert.id, actor="bob", notes="retrain launched")
    assert (actioned.status, actioned.notes) == (AlertStatus.ACTIONED, "retrain launched")
    with pytest.raises(AlertTransitionError, match="Actioned is final"):
        store.dismiss(alert.id, actor="carol")
    store.dismiss(other.id, actor="carol", notes="expected")
    with pytest.raises(AlertNotFoundError, match="No alert with id 999999"):
        store.action(999999, actor="bob")

    assert store.open_counts() == dict.fromkeys(Severity, 0)
    assert store.latest("data_drift:raw_sales:2025-03-01") == store.get(alert.id)
    again = drift_alert(store, dedup_key="data_drift:raw_sales:2025-03-01")
    assert again.id != alert.id  # the key is free again once the alert is closed
    assert store.latest("data_drift:raw_sales:2025-03-01") == again
    assert [a.id for a in store.list(status=OPEN_STATUSES)] == [again.id]
    assert [a.id for a in store.list(type="promotion")] == [other.id]
    assert [a.id for a in store.list(severity="warning", status="actioned")] == [alert.id]


def test_concurrent_closes_of_one_alert_on_postgres_have_one_winner(
    store: AlertStore, database: str
) -> None:
    """Eight threads, each with its own store and connections (as separate processes), half
    actioning and half dismissing the same unread alert."""
    alert = drift_alert(store)
    stores = [AlertStore(url_of(database)) for _ in range(WORKERS)]
    closes = ["action", "dismiss"]
    try:
        wins, losses = race(
            lambda worker: getattr(stores[worker], closes[worker % 2])(
                alert.id, actor=f"worker-{worker}", notes="race"
            )
        )
    finally:
        for worker_store in stores:
            worker_store.close()

    assert len(wins) == 1 and len(losses) == WORKERS - 1
    assert store.get(alert.id) == wins[0]
    for loss in losses:
        assert loss.current is wins[0].status
        assert f"by {wins[0].actor}" in str(loss)


def test_concurrent_actions_through_one_store_on_postgres_have_one_winner(
    store: AlertStore,
) -> None:
    alert = drift_alert(store)

    wins, losses = race(lambda worker: store.action(alert.id, actor=f"worker-{worker}"))

    assert len(wins) == 1 and len(losses) == WORKERS - 1
    assert store.get(alert.id).actor == wins[0].actor


def test_concurrent_raises_with_one_dedup_key_on_postgres_make_one_alert(
    store: AlertStore,
) -> None:
    wins, losses = race(lambda worker: drift_alert(store, dedup_key="drift:race"))

    assert losses == []
    assert len({alert.id for alert in wins}) == 1
    assert len(store.list()) == 1
