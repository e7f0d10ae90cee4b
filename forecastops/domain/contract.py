"""The landing-file data contract: finding, reading and validating one day's sales file.

Landing format: one file per day, `sales_YYYY-MM-DD.csv` or `sales_YYYY-MM-DD.parquet`, with the
columns of `CONTRACT_COLUMNS`:

- `date`: ISO date, equal to the file's partition date.
- `store_id`, `product_id`: text of 1 to `MAX_ID_CHARS` (256) characters, with no control
  character, no `/` or `\\`, and no space at either end; a number is not an id (a Parquet
  integer `1` would silently become a new series beside `S001`).
- `units_sold`: a whole number from 0 to `MAX_UNITS_SOLD` (10⁶): `3`, `"3"`, `3.0` pass; `3.5`,
  `inf`, `NaN`, `"n/a"` and 10¹² fail.
- `price`: a finite number > 0.
- `on_promotion`: `0`/`1`, `True`/`False` or the strings `"0"`, `"1"`, `"true"`, `"false"`.

`(date, store_id, product_id)` is unique and the file has at least one row. Extra columns are
allowed: they are reported, not breaking.

`LandingSales` is the pandera model of the contract and pandera does all the type coercion.
Pandas' own casts are lossy where the contract is strict (`astype("int64")` truncates 3.5 to 3,
`astype(bool)` turns the string `"false"` into `True`), and pandera coerces before it runs any
check, so a check on the coerced column could never see the 3.5. The two strict columns
therefore use pandera logical dtypes, `WholeNumberInt64` and `PromotionFlag`, whose coercion
refuses anything it cannot convert exactly; pandera reports each refused value as a
`coerce_dtype(...)` failure case with its row.

A range of days is validated with `validate_sales_batch`: the same per-day results as
`validate_sales`, with the clean days checked in one pandera call instead of one call each.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera import dtypes
from pandera.engines import numpy_engine, pandas_engine
from pandera.engines.utils import numpy_pandas_coerce_failure_cases
from pandera.errors import ParserError, SchemaErrors
from pandera.typing import Series

CONTRACT_COLUMNS: tuple[str, ...] = (
    "date",
    "store_id",
    "product_id",
    "units_sold",
    "price",
    "on_promotion",
)
SERIES_KEY = ("store_id", "product_id")
ROW_KEY = ("date", *SERIES_KEY)
"""A landing file holds at most one row per series and day."""

LANDING_FILE_PREFIX = "sales_"
LANDING_FORMATS = ("csv", "parquet")
STRING_KEY_DTYPES = dict.fromkeys(SERIES_KEY, str)
"""How `read_landing_file` reads the key columns of a CSV (ids like "007" keep their zeros)."""

MAX_UNITS_SOLD = 1_000_000
"""Most units one series may sell in one day. Far above any real store-product day, it stops a
unit error or a corrupt value (10¹²) from landing in the lake and poisoning every model trained
on its window."""
MAX_ID_CHARS = 256
ID_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]|^\s|\s$")
"""What an id may not hold: a control character or a path separator anywhere, or white space at
either end (`" S001 "` would silently become a second series beside `S001`)."""

PROMOTION_STRINGS = {"0": False, "1": True, "true": True, "false": False}
"""The accepted `on_promotion` strings, matched after stripping and lower-casing."""

# Check names that appear in `ContractResult.failures["check"]` besides pandera's built-ins
# (`column_in_dataframe`, `not_nullable`, `coerce_dtype('<dtype>')`, `greater_than(0)`,
# `greater_than_or_equal_to(0)`, `multiple_fields_uniqueness`).
NOT_EMPTY_CHECK = "not_empty"
ID_FORMAT_CHECK = "id_format"
FINITE_CHECK = "finite"
PARTITION_DATE_CHECK = "matches_partition_date"
READABLE_CHECK = "readable_file"
COMPLETE_DELIVERY_CHECK = "complete_delivery"

COLUMN_PRESENCE_CHECK = "column_in_dataframe"
UNIQUENESS_CHECK = "multiple_fields_uniqueness"
COERCE_CHECK_PREFIX = "coerce_dtype("
DTYPE_CHECK_PREFIX = "dtype("
FAILURE_COLUMNS = ("column", "check", "failure_case", "row")
MAX_FAILURE_SAMPLES = 5

PARTITION_COLUMN = "partition_date"
"""The column `validate_sales_batch` adds to stacked days: the day each row was filed under."""

VALIDATED_DTYPES: dict[str, str] = {
    "date": "datetime64[ns]",
    "store_id": "object",
    "product_id": "object",
    "units_sold": "int64",
    "price": "float64",
    "on_promotion": "bool",
}
"""dtypes of `ContractResult.validated`, in `CONTRACT_COLUMNS` order."""


class LandingFileError(ValueError):
    """A landing file cannot be used as delivered; the message names the file and the fix."""


# --------------------------------------------------------------------------------------------
# Landing files
# --------------------------------------------------------------------------------------------


def landing_file_name(day: date, file_format: str = "csv") -> str:
    """The landing file name of `day`, e.g. `sales_2024-01-01.csv`.

    `file_format` is `"csv"` or `"parquet"`; anything else raises `ValueError`.
    """
    if file_format not in LANDING_FORMATS:
        raise ValueError(
            f"Unknown landing file format {file_format!r}; use one of {', '.join(LANDING_FORMATS)}."
        )
    return f"{LANDING_FILE_PREFIX}{day.isoformat()}.{file_format}"


def unrecognized_landing_files(landing_dir: Path) -> list[Path]:
    """Files in `landing_dir` that look like deliveries (`sales_*`) but are named for no day:
    an impossible date (`sales_2025-02-30.csv`), another date format or another ending. No
    partition ever reads them, so a delivery misnamed this way would be lost without a word;
    the pipeline reports them instead. Sorted by name; hidden files are not deliveries."""
    if not landing_dir.is_dir():
        return []
    return sorted(
        path
        for path in landing_dir.glob(f"{LANDING_FILE_PREFIX}*")
        if landing_file_day(path.name) is None
    )


def landing_file_day(name: str) -> date | None:
    """The day a landing file name stands for (`sales_2025-03-01.csv` -> 2025-03-01), or None
    when `name` is not a landing file name for a real day."""
    stem, dot, file_format = name.rpartition(".")
    if not dot or file_format not in LANDING_FORMATS or not stem.startswith(LANDING_FILE_PREFIX):
        return None
    text = stem.removeprefix(LANDING_FILE_PREFIX)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def find_landing_file(landing_dir: Path, day: date) -> Path:
    """The landing file of `day` in `landing_dir`, whichever of the CSV or Parquet exists.

    Raises `FileNotFoundError` (naming every expected path and the fix) when neither exists, and
    `LandingFileError` when both do: the day would be ambiguous.
    """
    candidates = [landing_dir / landing_file_name(day, fmt) for fmt in LANDING_FORMATS]
    present = [path for path in candidates if path.is_file()]
    if len(present) > 1:
        raise LandingFileError(
            f"Ambiguous landing files for {day.isoformat()}: both {present[0]} and {present[1]} "
            "exist. Keep the one that is the real delivery and move the other out of "
            f"{landing_dir}, then re-run the partition."
        )
    if not present:
        raise FileNotFoundError(
            f"No landing file for {day.isoformat()}: expected {candidates[0]} or {candidates[1]}. "
            f"Drop the day's sales file into {landing_dir}, or generate demo data with "
            f"`forecastops simulate --start {day.isoformat()} --end {day.isoformat()}`."
        )
    return present[0]


def read_landing_file(path: Path) -> pd.DataFrame:
    """Read a landing file as delivered; validation and coercion are `validate_sales`'s job.

    CSV columns keep the types pandas infers, except `store_id` and `product_id`, which are read
    as strings. Parquet columns keep the file's types. Raises `FileNotFoundError` when `path`
    does not exist and `LandingFileError` (naming the path) when it is empty, not CSV/Parquet or
    cannot be parsed.
    """
    if not path.is_file():
        raise FileNotFoundError(f"Landing file {path} does not exist.")
    file_format = path.suffix.lstrip(".").lower()
    if file_format not in LANDING_FORMATS:
        raise LandingFileError(
            f"Landing file {path} is neither CSV nor Parquet; deliver it as "
            f"{landing_file_name(date(2024, 1, 1))} or .parquet."
        )
    if path.is_symlink() and path.resolve().parent != path.parent.resolve():
        raise LandingFileError(
            f"Landing file {path} is a symbolic link to {path.resolve()}, outside the landing "
            "folder; the pipeline reads only files delivered into the folder. Copy the file in "
            "(replacing the link) and re-run the partition."
        )
    if path.stat().st_size == 0:
        raise LandingFileError(
            f"Landing file {path} is empty (0 bytes); the delivery was cut off or never written. "
            "Re-deliver the file and re-run the partition."
        )
    if file_format == "csv":
        _refuse_non_text_csv(path)
    try:
        if file_format == "csv":
            frame = pd.read_csv(path, dtype=STRING_KEY_DTYPES)
        else:
            frame = pd.read_parquet(path)
    except Exception as error:  # pandas/pyarrow raise many unrelated types for a bad file
        raise LandingFileError(
            f"Landing file {path} cannot be read as {file_format.upper()} "
            f"({type(error).__name__}: {error}). Re-deliver a valid file and re-run the partition."
        ) from error
    if file_format == "csv" and len(frame.columns) == 1 and ";" in str(frame.columns[0]):
        raise LandingFileError(
            f"Landing file {path} is separated by semicolons (its header is one column "
            f"{str(frame.columns[0])[:80]!r}); the contract is comma-separated CSV. Export it "
            "with ',' as the delimiter and re-run the partition."
        )
    return frame


_CSV_LOOKALIKES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", "deliver it uncompressed"),
    (b"PK\x03\x04", "a ZIP archive (an Excel workbook?)", "export it as CSV"),
    (b"\xff\xfe", "UTF-16 text", "save it as UTF-8"),
    (b"\xfe\xff", "UTF-16 text", "save it as UTF-8"),
    (b"PAR1", "Parquet", "name it .parquet"),
)
"""First bytes of files that are not CSV text however they are named, and the fix for each."""


def _refuse_non_text_csv(path: Path) -> None:
    """Raise `LandingFileError` naming what a `.csv` really is when its first bytes say so (a
    UTF-8 byte order mark is fine: pandas reads it)."""
    with path.open("rb") as stream:
        head = stream.read(4)
    for magic, kind, action in _CSV_LOOKALIKES:
        if head.startswith(magic):
            raise LandingFileError(
                f"Landing file {path} is {kind}, not CSV text; {action} and re-run the partition."
            )


# --------------------------------------------------------------------------------------------
# Strict logical dtypes (pandera coercion that refuses lossy conversions)
# --------------------------------------------------------------------------------------------


class _StrictCoercion:
    """`try_coerce` that locates failure cases with the dtype's own `coerce_value`.

    Pandera's numpy dtypes locate the values that failed coercion with the plain numpy type,
    which would accept 3.5 as an int64; this mixin makes them use the strict rule instead.
    """

    def coerce(self, data_container: Any) -> Any:
        raise NotImplementedError

    def try_coerce(self, data_container: Any) -> Any:
        try:
            return self.coerce(data_container)
        except Exception as error:
            raise ParserError(
                f"Could not coerce {type(data_container)} data_container into type {self}",
                failure_cases=numpy_pandas_coerce_failure_cases(data_container, self),
            ) from error


@dtypes.immutable
class WholeNumberInt64(_StrictCoercion, numpy_engine.Int64):
    """int64 that only accepts finite, whole numbers (or strings of them): 3.5 and inf fail."""

    def coerce(self, data_container: Any) -> Any:
        if pd.api.types.is_integer_dtype(data_container.dtype):
            return data_container.astype(np.int64)
        numeric = pd.to_numeric(data_container, errors="raise")
        values = numeric.to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(values) & (np.mod(values, 1.0) == 0.0)
        if not whole.all():
            raise ValueError("values that are not finite whole numbers")
        return numeric.astype(np.int64)

    def coerce_value(self, value: Any) -> Any:
        number = float(value)
        if not (math.isfinite(number) and number.is_integer()):
            raise ValueError(f"{value!r} is not a finite whole number")
        return np.int64(number)

    def check(self, pandera_dtype: dtypes.DataType, data_container: Any = None) -> bool:
        return isinstance(pandera_dtype, numpy_engine.Int64)

    def __str__(self) -> str:
        return "whole-number int64"


@dtypes.immutable
class IsoDate(_StrictCoercion, pandas_engine.DateTime):
    """datetime64[ns] that only parses ISO 8601 text (`2025-03-01`): `03/01/2025` fails on its
    own row, instead of the whole column failing with no row to point at."""

    def coerce(self, data_container: Any) -> Any:
        if pd.api.types.is_datetime64_any_dtype(data_container.dtype):
            return data_container.astype("datetime64[ns]")
        return pd.to_datetime(data_container, format="ISO8601").astype("datetime64[ns]")

    def coerce_value(self, value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return pd.NaT  # `not_nullable` reports a missing date
        return pd.to_datetime(value, format="ISO8601")

    def check(self, pandera_dtype: dtypes.DataType, data_container: Any = None) -> bool:
        return isinstance(pandera_dtype, pandas_engine.DateTime)

    def __str__(self) -> str:
        return "ISO date"


@dtypes.immutable
class IdText(_StrictCoercion, pandas_engine.NpString):
    """Text that only accepts strings: a number is not an id (Parquet ints 1, 2 are not S001)."""

    def coerce(self, data_container: Any) -> Any:
        values = data_container.astype(object)
        if not values.map(lambda value: isinstance(value, str) or pd.isna(value)).all():
            raise ValueError("values that are not text")
        return values

    def coerce_value(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not text")
        return value

    def __str__(self) -> str:
        return "text"


@dtypes.immutable
class PromotionFlag(_StrictCoercion, numpy_engine.Bool):
    """bool that only accepts 0/1, True/False and the strings of `PROMOTION_STRINGS`."""

    def coerce(self, data_container: Any) -> Any:
        if pd.api.types.is_bool_dtype(data_container.dtype):
            return data_container.astype(bool)
        if pd.api.types.is_numeric_dtype(data_container.dtype):
            values = data_container.to_numpy(dtype=np.float64, na_value=np.nan)
            if not np.isin(values, (0.0, 1.0)).all():
                raise ValueError("numbers other than 0 and 1")
            return data_container.astype(bool)
        return data_container.map(self.coerce_value).astype(bool)

    def coerce_value(self, value: Any) -> Any:
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in PROMOTION_STRINGS:
            return PROMOTION_STRINGS[value.strip().lower()]
        if isinstance(value, numbers.Real) and value in (0, 1):
            return bool(value)
        raise ValueError(f"{value!r} is not a promotion flag")

    def check(self, pandera_dtype: dtypes.DataType, data_container: Any = None) -> bool:
        return isinstance(pandera_dtype, numpy_engine.Bool)

    def __str__(self) -> str:
        return "0/1 bool"


# --------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------


class LandingSales(pa.DataFrameModel):
    """One day's landing sales; see the module docstring for the rules.

    The partition-date rule needs the day at run time, so `validate_sales` adds it per call.
    """

    date: Series[IsoDate]
    store_id: Series[IdText] = pa.Field(str_length={"min_value": 1, "max_value": MAX_ID_CHARS})
    product_id: Series[IdText] = pa.Field(str_length={"min_value": 1, "max_value": MAX_ID_CHARS})
    units_sold: Series[WholeNumberInt64] = pa.Field(ge=0, le=MAX_UNITS_SOLD)
    price: Series[float] = pa.Field(gt=0)
    on_promotion: Series[PromotionFlag]

    @pa.check("price", name=FINITE_CHECK)
    @classmethod
    def price_is_finite(cls, price: pd.Series) -> pd.Series:
        """Price is a real amount: +inf passes `gt(0)` but is not one."""
        return pd.Series(np.isfinite(price.to_numpy(dtype=np.float64)), index=price.index)

    @pa.check("store_id", "product_id", name=ID_FORMAT_CHECK)
    @classmethod
    def id_is_clean(cls, ids: pd.Series) -> pd.Series:
        """No control character, path separator or surrounding space (see `ID_FORBIDDEN`)."""
        return ~ids.str.contains(ID_FORBIDDEN)

    @pa.dataframe_check(name=NOT_EMPTY_CHECK)
    @classmethod
    def has_rows(cls, frame: pd.DataFrame) -> bool:
        """A landing file without rows is a broken delivery, not a day without sales."""
        return len(frame) > 0

    class Config:
        coerce = True
        strict = False
        unique: ClassVar[list[str]] = list(ROW_KEY)


@cache
def _base_schema() -> pa.DataFrameSchema:
    schema: pa.DataFrameSchema = LandingSales.to_schema()
    return schema


def _matches_partition(dates: pd.Series, expected: pd.Timestamp | pd.Series) -> pd.Series:
    """Whether each `date` equals `expected` (one day, or each row's own day).

    Also runs on the raw column when some value failed coercion; those values are reported by
    coercion, so only the parseable ones are compared here.
    """
    is_datetime = pd.api.types.is_datetime64_dtype(dates.dtype)
    parsed = dates if is_datetime else pd.to_datetime(dates, errors="coerce")
    matches: pd.Series = parsed.isna() | (parsed == expected)
    return matches


def contract_schema(partition_date: date) -> pa.DataFrameSchema:
    """`LandingSales` plus the check that every `date` equals `partition_date`."""
    expected = pd.Timestamp(partition_date)
    check = pa.Check(lambda dates: _matches_partition(dates, expected), name=PARTITION_DATE_CHECK)
    base = _base_schema()
    return base.update_column("date", checks=[*base.columns["date"].checks, check])


@cache
def _stacked_schema() -> pa.DataFrameSchema:
    """The contract for several days stacked into one frame with a `PARTITION_COLUMN`.

    The partition-date rule compares each row's `date` with its own partition day, and the key
    is unique per partition day, so a row of one day never collides with another day's rows.
    """
    base = _base_schema()
    schema: pa.DataFrameSchema = base.add_columns({PARTITION_COLUMN: pa.Column("datetime64[ns]")})
    schema.unique = [PARTITION_COLUMN, *ROW_KEY]
    schema.checks = [
        *base.checks,
        pa.Check(
            lambda frame: _matches_partition(frame["date"], frame[PARTITION_COLUMN]),
            name=PARTITION_DATE_CHECK,
        ),
    ]
    return schema


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def empty_validated() -> pd.DataFrame:
    """A zero-row frame with the columns and dtypes of a validated landing file."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in VALIDATED_DTYPES.items()})


def _empty_failures() -> pd.DataFrame:
    return _EMPTY_FAILURES.copy()


_EMPTY_FAILURES = pd.DataFrame({name: pd.Series(dtype=object) for name in FAILURE_COLUMNS})


@dataclass(frozen=True)
class ContractResult:
    """The verdict on one landing frame.

    `validated` holds the coerced contract columns (dtypes `VALIDATED_DTYPES`, the input's index)
    when `passed`, and is an empty frame of the same shape otherwise. `failures` has one row per
    failure case: `column` (None for file-level checks), `check`, `failure_case` (the offending
    value) and `row` (the input index label, None when the failure is not about one row).
    `row_count` counts the rows delivered.
    """

    passed: bool
    validated: pd.DataFrame
    failures: pd.DataFrame
    extra_columns: tuple[str, ...]
    row_count: int

    @classmethod
    def unreadable(cls, message: str) -> ContractResult:
        """The verdict on a file that could not be read at all (`message` says why)."""
        failures = pd.DataFrame(
            {"column": [None], "check": [READABLE_CHECK], "failure_case": [message], "row": [None]}
        )
        return cls(False, empty_validated(), failures, (), 0)

    def failure_summary(self) -> pd.DataFrame:
        """One row per (column, check): `count` of failure cases and up to five `samples`."""
        if self.failures.empty:
            return pd.DataFrame(columns=["column", "check", "count", "samples"])
        grouped = self.failures.groupby(["column", "check"], dropna=False, sort=False)
        summary = grouped["failure_case"].agg(count="size", samples=_sample_cases)
        return summary.reset_index()

    def to_markdown(self) -> str:
        """The verdict, the failure summary and any extra columns, for an operator."""
        if self.passed:
            lines = [f"**Contract passed**: {self.row_count:,} rows."]
        else:
            summary = self.failure_summary()
            lines = [
                f"**Contract FAILED**: {self.row_count:,} rows, {len(self.failures):,} failure "
                f"case(s) in {len(summary)} check(s). Nothing from this file is used; fix the "
                "landing file and re-run the partition.",
                "",
                summary.fillna({"column": "(file)"}).to_markdown(index=False),
            ]
        if self.extra_columns:
            listed = ", ".join(f"`{name}`" for name in self.extra_columns)
            lines += ["", f"> Warning: columns outside the contract (kept, not used): {listed}."]
        return "\n".join(lines)


def _sample_cases(cases: pd.Series) -> str:
    return ", ".join(str(case) for case in cases.drop_duplicates().head(MAX_FAILURE_SAMPLES))


def _failure_table(failure_cases: pd.DataFrame, schema_name: str | None) -> pd.DataFrame:
    """Pandera's failure cases reshaped into `ContractResult.failures`.

    Frame-level checks get column None, a missing column is named in `column`, the per-column
    rows of one duplicated key become one row, and for a column whose coercion failed the
    follow-on noise is dropped: the `dtype(...)` rows (they repeat the coercion cases), value
    checks that could not run on the uncoerced values (no row, the error as the case) and
    coercion cases that are nulls (`not_nullable` reports those). When a key column is missing,
    the uniqueness check ran on the rest of the key and is dropped too.
    """
    cases = failure_cases.rename(columns={"index": "row"}).astype({"column": object})
    cases["check"] = cases["check"].astype(str)
    missing = cases["check"] == COLUMN_PRESENCE_CHECK
    cases.loc[missing, "column"] = cases.loc[missing, "failure_case"]
    cases.loc[cases["column"] == schema_name, "column"] = None

    coercion = cases["check"].str.startswith(COERCE_CHECK_PREFIX)
    in_not_coerced = cases["column"].isin(cases.loc[coercion, "column"].unique())
    follow_on = in_not_coerced & (
        cases["check"].str.startswith(DTYPE_CHECK_PREFIX) | (cases["row"].isna() & ~coercion)
    )
    null_coercion = coercion & cases["failure_case"].isna()  # `not_nullable` reports these
    key_missing = bool(cases.loc[missing, "column"].isin(ROW_KEY).any())
    partial_key = (cases["check"] == UNIQUENESS_CHECK) & key_missing  # ran on part of the key
    cases = cases[~(follow_on | null_coercion | partial_key)]

    duplicated = cases["check"] == UNIQUENESS_CHECK
    duplicates = (
        cases[duplicated]
        .groupby("row", sort=True)
        .agg(failure_case=("failure_case", lambda values: " | ".join(map(str, values))))
        .reset_index()
        .assign(column=", ".join(ROW_KEY), check=UNIQUENESS_CHECK)
    )
    table = pd.concat([cases[~duplicated], duplicates], ignore_index=True)
    table = table.loc[:, list(FAILURE_COLUMNS)].astype(object)
    return table.where(table.notna(), None)


def _extra_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    return tuple(str(name) for name in frame.columns if name not in CONTRACT_COLUMNS)


def validate_sales(frame: pd.DataFrame, partition_date: date) -> ContractResult:
    """Validate one landing frame against the contract for `partition_date`.

    All rules run (lazy validation), so every failure case is reported at once. Extra columns
    never fail the contract; they are listed in `extra_columns` and left out of `validated`.
    """
    extra_columns = _extra_columns(frame)
    schema = contract_schema(partition_date)
    try:
        coerced = schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        return ContractResult(
            passed=False,
            validated=empty_validated(),
            failures=_failure_table(errors.failure_cases, schema.name),
            extra_columns=extra_columns,
            row_count=len(frame),
        )
    return ContractResult(
        passed=True,
        validated=coerced.loc[:, list(CONTRACT_COLUMNS)],
        failures=_empty_failures(),
        extra_columns=extra_columns,
        row_count=len(frame),
    )


# --------------------------------------------------------------------------------------------
# A partial delivery
# --------------------------------------------------------------------------------------------

SAME_WEEKDAY_WEEKS = 4
"""Weeks back the expected row count of a day looks for the same weekday."""
RECENT_DAYS = 7
"""Days back it looks when fewer than `MIN_REFERENCE_DAYS` of those weekdays were delivered."""
MIN_REFERENCE_DAYS = 2
"""Delivered reference days needed before a day's row count is judged at all (a new feed's
first days are never refused as partial)."""


def expected_row_count(day: date, delivered_rows: Mapping[date, int]) -> float | None:
    """The row count `day` is expected to have, from the rows of the delivered days before it.

    The median of the same weekday over the last `SAME_WEEKDAY_WEEKS` weeks when at least
    `MIN_REFERENCE_DAYS` of them were delivered (a store closed on Sundays delivers fewer rows
    every Sunday, which is not a partial delivery), else the median of the last `RECENT_DAYS`
    days; None while too few days were delivered to say.
    """
    for offsets in (
        [7 * week for week in range(1, SAME_WEEKDAY_WEEKS + 1)],
        list(range(1, RECENT_DAYS + 1)),
    ):
        counts = [
            delivered_rows[earlier]
            for offset in offsets
            if (earlier := day - timedelta(days=offset)) in delivered_rows
        ]
        if len(counts) >= MIN_REFERENCE_DAYS:
            return float(np.median(counts))
    return None


def refuse_partial_delivery(
    result: ContractResult, expected_rows: float | None, min_share: float
) -> ContractResult:
    """`result`, refused by `COMPLETE_DELIVERY_CHECK` when it passed the contract with fewer
    than `min_share` of `expected_rows` (see `expected_row_count`); else `result` unchanged.

    A feed that stops halfway writes a valid file with a third of the series; ingested, the
    missing series would read as zero sales for the day (issue 11). Refusing holds the day for
    the complete file, or for an operator's confirmation (`accept_partial_delivery`).
    """
    if not result.passed or expected_rows is None or result.row_count >= min_share * expected_rows:
        return result
    message = (
        f"{result.row_count:,} rows where about {expected_rows:,.0f} are expected (the median of "
        f"the delivered days before it); below {min_share:.0%} it is taken for a partial "
        "delivery. Deliver the complete file, or, if the day really had this few series, "
        "re-materialize it with the run config accept_partial_delivery: true."
    )
    failures = pd.DataFrame(
        {
            "column": [None],
            "check": [COMPLETE_DELIVERY_CHECK],
            "failure_case": [message],
            "row": [None],
        }
    )
    return ContractResult(
        False, empty_validated(), failures, result.extra_columns, result.row_count
    )


# --------------------------------------------------------------------------------------------
# Many days at once
# --------------------------------------------------------------------------------------------


def validate_sales_batch(frames: Mapping[date, pd.DataFrame]) -> dict[date, ContractResult]:
    """Validate many landing frames, partition day -> frame; the same verdicts as one by one.

    Each day's `ContractResult` equals `validate_sales(frame, day)`: the same verdict, failures
    (rows are index labels of that day's frame), validated frame (dtypes, index) and extra
    columns. Days that can be stacked (see `_stacking_key`) are validated together in one
    pandera call on their contract columns plus `PARTITION_COLUMN`; every other day, and every
    day a stacked call finds a failure on, is validated alone by `validate_sales`, so failure
    reports are exactly the per-day ones. The rest of a failed stack is validated again as a
    stack (a column whose coercion failed hides value checks on the other days), until a stack
    passes. Returns the results in the order of `frames`.
    """
    results: dict[date, ContractResult] = {}
    stacks: dict[tuple[object, ...], list[date]] = {}
    for day, frame in frames.items():
        key = _stacking_key(frame)
        if key is None:
            results[day] = validate_sales(frame, day)
        else:
            stacks.setdefault(key, []).append(day)
    for days in stacks.values():
        results.update(_validate_stack(frames, days))
    return {day: results[day] for day in frames}


def _stacking_key(frame: pd.DataFrame) -> tuple[object, ...] | None:
    """Frames with equal keys validate stacked exactly as alone; None: validate it alone.

    Stacking must not change what pandera sees. The contract columns keep their dtypes (equal
    dtypes concatenate unchanged; a categorical dtype includes its categories) and every rule is
    row by row (a text `date` is parsed value by value as ISO 8601), so the key is the dtypes.
    Frames without rows or with a missing or repeated column (which break the contract anyway)
    are validated alone.
    """
    if len(frame) == 0 or not frame.columns.is_unique:
        return None
    if any(name not in frame.columns for name in CONTRACT_COLUMNS):
        return None
    return tuple(frame[name].dtype for name in CONTRACT_COLUMNS)


def _validate_stack(
    frames: Mapping[date, pd.DataFrame], days: Sequence[date]
) -> dict[date, ContractResult]:
    """Validate `days` (equal `_stacking_key`s) stacked; days with failures go one by one."""
    results: dict[date, ContractResult] = {}
    pending = [list(days)]
    while pending:
        stack = pending.pop()
        passed, failing = _try_stack(frames, stack)
        if passed:
            results.update(passed)
            continue
        if not failing:  # the stack failed, but no failure case names a row: halve it
            if len(stack) == 1:
                failing = set(stack)
            else:
                middle = len(stack) // 2
                pending += [stack[:middle], stack[middle:]]
                continue
        results.update({day: validate_sales(frames[day], day) for day in failing})
        rest = [day for day in stack if day not in failing]
        if rest:
            pending.append(rest)
    return results


def _try_stack(
    frames: Mapping[date, pd.DataFrame], days: list[date]
) -> tuple[dict[date, ContractResult], set[date]]:
    """One pandera call on `days` stacked: every day's result if all pass, else the failing days.

    The failing days are those some failure case points at by row (empty when none does).
    """
    parts = [frames[day] for day in days]
    row_counts = np.array([len(part) for part in parts])
    stacked = pd.DataFrame(
        {name: _stack_column([part[name] for part in parts]) for name in CONTRACT_COLUMNS}
    )
    partition_days = np.array([np.datetime64(day, "D") for day in days]).astype("datetime64[ns]")
    stacked[PARTITION_COLUMN] = np.repeat(partition_days, row_counts)
    try:
        coerced = _stacked_schema().validate(stacked, lazy=True)
    except SchemaErrors as errors:
        rows = pd.to_numeric(errors.failure_cases["index"], errors="coerce").dropna()
        ends = np.cumsum(row_counts)
        positions = np.searchsorted(ends, rows.to_numpy(dtype=np.int64), side="right")
        return {}, {days[position] for position in np.unique(positions)}
    columns = {name: _column_values(coerced[name]) for name in CONTRACT_COLUMNS}
    starts = np.concatenate([[0], np.cumsum(row_counts)])
    results = {
        day: ContractResult(
            passed=True,
            validated=pd.DataFrame(
                {name: values[start:end] for name, values in columns.items()}, index=part.index
            ),
            failures=_empty_failures(),
            extra_columns=_extra_columns(part),
            row_count=len(part),
        )
        for day, part, start, end in zip(days, parts, starts[:-1], starts[1:], strict=True)
    }
    return results, set()


def _column_values(column: pd.Series) -> Any:
    """The values of `column` as a numpy array when its dtype is numpy's (fast to slice)."""
    return column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array


def _stack_column(columns: list[pd.Series]) -> Any:
    """One column of equal-dtype frames, stacked (the dtype is kept; the index is dropped)."""
    if isinstance(columns[0].dtype, np.dtype):
        return np.concatenate([column.to_numpy() for column in columns])
    return pd.concat(columns, ignore_index=True)
