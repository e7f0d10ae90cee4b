"""Every schedule's tick: which partition it asks for."""

from __future__ import annotations

from datetime import UTC, datetime, time

import dagster as dg

from forecast_jobs.definitions import defs
from forecast_jobs.schedules import weekly_backtest_cron


def _evaluate(
    name: str, tick: datetime, ingested: tuple[str, ...] = ()
) -> dg.ScheduleExecutionData:
    """The schedule's tick at `tick` on a fresh instance where `raw_sales` was materialized for
    the `ingested` days."""
    schedule = defs.resolve_schedule_def(name)
    # The context is a context manager too: leaving it resets what it set up, so no dead
    # instance is left behind for tests that run after this one.
    with dg.instance_for_test() as instance:
        for day in ingested:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset_key="raw_sales", partition=day)
            )
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=tick,
            repository_def=defs.get_repository_def(),
        ) as context:
            return schedule.evaluate_tick(context)


def _requests(name: str, tick: datetime, ingested: tuple[str, ...] = ()) -> list[dg.RunRequest]:
    return list(_evaluate(name, tick, ingested).run_requests or [])


def test_the_daily_cycle_runs_the_whole_day_that_just_ended() -> None:
    [request] = _requests("daily_cycle_schedule", datetime(2025, 3, 10, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2025-03-09"
    assert defs.resolve_schedule_def("daily_cycle_schedule").job_name == "daily_cycle_job"


def test_the_weekly_backtest_runs_on_sundays_three_hours_after_the_ingest() -> None:
    schedule = defs.resolve_schedule_def("weekly_backtest_schedule")
    assert schedule.cron_schedule == "0 9 * * 0"  # FORECASTOPS_INGEST_TIME 06:00 + 3 h
    assert schedule.job_name == "weekly_backtest_job"
    job = defs.resolve_job_def("weekly_backtest_job")
    assert job.asset_layer.selected_asset_keys == {dg.AssetKey("champion_backtest")}
    assert weekly_backtest_cron(time(22, 30)) == "30 1 * * 1"  # past midnight: Monday


def test_the_weekly_backtest_scores_the_newest_day_ingested_before_the_tick() -> None:
    sunday = datetime(2025, 3, 9, 9, 0, tzinfo=UTC)
    # Saturday 03-08 was not ingested (its run failed); Sunday 03-09 is the tick's own day.
    [request] = _requests(
        "weekly_backtest_schedule", sunday, ingested=("2025-03-06", "2025-03-07", "2025-03-09")
    )
    assert request.partition_key == "2025-03-07"
    assert request.run_key == "weekly_backtest:2025-03-07"
    [request] = _requests("weekly_backtest_schedule", sunday, ingested=("2025-03-07", "2025-03-08"))
    assert request.partition_key == "2025-03-08"


def test_the_weekly_backtest_skips_while_nothing_was_ingested_before_the_tick() -> None:
    tick = _evaluate(
        "weekly_backtest_schedule",
        datetime(2025, 3, 9, 9, 0, tzinfo=UTC),
        ingested=("2025-03-09",),
    )
    assert not tick.run_requests
    assert "No raw_sales partition is materialized before 2025-03-09" in (tick.skip_message or "")


def test_the_ingest_only_schedule_is_off_by_default_since_the_daily_cycle_ingests() -> None:
    schedule = defs.resolve_schedule_def("daily_ingest_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    [request] = _requests("daily_ingest_schedule", datetime(2025, 3, 10, 6, 0, tzinfo=UTC))
    assert request.partition_key == "2025-03-09"
