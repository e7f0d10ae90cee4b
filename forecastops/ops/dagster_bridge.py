"""Run a Dagster-side command of this repository in a subprocess: the core never imports Dagster.

Where the core needs Dagster (the schema head and migration for `forecastops doctor`, loading
the code location, the run history for `forecastops report`, `dagster job backfill` for
`forecastops retrain`) it runs a command that imports Dagster itself, with `run_dagster_command`:
with `DAGSTER_HOME` set from the settings, its output captured, and a time limit. What a failure
means differs per caller (a doctor verdict, a report that degrades, a refused retrain), so this
returns the result and leaves the message to the caller; only a command that outlives its limit
is an exception here, `DagsterCommandTimeout`. See docs/decisions/0006.

The code location is found through the installed packages, never through a source checkout
(docs/decisions/0010): Python modules are run by name (`python -m forecast_jobs.instance_admin`),
and Dagster's own commands get `write_workspace`'s workspace, written into `$FORECASTOPS_HOME`
that names the module `forecast_jobs.definitions`. Every command runs with `PYTHONSAFEPATH=1`,
so the current directory never goes onto `sys.path`: a `resources/` folder where the operator
happens to stand cannot stand in for the installed `resources` package.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from forecastops.domain.secrets import mask_urls_in
from forecastops.stores.settings import Settings

CODE_LOCATION_MODULE = "forecast_jobs.definitions"
"""The module of the code location (its `defs`), imported from the installed packages."""
CODE_LOCATION_NAME = "forecastops"
"""The code location's name in the Dagster instance, which keys its schedules, sensors and
backfills: the same as in the repo's workspace.yaml and pyproject's `[tool.dagster]`."""
WORKSPACE_TEXT = f"""\
# Written by forecastops (forecastops.ops.dagster_bridge.write_workspace); edits are overwritten.
# The code location is a module of the installed packages, so this works from any directory.
load_from:
  - python_module:
      module_name: {CODE_LOCATION_MODULE}
      location_name: {CODE_LOCATION_NAME}
"""


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
    in `dagster_env(settings)`, from the current directory (kept off `sys.path`), and wait for
    it at most `timeout_s` seconds. Returns its exit code and output whatever the exit code;
    raises `DagsterCommandTimeout` (after killing it) when it runs longer."""
    argv = list(command)
    started = time.perf_counter()
    try:
        result = subprocess.run(
            argv,
            env=dagster_env(settings),
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


def dagster_env(settings: Settings) -> dict[str, str]:
    """The environment of a Dagster-side process: this one's, with `DAGSTER_HOME` and
    `FORECASTOPS_HOME` set from `settings` (absolute, so the child's working directory does not
    matter) and `PYTHONSAFEPATH=1` (no Python in the process tree puts its working directory or
    script folder on `sys.path`, so only installed packages are imported)."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(settings.dagster_home_path),
        "FORECASTOPS_HOME": str(settings.home.resolve()),
        "PYTHONSAFEPATH": "1",
    }


def workspace_path(settings: Settings) -> Path:
    """Where `write_workspace` puts the workspace: `$FORECASTOPS_HOME/workspace.yaml`."""
    return settings.home.resolve() / "workspace.yaml"


def write_workspace(settings: Settings) -> Path:
    """Write `WORKSPACE_TEXT` to `workspace_path(settings)` (atomically, when it differs) and
    return the path: the workspace Dagster's commands (`dagster job backfill`,
    dagster-webserver, dagster-daemon) load the installed code location from. Creates
    `FORECASTOPS_HOME` if needed; an unwritable one raises `OSError`."""
    path = workspace_path(settings)
    if path.is_file() and path.read_text() == WORKSPACE_TEXT:
        return path
    home = path.parent
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=home, prefix=".workspace-", suffix=".yaml", delete=False
    ) as draft:
        draft.write(WORKSPACE_TEXT)
    os.replace(draft.name, path)
    return path
