"""Run a Dagster-side command of this repository in a subprocess: the core never imports Dagster.

Where the core needs Dagster (the schema head and migration for `forecastops doctor`, loading
the code location, the run history for `forecastops report`, `dagster job backfill` for
`forecastops retrain`) it runs a command that imports Dagster itself, with `run_dagster_command`:
from the repo root, with `DAGSTER_HOME` set from the settings, its output captured, and a time
limit. What a failure means differs per caller (a doctor verdict, a report that degrades, a
refused retrain), so this returns the result and leaves the message to the caller; only a
command that outlives its limit is an exception here, `DagsterCommandTimeout`.
See docs/decisions/0006.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from forecastops.domain.secrets import mask_urls_in
from forecastops.stores.settings import REPO_ROOT, Settings


class DagsterCommandTimeout(Exception):
    """A Dagster-side command did not finish within its limit and was killed.

    `command`: its argv; `timeout_s`: the limit, in seconds."""

    def __init__(self, command: Sequence[str], timeout_s: float) -> None:
        self.command = tuple(command)
        self.timeout_s = timeout_s
        super().__init__(f"`{shlex.join(self.command)}` did not finish within {timeout_s:g} s")


@dataclass(frozen=True)
class DagsterCommandResult:
    """How a Dagster-side command ended. `seconds`: wall time from start to exit."""

    command: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        """stdout, then stderr on the next line, stripped: what a terminal would have shown."""
        return f"{self.stdout}\n{self.stderr}".strip()

    def output_tail(self, chars: int) -> str:
        """The last `chars` characters of `output`, for an error message to quote, with the
        password of any URL in it masked (a library's error may quote one)."""
        return mask_urls_in(self.output)[-chars:] if chars > 0 else ""


def run_dagster_command(
    command: Sequence[str], settings: Settings, timeout_s: float
) -> DagsterCommandResult:
    """Run `command` (a full argv, e.g. `[sys.executable, "-m", "forecast_assets.run_history"]`)
    from the repo root, in this process's environment with `DAGSTER_HOME` set to
    `settings.dagster_home_path`, and wait for it at most `timeout_s` seconds. Returns its exit
    code and output whatever the exit code; raises `DagsterCommandTimeout` (after killing it)
    when it runs longer."""
    argv = list(command)
    started = time.perf_counter()
    try:
        result = subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env={**os.environ, "DAGSTER_HOME": str(settings.dagster_home_path)},
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DagsterCommandTimeout(argv, timeout_s) from None
    return DagsterCommandResult(
        command=tuple(argv),
        returncode=result.returncode,
        stdout=result.stdout,
        stderr=result.stderr,
        seconds=time.perf_counter() - started,
    )
