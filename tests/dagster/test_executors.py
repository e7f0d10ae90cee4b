"""FORECASTOPS_EXECUTOR picks the executor of every job of the code location, as a process that
loads it (the webserver, the daemon, a run, a worker) sees it: a fresh interpreter per case (a
process builds its Definitions once; the module-level jobs keep the first executor they get)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from forecastops.domain.runs import DAILY_CYCLE_JOB, RETRAIN_JOB

JOBS = (RETRAIN_JOB, DAILY_CYCLE_JOB)
PRINT_EXECUTORS = (
    "from forecast_jobs.definitions import defs; "
    f"print(*(defs.resolve_job_def(j).executor_def.name for j in {JOBS!r}))"
)


@pytest.mark.parametrize(
    ("executor", "name"),
    [
        ("multiprocess", "multi_or_in_process_executor"),
        ("in_process", "in_process"),
        ("celery", "celery"),
    ],
)
def test_the_setting_picks_the_asset_jobs_executor(executor: str, name: str) -> None:
    env = {
        **os.environ,
        "FORECASTOPS_EXECUTOR": executor,
        "FORECASTOPS_CELERY_BROKER_URL": "redis://:pw@127.0.0.1:6379/5",
    }
    shown = subprocess.run(
        [sys.executable, "-c", PRINT_EXECUTORS], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == [name, name]
