"""The alert store on a SQLite file: lifecycle, illegal moves, de-duplication, filters, counts,
and races between threads (and processes) acting on the same alert."""

from __future__ import annotations

import dataclasses
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from forecastops.domain.alerts import (
    ALLOWED_TRANSITIONS,
    OPEN_STATUSES,
    Alert,
    AlertLink,
    AlertStatus,
    AlertType,
    Severity,
)
from forecastops.stores.alerts.identity import (
    TABLE_NAME,
    URL_VARIABLE,
    AlertNotFoundError,
    AlertStoreConfigError,
    AlertStoreUnavailableError,
    InvalidAlertError,
)
from forecastops.stores.alerts.store import AlertStore, AlertTransitionError
from forecastops.stores.settings import SettingsError
from tests.alert_races import WORKERS, drift_alert, race

T0 = datetime(2025, 3, 2, 6, 0, tzinfo=UTC)


class StepClock:
    """A clock that moves one minute forward every time it is read."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start - timedelta(minutes=1)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self._now += timedelta(minutes=1)
            return self._now


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'alerts.db'}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlertStore]:
    with AlertStore(sqlite_url(tmp_path), clock=StepClock()) as alert_store:
        alert_store.create_schema()
        yield alert_store


def test_raised_alert_is_unread_and_keeps_every_field(store: AlertStore) -> None:
    alert = drift_alert(store, dedup_key="data_drift:raw_sales:2025-03-01")

    assert alert == store.get(alert.id)
    assert alert.status is AlertStatus.UNREAD and alert.is_open
    assert alert.type is AlertType.DATA_DRIFT and alert.severity is Severity.WARNING
    assert alert.links == (AlertLink("Dagster run", "http://127.0.0.1:3000/runs/abc"),)
    assert alert.subject == "raw_sales/2025-03-01"
    assert alert.dedup_key == "data_drift:raw_sales:2025-03-01"
    assert dict(alert.recommendation or {}) == {"action": "retrain", "partition": "2025-03-01"}
    assert alert.created_at == alert.status_changed_at == T0
    assert alert.created_at.tzinfo is UTC
    assert alert.actor is None and alert.notes is None


def test_returned_alerts_are_frozen_plain_values(store: AlertStore) -> None:
    alert = drift_alert(store)

    assert type(alert) is Alert and not hasattr(alert, "_sa_instance_state")
    with pytest.raises(dataclasses.FrozenInstanceError):
        alert.status = AlertStatus.READ  # type: ignore[misc]
    with pytest.raises(TypeError):
        alert.recommendation["action"] = "ignore"  # type: ignore[index]
    store.close()  # no session or connection behind the value
    assert alert.title == "Demand drift in raw_sales 2025-03-01"


def test_alert_goes_unread_read_actioned_recording_who_and_when(store: AlertStore) -> None:
    alert = drift_alert(store)

    read = store.mark_read(alert.id, actor="alice")
    assert (read.status, read.actor, read.status_changed_at) == (
        AlertStatus.READ,
        "alice",
        T0 + timedelta(minutes=1),
    )
    assert read.is_open

    actioned = store.action(alert.id, actor="bob", notes="retrain launched, run 42")
    assert (actioned.status, actioned.actor, actioned.notes) == (
        AlertStatus.ACTIONED,
        "bob",
        "retrain launched, run 42",
    )
    assert actioned.status_changed_at == T0 + timedelta(minutes=2)
    assert actioned.created_at == T0
    assert not actioned.is_open
    assert store.get(alert.id) == actioned


@pytest.mark.parametrize("first_read", [False, True], ids=["from_unread", "from_read"])
@pytest.mark.parametrize("close", ["action", "dismiss"])
def test_open_alert_can_be_actioned_or_dismissed(
    store: AlertStore, close: str, first_read: bool
) -> None:
    alert = drift_alert(store)
    if first_read:
        store.mark_read(alert.id, actor="alice")

    closed = getattr(store, close)(alert.id, actor="bob", notes="seasonal spike, expected")

    expected = AlertStatus.ACTIONED if close == "action" else AlertStatus.DISMISSED
    assert closed.status is expected
    assert closed.notes == "seasonal spike, expected"
    assert ALLOWED_TRANSITIONS[closed.status] == ()


# --- illegal transitions --------------------------------------------------------------------

ILLEGAL_MOVES = [
    # (moves that bring the alert to its state, the illegal move, the state it is then in)
    (["mark_read"], "mark_read", AlertStatus.READ),
    (["action"], "mark_read", AlertStatus.ACTIONED),
    (["action"], "action", AlertStatus.ACTIONED),
    (["action"], "dismiss", AlertStatus.ACTIONED),
    (["dismiss"], "mark_read", AlertStatus.DISMISSED),
    (["dismiss"], "action", AlertStatus.DISMISSED),
    (["dismiss"], "dismiss", AlertStatus.DISMISSED),
    (["mark_read", "action"], "mark_read", AlertStatus.ACTIONED),
    (["mark_read", "dismiss"], "action", AlertStatus.DISMISSED),
]
TARGET = {
    "mark_read": AlertStatus.READ,
    "action": AlertStatus.ACTIONED,
    "dismiss": AlertStatus.DISMISSED,
}


def move(store: AlertStore, name: str, alert_id: int, actor: str) -> Alert:
    if name == "mark_read":
        return store.mark_read(alert_id, actor=actor)
    return getattr(store, name)(alert_id, actor=actor, notes=f"{name} by {actor}")


@pytest.mark.parametrize(
    ("history", "illegal", "state"),
    ILLEGAL_MOVES,
    ids=[f"{'+'.join(h)}-then-{i}" for h, i, _ in ILLEGAL_MOVES],
)
def test_illegal_transition_names_alert_state_and_allowed_moves(
    store: AlertStore, history: list[str], illegal: str, state: AlertStatus
) -> None:
    alert = drift_alert(store)
    for name in history:
        move(store, name, alert.id, actor="alice")
    before = store.get(alert.id)

    with pytest.raises(AlertTransitionError) as caught:
        move(store, illegal, alert.id, actor="mallory")

    error = caught.value
    assert (error.alert_id, error.current, error.requested) == (alert.id, state, TARGET[illegal])
    assert error.allowed == ALLOWED_TRANSITIONS[state]
    text = str(error)
    assert f"alert {alert.id}" in text
    assert f"it is {state}" in text and "by alice" in text
    if state is AlertStatus.READ:
        assert "may only move to: actioned, dismissed" in text
    else:
        assert "final" in text
    assert store.get(alert.id) == before  # the failed move changed nothing


@pytest.mark.parametrize("name", ["mark_read", "action", "dismiss"])
def test_unknown_alert_id_is_not_found(store: AlertStore, name: str) -> None:
    with pytest.raises(AlertNotFoundError, match="No alert with id 999"):
        move(store, name, 999, actor="alice")
    with pytest.raises(AlertNotFoundError, match="No alert with id 999"):
        store.get(999)


# --- de-duplication -------------------------------------------------------------------------


def test_open_alert_with_same_dedup_key_is_returned_not_duplicated(store: AlertStore) -> None:
    first = drift_alert(store, dedup_key="drift:2025-03-01")

    again = drift_alert(store, dedup_key="drift:2025-03-01", severity="critical", title="Again")
    store.mark_read(first.id, actor="alice")
    while_read = drift_alert(store, dedup_key="drift:2025-03-01")

    assert again == first  # returned unchanged: the new severity and title are not applied
    assert while_read.id == first.id and while_read.status is AlertStatus.READ
    assert len(store.list()) == 1


@pytest.mark.parametrize("close", ["action", "dismiss"])
def test_dedup_key_raises_a_new_alert_once_the_old_one_is_closed(
    store: AlertStore, close: str
) -> None:
    first = drift_alert(store, dedup_key="drift:2025-03-01")
    getattr(store, close)(first.id, actor="alice")

    closed = store.get(first.id)
    assert store.latest("drift:2025-03-01") == closed  # the newest alert, whatever its status

    second = drift_alert(store, dedup_key="drift:2025-03-01")

    assert second.id != first.id and second.status is AlertStatus.UNREAD
    assert drift_alert(store, dedup_key="drift:2025-03-01").id == second.id
    assert store.latest("drift:2025-03-01") == second
    assert store.latest("drift:2025-03-02") is None


def test_alerts_without_dedup_key_or_with_different_keys_are_separate(
    store: AlertStore,
) -> None:
    ids = {
        drift_alert(store).id,
        drift_alert(store).id,
        drift_alert(store, dedup_key="drift:2025-03-01").id,
        drift_alert(store, dedup_key="drift:2025-03-02").id,
    }
    assert len(ids) == 4


# --- listing and counting -------------------------------------------------------------------


@pytest.fixture
def mixed(store: AlertStore) -> dict[str, Alert]:
    """Five alerts raised one minute apart, in three statuses."""
    alerts = {
        "drift": drift_alert(store),
        "perf": drift_alert(store, type="performance_drift", severity="critical", title="WAPE"),
        "contract": drift_alert(store, type="contract_break", severity="critical", title="Cols"),
        "run": drift_alert(store, type="run_failure", severity="warning", title="Run failed"),
        "promo": drift_alert(store, type="promotion", severity="info", title="v7 promoted"),
    }
    store.mark_read(alerts["drift"].id, actor="alice")
    store.action(alerts["contract"].id, actor="alice", notes="landing file fixed")
    store.dismiss(alerts["promo"].id, actor="alice")
    return {name: store.get(alert.id) for name, alert in alerts.items()}


def ids(alerts: list[Alert]) -> list[int]:
    return [alert.id for alert in alerts]


def test_list_is_newest_first_and_filters_by_status_severity_type(
    store: AlertStore, mixed: dict[str, Alert]
) -> None:
    newest_first = ["promo", "run", "contract", "perf", "drift"]
    assert ids(store.list()) == [mixed[name].id for name in newest_first]
    assert ids(store.list(status="unread")) == [mixed["run"].id, mixed["perf"].id]
    assert ids(store.list(status=OPEN_STATUSES)) == [
        mixed[name].id for name in ["run", "perf", "drift"]
    ]
    assert ids(store.list(severity=Severity.CRITICAL)) == [
        mixed["contract"].id,
        mixed["perf"].id,
    ]
    assert ids(store.list(type="promotion")) == [mixed["promo"].id]
    assert ids(store.list(type=["data_drift", "performance_drift"], status="unread")) == [
        mixed["perf"].id
    ]
    assert ids(store.list(status="actioned", severity="info")) == []
    assert ids(store.list(limit=2)) == [mixed["promo"].id, mixed["run"].id]


def test_open_counts_count_unread_and_read_per_severity(
    store: AlertStore, mixed: dict[str, Alert]
) -> None:
    # open: drift (warning, read), perf (critical, unread), run (warning, unread)
    assert store.open_counts() == {Severity.INFO: 0, Severity.WARNING: 2, Severity.CRITICAL: 1}


def test_open_worst_first_lists_critical_then_warning_newest_first_up_to_the_limit(
    store: AlertStore, mixed: dict[str, Alert]
) -> None:
    worst_first = [mixed[name].id for name in ("perf", "run", "drift")]
    assert ids(store.open_worst_first(10)) == worst_first
    assert ids(store.open_worst_first(2)) == worst_first[:2]


def test_open_counts_of_an_empty_store_are_zero(store: AlertStore) -> None:
    assert store.open_counts() == dict.fromkeys(Severity, 0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"status": "archived"}, "Unknown alert status 'archived'; use one of: unread, read"),
        ({"severity": "urgent"}, "Unknown alert severity 'urgent'; use one of: info, warning"),
        ({"type": ["data_drift", "bad"]}, "Unknown alert type 'bad'"),
        ({"limit": 0}, "limit must be a positive integer"),
    ],
)
def test_bad_list_filters_say_what_is_allowed(
    store: AlertStore, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidAlertError, match=message):
        store.list(**arguments)


# --- arguments, URLs and schema -------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type": "drift"}, "Unknown alert type 'drift'; use one of: data_drift"),
        ({"severity": "high"}, "Unknown alert severity 'high'; use one of: info, warning"),
        ({"title": " "}, "title must be a non-empty string"),
        ({"title": "x" * 201}, "title is 201 characters long; the limit is 200"),
        ({"links": [{"label": "run"}]}, "link #0 must have exactly the keys 'label' and 'url'"),
        ({"links": {"label": "a", "url": "b"}}, "links must be a list"),
        ({"recommendation": {"at": datetime(2025, 3, 1)}}, "must be JSON-serialisable"),
    ],
)
def test_bad_alert_arguments_are_refused_before_storing(
    store: AlertStore, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidAlertError, match=message):
        drift_alert(store, **overrides)
    assert store.list() == []


def test_transition_needs_an_actor(store: AlertStore) -> None:
    alert = drift_alert(store)
    with pytest.raises(InvalidAlertError, match="actor must be a non-empty string"):
        store.mark_read(alert.id, actor="")
    assert store.get(alert.id).status is AlertStatus.UNREAD


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("not a url", "Use a SQLAlchemy URL, e.g. sqlite:////absolute/path/alerts.db"),
        ("", "Set it to a database URL"),
        ("mysql://user@host/db", "supports SQLite and PostgreSQL"),
        ("sqlite://", "in-memory SQLite database"),
        ("sqlite:///:memory:", "in-memory SQLite database"),
        ("sqlite:///alerts.db", "Use an absolute path: sqlite:////"),
        ("postgresql+psycopg2://user@host/db", "Write postgresql://... or postgresql+psycopg://"),
        ("postgresql://user@host", "names no database"),
    ],
)
def test_unusable_url_names_the_setting_and_the_fix(url: str, fix: str) -> None:
    with pytest.raises(AlertStoreConfigError, match=URL_VARIABLE) as caught:
        AlertStore(url)
    assert fix in str(caught.value)
    assert isinstance(caught.value, SettingsError)


def test_url_error_masks_the_password() -> None:
    with pytest.raises(AlertStoreConfigError) as caught:
        AlertStore("postgresql+psycopg2://user:s3cret@host/db")
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
def test_both_postgres_spellings_use_psycopg3(scheme: str) -> None:
    store = AlertStore(f"{scheme}://user:s3cret@db.example:5432/forecastops")  # no connection
    assert store.engine.dialect.driver == "psycopg"
    assert "s3cret" not in store.display_url and "s3cret" not in repr(store)


def test_create_schema_is_idempotent_and_keeps_alerts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'alerts.db'}"
    with AlertStore(url) as first:
        first.create_schema()  # creates the folders too
        alert = drift_alert(first)
        first.create_schema()
    with AlertStore(url) as second:
        second.create_schema()
        assert second.get(alert.id) == alert


def test_create_schema_from_many_stores_at_once_creates_it_once(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    stores = [AlertStore(url) for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)

    def create(worker: int) -> None:
        barrier.wait(timeout=10)
        stores[worker].create_schema()

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(create, range(WORKERS)))  # re-raises any worker's error
        assert drift_alert(stores[0]).id == 1
    finally:
        for worker_store in stores:
            worker_store.close()


def test_store_without_schema_says_to_create_it(tmp_path: Path) -> None:
    with (
        AlertStore(sqlite_url(tmp_path)) as store,
        pytest.raises(AlertStoreUnavailableError, match=r"create_schema\(\)") as caught,
    ):
        store.list()
    assert URL_VARIABLE in str(caught.value)


def test_database_refuses_a_second_open_alert_with_the_same_key(
    store: AlertStore, tmp_path: Path
) -> None:
    """The partial unique index, not only the code, keeps open dedup keys unique."""
    drift_alert(store, dedup_key="k")
    with sqlite3.connect(tmp_path / "alerts.db") as connection:
        row = connection.execute(f"SELECT * FROM {TABLE_NAME}").fetchone()
        placeholders = ", ".join("?" * len(row))
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            connection.execute(
                f"INSERT INTO {TABLE_NAME} VALUES ({placeholders})", (None, *row[1:])
            )


# --- concurrency ----------------------------------------------------------------------------


def test_threads_actioning_the_same_alert_have_exactly_one_winner(store: AlertStore) -> None:
    alert = drift_alert(store)

    wins, losses = race(lambda worker: store.action(alert.id, actor=f"worker-{worker}"))

    assert len(wins) == 1 and len(losses) == WORKERS - 1
    winner = wins[0].actor
    assert store.get(alert.id).actor == winner
    for loss in losses:
        assert loss.current is AlertStatus.ACTIONED
        assert f"it is actioned (since {wins[0].status_changed_at.isoformat()}, by {winner})" in (
            str(loss)
        )


def test_stores_of_their_own_racing_to_close_one_alert_have_one_winner(tmp_path: Path) -> None:
    """Each thread opens its own store (its own connections), as separate processes would; half
    action and half dismiss the alert: exactly one of them closes it."""
    url = sqlite_url(tmp_path)
    with AlertStore(url) as setup:
        setup.create_schema()
        alert = drift_alert(setup)
    stores = [AlertStore(url) for _ in range(WORKERS)]
    closes = ["action", "dismiss"]
    try:
        wins, losses = race(
            lambda worker: move(stores[worker], closes[worker % 2], alert.id, f"worker-{worker}")
        )
    finally:
        for worker_store in stores:
            worker_store.close()

    assert len(wins) == 1 and len(losses) == WORKERS - 1
    assert {loss.current for loss in losses} == {wins[0].status}
    with AlertStore(url) as check:
        assert check.get(alert.id) == wins[0]


def test_threads_marking_the_same_alert_read_have_exactly_one_winner(store: AlertStore) -> None:
    alert = drift_alert(store)

    wins, losses = race(lambda worker: store.mark_read(alert.id, actor=f"worker-{worker}"))

    assert len(wins) == 1 and len(losses) == WORKERS - 1
    assert all(loss.current is AlertStatus.READ for loss in losses)
    assert store.get(alert.id).actor == wins[0].actor


def _action_in_process(
    url: str, alert_id: int, worker: int, barrier: Any, results: Any
) -> None:  # pragma: no cover - runs in a child process
    store = AlertStore(url)
    barrier.wait(timeout=10)
    try:
        store.action(alert_id, actor=f"process-{worker}")
        results.put("won")
    except AlertTransitionError:
        results.put("lost")
    except Exception as error:
        results.put(f"error: {error!r}")
    finally:
        store.close()


def test_os_processes_actioning_the_same_alert_have_exactly_one_winner(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with AlertStore(url) as setup:
        setup.create_schema()
        alert = drift_alert(setup)
    context = multiprocessing.get_context("fork")  # fork: no re-import, starts in milliseconds
    processes_count = 4
    barrier, results = context.Barrier(processes_count), context.Queue()
    processes = [
        context.Process(target=_action_in_process, args=(url, alert.id, n, barrier, results))
        for n in range(processes_count)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get(timeout=15) for _ in processes)
    for process in processes:
        process.join(timeout=15)

    assert outcomes == ["lost"] * (processes_count - 1) + ["won"]
    with AlertStore(url) as check:
        assert check.get(alert.id).status is AlertStatus.ACTIONED


def test_threads_raising_the_same_dedup_key_get_one_alert(store: AlertStore) -> None:
    wins, losses = race(lambda worker: drift_alert(store, dedup_key="drift:race"))

    assert losses == []
    assert len({alert.id for alert in wins}) == 1
    assert len(store.list(status=OPEN_STATUSES)) == 1
