"""Alerts that reach people: post each new warning/critical alert, and its resolution, once.

The alert store is the outbox. A reader (the `alert_notifier` sensor, every minute) keeps a
`NotifyCursor`: how far it has posted, in two orders — new alerts by id, resolutions (actioned
or dismissed) by (status change time, id). Each call posts what lies past the cursor, oldest
first, and moves the cursor past each post that went through. A failed post stops the call
there; the cursor stays, so the next call posts it again (and keeps the order). Nothing in a
run waits for a receiver: a receiver that is down delays notifications, never a run.

Settling. Rows become visible at commit, not in id or time order, when several processes
raise alerts at once (PostgreSQL hands out ids at INSERT). A reader that moved its cursor past
an id before the lower id committed would never post it. So a call stops at the first row
younger than `SETTLE` (30 s): everything older has committed (an alert is one short
transaction), and the cursor never passes a row that may still have an uncommitted neighbour.

First call. With no cursor, posting starts from now: the alerts raised before the notifier was
enabled are in `forecastops alerts list`, not re-announced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from forecastops.domain.alerts import Alert, AlertStatus, Severity, shorten
from forecastops.stores.notifier import NotifyError, NotifyKind

if TYPE_CHECKING:
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.notifier import AlertNotifier

SETTLE = timedelta(seconds=30)
"""How old a row must be before the cursor may pass it (see the module's docstring)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_POSTS_PER_CALL = 20
"""A burst of alerts is posted over several calls rather than in one long one."""
MAX_MESSAGE_CHARS = 1500
"""Longest alert message quoted in a post; the full text is in `forecastops alerts show`."""

NOTIFIED_SEVERITIES: dict[str, tuple[Severity, ...]] = {
    "warning": (Severity.WARNING, Severity.CRITICAL),
    "critical": (Severity.CRITICAL,),
}
"""`FORECASTOPS_ALERT_NOTIFY_MIN_SEVERITY` -> the severities posted."""


@dataclass(frozen=True)
class NotifyCursor:
    """How far posting has got: every alert with id <= `raised_through` was posted (or was
    below the minimum severity), and every resolution up to (`resolved_through`,
    `resolved_through_id`)."""

    raised_through: int
    resolved_through: datetime
    resolved_through_id: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {
                "raised_through": self.raised_through,
                "resolved_through": self.resolved_through.isoformat(),
                "resolved_through_id": self.resolved_through_id,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> NotifyCursor:
        data = json.loads(text)
        return cls(
            raised_through=int(data["raised_through"]),
            resolved_through=datetime.fromisoformat(data["resolved_through"]),
            resolved_through_id=int(data["resolved_through_id"]),
        )

    @classmethod
    def starting_now(cls, store: AlertStore) -> NotifyCursor:
        """A cursor past every alert and resolution so far (the first call's). Read from the
        store, so the clocks of the processes that wrote the rows are the only ones involved."""
        resolved_through, resolved_through_id = store.newest_resolution() or (EPOCH, 0)
        return cls(store.newest_id(), resolved_through, resolved_through_id)


@dataclass
class NotifyOutcome:
    """What one call did: the new cursor, one line per post, and the failure that stopped it
    (None when everything due was posted)."""

    cursor: NotifyCursor
    posted: list[str] = field(default_factory=list)
    failure: str | None = None

    def summary(self) -> str:
        done = f"posted {len(self.posted)}" + (f": {'; '.join(self.posted)}" if self.posted else "")
        return done + (f". Will retry: {self.failure}" if self.failure else "")


def notify_alert_changes(
    store: AlertStore,
    notifier: AlertNotifier,
    cursor: NotifyCursor,
    *,
    min_severity: str,
    dagster_ui: str,
    now: datetime,
) -> NotifyOutcome:
    """Post the new alerts, then the resolutions, past `cursor` (see the module's docstring).

    `dagster_ui`: the Dagster UI's base URL, which makes the alerts' relative links absolute;
    `now`: timezone-aware UTC, the reference for `SETTLE`."""
    severities = NOTIFIED_SEVERITIES[min_severity]
    settled = now - SETTLE
    outcome = NotifyOutcome(cursor)
    try:
        for alert in store.raised_after(
            cursor.raised_through, severity=severities, limit=MAX_POSTS_PER_CALL
        ):
            if alert.created_at > settled:
                break
            notifier.send(*raised_post(alert, dagster_ui))
            outcome.cursor = replace(outcome.cursor, raised_through=alert.id)
            outcome.posted.append(f"#{alert.id} raised")
        for alert in store.resolved_after(
            cursor.resolved_through,
            cursor.resolved_through_id,
            severity=severities,
            limit=MAX_POSTS_PER_CALL,
        ):
            if alert.status_changed_at > settled or alert.id > outcome.cursor.raised_through:
                break  # not settled, or its raise is not posted yet: keep the order
            notifier.send(*resolved_post(alert))
            outcome.cursor = replace(
                outcome.cursor,
                resolved_through=alert.status_changed_at,
                resolved_through_id=alert.id,
            )
            outcome.posted.append(f"#{alert.id} {alert.status}")
    except NotifyError as error:
        outcome.failure = str(error)
    return outcome


def raised_post(alert: Alert, dagster_ui: str) -> tuple[str, str, NotifyKind]:
    """(title, Markdown body, kind) announcing a new alert."""
    links = "\n".join(f"- [{link.label}]({absolute(link.url, dagster_ui)})" for link in alert.links)
    body = (
        f"{shorten(alert.message, MAX_MESSAGE_CHARS)}\n\n{links}\n\n"
        f"Alert #{alert.id} ({alert.type}): `forecastops alerts show {alert.id}`"
    )
    kind = NotifyKind.CRITICAL if alert.severity == Severity.CRITICAL else NotifyKind.WARNING
    return f"[{alert.severity.upper()}] {alert.title}", body, kind


def resolved_post(alert: Alert) -> tuple[str, str, NotifyKind]:
    """(title, Markdown body, kind) announcing that an alert was actioned or dismissed."""
    verb = "actioned" if alert.status == AlertStatus.ACTIONED else "dismissed"
    when = alert.status_changed_at.strftime("%Y-%m-%d %H:%M UTC")
    notes = f": {shorten(alert.notes, MAX_MESSAGE_CHARS)}" if alert.notes else ""
    body = f"Alert #{alert.id} was {verb} by {alert.actor or 'someone'} at {when}{notes}"
    return f"[RESOLVED] {alert.title}", body, NotifyKind.RESOLVED


def absolute(url: str, base: str) -> str:
    """`url` as a reader outside the UI can open it: a path (`/runs/…`) joined to `base`."""
    return f"{base}{url}" if url.startswith("/") else url
