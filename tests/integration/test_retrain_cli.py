"""`forecastops retrain`: every bad flag is refused before anything is queued; the real command,
and approving an alert that recommends a retrain, queue a `retrain_job` backfill in the
instance (an approved drift alert's run tagged as drift_retrain_sensor tags its own, and the
sensor then does not retrain the day again). The daemon executing such backfills is covered by
test_cli_backfill.py."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from forecastops.domain.alerts import AlertStatus, AlertType, Severity
from forecastops.domain.runs import (
    ALERT_IDS_TAG,
    EXPERIMENT_OBJECTIVE_TAG,
    EXPERIMENT_RUN_TAG,
    EXPERIMENT_WINDOW_TAG,
    TRIGGER_TAG,
)
from forecastops.domain.triggers import DATA_DRIFT
from forecastops.ops.cli import app
from forecastops.pipeline.alerts import drift_alert_key, retrain_recommendation
from forecastops.pipeline.ingest import CONTRACT_TABLE
from forecastops.pipeline.monitoring import DRIFT_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from resources.alerts import AlertStoreResource
from resources.policies import MonitoringPolicy
from resources.storage import LakeStorage
from sensors.drift_retrain import drift_retrain_sensor
from tests.integration.helpers import isolated_env, run

runner = CliRunner()


def invoke(home: Path, *args: str) -> Result:
    return runner.invoke(
        app,
        ["retrain", *args],
        env={"FORECASTOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")},
    )


def text(result: Result) -> str:
    """The output with the error box drawn around it removed and whitespace collapsed."""
    return " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize(
    ("args", "named", "says"),
    [
        ([], "--from", "give --from and --to"),
        (["--from", "2025-01-03"], "--to", "give --from and --to"),
        (["--to", "2025-01-03"], "--from", "give --from and --to"),
        (["--partitions", "2025-01-03", "--from", "2025-01-02"], "--partitions", "not both"),
        (["--from", "2025/01/03", "--to", "2025-01-04"], "--from", "YYYY-MM-DD"),
        (["--from", "2025-01-03", "--to", "2025-01-32"], "--to", "YYYY-MM-DD"),
        (["--from", "2025-01-04", "--to", "2025-01-03"], "--to", "on or after the first"),
        (["--from", "2024-12-30", "--to", "2025-01-03"], "--from", "FORECASTOPS_START_DATE"),
        (["--from", "2025-01-03", "--to", "2099-01-01"], "--to", "not a partition yet"),
        (["--from", "2025-01-01", "--to", "2026-01-02"], "--to", "more than 366"),
        (["--partitions", "2025-01-03,,2025-01-04"], "--partitions", "empty item"),
        (["--partitions", "2025-01-03 2025-01-04"], "--partitions", "YYYY-MM-DD"),
        (["--partitions", "2099-01-01"], "--partitions", "not a partition yet"),
    ],
)
def test_bad_flags_are_refused_naming_the_flag_and_nothing_is_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], named: str, says: str
) -> None:
    launched: list[Any] = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: launched.append(a))
    result = invoke(tmp_path, *args)
    assert result.exit_code == 2
    assert f"Invalid value for {named}" in text(result)
    assert says in text(result) and "Nothing was queued." in text(result)
    assert launched == []
    assert not (tmp_path / "dagster").exists()


def test_the_help_names_the_backfill_concurrency_limit() -> None:
    help_text = " ".join(runner.invoke(app, ["retrain", "--help"]).output.split())
    assert "dagster/backfill" in help_text and "dagster.yaml" in help_text
    assert "at most 366 days" in help_text


def _backfill(dagster_home: Path, output: str) -> tuple[list[str], dict[str, str]]:
    """The partitions of the backfill the output names, and the status of each of its runs."""
    match = re.search(r"Queued backfill (\w+):", output)
    assert match, output
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        backfill = instance.get_backfill(match.group(1))
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": match.group(1)}))
    assert backfill is not None
    assert backfill.partition_set_origin is not None
    assert backfill.partition_set_origin.partition_set_name == "retrain_job_partition_set"
    return list(backfill.partition_names or []), {
        run.tags["dagster/partition"]: run.status.value for run in runs
    }


@pytest.mark.slow
def test_retrain_queues_one_run_per_day_for_the_daemon(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    result = run(["forecastops", "retrain", "--from", "2025-01-03", "--to", "2025-01-04"], env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    partitions, runs = _backfill(tmp_path / "dagster", result.stdout)
    assert partitions == ["2025-01-03", "2025-01-04"]
    assert runs == {"2025-01-03": "QUEUED", "2025-01-04": "QUEUED"}


@pytest.mark.slow
def test_approving_an_alert_queues_the_retrain_it_recommends(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}") as store:
        store.create_schema()
        alert = store.raise_alert(
            type=AlertType.RUN_FAILURE,
            severity=Severity.CRITICAL,
            title="retrain_job failed for partition 2025-01-05",
            message="",
            recommendation={"action": "retrain", "partition": "2025-01-05"},
        )
        result = run(["forecastops", "alerts", "action", str(alert.id), "--approve"], env)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        assert store.get(alert.id).status is AlertStatus.ACTIONED
    partitions, runs = _backfill(tmp_path / "dagster", result.stdout)
    assert partitions == ["2025-01-05"]
    assert runs == {"2025-01-05": "QUEUED"}


@pytest.mark.slow
def test_an_approved_drift_alert_is_retrained_once_not_again_by_the_sensor(
    tmp_path: Path,
) -> None:
    day = date(2025, 1, 5)
    env = isolated_env(tmp_path)
    lake = Lake(tmp_path / "lake")  # the drift score drift_score stored for the day: it alarms
    lake.write_partition(
        DRIFT_TABLE, day, {"data": pd.DataFrame({"overall_score": [1.4], "top_features": ["x"]})}
    )
    lake.write_partition(CONTRACT_TABLE, day, {"data": pd.DataFrame({"passed": [True]})})
    alerts_url = f"sqlite:///{tmp_path / 'alerts.db'}"
    with AlertStore(alerts_url) as store:
        store.create_schema()
        alert = store.raise_alert(
            type=AlertType.DATA_DRIFT,
            severity=Severity.WARNING,
            title=f"Data drift on {day}",
            message="",
            dedup_key=drift_alert_key(DATA_DRIFT, day),
            recommendation=retrain_recommendation(day),
        )
        result = run(["forecastops", "alerts", "action", str(alert.id), "--approve"], env)
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        approved = store.get(alert.id)
    assert approved.status is AlertStatus.ACTIONED

    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        tick = drift_retrain_sensor(
            dg.build_sensor_context(
                instance=instance,
                resources={
                    "storage": LakeStorage(root=str(tmp_path / "lake")),
                    "alert_store": AlertStoreResource(url=alerts_url),
                    "monitoring": MonitoringPolicy(),
                },
            )
        )
        [retrain] = instance.get_runs(
            dg.RunsFilter(job_name="retrain_job", tags={"dagster/partition": day.isoformat()})
        )
    assert isinstance(tick, dg.SensorResult) and not tick.run_requests
    assert tick.skip_reason is not None
    assert f"approved by {approved.actor}" in (tick.skip_reason.skip_message or "")
    # the one retrain of the day is the approval's, tagged as the sensor tags its own
    assert retrain.tags[TRIGGER_TAG] == DATA_DRIFT
    assert retrain.tags[ALERT_IDS_TAG] == str(alert.id)
    assert "dagster/backfill" in retrain.tags


@pytest.mark.slow
def test_starting_an_experiment_queues_its_retrain_tagged_with_its_configuration(
    tmp_path: Path,
) -> None:
    from forecastops.pipeline.experiments import experiment_config
    from forecastops.stores.alerts.experiments import ExperimentStore
    from forecastops.stores.settings import PolicySettings

    env = isolated_env(tmp_path)
    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}") as alerts:
        alerts.create_schema()
        store = ExperimentStore(alerts)
        experiment = store.propose(
            title="Poisson",
            hypothesis="Poisson fits the sparse products better.",
            proposer="alice",
            config=experiment_config(PolicySettings(), objective="poisson"),
            test_period_days=14,
        )
        store.approve(experiment.id, "bob")
        result = run(
            ["forecastops", "experiments", "start", str(experiment.id), "--date", "2025-01-06"],
            env,
        )
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]
        started = store.get(experiment.id)
    match = re.search(r"queued as backfill (\w+)", result.stdout)
    assert match, result.stdout
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        [queued] = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": match.group(1)}))
    assert queued.status.value == "QUEUED"
    assert queued.tags[EXPERIMENT_RUN_TAG] == str(experiment.id)
    assert queued.tags[EXPERIMENT_OBJECTIVE_TAG] == "poisson"
    assert queued.tags[EXPERIMENT_WINDOW_TAG] == "120"  # the setting's default window
    assert queued.tags["dagster/partition"] == "2025-01-06"
    assert started.status == "in_progress"
    assert started.events[-1].notes == (
        f"retrain_job of 2025-01-06 queued as backfill {match.group(1)}"
    )
