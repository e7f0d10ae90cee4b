"""`forecastops alerts list | show | read | action` against a real SQLite alert store: listing
and filtering, the lifecycle, approving a recommended retrain (the backfill is faked here; the
real one runs in test_retrain_cli.py), and every bad flag or illegal move changes nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import forecastops.ops.retrain_queue
from forecastops.domain.alerts import Alert, AlertStatus, AlertType, Severity
from forecastops.domain.runs import ALERT_IDS_TAG, REASON_TAG
from forecastops.ops.cli import app
from forecastops.ops.cli.alerts import AlertStatusChoice
from forecastops.ops.retrain_queue import QueuedRetrain, RetrainLaunchError
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.settings import Settings
from tests.alert_schema import make_legacy_store

runner = CliRunner()
CUTOFF = "2025-03-01"


class FakeQueue:
    """Stands in for `forecastops.ops.retrain_queue.queue_retrain`, recording what it was asked."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[date, ...]] = []
        self.tags: list[Mapping[str, str] | None] = []
        self.error = error

    def __call__(
        self, days: Sequence[date], settings: Settings, tags: Mapping[str, str] | None = None
    ) -> QueuedRetrain:
        self.calls.append(tuple(days))
        self.tags.append(tags)
        if self.error:
            raise self.error
        return QueuedRetrain("fakebkfl", tuple(days), settings.dagster_home_path)


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> FakeQueue:
    fake = FakeQueue()
    monkeypatch.setattr(forecastops.ops.retrain_queue, "queue_retrain", fake)
    return fake


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlertStore]:
    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}") as alert_store:
        alert_store.create_schema()
        yield alert_store


def invoke(home: Path, *args: str, **env: str) -> Result:
    return runner.invoke(
        app,
        ["alerts", *args],
        env={"FORECASTOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), **env},
    )


def text(result: Result) -> str:
    """The output with the error box drawn around it removed and whitespace collapsed."""
    return " ".join(result.output.replace("│", " ").split())


def raise_alert(store: AlertStore, **overrides: Any) -> Alert:
    values: dict[str, Any] = {
        "type": AlertType.RUN_FAILURE,
        "severity": Severity.CRITICAL,
        "title": f"retrain_job failed for partition {CUTOFF}",
        "message": "Run r1 of retrain_job failed in step(s) sales_features.",
        "links": [{"label": "Dagster run", "url": "/runs/r1"}],
        "subject": f"retrain_job/{CUTOFF}",
        "recommendation": {"action": "retrain", "partition": CUTOFF},
    }
    return store.raise_alert(**{**values, **overrides})


def test_list_shows_open_alerts_newest_first_and_filters(tmp_path: Path, store: AlertStore) -> None:
    failure = raise_alert(store)
    drift = raise_alert(
        store,
        type=AlertType.DATA_DRIFT,
        severity=Severity.WARNING,
        title="Units | price drifted",
        recommendation=None,
    )
    closed = raise_alert(store, severity=Severity.INFO, title="Old news", recommendation=None)
    store.dismiss(closed.id, "ops")

    listed = invoke(tmp_path, "list")
    assert listed.exit_code == 0, listed.output
    assert "Units | price drifted" in listed.output
    assert "Open: 1 critical, 1 warning, 0 info." in listed.output
    as_csv = invoke(tmp_path, "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert [int(row["id"]) for row in rows] == [drift.id, failure.id]
    assert rows[0]["title"] == "Units | price drifted"
    as_json = json.loads(invoke(tmp_path, "list", "--format", "json").output)
    assert [alert["id"] for alert in as_json] == [drift.id, failure.id]

    everything = invoke(tmp_path, "list", "--status", "all")
    assert "Old news" in everything.output
    critical = invoke(tmp_path, "list", "--severity", "critical")
    assert failure.title in critical.output and drift.title not in critical.output
    drifts = invoke(tmp_path, "list", "--type", "data_drift", "--status", "unread")
    assert "Units" in drifts.output and failure.title not in drifts.output
    dismissed = invoke(tmp_path, "list", "--status", "dismissed", "--type", "run_failure")
    assert "Old news" in dismissed.output and failure.title not in dismissed.output
    none = invoke(tmp_path, "list", "--status", "dismissed", "--type", "data_drift")
    assert "No alerts with status dismissed, type data_drift." in none.output


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--status", "closed"], "--status"),
        (["--severity", "fatal"], "--severity"),
        (["--type", "drift"], "--type"),
        (["--limit", "0"], "--limit"),
    ],
)
def test_list_refuses_bad_flags(
    tmp_path: Path, store: AlertStore, args: list[str], named: str
) -> None:
    result = invoke(tmp_path, "list", *args)
    assert result.exit_code == 2
    assert f"Invalid value for '{named}'" in text(result)


