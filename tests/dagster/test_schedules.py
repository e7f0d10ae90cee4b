"""Every schedule's tick: which partition it asks for."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from forecast_jobs.definitions import defs


def _requests(name: str, tick: datetime) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(name)
    # The context is a context manager too: leaving it resets what it set up, so no dead
    # instance is left behind for tests that run after this one.
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=tick,
            repository_def=defs.get_repository_def(),
        ) as context,
    ):
        return list(schedule.evaluate_tick(context).run_requests or [])


def test_the_daily_cycle_runs_the_whole_day_that_just_ended() -> None:
    [request] = _requests("daily_cycle_schedule", datetime(2025, 3, 10, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2025-03-09"
    assert defs.resolve_schedule_def("daily_cycle_schedule").job_name == "daily_cycle_job"


def test_the_weekly_backtest_runs_on_sundays_for_the_day_before() -> None:
    schedule = defs.resolve_schedule_def("weekly_backtest_schedule")
    assert schedule.cron_schedule == "0 3 * * 0"
    [request] = _requests("weekly_backtest_schedule", datetime(2025, 3, 9, 3, 0, tzinfo=UTC))
    assert request.partition_key == "2025-03-08"
    assert request.run_key == "weekly_backtest:2025-03-08"


def test_the_ingest_only_schedule_is_off_by_default_since_the_daily_cycle_ingests() -> None:
    schedule = defs.resolve_schedule_def("daily_ingest_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    [request] = _requests("daily_ingest_schedule", datetime(2025, 3, 10, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2025-03-09"
