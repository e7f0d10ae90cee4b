"""The incident report's core: built from a real lake and alert store with no registry and no
runs yet, its CSV parses back cell for cell, its Markdown has every section, and its files are
written whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest

from forecastops.domain.performance import PerformancePolicy
from forecastops.pipeline.incident_report import (
    SECTIONS,
    IncidentReport,
    RunRecord,
    build_incident_report,
    runs_from_json,
    runs_to_json,
    write_atomically,
)
from forecastops.pipeline.monitoring import DRIFT_TABLE, latest_drift
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake

GENERATED = datetime(2025, 3, 2, 6, 30, tzinfo=UTC)
RUNS = [
    RunRecord(
        run_id="b2",
        job="daily_cycle_job",
        status="FAILURE",
        partition="2025-03-01",
        started_at=datetime(2025, 3, 2, 6, 0, tzinfo=UTC),
        ended_at=datetime(2025, 3, 2, 6, 9, 30, tzinfo=UTC),
    ),
    RunRecord(run_id="a1", job="promote_model_job", status="QUEUED"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AlertStore]:
    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}") as store:
        store.create_schema()
        yield store


def _store_drift(lake: Lake, day: date, score: float, drifted: str) -> None:
    summary = pd.DataFrame(
        {
            "partition_date": [day.isoformat()],
            "overall_score": [score],
            "alarm": [score >= 1],
            "drift_share": [0.25],
            "target_shift": [float("nan")],
            "top_features": [drifted],
            "reference": ["champion v2"],
            "html_report": [f"/reports/drift_{day}.html"],
        }
    )
    features = pd.DataFrame({"feature": ["lag_7", "price_ratio", "dow"], "severity": [3, 2, 1]})
    lake.write_partition(DRIFT_TABLE, day, {"data": summary, "features": features})


def _report(tmp_path: Path, store: AlertStore) -> IncidentReport:
    lake = Lake(tmp_path / "lake")
    _store_drift(lake, date(2025, 2, 28), 0.4, "")
    _store_drift(lake, date(2025, 3, 1), 1.7, "lag_7")
    store.raise_alert(type="data_drift", severity="warning", title="Drift | lag_7", message="m")
    store.raise_alert(
        type="run_failure", severity="critical", title="daily_cycle_job failed", message="m"
    )
    return build_incident_report(
        generated_at=GENERATED,
        as_of=date(2025, 3, 1),
        lake=lake,
        registry=None,
        alert_store=store,
        runs=RUNS,
        runs_source="test instance",
        health_policy=PerformancePolicy(),
    )


def test_the_csv_parses_back_with_every_section_and_value(
    tmp_path: Path, store: AlertStore
) -> None:
    report = _report(tmp_path, store)
    path = write_atomically(tmp_path / "out" / "report.csv", report.to_csv())
    long = pd.read_csv(path)
    assert list(long.columns) == ["section", "row", "field", "value"]
    assert list(dict.fromkeys(long["section"])) == list(SECTIONS)
    sections = IncidentReport.from_csv(path).sections
    report_row = sections["report"].iloc[0]
    assert report_row["generated_at"] == GENERATED.isoformat()
    assert report_row["runs_source"] == "test instance"
    assert pd.isna(sections["report"]["model"].item())  # no registry yet: unknown, not "None"
    drift = sections["drift"].iloc[0]
    assert (drift["day"], drift["overall_score"], drift["alarm"]) == ("2025-03-01", "1.7", "True")
    assert pd.isna(drift["target_shift"])
    assert drift["drifted_features"] == "lag_7"
    runs = sections["recent_runs"]
    assert list(runs["run_id"]) == ["b2", "a1"]
    assert runs["ended_at"].iloc[0] == "2025-03-02T06:09:30+00:00"
    assert pd.isna(runs["partition"].iloc[1]) and pd.isna(runs["started_at"].iloc[1])
    alerts = sections["open_alerts"]
    assert list(alerts["severity"]) == ["critical", "warning"]
    assert alerts["title"].iloc[1] == "Drift | lag_7"
    assert sections["open_alert_counts"].iloc[0].to_dict() == {
        "critical": "1",
        "warning": "1",
        "info": "0",
        "total": "2",
    }
    assert sections["promotions"].empty  # listed, with no rows
    assert ("promotions", "", "", "") in [
        tuple("" if pd.isna(v) else v for v in row) for row in long.itertuples(index=False)
    ]


def test_the_markdown_has_every_section_and_escapes_table_cells(
    tmp_path: Path, store: AlertStore
) -> None:
    text = _report(tmp_path, store).to_markdown()
    headings = [line.removeprefix("## ") for line in text.splitlines() if line.startswith("## ")]
    assert headings == list(SECTIONS.values())
    assert "| overall_score | 1.7 |" in text
    assert "Drift \\| lag_7" in text
    assert "| daily_cycle_job | 2025-03-01 | FAILURE | 2025-03-02 06:00:00 UTC |" in text
    promotions = text.split("## Promotions", 1)[1]
    assert promotions.strip() == "_(none)_"


def test_latest_drift_reads_the_newest_day_on_or_before_a_date(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    assert latest_drift(lake) is None
    _store_drift(lake, date(2025, 2, 28), 0.4, "")
    _store_drift(lake, date(2025, 3, 1), 1.7, "lag_7")
    newest = latest_drift(lake)
    assert newest is not None and newest["day"] == "2025-03-01" and newest["alarm"] is True
    assert newest["top_features"] == ["lag_7", "price_ratio", "dow"]
    earlier = latest_drift(lake, as_of=date(2025, 2, 28))
    assert earlier is not None and earlier["drifted_features"] == []
    assert earlier["target_shift"] is None


def test_run_records_round_trip_through_json() -> None:
    assert runs_from_json(runs_to_json(RUNS)) == RUNS
    with pytest.raises(ValueError, match="run records"):
        runs_from_json('[{"job": "x"}]')


def test_a_failed_write_leaves_neither_a_partial_file_nor_the_old_one_damaged(
    tmp_path: Path,
) -> None:
    target = write_atomically(tmp_path / "report.md", "old report\n")
    with pytest.raises(TypeError):
        write_atomically(target, None)  # type: ignore[arg-type]
    assert target.read_text() == "old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    blocked = tmp_path / "report.md" / "inside.md"  # a file where a folder should be
    with pytest.raises(OSError):
        write_atomically(blocked, "text")
