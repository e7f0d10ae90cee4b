"""Seven simulated days of the production deployment: a real `dagster-daemon` on PostgreSQL,
its schedules evaluated at their real cron times, and the daemon SIGKILLed mid-tick once.

The daemon runs on a simulated clock (`tests/integration/simulated_clock_daemon.py`: the real
`dagster-daemon run`, with Dagster's clock, which Dagster's own tests freeze, reading an
instant this test writes; docs/decisions/0025). The test holds that clock still and steps it
over every cron time of the deployment's running schedules from Monday 2025-05-05 to Sunday
2025-05-11: seven `daily_cycle_schedule` ticks at 06:00 and Sunday's `weekly_backtest_schedule`
tick at 09:00, each time to the last second of the tick's minute (so the scheduler, which
sleeps to the next minute, looks again within a second). The code server and the run workers
keep the real clock: each run executes now, for the partition its tick asked for; they queue
behind each other (the `model_plane` pool) as a late night would queue them. Before Sunday's
09:00 tick the test waits for the queue to drain, so Saturday is ingested when the weekly
backtest looks.

Thursday's tick is the fault: the daemon process is SIGKILLed the moment the tick is recorded,
then started again; the tick must complete once, with one run.

A demand drift (x3) starts 11 days before the week, after the primed champion's cutoff, so the
first daily cycle's `drift_score` breaches its threshold: its alert must be in the PostgreSQL
alert store within 5 minutes of that materialization (seed 003). The step that scores the drift
writes the alert itself, just before Dagster stores the materialization, so the measured
latency is about 0 s (slightly negative).

The daemon's runs use the in-process executor (`FORECASTOPS_EXECUTOR=in_process`), to keep
eight cycles within a few minutes on two CPUs.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorTick, InstigatorType
from dagster._utils.schedules import cron_string_iterator

from forecast_jobs.instance_admin import migrate_instance
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import DriftScenario, SimulationSpec, write_landing_files
from forecastops.domain.triggers import DATA_DRIFT
from forecastops.pipeline.alerts import drift_alert_key
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.settings import DAGSTER_PG_SCHEME, Settings, load_settings
from tests.dagster.pipeline import small_cycle_env
from tests.integration.helpers import REPO_ROOT, isolated_env, log_tail, running
from tests.integration.postgres import fresh_database
from tests.integration.simulated_clock_daemon import SimulatedClock

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FIRST_DAY = date(2025, 1, 1)
"""FORECASTOPS_START_DATE of `isolated_env`: the first partition, the history's first day."""
WEEK_START = datetime(2025, 5, 5, tzinfo=UTC)
"""Monday 00:00: the week's first tick ingests Sunday 2025-05-04."""
WEEK = timedelta(days=7)
DRIFT_START = date(2025, 4, 24)
CHAMPION_CUTOFF = DRIFT_START - timedelta(days=1)
KILLED_TICK = datetime(2025, 5, 8, 6, 0, tzinfo=UTC)
"""Thursday's daily tick: the daemon is SIGKILLed while it records it."""
TICK_DEADLINE_S = 120
DRAIN_DEADLINE_S = 600
ALERT_LATENCY_LIMIT = timedelta(minutes=5)
DAEMON_COMMAND = [
    "python",
    str(Path(__file__).with_name("simulated_clock_daemon.py")),
]


@dataclass(frozen=True)
class Week:
    env: dict[str, str]
    alerts_url: str
    logs: list[Path]
    expected_ticks: dict[str, list[datetime]]
    killed_tick_status: str
    seconds: float

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"])

    def log_tail(self) -> str:
        return "\n".join(log_tail(log, 2500) for log in self.logs)


def _cron_times(schedule: dg.ScheduleDefinition, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's cron times in [start, end)."""
    assert isinstance(schedule.cron_schedule, str)
    times: list[datetime] = []
    for tick in cron_string_iterator(
        start.timestamp(), schedule.cron_schedule, schedule.execution_timezone or "UTC"
    ):
        if tick >= end:
            return times
        times.append(tick.astimezone(UTC))
    raise AssertionError("unreachable: a cron iterator never ends")


def _running_schedules() -> list[dg.ScheduleDefinition]:
    from forecast_jobs.definitions import defs

    return [
        schedule
        for schedule in defs.schedules or []
        if isinstance(schedule, dg.ScheduleDefinition)
        and schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    ]


def _ticks(instance: dg.DagsterInstance, name: str) -> list[InstigatorTick]:
    states = [
        state
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE)
        if state.instigator_name == name
    ]
    return [
        tick
        for state in states
        for tick in instance.get_ticks(state.instigator_origin_id, state.selector_id)
    ]


