"""The Dagster instance folder: created under FORECASTOPS_HOME with the repo's dagster.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

from forecastops.settings import REPO_ROOT, Settings

INSTANCE_TEMPLATE = REPO_ROOT / "dagster.yaml"


def prepare_dagster_home(settings: Settings) -> Path:
    """Create the state folders and give DAGSTER_HOME a dagster.yaml if it has none."""
    settings.ensure_folders()
    home = settings.dagster_home_path
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, config)
    return home
