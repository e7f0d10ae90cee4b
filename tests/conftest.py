"""Shared test setup: every test session gets its own FORECASTOPS_HOME, set before any import
of the code location (which reads the settings when it loads)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="forecastops-tests-"))
for _name in [n for n in os.environ if n.startswith("FORECASTOPS_")]:
    del os.environ[_name]
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ["FORECASTOPS_HOME"] = str(_SESSION_HOME)
os.environ["DAGSTER_HOME"] = str(_SESSION_HOME / "dagster")
os.environ["FORECASTOPS_START_DATE"] = "2025-01-01"
(_SESSION_HOME / "dagster").mkdir(parents=True, exist_ok=True)

REPO_ROOT = Path(__file__).resolve().parents[1]
FIRST_DAY = date(2025, 1, 1)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A fresh FORECASTOPS_HOME-like folder with `landing/` and `lake/` below it."""
    (tmp_path / "landing").mkdir()
    (tmp_path / "lake").mkdir()
    yield tmp_path


@pytest.fixture(autouse=True)
def _forget_disposed_dagster_instances() -> Iterator[None]:
    """Dagster 1.13's `DagsterInstance.__enter__` puts the instance's defs-state storage in a
    context variable that `__exit__` never resets; once that instance is garbage-collected,
    the next test that builds a repository fails with "Attempted to resolve undefined
    DagsterInstance weakref". Clear it after every test."""
    yield
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
