"""What survives what: real faults against real stores (docs/operations.md, "What survives
what"). Processes are killed with SIGKILL, nothing is mocked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_jobs.definitions import build_definitions
from forecast_jobs.instance_admin import fail_dead_runs, runs_report
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.ingest import QUALITY_TABLE, RAW_SALES_TABLE
from forecastops.stores.lake import RETIRED_PREFIX, STAGING_PREFIX, Lake
from tests.dagster.pipeline import pipeline_settings
from tests.integration.helpers import BIN, free_port, isolated_env

START = date(2025, 1, 1)
KILL_DEADLINE_S = 300
RETRAIN_DEADLINE_S = 15


def _wait_for(condition: str, check: object, process: subprocess.Popen[bytes]) -> None:
    """Poll `check()` until true; fails if `process` ends first or after `KILL_DEADLINE_S`."""
    deadline = time.monotonic() + KILL_DEADLINE_S
    while not check():  # type: ignore[operator]
        assert process.poll() is None, f"the process ended before {condition}"
        assert time.monotonic() < deadline, f"no {condition} within {KILL_DEADLINE_S} s"
        time.sleep(0.005)


def _failure_text(result: dg.ExecuteInProcessResult, step: str) -> str:
    """The message of `step`'s failure and of every error that caused it."""
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == step, failure.step_key
    data = failure.step_failure_data
    texts, error = [str(data.user_failure_data or "")], data.error  # type: ignore[union-attr]
    while error is not None:
        texts.append(error.message)
        error = error.cause
    return "\n".join(texts)


def _debris(folder: Path) -> list[str]:
    return sorted(child.name for child in folder.iterdir() if child.name.startswith("."))


def test_a_writer_killed_mid_write_leaves_the_old_partition_and_the_next_write_sweeps_up(
    tmp_path: Path,
) -> None:
    """SIGKILL while a partition is being rewritten: readers see the old partition, complete;
    the staging folder it leaves is removed by the next write to the table."""
    lake = Lake(tmp_path / "lake")
    rows = 400_000
    writer = (
        "import sys, pandas as pd, numpy as np\n"
        "from datetime import date\n"
        "from forecastops.stores.lake import Lake\n"
        f"frame = pd.DataFrame({{'x': np.arange({rows}), 'y': np.random.rand({rows})}})\n"
        "lake = Lake(__import__('pathlib').Path(sys.argv[1]))\n"
        "while True:\n"
        "    lake.write_partition('t', date(2025, 1, 1), {'data': frame, 'other': frame})\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer, str(lake.root)])
    try:
        table = lake.table_path("t")
        _wait_for(
            "a rewrite in progress",
            lambda: (
                lake.has_partition("t", START)
                and any(name.startswith(STAGING_PREFIX) for name in _debris(table))
            ),
            process,
        )
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    left = _debris(table)
    assert left, "the killed writer left no staging folder"
    if lake.has_partition("t", START):  # whichever content is visible is complete
        for part in ("data", "other"):
            assert len(lake.read_partition("t", START, part)) == rows
    else:  # killed between the two renames of a swap: the old content waits, retired
        assert any(name.startswith(RETIRED_PREFIX) for name in left), left

    lake.write_partition("t", START + timedelta(days=1), {"data": pd.DataFrame({"x": [1]})})
    assert _debris(table) == []
    for part in ("data", "other"):
        assert len(lake.read_partition("t", START, part)) == rows


@pytest.mark.slow
def test_a_range_ingest_killed_mid_write_leaves_whole_days_and_a_rerun_completes(
    tmp_path: Path,
) -> None:
    """`dg launch` of a year of ingest, SIGKILLed once raw_sales partitions are being written:
    every day it wrote is whole; its run, left STARTED, is found dead (the doctor's check) and
    marked FAILED; running the same range again completes all of them."""
    last = START + timedelta(days=364)
    env = isolated_env(tmp_path)
    write_landing_files(
        SimulationSpec(start=START, end=last, stores=2, products=3, seed=2), tmp_path / "landing"
    )
    command = [
        str(BIN / "dg"),
        "launch",
        "--assets",
        "raw_sales,sales_quality_report",
        "--partition-range",
        f"{START.isoformat()}...{last.isoformat()}",
    ]
    lake = Lake(tmp_path / "lake")
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        command,
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(
            "raw_sales partition", lambda: bool(lake.partition_days(RAW_SALES_TABLE)), process
        )
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    written = lake.partition_days(RAW_SALES_TABLE)
    assert 0 < len(written) < 365, len(written)
    partial = {day: lake.read_partition(RAW_SALES_TABLE, day) for day in written}
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        [killed] = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED  # nothing could record its end
        # what `forecastops doctor` reports and `--fix` repairs
        assert [dead["run_id"] for dead in runs_report(instance)["dead"]] == [killed.run_id]
        assert fail_dead_runs(instance) == [killed.run_id]
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]

    rerun = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    days = [START + timedelta(days=offset) for offset in range(365)]
    assert lake.partition_days(RAW_SALES_TABLE) == days
    assert lake.partition_days(QUALITY_TABLE) == days
    for day, frame in partial.items():  # what the killed run wrote was whole: the rerun agrees
        pd.testing.assert_frame_equal(frame, lake.read_partition(RAW_SALES_TABLE, day))
    for table in (RAW_SALES_TABLE, QUALITY_TABLE):
        assert _debris(lake.table_path(table)) == []


