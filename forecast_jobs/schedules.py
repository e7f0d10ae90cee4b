"""Schedules: when each job runs unattended."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from forecast_jobs.jobs import daily_cycle_job, ingest_job, weekly_backtest_job
from forecastops.stores.settings import load_settings

_settings = load_settings()
_ingest_time = _settings.ingest_time
WEEKLY_BACKTEST_CRON = "0 3 * * 0"  # Sundays 03:00, away from the daily cycle

# The schedule's timezone is the partitions' own, so a tick at 06:00 local ingests the day
# that just ended there.
# Ingest only, for deployments that retrain on their own rhythm; stopped by default because
# the daily cycle below already ingests.
daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job,
    name="daily_ingest_schedule",
    hour_of_day=_ingest_time.hour,
    minute_of_hour=_ingest_time.minute,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

daily_cycle_schedule = dg.build_schedule_from_partitioned_job(
    daily_cycle_job,
    name="daily_cycle_schedule",
    hour_of_day=_ingest_time.hour,
    minute_of_hour=_ingest_time.minute,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.schedule(
    job=weekly_backtest_job,
    cron_schedule=WEEKLY_BACKTEST_CRON,
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_backtest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """The full backtest at the last complete day before the tick."""
    scheduled = context.scheduled_execution_time
    day = (scheduled.date() if scheduled else date.today()) - timedelta(days=1)
    return dg.RunRequest(
        run_key=f"weekly_backtest:{day.isoformat()}", partition_key=day.isoformat()
    )
