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

from forecastops.domain.alerts import (
    OPEN_STATUSES,
    AlertLink,
    AlertStatus,
    AlertType,
    Severity,
)
from forecastops.stores.alerts.experiments import EVENTS_TABLE, EXPERIMENTS_TABLE
from forecastops.stores.alerts.identity import TABLE_NAME, AlertNotFoundError, AlertSchemaError
from forecastops.stores.alerts.migrations import BASELINE_REVISION, VERSION_TABLE, head_revision
from forecastops.stores.alerts.store import AlertStore, AlertTransitionError
from tests.alert_races import WORKERS, drift_alert, race
from tests.alert_schema import LATEST_INDEX, index_names, make_legacy_store, table_names
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
        connection.execute(
            text(
                f"DROP TABLE IF EXISTS {EVENTS_TABLE}, {EXPERIMENTS_TABLE}, {TABLE_NAME}, "
                f"{VERSION_TABLE}"
            )
        )
    barrier = threading.Barrier(WORKERS)

    def create(worker: int) -> None:
        barrier.wait(timeout=10)
        stores[worker].create_schema()

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(create, range(WORKERS)))  # re-raises any worker's error
        assert stores[0].open_counts() == dict.fromkeys(Severity, 0)
        assert stores[0].schema_state().at_head
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


def legacy_store_with_alerts(url: str) -> list[int]:
    """The pre-migration DDL at `url`, holding an actioned and an open alert with one key."""
    make_legacy_store(url)
    with AlertStore(url) as old:
        closed = drift_alert(old, dedup_key="drift:k")
        old.action(closed.id, actor="alice")
        return [closed.id, drift_alert(old, dedup_key="drift:k").id]


def test_a_postgres_store_from_before_migrations_is_upgraded_once_by_many_migrators() -> None:
    with fresh_database("forecastops_alerts_legacy") as url:
        ids = legacy_store_with_alerts(url)
        stores = [AlertStore(url) for _ in range(WORKERS)]
        try:
            alerts = [stores[0].get(alert_id) for alert_id in ids]
            with pytest.raises(AlertSchemaError, match="not at the head revision"):
                stores[0].create_schema()
            barrier = threading.Barrier(WORKERS)

            def migrate(worker: int) -> str:
                barrier.wait(timeout=10)
                return str(stores[worker].migrate())

            with ThreadPoolExecutor(WORKERS) as pool:
                reports = list(pool.map(migrate, range(WORKERS)))

            upgraded = f"stamped the table from before migrations as {BASELINE_REVISION} and "
            assert sum(report.startswith(upgraded) for report in reports) == 1, reports
            assert reports.count(f"already at the head revision {head_revision()}") == WORKERS - 1
            assert [stores[0].get(alert_id) for alert_id in ids] == alerts
            assert stores[0].latest("drift:k") == alerts[1]
            assert LATEST_INDEX in index_names(url)
            assert stores[0].schema_state().revision == head_revision()
            missing = drift_alert(stores[0], type=AlertType.MISSING_DATA, dedup_key="missing:k")
            assert stores[0].get(missing.id).type is AlertType.MISSING_DATA
            assert "alembic_version" not in table_names(url)
            with stores[0].engine.begin() as connection:
                connection.execute(text("SET LOCAL enable_seqscan = off"))
                plan = connection.execute(
                    text(
                        f"EXPLAIN SELECT * FROM {TABLE_NAME} WHERE dedup_key = 'drift:k' "
                        "ORDER BY created_at DESC, id DESC LIMIT 1"
                    )
                ).scalars()
                assert LATEST_INDEX in " ".join(plan)
        finally:
            for store in stores:
                store.close()


def test_a_failing_postgres_migration_rolls_back_its_stamp_and_says_why() -> None:
    with fresh_database("forecastops_alerts_failing") as url:
        ids = legacy_store_with_alerts(url)
        with AlertStore(url) as store:
            with store.engine.begin() as connection:  # in the way of the upgrade's index
                connection.execute(text(f"CREATE INDEX {LATEST_INDEX} ON {TABLE_NAME} (title)"))

            with pytest.raises(AlertSchemaError) as failed:
                store.migrate()

            assert f'relation "{LATEST_INDEX}" already exists' in str(failed.value)
            assert "left as it was (at no revision: a table from before" in str(failed.value)
            assert VERSION_TABLE not in table_names(url)  # the stamp went with the rollback
            assert store.schema_state().unversioned
            with store.engine.begin() as connection:
                connection.execute(text(f"DROP INDEX {LATEST_INDEX}"))
            assert store.migrate().changed
            assert [alert.id for alert in store.list()] == list(reversed(ids))
            assert store.schema_state().at_head