class Watcher:
    """What the test waits for, read from the instance (one connection setup for the week)."""

    def __init__(self, instance: dg.DagsterInstance, logs: list[Path]) -> None:
        self.instance = instance
        self.logs = logs

    def tick_at(self, name: str, at: datetime) -> InstigatorTick | None:
        matching = [t for t in _ticks(self.instance, name) if t.timestamp == at.timestamp()]
        assert len(matching) <= 1, f"{name} ticked {len(matching)} times at {at}"
        return matching[0] if matching else None

    def drained(self) -> bool:
        return all(run.is_finished for run in self.instance.get_runs())

    def wait(self, condition: str, check: object, deadline_s: float, poll_s: float = 0.5) -> None:
        deadline = time.monotonic() + deadline_s
        while not check():  # type: ignore[operator]
            if time.monotonic() > deadline:
                tails = "\n".join(log_tail(log, 3000) for log in self.logs)
                raise AssertionError(f"no {condition} within {deadline_s} s:\n{tails}")
            time.sleep(poll_s)

    def wait_for_drain(self) -> None:
        self.wait("drained run queue", self.drained, DRAIN_DEADLINE_S)


def _prime(settings: Settings) -> None:
    """What the days before the week left: the history up to the Saturday before it ingested
    and a champion trained before the drift."""
    from forecast_jobs.definitions import build_definitions

    defs = build_definitions(settings)
    with dg.DagsterInstance.from_config(str(settings.dagster_home_path)) as instance:
        ingest = execute_partition_range(
            defs.resolve_job_def("ingest_job"),
            FIRST_DAY,
            WEEK_START.date() - timedelta(days=2),
            instance,
        )
        champion = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance, partition_key=CHAMPION_CUTOFF.isoformat()
        )
    assert ingest.success and champion.success


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    started = time.monotonic()
    home = tmp_path_factory.mktemp("week")
    ticks = sorted(
        (at, schedule.name)
        for schedule in _running_schedules()
        for at in _cron_times(schedule, WEEK_START, WEEK_START + WEEK)
    )
    with ExitStack() as stack, pytest.MonkeyPatch.context() as monkeypatch:
        dagster_db = stack.enter_context(fresh_database("forecastops_dagster"))
        mlflow_db = stack.enter_context(fresh_database("forecastops_mlflow"))
        alerts_db = stack.enter_context(fresh_database("forecastops_alerts"))
        env = isolated_env(
            home,
            FORECASTOPS_INSTANCE="postgres",
            DAGSTER_PG_URL=dagster_db.replace("postgresql://", f"{DAGSTER_PG_SCHEME}://"),
            MLFLOW_TRACKING_URI=mlflow_db,
            FORECASTOPS_ALERTS_DB_URL=alerts_db,
            FORECASTOPS_MLFLOW_ARTIFACT_ROOT=str(home / "mlflow-artifacts"),
            FORECASTOPS_EXECUTOR="in_process",
            **small_cycle_env(),
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        migrate_instance()  # as `forecastops doctor --fix` does before the services start
        write_landing_files(
            SimulationSpec(
                start=FIRST_DAY,
                end=(WEEK_START + WEEK).date() - timedelta(days=2),
                stores=2,
                products=4,
                seed=3,
                drift=DriftScenario(DRIFT_START, demand_factor=3.0),
            ),
            settings.landing_path,
        )
        clock = SimulatedClock(home / "clock")
        clock.set(ticks[0][0] - timedelta(seconds=1))
        command = [*DAEMON_COMMAND, str(clock.path), "run", "-w", str(REPO_ROOT / "workspace.yaml")]
        logs = [home / "daemon.log"]
        daemon = stack.enter_context(running(command, env, logs[0], cwd=home))
        _prime(settings)  # while the daemon loads the code location; its clock stands still

        watcher = Watcher(
            stack.enter_context(dg.DagsterInstance.from_config(env["DAGSTER_HOME"])), logs
        )
        killed_tick_status = "not killed"
        for at, name in ticks:
            if name == "weekly_backtest_schedule" or at == KILLED_TICK:
                # Saturday must be ingested when the weekly backtest looks; and the daemon is
                # killed alone, with no run of its own in flight
                watcher.wait_for_drain()
            clock.set(at + timedelta(seconds=59))
            if at == KILLED_TICK:
                watcher.wait(
                    f"{name} tick at {at}",
                    lambda: watcher.tick_at(name, at) is not None,  # noqa: B023
                    TICK_DEADLINE_S,
                    poll_s=0.01,
                )
                os.kill(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=30)
                killed = watcher.tick_at(name, at)
                killed_tick_status = killed.status.value if killed else "none"
                logs.append(home / "daemon-restarted.log")
                daemon = stack.enter_context(running(command, env, logs[-1], cwd=home))
            watcher.wait(
                f"successful {name} tick at {at}",
                lambda: (
                    (tick := watcher.tick_at(name, at)) is not None  # noqa: B023
                    and tick.status.value == "SUCCESS"
                ),
                TICK_DEADLINE_S,
            )
        watcher.wait_for_drain()
        yield Week(
            env=env,
            alerts_url=alerts_db,
            logs=logs,
            expected_ticks={
                schedule.name: [at for at, name in ticks if name == schedule.name]
                for schedule in _running_schedules()
            },
            killed_tick_status=killed_tick_status,
            seconds=time.monotonic() - started,
        )


def test_every_cron_time_of_the_week_ticked_once_and_its_run_succeeded(week: Week) -> None:
    assert {name: len(at) for name, at in week.expected_ticks.items()} == {
        "daily_cycle_schedule": 7,
        "weekly_backtest_schedule": 1,
    }
    with week.instance() as instance:
        for name, expected in week.expected_ticks.items():
            ticks = _ticks(instance, name)
            assert sorted(datetime.fromtimestamp(t.timestamp, UTC) for t in ticks) == expected
            assert [t.status.value for t in ticks] == ["SUCCESS"] * len(expected)
            assert all(len(t.run_ids) == 1 for t in ticks), [t.run_ids for t in ticks]
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/schedule_name": name}))
            partitions = Counter(run.tags["dagster/partition"] for run in runs)
            assert set(partitions.values()) == {1}, partitions  # no tick doubled
            assert {run.status.value for run in runs} == {"SUCCESS"}, week.log_tail()
        assert _ticks(instance, "daily_ingest_schedule") == []  # stopped by default
        everything = Counter((run.job_name, run.status.value) for run in instance.get_runs())
    # the sensors' runs too (drift retrain, health refresh, open alerts), and the priming's
    assert {status for _, status in everything} == {"SUCCESS"}, everything
    print(f"\nthe simulated week took {week.seconds:.0f} s")


def test_the_daily_cycles_ingested_the_seven_days_that_ended_before_their_ticks(week: Week) -> None:
    with week.instance() as instance:
        runs = instance.get_runs(
            dg.RunsFilter(tags={"dagster/schedule_name": "daily_cycle_schedule"})
        )
    days = sorted(run.tags["dagster/partition"] for run in runs)
    first = WEEK_START.date() - timedelta(days=1)
    assert days == [(first + timedelta(days=n)).isoformat() for n in range(7)]


def test_sundays_weekly_backtest_scored_saturday_after_its_ingest(week: Week) -> None:
    with week.instance() as instance:
        [weekly] = instance.get_runs(
            dg.RunsFilter(tags={"dagster/schedule_name": "weekly_backtest_schedule"})
        )
        saturday = "2025-05-10"
        assert date.fromisoformat(saturday).isoweekday() == 6
        assert weekly.tags["dagster/partition"] == saturday
        assert weekly.job_name == "weekly_backtest_job"
        assert weekly.status.value == "SUCCESS"
        materialized = instance.get_materialized_partitions(dg.AssetKey("champion_backtest"))
    assert materialized == {saturday}


def test_the_daemon_killed_mid_tick_neither_missed_nor_doubled_it(week: Week) -> None:
    assert week.killed_tick_status in {"STARTED", "SUCCESS"}
    with week.instance() as instance:
        [tick] = [
            t
            for t in _ticks(instance, "daily_cycle_schedule")
            if t.timestamp == KILLED_TICK.timestamp()
        ]
        [run] = instance.get_runs(
            dg.RunsFilter(
                tags={
                    "dagster/schedule_name": "daily_cycle_schedule",
                    "dagster/partition": "2025-05-07",
                }
            )
        )
    assert tick.status.value == "SUCCESS" and tick.run_ids == [run.run_id]
    assert run.status.value == "SUCCESS"
    if week.killed_tick_status == "STARTED":  # the restarted daemon finished the same tick
        assert "Resuming previously interrupted schedule execution" in week.logs[-1].read_text()
    print(f"\nthe daemon was killed with the tick {week.killed_tick_status}")


def test_the_injected_drift_raised_its_alert_within_five_minutes_of_the_breach(
    week: Week,
) -> None:
    with week.instance() as instance:
        events = instance.fetch_materializations(dg.AssetKey("drift_score"), limit=100).records
    breaches = sorted(
        (event for event in events if event.asset_materialization.metadata["alarm"].value),  # type: ignore[union-attr]
        key=lambda event: event.timestamp,
    )
    assert breaches, "no drift_score materialization of the week breached its threshold"
    first = breaches[0]
    day = first.partition_key
    assert day is not None
    with AlertStore(week.alerts_url) as store:
        alert = store.latest(drift_alert_key(DATA_DRIFT, day))
    assert alert is not None, f"no data_drift alert for {day}"
    breached_at = datetime.fromtimestamp(first.timestamp, UTC)
    latency = alert.created_at - breached_at
    print(f"\ndrift breached on {day}; alert {latency.total_seconds():.1f} s after it")
    assert timedelta(minutes=-1) < latency <= ALERT_LATENCY_LIMIT, (breached_at, alert.created_at)
