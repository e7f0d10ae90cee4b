"""The per-partition data-quality report: one day's sales compared with its recent history.

What it measures (units: rows, series, share in [0, 1], units sold):

- volume: rows, series, the row count relative to the history's mean rows per day;
- cleanliness: missing cells per column, duplicated `(date, store_id, product_id)` rows, the
  share of rows that sold zero units;
- outliers: per series, today's units against the series' history with the Iglewicz-Hoaglin
  modified z-score (see `OUTLIER_RULE`);
- churn: series that are new today, and series seen in the last `VANISHED_LOOKBACK_DAYS` days
  that are absent today.

The report describes; it never rejects data (that is the contract's job,
`forecastops.domain.contract`).

`build_quality_reports` builds the reports of a whole range of days at once (a backfill), and
`build_quality_report` is that computation for a single day, so both follow the same code. The
rules are vectorized across series and days: presence and units become dense series x
calendar-day matrices, each day's history of a series is a sliding window over them, and the
robust statistics are taken along the window.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from forecastops.domain.contract import CONTRACT_COLUMNS, ROW_KEY, SERIES_KEY

MIN_HISTORY_POINTS = 14
"""A series needs this many history days with a `units_sold` value to be scored for outliers."""
MAD_TO_SIGMA = 1.4826
"""Scales the median absolute deviation to a normal standard deviation."""
MEAN_AD_TO_SIGMA = 1.253314
"""Scales the mean absolute deviation (sqrt(pi/2)) to a normal standard deviation."""
MIN_SCALE_UNITS = 1.0
"""The smallest spread used, in units sold: a series that never varies is not flagged for 1."""
OUTLIER_THRESHOLD = 3.5
"""|modified z| above this flags an outlier (Iglewicz & Hoaglin, 1993)."""
VANISHED_LOOKBACK_DAYS = 7
"""A series seen in this many calendar days before the partition and absent on it has vanished."""
MAX_MARKDOWN_OUTLIERS = 10
MAX_MARKDOWN_SERIES_IDS = 5

OUTLIER_RULE = (
    f"robust z = (units - median) / scale over the series' history; "
    f"scale = {MAD_TO_SIGMA} * MAD, or {MEAN_AD_TO_SIGMA} * mean(abs(units - median)) when "
    f"MAD = 0, at least {MIN_SCALE_UNITS:g} unit; flagged when abs(z) > {OUTLIER_THRESHOLD}; "
    f"series with fewer than {MIN_HISTORY_POINTS} history days are not scored"
)

WINDOW_CELL_BUDGET = 4_000_000
"""Most history cells (series x report days x history days; 32 MB of float64) that
`build_quality_reports` holds at once; a long range of days is scored in chunks below it."""

OUTLIER_COLUMNS = (*SERIES_KEY, "units_sold", "history_median", "history_mad", "robust_z")
HISTORY_COLUMNS = ("date", *SERIES_KEY, "units_sold")
"""The history columns the report reads."""

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class QualityReport:
    """The quality report of one partition.

    `summary` is one flat row (see `build_quality_report` for each field); `columns` profiles
    every column of the day's frame (`column`, `dtype`, `missing_count`, `missing_share`);
    `outliers` lists flagged series, largest |robust_z| first (`store_id`, `product_id`,
    `units_sold`, `history_median`, `history_mad`, `robust_z`); `new_series` and
    `vanished_series` list `store_id`, `product_id`.
    """

    partition_date: date
    summary: dict[str, float | int | str]
    columns: pd.DataFrame
    outliers: pd.DataFrame
    new_series: pd.DataFrame
    vanished_series: pd.DataFrame

    def summary_frame(self) -> pd.DataFrame:
        """`summary` as a one-row frame."""
        return pd.DataFrame([self.summary])

    def to_markdown(self) -> str:
        """Summary, column profile, top outliers and new/vanished series, for an operator."""
        metrics = pd.DataFrame({"metric": list(self.summary), "value": list(self.summary.values())})
        shown_outliers = self.outliers.head(MAX_MARKDOWN_OUTLIERS)
        outlier_title = f"Outliers ({len(shown_outliers)} of {len(self.outliers)}, largest first)"
        sections = [
            f"### Data quality {self.partition_date.isoformat()}",
            metrics.to_markdown(index=False),
            "#### Columns",
            self.columns.to_markdown(index=False, floatfmt=".4f"),
            f"#### {outlier_title}",
            shown_outliers.to_markdown(index=False, floatfmt=".2f")
            if not shown_outliers.empty
            else "_none_",
            "#### Series churn",
            f"- new: {len(self.new_series)}{_some_ids(self.new_series)}\n"
            f"- vanished: {len(self.vanished_series)}{_some_ids(self.vanished_series)}",
        ]
        return "\n\n".join(sections)


def _some_ids(series: pd.DataFrame) -> str:
    if series.empty:
        return ""
    ids = series.head(MAX_MARKDOWN_SERIES_IDS).astype(str).agg("/".join, axis=1)
    more = ", …" if len(series) > MAX_MARKDOWN_SERIES_IDS else ""
    return " (" + ", ".join(f"`{key}`" for key in ids) + more + ")"


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def build_quality_report(
    day_frame: pd.DataFrame, history: pd.DataFrame, partition_date: date
) -> QualityReport:
    """The quality report of `partition_date`.

    `day_frame` is the day's landing frame: the contract columns (coerced or as delivered; the
    numbers are read with `pd.to_numeric`) plus any extra columns, all of which are profiled.
    `history` holds validated rows of earlier days (at least `date`, `store_id`, `product_id`,
    `units_sold`; may be empty); rows dated on or after `partition_date` are ignored, and dates
    count as calendar days.

    Summary fields: `date` (ISO); `row_count`; `series_count` (distinct non-null keys);
    `history_days` (distinct dates in history); `history_mean_row_count` (rows per history day,
    NaN without history); `row_count_ratio` (row_count / that mean, NaN without history);
    `duplicate_rows` (rows repeating an earlier row's `(date, store_id, product_id)`);
    `zero_sales_share` (rows with units_sold == 0 over rows with a number, NaN if none);
    `outlier_count` and `outlier_rule`; `new_series_count` (series today that are not in the
    history, so every series on a day without history); `vanished_series_count` (series seen in
    the `VANISHED_LOOKBACK_DAYS` days before the partition, absent today); `missing_cells` (null
    cells across all columns of `day_frame`).

    This is `build_quality_reports` for one day whose history is all of `history`.
    """
    _require_contract_columns(day_frame, f"The {partition_date.isoformat()} frame")
    earlier = _history_before(history, partition_date)
    earlier_days = _day_ordinals(earlier["date"])
    # the window reaches back to the earliest history row, so all of `earlier` is history
    window = partition_date.toordinal() - int(earlier_days.min()) if len(earlier) else 0
    key = list(SERIES_KEY)
    keys = pd.concat([day_frame.loc[:, key], earlier.loc[:, key]], ignore_index=True)
    series, catalog = _series_codes(keys)
    rows = len(day_frame)
    today = _day_rows(day_frame, np.zeros(rows, dtype=np.int64), series[:rows])
    past = _HistoryRows(earlier_days, series[rows:], _float_units(earlier))
    [report] = _quality_reports([partition_date], window, catalog, today, past)
    return report


def build_quality_reports(
    sales: pd.DataFrame, days: Sequence[date], history_days: int
) -> list[QualityReport]:
    """The quality report of each of `days`, in the order given, computed all at once.

    `sales` holds validated rows (`CONTRACT_COLUMNS` plus any extra columns, all profiled) of
    `days` and of the `history_days` calendar days before the first of them; rows outside those
    days are ignored. Each report equals `build_quality_report(day_frame, history, day)` with
    `day_frame` the rows of `sales` dated `day` (every column of `sales`) and `history` the rows
    dated in the `history_days` calendar days before it. A day without rows gets a report of
    an empty frame.
    """
    if history_days < 0:
        raise ValueError(f"history_days must be >= 0, got {history_days}.")
    _require_contract_columns(sales, "The sales frame")
    report_days = sorted(set(days))
    if not report_days:
        return []
    ordinals = np.array([day.toordinal() for day in report_days], dtype=np.int64)
    row_days = _day_ordinals(_as_datetime(sales["date"]))
    position = np.searchsorted(ordinals, row_days).clip(max=len(ordinals) - 1)
    on_report_day = ordinals[position] == row_days
    dated = row_days >= 0
    series, catalog = _series_codes(sales.loc[:, list(SERIES_KEY)])
    today = _day_rows(sales, position, series, on_report_day)
    past = _HistoryRows(row_days[dated], series[dated], _float_units(sales)[dated])
    reports = _quality_reports(report_days, history_days, catalog, today, past)
    by_day = dict(zip(report_days, reports, strict=True))
    return [by_day[day] for day in days]


def profile_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Per column of `frame`: dtype, missing (null) cell count and share of rows (NaN if none)."""
    return _column_profile(
        tuple(str(name) for name in frame.columns),
        tuple(str(dtype) for dtype in frame.dtypes),
        frame.isna().sum().to_numpy(dtype=np.int64),
        len(frame),
    )


def score_outliers(today: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Series whose units today are outliers against their own history (`OUTLIER_RULE`).

    `today` has one row per series (`store_id`, `product_id`, `units_sold`); `history` has
    `store_id`, `product_id`, `units_sold` over earlier days. Returns `OUTLIER_COLUMNS` for the
    flagged series, largest |robust_z| first; `history_mad` is the raw MAD in units.
    """
    key = list(SERIES_KEY)
    points = history.dropna(subset=["units_sold"])
    series, catalog = _series_codes(points.loc[:, key])
    known = series >= 0
    by_series = _padded(series[known], _float_units(points)[known], len(catalog))
    found = pd.MultiIndex.from_frame(catalog).get_indexer(pd.MultiIndex.from_frame(today[key]))
    rows = np.flatnonzero(found >= 0)
    stats = _RobustStats.of(by_series[found[rows]])
    return _outlier_frame(
        today[key[0]].array.take(rows),
        today[key[1]].array.take(rows),
        today["units_sold"].array.take(rows),
        stats,
    )


# --------------------------------------------------------------------------------------------
# The rules, vectorized
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RobustStats:
    """Per scored row: history `points`, `median`, `mad` and mean absolute deviation."""

    points: IntArray
    median: FloatArray
    mad: FloatArray
    mean_abs_dev: FloatArray

    @classmethod
    def of(cls, values: FloatArray) -> _RobustStats:
        """The statistics of each row of `values` (history units, NaN where there is none)."""
        points = np.count_nonzero(~np.isnan(values), axis=1).astype(np.int64)
        median = _middle(np.sort(values, axis=1), points)
        deviation = np.abs(values - median[:, None])
        mad = _middle(np.sort(deviation, axis=1), points)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_abs_dev = np.nansum(deviation, axis=1) / points
        return cls(points, median, mad, mean_abs_dev)

    def rows(self, selection: slice) -> _RobustStats:
        return _RobustStats(
            self.points[selection],
            self.median[selection],
            self.mad[selection],
            self.mean_abs_dev[selection],
        )

    def robust_z(self, units: FloatArray) -> FloatArray:
        """`OUTLIER_RULE`'s z of `units` (NaN where the history is too short to score)."""
        spread = np.where(
            self.mad > 0, MAD_TO_SIGMA * self.mad, MEAN_AD_TO_SIGMA * self.mean_abs_dev
        )
        z = (units - self.median) / np.maximum(spread, MIN_SCALE_UNITS)
        return np.where(self.points >= MIN_HISTORY_POINTS, z, np.nan)


def _middle(ordered: FloatArray, counts: IntArray) -> FloatArray:
    """The median of each row of `ordered` (ascending, NaN last) over its first `counts` values."""
    if ordered.shape[1] == 0:
        return np.full(len(ordered), np.nan)
    rows = np.arange(len(ordered))
    low = ordered[rows, np.maximum(counts - 1, 0) // 2]
    high = ordered[rows, counts // 2]
    middle: FloatArray = np.where(counts > 0, (low + high) / 2, np.nan)
    return middle


def _outlier_frame(
    store_ids: Any, product_ids: Any, units: Any, stats: _RobustStats
) -> pd.DataFrame:
    """`OUTLIER_COLUMNS` of the flagged rows among the scored ones, largest |robust_z| first.

    The inputs are aligned, one entry per scored row in row order; ties keep row order.
    """
    z = stats.robust_z(np.asarray(units, dtype=np.float64))
    flagged = np.flatnonzero(np.abs(z) > OUTLIER_THRESHOLD)
    order = flagged[np.argsort(-np.abs(z[flagged]), kind="stable")]
    columns = (store_ids, product_ids, units, stats.median, stats.mad, z)
    return pd.DataFrame(
        {name: values[order] for name, values in zip(OUTLIER_COLUMNS, columns, strict=True)}
    )


def _column_profile(
    columns: tuple[str, ...], dtypes: tuple[str, ...], missing: IntArray, rows: int
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "column": list(columns),
            "dtype": list(dtypes),
            "missing_count": missing.astype(np.int64),
            "missing_share": missing.astype(np.float64) / rows if rows else np.nan,
        }
    )


# --------------------------------------------------------------------------------------------
# The vectorized core: many days at once
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DayRows:
    """The rows of the reported days, in row order (each entry is one row)."""

    day: IntArray
    """Position of the row's day among the report days."""
    series: IntArray
    """Code of the row's series in the catalog; -1 where `store_id` or `product_id` is null."""
    units: pd.Series
    """`pd.to_numeric(units_sold)`, NaN (or NA) where it is not a number; a RangeIndex."""
    duplicated: BoolArray
    """The row repeats an earlier row's `(date, store_id, product_id)`."""
    missing: BoolArray
    """rows x profiled columns: the cell is null."""
    columns: tuple[str, ...]
    dtypes: tuple[str, ...]


@dataclass(frozen=True)
class _HistoryRows:
    """History rows (any dates; each day's window is picked out of them), one entry per row."""

    day: IntArray
    """Calendar day (`date.toordinal()`)."""
    series: IntArray
    """As in `_DayRows`."""
    units: FloatArray
    """`units_sold`, NaN where missing."""


def _day_rows(
    frame: pd.DataFrame, day: IntArray, series: IntArray, selected: BoolArray | None = None
) -> _DayRows:
    """`_DayRows` of `frame`'s rows (only the `selected` ones, when given), in row order.

    Duplicates are found across all of `frame`: rows on different days never repeat each other,
    as their `date` differs.
    """
    units = pd.to_numeric(frame["units_sold"], errors="coerce").reset_index(drop=True)
    duplicated = frame.duplicated(subset=list(ROW_KEY), keep="first").to_numpy()
    missing = frame.isna().to_numpy()
    if selected is not None:
        rows = np.flatnonzero(selected)
        day, series, units = day[rows], series[rows], units.iloc[rows].reset_index(drop=True)
        duplicated, missing = duplicated[rows], missing[rows]
    return _DayRows(
        day=day,
        series=series,
        units=units,
        duplicated=duplicated,
        missing=missing,
        columns=tuple(str(name) for name in frame.columns),
        dtypes=tuple(str(dtype) for dtype in frame.dtypes),
    )


def _quality_reports(
    days: Sequence[date],
    history_days: int,
    catalog: pd.DataFrame,
    today: _DayRows,
    history: _HistoryRows,
) -> list[QualityReport]:
    """The reports of `days` (ascending, distinct); each day's history is the `history` rows
    dated in the `history_days` calendar days before it. `catalog` lists the series (sorted
    `SERIES_KEY` pairs) that the `series` codes point into."""
    n_days = len(days)
    ordinals = np.array([day.toordinal() for day in days], dtype=np.int64)

    row_count = np.bincount(today.day, minlength=n_days)
    duplicate_rows = _count_by_day(today.day, today.duplicated, n_days)
    sold = today.units.notna().to_numpy()
    zero = today.units.eq(0).to_numpy(dtype=bool, na_value=False)
    sold_rows = _count_by_day(today.day, sold, n_days)
    zero_rows = _count_by_day(today.day, zero, n_days)
    missing = np.stack(
        [_count_by_day(today.day, column, n_days) for column in today.missing.T], axis=1
    ).reshape(n_days, len(today.columns))

    history_order = np.argsort(history.day, kind="stable")
    history_sorted = _HistoryRows(
        history.day[history_order], history.series[history_order], history.units[history_order]
    )
    window_rows = _count_in_windows(history_sorted.day, ordinals, history_days)
    window_days = _count_in_windows(np.unique(history_sorted.day), ordinals, history_days)

    findings = _series_findings(ordinals, history_days, catalog, today, history_sorted)

    store_ids, product_ids = catalog["store_id"].array, catalog["product_id"].array
    reports = []
    for j, day in enumerate(days):
        outliers, new, vanished = findings.outliers[j], findings.new[j], findings.vanished[j]
        rows, history_count = int(row_count[j]), int(window_days[j])
        history_mean = int(window_rows[j]) / history_count if history_count else np.nan
        summary: dict[str, float | int | str] = {
            "date": day.isoformat(),
            "row_count": rows,
            "series_count": int(findings.series_count[j]),
            "history_days": history_count,
            "history_mean_row_count": history_mean,
            "row_count_ratio": rows / history_mean if history_count else np.nan,
            "duplicate_rows": int(duplicate_rows[j]),
            "zero_sales_share": int(zero_rows[j]) / int(sold_rows[j]) if sold_rows[j] else np.nan,
            "outlier_count": len(outliers),
            "outlier_rule": OUTLIER_RULE,
            "new_series_count": len(new),
            "vanished_series_count": len(vanished),
            "missing_cells": int(missing[j].sum()),
        }
        reports.append(
            QualityReport(
                partition_date=day,
                summary=summary,
                columns=_column_profile(today.columns, today.dtypes, missing[j], rows),
                outliers=outliers,
                new_series=_keys_frame(store_ids, product_ids, new),
                vanished_series=_keys_frame(store_ids, product_ids, vanished),
            )
        )
    return reports


@dataclass(frozen=True)
class _SeriesFindings:
    """Per report day: distinct series, new and vanished series (catalog codes, ascending) and
    the outlier table."""

    series_count: IntArray
    new: list[IntArray]
    vanished: list[IntArray]
    outliers: list[pd.DataFrame]


def _series_findings(
    ordinals: IntArray,
    history_days: int,
    catalog: pd.DataFrame,
    today: _DayRows,
    history: _HistoryRows,
) -> _SeriesFindings:
    """Compare each report day (`ordinals`, ascending) with its window of `history`.

    `history` is sorted by day. The days go in chunks whose windows stay under
    `WINDOW_CELL_BUDGET` cells; see `_chunk_findings`.
    """
    layer = _point_layers(history)
    layers = int(layer.max()) + 1 if len(layer) else 1
    chunk_span = max(1, WINDOW_CELL_BUDGET // max(1, len(catalog) * layers * history_days))
    today_order = np.argsort(today.day, kind="stable")
    day_starts = np.searchsorted(today.day[today_order], np.arange(len(ordinals) + 1))
    chunks = []
    start = 0
    while start < len(ordinals):
        stop = int(np.searchsorted(ordinals, ordinals[start] + chunk_span))
        rows = today_order[day_starts[start] : day_starts[stop]]
        chunk = _chunk_findings(
            ordinals[start:stop], start, history_days, catalog, today, rows, history, layer
        )
        chunks.append(chunk)
        start = stop
    return _SeriesFindings(
        series_count=np.concatenate([chunk.series_count for chunk in chunks]),
        new=[codes for chunk in chunks for codes in chunk.new],
        vanished=[codes for chunk in chunks for codes in chunk.vanished],
        outliers=[frame for chunk in chunks for frame in chunk.outliers],
    )


def _chunk_findings(
    ordinals: IntArray,
    first_day: int,
    history_days: int,
    catalog: pd.DataFrame,
    today: _DayRows,
    rows: IntArray,
    history: _HistoryRows,
    layer: IntArray,
) -> _SeriesFindings:
    """`_SeriesFindings` of the report days `first_day`, ... (calendar days `ordinals`).

    `rows` are the positions in `today` of these days' rows, by day and then row order. The
    chunk's history (from `history_days` before its first day to its last day) becomes dense
    series x calendar-day matrices: `seen` (the series has a row that day) and `units` (one
    layer per row of a series on a day, NaN where none), whose sliding windows give each day's
    history of each series.
    """
    n_series, n_days = len(catalog), len(ordinals)
    start = int(ordinals[0]) - history_days
    span = int(ordinals[-1]) - start
    lo, hi = np.searchsorted(history.day, [start, ordinals[-1]])
    past_day = history.day[lo:hi] - start
    past_series = history.series[lo:hi]
    past_units = history.units[lo:hi]
    known = past_series >= 0
    seen = np.zeros((n_series, span), dtype=bool)
    seen[past_series[known], past_day[known]] = True
    seen_before = np.zeros((n_series, span + 1), dtype=np.int32)
    np.cumsum(seen, axis=1, dtype=np.int32, out=seen_before[:, 1:])
    window_ends = ordinals - start

    def seen_within(days_back: int) -> BoolArray:
        """(series, report day): the series has a row in the `days_back` days before it."""
        seen_any: BoolArray = seen_before[:, window_ends] > seen_before[:, window_ends - days_back]
        return seen_any

    day = today.day[rows] - first_day
    series = today.series[rows]
    keyed = series >= 0
    present = np.zeros((n_series, n_days), dtype=bool)
    present[series[keyed], day[keyed]] = True
    new = present & ~seen_within(history_days)
    vanished = seen_within(min(VANISHED_LOOKBACK_DAYS, history_days)) & ~present

    # outliers: each series' first row with units on a day, against its window of units
    candidates = np.flatnonzero(keyed & today.units.iloc[rows].notna().to_numpy())
    _, first = np.unique(
        day[candidates] * np.int64(n_series) + series[candidates], return_index=True
    )
    scored = candidates[np.sort(first)]
    if history_days and len(scored):
        has_point = known & ~np.isnan(past_units)
        units = np.full((n_series, int(layer.max()) + 1, span), np.nan)
        cells = (past_series[has_point], layer[lo:hi][has_point], past_day[has_point])
        units[cells] = past_units[has_point]
        windows = sliding_window_view(units, history_days, axis=2)
        window_starts = ordinals[day[scored]] - ordinals[0]
        points = windows[series[scored], :, window_starts, :].reshape(len(scored), -1)
    else:
        points = np.empty((len(scored), 0))
    stats = _RobustStats.of(points)
    bounds = np.searchsorted(day[scored], np.arange(n_days + 1))
    store_ids, product_ids = catalog["store_id"].array, catalog["product_id"].array
    outliers = []
    for low, high in itertools.pairwise(bounds):
        picked = scored[low:high]
        outliers.append(
            _outlier_frame(
                store_ids.take(series[picked]),
                product_ids.take(series[picked]),
                today.units.array.take(rows[picked]),
                stats.rows(slice(low, high)),
            )
        )
    return _SeriesFindings(
        series_count=present.sum(axis=0).astype(np.int64),
        new=[np.flatnonzero(new[:, j]) for j in range(n_days)],
        vanished=[np.flatnonzero(vanished[:, j]) for j in range(n_days)],
        outliers=outliers,
    )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _require_contract_columns(frame: pd.DataFrame, what: str) -> None:
    missing_columns = [name for name in CONTRACT_COLUMNS if name not in frame.columns]
    if missing_columns:
        raise ValueError(
            f"{what} lacks contract column(s) {missing_columns}; "
            "build the quality report from data that passed the contract."
        )


def _history_before(history: pd.DataFrame, partition_date: date) -> pd.DataFrame:
    """`HISTORY_COLUMNS` of the history rows dated before `partition_date`, `date` as datetime.

    A history without rows may come without columns (e.g. `pd.DataFrame()`).
    """
    if history.empty:
        history = pd.DataFrame({name: pd.Series(dtype=object) for name in HISTORY_COLUMNS})
    frame = history.loc[:, list(HISTORY_COLUMNS)]
    frame = frame.assign(date=_as_datetime(frame["date"]))
    return frame[frame["date"] < pd.Timestamp(partition_date)]


def _as_datetime(dates: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(dates):
        return dates
    return pd.to_datetime(dates)


def _day_ordinals(dates: pd.Series) -> IntArray:
    """The calendar day of each datetime as `date.toordinal()`; -1 for NaT."""
    values = dates.to_numpy(dtype="datetime64[ns]")
    days = values.astype("datetime64[D]").astype(np.int64) + _UNIX_EPOCH_ORDINAL
    ordinals: IntArray = np.where(np.isnat(values), -1, days)
    return ordinals


_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _float_units(frame: pd.DataFrame) -> FloatArray:
    """`units_sold` as float64, NaN where missing."""
    units: FloatArray = frame["units_sold"].to_numpy(dtype=np.float64, na_value=np.nan)
    return units


def _series_codes(keys: pd.DataFrame) -> tuple[IntArray, pd.DataFrame]:
    """Each row's series code (-1 where `store_id` or `product_id` is null) and the catalog.

    The catalog holds the distinct non-null `SERIES_KEY` pairs, sorted; code i is its row i.
    """
    store_codes, stores = pd.factorize(keys["store_id"])
    product_codes, products = pd.factorize(keys["product_id"])
    keyed = (store_codes >= 0) & (product_codes >= 0)
    pair = store_codes[keyed].astype(np.int64) * len(products) + product_codes[keyed]
    pair_codes, pairs = pd.factorize(pair)
    catalog = pd.DataFrame(
        {
            "store_id": stores.take(pairs // max(len(products), 1)),
            "product_id": products.take(pairs % max(len(products), 1)),
        }
    )
    order = catalog.sort_values(list(SERIES_KEY)).index.to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = np.full(len(keys), -1, dtype=np.int64)
    codes[keyed] = rank[pair_codes]
    return codes, catalog.iloc[order].reset_index(drop=True)


def _occurrence(values: IntArray) -> IntArray:
    """For each entry, how many earlier entries have the same value (0 for the first)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    positions = np.arange(len(values))
    starts = np.ones(len(values), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group_start = np.maximum.accumulate(np.where(starts, positions, 0))
    occurrence = np.empty_like(values)
    occurrence[order] = positions - group_start
    return occurrence


def _point_layers(history: _HistoryRows) -> IntArray:
    """Per history row, how many earlier rows of its series and day have units (its layer)."""
    layer = np.zeros(len(history.day), dtype=np.int64)
    has_point = (history.series >= 0) & ~np.isnan(history.units)
    if has_point.any():
        day = history.day[has_point]
        cell = history.series[has_point] * (int(day.max()) + 1) + day
        layer[has_point] = _occurrence(cell)
    return layer


def _padded(series: IntArray, values: FloatArray, n_series: int) -> FloatArray:
    """Row i holds the `values` of series i, in order, NaN-padded to the longest."""
    layer = _occurrence(series)
    padded = np.full((n_series, int(layer.max()) + 1 if len(layer) else 0), np.nan)
    padded[series, layer] = values
    return padded


def _count_by_day(day: IntArray, flags: BoolArray, n_days: int) -> IntArray:
    counts: IntArray = np.bincount(day, weights=flags, minlength=n_days).astype(np.int64)
    return counts


def _count_in_windows(sorted_days: IntArray, ordinals: IntArray, history_days: int) -> IntArray:
    """How many of `sorted_days` fall in the `history_days` days before each of `ordinals`."""
    counts: IntArray = np.searchsorted(sorted_days, ordinals) - np.searchsorted(
        sorted_days, ordinals - history_days
    )
    return counts


def _keys_frame(store_ids: Any, product_ids: Any, codes: IntArray) -> pd.DataFrame:
    return pd.DataFrame({"store_id": store_ids.take(codes), "product_id": product_ids.take(codes)})
