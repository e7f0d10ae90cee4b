"""Forecast accuracy metrics, on arrays and on long frames grouped by any keys.

Units and conventions (all functions):
- `actual` and `forecast` are units sold per (series, day); the error is `forecast - actual`.
- `wape`, `bias`, `mase` and `mape` are unitless ratios (0.231 means 23.1 %); `mae` and `rmse`
  are in units sold per series-day; `stockout_miss_rate`, `overstock_rate` and
  `interval_coverage` are shares of series-days in [0, 1].
- The operational metrics judge the P50 (the point forecast) one series-day at a time:
  `mape` and `stockout_miss_rate` only on series-days with demand (`actual > 0`),
  `overstock_rate` on all of them (see each function and docs/operations.md, "Accuracy
  metrics").
- A NaN in `actual` or `forecast` propagates: the metric is NaN, so a missing forecast never makes
  a model look better. A ratio whose denominator is 0 is NaN (no warning, no inf).
- An empty input gives NaN.

`metrics_by` computes all of them per group of a long frame in one `groupby`, so scoring every
(candidate, store, product) of a backtest is a handful of vectorised sums.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecastops.domain.metric_names import SCORE_METRICS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ACTUAL = "actual"
FORECAST = "forecast"
MASE_SCALE = "mase_scale"
"""Column of `metrics_by`'s input with each row's series scale (see `seasonal_naive_scale`)."""
METRIC_COLUMNS: tuple[str, ...] = (*SCORE_METRICS, "n", "n_demand")
"""Columns `metrics_by` returns after the group keys."""
DEMAND_METRICS: tuple[str, ...] = ("mape", "stockout_miss_rate")
"""The metrics taken over the series-days with demand only (`actual > 0`, counted in `n_demand`)."""

STOCKOUT_FORECAST_UNITS = 0.5
"""A P50 below this many units forecasts no sale: rounded to whole units it stocks nothing, so
on a day with demand it is a stockout-miss (`stockout_miss_rate`)."""
OVERSTOCK_SHARE = 0.2
"""A P50 above the actual by more than this share of the actual (and `OVERSTOCK_MIN_UNITS`)
overstocks (`overstock_rate`): beyond a 20 % safety margin the excess sits on the shelf."""
OVERSTOCK_MIN_UNITS = 1.0
"""...and by at least this many units, so a fractional forecast of a slow seller (0.8 against
0 sold) is not an overstock: less than one unit cannot be stocked in excess."""

SERIES_KEY: tuple[str, ...] = ("store_id", "product_id")
"""The key of one time series (the landing contract's series key)."""
TARGET = "units_sold"
SEASON_DAYS = 7
"""Season of the naive forecast that scales MASE: the same weekday one week earlier."""


def _as_float(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def _paired(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    a, f = _as_float(actual), _as_float(forecast)
    if a.shape != f.shape:
        raise ValueError(
            f"actual has {a.size} values but forecast has {f.size}; pass one forecast per actual."
        )
    return a, f


def _ratio(numerator: float, denominator: float) -> float:
    """`numerator / denominator`, NaN when the denominator is 0 or NaN."""
    if denominator == 0 or np.isnan(denominator):
        return float("nan")
    return float(numerator / denominator)


def wape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Weighted absolute percentage error: `sum|a - f| / sum|a|` (unitless, 0 is perfect).

    NaN when `sum|a| == 0` (no demand to weigh the errors by).
    """
    a, f = _paired(actual, forecast)
    return _ratio(float(np.sum(np.abs(a - f))), float(np.sum(np.abs(a))))


def mae(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Mean absolute error: `mean|a - f|`, in units sold per series-day."""
    a, f = _paired(actual, forecast)
    return _ratio(float(np.sum(np.abs(a - f))), a.size)


def rmse(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Root mean squared error: `sqrt(mean((a - f)^2))`, in units sold per series-day."""
    a, f = _paired(actual, forecast)
    return float(np.sqrt(_ratio(float(np.sum((a - f) ** 2)), a.size)))


def bias(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Relative bias: `sum(f - a) / sum(a)` (unitless).

    Positive means over-forecasting (0.05: the forecast totals 5 % more than the actuals),
    negative means under-forecasting. NaN when `sum(a) == 0`.
    """
    a, f = _paired(actual, forecast)
    return _ratio(float(np.sum(f - a)), float(np.sum(a)))


def _has_demand(a: FloatArray) -> BoolArray:
    """Series-days with demand: `a > 0` (a NaN actual has none known)."""
    with np.errstate(invalid="ignore"):
        return a > 0


def _stockout_miss(a: FloatArray, f: FloatArray) -> BoolArray:
    """Series-days with demand whose P50 forecast no sale: `a > 0` and
    `f < STOCKOUT_FORECAST_UNITS`."""
    with np.errstate(invalid="ignore"):
        return _has_demand(a) & (f < STOCKOUT_FORECAST_UNITS)


def _overstock(a: FloatArray, f: FloatArray) -> BoolArray:
    """Series-days whose P50 exceeds the actual by more than `OVERSTOCK_SHARE` of it and by
    more than `OVERSTOCK_MIN_UNITS`: `f - a > max(OVERSTOCK_SHARE * a, OVERSTOCK_MIN_UNITS)`."""
    with np.errstate(invalid="ignore"):
        return f - a > np.maximum(OVERSTOCK_SHARE * np.abs(a), OVERSTOCK_MIN_UNITS)


def _absolute_percentage_error(a: FloatArray, f: FloatArray) -> FloatArray:
    """`|a - f| / a` on series-days with demand, 0 elsewhere (they are left out of MAPE)."""
    demand = _has_demand(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(demand, np.abs(a - f) / np.where(demand, a, 1.0), 0.0)


def _mean_over(values: npt.NDArray[Any], rows: BoolArray, a: FloatArray, f: FloatArray) -> float:
    """`sum(values) / sum(rows)`: the mean of `values` (0 outside `rows`) over `rows`; NaN
    when an actual or forecast is NaN or no row is in `rows`."""
    if np.isnan(a).any() or np.isnan(f).any():
        return float("nan")
    return _ratio(float(np.sum(values)), float(np.sum(rows)))


def mape(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Mean absolute percentage error on the series-days with demand: `mean(|a - f| / a)` over
    `a > 0` (unitless, 0 is perfect; 0.5 = the forecast is off by half the actual on average).

    Days without demand are left out (a percentage of 0 sold is undefined), so MAPE is NaN
    when no actual is above 0 (`undefined_reason` says so) and never inf. It weighs a slow
    seller's day as much as a fast one's, which WAPE does not: read the two together.
    """
    a, f = _paired(actual, forecast)
    return _mean_over(_absolute_percentage_error(a, f), _has_demand(a), a, f)


def stockout_miss_rate(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Share of the series-days with demand (`a > 0`) whose P50 forecast was below
    `STOCKOUT_FORECAST_UNITS` (0.5 units: nothing would be stocked), in [0, 1]; NaN without
    a day with demand."""
    a, f = _paired(actual, forecast)
    return _mean_over(_stockout_miss(a, f), _has_demand(a), a, f)


def overstock_rate(actual: npt.ArrayLike, forecast: npt.ArrayLike) -> float:
    """Share of the series-days whose P50 exceeded the actual by more than `OVERSTOCK_SHARE`
    (20 %) of it and by more than `OVERSTOCK_MIN_UNITS` (1 unit), in [0, 1]; NaN when empty.

    The P50 is judged, not the P90: the backtest scores point forecasts of every candidate
    family (only the served model gets an interval), and one definition serves both the
    backtest and the realized health.
    """
    a, f = _paired(actual, forecast)
    return _mean_over(_overstock(a, f), np.ones(a.size, dtype=np.bool_), a, f)


def undefined_reason(metric: str, row: Mapping[Any, Any] | pd.Series) -> str | None:
    """Why `metric` of one `metrics_by` row (or any row with its `metric`, `n` and `n_demand`)
    is NaN, in words for an operator; None when it is a number.

    - `n == 0`: nothing was scored;
    - `mape` / `stockout_miss_rate` with `n_demand == 0`: no series-day with demand (every
      actual 0), so there is no percentage of demand to take;
    - otherwise a NaN forecast or actual among the rows (a missing forecast never scores).
    """
    value = row.get(metric)
    if value is not None and np.isfinite(float(value)):
        return None
    if int(row.get("n", 0) or 0) == 0:
        return "no scored series-day"
    if metric in DEMAND_METRICS and int(row.get("n_demand", 0) or 0) == 0:
        return "no series-day with demand > 0 (every actual is 0)"
    if metric in ("wape", "bias"):
        return "no units sold to weigh the errors by, or a NaN forecast or actual"
    if metric == "mase":
        return "no series with a usable seasonal-naive scale, or a NaN forecast or actual"
    return "a NaN forecast or actual among the series-days"


def undefined_notes(table: pd.DataFrame, label: str) -> str:
    """One markdown line per unknown (NaN) metric of a `metrics_by` table, named by the row's
    `label` column and with its `undefined_reason`; "" when every metric is a number."""
    lines = [
        f"- {row[label]}: {metric} unknown ({undefined_reason(metric, row)})"
        for row in table.to_dict("records")
        for metric in SCORE_METRICS
        if undefined_reason(metric, row) is not None
    ]
    return "\n".join(lines)


def mase(actual: npt.ArrayLike, forecast: npt.ArrayLike, scale: float) -> float:
    """Mean absolute scaled error of one series: `mae(a, f) / scale` (unitless).

    `scale` is the series' in-sample seasonal-naive MAE (`seasonal_naive_scale`), in units
    sold per day. Below 1 the forecast beats the naive "same weekday last week" in-sample error.
    NaN when `scale` is 0 or NaN.
    """
    if not np.isfinite(scale) or scale <= 0:
        return float("nan")
    return mae(actual, forecast) / scale


@dataclass(frozen=True, eq=False)
class SeasonalDifferences:
    """The seasonal differences of every row of a long frame: the raw material of MASE scales.

    `series_keys` holds one row per series (columns = the keys, sorted); `series[i]` is row
    `i`'s series code (a row number of `series_keys`); `difference[i]` is
    `|y(t) - y(t - season_days)|` of row `i` in units of the target, NaN when its series has no
    row exactly `season_days` earlier (so gaps in a series never pair unrelated days).
    Computing them once and scaling many row subsets (`scale`) is what lets a backtest score
    every fold without regrouping the history.
    """

    series_keys: pd.DataFrame
    series: IntArray
    difference: FloatArray

    @classmethod
    def of(
        cls,
        frame: pd.DataFrame,
        keys: Sequence[str] = SERIES_KEY,
        target: str = TARGET,
        season_days: int = SEASON_DAYS,
    ) -> SeasonalDifferences:
        """The differences of `frame` (columns `keys`, `date` datetime64 and `target`; one row
        per series and day, else `ValueError`). Vectorised: one integer index lookup."""
        keys = list(keys)
        grouper = frame.groupby(keys, sort=True)
        series = np.asarray(grouper.ngroup(), dtype=np.int64)
        series_keys = grouper.size().index.to_frame(index=False)
        if frame.empty:
            return cls(series_keys, series, np.array([], dtype=np.float64))
        dates = frame["date"]
        day = (dates - dates.min()).dt.days.to_numpy()
        span = int(day.max()) + season_days + 1
        cell = pd.Index(series * span + day)
        if not cell.is_unique:
            raise ValueError(
                f"the frame has more than one row for some ({', '.join(keys)}, date); "
                "deduplicate it before computing MASE scales."
            )
        lag_position = cell.get_indexer(cell - season_days)
        values = frame[target].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            difference = np.where(lag_position >= 0, np.abs(values - values[lag_position]), np.nan)
        return cls(series_keys, series, difference)

    def scale(self, rows: BoolArray | None = None) -> FloatArray:
        """The MASE scale of every series (indexed by series code): the mean of its
        differences over `rows` (a row mask; default all rows), in units of the target per day.
        NaN for a series without a difference among them."""
        usable = ~np.isnan(self.difference)
        if rows is not None:
            usable &= rows
        n_series = len(self.series_keys)
        totals = np.bincount(
            self.series[usable], weights=self.difference[usable], minlength=n_series
        )
        counts = np.bincount(self.series[usable], minlength=n_series)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, totals / counts, np.nan)


def seasonal_naive_scale(
    history: pd.DataFrame,
    keys: Sequence[str] = SERIES_KEY,
    target: str = TARGET,
    season_days: int = SEASON_DAYS,
) -> pd.DataFrame:
    """The MASE scale of every series in `history`: `mean |y(t) - y(t - season_days)|`.

    Inputs: a long frame with `keys`, `date` (datetime64, one row per series and day) and
    `target`. Only pairs of days exactly `season_days` apart that both have a row count.
    Output: one row per series, columns `*keys` and `mase_scale` (units of `target` per day);
    NaN for a series without any such pair (see `SeasonalDifferences`).
    """
    differences = SeasonalDifferences.of(history, keys, target, season_days)
    return differences.series_keys.assign(**{MASE_SCALE: differences.scale()})


def metrics_by(frame: pd.DataFrame, keys: Sequence[str] = ()) -> pd.DataFrame:
    """All metrics per group of `frame`, in one vectorised `groupby`.

    Inputs: a long frame with `actual`, `forecast` (units sold) and `mase_scale` (each row's
    series scale, `seasonal_naive_scale`), plus the `keys` columns. `keys=()` scores the whole
    frame as one group.

    Output: one row per group (sorted by `keys`), columns `*keys` then `METRIC_COLUMNS`:
    - `wape = sum|a - f| / sum|a|`, `bias = sum(f - a) / sum(a)` (positive = over-forecast),
      `mae = mean|a - f|` and `rmse = sqrt(mean((a - f)^2))` in units sold, `n` = rows,
      `n_demand` = rows with demand (`a > 0`).
    - `mase = mean(|a - f| / mase_scale)` over the group's rows whose scale is finite and > 0:
      for one series this is `mae / scale`; for a group of series with equal row counts it is
      the mean of their MASEs. Rows of series with scale 0 or NaN (constant or too-short history)
      are left out of `mase` only; `mase` is NaN when no row has a usable scale.
    - `mape = mean(|a - f| / a)` and `stockout_miss_rate = share of f < STOCKOUT_FORECAST_UNITS`
      over the group's `n_demand` rows with `a > 0` (NaN when there is none: all actuals 0);
      `overstock_rate` = share of the `n` rows with `f - a > max(OVERSTOCK_SHARE * a,
      OVERSTOCK_MIN_UNITS)` (see `mape`, `stockout_miss_rate`, `overstock_rate`).
    - A NaN actual or forecast in a group makes all of that group's ratio metrics NaN.
    """
    keys = list(keys)
    missing = sorted({ACTUAL, FORECAST, MASE_SCALE, *keys} - set(frame.columns))
    if missing:
        raise ValueError(f"metrics_by needs the columns {missing}; add them to the frame.")
    a = frame[ACTUAL].to_numpy(dtype=np.float64)
    f = frame[FORECAST].to_numpy(dtype=np.float64)
    scale = frame[MASE_SCALE].to_numpy(dtype=np.float64)
    error = f - a
    usable_scale = np.isfinite(scale) & (scale > 0)
    scaled = np.abs(error) / np.where(usable_scale, scale, 1.0)
    parts = pd.DataFrame(
        {
            "abs_error": np.abs(error),
            "squared_error": error**2,
            "error": error,
            "abs_actual": np.abs(a),
            "actual_sum": a,
            "scaled_error": np.where(usable_scale, scaled, 0.0),
            "scaled_n": usable_scale.astype(np.int64),
            "abs_pct_error": _absolute_percentage_error(a, f),
            "demand": _has_demand(a).astype(np.int64),
            "stockout_miss": _stockout_miss(a, f).astype(np.int64),
            "overstock": _overstock(a, f).astype(np.int64),
            "invalid": np.isnan(error).astype(np.int64),
            "n": np.ones(len(frame), dtype=np.int64),
        },
        index=frame.index,
    )
    if keys:
        sums = pd.concat([frame[keys], parts], axis=1).groupby(keys, sort=True).sum()
    else:
        sums = parts.sum().to_frame().T
    n = sums["n"].to_numpy(dtype=np.float64)
    demand = sums["demand"].to_numpy(dtype=np.float64)
    valid = sums["invalid"].to_numpy() == 0

    def safe_divide(numerator: str, denominator: npt.NDArray[np.float64]) -> FloatArray:
        top = sums[numerator].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(valid & (denominator != 0), top / denominator, np.nan)

    result = pd.DataFrame(
        {
            "wape": safe_divide("abs_error", sums["abs_actual"].to_numpy(dtype=np.float64)),
            "mae": safe_divide("abs_error", n),
            "rmse": np.sqrt(safe_divide("squared_error", n)),
            "bias": safe_divide("error", sums["actual_sum"].to_numpy(dtype=np.float64)),
            "mase": safe_divide("scaled_error", sums["scaled_n"].to_numpy(dtype=np.float64)),
            "mape": safe_divide("abs_pct_error", demand),
            "stockout_miss_rate": safe_divide("stockout_miss", demand),
            "overstock_rate": safe_divide("overstock", n),
            "n": sums["n"].to_numpy(dtype=np.int64),
            "n_demand": sums["demand"].to_numpy(dtype=np.int64),
        },
        index=sums.index,
    )
    return result.reset_index() if keys else result.reset_index(drop=True)


def interval_coverage(actual: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Share of actuals inside their interval, `lower <= a <= upper` (bounds included), in [0, 1].

    A NaN bound covers nothing (a missing interval counts as a miss). NaN for empty input.
    """
    a, lo = _paired(actual, lower)
    _, hi = _paired(actual, upper)
    if a.size == 0:
        return float("nan")
    return float(np.mean((lo <= a) & (a <= hi)))
