"""Forecast accuracy metrics, on arrays and on long frames grouped by any keys.

Units and conventions (all functions):
- `actual` and `forecast` are units sold per (series, day); the error is `forecast - actual`.
- `wape`, `bias` and `mase` are unitless ratios (0.231 means 23.1 %); `mae` and `rmse` are in
  units sold per series-day; `interval_coverage` is a share in [0, 1].
- A NaN in `actual` or `forecast` propagates: the metric is NaN, so a missing forecast never makes
  a model look better. A ratio whose denominator is 0 is NaN (no warning, no inf).
- An empty input gives NaN.

`metrics_by` computes all of them per group of a long frame in one `groupby`, so scoring every
(candidate, store, product) of a backtest is a handful of vectorised sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ACTUAL = "actual"
FORECAST = "forecast"
MASE_SCALE = "mase_scale"
"""Column of `metrics_by`'s input with each row's series scale (see `seasonal_naive_scale`)."""
METRIC_COLUMNS: tuple[str, ...] = ("wape", "mae", "rmse", "bias", "mase", "n")
"""Columns `metrics_by` returns after the group keys."""

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

    Output: one row per group (sorted by `keys`), columns `*keys, wape, mae, rmse, bias, mase, n`:
    - `wape = sum|a - f| / sum|a|`, `bias = sum(f - a) / sum(a)` (positive = over-forecast),
      `mae = mean|a - f|` and `rmse = sqrt(mean((a - f)^2))` in units sold, `n` = rows.
    - `mase = mean(|a - f| / mase_scale)` over the group's rows whose scale is finite and > 0:
      for one series this is `mae / scale`; for a group of series with equal row counts it is
      the mean of their MASEs. Rows of series with scale 0 or NaN (constant or too-short history)
      are left out of `mase` only; `mase` is NaN when no row has a usable scale.
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
            "n": sums["n"].to_numpy(dtype=np.int64),
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
