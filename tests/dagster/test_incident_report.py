"""The incident report and the champion's health view on a real small pipeline: ingest, one
retrain, drifted demand afterwards, alerts in the store; then the monitoring part of the
daily cycle. The report must parse back and say what the lake, registry, store and instance
hold; `forecastops report` and `forecastops status` must say the same from a shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_assets.monitoring import drift_score, model_health
from forecast_assets.reports import incident_report
from forecastops.domain.performance import HEALTH_FIELDS, TRENDS
from forecastops.domain.runs import PARTITION_RANGE_SEPARATOR
from forecastops.pipeline.incident_report import SECTIONS, IncidentReport
from forecastops.pipeline.monitoring import PERFORMANCE_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from tests.dagster.pipeline import (
    DRIFT_START,
    DRIFT_TRAINED_AT,
    DRIFTED_DAY,
    ingest_and_train_champion,
    pipeline_definitions,
    pipeline_settings,
    tracking_uri,
    write_drifted_landing,
)
from tests.integration.helpers import isolated_env, run

pytestmark = pytest.mark.slow

START = DRIFT_START
TRAINED_AT = DRIFT_TRAINED_AT
HEALTH_DAY = DRIFTED_DAY
EARLIER_HEALTH_DAY = HEALTH_DAY - timedelta(days=4)
OPEN_ALERTS = {"critical": 3, "warning": 2, "info": 1, "total": 6}
"""Open after the cycle: the fixture's run_failure (critical) and data_drift (warning), and the
pipeline's own: performance_drift (critical) on both health days, data_drift (warning) on
HEALTH_DAY, promotion (info) of v1."""
OPEN_SEVERITIES = ["critical"] * 3 + ["warning"] * 2 + ["info"]


@dataclass(frozen=True)
class Cycle:
    workdir: Path
    dagster_home: Path
    markdown_file: Path
    csv_file: Path
    report_metadata: dict[str, dg.MetadataValue]
    health_metadata: dict[str, dg.MetadataValue]
    ingest_run_id: str
    retrain_run_id: str
    cycle_run_id: str
    alert_ids: dict[str, int]
    """critical, warning, dismissed -> id"""


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, dg.MetadataValue]:
    [event] = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key == dg.AssetKey(asset)
    ]
    return dict(event.metadata)


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cycle]:
    workdir = tmp_path_factory.mktemp("incident")
    write_drifted_landing(workdir, stores=2, products=8)
    defs = pipeline_definitions(workdir)
    with AlertStore(pipeline_settings(workdir).alerts_url) as store:
        store.create_schema()
        warning = store.raise_alert(
            type="data_drift", severity="warning", title="Drift on price", message="m"
        )
        critical = store.raise_alert(
            type="run_failure", severity="critical", title="retrain_job failed", message="m"
        )
        dismissed = store.raise_alert(
            type="promotion", severity="info", title="Promoted v1", message="m"
        )
        store.dismiss(dismissed.id, "tester", "seen")
    dagster_home = workdir / "instance"  # not workdir/dagster, where isolated_env copies a config
    dagster_home.mkdir()
    with dg.instance_for_test(temp_dir=str(dagster_home)) as instance:
        ingest, retrain = ingest_and_train_champion(defs, instance)
        dg.materialize(
            [model_health],
            partition_key=EARLIER_HEALTH_DAY.isoformat(),
            instance=instance,
            resources=defs.resources,
        )
        daily = defs.resolve_job_def("daily_cycle_job").execute_in_process(
            instance=instance,
            partition_key=HEALTH_DAY.isoformat(),
            asset_selection=[a.key for a in (drift_score, model_health, incident_report)],
        )
    assert ingest.success and retrain.success and daily.success
    report_metadata = _metadata(daily, "incident_report")
    yield Cycle(
        workdir=workdir,
        dagster_home=dagster_home,
        markdown_file=Path(str(report_metadata["markdown_file"].value)),
        csv_file=Path(str(report_metadata["csv_file"].value)),
        report_metadata=report_metadata,
        health_metadata=_metadata(daily, "model_health"),
        ingest_run_id=ingest.run_id,
        retrain_run_id=retrain.run_id,
        cycle_run_id=daily.run_id,
        alert_ids={"critical": critical.id, "warning": warning.id, "dismissed": dismissed.id},
    )


def test_the_report_files_are_written_under_the_reports_folder(cycle: Cycle) -> None:
    reports = cycle.workdir / "reports"
    assert cycle.markdown_file.parent == reports and cycle.csv_file.parent == reports
    assert cycle.markdown_file.stem == cycle.csv_file.stem
    assert cycle.markdown_file.stem.startswith("incident_report_")
    assert not list(reports.glob(".*.tmp"))  # the atomic writes left no temporary file
    assert cycle.markdown_file.read_text() == cycle.report_metadata["report"].value


def test_the_markdown_has_every_section_in_order(cycle: Cycle) -> None:
    text = cycle.markdown_file.read_text()
    headings = [line.removeprefix("## ") for line in text.splitlines() if line.startswith("## ")]
    assert text.startswith("# ForecastOps incident report")
    assert headings == list(SECTIONS.values())
    assert "retrain_job failed" in text and "Promoted v1" not in text


def test_the_csv_parses_back_into_every_section(cycle: Cycle) -> None:
    long = pd.read_csv(cycle.csv_file)
    assert list(long.columns) == ["section", "row", "field", "value"]
    assert list(dict.fromkeys(long["section"])) == list(SECTIONS)
    sections = IncidentReport.from_csv(cycle.csv_file).sections
    assert set(sections) == set(SECTIONS)
    assert sections["report"]["model"].item() == pipeline_settings(cycle.workdir).model_name


def _stored_health(cycle: Cycle) -> dict[str, object]:
    """The `model_performance` record model_health stored for HEALTH_DAY, as JSON values."""
    stored = Lake(cycle.workdir / "lake").read_partition(PERFORMANCE_TABLE, HEALTH_DAY)
    record = json.loads(stored[list(HEALTH_FIELDS)].to_json(orient="records"))[0]
    return {name: record[name] for name in HEALTH_FIELDS}


def test_the_report_shows_the_champion_and_its_performance_drift(cycle: Cycle) -> None:
    health = IncidentReport.from_csv(cycle.csv_file).sections["model_health"].iloc[0]
    registry = ModelRegistry(tracking_uri(cycle.workdir))
    assert health["champion_version"] == registry.alias_version("champion") == "1"
    assert health["champion_training_cutoff"] == TRAINED_AT.isoformat()
    stored = _stored_health(cycle)
    # the daily cycle's report speaks for its run's day, with model_health's numbers
    assert health["as_of"] == stored["as_of"] == HEALTH_DAY.isoformat()
    assert health["model_status"] == stored["model_status"] == "drifting"
    assert float(health["overall_degradation"]) == pytest.approx(stored["overall_degradation"])
    assert float(health["wape_7d"]) == pytest.approx(stored["wape_7d"])
    assert float(health["mae_7d"]) == pytest.approx(stored["mae_7d"])
    assert float(health["wape_7d"]) > 0 and float(health["mae_7d"]) > 0
    assert health["trend"] == stored["trend"] and health["trend"] in TRENDS


def test_forecastops_status_prints_the_health_model_health_stored(cycle: Cycle) -> None:
    result = run(
        ["forecastops", "status", "--as-of", HEALTH_DAY.isoformat(), "--format", "json"],
        _shell_env(cycle),
    )
    assert result.returncode == 0, result.stderr
    champion = json.loads(result.stdout)["champion"]
    printed = {name: champion[name] for name in HEALTH_FIELDS}
    stored = _stored_health(cycle)
    assert printed.keys() == stored.keys()
    for name, value in stored.items():
        assert printed[name] == (pytest.approx(value) if isinstance(value, float) else value), name
    assert printed["model_status"] == "drifting"


def test_the_report_shows_the_days_drift_score(cycle: Cycle) -> None:
    drift = IncidentReport.from_csv(cycle.csv_file).sections["drift"].iloc[0]
    assert drift["day"] == HEALTH_DAY.isoformat()
    stored = Lake(cycle.workdir / "lake").read_partition("drift_score", HEALTH_DAY)
    assert drift["alarm"] == "True" == str(stored["alarm"].item())
    assert float(drift["overall_score"]) == pytest.approx(stored["overall_score"].item())
    assert float(drift["drift_share"]) == pytest.approx(stored["drift_share"].item())
    features = Lake(cycle.workdir / "lake").read_partition("drift_score", HEALTH_DAY, "features")
    assert drift["top_features"].split(",") == list(features["feature"].head(5))
    assert Path(drift["html_report"]).is_file()


def test_the_report_lists_open_alerts_critical_first_and_counts_them(cycle: Cycle) -> None:
    sections = IncidentReport.from_csv(cycle.csv_file).sections
    counts = sections["open_alert_counts"].iloc[0]
    assert {name: int(counts[name]) for name in OPEN_ALERTS} == OPEN_ALERTS
    alerts = sections["open_alerts"]
    assert list(alerts["severity"]) == OPEN_SEVERITIES
    ids = list(alerts["id"].astype(int))
    assert cycle.alert_ids["critical"] in ids[:3] and cycle.alert_ids["warning"] in ids[3:5]
    assert cycle.alert_ids["dismissed"] not in ids
    assert cycle.report_metadata["open_alerts"].value == OPEN_ALERTS["total"]


def test_the_report_lists_the_runs_of_the_instance_newest_first(cycle: Cycle) -> None:
    runs = IncidentReport.from_csv(cycle.csv_file).sections["recent_runs"]
    by_id = runs.set_index("run_id")
    assert runs["run_id"].iloc[0] == cycle.cycle_run_id
    assert by_id.loc[cycle.cycle_run_id, "status"] == "STARTED"  # the report ran inside it
    assert by_id.loc[cycle.cycle_run_id, "partition"] == HEALTH_DAY.isoformat()
    assert by_id.loc[cycle.retrain_run_id, "job"] == "retrain_job"
    assert by_id.loc[cycle.retrain_run_id, "status"] == "SUCCESS"
    assert by_id.loc[cycle.retrain_run_id, "partition"] == TRAINED_AT.isoformat()
    assert (
        by_id.loc[cycle.ingest_run_id, "partition"]
        == f"{START}{PARTITION_RANGE_SEPARATOR}{HEALTH_DAY}"
    )
    started = pd.to_datetime(by_id.loc[cycle.retrain_run_id, "started_at"])
    ended = pd.to_datetime(by_id.loc[cycle.retrain_run_id, "ended_at"])
    assert started < ended


def test_the_report_lists_the_promotions_of_the_alias_history(cycle: Cycle) -> None:
    promotions = IncidentReport.from_csv(cycle.csv_file).sections["promotions"]
    champion = promotions[promotions["alias"] == "champion"]
    assert list(champion["change"]) == ["none -> 1"]


def test_model_health_shows_the_trend_the_open_alerts_and_a_plot(cycle: Cycle) -> None:
    metadata = cycle.health_metadata
    assert metadata["trend"].value in TRENDS
    assert metadata["model_status"].value == "drifting"
    assert metadata["wape_7d"].value == pytest.approx(_stored_health(cycle)["wape_7d"])
    assert metadata["open_alerts"].value == OPEN_ALERTS["total"]
    assert metadata["open_alerts_by_severity"].value == OPEN_ALERTS
    assert str(metadata["trend_plot"].value).startswith("![champion v1 realized accuracy](data:")
    assert (cycle.workdir / "reports" / f"model_health_{HEALTH_DAY}.png").is_file()


def test_the_performance_history_holds_each_scored_days_7_day_accuracy(cycle: Cycle) -> None:
    from forecastops.pipeline.monitoring import performance_history

    history = performance_history(Lake(cycle.workdir / "lake"), "1")
    assert list(history["partition_date"].dt.date) == [EARLIER_HEALTH_DAY, HEALTH_DAY]
    assert history["mae_7d"].notna().all() and history["wape_7d"].notna().all()


def _shell_env(cycle: Cycle) -> dict[str, str]:
    env = isolated_env(cycle.workdir, MLFLOW_TRACKING_URI=tracking_uri(cycle.workdir))
    env["DAGSTER_HOME"] = str(cycle.dagster_home)
    return env


def test_forecastops_report_writes_the_same_report_from_a_shell(
    cycle: Cycle, tmp_path: Path
) -> None:
    out = tmp_path / "exports" / "incident.csv"
    result = run(["forecastops", "report", "--format", "csv", "--out", str(out)], _shell_env(cycle))
    assert result.returncode == 0, result.stderr
    assert f"to {out}" in result.stderr
    sections = IncidentReport.from_csv(out).sections
    assert sections["report"]["runs_source"].item().startswith("Dagster instance")
    runs = sections["recent_runs"].set_index("run_id")
    assert runs.loc[cycle.cycle_run_id, "status"] == "SUCCESS"  # it finished after its report
    health = sections["model_health"].iloc[0]
    assert health["champion_version"] == "1"
    # from a shell the report speaks for yesterday; this retailer's actuals ended long before
    assert health["model_status"] == "awaiting_actuals" and pd.isna(health["wape_7d"])
    assert list(sections["open_alerts"]["severity"]) == OPEN_SEVERITIES
    markdown = run(["forecastops", "report"], _shell_env(cycle))
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# ForecastOps incident report")


def test_forecastops_status_shows_the_drift_summary_and_open_alerts(cycle: Cycle) -> None:
    result = run(["forecastops", "status", "--format", "json"], _shell_env(cycle))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["champion"]["version"] == "1"
    assert status["drift"]["day"] == HEALTH_DAY.isoformat()
    assert status["drift"]["alarm"] is True
    assert len(status["drift"]["top_features"]) == 5
    assert status["open_alerts"] == OPEN_ALERTS
