"""Running the project's real command-line tools in a subprocess against a temporary home."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterRun

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = REPO_ROOT / ".venv" / "bin"


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh operator shell whose FORECASTOPS_HOME is `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTOPS_")}
    env.pop("MLFLOW_TRACKING_URI", None)
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env.update(
        FORECASTOPS_HOME=str(home),
        DAGSTER_HOME=str(dagster_home),
        FORECASTOPS_START_DATE="2025-01-01",
        **extra,
    )
    return env


def run(
    command: list[str], env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run one of the venv's commands (by name) from the repo root, capturing its output."""
    executable = BIN / command[0]
    return subprocess.run(
        [str(executable), *command[1:]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def launch_job(env: dict[str, str], job: str, tags: dict[str, str]) -> None:
    """Submit one run of `job` with `tags` (e.g. `dagster/partition`) to the instance's run queue,
    as the UI does; the daemon starts it."""
    launched = run(
        [
            "dagster",
            "job",
            "launch",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "-j",
            job,
            "--tags",
            json.dumps(tags),
        ],
        env,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing uses right now, for a server a test starts, and
    not one handed out before in this session.

    It is taken below the kernel's ephemeral range: a port from `bind(("127.0.0.1", 0))` lies
    inside that range, where every outgoing connection on the machine (PostgreSQL clients, the
    browser, other test sessions) also takes its local port, so one of them could hold it by
    the time the server binds it seconds later."""
    ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    candidates = [port for port in range(20000, ephemeral_low) if port not in _HANDED_OUT]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 in 20000..{ephemeral_low - 1}")


@contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = REPO_ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """Run one of the venv's long-running commands (a daemon, the webserver) in the background,
    its output to `log`; stop it (and the processes it started) on exit."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the command politely, then whatever of its session outlived it (code servers, run
    workers)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def log_tail(log: Path, chars: int = 4000) -> str:
    """The end of a background command's log, for an assertion message."""
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


def wait_for_runs(
    dagster_home: str, tags: dict[str, str], count: int, deadline_s: float, log: Path | None = None
) -> list[DagsterRun]:
    """The runs tagged `tags` once at least `count` exist and all of them have finished; fails
    with their statuses (and the end of `log`, e.g. the daemon's) after `deadline_s`."""
    import dagster as dg

    deadline = time.monotonic() + deadline_s
    runs: list[DagsterRun] = []
    while time.monotonic() < deadline:
        with dg.DagsterInstance.from_config(dagster_home) as instance:
            runs = list(instance.get_runs(dg.RunsFilter(tags=tags)))
        if len(runs) >= count and all(run.is_finished for run in runs):
            return runs
        time.sleep(2)
    statuses = [(run.run_id, run.status.value) for run in runs]
    tail = f"\n{log_tail(log)}" if log else ""
    raise AssertionError(f"{count} run(s) tagged {tags} did not finish in time: {statuses}{tail}")


def answers(url: str) -> bool:
    """Whether `url` answers 200 within 5 s (a server that is up)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False
