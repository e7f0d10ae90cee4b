"""Monitoring: the open alerts of the alert store, shown in the Dagster UI.

`open_alerts` reads the store (it computes nothing); materialize it (one click in the UI) to
refresh the table in its metadata. `forecastops alerts list` is the live view from a shell.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. The alert store (SQLAlchemy) and pandas load inside the body.
from typing import TYPE_CHECKING

import dagster as dg

from forecast_assets.metadata import frame_table
from resources.alerts import AlertStoreResource

if TYPE_CHECKING:
    from forecastops.domain.alerts import Alert

CRITICAL_CHECK = "no_critical_alerts"
MAX_ALERTS_LISTED = 50
TABLE_COLUMNS = ("id", "severity", "type", "title", "subject", "created_at", "status")


@dg.asset(
    group_name="monitoring",
    check_specs=[
        dg.AssetCheckSpec(
            CRITICAL_CHECK,
            asset="open_alerts",
            description="No critical alert is open (unread or read); act on or dismiss them "
            "with `forecastops alerts action ID`.",
        )
    ],
)
def open_alerts(alert_store: AlertStoreResource) -> dg.MaterializeResult:
    """The open (unread or read) alerts, critical first, then newest first: counts per severity
    and a table (id, severity, type, title, subject, created_at, status)."""
    from forecastops.domain.alerts import SEVERITIES_WORST_FIRST, Severity

    store = alert_store.store
    counts = store.open_counts()
    listed = store.open_worst_first(MAX_ALERTS_LISTED)
    critical = [alert for alert in listed if alert.severity is Severity.CRITICAL]
    total = sum(counts.values())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            **{f"open_{severity}": counts[severity] for severity in SEVERITIES_WORST_FIRST},
            "alerts": _alerts_table(listed),
            **_not_listed(len(listed), total),
            "alert_store": store.display_url,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=CRITICAL_CHECK,
                passed=counts[Severity.CRITICAL] == 0,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    f"{counts[Severity.CRITICAL]} critical alert(s) open; read them with "
                    "`forecastops alerts read ID` and act on or dismiss them."
                    if counts[Severity.CRITICAL]
                    else "No critical alert is open."
                ),
                metadata={
                    "open_critical": counts[Severity.CRITICAL],
                    "critical_alerts": _alerts_table(critical),
                    **_not_listed(len(critical), counts[Severity.CRITICAL]),
                },
            )
        ],
    )


def _alerts_table(alerts: "list[Alert]") -> dg.MetadataValue:
    """`alerts` as a native table of `TABLE_COLUMNS` (empty, with its columns, when none)."""
    import pandas as pd

    rows = pd.DataFrame(
        [
            {
                "id": alert.id,
                "severity": alert.severity.value,
                "type": alert.type.value,
                "title": alert.title,
                "subject": alert.subject or "",
                "created_at": alert.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                "status": alert.status.value,
            }
            for alert in alerts
        ],
        columns=list(TABLE_COLUMNS),
    ).astype({"id": "int64"})
    return frame_table(rows, max_rows=len(rows))


def _not_listed(shown: int, total: int) -> dict[str, str]:
    """A note when `total` open alerts are more than the `shown` rows."""
    if total <= shown:
        return {}
    return {"not_listed": f"…and {total - shown} more open; `forecastops alerts list` lists them."}
