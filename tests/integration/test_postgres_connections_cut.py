"""PostgreSQL connections terminated under a running retrain cycle (`pg_terminate_backend`).

One deployment on PostgreSQL (Dagster instance, MLflow, alert store: a fresh database each) with
a real `dagster-daemon` (its run queue and run retries). A `retrain_job` run is queued as the
UI queues one; from the moment it starts `challenger_model` until that attempt has ended (and
connections to both the Dagster and the MLflow database were caught and cut), every
backend connected to one of this test's three databases (and only those: `pg_stat_activity`
filtered by their names) is terminated every 50 ms: the run worker's, the daemon's, the code
server's (not the test's own, which watch the run). Then the connections are left alone and
the deployment must come back by itself: a retry succeeds, nothing is half-written, and
`forecastops doctor` says what the stores hold.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from forecast_jobs.instance_admin import migrate_instance
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.runs import RETRAIN_JOB
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.cycle import FORECASTS_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import BACKTEST_WAPE_TAG, CHAMPION, DECISION_TAG
from forecastops.stores.settings import DAGSTER_PG_SCHEME, Settings, load_settings
from tests.dagster.pipeline import small_cycle_env
from tests.integration.helpers import (
    REPO_ROOT,
    isolated_env,
    launch_job,
    log_tail,
    run,
    running,
)
from tests.integration.postgres import SERVER_URL, fresh_database
from tests.integration.test_doctor import verdicts

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

FIRST_DAY = date(2025, 1, 1)
"""FORECASTOPS_START_DATE of `isolated_env`."""
CUTOFF = date(2025, 5, 3)
OBSERVER = "forecastops-test-observer"
"""The libpq application name of this test's own connections (PGAPPNAME), which the cutter
spares: only the deployment's connections are cut."""
MAX_RETRIES = 2
"""`run_retries.max_retries` of the PostgreSQL instance template."""
CUT_FROM_STEP = "challenger_model"
"""The cut starts with this step: training, then registering the version in MLflow; the
promotion gate (alias moves, an alert) and the forecasts follow under the cut."""
CUT_EVERY_S = 0.05
"""Dagster opens a connection per storage call (no pool): look often to catch them open."""
CUT_FOR_AT_MOST_S = 120
RUN_DEADLINE_S = 600
TEST_TAG = {"forecastops/test": "connections_cut"}
ALERT_DEADLINE_S = 180
CLEAR_CAUSES = re.compile(
    r"terminating connection due to administrator command|server closed the connection"
    r"|connection (?:to server|already closed|refused)"
    r"|MLFLOW_TRACKING_URI|FORECASTOPS_ALERTS_DB_URL",
    re.IGNORECASE,
)
"""What a failed attempt's messages must name: the lost connection, or the store's variable."""


class ConnectionCutter(threading.Thread):
    """Terminates every backend connected to `databases` (by name, never another database's)
    every `CUT_EVERY_S` until stopped; counts what it terminated per database."""

    def __init__(self, databases: list[str]) -> None:
        super().__init__(daemon=True)
        self.databases = databases
        self.terminated: Counter[str] = Counter()
        self.halt = threading.Event()
        self.engine = sa.create_engine(f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT")

    def run(self) -> None:
        query = sa.text(
            "SELECT datname, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = ANY(:names) AND pid <> pg_backend_pid() "
            "AND application_name IS DISTINCT FROM :observer"
        )
        with self.engine.connect() as connection:
            while not self.halt.wait(CUT_EVERY_S):
                for name, done in connection.execute(
                    query, {"names": self.databases, "observer": OBSERVER}
                ):
                    self.terminated[name] += int(done)

    def hit(self, *urls: str) -> bool:
        """Whether a connection to each of these databases was terminated."""
        return all(self.terminated[_database(url)] > 0 for url in urls)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=30)
        self.engine.dispose()


@dataclass(frozen=True)
class Outcome:
    env: dict[str, str]
    runs: list[dg.DagsterRun]
    terminated: Counter[str]
    doctor: str
    doctor_exit: int
    log: Path


