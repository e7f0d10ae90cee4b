"""`forecastops doctor [--fix]` run as an operator would, against real stores: embedded (SQLite)
and PostgreSQL (fresh databases), healthy and broken."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from datetime import timedelta
from pathlib import Path

import pytest

from forecastops.stores.alerts.migrations import BASELINE_REVISION, head_revision
from forecastops.stores.alerts.store import AlertStore
from tests.alert_races import drift_alert
from tests.alert_schema import LATEST_INDEX, index_names, make_legacy_store
from tests.integration.helpers import isolated_env, run, running
from tests.integration.postgres import fresh_database

MIGRATION_TIMEOUT_S = 600


def verdicts(output: str) -> dict[str, str]:
    """Item → its verdict line (`OK    item: ...` / `FAIL  item: ...`)."""
    lines = [line for line in output.splitlines() if line.startswith(("OK    ", "FAIL  "))]
    return {line[6:].split(":", 1)[0]: line for line in lines}


def all_ok(output: str) -> bool:
    found = verdicts(output)
    return len(found) == 11 and all(line.startswith("OK") for line in found.values())


@pytest.fixture
def postgres_urls() -> Iterator[dict[str, str]]:
    """Fresh, empty databases for Dagster, MLflow and the alert store, as their env vars."""
    with ExitStack() as stack:
        dagster, mlflow, alerts = (
            stack.enter_context(fresh_database(f"forecastops_{name}"))
            for name in ("dagster", "mlflow", "alerts")
        )
        yield {
            "FORECASTOPS_INSTANCE": "postgres",
            "DAGSTER_PG_URL": dagster.replace("postgresql://", "postgresql+psycopg2://"),
            "MLFLOW_TRACKING_URI": mlflow.replace("postgresql://", "postgresql+psycopg2://"),
            "FORECASTOPS_ALERTS_DB_URL": alerts,
        }


def test_an_embedded_setup_is_healthy_after_fix(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    fixed = run(["forecastops", "doctor", "--fix"], env, timeout=MIGRATION_TIMEOUT_S)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    again = run(["forecastops", "doctor"], env, timeout=MIGRATION_TIMEOUT_S)
    assert again.returncode == 0, again.stdout + again.stderr
    assert all_ok(again.stdout), again.stdout
    assert "All healthy." in again.stdout
    assert "code location: forecast_jobs.definitions loads (" in again.stdout


@pytest.mark.postgres
def test_fresh_postgres_databases_and_an_old_alert_store_are_not_migrated_until_fixed(
    tmp_path: Path, postgres_urls: dict[str, str]
) -> None:
    """Dagster's and MLflow's databases are empty; the alert store's was made by a ForecastOps
    from before the alert store had migrations, and holds an alert."""
    alerts_url = postgres_urls["FORECASTOPS_ALERTS_DB_URL"]
    make_legacy_store(alerts_url)
    with AlertStore(alerts_url) as old:
        alert = drift_alert(old)
    env = isolated_env(tmp_path, **postgres_urls)
    before = run(["forecastops", "doctor"], env, timeout=MIGRATION_TIMEOUT_S)
    assert before.returncode == 1
    found = verdicts(before.stdout)
    assert "not migrated (no MLflow schema" in found["MLflow store"], before.stdout
    assert "is not the PostgreSQL instance" in found["Dagster instance (postgres)"]
    assert found["alert store"].endswith(
        "is not at the head revision (at no revision: a table from before versioned "
        f"migrations, head {head_revision()})"
    )
    assert (
        f"{found['alert store']}\n      fix: back up the database, then run "
        "`forecastops doctor --fix`\n"
    ) in before.stdout

    fixed = run(["forecastops", "doctor", "--fix"], env, timeout=MIGRATION_TIMEOUT_S)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert all_ok(fixed.stdout), fixed.stdout
    assert (
        f"fixed alert store: stamped the table from before migrations as {BASELINE_REVISION} "
        f"and upgraded it to {head_revision()}\n"
    ) in fixed.stdout
    found = verdicts(fixed.stdout)
    assert "reachable, schema at head" in found["MLflow store"]
    assert "reachable, schema at head" in found["Dagster instance (postgres)"]
    assert found["alert store"].endswith(f"reachable, schema at head ({head_revision()})")
    with AlertStore(alerts_url) as store:
        assert store.get(alert.id) == alert
    assert LATEST_INDEX in index_names(alerts_url)


@pytest.mark.postgres
def test_broken_databases_and_an_unwritable_lake_fail_their_items(
    tmp_path: Path, postgres_urls: dict[str, str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file, so no folder can be made below it, even by root")
    broken = {
        **isolated_env(tmp_path / "home", **postgres_urls),
        # Trust auth accepts any password, so a role that does not exist stands for bad creds.
        "DAGSTER_PG_URL": postgres_urls["DAGSTER_PG_URL"].replace("//postgres@", "//nobody@"),
        # Nothing listens on port 1: the server is down.
        "MLFLOW_TRACKING_URI": postgres_urls["MLFLOW_TRACKING_URI"].replace(":5432/", ":1/"),
    }
    result = run(["forecastops", "doctor", "--fix"], broken, MIGRATION_TIMEOUT_S)
    assert result.returncode == 1
    found = verdicts(result.stdout)
    assert 'role "nobody" does not exist' in found["Dagster instance (postgres)"], result.stdout
    assert "is unreachable" in found["MLflow store"]
    assert "Connection refused" in found["MLflow store"]
    # --fix repaired what it could: the alert store (created in its empty database), the lake
    # and the landing folder.
    for healthy in ("settings", "alert store", "lake", "landing folder", "code location"):
        assert found[healthy].startswith("OK"), result.stdout

    # A lake that can never exist (under a file) is refused with the settings, naming it.
    under_a_file = {**broken, "FORECASTOPS_LAKE_DIR": str(blocker / "lake")}
    refused = run(["forecastops", "doctor", "--fix"], under_a_file, MIGRATION_TIMEOUT_S)
    assert refused.returncode != 0
    settings = verdicts(refused.stdout)["settings"]
    assert settings.startswith("FAIL") and "FORECASTOPS_LAKE_DIR" in settings, refused.stdout
    assert "which is a file, not a folder" in settings


def test_mlflow_in_the_dagster_database_is_refused_before_any_check(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/shared"
    env = isolated_env(
        tmp_path, FORECASTOPS_INSTANCE="postgres", DAGSTER_PG_URL=url, MLFLOW_TRACKING_URI=url
    )
    result = run(["forecastops", "doctor"], env)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  settings: MLFLOW_TRACKING_URI and DAGSTER_PG_URL")
    assert len(verdicts(result.stdout)) == 1


# --- debris left by runs that died ---------------------------------------------------------

STARTED_DEADLINE_S = 180
HANG_LOCATION = Path(__file__).with_name("hang_location.py")


def _started_worker(dagster_home: str, deadline_s: float) -> tuple[str, int]:
    """(run id, worker pid) of the one run once it is STARTED and its worker logged its pid."""
    import dagster as dg

    from forecast_jobs.instance_admin import worker_pid

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(dagster_home) as instance:
            runs = list(instance.get_runs())
            if runs and runs[0].status == dg.DagsterRunStatus.STARTED:
                pid = worker_pid(instance, runs[0].run_id)
                if pid is not None:
                    return runs[0].run_id, pid
        time.sleep(1)
    raise AssertionError(f"no STARTED run with a worker pid in {deadline_s} s")


def _wait_gone(pid: int, deadline_s: float = 30) -> None:
    from forecast_jobs.instance_admin import process_alive

    deadline = time.monotonic() + deadline_s
    while process_alive(pid):
        assert time.monotonic() < deadline, f"process {pid} outlived SIGKILL"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_killed_run_and_its_mlflow_runs_are_reported_and_fixed(tmp_path: Path) -> None:
    """A real run worker killed with SIGKILL leaves its Dagster run STARTED; MLflow runs of a
    Dagster run that is not in progress are left RUNNING. The doctor names both; --fix marks
    them FAILED; a RUNNING MLflow run of a live Dagster run is never touched."""
    import dagster as dg
    from mlflow import MlflowClient

    env = isolated_env(tmp_path)
    assert run(["forecastops", "doctor", "--fix"], env, MIGRATION_TIMEOUT_S).returncode == 0
    workspace = tmp_path / "hang-workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_file:\n      relative_path: {HANG_LOCATION}\n"
        "      location_name: hang\n"
    )
    launched = run(["dagster", "job", "launch", "-w", str(workspace), "-j", "hang_job"], env)
    assert launched.returncode == 0, launched.stderr[-3000:]

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("forecastops") or client.get_experiment(
        client.create_experiment("forecastops")
    )
    log = tmp_path / "daemon.log"
    with running(["dagster-daemon", "run", "-w", str(workspace)], env, log, cwd=tmp_path) as daemon:
        run_id, pid = _started_worker(env["DAGSTER_HOME"], STARTED_DEADLINE_S)
        live = client.create_run(experiment.experiment_id, tags={"dagster_run_id": run_id})
        gone = client.create_run(experiment.experiment_id, tags={"dagster_run_id": "gone-run"})
        while_alive = run(["forecastops", "doctor"], env, MIGRATION_TIMEOUT_S)
        # The whole service dies at once (OOM killer, power loss): the daemon, its code server
        # and the run worker. (A run worker killed alone is reported FAILED by the code server
        # that launched it; nothing is left behind then.)
        os.killpg(daemon.pid, signal.SIGKILL)
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
    found = verdicts(while_alive.stdout)
    assert found["stuck Dagster runs"] == "OK    stuck Dagster runs: none", while_alive.stdout
    left = found["MLflow runs left RUNNING"]
    assert gone.info.run_id in left and live.info.run_id not in left, while_alive.stdout

    before = run(["forecastops", "doctor"], env, MIGRATION_TIMEOUT_S)
    assert before.returncode == 1
    found = verdicts(before.stdout)
    assert found["stuck Dagster runs"] == (
        f"FAIL  stuck Dagster runs: 1: run {run_id} of hang_job is STARTED but its worker "
        f"(pid {pid}) is gone"
    ), before.stdout
    assert live.info.run_id in found["MLflow runs left RUNNING"]

    fixed = run(["forecastops", "doctor", "--fix"], env, MIGRATION_TIMEOUT_S)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert all_ok(fixed.stdout), fixed.stdout
    assert f"fixed stuck Dagster runs: marked 1 run(s) FAILED: {run_id}" in fixed.stdout
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE  # type: ignore[union-attr]
        failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert f"pid {pid} on this machine" in (failure[-1].dagster_event.message or "")  # type: ignore[union-attr]
    for mlflow_run in (live, gone):
        assert client.get_run(mlflow_run.info.run_id).info.status == "FAILED"


def test_orphan_versions_and_an_unbacktested_challenger_are_reported_and_fixed(
    tmp_path: Path,
) -> None:
    """Three challengers whose cycles died after registering: version 1 is an orphan (no alias,
    never judged, no forecast), version 2 has forecasts (kept), version 3 holds `challenger`
    without backtest tags. Made by the real challenger_model asset in a real MLflow store."""
    from forecastops.stores.registry import ModelRegistry
    from forecastops.stores.registry_tags import ARCHIVED_TAG, CHALLENGER
    from tests.registry_helpers import CUTOFF, trained_challengers, write_forecasts

    cutoffs = [CUTOFF - timedelta(days=2), CUTOFF - timedelta(days=1), CUTOFF]
    sales, lake, uri = trained_challengers(tmp_path / "stores", cutoffs)
    rows = sales[sales["date"] == sales["date"].max()][["date", "store_id", "product_id"]]
    write_forecasts(lake, rows.assign(date=rows["date"] + timedelta(days=1)), cutoffs[1], "2", 5.0)
    env = isolated_env(
        tmp_path / "home", MLFLOW_TRACKING_URI=uri, FORECASTOPS_LAKE_DIR=str(lake.root)
    )
    before = run(["forecastops", "doctor"], env, MIGRATION_TIMEOUT_S)
    found = verdicts(before.stdout)
    assert found["orphan model versions"].startswith(
        "FAIL  orphan model versions: 1: version 1 (never judged"
    ), before.stdout
    assert found["challenger alias"] == (
        "FAIL  challenger alias: 1: challenger is version 3, which has no backtest"
    )

    fixed = run(["forecastops", "doctor", "--fix"], env, MIGRATION_TIMEOUT_S)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert all_ok(fixed.stdout), fixed.stdout
    registry = ModelRegistry(uri)
    assert registry.alias_version(CHALLENGER) is None
    archived = {v["version"] for v in registry.versions() if ARCHIVED_TAG in v["tags"]}
    assert archived == {"1", "3"}
    assert "orphan" in registry.version_tags("1")[ARCHIVED_TAG]
