"""Running jobs in this process: a range of partitions in one run, as `dg launch
--partition-range` does, and the runs a sensor requests on one tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from forecastops.domain.runs import (
    DAGSTER_PARTITION_RANGE_END_TAG,
    DAGSTER_PARTITION_RANGE_START_TAG,
    DAGSTER_RUN_KEY_TAG,
    DAGSTER_SENSOR_NAME_TAG,
)

if TYPE_CHECKING:
    import dagster as dg

QUIET_CONSOLE: Mapping[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""Run config that keeps a run's console log to warnings and errors (its events are stored in
full either way): the demo's, whose own summary is what a reader wants on screen."""


def execute_partition_range(
    job: dg.JobDefinition,
    first: date,
    last: date,
    instance: dg.DagsterInstance,
    raise_on_error: bool = True,
    run_config: Mapping[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Execute `job` in this process for the days `first`..`last` as one single-run backfill."""
    # The range tags are how Dagster itself marks a single-run backfill; there is no public
    # argument for a partition range on execute_in_process.

    return job.execute_in_process(
        instance=instance,
        raise_on_error=raise_on_error,
        run_config=run_config,
        tags={
            DAGSTER_PARTITION_RANGE_START_TAG: first.isoformat(),
            DAGSTER_PARTITION_RANGE_END_TAG: last.isoformat(),
        },
    )


@dataclass(frozen=True)
class SensorTick:
    """One sensor evaluation and the runs it requested, executed in this process."""

    skip_reason: str | None
    run_requests: list[dg.RunRequest]
    runs: list[dg.ExecuteInProcessResult]


def tick_sensor_in_process(
    defs: dg.Definitions,
    sensor_name: str,
    instance: dg.DagsterInstance,
    run_config: Mapping[str, Any] | None = None,
) -> SensorTick:
    """Evaluate the sensor once against `instance` and execute each run it requests in this
    process, with its partition and tags plus the sensor name and run key Dagster's daemon
    would add, so the run history shows it as the sensor's run. For the demo and tests; the
    daemon ticks sensors in a deployment (and keeps their cursors, which this does not)."""
    import dagster as dg

    sensor = defs.resolve_sensor_def(sensor_name)
    outcome = sensor(dg.build_sensor_context(instance=instance, resources=defs.resources))
    if isinstance(outcome, dg.SkipReason):
        return SensorTick(outcome.skip_message, [], [])
    assert isinstance(outcome, dg.SensorResult), f"{sensor_name} returned {outcome!r}"
    requests = list(outcome.run_requests or [])
    runs = [
        defs.resolve_job_def(_job_of(request, sensor)).execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags={
                **request.tags,
                DAGSTER_SENSOR_NAME_TAG: sensor_name,
                **({DAGSTER_RUN_KEY_TAG: request.run_key} if request.run_key else {}),
            },
            raise_on_error=False,
            run_config=run_config,
        )
        for request in requests
    ]
    skip = outcome.skip_reason.skip_message if outcome.skip_reason else None
    return SensorTick(skip, requests, runs)


def _job_of(request: dg.RunRequest, sensor: dg.SensorDefinition) -> str:
    job = request.job_name or sensor.job_name
    if job is None:
        raise ValueError(f"Run request {request.run_key} of sensor {sensor.name} names no job.")
    return job
