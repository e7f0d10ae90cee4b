"""Schedules: when each job runs unattended."""

from __future__ import annotations

import dagster as dg

from forecast_jobs.jobs import ingest_job
from forecastops.settings import load_settings

_ingest_time = load_settings().ingest_time

# The schedule's timezone is the partitions' own, so a tick at 06:00 local ingests the day
# that just ended there.
daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job,
    name="daily_ingest_schedule",
    hour_of_day=_ingest_time.hour,
    minute_of_hour=_ingest_time.minute,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
