"""The doctor's alert store item on real SQLite stores, in-process (the CLI around it, with the
other items, runs in tests/integration/test_doctor.py): every schema state gets its verdict, and
`repair` migrates what it may and refuses what it must not touch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from forecastops.ops.doctor import CHECKS, Verdict, check_alert_store, repair
from forecastops.stores.alerts.identity import TABLE_NAME
from forecastops.stores.alerts.migrations import BASELINE_REVISION, VERSION_TABLE, head_revision
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.settings import Settings
from tests.alert_races import drift_alert
from tests.alert_schema import LATEST_INDEX, index_names, make_legacy_store


def settings_for(home: Path) -> tuple[Settings, str]:
    settings = Settings(home=home)
    return settings, settings.alerts_url


def repair_alert_store(settings: Settings, verdict: Verdict) -> list[str]:
    """`repair` as `doctor --fix` calls it, with every other item healthy."""
    verdicts = [
        verdict if check is check_alert_store else Verdict("other", True, "fine")
        for check in CHECKS
    ]
    return repair(settings, verdicts)


def test_a_store_from_before_migrations_fails_until_fix_migrates_it(tmp_path: Path) -> None:
    settings, url = settings_for(tmp_path)
    make_legacy_store(url)
    with AlertStore(url) as old:
        alert = drift_alert(old)

    verdict = check_alert_store(settings)

    assert verdict.line == (
        f"FAIL  alert store: FORECASTOPS_ALERTS_DB_URL={url} is not at the head revision (at no "
        f"revision: a table from before versioned migrations, head {head_revision()})\n"
        "      fix: back up the database, then run `forecastops doctor --fix`"
    )
    assert verdict.repairable
    assert repair_alert_store(settings, verdict) == [
        f"fixed alert store: stamped the table from before migrations as {BASELINE_REVISION} "
        f"and upgraded it to {head_revision()}"
    ]
    assert check_alert_store(settings).line == (
        f"OK    alert store: FORECASTOPS_ALERTS_DB_URL={url} reachable, schema at head "
        f"({head_revision()})"
    )
    with AlertStore(url) as store:
        assert store.get(alert.id) == alert
    assert LATEST_INDEX in index_names(url)


def test_a_store_one_revision_behind_is_upgraded(tmp_path: Path) -> None:
    settings, url = settings_for(tmp_path)
    make_legacy_store(url)
    with sqlite3.connect(tmp_path / "alerts.db") as connection:  # as 0001_baseline left it
        connection.execute(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute(f"INSERT INTO {VERSION_TABLE} VALUES ('{BASELINE_REVISION}')")

    verdict = check_alert_store(settings)

    assert f"(at {BASELINE_REVISION}, head {head_revision()})" in verdict.detail
    assert repair_alert_store(settings, verdict) == [
        f"fixed alert store: upgraded the schema from {BASELINE_REVISION} to {head_revision()}"
    ]
    assert check_alert_store(settings).healthy


def test_an_empty_database_has_no_table_yet_and_fix_creates_it(tmp_path: Path) -> None:
    settings, _ = settings_for(tmp_path)
    sqlite3.connect(tmp_path / "alerts.db").close()  # the file, but nothing in it

    verdict = check_alert_store(settings)

    assert verdict.detail.endswith(f"has no {TABLE_NAME} table yet") and verdict.repairable
    assert repair_alert_store(settings, verdict) == [
        f"fixed alert store: created the alerts table at revision {head_revision()}"
    ]
    assert check_alert_store(settings).healthy


def test_a_store_from_a_newer_version_is_not_repairable(tmp_path: Path) -> None:
    settings, url = settings_for(tmp_path)
    with AlertStore(url) as store:
        store.create_schema()
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '0003_from_the_future'")

    verdict = check_alert_store(settings)

    assert not verdict.healthy and not verdict.repairable
    assert "at revision 0003_from_the_future, which this ForecastOps does not know" in (
        verdict.detail
    )
    assert "restore the database from the backup" in verdict.detail
    assert repair_alert_store(settings, verdict) == []


def test_a_migration_that_fails_is_reported_and_changes_nothing(tmp_path: Path) -> None:
    settings, url = settings_for(tmp_path)
    make_legacy_store(url)
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        connection.execute(f"CREATE INDEX {LATEST_INDEX} ON {TABLE_NAME} (title)")

    done = repair_alert_store(settings, check_alert_store(settings))

    assert len(done) == 1 and done[0].startswith(
        f"could not fix alert store: Could not migrate the alert store at {url}"
    )
    assert "left as it was (at no revision: a table from before versioned migrations)" in done[0]
    assert check_alert_store(settings).repairable  # still unversioned, still fixable
