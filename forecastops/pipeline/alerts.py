"""The alerts the pipeline raises where a signal is produced, composed from the core's results.

Each function turns one result into an `AlertDraft` (or None when there is nothing to say);
the asset that produced the result raises it in the alert store (`AlertDraft.raise_in`). The
store does not run anything: it keeps the alert, and the CLI moves it through its lifecycle.

| type | raised by | when | severity | recommends |
|---|---|---|---|---|
| data_drift | drift_score | the drift score alarms (>= 1.0) | warning | retrain the day |
| performance_drift | model_health | the champion is drifting | critical | retrain the day |
| contract_break | raw_sales | a landing file breaks the contract | critical | - (fix it) |
| promotion | promotion_decision | the champion alias moved | info | - |
| promotion | promotion_decision | the gate refused a drift retrain | warning | - |
| missing_data | sales_features | a training day lacks data after N days (1) | warning | deliver |
| run_failure | run_failure_alerts sensor | a run failed | critical | retrain (retrain_job) |

(1) N = `FORECASTOPS_MISSING_DAYS_ALERT_AFTER`; the fix: deliver the file, re-materialize
raw_sales for the day (by hand). Then `repair_sensor` actions the open contract_break and
missing_data alerts of the day once it passes the contract (`forecastops.pipeline.repair`).

"Drifting" is `forecastops.domain.performance`'s class: MAE more than 15 % worse than the backtest.

De-duplication: the key names the type, the asset and the day (`data_drift:drift_score:D`), so
re-materializing a day returns the open alert instead of raising a second one; promotions are
keyed by the challenger version, which moves the alias at most once; a missing day is keyed by
the missing day itself (`missing_data:raw_sales:D`), so the daily cycles that find it missing
again return its one open alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecastops.domain.alerts import AlertLink, AlertType, Severity, shorten
from forecastops.domain.triggers import DATA_DRIFT, PERFORMANCE_DRIFT
from forecastops.stores.alerts.store import TITLE_MAX_CHARS
from forecastops.stores.ui_links import DagsterUi

if TYPE_CHECKING:
    from forecastops.domain.alerts import Alert
    from forecastops.domain.drift import DriftResult
    from forecastops.domain.performance import PerformanceResult
    from forecastops.domain.promotion import PromotionDecision
    from forecastops.pipeline.ingest import DayIngest
    from forecastops.stores.alerts.store import AlertStore

DRIFT_ALERT_ASSETS: Mapping[str, str] = {
    DATA_DRIFT: "drift_score",
    PERFORMANCE_DRIFT: "model_health",
}
"""Retrain trigger -> the asset that raises its alert (the trigger names the alert type)."""


@dataclass(frozen=True)
class AlertDraft:
    """An alert not raised yet: the arguments of `AlertStore.raise_alert`."""

    type: AlertType
    severity: Severity
    title: str
    message: str
    subject: str
    dedup_key: str
    links: tuple[AlertLink, ...] = ()
    recommendation: Mapping[str, Any] | None = field(default=None)

    def raise_in(self, store: AlertStore) -> Alert:
        """Raise it (or get the open alert with the same `dedup_key`)."""
        return store.raise_alert(
            type=self.type,
            severity=self.severity,
            title=shorten(self.title, TITLE_MAX_CHARS),
            message=self.message,
            links=self.links,
            subject=self.subject,
            dedup_key=self.dedup_key,
            recommendation=self.recommendation,
        )


def retrain_recommendation(day: date | str) -> dict[str, str]:
    """What `forecastops alerts action ID --approve` carries out: queue retrain_job for `day`."""
    return {"action": "retrain", "partition": str(day)}


def drift_alert_key(trigger: str, day: date | str) -> str:
    """The dedup key of the drift alert a retrain `trigger` (DATA_DRIFT / PERFORMANCE_DRIFT)
    answers, for `day`: how the retrain sensor finds the alert its run acts on."""
    return f"{trigger}:{DRIFT_ALERT_ASSETS[trigger]}:{day}"


def contract_break_key(day: date | str) -> str:
    """The dedup key of the contract_break alert of `day` (one open alert per day)."""
    return f"contract_break:raw_sales:{day}"


def missing_data_key(day: date | str) -> str:
    """The dedup key of the missing_data alert of the missing `day` itself."""
    return f"missing_data:raw_sales:{day}"


def dagster_run_link(run_id: str, dagster_ui: str = "") -> AlertLink:
    """The run's page in the Dagster UI at `dagster_ui` (`Settings.dagster_ui`; empty: a path
    relative to the UI, which the notifier joins to it)."""
    return AlertLink("Dagster run", DagsterUi(dagster_ui).run(run_id))


def dagster_asset_link(asset: str, dagster_ui: str = "", partition: str | None = None) -> AlertLink:
    """The asset's page in the Dagster UI (its checks and materializations; with `partition`,
    that partition's)."""
    return AlertLink(f"Dagster asset {asset}", DagsterUi(dagster_ui).asset(asset, partition))


