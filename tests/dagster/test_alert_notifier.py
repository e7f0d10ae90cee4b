"""The alert notifier: real alerts in a real store, ticks of the real sensor, posts received by a
local HTTP server (Apprise's json:// target)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import dagster as dg
import pytest

from forecastops.domain.alerts import AlertType, Severity
from forecastops.pipeline.notifications import SETTLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.settings import SettingsError, load_settings
from resources.alerts import AlertNotifierResource, AlertStoreResource
from sensors.alert_notifier import alert_notifier

PASSWORD = "hook-s3cret"


class Receiver:
    """A webhook receiver on 127.0.0.1: records each JSON post; while `down` it answers 503."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        self.down = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.down:
                    self.send_response(503)
                else:
                    receiver.posts.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://bob:{PASSWORD}@127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    served = Receiver()
    yield served
    served.close()


class Clock:
    """The alert store's clock, set back past the settle time so rows are due at once."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC) - SETTLE - timedelta(minutes=5)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def raise_alert(store: AlertStore, severity: Severity, key: str) -> int:
    return store.raise_alert(
        type=AlertType.DATA_DRIFT,
        severity=severity,
        title=f"Drift {key}",
        message=f"The score of {key} alarms.",
        links=[{"label": "Dagster run", "url": "/runs/abc"}],
        subject=f"drift_score/{key}",
        dedup_key=f"data_drift:drift_score:{key}",
    ).id


def tick(
    instance: dg.DagsterInstance, url: str, store_url: str, cursor: str | None
) -> tuple[str, str | None]:
    """One evaluation of the sensor: (its skip reason, its new cursor)."""
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "alert_store": AlertStoreResource(url=store_url),
            "notifier": AlertNotifierResource(urls=url, dagster_ui="http://ui.example:3000"),
        },
    )
    result = alert_notifier.evaluate_tick(context)
    assert not result.run_requests
    return str(result.skip_message), result.cursor


def test_new_alerts_and_their_resolution_are_posted_once_in_order(
    tmp_path: Path, receiver: Receiver
) -> None:
    store_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    store = AlertStore(store_url, clock=Clock())
    store.create_schema()
    before = raise_alert(store, Severity.CRITICAL, "2025-03-01")
    with dg.instance_for_test() as instance:
        started, cursor = tick(instance, receiver.url, store_url, None)
        assert f"after alert #{before}" in started and PASSWORD not in started
        assert receiver.posts == [], "alerts raised before the notifier started are not posted"

        warning = raise_alert(store, Severity.WARNING, "2025-03-02")
        raise_alert(store, Severity.INFO, "2025-03-03")
        critical = raise_alert(store, Severity.CRITICAL, "2025-03-04")
        message, cursor = tick(instance, receiver.url, store_url, cursor)
        assert [p["title"] for p in receiver.posts] == [
            "[WARNING] Drift 2025-03-02",
            "[CRITICAL] Drift 2025-03-04",
        ]
        assert [p["type"] for p in receiver.posts] == ["warning", "failure"]
        assert "http://ui.example:3000/runs/abc" in receiver.posts[0]["message"]
        assert f"forecastops alerts show {warning}" in receiver.posts[0]["message"]
        assert message.startswith("posted 2")

        store.action(critical, actor="ana", notes="retrained")
        store.dismiss(before, actor="ana")
        _, cursor = tick(instance, receiver.url, store_url, cursor)
        resolved = receiver.posts[2:]
        assert [(p["title"], p["type"]) for p in resolved] == [
            ("[RESOLVED] Drift 2025-03-04", "success"),
            ("[RESOLVED] Drift 2025-03-01", "success"),
        ]
        assert "actioned by ana" in resolved[0]["message"] and "retrained" in resolved[0]["message"]

        again, _ = tick(instance, receiver.url, store_url, cursor)
        assert again == "posted 0" and len(receiver.posts) == 4, "each change is posted once"
    store.close()


def test_a_receiver_that_is_down_is_retried_on_the_next_tick(
    tmp_path: Path, receiver: Receiver
) -> None:
    store_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    store = AlertStore(store_url, clock=Clock())
    store.create_schema()
    with dg.instance_for_test() as instance:
        _, cursor = tick(instance, receiver.url, store_url, None)
        raise_alert(store, Severity.CRITICAL, "2025-03-01")
        raise_alert(store, Severity.WARNING, "2025-03-02")

        receiver.down = True
        message, held = tick(instance, receiver.url, store_url, cursor)
        assert receiver.posts == []
        assert held == cursor, "nothing went through, so the cursor stays"
        assert "Will retry" in message and "127.0.0.1" in message
        assert PASSWORD not in message

        receiver.down = False
        tick(instance, receiver.url, store_url, held)
        assert [p["title"] for p in receiver.posts] == [
            "[CRITICAL] Drift 2025-03-01",
            "[WARNING] Drift 2025-03-02",
        ]
    store.close()


def test_an_alert_younger_than_the_settle_time_waits(tmp_path: Path, receiver: Receiver) -> None:
    """A row is only passed once rows raised beside it have surely committed (30 s)."""
    store_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    store = AlertStore(store_url)  # the real clock: the alert is brand new
    store.create_schema()
    with dg.instance_for_test() as instance:
        _, cursor = tick(instance, receiver.url, store_url, None)
        raise_alert(store, Severity.CRITICAL, "2025-03-01")
        message, after = tick(instance, receiver.url, store_url, cursor)
        assert receiver.posts == [] and after == cursor and message == "posted 0"
    store.close()


def test_without_urls_every_tick_says_notifications_are_off(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    with dg.instance_for_test() as instance:
        message, cursor = tick(instance, "", store_url, None)
    assert "FORECASTOPS_ALERT_NOTIFY_URLS is unset" in message and cursor is None


def test_an_unknown_notify_url_is_a_configuration_error_that_hides_the_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FORECASTOPS_HOME", str(tmp_path))
    monkeypatch.setenv("FORECASTOPS_ALERT_NOTIFY_URLS", f"json://a:{PASSWORD}@h/x, slak://tok")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    text = str(raised.value)
    assert "FORECASTOPS_ALERT_NOTIFY_URLS" in text and "#2 of 2" in text
    assert PASSWORD not in text and "tok" not in text
