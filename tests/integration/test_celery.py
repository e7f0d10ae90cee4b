"""Steps on real dagster-celery workers: Redis at 127.0.0.1:6379 (database 5 only, flushed before
and after), a throwaway PostgreSQL Dagster instance the workers and the run share, and two
worker processes started with the command and environment `forecastops up` uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import EventLogEntry

from forecastops.ops.services import celery_workers, pid_file, stop, write_pid_file
from forecastops.stores.settings import load_settings
from tests.integration.celery_job import STEPS
from tests.integration.postgres import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

REPO_ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/5"
"""A database of its own: the test flushes only it."""
DOWN_BROKER = "redis://:s3cret-word@127.0.0.1:1/0"
READY_TIMEOUT_S = 120
INSTANCE_YAML = """telemetry:
  enabled: false
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
"""


def _flush_broker_database() -> None:
    import redis

    client = redis.Redis.from_url(BROKER, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.ConnectionError as error:
        message = (
            f"Redis on 127.0.0.1:6379 is unreachable ({error}); "
            "start it: redis-server --daemonize yes"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    finally:
        client.close()


@dataclass(frozen=True)
class Deployment:
    home: Path
    rendezvous: Path
    worker_logs: tuple[Path, ...]
    worker_groups: tuple[int, ...]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for process in processes:  # the celery pool children of a group leader that died first
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    _flush_broker_database()
    with fresh_database("forecastops_celery") as dagster_db:
        home = tmp_path / "dagster"
        home.mkdir()
        (home / "dagster.yaml").write_text(INSTANCE_YAML)
        rendezvous = tmp_path / "rendezvous"
        rendezvous.mkdir()
        for name, value in {
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": dagster_db.replace("postgresql://", "postgresql+psycopg2://"),
            "FORECASTOPS_HOME": str(tmp_path),
            "FORECASTOPS_EXECUTOR": "celery",
            "FORECASTOPS_CELERY_BROKER_URL": BROKER,
            "FORECASTOPS_TEST_RENDEZVOUS": str(rendezvous),
        }.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        settings.logs_path.mkdir(parents=True)
        workers = celery_workers(settings)
        assert len(workers) == 2
        processes: list[subprocess.Popen[bytes]] = []
        logs = tuple(tmp_path / f"{worker.name}.log" for worker in workers)
        try:
            for worker, log_path in zip(workers, logs, strict=True):
                with log_path.open("ab") as log:
                    processes.append(
                        subprocess.Popen(
                            worker.command,
                            cwd=REPO_ROOT,
                            # The workers import the test job by module name.
                            env={
                                **os.environ,
                                **dict(worker.extra_env),
                                "PYTHONPATH": str(REPO_ROOT),
                            },
                            stdin=subprocess.DEVNULL,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
                write_pid_file(settings, worker, processes[-1])  # as `forecastops up` does
            deadline = time.monotonic() + READY_TIMEOUT_S
            waiting = list(logs)
            while waiting:
                for process, log_path in zip(processes, logs, strict=True):
                    assert process.poll() is None, log_path.read_text(errors="replace")[-3000:]
                waiting = [
                    path for path in waiting if " ready." not in path.read_text(errors="replace")
                ]
                assert time.monotonic() < deadline, f"workers not ready: {waiting}"
                if waiting:
                    time.sleep(0.2)
            yield Deployment(tmp_path, rendezvous, logs, tuple(p.pid for p in processes))
        finally:
            _stop(processes)
            _flush_broker_database()


def _run(home: Path) -> tuple[bool, list[EventLogEntry], str]:
    """Run the rendezvous job; (success, its event log, what Dagster stored of the run: its run
    config and job snapshot, serialized)."""
    import dagster as dg

    from tests.integration.celery_job import rendezvous_job

    with (
        dg.DagsterInstance.from_config(str(home)) as instance,
        dg.execute_job(dg.reconstructable(rendezvous_job), instance=instance) as result,
    ):
        from dagster._serdes import serialize_value

        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.job_snapshot_id is not None
        stored = serialize_value(run) + serialize_value(
            instance.get_job_snapshot(run.job_snapshot_id)
        )
        return result.success, list(instance.all_logs(result.run_id)), stored


def test_two_workers_each_run_one_step(deployment: Deployment) -> None:
    success, records, _ = _run(deployment.home / "dagster")
    assert success, "\n".join(str(r.user_message) for r in records)[-4000:]
    handed_over = {
        r.step_key: r.dagster_event.event_specific_data.metadata["Celery worker"].value
        for r in records
        if r.dagster_event is not None and "Executing steps" in (r.dagster_event.message or "")
    }
    assert set(handed_over) == set(STEPS), handed_over
    hostnames = set(handed_over.values())
    assert len(hostnames) == 2, handed_over
    assert {name.split("@")[0] for name in hostnames} == {"forecastops-1", "forecastops-2"}
    step_pids = {int(path.read_text()) for path in deployment.rendezvous.iterdir()}
    assert len(step_pids) == 2 and os.getpid() not in step_pids


def test_a_broker_that_is_down_fails_the_run_naming_it_masked(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORECASTOPS_CELERY_BROKER_URL", DOWN_BROKER)
    success, records, stored = _run(deployment.home / "dagster")
    assert not success
    # The executor's broker is {"env": FORECASTOPS_CELERY_BROKER_URL}: the run config and the job
    # snapshot Dagster keeps name the variable, never its value.
    assert "s3cret-word" not in stored
    text = "\n".join(
        f"{r.user_message} {r.dagster_event.message if r.dagster_event else ''} "
        f"{r.dagster_event.event_specific_data if r.dagster_event else ''}"
        for r in records
    )
    assert "the Celery broker redis://:***@127.0.0.1:1/0 does not answer" in text, text[-3000:]
    assert "s3cret-word" not in text
    assert not list(deployment.rendezvous.iterdir()), "a step ran although the broker is down"


def test_the_doctor_reports_the_broker_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from forecastops.ops.doctor import check_celery_broker

    _flush_broker_database()
    monkeypatch.setenv("FORECASTOPS_EXECUTOR", "celery")
    monkeypatch.setenv("FORECASTOPS_CELERY_BROKER_URL", BROKER)
    up = check_celery_broker(load_settings())
    assert up.healthy, up.line
    assert "FORECASTOPS_CELERY_BROKER_URL=redis://127.0.0.1:6379/5 answers" in up.line
    monkeypatch.setenv("FORECASTOPS_CELERY_BROKER_URL", DOWN_BROKER)
    started = time.monotonic()
    down = check_celery_broker(load_settings())
    assert not down.healthy
    assert time.monotonic() - started < 15
    assert "redis://:***@127.0.0.1:1/0 does not answer" in down.line
    assert "s3cret-word" not in down.line and "fix:" in down.line


def test_down_stops_the_workers_with_their_pool_processes(deployment: Deployment) -> None:
    settings = load_settings()
    workers = celery_workers(settings)
    assert all(pid_file(settings, worker).is_file() for worker in workers)
    assert set(stop(settings)) == {worker.name for worker in workers}
    for group in deployment.worker_groups:  # dagster-celery, its celery and the pool children
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
    assert not any(pid_file(settings, worker).exists() for worker in workers)


RUN_INGEST = """
import sys
import dagster as dg
from tests.integration.celery_job import ingest_job
with dg.DagsterInstance.get() as instance:
    with dg.execute_job(
        dg.reconstructable(ingest_job), instance=instance, tags={"dagster/partition": sys.argv[1]}
    ) as result:
        print(result.run_id)
        sys.exit(0 if result.success else 1)
