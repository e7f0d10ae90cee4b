"""Running a job over a range of partitions in one run, as `dg launch --partition-range` does."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import dagster as dg


def execute_partition_range(
    job: dg.JobDefinition,
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Execute `job` in this process for the days `first`..`last` as one single-run backfill."""
    # The range tags are how Dagster itself marks a single-run backfill; there is no public
    # argument for a partition range on execute_in_process.
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    return job.execute_in_process(
        instance=instance,
        raise_on_error=raise_on_error,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: first.isoformat(),
            ASSET_PARTITION_RANGE_END_TAG: last.isoformat(),
        },
    )
