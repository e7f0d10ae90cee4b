"""Schedules: when each job runs unattended."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

from forecast_assets.ingest import raw_sales
from forecast_jobs.jobs import daily_cycle_job, ingest_job, weekly_backtest_job
from forecastops.stores.settings import load_settings

_settings = load_settings()
_ingest_time = _settings.ingest_time
WEEKLY_BACKTEST_DELAY = timedelta(hours=3)
"""How long after Sunday's ingest the weekly backtest starts: the daily cycle of that morning
(ingest, retrain, backtest, monitoring) has finished by then on the simulated retailer's scale,
so the two do not compete for the CPUs."""


def weekly_backtest_cron(ingest_time: time, delay: timedelta = WEEKLY_BACKTEST_DELAY) -> str:
    """Sundays at `ingest_time + delay` as a cron expression; a delay that crosses midnight
    moves the tick to Monday."""
    start = datetime.combine(date(2025, 1, 5), ingest_time) + delay  # 2025-01-05: a Sunday
    weekday = start.isoweekday() % 7  # cron counts Sunday as 0
    return f"{start.minute} {start.hour} * * {weekday}"


WEEKLY_BACKTEST_CRON = weekly_backtest_cron(_ingest_time)

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
def weekly_backtest_schedule(
    context: dg.ScheduleEvaluationContext,
) -> dg.RunRequest | dg.SkipReason:
    """The champion backtest at the newest day `raw_sales` was materialized for before the
    tick's day, read from the instance: Sunday's tick after the morning's ingest scores
    Saturday, and a day whose ingest failed makes it score the day before instead of failing.
    Skips while nothing has been ingested."""
    zone = ZoneInfo(_settings.timezone)
    tick = context.scheduled_execution_time or datetime.now(zone)
    tick_day = tick.astimezone(zone).date()
    materialized = context.instance.get_materialized_partitions(raw_sales.key)
    ingested = [day for day in map(date.fromisoformat, materialized) if day < tick_day]
    if not ingested:
        return dg.SkipReason(
            f"No raw_sales partition is materialized before {tick_day.isoformat()}: the "
            "champion backtest needs ingested days. Run the daily cycle (or ingest_job) first."
        )
    day = max(ingested).isoformat()
    return dg.RunRequest(run_key=f"weekly_backtest:{day}", partition_key=day)