def test_an_unwritable_lake_fails_ingest_naming_the_setting_and_writes_nothing(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file: no folder can be made below it, even by root")
    settings = pipeline_settings(tmp_path).model_copy(update={"lake_dir": blocker / "lake"})
    write_landing_files(
        SimulationSpec(start=START, end=START + timedelta(days=2), stores=1, products=2, seed=1),
        settings.landing_path,
    )
    job = build_definitions(settings).resolve_job_def("ingest_job")
    with dg.instance_for_test() as instance:
        result = execute_partition_range(
            job, START, START + timedelta(days=2), instance, raise_on_error=False
        )
        materialized = instance.get_materialized_partitions(dg.AssetKey("raw_sales"))
    assert not result.success
    message = _failure_text(result, "raw_sales")
    assert "FORECASTOPS_LAKE_DIR" in message and str(blocker / "lake") in message, message
    assert "nothing was written" in message
    assert materialized == set()
    assert blocker.read_text().startswith("a regular file")


def test_mlflow_unreachable_fails_the_retrain_before_training_naming_the_masked_uri(
    tmp_path: Path,
) -> None:
    """An http:// tracking URI to a closed port, with a password: the retrain fails within
    seconds at its connectivity check, before training, and the password is never shown."""
    port = free_port()  # nothing listens on it
    uri = f"http://forecaster:s3cret-pw@127.0.0.1:{port}"
    cutoff = START + timedelta(days=149)
    settings = pipeline_settings(tmp_path)
    write_landing_files(
        SimulationSpec(start=START, end=cutoff, stores=2, products=3, seed=4),
        settings.landing_path,
    )
    with dg.instance_for_test() as instance:
        ingest = execute_partition_range(
            build_definitions(settings).resolve_job_def("ingest_job"), START, cutoff, instance
        )
        assert ingest.success
        down = settings.model_copy(update={"mlflow_tracking_uri": uri})
        job = build_definitions(down).resolve_job_def("retrain_job")
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance, partition_key=cutoff.isoformat(), raise_on_error=False
        )
        elapsed = time.monotonic() - started
    assert not result.success
    assert elapsed < RETRAIN_DEADLINE_S, f"the retrain took {elapsed:.1f} s to fail"
    text = _failure_text(result, "backtest")  # the first step that would fit a model
    assert f"MLFLOW_TRACKING_URI=http://forecaster:***@127.0.0.1:{port}" in text, text
    assert "nothing was trained or registered" in text
    assert "s3cret-pw" not in "".join(str(event) for event in result.all_events)
    materialized = {
        event.asset_key.to_user_string()
        for event in result.all_events
        if event.is_step_materialization and event.asset_key
    }
    assert materialized == {"sales_features"}  # no backtest, no challenger, no alias moved
