"""The Dagster instance folder: created under FORECASTOPS_HOME with the chosen dagster.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

from forecastops.stores.settings import MANAGED_MARKER, REPO_ROOT, Settings

INSTANCE_TEMPLATES = {
    "embedded": REPO_ROOT / "dagster.yaml",
    "postgres": REPO_ROOT / "deploy" / "dagster.postgres.yaml",
}


def prepare_dagster_home(settings: Settings) -> Path:
    """Create the state folders and write the dagster.yaml of `settings.instance` into
    DAGSTER_HOME, so switching between the embedded and the PostgreSQL instance is one setting.

    A dagster.yaml without the managed-by marker (first line) was customised by an operator and
    is left as it is.
    """
    settings.ensure_folders()
    home = settings.dagster_home_path
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text().startswith(MANAGED_MARKER):
        shutil.copyfile(INSTANCE_TEMPLATES[settings.instance], config)
    return home
