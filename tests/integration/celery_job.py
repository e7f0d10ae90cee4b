"""A job for tests/integration/test_celery.py, imported by name by the dagster-celery workers.

Its two steps are independent and meet: each announces itself in the folder
`FORECASTOPS_TEST_RENDEZVOUS` and waits for the other. A worker runs one step at a time
(`--concurrency=1`), so the job only succeeds when two workers each took one step; one worker
taking both would wait out `MEET_TIMEOUT_S` and fail the step."""

import os
import time
from pathlib import Path

import dagster as dg

MEET_TIMEOUT_S = 120
STEPS = ("meet_a", "meet_b")


def _meet(context: dg.OpExecutionContext, me: str, other: str) -> None:
    folder = Path(os.environ["FORECASTOPS_TEST_RENDEZVOUS"])
    (folder / me).write_text(str(os.getpid()))
    context.log.info(f"step {me} runs in pid {os.getpid()}")
    deadline = time.monotonic() + MEET_TIMEOUT_S
    while not (folder / other).exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{other} never started beside {me}: one worker took both steps")
        time.sleep(0.1)


@dg.op
def meet_a(context: dg.OpExecutionContext) -> None:
    _meet(context, "meet_a", "meet_b")


@dg.op
def meet_b(context: dg.OpExecutionContext) -> None:
    _meet(context, "meet_b", "meet_a")


def rendezvous_job() -> dg.JobDefinition:
    """The job with the executor of the environment's settings (the test selects celery)."""
    from forecast_jobs.executors import build_executor
    from forecastops.stores.settings import load_settings

    @dg.job(executor_def=build_executor(load_settings()))
    def rendezvous() -> None:
        meet_a()
        meet_b()

    return rendezvous


def ingest_job() -> dg.JobDefinition:
    """The code location's ingest_job, as a run process and the workers load it."""
    from forecast_jobs.definitions import defs
    from forecastops.domain.runs import INGEST_JOB

    return defs.resolve_job_def(INGEST_JOB)
