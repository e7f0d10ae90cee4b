"""The newest Dagster runs of an instance as plain
`forecastops.pipeline.incident_report.RunRecord`s.

The `incident_report` asset calls `recent_runs` with its own instance. `forecastops report`
(which never imports Dagster) runs `python -m forecast_assets.run_history --json --limit N` in a
subprocess with `DAGSTER_HOME` set, and parses the JSON list it prints (docs/decisions/0006).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

from forecastops.domain.runs import run_partition
from forecastops.pipeline.incident_report import MAX_RUNS, RunRecord, runs_to_json


def _time(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def recent_runs(instance: dg.DagsterInstance, limit: int = MAX_RUNS) -> list[RunRecord]:
    """The `limit` newest runs of `instance`, newest first."""
    return [
        RunRecord(
            run_id=record.dagster_run.run_id,
            job=record.dagster_run.job_name,
            status=record.dagster_run.status.value,
            partition=run_partition(dict(record.dagster_run.tags)),
            started_at=_time(record.start_time),
            ended_at=_time(record.end_time),
        )
        for record in instance.get_run_records(limit=limit)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m forecast_assets.run_history",
        description="Print the newest runs of the Dagster instance at DAGSTER_HOME.",
    )
    parser.add_argument("--json", action="store_true", required=True, help="Print JSON.")
    parser.add_argument("--limit", type=int, default=MAX_RUNS, help="How many runs.")
    arguments = parser.parse_args(argv)
    if arguments.limit < 1:
        parser.error(f"--limit must be >= 1, got {arguments.limit}")
    with dg.DagsterInstance.get() as instance:
        sys.stdout.write(runs_to_json(recent_runs(instance, arguments.limit)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