def mlflow_version_link(version: str, url: str) -> AlertLink:
    """A model version's page in the MLflow UI (`ModelRegistry.version_url`)."""
    return AlertLink(f"MLflow model version {version}", url)


def _approve_hint(day: date | str) -> str:
    return (
        f"Approving this alert (`forecastops alerts action ID --approve`) queues a retrain of "
        f"{day}; the new challenger becomes champion only if it passes the promotion gate. "
        "If drift_retrain_sensor already requested that retrain it has actioned this alert, "
        "and its notes name the run."
    )


def data_drift_alert(
    day: date,
    result: DriftResult,
    reference: str,
    html_report: Path,
    links: Sequence[AlertLink],
    report_url: str | None = None,
) -> AlertDraft | None:
    """A warning when the drift score of `day` alarms (`result.alarm`), else None.

    `reference`: what the current window was compared with (e.g. "champion v3");
    `html_report`: Evidently's report on this machine; `report_url`: its page in the MLflow UI
    (linked instead of the file when given); `links`: the Dagster run and asset, MLflow."""
    if not result.alarm:
        return None
    return AlertDraft(
        type=AlertType.DATA_DRIFT,
        severity=Severity.WARNING,
        title=f"Data drift on {day}: score {result.overall_score:.2f} vs {reference}: "
        f"{result.signal}",
        message=f"{result.to_markdown()}\n\nEvidently report: {html_report}\n\n"
        f"{_approve_hint(day)}",
        subject=f"drift_score/{day}",
        dedup_key=drift_alert_key(DATA_DRIFT, day),
        links=(*links, AlertLink("Evidently report", report_url or html_report.resolve().as_uri())),
        recommendation=retrain_recommendation(day),
    )


def performance_drift_alert(
    day: date, champion: str, result: PerformanceResult | None, links: Sequence[AlertLink]
) -> AlertDraft | None:
    """A critical alert when the champion (version `champion`) is drifting on `day`, else None.

    Degrading (worse, not yet past the drifting threshold) raises nothing: it shows in
    model_health, and the retrain sensor only acts on drifting."""
    from forecastops.domain.performance import DRIFTING

    if result is None or result.model_status != DRIFTING:
        return None
    return AlertDraft(
        type=AlertType.PERFORMANCE_DRIFT,
        severity=Severity.CRITICAL,
        title=f"Champion v{champion} is drifting on {day}: MAE {result.overall_degradation:+.0%} "
        "vs its backtest",
        message=f"{result.to_markdown()}\n\n{_approve_hint(day)}",
        subject=f"model_health/{day}",
        dedup_key=drift_alert_key(PERFORMANCE_DRIFT, day),
        links=tuple(links),
        recommendation=retrain_recommendation(day),
    )


