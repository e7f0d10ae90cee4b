"""Where the pipeline reads landing files from and writes the lake to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from forecastops.stores.lake import Lake


class LakeStorage(dg.ConfigurableResource):
    """The Parquet data lake under `root` (default `$FORECASTOPS_HOME/lake`)."""

    root: str

    @property
    def lake(self) -> Lake:
        from forecastops.stores.lake import (
            Lake,  # pandas loads on first use, not with the code location
        )

        return Lake(Path(self.root))


class LandingSalesSource(dg.ConfigurableResource):
    """The folder where one `sales_YYYY-MM-DD.{csv,parquet}` file lands per day."""

    landing_dir: str

    @property
    def path(self) -> Path:
        return Path(self.landing_dir)


class ReportsFolder(dg.ConfigurableResource):
    """Human-readable reports (drift HTML, incident reports): `$FORECASTOPS_HOME/reports`."""

    root: str

    def path_for(self, name: str) -> Path:
        folder = Path(self.root)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name
