"""The parts of `forecastops up/down/serve` that need no server: which PID files are trusted, when
`up` writes one, the port probe, what `serve` runs, and the systemd units that run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from forecastops.ops.services import (
    Service,
    pid_file,
    port_taken,
    running_pid,
    services,
    stop,
    write_pid_file,
)
from forecastops.stores.settings import Settings
from tests.conftest import REPO_ROOT


def test_down_never_signals_a_process_that_is_not_the_service(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    daemon = next(service for service in services(settings) if service.name == "dagster-daemon")
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        settings.logs_path.mkdir(parents=True)
        # A stale PID file whose number now belongs to an unrelated process.
        pid_file(settings, daemon).write_text(f"{stranger.pid}\n")
        assert running_pid(settings, daemon) is None
        assert stop(settings) == []
        assert stranger.poll() is None, "the unrelated process was signalled"
        assert not pid_file(settings, daemon).exists()
    finally:
        stranger.kill()
        stranger.wait()


def look_alike(service: Service, *, ready: bool = False) -> subprocess.Popen[bytes]:
    """A sleeping process whose command line carries `service`'s marker, so it counts as that
    service, in a session of its own as `up` starts them. With `ready`, it prints a line once
    it runs: reading that line proves its exec has ended and its command line is readable."""
    announce = "print('ready', flush=True); " if ready else ""
    return subprocess.Popen(
        [sys.executable, "-c", f"import time; {announce}time.sleep(60)", service.marker],
        stdout=subprocess.PIPE if ready else None,
        start_new_session=True,
    )


def test_a_pid_file_of_a_live_service_process_is_trusted(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    daemon = next(service for service in services(settings) if service.name == "dagster-daemon")
    process = look_alike(daemon, ready=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        settings.logs_path.mkdir(parents=True)
        pid_file(settings, daemon).write_text(f"{process.pid}\n")
        assert running_pid(settings, daemon) == process.pid
        assert stop(settings) == ["dagster-daemon"]
        # stop() reaped it (it is our child) once its process group was gone.
        with pytest.raises(ProcessLookupError):
            os.kill(process.pid, 0)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_up_writes_a_pid_file_only_once_its_process_is_recognisable(tmp_path: Path) -> None:
    """`Popen` returns before the child's command line is readable (most reads straight after it
    find /proc/PID/cmdline empty): a PID file written then would not be trusted, and `down`
    would leave that service running. Each of these is read the instant it is written."""
    settings = Settings(home=tmp_path)
    settings.logs_path.mkdir(parents=True)
    for service in services(settings):
        for _ in range(10):
            process = look_alike(service)
            try:
                write_pid_file(settings, service, process)
                assert running_pid(settings, service) == process.pid
            finally:
                process.kill()
                process.wait()


def test_port_taken_sees_a_listening_socket() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_taken("127.0.0.1", port)
    assert not port_taken("127.0.0.1", port)


def test_no_database_url_is_on_a_service_command_line(tmp_path: Path) -> None:
    password = "Pw4-no-command-line"  # not a word a checkout's path may hold (wt-secrets)
    settings = Settings(
        home=tmp_path, mlflow_tracking_uri=f"postgresql+psycopg2://u:{password}@db:5432/mlflow"
    )
    for service in services(settings):
        assert not any(password in part for part in service.command), service.name


class _Execed(Exception):
    """Stands in for `os.execve`, which would replace the test process."""


@pytest.fixture
def execve(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, list[str], dict[str, str]]]:
    calls: list[tuple[str, list[str], dict[str, str]]] = []

    def record(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append((path, argv, env))
        raise _Execed

    monkeypatch.setattr("forecastops.ops.services.os.execve", record)
    return calls


def test_serve_runs_a_service_as_up_starts_it_on_the_loopback_by_default(
    tmp_path: Path, execve: list[tuple[str, list[str], dict[str, str]]]
) -> None:
    from typer.testing import CliRunner

    from forecastops.ops.cli import app

    store = "postgresql+psycopg2://u:Pw4-serve@127.0.0.1:5432/mlflow"
    result = CliRunner().invoke(
        app,
        ["serve", "mlflow"],
        env={
            "FORECASTOPS_HOME": str(tmp_path),
            "DAGSTER_HOME": str(tmp_path / "instance"),
            "MLFLOW_TRACKING_URI": store,
        },
    )
    assert isinstance(result.exception, _Execed), result.output
    [(path, argv, env)] = execve
    [mlflow] = [s for s in services(Settings(home=tmp_path)) if s.name == "mlflow"]
    assert (path, tuple(argv)) == (mlflow.command[0], mlflow.command)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert env["MLFLOW_BACKEND_STORE_URI"] == store
    assert env["DAGSTER_HOME"] == str(tmp_path / "instance")
    assert not any("Pw4-serve" in part for part in argv)


@pytest.mark.parametrize("host", ["", "  "])
@pytest.mark.parametrize("name", ["dagster-webserver", "mlflow"])
def test_serve_refuses_an_empty_host_before_starting_anything(
    tmp_path: Path, execve: list[tuple[str, list[str], dict[str, str]]], host: str, name: str
) -> None:
    from typer.testing import CliRunner

    from forecastops.ops.cli import app

    result = CliRunner().invoke(
        app,
        ["serve", name],
        env={"FORECASTOPS_HOME": str(tmp_path), "FORECASTOPS_SERVICE_HOST": host},
    )
    assert result.exit_code == 2, result.output
    assert f"FORECASTOPS_SERVICE_HOST={host!r} is invalid" in result.output
    assert "every interface" in result.output
    assert execve == []


def test_the_systemd_units_start_each_service_through_forecastops_serve() -> None:
    """No unit spells a service's command line (with a host that may be empty) itself: each
    runs `forecastops serve`, which checks the settings first."""
    units = sorted((REPO_ROOT / "deploy" / "systemd").glob("*.service"))
    started = {}
    for unit in units:
        lines = unit.read_text().splitlines()
        [exec_start] = [
            line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")
        ]
        program, command, name = exec_start.split()
        assert (program, command) == ("/opt/forecastops/.venv/bin/forecastops", "serve"), unit.name
        assert not any("SERVICE_HOST" in line for line in lines if line.startswith("Exec")), (
            unit.name
        )
        started[name] = unit.name
    assert sorted(started) == sorted(s.name for s in services(Settings()))


def test_celery_workers_get_the_broker_through_the_environment_only(tmp_path: Path) -> None:
    broker = "redis://:s3cret-word@127.0.0.1:6379/0"
    assert services(Settings(home=tmp_path))[-1].name == "mlflow"  # no workers by default
    settings = Settings(
        home=tmp_path, executor="celery", celery_broker_url=broker, celery_workers=3
    )
    workers = [s for s in services(settings) if s.name.startswith("celery-worker-")]
    assert [w.name for w in workers] == [f"celery-worker-{i}" for i in (1, 2, 3)]
    for worker in workers:
        assert "s3cret-word" not in " ".join(worker.command)  # `ps` shows command lines
        assert dict(worker.extra_env)["CELERY_BROKER_URL"] == broker
        assert "-y" not in worker.command  # dagster-celery would write the URL into a file