def load_settings_from(env: dict[str, str]) -> Settings:
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings()


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _attempts(home: str) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(home) as instance:
        return list(instance.get_runs(dg.RunsFilter(tags=TEST_TAG)))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    home = tmp_path_factory.mktemp("cut")
    with ExitStack() as stack, pytest.MonkeyPatch.context() as monkeypatch:
        urls = {
            name: stack.enter_context(fresh_database(f"forecastops_{name}"))
            for name in ("dagster", "mlflow", "alerts")
        }
        env = isolated_env(
            home,
            FORECASTOPS_INSTANCE="postgres",
            DAGSTER_PG_URL=urls["dagster"].replace("postgresql://", f"{DAGSTER_PG_SCHEME}://"),
            MLFLOW_TRACKING_URI=urls["mlflow"],
            FORECASTOPS_ALERTS_DB_URL=urls["alerts"],
            FORECASTOPS_MLFLOW_ARTIFACT_ROOT=str(home / "mlflow-artifacts"),
            FORECASTOPS_EXECUTOR="in_process",
            **small_cycle_env(),
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        migrate_instance()
        write_landing_files(
            SimulationSpec(start=FIRST_DAY, end=CUTOFF, stores=2, products=4, seed=5),
            settings.landing_path,
        )
        from forecast_jobs.definitions import build_definitions

        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            ingest = execute_partition_range(
                build_definitions(settings).resolve_job_def("ingest_job"),
                FIRST_DAY,
                CUTOFF,
                instance,
            )
        assert ingest.success

        log = home / "daemon.log"
        stack.enter_context(
            running(
                ["dagster-daemon", "run", "-w", str(REPO_ROOT / "workspace.yaml")],
                env,
                log,
                cwd=home,
            )
        )
        launch_job(env, RETRAIN_JOB, {"dagster/partition": CUTOFF.isoformat(), **TEST_TAG})
        monkeypatch.setenv("PGAPPNAME", OBSERVER)  # this process only: `env` is already built
        deadline = time.monotonic() + RUN_DEADLINE_S
        while not _step_started(env["DAGSTER_HOME"], CUT_FROM_STEP):
            assert time.monotonic() < deadline, log_tail(log)
            time.sleep(0.2)

        cutter = ConnectionCutter([_database(url) for url in urls.values()])
        cutter.start()
        cut_until = time.monotonic() + CUT_FOR_AT_MOST_S
        try:  # until the first attempt has ended and both main stores lost connections
            while time.monotonic() < cut_until and not (
                cutter.hit(urls["dagster"], urls["mlflow"])
                and any(
                    "dagster/retry_number" not in r.tags and r.is_finished
                    for r in _safe_attempts(env["DAGSTER_HOME"])
                )
            ):
                time.sleep(0.5)
        finally:
            cutter.stop()

        while True:  # a success, the retries used up, or a retry the daemon could not create
            attempts = _attempts(env["DAGSTER_HOME"])
            if attempts and all(r.is_finished for r in attempts):
                last = max(attempts, key=_retry_number)
                if (
                    last.status.value == "SUCCESS"
                    or len(attempts) > MAX_RETRIES
                    or _retry_lost(log, last.run_id)
                ):
                    break
            assert time.monotonic() < deadline, (
                f"{[(r.run_id, r.status) for r in attempts]}\n{log_tail(log)}"
            )
            time.sleep(2)
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            while not all(r.is_finished for r in instance.get_runs()):  # the sensors' runs
                assert time.monotonic() < deadline, log_tail(log)
                time.sleep(2)
        doctor = run(["forecastops", "doctor"], env)
        yield Outcome(
            env=env,
            runs=attempts,
            terminated=cutter.terminated,
            doctor=doctor.stdout + doctor.stderr,
            doctor_exit=doctor.returncode,
            log=log,
        )


def _retry_number(attempt: dg.DagsterRun) -> int:
    return int(attempt.tags.get("dagster/retry_number", 0))


def _retry_lost(log: Path, run_id: str) -> bool:
    """Whether the daemon gave up creating the retry of `run_id` (its connection was cut while
    it did: Dagster 1.13 logs this and does not try again)."""
    return f"Failed to retry run {run_id}" in log.read_text(errors="replace")


def _step_started(home: str, step: str) -> bool:
    """Whether the first attempt has started `step` (fails if it ended before)."""
    with dg.DagsterInstance.from_config(home) as instance:
        roots = [
            r
            for r in instance.get_runs(dg.RunsFilter(tags=TEST_TAG))
            if "dagster/retry_number" not in r.tags
        ]
        if not roots:
            return False
        [first] = roots
        started = instance.all_logs(first.run_id, of_type=dg.DagsterEventType.STEP_START)
    assert not first.is_finished or any(e.step_key == step for e in started), first.status
    return any(e.step_key == step for e in started)


def _safe_attempts(home: str) -> list[dg.DagsterRun]:
    """The attempts, or none while the cutter has just cut this very query."""
    try:
        return _attempts(home)
    except Exception:  # a cut connection: the next poll reconnects
        return []


def _failure_texts(home: str, run_id: str) -> list[str]:
    """The messages of the run's step failures (with their errors' causes) and of its end."""
    texts = []
    with dg.DagsterInstance.from_config(home) as instance:
        for entry in instance.all_logs(
            run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ):
            event = entry.dagster_event
            texts.append(f"{event.step_key or 'run'}: {event.message}")  # type: ignore[union-attr]
            data = event.step_failure_data if event and event.is_step_failure else None
            error = data.error if data else None
            while error is not None:
                texts.append(error.message.strip())
                error = error.cause
    return texts


def test_the_cut_hit_the_dagster_and_mlflow_connections_of_the_run(outcome: Outcome) -> None:
    cut = {name.rsplit("_", 1)[0]: count for name, count in outcome.terminated.items()}
    print(f"\nbackends terminated per database: {cut}")
    assert cut.get("forecastops_dagster", 0) > 0 and cut.get("forecastops_mlflow", 0) > 0, cut


def test_a_retry_recovers_or_the_run_fails_with_a_clear_message(outcome: Outcome) -> None:
    """Every failed attempt names the lost connection. The last attempt succeeded, or it failed
    and either the retries were used up or the daemon lost the retry (its own connection cut
    while it created it, logged `Failed to retry run`); then the run_failure alert says so."""
    home = outcome.env["DAGSTER_HOME"]
    attempts = sorted(outcome.runs, key=_retry_number)
    assert [_retry_number(r) for r in attempts] == list(range(len(attempts)))  # no doubles
    statuses = [r.status.value for r in attempts]
    print(f"\nattempts: {statuses}")
    for attempt in attempts:
        if attempt.status.value == "SUCCESS":
            continue
        texts = "\n".join(_failure_texts(home, attempt.run_id))
        print(f"attempt {_retry_number(attempt)}:\n{texts[:1500]}")
        assert attempt.status.value == "FAILURE"
        assert CLEAR_CAUSES.search(texts), texts
    last = attempts[-1]
    if last.status.value == "SUCCESS":
        assert statuses[:-1] == ["FAILURE"] * (len(attempts) - 1)
        return
    assert len(attempts) > MAX_RETRIES or _retry_lost(outcome.log, last.run_id)
    settings = load_settings_from(outcome.env)
    deadline = time.monotonic() + ALERT_DEADLINE_S
    with AlertStore(settings.alerts_url) as store:
        while (alert := store.latest(f"run_failure:{last.run_id}")) is None:
            assert time.monotonic() < deadline, "no run_failure alert for the failed run"
            time.sleep(2)
    assert alert.title == f"retrain_job failed for partition {CUTOFF.isoformat()}"


def test_nothing_half_written_the_champion_alias_moved_only_with_its_forecasts(
    outcome: Outcome,
) -> None:
    settings = load_settings_from(outcome.env)
    registry = ModelRegistry(settings.mlflow_uri)
    champion = registry.alias_version(CHAMPION)
    lake = Lake(settings.lake_path)
    if champion is None:  # no attempt got past the gate: no forecasts either
        assert not lake.has_partition(FORECASTS_TABLE, CUTOFF)
    else:
        forecasts = lake.read_partition(FORECASTS_TABLE, CUTOFF)
        assert set(forecasts["model_version"].astype(str)) == {champion}
        assert BACKTEST_WAPE_TAG in registry.version_tags(champion)
    for table in lake.root.iterdir():  # no staging or retired folder left by a failed write
        assert not [p.name for p in table.iterdir() if p.name.startswith(".")], table


def test_doctor_reports_what_the_stores_hold(outcome: Outcome) -> None:
    """Each of the doctor's debris verdicts against what the stores hold, read directly."""
    import mlflow

    settings = load_settings_from(outcome.env)
    found = verdicts(outcome.doctor)
    with dg.DagsterInstance.from_config(outcome.env["DAGSTER_HOME"]) as instance:
        unfinished = [r.run_id for r in instance.get_runs() if not r.is_finished]
    client = mlflow.MlflowClient(settings.mlflow_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    running_runs = client.search_runs(experiments, "attributes.status = 'RUNNING'")
    unjudged = [
        v["version"]
        for v in ModelRegistry(settings.mlflow_uri).versions()
        if not v["aliases"] and DECISION_TAG not in v["tags"]
    ]
    print(f"\ndoctor exit {outcome.doctor_exit}:\n{outcome.doctor}")
    assert found["stuck Dagster runs"].startswith("OK" if not unfinished else "FAIL")
    assert found["MLflow runs left RUNNING"].startswith("OK" if not running_runs else "FAIL")
    assert found["orphan model versions"].startswith("OK" if not unjudged else "FAIL")
    for version in unjudged:
        assert f"version {version} " in found["orphan model versions"]
    healthy = not (unfinished or running_runs or unjudged)
    assert (outcome.doctor_exit == 0) == healthy, outcome.doctor
