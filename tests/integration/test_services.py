"""`forecastops up` / `down` (what `make up` / `make down` run): the real dagster-webserver,
dagster-daemon and MLflow UI on PostgreSQL, started, answering, and stopped."""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.integration.helpers import free_port, isolated_env, run
from tests.integration.postgres import fresh_database

UP_TIMEOUT_S = 900


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def postgres_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An operator's environment on fresh PostgreSQL databases, with free ports."""
    with ExitStack() as stack:
        dagster, mlflow, alerts = (
            stack.enter_context(fresh_database(f"forecastops_{name}"))
            for name in ("dagster", "mlflow", "alerts")
        )
        yield isolated_env(
            tmp_path,
            FORECASTOPS_INSTANCE="postgres",
            DAGSTER_PG_URL=dagster.replace("postgresql://", "postgresql+psycopg2://"),
            MLFLOW_TRACKING_URI=mlflow.replace("postgresql://", "postgresql+psycopg2://"),
            FORECASTOPS_ALERTS_DB_URL=alerts,
            FORECASTOPS_WEBSERVER_PORT=str(free_port()),
            FORECASTOPS_MLFLOW_PORT=str(free_port()),
        )


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return bytes(response.read())


@pytest.mark.postgres
def test_up_serves_the_uis_on_postgres_and_down_stops_every_process(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    logs = tmp_path / "logs"
    pids: dict[str, int] = {}
    try:
        started = run(["forecastops", "up"], postgres_env, timeout=UP_TIMEOUT_S)
        assert started.returncode == 0, started.stdout + started.stderr
        pids = {path.stem: int(path.read_text()) for path in logs.glob("*.pid")}
        assert set(pids) == {"dagster-webserver", "dagster-daemon", "mlflow"}

        webserver = f"http://127.0.0.1:{postgres_env['FORECASTOPS_WEBSERVER_PORT']}"
        assert b"dagster_webserver_version" in get(f"{webserver}/server_info")
        assert get(f"http://127.0.0.1:{postgres_env['FORECASTOPS_MLFLOW_PORT']}/health") == b"OK"
        deadline = time.monotonic() + 120
        while b"daemon" not in (logs / "dagster-daemon.log").read_bytes().lower():
            assert time.monotonic() < deadline, "the daemon never logged"
            time.sleep(1)
        assert all(process_exists(pid) for pid in pids.values())

        again = run(["forecastops", "up"], postgres_env)
        assert again.returncode == 1
        assert "is already running" in again.stderr
    finally:
        stopped = run(["forecastops", "down"], postgres_env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped" in stopped.stdout
    assert not [name for name, pid in pids.items() if process_exists(pid)]
    assert not list(logs.glob("*.pid"))
    assert run(["forecastops", "down"], postgres_env).stdout.strip() == "nothing was running"


def test_up_refuses_a_taken_port_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = isolated_env(tmp_path, FORECASTOPS_WEBSERVER_PORT=str(port))
        result = run(["forecastops", "up"], env)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is taken" in result.stderr
    assert "FORECASTOPS_WEBSERVER_PORT" in result.stderr
    assert not (tmp_path / "logs").exists()


@pytest.mark.postgres
def test_up_refuses_when_postgres_is_unreachable(
    tmp_path: Path, postgres_env: dict[str, str]
) -> None:
    env = {
        **postgres_env,
        "DAGSTER_PG_URL": postgres_env["DAGSTER_PG_URL"].replace(":5432/", ":1/"),
    }
    result = run(["forecastops", "up"], env, timeout=UP_TIMEOUT_S)
    assert result.returncode == 1
    assert "FAIL  Dagster instance (postgres)" in result.stdout
    assert "Connection refused" in result.stdout
    assert "Refused: PostgreSQL is unreachable" in result.stderr
    assert not list((tmp_path / "logs").glob("*.pid"))
