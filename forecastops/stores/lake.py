"""The Parquet data lake: one folder per table, one sub-folder per daily partition.

Layout: `<root>/<table>/day=YYYY-MM-DD/<part>.parquet`. A partition is written whole or not at
all: its files are staged in a hidden sibling folder and swapped in with `os.replace`, so a
reader (or a crashed run) never sees a half-written partition, and re-writing a partition
replaces it instead of adding rows. The `day=` folders are Hive-style, so DuckDB reads a table
with `read_parquet('<root>/<table>/day=*/<part>.parquet', hive_partitioning = true)`.
`Lake.connect` gives a DuckDB connection that reads the lake and nothing else (`forecastops sql`).

Frames go to Parquet through pyarrow exactly as `DataFrame.to_parquet(index=False)` writes them
(snappy, with pandas' schema metadata, so they read back with the same dtypes). A range of days
is written with `write_partitions`, which converts each part once for all the days and writes
the per-day slices: a backfill writes thousands of small files, and the per-file cost of
converting a frame is what dominated it.

A writer killed mid-write (SIGKILL, power loss) cannot clean up: it leaves its staging folder,
and if it died between the two renames of a swap, the previous content under a `.retired-`
name with no partition in its place. The next write to the table sweeps such debris of writers
that are gone (`sweep_debris`): staging folders are removed, a retired partition with nothing
in its place is put back. A folder's name carries its writer's host and pid, so a live writer's
folders are never touched; another host's debris is swept once it is `FOREIGN_DEBRIS_AGE_S`
old.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import duckdb
    from pyarrow.dataset import Dataset

PARTITION_PREFIX = "day="
STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"
DEFAULT_PART = "data"
PARQUET_COMPRESSION = "snappy"
"""The codec of every part; pandas' `to_parquet` default."""
PANDAS_ATTRS_KEY = b"PANDAS_ATTRS"
"""Where pandas keeps `DataFrame.attrs` in a Parquet schema's metadata."""
FOREIGN_DEBRIS_AGE_S = 24 * 3600
"""Age after which staging/retired folders written from another host (a lake on shared storage)
are taken as debris: their writer cannot be asked whether it lives."""
_DEBRIS = re.compile(
    rf"^(?P<kind>{re.escape(STAGING_PREFIX)}|{re.escape(RETIRED_PREFIX)})"
    rf"(?P<name>{re.escape(PARTITION_PREFIX)}\d{{4}}-\d{{2}}-\d{{2}})-"
    r"(?P<host>.+)\.(?P<pid>\d+)\.[0-9a-f]{32}$"
)
WRITE_WORKERS = 1
"""Threads that write the days of `write_partitions` by default. On the 2-core host a second
thread cut the write phase alone by about 15% but made no measurable difference to a whole
backfill run (benchmarks/ingest.py), so days are written in order; more threads pay off where
each write waits on storage (a network file system)."""


