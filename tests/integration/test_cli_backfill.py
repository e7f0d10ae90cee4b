"""The two documented CLI backfills, driven for real in subprocesses."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from forecastops.pipeline.ingest import QUALITY_TABLE, RAW_SALES_TABLE
from forecastops.stores.lake import Lake
from tests.integration.helpers import isolated_env, run, running, wait_for_runs

pytestmark = pytest.mark.slow
DAEMON_DEADLINE_S = 240


def _simulate(env: dict[str, str]) -> None:
    result = run(
        [
            "forecastops",
            "simulate",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-08",
            "--stores",
            "2",
            "--products",
            "3",
        ],
        env,
    )
    assert result.returncode == 0, result.stderr


def test_dg_launch_runs_a_partition_range_in_one_run(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    _simulate(env)
    result = run(
        [
            "dg",
            "launch",
            "--assets",
            "raw_sales,sales_quality_report",
            "--partition-range",
            "2025-01-02...2025-01-06",
        ],
        env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lake = Lake(tmp_path / "lake")
    expected = [f"2025-01-0{d}" for d in range(2, 7)]
    assert [d.isoformat() for d in lake.partition_days(RAW_SALES_TABLE)] == expected
    assert [d.isoformat() for d in lake.partition_days(QUALITY_TABLE)] == expected
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()
        materialized = instance.get_materialized_partitions(dg.AssetKey("sales_quality_report"))
    assert len(runs) == 1
    assert runs[0].tags["dagster/asset_partition_range_start"] == "2025-01-02"
    assert runs[0].tags["dagster/asset_partition_range_end"] == "2025-01-06"
    assert sorted(materialized) == expected


def test_dagster_job_backfill_queues_one_run_per_day_that_the_daemon_executes(
    tmp_path: Path,
) -> None:
    env = isolated_env(tmp_path)
    _simulate(env)
    launched = run(
        [
            "dagster",
            "job",
            "backfill",
            "-w",
            "workspace.yaml",
            "-j",
            "ingest_job",
            "--from",
            "2025-01-03",
            "--to",
            "2025-01-04",
            "--noprompt",
        ],
        env,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    match = re.search(r"Launched backfill job `(\w+)`", launched.stdout + launched.stderr)
    assert match, launched.stdout
    backfill_id = match.group(1)

    with running(["dagster-daemon", "run", "-w", "workspace.yaml"], env, tmp_path / "daemon.log"):
        runs = wait_for_runs(
            env["DAGSTER_HOME"],
            {"dagster/backfill": backfill_id},
            count=2,
            deadline_s=DAEMON_DEADLINE_S,
            log=tmp_path / "daemon.log",
        )
    statuses = {run.tags["dagster/partition"]: run.status.value for run in runs}
    assert statuses == {"2025-01-03": "SUCCESS", "2025-01-04": "SUCCESS"}
    lake = Lake(tmp_path / "lake")
    assert [d.isoformat() for d in lake.partition_days(QUALITY_TABLE)] == [
        "2025-01-03",
        "2025-01-04",
    ]