"""


def test_the_ingest_job_runs_its_asset_steps_on_the_workers(deployment: Deployment) -> None:
    """The real code location: ingest_job's two assets, in a run process of their own (as the
    daemon would start it), each executed by a worker."""
    from datetime import date, timedelta

    import dagster as dg

    from forecastops.domain.simulator import SimulationSpec, write_landing_files

    first = date(2025, 1, 1)
    spec = SimulationSpec(start=first, end=first + timedelta(days=2), stores=2, products=3, seed=5)
    write_landing_files(spec, deployment.home / "landing")
    run = subprocess.run(
        [sys.executable, "-c", RUN_INGEST, first.isoformat()],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    run_id = run.stdout.split()[-1]
    with dg.DagsterInstance.from_config(str(deployment.home / "dagster")) as instance:
        records = instance.all_logs(run_id)
    workers = {
        r.step_key: r.dagster_event.event_specific_data.metadata["Celery worker"].value
        for r in records
        if r.dagster_event is not None and "Executing steps" in (r.dagster_event.message or "")
    }
    assert set(workers) == {"raw_sales", "sales_quality_report"}, workers
    assert all(name.startswith("forecastops-") for name in workers.values()), workers
    assert list((deployment.home / "lake").rglob("*.parquet")), "the workers wrote no lake table"
