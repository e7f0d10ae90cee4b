"""Running the project's real command-line tools in a subprocess against a temporary home."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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
