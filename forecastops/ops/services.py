"""`forecastops up` / `down`: dagster-webserver, dagster-daemon and the MLflow UI as background
processes of one machine, for a team server without a service manager (docs/deployment.md has
systemd units for one with).

`up` refuses when a service already runs, a port is taken or a PostgreSQL database does not
answer, runs `forecastops doctor --fix` (migrations included) and refuses unless everything is
healthy, then starts each service in its
own session (so `down` can stop it with its children), writes `<name>.pid` and `<name>.log`
under `$FORECASTOPS_HOME/logs`, and waits until the UIs answer. `down` stops every service whose
PID file names a live process that is still that service, and removes the PID files; with
nothing running it does nothing.

The services run from `$FORECASTOPS_HOME` and load the installed code location through the
workspace that `forecastops.ops.dagster_bridge.write_workspace` writes there, so `up` works from
an installed package as from a source checkout.

Secrets stay out of the process list: database URLs reach the services through the environment
(`DAGSTER_PG_URL`, `MLFLOW_BACKEND_STORE_URI`), never through their command lines.

`exec_service` (`forecastops serve NAME`) runs one service in the foreground with the same command
line and environment, for a service manager (the systemd units in deploy/systemd/): the units
and `up` share one definition, and the settings are checked first (e.g. an empty
`FORECASTOPS_SERVICE_HOST`, which would make a UI listen on every interface, is refused).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from forecastops.ops.dagster_bridge import dagster_env, workspace_path, write_workspace
from forecastops.stores.settings import Settings

READY_TIMEOUT_S = 300
"""How long `up` waits for the UIs to answer (the webserver loads the code location first)."""
STOP_TIMEOUT_S = 30
"""How long `down` waits after SIGTERM before it sends SIGKILL."""
POLL_S = 0.5
EXEC_TIMEOUT_S = 60
"""How long `start` waits for a new process to show its command line (a few ms unless busy)."""
EXEC_POLL_S = 0.005
LOG_TAIL_CHARS = 2000
_BIN = Path(sys.executable).parent


class ServiceError(RuntimeError):
    """`up` refused or a service did not start; the message says why and what to do."""


@dataclass(frozen=True)
class Service:
    """One background process. `marker`: a word of its command line, checked before a PID file's
    process is stopped (a PID may have been reused). `ready_url`: answers once it serves."""

    name: str
    command: tuple[str, ...]
    marker: str
    port: int | None = None
    ready_url: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()


def services(settings: Settings) -> tuple[Service, ...]:
    """The services of `settings`, in start order."""
    host = settings.service_host
    webserver = f"http://{host}:{settings.webserver_port}"
    mlflow = f"http://{host}:{settings.mlflow_port}"
    workspace = str(workspace_path(settings))  # `start` writes it
    return (
        Service(
            "dagster-webserver",
            (
                str(_BIN / "dagster-webserver"),
                *("-w", workspace, "-h", host, "-p", str(settings.webserver_port)),
            ),
            marker="dagster-webserver",
            port=settings.webserver_port,
            ready_url=f"{webserver}/server_info",
        ),
        Service(
            "dagster-daemon",
            (str(_BIN / "dagster-daemon"), "run", "-w", workspace),
            marker="dagster-daemon",
        ),
        Service(
            "mlflow",
            (
                str(_BIN / "mlflow"),
                *("server", "--host", host, "--port", str(settings.mlflow_port)),
                *("--workers", "1", "--no-serve-artifacts"),
            ),
            marker="mlflow",
            port=settings.mlflow_port,
            ready_url=f"{mlflow}/health",
            extra_env=(
                ("MLFLOW_BACKEND_STORE_URI", settings.mlflow_uri),
                ("MLFLOW_DEFAULT_ARTIFACT_ROOT", settings.mlflow_artifact_uri),
                # MLflow's job runner (GenAI evaluation jobs) is unused here: no worker pool.
                ("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false"),
            ),
        ),
        *celery_workers(settings),
    )


def celery_workers(settings: Settings) -> tuple[Service, ...]:
    """The `FORECASTOPS_CELERY_WORKERS` dagster-celery workers of this machine with
    `FORECASTOPS_EXECUTOR=celery` (none otherwise): `forecastops-<i>@<host>`, one step at a time
    each (`--concurrency=1`: N workers run N steps at once, whatever the cores), taking a step
    only when idle (`--disable-prefetch`).

    The broker reaches them as Celery's own `CELERY_BROKER_URL` / `CELERY_RESULT_BACKEND`
    variables, never through `-y` config: `dagster-celery worker start` would write a config
    file's broker URL in clear text into a Python module under the Dagster instance folder."""
    if settings.executor != "celery" or settings.celery_broker_url is None:
        return ()
    broker = settings.celery_broker_url
    return tuple(
        Service(
            f"celery-worker-{index}",
            (
                str(_BIN / "dagster-celery"),
                *("worker", "start", "-A", "dagster_celery.app", "-n", f"forecastops-{index}"),
                # A busy worker reserves no further step (Redis brokers; ignored by others):
                # a step waits on the queue for a free worker, never behind a long one.
                *("--", "--concurrency=1", "--disable-prefetch"),
            ),
            marker="dagster-celery",
            extra_env=(
                ("CELERY_BROKER_URL", broker),
                ("CELERY_RESULT_BACKEND", broker),
                # dagster-celery runs `celery` from PATH; ours is beside it in this environment.
                ("PATH", os.pathsep.join((str(_BIN), os.environ.get("PATH", os.defpath)))),
            ),
        )
        for index in range(1, settings.celery_workers + 1)
    )


