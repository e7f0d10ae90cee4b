"""Model features for recursive daily demand forecasting, computed on dense series x day matrices.

Inputs: long daily sales (`date` datetime64 at midnight, `store_id`, `product_id` str,
`units_sold` int >= 0, `price` > 0 in currency units per item, `on_promotion` bool). A series is
one (store_id, product_id); its *active span* runs from its first to its last row; outside the
span the series does not exist (NaN in the matrices, no training rows).

Missing is not zero (decision 0016). A *delivered* day is a day the frame has at least one row
on: in the lake, a day with a `raw_sales` partition, since the landing contract refuses a file
without rows (`not_empty`), so "no row at all" and "no partition" are the same days. Inside a
series' span:

- on a delivered day, a series without a row sold 0 units, at the last known price, without
  promotion (sparse feeds omit zero rows);
- a day between the frame's first and last date without any row (rejected by the contract, not
  delivered yet, deleted) is *missing*: unknown for every series. Its units are NaN, it is
  never a training target, and the features that read it treat it as unknown: a lag that
  lands on it is NaN, and rolling statistics are taken over the window's other days (NaN when
  none is left). LightGBM takes NaN features as missing values.

The design is recursive forecasting (as in Nixtla mlforecast): the features of target day `t` use
`units_sold` only from days `<= t - min_lag` (`min_lag = min(FeatureSpec.lags)`), while the
price, promotion and calendar of day `t` itself are known covariates (prices and promotions are
planned in advance). A model trained on them forecasts day `t + 1` from the actuals up to `t`,
writes the forecast into the units matrix as if it were an actual and moves on one day.

Features of series `s` for target day `t`:

- `lag_k`: units sold on day `t - k` (NaN before the span and on a missing day).
- `rolling_mean_w`, `rolling_std_w`: mean and sample std (ddof 1) of units sold on days
  `t - min_lag - w + 1 .. t - min_lag`, i.e. a window of the lag-`min_lag` series, over the days
  of that window inside the span that are not missing (NaN with none; the std needs two).
- `day_of_week` (0 = Monday), `day_of_month`, `month`, `week_of_year` (ISO): calendar of `t`.
- `is_holiday`, `days_to_holiday`, `days_from_holiday`: public holidays of
  `FeatureSpec.holiday_country` (`holidays` package); distances in days, 0 on a holiday, capped
  at `HOLIDAY_DISTANCE_CAP_DAYS`.
- `price`: the price of day `t` (currency units per item); `price_ratio`: that price over the
  mean price of days `t - price_window + 1 .. t` in the span; `is_discount`: 1 when
  `price_ratio < 1 - discount_threshold`.
- `on_promotion`: 1 when promoted on day `t`.
- `store_id`, `product_id`: the series key as pandas categoricals.

Numeric features are float32 (LightGBM bins them; half the memory of float64), calendar values
int16 and flags int8. Everything is vectorised on `SalesPanel` matrices: window statistics are
differences of cumulative sums along the day axis, each feature is computed for all series and
the requested days at once and the wanted cells are picked with one boolean mask, so there is no
Python loop over series or days (10,000 series x 730 days take a few seconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecastops.domain.metrics import SERIES_KEY, TARGET

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
DayLike = date | str | pd.Timestamp
"""A calendar day as `pd.Timestamp` accepts it (`date(2024, 3, 1)`, `"2024-03-01"`)."""

FEATURES_SCHEMA_VERSION = 1
"""Bump when the meaning of a feature changes without a `FeatureSpec` change (it is hashed into
`feature_set_version`, so models trained on the old meaning are told apart)."""

DATE = "date"
PRICE = "price"
PROMOTION = "on_promotion"
SALES_COLUMNS: tuple[str, ...] = (DATE, *SERIES_KEY, TARGET, PRICE, PROMOTION)
"""The long sales columns the features read."""
FUTURE_COLUMNS: tuple[str, ...] = (DATE, *SERIES_KEY, PRICE, PROMOTION)
"""The known covariates of the days to forecast."""

CALENDAR_COLUMNS: tuple[str, ...] = (
    "day_of_week",
    "day_of_month",
    "month",
    "week_of_year",
    "is_holiday",
    "days_to_holiday",
    "days_from_holiday",
)
PRICE_COLUMNS: tuple[str, ...] = (PRICE, "price_ratio", "is_discount")
CATEGORICAL_COLUMNS: tuple[str, ...] = SERIES_KEY

HOLIDAY_DISTANCE_CAP_DAYS = 30
"""Days to/from the nearest holiday are capped here: farther holidays do not move demand, and the
cap keeps the value independent of holidays outside the loaded years."""
_NO_HOLIDAY = 10**9
"""Sentinel day number beyond any date, so holiday look-ups never run off the calendar."""


@dataclass(frozen=True)
class FeatureSpec:
    """The feature definitions (see the module docstring for each feature).

    `lags`: days back of the lag features (>= 1; the smallest is the recursion's `min_lag`).
    `windows`: lengths in days of the rolling mean/std windows (>= 2), which end at
    `t - min_lag`. `holiday_country`: ISO country code for the `holidays` package.
    `price_window`: days of the rolling mean price behind `price_ratio` (>= 1).
    `discount_threshold`: share below that mean price that counts as a discount, in (0, 1).
    Lags and windows are stored sorted; `ValueError` names a bad field.
    """

    lags: tuple[int, ...] = (7, 14, 28)
    windows: tuple[int, ...] = (7, 28)
    holiday_country: str = "US"
    price_window: int = 28
    discount_threshold: float = 0.05

    def __post_init__(self) -> None:
        for field_name, smallest in (("lags", 1), ("windows", 2)):
            values = tuple(int(value) for value in getattr(self, field_name))
            if not values or min(values) < smallest or len(set(values)) != len(values):
                raise ValueError(
                    f"FeatureSpec.{field_name} must be distinct whole days >= {smallest} "
                    f"(at least one), got {getattr(self, field_name)!r}."
                )
            object.__setattr__(self, field_name, tuple(sorted(values)))
        if self.price_window < 1:
            raise ValueError(f"FeatureSpec.price_window must be >= 1 day, got {self.price_window}.")
        if not 0 < self.discount_threshold < 1:
            raise ValueError(
                "FeatureSpec.discount_threshold must be a share in (0, 1), "
                f"got {self.discount_threshold}."
            )

    @property
    def min_lag(self) -> int:
        """The recursion step: features of day `t` see units sold up to `t - min_lag`."""
        return self.lags[0]

    @property
    def lookback_days(self) -> int:
        """Days before a target day that its features read (lags, rolling and price windows)."""
        return max(self.lags[-1], self.min_lag + self.windows[-1] - 1, self.price_window - 1)

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready values (inverse: `FeatureSpec.from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FeatureSpec:
        """The spec written by `to_dict` (JSON lists become tuples)."""
        return cls(
            lags=tuple(values["lags"]),
            windows=tuple(values["windows"]),
            holiday_country=str(values["holiday_country"]),
            price_window=int(values["price_window"]),
            discount_threshold=float(values["discount_threshold"]),
        )


def feature_set_version(spec: FeatureSpec) -> str:
    """A 12-hex-digit hash of the feature definitions: `spec` and `FEATURES_SCHEMA_VERSION`.

    Equal specs give equal versions across processes and machines; any change gives a new one.
    """
    payload = json.dumps(
        {"schema": FEATURES_SCHEMA_VERSION, "spec": spec.to_dict()}, sort_keys=True
    ).encode()
    return hashlib.sha256(payload).hexdigest()[:12]


def _lag_columns(spec: FeatureSpec) -> list[str]:
    return [f"lag_{lag}" for lag in spec.lags]


def _rolling_columns(spec: FeatureSpec) -> list[str]:
    return [f"rolling_{stat}_{window}" for window in spec.windows for stat in ("mean", "std")]


def feature_columns(spec: FeatureSpec) -> list[str]:
    """The model's input columns, in the order the model sees them."""
    return [
        *_lag_columns(spec),
        *_rolling_columns(spec),
        *CALENDAR_COLUMNS,
        *PRICE_COLUMNS,
        PROMOTION,
        *CATEGORICAL_COLUMNS,
    ]


def categorical_columns(spec: FeatureSpec) -> list[str]:
    """The feature columns that are pandas categoricals (the series key)."""
    del spec  # the same for every spec; the argument keeps the feature API uniform
    return list(CATEGORICAL_COLUMNS)


def check_columns(frame: pd.DataFrame, required: tuple[str, ...], name: str) -> None:
    """Raise `ValueError` naming the columns of `required` that `frame` (called `name`) lacks."""
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing the columns {missing}; it needs {list(required)}.")


def _forward_fill(values: FloatArray) -> FloatArray:
    """Each NaN replaced by the last non-NaN value to its left in the same row (else NaN)."""
    columns = np.arange(values.shape[1])
    source = np.where(np.isnan(values), 0, columns)
    np.maximum.accumulate(source, axis=1, out=source)
    return np.take_along_axis(values, source, axis=1)


def _prefix_sums(values: FloatArray, squares: bool) -> tuple[FloatArray, ...]:
    """Cumulative (count, sum[, sum of squares]) of the non-NaN values of each row.

    Each has one more column than `values`, starting at 0, so the statistics of columns
    `a .. b - 1` are `prefix[:, b] - prefix[:, a]`.
    """
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    parts = [valid.astype(np.float64), filled] + ([filled * filled] if squares else [])
    sums = []
    for part in parts:
        prefix = np.zeros((part.shape[0], part.shape[1] + 1))
        np.cumsum(part, axis=1, out=prefix[:, 1:])
        sums.append(prefix)
    return tuple(sums)


def _window(prefix: FloatArray, stop: IntArray, length: int) -> FloatArray:
    """Per row and entry of `stop`: the prefix-sum difference over columns
    `stop - length .. stop - 1` (clipped to the panel)."""
    stop = np.clip(stop, 0, prefix.shape[1] - 1)
    start = np.maximum(stop - length, 0)
    return np.take(prefix, stop, axis=1) - np.take(prefix, start, axis=1)


def _shifted(values: FloatArray, columns: IntArray) -> FloatArray:
    """`values[:, columns]`, NaN where a column is before the panel."""
    taken = np.take(values, np.maximum(columns, 0), axis=1)
    taken[:, columns < 0] = np.nan
    return taken


@cache
def _holiday_day_numbers(country: str, first_year: int, last_year: int) -> IntArray:
    """Sorted holiday dates (days since 1970-01-01) of `country` in the years, with sentinels."""
    import holidays  # loaded only when features are computed

    try:
        calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    except NotImplementedError as error:
        raise ValueError(
            f"FeatureSpec.holiday_country {country!r} is not known to the holidays package; "
            "use an ISO 3166 country code such as 'US'."
        ) from error
    days = np.array(sorted(calendar), dtype="datetime64[D]").astype(np.int64)
    return np.concatenate(([-_NO_HOLIDAY], days, [_NO_HOLIDAY]))


def _calendar(days: pd.DatetimeIndex, country: str) -> dict[str, npt.NDArray[Any]]:
    """The calendar features of each day in `days` (one value per day)."""
    day_numbers = days.to_numpy(dtype="datetime64[D]").astype(np.int64)
    holiday = _holiday_day_numbers(country, int(days.year.min()) - 1, int(days.year.max()) + 1)
    following = holiday[np.searchsorted(holiday, day_numbers, side="left")]
    preceding = holiday[np.searchsorted(holiday, day_numbers, side="right") - 1]
    return {
        "day_of_week": days.dayofweek.to_numpy(dtype=np.int16),
        "day_of_month": days.day.to_numpy(dtype=np.int16),
        "month": days.month.to_numpy(dtype=np.int16),
        "week_of_year": days.isocalendar().week.to_numpy(dtype=np.int16),
        "is_holiday": (following == day_numbers).astype(np.int8),
        "days_to_holiday": np.minimum(following - day_numbers, HOLIDAY_DISTANCE_CAP_DAYS).astype(
            np.int16
        ),
        "days_from_holiday": np.minimum(day_numbers - preceding, HOLIDAY_DISTANCE_CAP_DAYS).astype(
            np.int16
        ),
    }


def _series_codes(frame: pd.DataFrame) -> tuple[IntArray, pd.DataFrame]:
    """Per row of `frame`, the code of its series, and the series keys (one row per code,
    columns `SERIES_KEY` as str, sorted)."""
    store_codes, stores = pd.factorize(frame["store_id"], sort=True)
    product_codes, products = pd.factorize(frame["product_id"], sort=True)
    pair = store_codes.astype(np.int64) * len(products) + product_codes
    series, pairs = pd.factorize(pair, sort=True)
    store_of, product_of = np.divmod(pairs, len(products))
    keys = pd.DataFrame(
        {
            "store_id": np.asarray(stores, dtype=object)[store_of].astype(str),
            "product_id": np.asarray(products, dtype=object)[product_of].astype(str),
        }
    )
    return series.astype(np.int64), keys


@dataclass(frozen=True, eq=False)
class SalesPanel:
    """Sales as dense (series x day) matrices: row `i` is series `series_keys.iloc[i]`, column
    `j` is day `days[j]`.

    - `series_keys`: one row per series, columns `store_id`, `product_id` (str), sorted.
    - `days`: consecutive calendar days (datetime64 midnight), one per column.
    - `units`: units sold; NaN outside the series' active span and on missing days; 0 on
      delivered span days without a row. A recursive forecast writes its predictions into the
      columns after the cutoff.
    - `price`: currency units per item, carried forward over span days without a row; NaN
      outside the span. `promo`: promoted that day (False on days without a row).
    - `first`, `last`: column of each series' first and last active day; `first` is negative
      when the span starts before the panel's first day (a panel cut from a longer history).
    - `missing`: per day column, True when no data was delivered for that day (no row for
      any series): unknown for every series, never a training target. False after the cutoff
      of a forecast panel (those days are forecast, not missing).
    """

    series_keys: pd.DataFrame
    days: pd.DatetimeIndex
    units: FloatArray
    price: FloatArray
    promo: BoolArray
    first: IntArray
    last: IntArray
    missing: BoolArray

    @property
    def missing_days(self) -> pd.DatetimeIndex:
        """The panel's missing days (see `missing`)."""
        return self.days[self.missing]

    @property
    def n_series(self) -> int:
        return len(self.series_keys)

    @property
    def n_days(self) -> int:
        return len(self.days)

    @classmethod
    def from_sales(cls, sales: pd.DataFrame) -> SalesPanel:
        """The panel of `sales` (columns `SALES_COLUMNS`), over its first .. last date; a day
        in between without any row is missing (see the module docstring).

        Raises `ValueError` when columns are missing, `sales` is empty or a (series, day) has
        more than one row.
        """
        check_columns(sales, SALES_COLUMNS, "sales")
        if sales.empty:
            raise ValueError("sales is empty; pass at least one day of sales.")
        series, keys = _series_codes(sales)
        day_numbers = sales[DATE].to_numpy(dtype="datetime64[D]").astype(np.int64)
        first_day = int(day_numbers.min())
        day = day_numbers - first_day
        n_series, n_days = len(keys), int(day.max()) + 1
        cell = series.astype(np.int64) * n_days + day
        if np.bincount(cell, minlength=n_series * n_days).max() > 1:
            raise ValueError(
                "sales has more than one row for some (date, store_id, product_id); "
                "deduplicate it (the landing contract allows one row per series and day)."
            )
        units = np.full((n_series, n_days), np.nan)
        price = np.full((n_series, n_days), np.nan)
        promo = np.zeros((n_series, n_days), dtype=np.bool_)
        units.ravel()[cell] = sales[TARGET].to_numpy(dtype=np.float64)
        price.ravel()[cell] = sales[PRICE].to_numpy(dtype=np.float64)
        promo.ravel()[cell] = sales[PROMOTION].to_numpy(dtype=np.bool_)
        first = np.full(n_series, n_days, dtype=np.int64)
        last = np.full(n_series, -1, dtype=np.int64)
        np.minimum.at(first, series, day)
        np.maximum.at(last, series, day)
        columns = np.arange(n_days)
        in_span = (columns >= first[:, None]) & (columns <= last[:, None])
        missing = np.bincount(day, minlength=n_days) == 0
        units[in_span & np.isnan(units) & ~missing[None, :]] = 0.0
        price = _forward_fill(price)
        price[~in_span] = np.nan
        start = pd.Timestamp(np.datetime64(first_day, "D"))
        return cls(
            series_keys=keys,
            days=pd.date_range(start, periods=n_days, freq="D"),
            units=units,
            price=price,
            promo=promo,
            first=first,
            last=last,
            missing=missing,
        )

    def history_days(self, cutoff_column: int) -> IntArray:
        """Per series: days of its active span up to and including `cutoff_column` (>= 0)."""
        return np.clip(cutoff_column - self.first + 1, 0, None)

    def forecast_panel(
        self, future: pd.DataFrame, lookback_days: int
    ) -> tuple[SalesPanel, IntArray, IntArray]:
        """The panel a forecast from this panel's last day (the cutoff) runs on.

        `future`: rows (`FUTURE_COLUMNS`) of days after the cutoff. The result has one row per
        series of `future` and the columns of the last `lookback_days` days up to the cutoff
        (column `lookback_days - 1`) followed by every day up to the last future date. Each
        series' span runs to the end: its delivered history days without a row since its last
        row count as 0 units, missing history days stay missing (NaN, `missing` set); its
        future units are NaN (to be forecast); its price is the future row's,
        else the last known one carried forward; promotions come from `future` only. A series
        without history starts at its first future day.

        Returns `(panel, series, column)`: the panel and, per row of `future`, its series row
        and day column in that panel. Raises `ValueError` for missing columns or a future date
        on or before the cutoff.
        """
        check_columns(future, FUTURE_COLUMNS, "future")
        cutoff = self.days[-1]
        steps = (future[DATE] - cutoff).dt.days.to_numpy(dtype=np.int64)
        if len(steps) and steps.min() < 1:
            raise ValueError(
                f"future has dates on or before the history's last day {cutoff.date()}; "
                "pass only the days after the cutoff."
            )
        row_series, keys = _series_codes(future)
        known_at = pd.MultiIndex.from_frame(self.series_keys).get_indexer(
            pd.MultiIndex.from_frame(keys)
        )
        known = known_at >= 0
        source = known_at[known]
        horizon = int(steps.max()) if len(steps) else 0
        cutoff_column = lookback_days - 1
        n_series, n_days = len(keys), lookback_days + horizon
        row_column = (cutoff_column + steps).astype(np.int64)

        units = np.full((n_series, n_days), np.nan)
        price = np.full((n_series, n_days), np.nan)
        promo = np.zeros((n_series, n_days), dtype=np.bool_)
        offset = self.n_days - lookback_days
        copied = min(lookback_days, self.n_days)
        units[known, lookback_days - copied : lookback_days] = self.units[source, -copied:]
        price[known, lookback_days - copied : lookback_days] = self.price[source, -copied:]
        promo[known, lookback_days - copied : lookback_days] = self.promo[source, -copied:]

        first = np.full(n_series, n_days, dtype=np.int64)
        np.minimum.at(first, row_series, row_column)
        first[known] = self.first[source] - offset
        missing = np.zeros(n_days, dtype=np.bool_)
        missing[lookback_days - copied : lookback_days] = self.missing[-copied:]
        history = np.arange(lookback_days)
        in_history_span = known[:, None] & (history >= first[:, None])
        delivered_gap = in_history_span & np.isnan(units[:, :lookback_days])
        units[:, :lookback_days][delivered_gap & ~missing[None, :lookback_days]] = 0.0
        last_price = self.price[source, self.last[source]]
        cutoff_price = price[known, cutoff_column]
        price[known, cutoff_column] = np.where(np.isnan(cutoff_price), last_price, cutoff_price)
        price[row_series, row_column] = future[PRICE].to_numpy(dtype=np.float64)
        promo[row_series, row_column] = future[PROMOTION].to_numpy(dtype=np.bool_)
        price = _forward_fill(price)
        price[np.arange(n_days) < first[:, None]] = np.nan

        panel = SalesPanel(
            series_keys=keys,
            days=pd.date_range(cutoff - pd.Timedelta(days=cutoff_column), periods=n_days, freq="D"),
            units=units,
            price=price,
            promo=promo,
            first=first,
            last=np.full(n_series, n_days - 1, dtype=np.int64),
            missing=missing,
        )
        return panel, row_series, row_column


def _panel_categories(panel: SalesPanel) -> dict[str, list[str]]:
    """Per categorical column, the panel's distinct keys sorted: the categories of a training
    frame built on it (LightGBM stores them as `Booster.pandas_categorical`)."""
    return {key: sorted(set(panel.series_keys[key])) for key in CATEGORICAL_COLUMNS}


def _feature_values(
    panel: SalesPanel,
    spec: FeatureSpec,
    columns: IntArray,
    cells: BoolArray,
    categories: Mapping[str, list[str]],
) -> dict[str, npt.NDArray[Any]]:
    """The features of the panel cells selected by `cells` (a series x `columns` mask), in
    `feature_columns(spec)` order; each value is one entry per selected cell, series-major.
    A categorical column holds the index of the series key in `categories[column]`, -1 for a
    key not among them."""
    n_series = panel.n_series

    def selected(matrix: npt.NDArray[Any], dtype: type[np.generic]) -> npt.NDArray[Any]:
        return np.broadcast_to(matrix, cells.shape)[cells].astype(dtype)

    values: dict[str, npt.NDArray[Any]] = {}
    for lag, name in zip(spec.lags, _lag_columns(spec), strict=True):
        values[name] = selected(_shifted(panel.units, columns - lag), np.float32)

    count, total, squares = _prefix_sums(panel.units, squares=True)
    stop = columns - spec.min_lag + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        for window in spec.windows:
            n = _window(count, stop, window)
            sums = _window(total, stop, window)
            mean = np.where(n > 0, sums / n, np.nan)
            variance = (_window(squares, stop, window) - sums * mean) / (n - 1)
            std = np.where(n > 1, np.sqrt(np.maximum(variance, 0.0)), np.nan)
            values[f"rolling_mean_{window}"] = selected(mean, np.float32)
            values[f"rolling_std_{window}"] = selected(std, np.float32)

    for name, per_day in _calendar(panel.days[columns], spec.holiday_country).items():
        values[name] = selected(per_day[None, :], per_day.dtype.type)

    price_count, price_total = _prefix_sums(panel.price, squares=False)
    price = np.take(panel.price, columns, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_price = _window(price_total, columns + 1, spec.price_window) / _window(
            price_count, columns + 1, spec.price_window
        )
        ratio = price / mean_price
    values[PRICE] = selected(price, np.float32)
    values["price_ratio"] = selected(ratio, np.float32)
    values["is_discount"] = selected(ratio < 1.0 - spec.discount_threshold, np.int8)
    values[PROMOTION] = selected(np.take(panel.promo, columns, axis=1), np.int8)

    for key in CATEGORICAL_COLUMNS:
        codes = pd.Index(categories[key]).get_indexer(pd.Index(panel.series_keys[key]))
        values[key] = selected(codes.reshape(n_series, 1), np.int64)
    return values


def feature_matrix(
    panel: SalesPanel,
    spec: FeatureSpec,
    first_column: int,
    days: int,
    series: BoolArray,
    categories: Mapping[str, list[str]],
) -> npt.NDArray[np.float32]:
    """The features of days `first_column .. first_column + days - 1` for the panel's series
    rows where `series` is True, as one float32 matrix: columns `feature_columns(spec)`, rows
    series-major (each such series' days in order, series in panel order).

    Reads `panel.units` only up to `first_column + days - 1 - min_lag`, so once the days before
    `first_column` hold actuals or forecasts a recursive forecast can compute a block of up to
    `min_lag` days in one call: 4 calls for 28 days with `min_lag = 7`, not 28.

    This is what `lightgbm.Booster.predict` reads without pandas. A categorical column holds
    the index of the series key in `categories[column]` (the categories the model was trained
    on, `Booster.pandas_categorical`), NaN for a key it never saw: the mapping LightGBM applies
    to a pandas frame, so the prediction is the same, without building a DataFrame and
    LightGBM's pandas conversion on every step. Every value is exact in float32 (the numeric
    features are float32 already; calendar values and category codes are small integers).
    """
    columns = np.arange(first_column, first_column + days, dtype=np.int64)
    cells = np.broadcast_to(series[:, None], (panel.n_series, days))
    values = _feature_values(panel, spec, columns, cells, categories)
    matrix = np.empty((int(cells.sum()), len(values)), dtype=np.float32)
    for index, value in enumerate(values.values()):
        matrix[:, index] = value
    for key in CATEGORICAL_COLUMNS:
        index = feature_columns(spec).index(key)
        matrix[values[key] < 0, index] = np.nan
    return matrix


def _day_column(panel: SalesPanel, day: DayLike) -> int:
    return int((pd.Timestamp(day) - panel.days[0]).days)


def training_frame(
    panel: SalesPanel,
    spec: FeatureSpec,
    start: DayLike | None = None,
    end: DayLike | None = None,
    series: BoolArray | None = None,
) -> pd.DataFrame:
    """`build_training_frame` on a panel, optionally only for the series rows where `series`
    (a mask over `panel.series_keys`) is True."""
    first_column = 0 if start is None else max(_day_column(panel, start), 0)
    last_column = (
        panel.n_days - 1 if end is None else min(_day_column(panel, end), panel.n_days - 1)
    )
    columns = np.arange(first_column, max(last_column + 1, first_column))
    cells = (columns >= panel.first[:, None] + spec.lags[-1]) & (columns <= panel.last[:, None])
    cells &= ~panel.missing[columns][None, :]  # a missing day is never a training target
    if series is not None:
        cells &= series[:, None]
    categories = _panel_categories(panel)
    values: dict[str, Any] = _feature_values(panel, spec, columns, cells, categories)
    for key in CATEGORICAL_COLUMNS:
        values[key] = pd.Categorical.from_codes(values[key], pd.Index(categories[key]))
    frame = {
        DATE: np.broadcast_to(panel.days[columns].to_numpy()[None, :], cells.shape)[cells],
        **{key: values.pop(key) for key in CATEGORICAL_COLUMNS},
        **values,
        TARGET: np.take(panel.units, columns, axis=1)[cells].astype(np.int64),
    }
    return pd.DataFrame(frame)


def build_training_frame(
    sales: pd.DataFrame,
    spec: FeatureSpec,
    start: DayLike | None = None,
    end: DayLike | None = None,
) -> pd.DataFrame:
    """Training rows of `sales` (long daily sales, columns `SALES_COLUMNS`).

    One row per (series, delivered day) inside the series' active span (on a delivered day a
    series without a row sold 0 units; a missing day, without any row, has no training rows and
    its units are NaN in the features that read it), for days `start .. end` (inclusive;
    anything `pd.Timestamp` accepts; None = unbounded), sorted by store_id, product_id, date.
    Rows whose longest lag falls before the series' first day are dropped. Features only read
    history before `start` as lags.

    Columns: `date`, `store_id`, `product_id` (categoricals, also features), the other
    `feature_columns(spec)` and the target `units_sold` (int64, units sold that day).
    """
    return training_frame(SalesPanel.from_sales(sales), spec, start, end)


FEATURE_HASH_HEX_DIGITS = 16
"""Length of a `feature_hashes` value: the first 64 bits of the SHA-256, in hex."""


def numeric_feature_columns(spec: FeatureSpec) -> list[str]:
    """`feature_columns(spec)` without the categorical series key, in the model's order: the
    feature values of one row beside its `store_id` and `product_id`."""
    return [name for name in feature_columns(spec) if name not in CATEGORICAL_COLUMNS]


def feature_hashes(features: pd.DataFrame, spec: FeatureSpec) -> pd.Series:
    """Per row of `features` (columns `store_id`, `product_id` and `numeric_feature_columns(spec)`),
    a hash of the feature vector the model read: `FEATURE_HASH_HEX_DIGITS` hex digits of the
    SHA-256 of one canonical byte string, returned as str on `features`' index.

    The bytes are the series key as UTF-8 (`store_id`, 0x1F, `product_id`, 0x1E) followed by the
    numeric features in `numeric_feature_columns(spec)` order, each as an IEEE-754 float64 in
    big-endian order, with every NaN written as the one quiet NaN and -0.0 as 0.0. The values
    are float32 in the model; float32 -> float64 is exact, so a row read back from Parquet,
    or recomputed, hashes the same. SHA-256 over an explicit byte layout is chosen over
    `pandas.util.hash_pandas_object`, whose algorithm belongs to pandas (it may change between
    pandas versions) and hashes raw NaN bit patterns: this hash depends only on the values,
    not on the pandas, numpy or CPU it runs on. Any change of a feature value (or of the
    series) changes the hash. A row with a NaN feature hashes like any other (NaN is a value
    the model reads as missing)."""
    import hashlib

    numeric = numeric_feature_columns(spec)
    check_columns(features, (*SERIES_KEY, *numeric), "features")
    values = features[numeric].to_numpy(dtype=np.float64)
    canonical = np.where(np.isnan(values), np.nan, values + 0.0)  # one NaN; -0.0 -> 0.0
    rows = np.ascontiguousarray(canonical.astype(">f8")).view(np.uint8)
    rows = rows.reshape(len(features), -1)
    keys = features["store_id"].astype(str) + "\x1f" + features["product_id"].astype(str) + "\x1e"
    digits = [
        hashlib.sha256(key.encode() + row.tobytes()).hexdigest()[:FEATURE_HASH_HEX_DIGITS]
        for key, row in zip(keys, rows, strict=True)
    ]
    return pd.Series(digits, index=features.index, dtype=object)
