"""The alert store's schema migrations on SQLite files: a new store is created at the head
revision, a store from before migrations is stamped and upgraded with its alerts kept, the head
schema is exactly the model's, and what cannot be migrated is refused with the fix."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from forecastops.domain.alerts import AlertStatus, AlertType
from forecastops.stores.alerts.experiments import EVENTS_TABLE, EXPERIMENTS_TABLE
from forecastops.stores.alerts.identity import TABLE_NAME, URL_VARIABLE, AlertSchemaError
from forecastops.stores.alerts.migrations import (
    BASELINE_REVISION,
    VERSION_TABLE,
    head_revision,
    known_revisions,
)
from forecastops.stores.alerts.store import AlertStore, _AlertRow
from tests.alert_races import WORKERS, drift_alert
from tests.alert_schema import LATEST_INDEX, index_names, make_legacy_store, table_names

HEAD = "0004_experiments"


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'alerts.db'}"


def schema_sql(path: Path) -> dict[str, str]:
    """Name -> the CREATE statement SQLite keeps for every table and index, whitespace folded."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != ?",
            (VERSION_TABLE,),
        ).fetchall()
    return {name: " ".join(sql.split()) for name, sql in rows}


def version_rows(path: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()


def legacy_store_with_alerts(folder: Path) -> tuple[str, list[int]]:
    """A store made by the pre-migration DDL, holding an actioned and an open alert."""
    url = sqlite_url(folder)
    make_legacy_store(url)
    with AlertStore(url) as old:  # the store's queries work on the old table as they did
        closed = drift_alert(old, dedup_key="data_drift:raw_sales:2025-03-01")
        old.action(closed.id, actor="alice", notes="retrained")
        still_open = drift_alert(old, dedup_key="data_drift:raw_sales:2025-03-01")
    return url, [closed.id, still_open.id]


def test_the_head_revision_is_the_experiments_after_the_missing_data_type() -> None:
    assert head_revision() == HEAD
    assert known_revisions() == {
        BASELINE_REVISION,
        "0002_latest_index",
        "0003_missing_data_type",
        HEAD,
    }


def test_a_new_store_is_created_at_head_with_exactly_the_models_schema(tmp_path: Path) -> None:
    with AlertStore(sqlite_url(tmp_path)) as store:
        store.create_schema()
        state = store.schema_state()
        assert (state.revision, state.at_head) == (HEAD, True)
        alert = drift_alert(store, dedup_key="k")
        assert store.latest("k") == alert

    expected = {}
    for model in _AlertRow.metadata.sorted_tables:  # the alerts and the experiments tables
        expected[model.name] = str(CreateTable(model).compile(dialect=sqlite.dialect()))
        expected |= {
            str(index.name): str(CreateIndex(index).compile(dialect=sqlite.dialect()))
            for index in model.indexes
        }
    assert set(expected) >= {TABLE_NAME, EXPERIMENTS_TABLE, EVENTS_TABLE}
    assert schema_sql(tmp_path / "alerts.db") == {
        name: " ".join(sql.split()) for name, sql in expected.items()
    }
    assert version_rows(tmp_path / "alerts.db") == [(HEAD,)]
    assert "alembic_version" not in table_names(sqlite_url(tmp_path))


def test_a_store_from_before_migrations_is_refused_at_runtime_until_migrated(
    tmp_path: Path,
) -> None:
    url, ids = legacy_store_with_alerts(tmp_path)
    before = schema_sql(tmp_path / "alerts.db")

    with AlertStore(url) as store:
        with pytest.raises(AlertSchemaError) as refused:
            store.create_schema()
        message = str(refused.value)
        assert "is not at the head revision (at no revision: a table from before" in message
        assert f"head {HEAD}" in message and "forecastops doctor --fix" in message
        assert URL_VARIABLE in message
        assert schema_sql(tmp_path / "alerts.db") == before  # create_schema changed nothing
        alerts = [store.get(alert_id) for alert_id in ids]

        report = store.migrate()

        assert str(report) == (
            f"stamped the table from before migrations as {BASELINE_REVISION} and upgraded it "
            f"to {HEAD}"
        )
        assert [store.get(alert_id) for alert_id in ids] == alerts
        assert alerts[0].status is AlertStatus.ACTIONED and alerts[1].is_open
        assert store.latest("data_drift:raw_sales:2025-03-01") == alerts[1]
        store.create_schema()  # at head now: nothing to do
        assert not store.migrate().changed
    assert LATEST_INDEX in index_names(url)
    assert version_rows(tmp_path / "alerts.db") == [(HEAD,)]
    with AlertStore(url) as store:  # the rebuilt table takes the new type and keeps the ids
        missing = drift_alert(store, type=AlertType.MISSING_DATA, dedup_key="missing_data:k")
        assert missing.id > max(ids) and store.get(missing.id).type is AlertType.MISSING_DATA
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with AlertStore(sqlite_url(fresh)) as new_store:
        new_store.migrate()
    assert schema_sql(tmp_path / "alerts.db") == schema_sql(fresh / "alerts.db")


def test_latest_is_answered_from_the_new_index_instead_of_a_scan(tmp_path: Path) -> None:
    url, _ = legacy_store_with_alerts(tmp_path)
    query = (
        f"EXPLAIN QUERY PLAN SELECT * FROM {TABLE_NAME} WHERE dedup_key = 'k' "
        "ORDER BY created_at DESC, id DESC LIMIT 1"
    )

    def plan() -> str:
        with sqlite3.connect(tmp_path / "alerts.db") as connection:
            return " | ".join(row[-1] for row in connection.execute(query))

    assert LATEST_INDEX not in plan()
    with AlertStore(url) as store:
        store.migrate()
    assert f"USING INDEX {LATEST_INDEX} (dedup_key=?)" in plan()
    assert "TEMP B-TREE" not in plan()  # no sort either


def test_many_stores_migrating_one_old_store_at_once_upgrade_it_once(tmp_path: Path) -> None:
    url, ids = legacy_store_with_alerts(tmp_path)
    stores = [AlertStore(url) for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)

    def migrate(worker: int) -> bool:
        barrier.wait(timeout=10)
        return stores[worker].migrate().changed

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            changed = list(pool.map(migrate, range(WORKERS)))  # re-raises any worker's error
        assert changed.count(True) == 1
        assert [alert.id for alert in stores[0].list()] == list(reversed(ids))
    finally:
        for store in stores:
            store.close()
    assert version_rows(tmp_path / "alerts.db") == [(HEAD,)]


def test_a_failing_migration_leaves_the_store_as_it_was_and_says_why(tmp_path: Path) -> None:
    """Someone made an index of that name by hand: the upgrade's CREATE INDEX fails, and the
    stamp made in the same transaction is rolled back with it."""
    url, ids = legacy_store_with_alerts(tmp_path)
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute(f"CREATE INDEX {LATEST_INDEX} ON {TABLE_NAME} (title)")
    before = schema_sql(tmp_path / "alerts.db")

    with AlertStore(url) as store, pytest.raises(AlertSchemaError) as failed:
        store.migrate()

    message = str(failed.value)
    assert f"Could not migrate the alert store at {url} ({URL_VARIABLE}) to {HEAD}" in message
    assert f"index {LATEST_INDEX} already exists" in message
    assert "left as it was (at no revision: a table from before versioned migrations)" in message
    assert "run `forecastops doctor --fix` again" in message
    assert schema_sql(tmp_path / "alerts.db") == before
    assert VERSION_TABLE not in table_names(url)
    with AlertStore(url) as store:
        assert [alert.id for alert in store.list()] == list(reversed(ids))


def test_a_store_migrated_by_a_newer_version_is_refused_without_a_downgrade(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    with AlertStore(url) as store:
        store.create_schema()
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0003_from_the_future'")

    with AlertStore(url) as store:
        for attempt in (store.create_schema, store.migrate):
            with pytest.raises(AlertSchemaError) as refused:
                attempt()
            message = str(refused.value)
            assert "at revision 0003_from_the_future, which this ForecastOps does not know" in (
                message
            )
            assert "no downgrades: run that newer version, or restore the database" in message
    assert version_rows(tmp_path / "alerts.db") == [("0003_from_the_future",)]


def test_an_unversioned_table_that_is_not_ours_is_not_stamped(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute(f"CREATE TABLE {TABLE_NAME} (id INTEGER PRIMARY KEY, body TEXT)")

    with AlertStore(url) as store, pytest.raises(AlertSchemaError) as refused:
        store.migrate()

    message = str(refused.value)
    assert "is not the one ForecastOps made before migrations" in message
    assert "unexpected columns body" in message and "missing columns actor" in message
    assert "Nothing was changed" in message
    assert table_names(url) == {TABLE_NAME}


def test_the_version_table_is_our_own_next_to_another_tools_alembic_version(
    tmp_path: Path,
) -> None:
    """MLflow or Dagster in the same database keep `alembic_version`; we neither read nor touch
    it."""
    url, _ = legacy_store_with_alerts(tmp_path)
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('dc11669786a5')")

    with AlertStore(url) as store:
        assert store.schema_state().unversioned
        store.migrate()
        assert store.schema_state().at_head

    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        assert connection.execute("SELECT * FROM alembic_version").fetchall() == [("dc11669786a5",)]
    assert version_rows(tmp_path / "alerts.db") == [(HEAD,)]


def test_a_store_whose_table_was_dropped_says_how_to_recover(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with AlertStore(url) as store:
        store.create_schema()
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute(f"DROP TABLE {TABLE_NAME}")

    with AlertStore(url) as store, pytest.raises(AlertSchemaError) as refused:
        store.create_schema()
    assert f"at revision {HEAD} but has no {TABLE_NAME} table" in str(refused.value)
    assert f"drop {VERSION_TABLE} too" in str(refused.value)
