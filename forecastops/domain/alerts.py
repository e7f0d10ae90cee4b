"""The vocabulary and records of alerts (type, severity, status, the allowed status moves, the
`Alert` record): plain values, apart from the store, so the domain and the CLI use them without
loading SQLAlchemy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class AlertType(StrEnum):
    DATA_DRIFT = "data_drift"
    PERFORMANCE_DRIFT = "performance_drift"
    CONTRACT_BREAK = "contract_break"
    RUN_FAILURE = "run_failure"
    PROMOTION = "promotion"
    MISSING_DATA = "missing_data"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITIES_WORST_FIRST: tuple[Severity, ...] = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
"""The order alerts and their counts are shown in."""


class AlertStatus(StrEnum):
    UNREAD = "unread"
    READ = "read"
    ACTIONED = "actioned"
    DISMISSED = "dismissed"


OPEN_STATUSES: tuple[AlertStatus, ...] = (AlertStatus.UNREAD, AlertStatus.READ)
"""An alert is open (still wants attention) in these states."""
ALLOWED_TRANSITIONS: Mapping[AlertStatus, tuple[AlertStatus, ...]] = MappingProxyType(
    {
        AlertStatus.UNREAD: (AlertStatus.READ, AlertStatus.ACTIONED, AlertStatus.DISMISSED),
        AlertStatus.READ: (AlertStatus.ACTIONED, AlertStatus.DISMISSED),
        AlertStatus.ACTIONED: (),
        AlertStatus.DISMISSED: (),
    }
)
"""Status -> the statuses it may move to next. Actioned and dismissed are final."""


@dataclass(frozen=True)
class AlertLink:
    """A link shown with an alert, e.g. to the Dagster run or the MLflow run."""

    label: str
    url: str

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "url": self.url}


@dataclass(frozen=True)
class Alert:
    """One alert as stored. Times are timezone-aware UTC; `recommendation` is read-only JSON."""

    id: int
    type: AlertType
    severity: Severity
    title: str
    message: str
    links: tuple[AlertLink, ...]
    subject: str | None
    """What the alert is about, e.g. an asset key and partition (`raw_sales/2025-03-01`)."""
    dedup_key: str | None
    recommendation: Mapping[str, Any] | None
    """What to do about it, e.g. `{"action": "retrain", "partition": "2025-03-01"}`."""
    created_at: datetime
    status: AlertStatus
    status_changed_at: datetime
    actor: str | None
    """Who made the last status change (None until the first one)."""
    notes: str | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when it was cut (alert titles,
    subjects and quoted errors have a length limit; a listed title has a column width)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
