"""The production deployment, driven for real: one `dagster-daemon` against PostgreSQL.

The Dagster instance (`FORECASTOPS_INSTANCE=postgres`), MLflow's tracking and registry store
and the alert store each get a fresh database of their own on the local server; MLflow's
artifacts go to the test's folder (`FORECASTOPS_MLFLOW_ARTIFACT_ROOT`). This process
primes the deployment as earlier days would have left it (the history ingested, a champion
trained before a simulated demand drift, the drifted day's drift score stored); then the
daemon, started as an operator starts it, fires the real schedules and sensors (the daily
cycle's time is set to the next minute but one). One daemon serves every test below: a CLI
backfill, a failed run's alert, the drift-triggered retrain, the scheduled daily cycle, and
what they left in the PostgreSQL stores.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from forecast_jobs.instance import prepare_dagster_home
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.runs import TRIGGER_TAG
from forecastops.domain.simulator import DriftScenario, SimulationSpec, write_landing_files
from forecastops.stores.alerts.identity import TABLE_NAME as ALERTS_TABLE
from forecastops.stores.settings import DAGSTER_PG_SCHEME, Settings, load_settings
from tests.dagster.pipeline import small_cycle_env
from tests.integration.helpers import (
    REPO_ROOT,
    isolated_env,
    log_tail,
    run,
    running,
    wait_for_runs,
)
from tests.integration.postgres import fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HISTORY_DAYS = 130
"""Days before the drift: the champion's training window and backtest fit in them."""
DRIFTED_DAYS = 20
RUN_DEADLINE_S = 600
SCHEDULE_LEAD_S = 75
"""How long before the scheduled tick the daemon starts (it must see the schedule first)."""
ALERT_DEADLINE_S = 180


@dataclass(frozen=True)
class Deployment:
    env: dict[str, str]
    dagster_url: str
    mlflow_url: str
    alerts_url: str
    daemon_log: Path
    first_day: date
    drifted_day: date
    scheduled_day: date

    def runs(self) -> list[dg.DagsterRun]:
        with dg.DagsterInstance.from_config(self.env["DAGSTER_HOME"]) as instance:
            return list(instance.get_runs())

    def wait_for_runs(self, tags: dict[str, str], count: int = 1) -> list[dg.DagsterRun]:
        return wait_for_runs(
            self.env["DAGSTER_HOME"], tags, count, RUN_DEADLINE_S, log=self.daemon_log
        )


def _after_midnight_if_close(lead: timedelta) -> None:
    """The scheduled partition is the UTC day before the tick: keep the priming and the tick
    on one day."""
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    if now + lead >= midnight:
        time.sleep((midnight - now).total_seconds() + 5)


def _next_tick(lead_s: int) -> datetime:
    """The first whole minute at least `lead_s` seconds from now."""
    soon = datetime.now(UTC) + timedelta(seconds=lead_s + 59)
    return soon.replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    _after_midnight_if_close(timedelta(minutes=10))
    today = datetime.now(UTC).date()
    scheduled_day = today - timedelta(days=1)  # what the tick at `today` HH:MM ingests
    drifted_day = scheduled_day - timedelta(days=1)
    drift_start = drifted_day - timedelta(days=DRIFTED_DAYS - 1)
    first_day = drift_start - timedelta(days=HISTORY_DAYS)
    home = tmp_path_factory.mktemp("deployment")
    with ExitStack() as stack, pytest.MonkeyPatch.context() as monkeypatch:
        dagster_db = stack.enter_context(fresh_database("forecastops_dagster"))
        mlflow_db = stack.enter_context(fresh_database("forecastops_mlflow"))
        alerts_db = stack.enter_context(fresh_database("forecastops_alerts"))
        dagster_url = dagster_db.replace("postgresql://", f"{DAGSTER_PG_SCHEME}://")
        env = isolated_env(
            home,
            FORECASTOPS_INSTANCE="postgres",
            DAGSTER_PG_URL=dagster_url,
            MLFLOW_TRACKING_URI=mlflow_db,
            FORECASTOPS_ALERTS_DB_URL=alerts_db,
            FORECASTOPS_MLFLOW_ARTIFACT_ROOT=str(home / "mlflow-artifacts"),
            **small_cycle_env(),
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = load_settings()
        prepare_dagster_home(settings)
        write_landing_files(
            SimulationSpec(
                start=first_day,
                end=scheduled_day,
                stores=2,
                products=4,
                seed=3,
                drift=DriftScenario(drift_start, demand_factor=2.5),
            ),
            settings.landing_path,
        )
        _prime(settings, first_day, drift_start - timedelta(days=1), drifted_day)

        env["FORECASTOPS_INGEST_TIME"] = _next_tick(SCHEDULE_LEAD_S).strftime("%H:%M")
        daemon_log = home / "daemon.log"
        # The daemon's runs inherit its folder: a stray relative path stays in the test's.
        stack.enter_context(
            running(
                ["dagster-daemon", "run", "-w", str(REPO_ROOT / "workspace.yaml")],
                env,
                daemon_log,
                cwd=home,
            )
        )
        yield Deployment(
            env=env,
            dagster_url=dagster_url,
            mlflow_url=mlflow_db,
            alerts_url=alerts_db,
            daemon_log=daemon_log,
            first_day=first_day,
            drifted_day=drifted_day,
            scheduled_day=scheduled_day,
        )


def _prime(settings: Settings, first_day: date, calm_day: date, drifted_day: date) -> None:
    """What earlier days' cycles would have left: the history ingested, a champion trained on
    the days before the drift, and the drifted day's drift score stored (the signal the retrain
    sensor acts on)."""
    from forecast_jobs.definitions import build_definitions

    defs = build_definitions(settings)
    with dg.DagsterInstance.from_config(str(settings.dagster_home_path)) as instance:
        ingest = execute_partition_range(
            defs.resolve_job_def("ingest_job"), first_day, drifted_day, instance
        )
        champion = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance, partition_key=calm_day.isoformat()
        )
        drift = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("drift_score")],
            partition_key=drifted_day.isoformat(),
        )
    assert ingest.success and champion.success and drift.success
    score = drift.asset_materializations_for_node("drift_score")[0].metadata["overall_score"]
    assert score.value >= 1.0, f"the simulated drift scored only {score.value}"


