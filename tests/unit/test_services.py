"""The parts of `forecastops up/down` that need no server: which PID files are trusted, and the
port probe."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from forecastops.ops.services import pid_file, port_taken, running_pid, services, stop
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


def test_a_pid_file_of_a_live_service_process_is_trusted(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    daemon = next(service for service in services(settings) if service.name == "dagster-daemon")
    # Any process whose command line carries the service's marker counts as that service.
    look_alike = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "dagster-daemon"],
        start_new_session=True,
    )
    try:
        settings.logs_path.mkdir(parents=True)
        pid_file(settings, daemon).write_text(f"{look_alike.pid}\n")
        assert running_pid(settings, daemon) == look_alike.pid
        assert stop(settings) == ["dagster-daemon"]
        # stop() reaped it (it is our child) once its process group was gone.
        with pytest.raises(ProcessLookupError):
            os.kill(look_alike.pid, 0)
    finally:
        if look_alike.poll() is None:
            look_alike.kill()
            look_alike.wait()


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
