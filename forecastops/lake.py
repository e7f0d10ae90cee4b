"""The Parquet data lake: one folder per table, one sub-folder per daily partition.

Layout: `<root>/<table>/day=YYYY-MM-DD/<part>.parquet`. A partition is written whole or not at
all: its files are staged in a hidden sibling folder and swapped in with `os.replace`, so a
reader (or a crashed run) never sees a half-written partition, and re-writing a partition
replaces it instead of adding rows. The `day=` folders are Hive-style, so DuckDB reads a table
with `read_parquet('<root>/<table>/day=*/<part>.parquet', hive_partitioning = true)`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    import duckdb

PARTITION_PREFIX = "day="
STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"
DEFAULT_PART = "data"


@dataclass(frozen=True)
class Lake:
    """A Parquet lake rooted at `root`; tables and parts are plain names (no slashes)."""

    root: Path

    def table_path(self, table: str) -> Path:
        return self.root / table

    def partition_path(self, table: str, day: date) -> Path:
        return self.table_path(table) / f"{PARTITION_PREFIX}{day.isoformat()}"

    def part_path(self, table: str, day: date, part: str = DEFAULT_PART) -> Path:
        return self.partition_path(table, day) / f"{part}.parquet"

    def has_partition(self, table: str, day: date) -> bool:
        return self.partition_path(table, day).is_dir()

    def write_partition(self, table: str, day: date, parts: Mapping[str, pd.DataFrame]) -> Path:
        """Replace the partition `day` of `table` with `parts` (part name -> frame), atomically.

        Returns the partition folder. Any earlier content of the partition is gone afterwards;
        if writing fails, the earlier content is left exactly as it was.
        """
        final = self.partition_path(table, day)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.parent / f"{STAGING_PREFIX}{final.name}-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            for part, frame in parts.items():
                frame.to_parquet(staging / f"{part}.parquet", index=False)
            self._swap_in(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return final

    def _swap_in(self, staging: Path, final: Path) -> None:
        if not final.exists():
            os.replace(staging, final)
            return
        retired = final.parent / f"{RETIRED_PREFIX}{final.name}-{uuid.uuid4().hex}"
        os.replace(final, retired)
        try:
            os.replace(staging, final)
        except OSError:
            os.replace(retired, final)
            raise
        shutil.rmtree(retired, ignore_errors=True)

    def delete_partition(self, table: str, day: date) -> bool:
        """Remove a partition if present; returns whether there was one."""
        folder = self.partition_path(table, day)
        if not folder.exists():
            return False
        retired = folder.parent / f"{RETIRED_PREFIX}{folder.name}-{uuid.uuid4().hex}"
        os.replace(folder, retired)
        shutil.rmtree(retired, ignore_errors=True)
        return True

    def read_partition(self, table: str, day: date, part: str = DEFAULT_PART) -> pd.DataFrame:
        path = self.part_path(table, day, part)
        if not path.exists():
            raise FileNotFoundError(
                f"The lake has no partition {day.isoformat()} of table '{table}' "
                f"(expected {path}). Materialize it first."
            )
        return pd.read_parquet(path)

    def partition_days(self, table: str) -> list[date]:
        """The days that have a partition in `table`, ascending."""
        folder = self.table_path(table)
        if not folder.is_dir():
            return []
        return sorted(
            date.fromisoformat(child.name.removeprefix(PARTITION_PREFIX))
            for child in folder.iterdir()
            if child.is_dir() and child.name.startswith(PARTITION_PREFIX)
        )

    def read_days(
        self,
        table: str,
        days: Iterable[date],
        part: str = DEFAULT_PART,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Concatenate the given days' partitions that exist (missing days are skipped)."""
        frames = [
            pd.read_parquet(path, columns=columns)
            for day in days
            if (path := self.part_path(table, day, part)).exists()
        ]
        if not frames:
            return pd.DataFrame(columns=columns) if columns else pd.DataFrame()
        return pd.concat(frames, ignore_index=True)

    def glob(self, table: str, part: str = DEFAULT_PART) -> str:
        """The DuckDB/pyarrow glob that reads every partition of a table's part."""
        return str(self.table_path(table) / f"{PARTITION_PREFIX}*" / f"{part}.parquet")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one view per lake table part.

        A table with a single part `data` is the view `<table>`; other parts are `<table>_<part>`.
        """
        import duckdb

        connection = duckdb.connect()
        for table_dir in sorted(p for p in self.root.glob("*") if p.is_dir()):
            parts = sorted({f.stem for f in table_dir.glob(f"{PARTITION_PREFIX}*/*.parquet")})
            for part in parts:
                view = table_dir.name if part == DEFAULT_PART else f"{table_dir.name}_{part}"
                connection.execute(
                    f'CREATE VIEW "{view}" AS SELECT * FROM read_parquet('
                    f"'{self.glob(table_dir.name, part)}', hive_partitioning = true, "
                    "union_by_name = true)"
                )
        return connection