def _backfill(deployment: Deployment, first: date, last: date, tags: str = "{}") -> str:
    """Queue `ingest_job` for `first`..`last` from the CLI, one run per day; its backfill id."""
    launched = run(
        [
            "dagster",
            "job",
            "backfill",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-j",
            "ingest_job",
            "--from",
            first.isoformat(),
            "--to",
            last.isoformat(),
            "--tags",
            tags,
            "--noprompt",
        ],
        deployment.env,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    match = re.search(r"Launched backfill job `(\w+)`", launched.stdout + launched.stderr)
    assert match, launched.stdout
    return match.group(1)


def test_a_cli_backfill_is_executed_by_the_daemon(deployment: Deployment) -> None:
    first = deployment.drifted_day - timedelta(days=3)
    last = deployment.drifted_day - timedelta(days=2)
    backfill_id = _backfill(deployment, first, last)
    runs = deployment.wait_for_runs({"dagster/backfill": backfill_id}, count=2)
    assert {r.tags["dagster/partition"]: r.status.value for r in runs} == {
        first.isoformat(): "SUCCESS",
        last.isoformat(): "SUCCESS",
    }


def test_a_failed_run_raises_an_alert_in_the_postgres_alert_store(
    deployment: Deployment,
) -> None:
    no_landing_file = deployment.first_day - timedelta(days=5)
    backfill_id = _backfill(
        deployment, no_landing_file, no_landing_file, tags='{"dagster/max_retries": "0"}'
    )
    [failed] = deployment.wait_for_runs({"dagster/backfill": backfill_id})
    assert failed.status.value == "FAILURE"
    engine = sa.create_engine(deployment.alerts_url)
    deadline = time.monotonic() + ALERT_DEADLINE_S
    alert = None
    while alert is None and time.monotonic() < deadline:
        time.sleep(3)
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(ALERTS_TABLE):
                continue  # the store creates its table with its first alert
            alert = connection.execute(
                sa.text(f"SELECT type, severity, title FROM {ALERTS_TABLE} WHERE dedup_key = :key"),
                {"key": f"run_failure:{failed.run_id}"},
            ).one_or_none()
    engine.dispose()
    assert alert is not None, f"no run_failure alert in time:\n{log_tail(deployment.daemon_log)}"
    assert tuple(alert) == (
        "run_failure",
        "critical",
        f"ingest_job failed for partition {no_landing_file.isoformat()}",
    )


def test_the_drift_sensor_requests_a_retrain_that_succeeds(deployment: Deployment) -> None:
    [retrain] = deployment.wait_for_runs({"dagster/sensor_name": "drift_retrain_sensor"})
    assert retrain.job_name == "retrain_job"
    assert retrain.tags["dagster/partition"] == deployment.drifted_day.isoformat()
    assert retrain.tags[TRIGGER_TAG] == "data_drift"
    assert retrain.status.value == "SUCCESS", log_tail(deployment.daemon_log)


def test_the_daily_cycle_schedule_ticks_a_run_that_succeeds(deployment: Deployment) -> None:
    [cycle] = deployment.wait_for_runs({"dagster/schedule_name": "daily_cycle_schedule"})
    assert cycle.job_name == "daily_cycle_job"
    assert cycle.tags["dagster/partition"] == deployment.scheduled_day.isoformat()
    assert cycle.status.value == "SUCCESS", log_tail(deployment.daemon_log)


def test_the_runs_are_in_the_postgres_run_storage(deployment: Deployment) -> None:
    daemon_runs = [
        *deployment.wait_for_runs({"dagster/sensor_name": "drift_retrain_sensor"}),
        *deployment.wait_for_runs({"dagster/schedule_name": "daily_cycle_schedule"}),
    ]
    engine = sa.create_engine(deployment.dagster_url)
    with engine.connect() as connection:
        stored = dict(connection.execute(sa.text("SELECT run_id, status FROM runs")).all())
    engine.dispose()
    assert {r.run_id: "SUCCESS" for r in daemon_runs}.items() <= stored.items()
    assert stored.keys() == {r.run_id for r in deployment.runs()}


def test_the_model_aliases_are_in_the_postgres_registry(deployment: Deployment) -> None:
    deployment.wait_for_runs({"dagster/schedule_name": "daily_cycle_schedule"})
    engine = sa.create_engine(deployment.mlflow_url)
    with engine.connect() as connection:
        aliases = dict(
            connection.execute(
                sa.text("SELECT alias, version FROM registered_model_aliases WHERE name = :name"),
                {"name": "demand_forecaster"},
            ).all()
        )
        versions = connection.execute(
            sa.text("SELECT count(*) FROM model_versions WHERE name = :name"),
            {"name": "demand_forecaster"},
        ).scalar_one()
    engine.dispose()
    assert {"champion", "challenger"} <= aliases.keys()
    artifacts = Path(deployment.env["FORECASTOPS_MLFLOW_ARTIFACT_ROOT"])
    assert any(artifacts.rglob("MLmodel")), f"no logged model under {artifacts}"
    # the primed champion (version 1), then the drift retrain's and the daily cycle's
    assert versions == 3
    assert aliases["challenger"] in {2, 3}
