"""The backtest's fold cache in the lake: scored fold forecasts reused by later cycles.

`run_backtest` keys each (candidate, fold) by candidate, cutoff and a digest of the fold's
inputs (`forecastops.domain.backtest.fold_digest`). What that key cannot see is the code and
configuration of the candidates, so this store files the entries under a namespace that hashes
them: the package version, the source of the backtest, forecasters and features modules (what
a scored fold is made by), the feature set version and the training window. A change to any of
them starts an empty namespace, so a cached score is never read for a model that would be
fitted differently today.

Layout: `<lake root>/.cache/backtest_folds/<namespace>/<key>.parquet`. The lake lists only
folders with `day=` partitions as tables, so the cache never shows in `forecastops sql`; it
lives beside the lake so that workers on other machines (a shared lake) share it. Each file is
written to a temporary name and renamed, so a reader never sees half a file, and a killed
writer leaves at most a temporary file that the next sweep removes. Entries unread for
`MAX_IDLE_DAYS` (their fold cutoffs have left every backtest's evaluation window) are removed
when a cycle stores new ones.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from forecastops.stores.lake import Lake

CACHE_FOLDER = ".cache/backtest_folds"
MAX_IDLE_DAYS = 14
"""Days an entry may go unread before a sweep removes it. A weekly fold anchor re-reads the
live entries every day, so only folds that left the evaluation window get this old."""
TEMPORARY_SUFFIX = ".tmp"
DATETIME_UNITS_ATTR = "forecastops_datetime_units"
"""Where an entry keeps its datetime columns' units: Parquet has no seconds unit, and a reused
fold must equal a refitted one down to the dtype."""


def candidates_namespace(feature_set_version: str, window_days: int) -> str:
    """The namespace of the candidates as this code fits them on `window_days` of history with
    features `feature_set_version`: a hash of those and of the package's version and the source
    of the modules that define the candidates and their features."""
    from importlib.metadata import version

    from forecastops.domain import backtest, features, forecasters

    described = {
        "package": version("forecastops"),
        "code": hashlib.sha256(
            "".join(
                inspect.getsource(module) for module in (backtest, forecasters, features)
            ).encode()
        ).hexdigest(),
        "feature_set_version": feature_set_version,
        "window_days": window_days,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LakeFoldCache:
    """A `FoldCache` (`forecastops.domain.backtest`) in the folder `root / namespace`."""

    folder: Path

    @classmethod
    def in_lake(cls, lake: Lake, namespace: str) -> LakeFoldCache:
        return cls(lake.root / CACHE_FOLDER / namespace)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.parquet"

    def get(self, key: str) -> pd.DataFrame | None:
        """The entry of `key` (its last use is recorded for the sweep), or None."""
        import pandas as pd

        path = self._path(key)
        try:
            scored = pd.read_parquet(path)
            os.utime(path)  # read now: keeps it from the sweep
        except FileNotFoundError:
            return None
        return scored.astype(scored.attrs.pop(DATETIME_UNITS_ATTR, {}))

    def put(self, key: str, scored: pd.DataFrame) -> None:
        """Store `scored` under `key`, whole or not at all."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f"{key}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"
        entry = scored.copy(deep=False)  # the caller's frame keeps its attrs
        entry.attrs[DATETIME_UNITS_ATTR] = {
            str(name): str(dtype) for name, dtype in scored.dtypes.items() if dtype.kind == "M"
        }
        try:
            entry.to_parquet(temporary, index=False)
            os.replace(temporary, self._path(key))
        finally:
            temporary.unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> int:
        """Remove entries unread for `MAX_IDLE_DAYS` and temporary files of writers that died
        (older than an hour) in this namespace and every other one; how many were removed."""
        now = time.time() if now is None else now
        removed = 0
        for path in self.folder.parent.glob("*/*"):
            limit = 3600 if path.name.endswith(TEMPORARY_SUFFIX) else MAX_IDLE_DAYS * 86400
            try:
                if now - path.stat().st_mtime > limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # another cycle's sweep got there first
        return removed