def service_environment(settings: Settings, service: Service) -> dict[str, str]:
    """The environment `service` runs in: a Dagster-side process's (`dagster_env`: the homes from
    the settings, only installed packages on `sys.path`) with the service's own variables (e.g.
    MLflow's backend store URL)."""
    return {**dagster_env(settings), **dict(service.extra_env)}


def exec_service(settings: Settings, name: str) -> NoReturn:
    """Replace this process with the service `name` (one of `services(settings)`), in the
    foreground, as `start` runs it in the background. Raises `ServiceError` for an unknown name."""
    by_name = {service.name: service for service in services(settings)}
    if name not in by_name:
        raise ServiceError(f"no service {name!r}; the services are {', '.join(by_name)}.")
    service = by_name[name]
    write_workspace(settings)
    os.chdir(settings.home.resolve())  # as `start` runs it: never from a source checkout
    os.execve(service.command[0], list(service.command), service_environment(settings, service))


def pid_file(settings: Settings, service: Service) -> Path:
    return settings.logs_path / f"{service.name}.pid"


def log_file(settings: Settings, service: Service) -> Path:
    return settings.logs_path / f"{service.name}.log"


def _command_line(pid: int) -> str:
    """The command line of process `pid`, its arguments joined by spaces; "" when there is no
    such process, for a zombie, and for a process still inside the exec that follows its fork
    (Linux fills `/proc/PID/cmdline` in at the end of the exec)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def running_pid(settings: Settings, service: Service) -> int | None:
    """The PID of `service` if its PID file names a live process that is that service."""
    path = pid_file(settings, service)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if service.marker in _command_line(pid) else None


def write_pid_file(settings: Settings, service: Service, process: subprocess.Popen[bytes]) -> None:
    """Record `process` in `service`'s PID file once `running_pid` can recognise it as the
    service: once its command line shows the service's marker (or it has exited, or
    `EXEC_TIMEOUT_S` have passed). `Popen` returns when the child has begun its exec, but its
    command line is readable only when the exec ends (most reads straight after `Popen` find it
    empty); a PID file written in between names a process that `running_pid` does not trust,
    which `down`, or `up` stopping what it started after a failure, would then leave running."""
    deadline = time.monotonic() + EXEC_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        if service.marker in _command_line(process.pid):
            break
        time.sleep(EXEC_POLL_S)
    pid_file(settings, service).write_text(f"{process.pid}\n")


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def refuse_to_start(settings: Settings) -> None:
    """`ServiceError` when a service already runs or a port it needs is taken."""
    for service in services(settings):
        pid = running_pid(settings, service)
        if pid is not None:
            raise ServiceError(
                f"{service.name} is already running (pid {pid}, {pid_file(settings, service)}); "
                "run `forecastops down` (or `make down`) first."
            )
    for service in services(settings):
        if service.port is not None and port_taken(settings.service_host, service.port):
            variable = (
                "FORECASTOPS_WEBSERVER_PORT"
                if service.name == "dagster-webserver"
                else "FORECASTOPS_MLFLOW_PORT"
            )
            raise ServiceError(
                f"port {service.port} on {settings.service_host} is taken, so {service.name} "
                f"cannot listen there; stop what uses it or set {variable} to a free port."
            )


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return "(no log)"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start(settings: Settings, on_started: Callable[[Service, int], None]) -> None:
    """Start every service (call `refuse_to_start` and the doctor first) and wait until each
    `ready_url` answers. A service that exits or does not answer in time stops them all and
    raises `ServiceError` quoting its log."""
    settings.logs_path.mkdir(parents=True, exist_ok=True)
    write_workspace(settings)
    started: list[tuple[Service, subprocess.Popen[bytes]]] = []
    for service in services(settings):
        with log_file(settings, service).open("ab") as log:
            process = subprocess.Popen(
                service.command,
                cwd=settings.home.resolve(),
                env=service_environment(settings, service),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append((service, process))
        write_pid_file(settings, service, process)
        on_started(service, process.pid)
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = [service for service, _ in started if service.ready_url]
    while waiting:
        for service, process in started:
            if process.poll() is not None:
                stop(settings)
                raise ServiceError(
                    f"{service.name} exited with {process.returncode} while starting; the end "
                    f"of {log_file(settings, service)}:\n{_log_tail(log_file(settings, service))}"
                )
        waiting = [service for service in waiting if not _answers(str(service.ready_url))]
        if waiting and time.monotonic() > deadline:
            stop(settings)
            names = ", ".join(service.name for service in waiting)
            raise ServiceError(
                f"{names} did not answer within {READY_TIMEOUT_S} s; see the logs in "
                f"{settings.logs_path}."
            )
        if waiting:
            time.sleep(POLL_S)


def _group_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # reap it if it is our child (`start` failed)
        os.waitpid(pid, os.WNOHANG)
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(settings: Settings) -> list[str]:
    """Stop every running service with its process group (SIGTERM, then SIGKILL after
    `STOP_TIMEOUT_S`) and remove the PID files; the names of the services stopped."""
    stopped = []
    for service in reversed(services(settings)):
        pid = running_pid(settings, service)
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(POLL_S)
            if _group_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(service.name)
        pid_file(settings, service).unlink(missing_ok=True)
    return stopped
