"""The Dagster instance's run history, read from a shell (`forecastops report`).

forecastops does not import Dagster: the runs are read by `python -m forecast_assets.run_history
--json` in a subprocess (docs/decisions/0006) and come back as plain `RunRecord`s.
"""

from __future__ import annotations

import sys

from forecastops.ops.dagster_bridge import DagsterCommandTimeout, run_dagster_command
from forecastops.pipeline.incident_report import MAX_RUNS, RunRecord, runs_from_json
from forecastops.stores.settings import Settings

RUN_HISTORY_TIMEOUT_S = 120
"""How long `python -m forecast_assets.run_history` may take (it imports Dagster first)."""
OUTPUT_TAIL_CHARS = 1000
"""How much of a failed run-history command's output an error message quotes."""


class RunHistoryError(RuntimeError):
    """The Dagster run history could not be read; the message says why."""


def read_run_history(settings: Settings, limit: int = MAX_RUNS) -> tuple[list[RunRecord], str]:
    """(the `limit` newest runs of the Dagster instance at `settings.dagster_home_path`, where
    they came from). forecastops does not import Dagster: this runs `python -m
    forecast_assets.run_history --json` in a subprocess (docs/decisions/0006). A `DAGSTER_HOME`
    that does not exist has no runs (nothing is created there). Raises `RunHistoryError` when
    the command fails or prints something else than run records."""
    home = settings.dagster_home_path
    if not home.is_dir():
        return [], f"no Dagster instance at DAGSTER_HOME={home} yet"
    command = [sys.executable, "-m", "forecast_assets.run_history", "--json", f"--limit={limit}"]
    try:
        result = run_dagster_command(command, settings, RUN_HISTORY_TIMEOUT_S)
    except DagsterCommandTimeout:
        raise RunHistoryError(
            f"reading the runs of DAGSTER_HOME={home} took over {RUN_HISTORY_TIMEOUT_S} s"
        ) from None
    if result.returncode != 0:
        raise RunHistoryError(
            f"`{' '.join(command[1:])}` exited with {result.returncode} "
            f"(DAGSTER_HOME={home}); its output ends with:\n"
            f"{result.output_tail(OUTPUT_TAIL_CHARS)}"
        )
    try:
        return runs_from_json(result.stdout), f"Dagster instance at DAGSTER_HOME={home}"
    except ValueError as error:
        raise RunHistoryError(
            f"the run history of DAGSTER_HOME={home} is unreadable: {error}"
        ) from None