def test_without_a_store_there_are_no_alerts_and_no_file_is_created(tmp_path: Path) -> None:
    listed = invoke(tmp_path, "list")
    assert listed.exit_code == 0
    assert "none has been raised yet" in listed.output
    missing = invoke(tmp_path, "read", "1")
    assert missing.exit_code == 2 and "No alert with id 1" in text(missing)
    assert not (tmp_path / "alerts.db").exists()


def test_a_store_from_before_migrations_is_refused_with_the_fix_and_not_migrated(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    make_legacy_store(url)
    with AlertStore(url) as old:
        alert = raise_alert(old)

    for args in (["list"], ["read", str(alert.id)]):
        result = invoke(tmp_path, *args)
        assert result.exit_code == 1, result.output
        assert "Alert store error: The alert store at" in text(result)
        assert "is not at the head revision" in text(result)
        assert "run `forecastops doctor --fix` to migrate it" in text(result)
    with AlertStore(url) as store:
        assert store.schema_state().unversioned
        assert store.get(alert.id).status is AlertStatus.UNREAD


def test_a_bad_store_url_is_a_configuration_error(tmp_path: Path) -> None:
    result = invoke(tmp_path, "list", FORECASTOPS_ALERTS_DB_URL="sqlite:///relative.db")
    assert result.exit_code == 2
    assert "FORECASTOPS_ALERTS_DB_URL='sqlite:///relative.db'" in text(result)


def test_read_marks_it_read_and_prints_it_and_reading_again_is_refused(
    tmp_path: Path, store: AlertStore
) -> None:
    alert = raise_alert(store)
    read = invoke(tmp_path, "read", str(alert.id))
    assert read.exit_code == 0, read.output
    assert f"Alert {alert.id}: {alert.title}" in read.output
    assert "Dagster run: /runs/r1" in read.output
    assert f"forecastops alerts action {alert.id} --approve" in read.output
    assert alert.message in read.output
    after = store.get(alert.id)
    assert after.status is AlertStatus.READ and after.actor

    again = invoke(tmp_path, "read", str(alert.id))
    assert again.exit_code == 1
    assert f"Cannot mark alert {alert.id} as read: it is read" in text(again)
    assert "From read it may only move to: actioned, dismissed." in text(again)
    assert store.get(alert.id) == after

    shown = invoke(tmp_path, "show", str(alert.id))
    assert shown.exit_code == 0 and alert.title in shown.output
    assert store.get(alert.id) == after


@pytest.mark.parametrize("command", ["show", "read", "action"])
@pytest.mark.parametrize(("alert_id", "says"), [("99", "No alert with id 99"), ("x", "integer")])
def test_an_unknown_or_malformed_id_is_a_usage_error(
    tmp_path: Path, store: AlertStore, command: str, alert_id: str, says: str
) -> None:
    raise_alert(store)
    extra = ["--dismiss"] if command == "action" else []
    result = invoke(tmp_path, command, alert_id, *extra)
    assert result.exit_code == 2
    assert "Invalid value for 'ID'" in text(result) and says in text(result)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        ([], "--approve/--dismiss"),
        (["--approve", "--dismiss"], "--approve/--dismiss"),
        (["--dismiss", "--notes", "  "], "--notes"),
    ],
)
def test_action_refuses_bad_flags_and_changes_nothing(
    tmp_path: Path, store: AlertStore, queue: FakeQueue, args: list[str], named: str
) -> None:
    alert = raise_alert(store)
    result = invoke(tmp_path, "action", str(alert.id), *args)
    assert result.exit_code == 2
    assert f"Invalid value for {named}" in text(result)
    assert "Nothing changed." in text(result)
    assert store.get(alert.id) == alert
    assert queue.calls == []


