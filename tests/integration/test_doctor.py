"""`forecastops doctor [--fix]` run as an operator would, against real stores: embedded (SQLite)
and PostgreSQL (fresh databases), healthy and broken."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from forecastops.stores.alerts.migrations import BASELINE_REVISION, head_revision
from forecastops.stores.alerts.store import AlertStore
from tests.alert_races import drift_alert
from tests.alert_schema import LATEST_INDEX, index_names, make_legacy_store
from tests.integration.helpers import isolated_env, run
from tests.integration.postgres import fresh_database

MIGRATION_TIMEOUT_S = 600


def verdicts(output: str) -> dict[str, str]:
    """Item → its verdict line (`OK    item: ...` / `FAIL  item: ...`)."""
    lines = [line for line in output.splitlines() if line.startswith(("OK    ", "FAIL  "))]
    return {line[6:].split(":", 1)[0]: line for line in lines}


def all_ok(output: str) -> bool:
    found = verdicts(output)
    return len(found) == 7 and all(line.startswith("OK") for line in found.values())


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
        "FORECASTOPS_LAKE_DIR": str(blocker / "lake"),
    }
    result = run(["forecastops", "doctor", "--fix"], broken, MIGRATION_TIMEOUT_S)
    assert result.returncode == 1
    found = verdicts(result.stdout)
    assert 'role "nobody" does not exist' in found["Dagster instance (postgres)"], result.stdout
    assert "is unreachable" in found["MLflow store"]
    assert "Connection refused" in found["MLflow store"]
    assert found["lake"].startswith(f"FAIL  lake: FORECASTOPS_LAKE_DIR={blocker / 'lake'}")
    assert "could not fix lake" in result.stdout
    # --fix repaired what it could: the alert store (created in its empty database) and the
    # landing folder.
    for healthy in ("settings", "alert store", "landing folder", "code location"):
        assert found[healthy].startswith("OK"), result.stdout


def test_mlflow_in_the_dagster_database_is_refused_before_any_check(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/shared"
    env = isolated_env(
        tmp_path, FORECASTOPS_INSTANCE="postgres", DAGSTER_PG_URL=url, MLFLOW_TRACKING_URI=url
    )
    result = run(["forecastops", "doctor"], env)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL  settings: MLFLOW_TRACKING_URI and DAGSTER_PG_URL")
    assert len(verdicts(result.stdout)) == 1
