"""The alerts composed from the core's results: who says what, how loudly, and what to do."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from forecastops.domain.alerts import AlertStatus, AlertType, Severity
from forecastops.domain.drift import DriftPolicy, DriftResult
from forecastops.domain.performance import DEGRADING, DRIFTING, PerformancePolicy, PerformanceResult
from forecastops.domain.promotion import PromotionDecision
from forecastops.domain.triggers import DATA_DRIFT, PERFORMANCE_DRIFT
from forecastops.pipeline.alerts import (
    dagster_asset_link,
    dagster_run_link,
    data_drift_alert,
    drift_alert_key,
    performance_drift_alert,
    promotion_alert,
)
from forecastops.stores.alerts.store import AlertStore

DAY = date(2025, 6, 1)
LINKS = [dagster_run_link("abc123")]


def _drift(score: float, drifted: bool) -> DriftResult:
    return DriftResult(
        features=pd.DataFrame({"feature": ["lag_7", "price"], "drifted": [drifted, False]}),
        null_rates=pd.DataFrame({"feature": ["lag_7"], "drifted": [False]}),
        target_shift=0.5 if drifted else 0.0,
        drift_share=0.5 if drifted else 0.0,
        dataset_drifted=drifted,
        target_drifted=drifted,
        overall_score=score,
        policy=DriftPolicy(),
        reference_rows=100,
        current_rows=50,
    )


def _performance(status: str, degradation: float) -> PerformanceResult:
    return PerformanceResult(
        series=pd.DataFrame({"store_id": ["s1"], "product_id": ["p1"], "status": [status]}),
        counts={status: 1},
        model_status=status,
        overall_degradation=degradation,
        overall_mae=2.0,
        baseline_mae=1.0,
        days=7,
        policy=PerformancePolicy(),
    )


def _decision(promote: bool) -> PromotionDecision:
    return PromotionDecision(
        promote=promote, reasons=("beats it by 5 %",), rule_results={"beats_champion": promote}
    )


def test_a_drift_alarm_warns_links_the_evidently_report_and_recommends_retraining_the_day(
    tmp_path: Path,
) -> None:
    report = tmp_path / "drift_2025-06-01.html"
    draft = data_drift_alert(DAY, _drift(1.7, drifted=True), "champion v3", report, LINKS)
    assert draft is not None
    assert (draft.type, draft.severity) == (AlertType.DATA_DRIFT, Severity.WARNING)
    assert "1.70" in draft.title and "champion v3" in draft.title and "lag_7" in draft.title
    assert draft.recommendation == {"action": "retrain", "partition": "2025-06-01"}
    assert draft.dedup_key == drift_alert_key(DATA_DRIFT, DAY)
    assert [link.label for link in draft.links] == ["Dagster run", "Evidently report"]
    assert draft.links[-1].url == report.as_uri()
    assert str(report) in draft.message


def test_a_drift_alert_links_the_report_in_mlflow_and_absolute_dagster_pages(
    tmp_path: Path,
) -> None:
    ui = "http://dagster.example:3000"
    page = "http://mlflow.example/#/experiments/1/runs/r/artifacts/drift/drift_2025-06-01.html"
    links = [dagster_run_link("r1", ui), dagster_asset_link("drift_score", ui, "2025-06-01")]
    report = tmp_path / "drift_2025-06-01.html"
    draft = data_drift_alert(DAY, _drift(1.7, drifted=True), "champion v3", report, links, page)
    assert draft is not None
    assert [(link.label, link.url) for link in draft.links] == [
        ("Dagster run", f"{ui}/runs/r1"),
        (
            "Dagster asset drift_score",
            f"{ui}/assets/drift_score?view=partitions&partition=2025-06-01",
        ),
        ("Evidently report", page),
    ]


def test_no_alarm_no_drift_alert(tmp_path: Path) -> None:
    assert data_drift_alert(DAY, _drift(0.4, drifted=False), "v1", tmp_path / "r.html", []) is None


def test_only_a_drifting_champion_raises_a_critical_performance_alert() -> None:
    drifting = performance_drift_alert(DAY, "3", _performance(DRIFTING, 0.42), LINKS)
    assert drifting is not None
    assert (drifting.type, drifting.severity) == (AlertType.PERFORMANCE_DRIFT, Severity.CRITICAL)
    assert "v3" in drifting.title and "+42%" in drifting.title
    assert drifting.recommendation == {"action": "retrain", "partition": "2025-06-01"}
    assert drifting.dedup_key == drift_alert_key(PERFORMANCE_DRIFT, DAY)
    assert performance_drift_alert(DAY, "3", _performance(DEGRADING, 0.08), LINKS) is None
    assert performance_drift_alert(DAY, "3", None, LINKS) is None


def test_a_promotion_informs_and_a_refused_drift_retrain_warns_but_a_routine_refusal_is_quiet() -> (
    None
):
    moved = promotion_alert(DAY, _decision(True), "4", "3", None, LINKS)
    assert moved is not None and moved.severity is Severity.INFO
    assert "v4" in moved.title and "was v3" in moved.title
    refused = promotion_alert(DAY, _decision(False), "4", "3", DATA_DRIFT, LINKS)
    assert refused is not None and refused.severity is Severity.WARNING
    assert "champion v3 stays" in refused.title
    assert promotion_alert(DAY, _decision(False), "4", "3", None, LINKS) is None


def test_raising_the_same_days_draft_twice_keeps_one_open_alert(tmp_path: Path) -> None:
    store = AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")
    store.create_schema()
    draft = performance_drift_alert(DAY, "3", _performance(DRIFTING, 0.42), LINKS)
    assert draft is not None
    first, second = draft.raise_in(store), draft.raise_in(store)
    assert first.id == second.id and first.status is AlertStatus.UNREAD
    assert [alert.id for alert in store.list()] == [first.id]
