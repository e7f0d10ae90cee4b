"""Alert test helpers: a drift alert builder and racing transitions from many threads at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from forecastops.domain.alerts import Alert, AlertType, Severity
from forecastops.stores.alerts.store import AlertStore, AlertTransitionError

WORKERS = 8


def drift_alert(store: AlertStore, **overrides: Any) -> Alert:
    """Raise a data-drift warning; keyword arguments replace any of its fields."""
    fields: dict[str, Any] = {
        "type": AlertType.DATA_DRIFT,
        "severity": Severity.WARNING,
        "title": "Demand drift in raw_sales 2025-03-01",
        "message": "PSI of `units` is 0.31 (threshold 0.2) against the last 28 days.",
        "links": [{"label": "Dagster run", "url": "http://127.0.0.1:3000/runs/abc"}],
        "subject": "raw_sales/2025-03-01",
        "recommendation": {"action": "retrain", "partition": "2025-03-01"},
    }
    fields.update(overrides)
    return store.raise_alert(**fields)


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
