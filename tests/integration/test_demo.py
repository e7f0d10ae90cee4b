"""`make demo`, the README's first command, end to end in a fresh home: it succeeds and its
screen is the demo's own summary (issue 13: quiet and truthful)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import BIN, REPO_ROOT, isolated_env

pytestmark = pytest.mark.slow

MAX_DEMO_LINES = 150


def test_the_demo_runs_end_to_end_and_prints_only_its_summary(tmp_path: Path) -> None:
    env = isolated_env(tmp_path / "home")
    env.pop("DAGSTER_HOME")  # the demo prepares its own instance under FORECASTOPS_HOME
    env.pop("FORECASTOPS_START_DATE")  # the demo's partitions start where its data starts
    result = subprocess.run(
        [str(BIN / "python"), "-m", "forecast_jobs.demo"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    screen = result.stdout + result.stderr
    assert result.returncode == 0, screen[-3000:]
    lines = screen.splitlines()
    assert len(lines) <= MAX_DEMO_LINES, screen
    for noise in (" - DEBUG - ", " - INFO - ", "Warning:", "%|", "INFO mlflow", "WARNING mlflow"):
        assert noise not in screen, (noise, screen)
    # the drift that triggered the retrain says which signal fired
    assert "alarm from target shift +" in screen
    # the closing summary: the status table and commands that can be pasted as they are
    assert "forecastops status --as-of" in screen
    assert any(line.startswith("champion") for line in lines)
    # the drift retrain waits in shadow (decision 0022): the drifting champion serves, the
    # challenger shows its realized shadow days and why it is not eligible yet
    assert any(line.split()[:2] == ["model_status", "drifting"] for line in lines)
    assert any(line.split()[:2] == ["realized_days", "0"] for line in lines)
    assert any(line.split()[:2] == ["promotion_eligible", "false"] for line in lines)
    assert any(line.split()[:4] == ["promotion_reasons", "0", "of", "7"] for line in lines)
    assert ".venv/bin/forecastops alerts list --status all" in screen
    # no phantom partitions: the first partition is the first simulated day, recorded for make ui
    [ingested] = [line for line in lines if line.strip().startswith("partitions ")]
    first_day = ingested.split()[1].split("..")[0]
    assert (tmp_path / "home" / "demo_start_date").read_text().strip() == first_day
