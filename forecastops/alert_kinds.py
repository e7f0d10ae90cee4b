"""The vocabulary of alerts (type, severity, status), apart from the store so that the CLI can
offer them as choices without loading SQLAlchemy."""

from __future__ import annotations

from enum import StrEnum


class AlertType(StrEnum):
    DATA_DRIFT = "data_drift"
    PERFORMANCE_DRIFT = "performance_drift"
    CONTRACT_BREAK = "contract_break"
    RUN_FAILURE = "run_failure"
    PROMOTION = "promotion"


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
