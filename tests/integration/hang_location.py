"""A code location for the doctor's tests: one job whose only op waits (up to ten minutes), so
its run stays STARTED until a test kills the run worker with SIGKILL."""

import time

import dagster as dg

WAIT_S = 600


@dg.op
def wait() -> None:
    # The workload of the run, not a synchronisation: the test kills this process.
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        time.sleep(1)


@dg.job
def hang_job() -> None:
    wait()


defs = dg.Definitions(jobs=[hang_job])
