"""`forecastops repair --date D` (decision 0020): refused for a day without a passing delivery;
for a re-delivered day it queues the retrain of the newest stale cutoff and the monitoring of the
stale days as backfills tagged with the day, and actions the day's contract_break alert naming
them."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecastops.domain.alerts import AlertStatus, AlertType, Severity
from forecastops.domain.runs import REPAIR_TAG
from forecastops.ops.cli import app
from forecastops.pipeline.alerts import contract_break_key
from forecastops.pipeline.cycle import FEATURES_TABLE
from forecastops.pipeline.ingest import CONTRACT_TABLE, RAW_SALES_TABLE
from forecastops.pipeline.monitoring import DRIFT_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.settings import Settings
from tests.integration.helpers import isolated_env, run

GAP = date(2025, 3, 1)
STALE = GAP + timedelta(days=3)
FRAME = {"data": pd.DataFrame({"x": [1]})}


def _home(home: Path, delivered: bool) -> int:
    """A lake whose STALE cutoff and drift score were computed before GAP was delivered (if
    `delivered`), and GAP's open contract_break alert; the alert's id."""
    settings = Settings(home=home)
    lake = Lake(settings.lake_path)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    for table in (FEATURES_TABLE, DRIFT_TABLE):
        path = lake.write_partition(table, STALE, FRAME)
        for file in [path, *path.rglob("*")]:
            os.utime(file, (an_hour_ago, an_hour_ago))
    if delivered:
        lake.write_partition(RAW_SALES_TABLE, GAP, FRAME)
        record = {
            "passed": [True],
            "source_sha256": ["cd" * 32],
            "checked_at": [datetime.now(UTC).isoformat()],
        }
        lake.write_partition(CONTRACT_TABLE, GAP, {"data": pd.DataFrame(record)})
    with AlertStore(settings.alerts_url) as store:
        store.create_schema()
        return store.raise_alert(
            type=AlertType.CONTRACT_BREAK,
            severity=Severity.CRITICAL,
            title=f"Landing file for {GAP} breaks the sales contract",
            message="",
            subject=f"raw_sales/{GAP}",
            dedup_key=contract_break_key(GAP),
        ).id


def test_a_day_without_a_passing_delivery_is_refused(tmp_path: Path) -> None:
    alert_id = _home(tmp_path, delivered=False)
    result = CliRunner().invoke(
        app,
        ["repair", "--date", GAP.isoformat()],
        env={"FORECASTOPS_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")},
    )
    assert result.exit_code == 1
    assert "no delivery that passed the contract" in result.output
    assert "Nothing was queued." in result.output
    with AlertStore(Settings(home=tmp_path).alerts_url) as store:
        assert store.get(alert_id).status is AlertStatus.UNREAD


def test_a_dry_run_prints_the_plan_and_changes_nothing(tmp_path: Path) -> None:
    alert_id = _home(tmp_path, delivered=True)
    result = CliRunner().invoke(
        app,
        ["repair", "--date", GAP.isoformat(), "--dry-run"],
        env={"FORECASTOPS_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")},
    )
    assert result.exit_code == 0, result.output
    assert f"retrain_job for cutoff {STALE}" in result.output
    assert f"drift_score and model_health for {STALE}" in result.output
    assert not (tmp_path / "dagster").exists()
    with AlertStore(Settings(home=tmp_path).alerts_url) as store:
        assert store.get(alert_id).status is AlertStatus.UNREAD


@pytest.mark.slow
def test_repair_queues_the_retrain_and_monitoring_and_actions_the_alert(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    alert_id = _home(tmp_path, delivered=True)
    result = run(["forecastops", "repair", "--date", GAP.isoformat()], env)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    backfills = dict(re.findall(r"Queued (\w+) backfill (\w+)", result.stdout))
    assert set(backfills) == {"retrain_job", "monitoring_job"}, result.stdout
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        for job, backfill_id in backfills.items():
            [queued] = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            assert queued.job_name == job
            assert queued.tags["dagster/partition"] == STALE.isoformat()
            assert queued.tags[REPAIR_TAG] == GAP.isoformat()
    with AlertStore(Settings(home=tmp_path).alerts_url) as store:
        alert = store.get(alert_id)
    assert alert.status is AlertStatus.ACTIONED
    assert all(backfill_id in (alert.notes or "") for backfill_id in backfills.values())
