"""Racing alert transitions from many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from forecastops.alerts import Alert, AlertTransitionError

WORKERS = 8


def race(attempt: Callable[[int], Alert]) -> tuple[list[Alert], list[AlertTransitionError]]:
    """Run `attempt(worker)` in WORKERS threads released at the same instant.

    Returns the alerts of the attempts that succeeded and the transition errors of those that
    lost; any other exception (e.g. "database is locked") propagates and fails the test.
    """
    barrier = threading.Barrier(WORKERS)

    def run(worker: int) -> Alert:
        barrier.wait(timeout=10)
        return attempt(worker)

    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(run, worker) for worker in range(WORKERS)]
    wins: list[Alert] = []
    losses: list[AlertTransitionError] = []
    for future in futures:
        try:
            wins.append(future.result())
        except AlertTransitionError as error:
            losses.append(error)
    return wins, losses