class LakeNotWritable(OSError):
    """The lake's folder cannot be written; the message names the folder, the setting and the
    fix. Raised before anything is written."""


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
        [folder] = self.write_partitions(table, {day: parts}, workers=1)
        return folder

    def write_partitions(
        self,
        table: str,
        partitions: Mapping[date, Mapping[str, pd.DataFrame]],
        workers: int | None = None,
    ) -> list[Path]:
        """`write_partition` for many days (day -> part name -> frame); the folders, in order.

        Each day is replaced atomically, as by `write_partition`, and reads back exactly as if
        it had been written alone. All frames are converted before anything is written, so a
        frame that cannot be stored (the error names its day and part) leaves every partition
        as it was; an I/O error part-way leaves each day either old or new, never mixed.
        `workers` threads write the days (default `WRITE_WORKERS`).
        """
        if not partitions:
            return []
        tables = _to_arrow_by_day(partitions)
        folder = self.table_path(table)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f"{STAGING_PREFIX}probe-{_writer_token()}"
            probe.mkdir()
            probe.rmdir()
        except OSError as error:
            raise LakeNotWritable(
                f"Cannot write table '{table}' of the lake {self.root} "
                f"(FORECASTOPS_LAKE_DIR): {error.strerror or error} ({error.filename or folder}). "
                "Point FORECASTOPS_LAKE_DIR at a folder this user can write to; nothing was "
                "written."
            ) from error
        self.sweep_debris(table)
        token = _writer_token()
        jobs = [
            (str(self.partition_path(table, day)), parts, token) for day, parts in tables.items()
        ]
        workers = WRITE_WORKERS if workers is None else workers
        if workers <= 1 or len(jobs) == 1:
            written = [_replace_partition(*job) for job in jobs]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                written = list(pool.map(lambda job: _replace_partition(*job), jobs))
        return [Path(path) for path in written]

    def sweep_debris(self, table: str) -> list[str]:
        """Remove what writers of `table` that are gone left behind (see the module): their
        staging folders, and retired partitions whose partition exists again; a retired
        partition with nothing in its place is put back. Returns the names it handled."""
        folder = self.table_path(table)
        if not folder.is_dir():
            return []
        handled = []
        for child in folder.iterdir():
            match = _DEBRIS.match(child.name)
            if match is None or _writer_alive(match["host"], int(match["pid"]), child):
                continue
            final = folder / match["name"]
            if match["kind"] == RETIRED_PREFIX and not final.exists():
                os.replace(child, final)
            else:
                shutil.rmtree(child, ignore_errors=True)
            handled.append(child.name)
        return handled

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
        return _to_pandas(_read_table(path))

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
        """Concatenate the given days' partitions that exist (missing days are skipped).

        The result equals `pd.concat` of each day's frame (`ignore_index=True`); days with equal
        Parquet schemas are concatenated as Arrow tables and converted once.
        """
        tables = [
            _read_table(path, columns)
            for day in days
            if (path := self.part_path(table, day, part)).exists()
        ]
        if not tables:
            return pd.DataFrame(columns=columns) if columns else pd.DataFrame()
        schema = tables[0].schema
        if all(t.schema.equals(schema, check_metadata=True) for t in tables) and not any(
            pa.types.is_dictionary(field.type) for field in schema
        ):
            return _to_pandas(pa.concat_tables(tables))
        return pd.concat([_to_pandas(t) for t in tables], ignore_index=True)

    def glob(self, table: str, part: str = DEFAULT_PART) -> str:
        """The DuckDB/pyarrow glob that reads every partition of a table's part."""
        return str(self.table_path(table) / f"{PARTITION_PREFIX}*" / f"{part}.parquet")

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection that reads the lake and nothing else, with one view
        per lake table part: a table's part `data` is the view `<table>`, any other part
        `<table>_<part>`; each has the part's columns (by name across the days) plus `day`
        (DATE) from its partition folder.

        Read-only by DuckDB's own settings, not by inspecting the SQL: each view is a pyarrow
        dataset over the part's files, registered with the connection; then DuckDB's
        `enable_external_access` is switched off, so SQL reads and writes no file (`COPY ... TO`,
        `read_csv('/etc/passwd')`, `ATTACH 'x.db'`, `EXPORT DATABASE` are refused with a
        `duckdb.PermissionException`), scans no Python variable and installs or loads no
        extension (`autoinstall_known_extensions` / `autoload_known_extensions` are off too);
        nothing spills to a temporary folder; and `lock_configuration` keeps a query from
        switching any of it back. (`allowed_directories` would let SQL read the lake by path,
        but it lets SQL write there too.) No path is spelled in SQL, so a lake under a folder
        whose name holds a quote works.
        """
        import duckdb

        connection = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        for table_dir in sorted(p for p in self.root.glob("*") if p.is_dir()):
            parts = sorted({f.stem for f in table_dir.glob(f"{PARTITION_PREFIX}*/*.parquet")})
            for part in parts:
                view = table_dir.name if part == DEFAULT_PART else f"{table_dir.name}_{part}"
                connection.register(view, _part_dataset(table_dir, part))
        for statement in _READ_ONLY:
            connection.execute(statement)
        return connection


_READ_ONLY = (
    "SET temp_directory = ''",  # no spilling to disk (set while it may still be changed)
    "SET python_enable_replacements = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)
"""What makes a `Lake.connect` connection read-only over the lake, in the order DuckDB accepts."""


def _part_dataset(table_dir: Path, part: str) -> Dataset:
    """Every day's file of one part of a table as one pyarrow dataset: the columns of all days
    by name (types promoted as `pa.unify_schemas` does), plus `day` from the `day=` folders."""
    import pyarrow.dataset as ds

    files = sorted(str(path) for path in table_dir.glob(f"{PARTITION_PREFIX}*/{part}.parquet"))
    day = pa.schema([(PARTITION_PREFIX.rstrip("="), pa.date32())])
    columns = [pq.read_schema(path).remove_metadata() for path in files]
    schema = pa.unify_schemas([*columns, day], promote_options="permissive")
    return ds.dataset(
        files,
        schema=schema,
        format="parquet",
        partitioning=ds.partitioning(day, flavor="hive"),
        partition_base_dir=str(table_dir),
    )


# --------------------------------------------------------------------------------------------
# Writing: frames -> Arrow tables -> one staged folder per day
# --------------------------------------------------------------------------------------------


def _to_arrow_by_day(
    partitions: Mapping[date, Mapping[str, pd.DataFrame]],
) -> dict[date, dict[str, pa.Table]]:
    """Each day's parts as Arrow tables, as `DataFrame.to_parquet(index=False)` converts them.

    Converting costs mostly per call, so the frames of one part that share their columns and
    dtypes are concatenated, converted in one call and sliced per day. A slice is the table of
    the day's own conversion, except that an object column gets its Arrow type from all the days
    together. That is kept only when the type is text or null (a day whose column is all null
    then stores it as text, and reads back the same); any other group (numbers or decimals in an
    object column, values Arrow cannot convert together) is converted day by day, so a frame
    that cannot be stored raises an error naming its day and part.
    """
    groups: dict[tuple[str, object], list[date]] = {}
    for day, parts in partitions.items():
        for part, frame in parts.items():
            groups.setdefault((part, _group_key(frame)), []).append(day)
    tables: dict[date, dict[str, pa.Table]] = {day: {} for day in partitions}
    for (part, _), days in groups.items():
        frames = [partitions[day][part] for day in days]
        whole = _arrow_table_of_group(frames) if len(frames) > 1 else None
        if whole is not None:
            offsets = itertools.accumulate((len(frame) for frame in frames), initial=0)
            for day, offset, frame in zip(days, offsets, frames, strict=False):
                tables[day][part] = whole.slice(offset, len(frame))
            continue
        for day, frame in zip(days, frames, strict=True):
            try:
                tables[day][part] = _arrow_table(frame)
            except Exception as error:
                error.add_note(f"While storing part '{part}' of the {day.isoformat()} partition.")
                raise
    return {day: {part: tables[day][part] for part in parts} for day, parts in partitions.items()}


def _group_key(frame: pd.DataFrame) -> object:
    """Frames with equal keys can be converted together: same columns, same dtypes. A frame with
    attrs or repeated column names gets a key of its own."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"A lake part must be a pandas DataFrame, not {type(frame).__name__}.")
    columns = frame.columns
    key = (type(columns), tuple(columns.names), tuple(columns), tuple(frame.dtypes))
    if frame.attrs or not columns.is_unique:
        return id(frame)
    try:
        hash(key)
    except TypeError:
        return id(frame)
    return key


