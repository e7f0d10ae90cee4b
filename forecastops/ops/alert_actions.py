"""Closing an alert — approve (actioned) or dismiss — by the same rules from the CLI
(`forecastops alerts action`) and the launchpad (`alert_action_job`).

An approval of an alert that recommends a retrain queues that retrain; the day is checked before
the alert changes, so an approval that cannot be carried out changes nothing. The alert is
closed before the retrain is queued, so two operators approving at once queue it once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from forecastops.domain.alerts import Alert
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.settings import Settings


class AlertActionRefused(Exception):
    """Closing the alert was refused before anything changed. `field`: the input at fault
    (`notes`, `decision`) or None when the alert's recommendation is the reason."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ClosedAlert:
    """The alert as closed, and the days its approval asks to retrain (None: no retrain)."""

    alert: Alert
    retrain_days: tuple[date, ...] | None

    @property
    def summary(self) -> str:
        alert = self.alert
        return f"Alert {alert.id} {alert.status.value} by {alert.actor}: {alert.title}"

    @property
    def manual_recommendation(self) -> str | None:
        """What an approved alert recommends that nothing carries out, in a sentence."""
        alert = self.alert
        if self.retrain_days is not None or alert.recommendation is None:
            return None
        if alert.status.value != "actioned":
            return None
        return (
            f"Its recommendation {json.dumps(dict(alert.recommendation))} has no automatic "
            "action; carry it out by hand."
        )


def clean_notes(notes: str | None) -> str | None:
    """`notes` stripped; blank notes are refused (say what was done, or leave them out)."""
    if notes is None:
        return None
    if not notes.strip():
        raise AlertActionRefused(
            "the notes are blank; say in a sentence what was done or why, or leave them out. "
            "Nothing changed.",
            field="notes",
        )
    return notes.strip()


def close_alert(
    store: AlertStore,
    alert_id: int,
    *,
    approve: bool,
    actor: str,
    notes: str | None,
    settings: Settings,
) -> ClosedAlert:
    """Action (`approve`) or dismiss alert `alert_id` as `actor` with `notes`; the days to
    retrain when the approval asks for it. Raises `AlertActionRefused` (nothing changed) and
    the store's errors (unknown id, an alert already closed)."""
    notes = clean_notes(notes)
    alert = store.get(alert_id)
    days = recommended_retrain(alert, settings) if approve and alert.is_open else None
    closed = (
        store.action(alert_id, actor, notes) if approve else store.dismiss(alert_id, actor, notes)
    )
    return ClosedAlert(closed, days)


def recommended_retrain(alert: Alert, settings: Settings) -> tuple[date, ...] | None:
    """The days an open alert's recommendation asks to retrain, checked now; None when it
    recommends no retrain."""
    from forecastops.ops.retrain_queue import (
        RetrainRefused,
        instance_config_problem,
        plan_partitions,
    )

    recommendation = alert.recommendation or {}
    if recommendation.get("action") != "retrain":
        return None
    partition = recommendation.get("partition")
    try:
        if not isinstance(partition, str):
            raise RetrainRefused(f"it names no partition day ({json.dumps(dict(recommendation))}).")
        days = plan_partitions(partition, settings)
        instance_config_problem(settings)
    except RetrainRefused as error:
        raise AlertActionRefused(
            f"alert {alert.id} recommends a retrain that cannot be queued: {error} "
            "Nothing changed. Dismiss it (with notes), or queue a retrain of a valid day with "
            "`forecastops retrain` and then approve or dismiss it."
        ) from None
    return days