def contract_break_alerts(
    outcomes: Sequence[DayIngest], links: Sequence[AlertLink]
) -> list[AlertDraft]:
    """One critical alert per day whose landing file broke the sales contract, naming the file
    and its failure cases."""
    return [
        AlertDraft(
            type=AlertType.CONTRACT_BREAK,
            severity=Severity.CRITICAL,
            title=f"Landing file for {o.day} breaks the sales contract "
            f"({len(o.contract.failures)} failure case(s))",
            message=f"`{o.source}` (sha256 {o.source_sha256[:12]}) was rejected: nothing "
            f"downstream runs from {o.day} and the drift retrain sensor ignores it.\n\n"
            f"{o.contract.to_markdown()}\n\nFix or re-deliver the file, then re-materialize "
            f"raw_sales for {o.day} (ingest_job); repair_sensor then re-runs what was computed "
            "without it and actions this alert (`forecastops repair --date "
            f"{o.day}` does it by hand).",
            subject=f"raw_sales/{o.day}",
            dedup_key=contract_break_key(o.day),
            links=tuple(links),
        )
        for o in outcomes
        if not o.passed
    ]


def promotion_alert(
    cutoff: date,
    decision: PromotionDecision,
    challenger: str,
    champion_before: str | None,
    trigger: str | None,
    links: Sequence[AlertLink],
) -> AlertDraft | None:
    """Info when the challenger became champion; a warning when a drift-triggered retrain
    (`trigger` set) was refused by the gate, since the drift it answered is still there.
    An ordinary refusal raises nothing (the daily cycle refuses most challengers)."""
    was = f" (was v{champion_before})" if champion_before else " (the first champion)"
    if decision.promote:
        severity, title = Severity.INFO, f"Champion moved to v{challenger}{was} at {cutoff}"
    elif trigger:
        severity = Severity.WARNING
        title = (
            f"{trigger} retrain of {cutoff} refused by the promotion gate: champion "
            f"v{champion_before or 'none'} stays"
        )
    else:
        return None
    return AlertDraft(
        type=AlertType.PROMOTION,
        severity=severity,
        title=title,
        message=decision.to_markdown()
        + ("" if decision.promote else "\n\nThe drift is still there: see docs/operations.md."),
        subject=f"promotion_decision/{cutoff}",
        dedup_key=f"promotion:v{challenger}",
        links=tuple(links),
    )


def missing_data_alerts(
    cutoff: date, days: Sequence[date], alert_after: int, links: Sequence[AlertLink]
) -> list[AlertDraft]:
    """One warning per day of `days`: a day of the training window ending at `cutoff` that has
    had no `raw_sales` partition for more than `alert_after` days (see
    `forecastops.pipeline.cycle.overdue_missing_days`). The features read it as unknown, not as
    0 sold (decision 0016), but every cycle of the next training window trains and forecasts
    without it. Recommends delivering the file and re-materializing the day (by hand: there is
    no automatic action)."""
    return [
        AlertDraft(
            type=AlertType.MISSING_DATA,
            severity=Severity.WARNING,
            title=f"No sales data for {day}: missing {(cutoff - day).days} days "
            f"(alert after {alert_after})",
            message=f"raw_sales has no partition for {day}: its landing file was rejected by "
            "the contract (see its contract_break alert, if any), never delivered, or its "
            f"partition was deleted. The cycle of {cutoff} trained without that day and reads "
            "it as unknown, not as 0 sold, as will every cycle whose training window holds it."
            f"\n\nFix: deliver (or fix) `sales_{day}.csv` (or `.parquet`) in the landing "
            f"folder, re-materialize raw_sales for {day} (`dg launch --job ingest_job "
            f"--partition {day}`), then retrain the newest day.",
            subject=f"raw_sales/{day}",
            dedup_key=missing_data_key(day),
            links=tuple(links),
            recommendation={
                "action": "deliver_and_materialize",
                "asset": "raw_sales",
                "partition": str(day),
            },
        )
        for day in days
    ]