def _arrow_table_of_group(frames: list[pd.DataFrame]) -> pa.Table | None:
    """The frames (equal `_group_key`s) concatenated and converted, or None (see the caller)."""
    try:
        whole = _arrow_table(pd.concat(frames, ignore_index=True))
    except (pa.ArrowException, ValueError, TypeError):
        return None
    for dtype, arrow_type in zip(frames[0].dtypes, whole.schema.types, strict=True):
        if pd.api.types.is_object_dtype(dtype) and not (
            pa.types.is_string(arrow_type)
            or pa.types.is_large_string(arrow_type)
            or pa.types.is_null(arrow_type)
        ):
            return None
    return whole


def _arrow_table(frame: pd.DataFrame) -> pa.Table:
    """`frame` as `DataFrame.to_parquet(index=False)` converts it (attrs included)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if frame.attrs:
        metadata = {**(table.schema.metadata or {}), PANDAS_ATTRS_KEY: json.dumps(frame.attrs)}
        table = table.replace_schema_metadata(metadata)
    return table


def _writer_token() -> str:
    """`<host>.<pid>.<uuid>`: whose staging/retired folder this is (`sweep_debris`)."""
    return f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex}"


def _writer_alive(host: str, pid: int, folder: Path) -> bool:
    """Whether the writer that named `folder` may still be writing it."""
    if host != socket.gethostname():
        try:
            return time.time() - folder.stat().st_mtime < FOREIGN_DEBRIS_AGE_S
        except FileNotFoundError:
            return True  # its writer just finished with it
    if pid == os.getpid():
        return True  # this process: another thread's write in progress
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _replace_partition(final: str, parts: Mapping[str, pa.Table], token: str) -> str:
    """Write `parts` into a staging folder beside `final`, then swap it in (see the module)."""
    parent, name = os.path.split(final)
    staging = os.path.join(parent, f"{STAGING_PREFIX}{name}-{token}")
    os.mkdir(staging)
    try:
        for part, table in parts.items():
            pq.write_table(
                table, os.path.join(staging, f"{part}.parquet"), compression=PARQUET_COMPRESSION
            )
        _swap_in(staging, final, token)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _swap_in(staging: str, final: str, token: str) -> None:
    if not os.path.exists(final):
        os.replace(staging, final)
        return
    parent, name = os.path.split(final)
    retired = os.path.join(parent, f"{RETIRED_PREFIX}{name}-{token}")
    os.replace(final, retired)
    try:
        os.replace(staging, final)
    except OSError:
        os.replace(retired, final)
        raise
    shutil.rmtree(retired, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One part file as an Arrow table (a `ParquetFile` read skips pyarrow's dataset layer).

    Like `pd.read_parquet`, raises `ValueError` when a requested column is not in the file.
    """
    with pq.ParquetFile(path) as parquet_file:
        missing = sorted(set(columns or ()) - set(parquet_file.schema_arrow.names))
        if missing:
            raise ValueError(
                f"{path} has no column(s) {', '.join(missing)}; it holds "
                f"{', '.join(parquet_file.schema_arrow.names)}. Read only columns every day has."
            )
        return parquet_file.read(columns=columns, use_pandas_metadata=True)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """`table` as `pd.read_parquet` returns it: pandas' schema metadata and attrs applied."""
    frame = table.to_pandas()
    metadata = table.schema.metadata or {}
    if PANDAS_ATTRS_KEY in metadata:
        frame.attrs = json.loads(metadata[PANDAS_ATTRS_KEY])
    return frame
