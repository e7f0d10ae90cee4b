"""The newest Dagster runs of an instance as plain `forecastops.reports.RunRecord`s.

The `incident_report` asset calls `recent_runs` with its own instance. `forecastops report`
(which never imports Dagster) runs `python -m forecast_jobs.run_history --json --limit N` in a
subprocess with `DAGSTER_HOME` set, and parses the JSON list it prints (docs/decisions/0006).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg

# A run's partition (or single-run backfill range) is in these system tags; Dagster has no
# public accessor for them on a run.
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from forecastops.reports import MAX_RUNS, RunRecord, runs_to_json


def _time(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def _partition(tags: dict[str, str]) -> str | None:
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG]
    if ASSET_PARTITION_RANGE_START_TAG in tags:
        first, last = tags[ASSET_PARTITION_RANGE_START_TAG], tags.get(ASSET_PARTITION_RANGE_END_TAG)
        return f"{first}..{last}"
    return None


def recent_runs(instance: dg.DagsterInstance, limit: int = MAX_RUNS) -> list[RunRecord]:
    """The `limit` newest runs of `instance`, newest first."""
    return [
        RunRecord(
            run_id=record.dagster_run.run_id,
            job=record.dagster_run.job_name,
            status=record.dagster_run.status.value,
            partition=_partition(dict(record.dagster_run.tags)),
            started_at=_time(record.start_time),
            ended_at=_time(record.end_time),
        )
        for record in instance.get_run_records(limit=limit)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m forecast_jobs.run_history",
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
