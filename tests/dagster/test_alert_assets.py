"""`open_alerts` and its `no_critical_alerts` check, materialized over a real SQLite store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.alerts import CRITICAL_CHECK, MAX_ALERTS_LISTED, open_alerts
from forecastops.domain.alerts import AlertType, Severity
from forecastops.stores.alerts.store import AlertStore
from resources.alerts import AlertStoreResource
from tests.conftest import REPO_ROOT


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'alerts.db'}"


@pytest.fixture
def store(url: str) -> Iterator[AlertStore]:
    with AlertStore(url) as alert_store:
        alert_store.create_schema()
        yield alert_store


def _raise(store: AlertStore, severity: Severity, title: str) -> int:
    return store.raise_alert(
        type=AlertType.DATA_DRIFT,
        severity=severity,
        title=title,
        message="",
        subject="raw_sales/2025-03-01",
    ).id


def _materialize(url: str) -> tuple[dict[str, object], dg.AssetCheckEvaluation]:
    result = dg.materialize([open_alerts], resources={"alert_store": AlertStoreResource(url=url)})
    assert result.success
    [event] = result.get_asset_materialization_events()
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == CRITICAL_CHECK
    assert check.severity is dg.AssetCheckSeverity.WARN
    metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return metadata, check


def test_open_alerts_lists_open_alerts_critical_first_and_the_check_warns(
    url: str, store: AlertStore
) -> None:
    info = _raise(store, Severity.INFO, "New series appeared")
    critical = _raise(store, Severity.CRITICAL, "retrain_job failed | partition 2025-03-01")
    warning = _raise(store, Severity.WARNING, "Units drifted")
    closed = _raise(store, Severity.CRITICAL, "Already handled")
    store.dismiss(closed, "ops", "duplicate")

    metadata, check = _materialize(url)

    assert (metadata["open_critical"], metadata["open_warning"], metadata["open_info"]) == (1, 1, 1)
    table = metadata["alerts"]
    assert isinstance(table, dg.TableMetadataValue) and table.schema is not None
    assert [column.name for column in table.schema.columns] == [
        "id",
        "severity",
        "type",
        "title",
        "subject",
        "created_at",
        "status",
    ]
    assert [row.data["id"] for row in table.records] == [critical, warning, info]
    assert table.records[0].data["title"] == "retrain_job failed | partition 2025-03-01"
    assert "Already handled" not in [row.data["title"] for row in table.records]
    assert not check.passed
    assert "1 critical alert(s) open" in (check.description or "")
    critical_table = check.metadata["critical_alerts"]
    assert isinstance(critical_table, dg.TableMetadataValue)
    [critical_row] = critical_table.records
    assert critical_row.data["title"].startswith("retrain_job failed")


def test_without_open_critical_alerts_the_check_passes(url: str, store: AlertStore) -> None:
    _raise(store, Severity.WARNING, "Units drifted")
    handled = _raise(store, Severity.CRITICAL, "retrain_job failed")
    store.action(handled, "ops", "re-ran it")

    metadata, check = _materialize(url)

    assert metadata["open_critical"] == 0 and metadata["open_warning"] == 1
    assert check.passed


def test_an_empty_store_is_created_and_shows_no_alerts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'alerts.db'}"
    metadata, check = _materialize(url)
    assert metadata["dagster/row_count"] == 0
    table = metadata["alerts"]
    assert isinstance(table, dg.TableMetadataValue) and table.records == []
    assert "not_listed" not in metadata
    assert check.passed


def test_a_long_list_is_cut_with_a_note(url: str, store: AlertStore) -> None:
    for number in range(MAX_ALERTS_LISTED + 3):
        _raise(store, Severity.INFO, f"Alert {number}")
    metadata, _ = _materialize(url)
    table = metadata["alerts"]
    assert isinstance(table, dg.TableMetadataValue)
    assert len(table.records) == MAX_ALERTS_LISTED
    assert metadata["dagster/row_count"] == MAX_ALERTS_LISTED + 3
    assert str(metadata["not_listed"]).startswith("…and 3 more open")


def test_the_resource_builds_one_store_per_url_and_creates_its_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'alerts.db'}"
    store = AlertStoreResource(url=url).store
    assert AlertStoreResource(url=url).store is store
    assert store.list() == []  # the table exists


def test_loading_the_code_location_does_not_load_the_alert_store() -> None:
    probe = "import sys, forecast_jobs.definitions; print('sqlalchemy' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"