def test_approving_a_recommended_retrain_closes_the_alert_and_queues_the_retrain(
    tmp_path: Path, store: AlertStore, queue: FakeQueue
) -> None:
    alert = raise_alert(store)
    result = invoke(tmp_path, "action", str(alert.id), "--approve", "--notes", "lake fixed")
    assert result.exit_code == 0, result.output
    assert queue.calls == [(date(2025, 3, 1),)]
    assert "Queued backfill fakebkfl: 1 retrain_job run(s) for 2025-03-01" in text(result)
    after = store.get(alert.id)
    assert (after.status, after.notes) == (AlertStatus.ACTIONED, "lake fixed")
    assert queue.tags == [  # its id and approver; a run failure names no drift trigger
        {
            ALERT_IDS_TAG: str(alert.id),
            REASON_TAG: f"alert {alert.id} (run_failure) approved by {after.actor}",
        }
    ]

    again = invoke(tmp_path, "action", str(alert.id), "--approve")
    assert again.exit_code == 1
    assert "Actioned is final" in text(again)
    assert queue.calls == [(date(2025, 3, 1),)]


def test_dismissing_a_recommended_retrain_queues_nothing(
    tmp_path: Path, store: AlertStore, queue: FakeQueue
) -> None:
    alert = raise_alert(store)
    result = invoke(tmp_path, "action", str(alert.id), "--dismiss", "--notes", "known outage")
    assert result.exit_code == 0, result.output
    assert store.get(alert.id).status is AlertStatus.DISMISSED
    assert queue.calls == []
    refused = invoke(tmp_path, "action", str(alert.id), "--approve")
    assert refused.exit_code == 1 and "Dismissed is final" in text(refused)


@pytest.mark.parametrize(
    ("recommendation", "says"),
    [
        ({"action": "retrain", "partition": "2099-01-01"}, "not a partition yet"),
        ({"action": "retrain", "partition": "2024-06-01"}, "before the first partition"),
        ({"action": "retrain", "partition": "March 1st"}, "YYYY-MM-DD"),
        ({"action": "retrain"}, "names no partition day"),
    ],
)
def test_approving_a_retrain_that_cannot_be_queued_is_refused_and_changes_nothing(
    tmp_path: Path,
    store: AlertStore,
    queue: FakeQueue,
    recommendation: dict[str, str],
    says: str,
) -> None:
    alert = raise_alert(store, recommendation=recommendation)
    result = invoke(tmp_path, "action", str(alert.id), "--approve")
    assert result.exit_code == 1
    assert f"alert {alert.id} recommends a retrain that cannot be queued" in text(result)
    assert says in text(result) and "Nothing changed." in text(result)
    assert store.get(alert.id) == alert
    assert queue.calls == []


def test_a_failed_queue_after_approval_says_how_to_queue_it(
    tmp_path: Path, store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = FakeQueue(RetrainLaunchError("the code location did not load"))
    monkeypatch.setattr(forecastops.ops.retrain_queue, "queue_retrain", failing)
    alert = raise_alert(store)
    result = invoke(tmp_path, "action", str(alert.id), "--approve")
    assert result.exit_code == 1
    assert "is actioned, but its retrain was not queued: the code location" in text(result)
    assert f"forecastops retrain --partitions {CUTOFF}" in text(result)
    assert store.get(alert.id).status is AlertStatus.ACTIONED


def test_approving_an_alert_without_a_retrain_only_closes_it(
    tmp_path: Path, store: AlertStore, queue: FakeQueue
) -> None:
    plain = raise_alert(store, recommendation=None)
    other = raise_alert(store, recommendation={"action": "inspect", "asset": "raw_sales"})
    assert invoke(tmp_path, "action", str(plain.id), "--approve").exit_code == 0
    result = invoke(tmp_path, "action", str(other.id), "--approve")
    assert result.exit_code == 0
    assert "has no automatic action" in text(result)
    assert queue.calls == []
    assert {store.get(plain.id).status, store.get(other.id).status} == {AlertStatus.ACTIONED}


def test_the_status_choices_are_the_stores_statuses_plus_open_and_all() -> None:
    assert {c.value for c in AlertStatusChoice} == {s.value for s in AlertStatus} | {"open", "all"}
