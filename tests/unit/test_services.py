"""The parts of `forecastops up/down` that need no server: which PID files are trusted, when
`up` writes one, and the port probe."""

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
    settings = Settings(
        home=tmp_path, mlflow_tracking_uri="postgresql+psycopg2://u:secret@db:5432/mlflow"
    )
    for service in services(settings):
        assert not any("secret" in part for part in service.command), service.name
