"""The Dagster instance folder: created under FORECASTOPS_HOME with the chosen dagster.yaml."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from forecastops.stores.settings import MANAGED_MARKER, Settings

INSTANCE_TEMPLATES: dict[str, Traversable] = {
    kind: files("forecast_jobs") / "instance_templates" / f"{kind}.yaml"
    for kind in ("embedded", "postgres")
}
"""The dagster.yaml of each `FORECASTOPS_INSTANCE`: package data, so an installed wheel has them
(the repo's `dagster.yaml` and `deploy/dagster.postgres.yaml` link to these files)."""


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
        config.write_bytes(INSTANCE_TEMPLATES[settings.instance].read_bytes())
    return home
