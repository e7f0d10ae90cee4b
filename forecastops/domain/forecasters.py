"""Forecasters of daily units sold per series, all with one small API.

- `fit(history)` trains on long sales rows up to the cutoff (the history's last date) and
  returns the fitted forecaster.
- `predict(history, future)` gets the actuals up to the cutoff (may be the frame it was fitted
  on) and `future`, rows `(date, store_id, product_id, price, on_promotion)` of days
  `cutoff + 1 .. cutoff + h`, and returns `future` (same index, same row order) with a column
  `forecast`: expected units sold that day, a float >= 0.

Sales frames hold `date` (datetime64, midnight), `store_id`, `product_id`, `units_sold`,
`price`, `on_promotion`; inside a series' active span a delivered day without a row counts as
0 units, and a day without any row (no data delivered) is missing: unknown, never 0 (see
`forecastops.domain.features`, decision 0016). A series in `future` whose last history row is
before the cutoff is taken to have sold 0 units on the delivered days since; a series absent
from the history is forecast 0.

| name | forecaster |
|---|---|
| `seasonal_naive` | `SeasonalNaive(7)`: the last week before the cutoff, repeated |
| `moving_average_28` | `MovingAverage(28)`: the mean of the last 28 days, flat |
| `lightgbm_tweedie`, `lightgbm_poisson` | `LightGBMForecaster`: one global model, recursive |

LightGBM is imported only inside the functions that train, predict or load a model, so importing
this module stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import numpy as np
import pandas as pd

from forecastops.domain.features import (
    DATE,
    FUTURE_COLUMNS,
    PRICE,
    PROMOTION,
    SALES_COLUMNS,
    BoolArray,
    DayLike,
    FeatureSpec,
    FloatArray,
    IntArray,
    SalesPanel,
    categorical_columns,
    check_columns,
    feature_columns,
    feature_hashes,
    feature_matrix,
    feature_set_version,
    numeric_feature_columns,
    training_frame,
)
from forecastops.domain.metrics import FORECAST, SERIES_KEY, TARGET

if TYPE_CHECKING:
    import lightgbm

SEASON_DAYS = 7
"""The weekly season of `SeasonalNaive` and of the LightGBM fallback."""
MOVING_AVERAGE_DAYS = 28
"""The window of the `moving_average_28` candidate."""
MIN_HISTORY_DAYS = 28
"""A series needs this many days of active span up to the cutoff to be trained on and forecast
by LightGBM; shorter ones get the seasonal-naive fallback."""
ACTIVE_LOOKBACK_DAYS = 7
"""`future_frame` forecasts the series with a row in the last this-many days up to the cutoff
(the quality report's "vanished series" window)."""

SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = f"moving_average_{MOVING_AVERAGE_DAYS}"
LIGHTGBM_TWEEDIE = "lightgbm_tweedie"
LIGHTGBM_POISSON = "lightgbm_poisson"
CANDIDATE_NAMES: tuple[str, ...] = (
    SEASONAL_NAIVE,
    MOVING_AVERAGE,
    LIGHTGBM_TWEEDIE,
    LIGHTGBM_POISSON,
)
"""The names `make_forecaster` knows, baselines first."""

Objective = Literal["tweedie", "poisson"]
OBJECTIVES: tuple[Objective, ...] = get_args(Objective)

LIGHTGBM_THREADS = 1
"""Fixed thread count for training and prediction: with `deterministic`, `force_row_wise` and the
seed, the same data gives a bit-identical model and forecast. One thread, because LightGBM's
OpenMP threads wait on each other at every split: on a shared 2-core host a second thread cut a
2,000-series fit from 4.8 s to 2.7 s when the host was idle but stretched it to 7-17 s whenever
another process held a core (a 200-row test fit went from 0.1 s to 17 s)."""
LIGHTGBM_SEED = 20240601
DEFAULT_LIGHTGBM_PARAMS: Mapping[str, Any] = MappingProxyType(
    {
        "num_iterations": 300,
        "learning_rate": 0.05,
        "num_leaves": 63,
        "min_data_in_leaf": 20,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": LIGHTGBM_THREADS,
        "seed": LIGHTGBM_SEED,
        "verbosity": -1,
    }
)
"""LightGBM parameters before `LightGBMForecaster(params=...)` overrides; the objective comes
from `LightGBMForecaster.objective`."""
SPEC_SUFFIX = ".spec.json"
"""`LightGBMForecaster.save("model.txt")` writes the booster there and its spec to
`model.spec.json`."""


CONFIGURATION_HASH_HEX_DIGITS = 12
"""Length of `configuration_hash`."""


def configuration_hash(configuration: Mapping[str, Any]) -> str:
    """`CONFIGURATION_HASH_HEX_DIGITS` hex digits of the SHA-256 of `configuration` as JSON
    with sorted keys: equal configurations give equal hashes on every machine."""
    payload = json.dumps(dict(configuration), sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:CONFIGURATION_HASH_HEX_DIGITS]


@dataclass(frozen=True, eq=False)
class TracedForecast:
    """A forecast with what it was computed from (`LightGBMForecaster.predict_traced`).

    - `forecast`: `future` with the `forecast` column, as `predict` returns it.
    - `feature_hash`: per row of `forecast` (same index), `feature_hashes` of the feature
      vector the model read for it; None for a row the seasonal-naive fallback forecast (a
      series with less than `MIN_HISTORY_DAYS` of history: no feature vector was read).
    - `features`: the feature vectors of the model's rows: `date`, `store_id`, `product_id`,
      `feature_hash`, then `numeric_feature_columns(spec)` (float32, as the model read them).
    - `configuration`: `objective`, `window_days` and `feature_set_version` of the model.
    """

    forecast: pd.DataFrame
    feature_hash: pd.Series
    features: pd.DataFrame
    configuration: Mapping[str, Any]


class Forecaster(Protocol):
    """A forecaster (see the module docstring for the contract of `fit` and `predict`)."""

    name: str

    def fit(self, history: pd.DataFrame) -> Forecaster: ...

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame: ...


def _forecast_panel(
    history: pd.DataFrame, future: pd.DataFrame, lookback_days: int
) -> tuple[SalesPanel, IntArray, IntArray]:
    """The panel of `future`'s series (cutoff at column `lookback_days - 1`) and, per future
    row, its series row and day column (see `SalesPanel.forecast_panel`)."""
    return SalesPanel.from_sales(history).forecast_panel(future, lookback_days)


def _with_forecast(future: pd.DataFrame, forecast: FloatArray) -> pd.DataFrame:
    return future.assign(**{FORECAST: np.maximum(forecast, 0.0).astype(np.float64)})


def _moving_average(panel: SalesPanel, cutoff_column: int, window: int) -> FloatArray:
    """Per series row: mean units sold per day over its known span days (not missing) among the
    `window` days up to the cutoff; 0 for a series without any."""
    recent = panel.units[:, max(cutoff_column - window + 1, 0) : cutoff_column + 1]
    count = np.sum(~np.isnan(recent), axis=1)
    return np.nansum(recent, axis=1) / np.maximum(count, 1)


def _seasonal_naive(
    panel: SalesPanel, cutoff_column: int, series: IntArray, column: IntArray, season: int
) -> FloatArray:
    """Per cell `(series[i], column[i])` after the cutoff: units sold on the same day of the
    last `season` days up to the cutoff (day `cutoff - season + 1 + (h - 1) % season` for
    horizon step `h`). A series with fewer than `season` days of history, and a cell whose
    source day is missing (no data delivered), gets the mean of the known days of the last
    `season`; a series without any gets 0. Needs `season` panel days up to the cutoff."""
    source = cutoff_column - season + 1 + (column - cutoff_column - 1) % season
    enough = panel.history_days(cutoff_column)[series] >= season
    repeated = panel.units[series, source]
    known = enough & ~np.isnan(repeated)
    return np.where(known, repeated, _moving_average(panel, cutoff_column, season)[series])


class SeasonalNaive:
    """Repeats the last `season` days before the cutoff: the forecast of day `cutoff + h` is the
    actual of day `cutoff - season + 1 + (h - 1) % season` (same weekday one week earlier for
    `season = 7`). Series with fewer than `season` days of history get the mean of the days they
    have; series without history get 0. `fit` learns nothing (the forecast is a function of the
    history passed to `predict`).
    """

    def __init__(self, season: int = SEASON_DAYS) -> None:
        if season < 1:
            raise ValueError(f"SeasonalNaive.season must be >= 1 day, got {season}.")
        self.season = season
        self.name = SEASONAL_NAIVE if season == SEASON_DAYS else f"seasonal_naive_{season}"

    def fit(self, history: pd.DataFrame) -> SeasonalNaive:
        return self

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        panel, series, column = _forecast_panel(history, future, self.season)
        forecast = _seasonal_naive(panel, self.season - 1, series, column, self.season)
        return _with_forecast(future, forecast)


class MovingAverage:
    """Forecasts every future day with the mean units sold per day over the last `window` days
    up to the cutoff (delivered days without a row inside the series' span count as 0, missing
    days are left out; a series younger than `window` days is averaged over the days it has;
    no history gives 0). `fit` learns nothing.
    """

    def __init__(self, window: int = MOVING_AVERAGE_DAYS) -> None:
        if window < 1:
            raise ValueError(f"MovingAverage.window must be >= 1 day, got {window}.")
        self.window = window
        self.name = f"moving_average_{window}"

    def fit(self, history: pd.DataFrame) -> MovingAverage:
        return self

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        panel, series, _ = _forecast_panel(history, future, self.window)
        forecast = _moving_average(panel, self.window - 1, self.window)[series]
        return _with_forecast(future, forecast)


def spec_path(model_path: Path) -> Path:
    """Where the spec JSON of the LightGBM model file `model_path` lives."""
    return model_path.with_suffix(SPEC_SUFFIX)


class LightGBMForecaster:
    """One global LightGBM model over all series, forecasting recursively.

    Training (`fit`): the features of `forecastops.domain.features` (`spec`) for every (series, day)
    of
    the history whose longest lag has history, target units sold, loss `objective` (`tweedie`
    or `poisson`, both log-link so forecasts are > 0). `window_days` limits the training target
    days to the last `window_days` days up to the cutoff; their lag and rolling features still
    read the history before. `params` override `DEFAULT_LIGHTGBM_PARAMS`; the defaults are
    deterministic (fixed seed and thread count, `deterministic`, `force_row_wise`), so the same
    history gives a bit-identical model and forecast.

    Prediction (`predict`): day `cutoff + 1` for all series at once, written into the dense
    units matrix, then day `cutoff + 2` from features that now include that forecast, and so on
    to the last future day; future prices and promotions come from `future`. Days are computed
    in blocks of `min_lag` (a day's features do not read the forecasts of the `min_lag - 1`
    days before it), which gives the same forecast as one day at a time in fewer calls.

    Short histories: a series with fewer than `MIN_HISTORY_DAYS` days of active span up to the
    cutoff is left out of training, and at prediction it gets the seasonal-naive forecast (the
    mean of its days if it has fewer than `SEASON_DAYS`); a series without history gets 0.

    Missing days (decision 0016): they are never training targets, and features that read them
    are NaN. At prediction, a missing day among the `spec.lookback_days` days up to the cutoff
    is first estimated, oldest first, exactly as a future day would be (from its own features,
    which read only known days or earlier estimates), and the forecast then reads the estimate.
    Leaving it NaN would not do: LightGBM sends a NaN it never saw in training (a missing day
    a few days before the cutoff is not in any training row's lags) down the branch of 0, which
    is the "missing read as 0 sold" this rule removes.
    """

    def __init__(
        self,
        objective: Objective = "tweedie",
        spec: FeatureSpec | None = None,
        params: Mapping[str, Any] | None = None,
        window_days: int | None = None,
    ) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(
                f"LightGBMForecaster.objective must be one of {OBJECTIVES}, got {objective!r}."
            )
        if params is not None and "objective" in params:
            raise ValueError("Set the loss with LightGBMForecaster(objective=...), not params.")
        if window_days is not None and window_days < 1:
            raise ValueError(
                f"LightGBMForecaster.window_days must be >= 1 day or None, got {window_days}."
            )
        self.objective: Objective = objective
        self.spec = spec if spec is not None else FeatureSpec()
        self.params: dict[str, Any] = dict(params or {})
        self.window_days = window_days
        self.name = f"lightgbm_{objective}"
        self.booster: lightgbm.Booster | None = None
        self._fitted = False

    @property
    def lightgbm_params(self) -> dict[str, Any]:
        """The parameters LightGBM trains with."""
        return {**DEFAULT_LIGHTGBM_PARAMS, "objective": self.objective, **self.params}

    def fit(self, history: pd.DataFrame) -> LightGBMForecaster:
        """Train on `history`; with no series of `MIN_HISTORY_DAYS` days there is no model and
        every forecast is the fallback."""
        import lightgbm

        panel = SalesPanel.from_sales(history)
        eligible = panel.history_days(panel.n_days - 1) >= MIN_HISTORY_DAYS
        start = None
        if self.window_days is not None:
            start = panel.days[-1] - pd.Timedelta(days=self.window_days - 1)
        frame = training_frame(panel, self.spec, start=start, series=eligible)
        self.booster = None
        if len(frame):
            dataset = lightgbm.Dataset(
                frame[feature_columns(self.spec)],
                label=frame[TARGET],
                categorical_feature=categorical_columns(self.spec),
            )
            # By default `train` ends by writing the model to text and parsing it back, only to
            # drop the training set: ~0.08 s CPU per fit whatever the data size (0.25 of the
            # 3.6 s a 3-fold 100-series backtest took). The kept booster predicts and saves
            # byte-identically; it holds the binned training set until the forecaster goes.
            self.booster = lightgbm.train(self.lightgbm_params, dataset, keep_training_booster=True)
        self._fitted = True
        return self

    @property
    def configuration(self) -> dict[str, Any]:
        """What the model is, beside its data: `objective`, `window_days` (None: all history)
        and `feature_set_version` (`configuration_hash` hashes it)."""
        return {
            "objective": self.objective,
            "window_days": self.window_days,
            "feature_set_version": feature_set_version(self.spec),
        }

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        """`future` with the recursive forecast (fallbacks as in the class docstring)."""
        return self._predict(history, future, trace=False).forecast

    def predict_traced(self, history: pd.DataFrame, future: pd.DataFrame) -> TracedForecast:
        """`predict`, with the feature vector each forecast row was computed from and its hash
        (`TracedForecast`). The vectors are the model's inputs exactly: the features of a
        forecast day read units only up to `min_lag` days earlier, which the recursion had
        filled (with actuals, estimates or forecasts) before that day's block was predicted
        and never changes afterwards, so one `feature_matrix` over the whole horizon at the end
        equals the blocks the booster read."""
        return self._predict(history, future, trace=True)

    def _predict(self, history: pd.DataFrame, future: pd.DataFrame, trace: bool) -> TracedForecast:
        if not self._fitted:
            raise RuntimeError(f"{self.name} is not fitted; call fit(history) or load(path).")
        # Twice the features' lookback, so a missing day's estimate reads its own lags from
        # the panel too.
        lookback = max(2 * self.spec.lookback_days, SEASON_DAYS)
        panel, series, column = _forecast_panel(history, future, lookback)
        cutoff_column = lookback - 1
        modelled: BoolArray = panel.history_days(cutoff_column) >= MIN_HISTORY_DAYS
        if self.booster is None:
            modelled[:] = False
        elif modelled.any():
            self._estimate_missing_days(self.booster, panel, cutoff_column, modelled)
            self._predict_recursively(self.booster, panel, cutoff_column, modelled)
        fallback = _seasonal_naive(panel, cutoff_column, series, column, SEASON_DAYS)
        forecast = _with_forecast(
            future, np.where(modelled[series], panel.units[series, column], fallback)
        )
        features = (
            self._read_features(panel, cutoff_column, modelled, future, series, column)
            if trace
            else pd.DataFrame()
        )
        hashes = pd.Series(None, index=future.index, dtype=object)
        if trace and len(features):
            hashes[modelled[series]] = features["feature_hash"].to_numpy()
        return TracedForecast(forecast, hashes, features, self.configuration)

    def _read_features(
        self,
        panel: SalesPanel,
        cutoff_column: int,
        modelled: BoolArray,
        future: pd.DataFrame,
        series: IntArray,
        column: IntArray,
    ) -> pd.DataFrame:
        """The feature vectors of `future`'s rows of `modelled` series, in `future`'s order
        (columns: see `TracedForecast.features`), read from the forecast-filled `panel`."""
        numeric = numeric_feature_columns(self.spec)
        rows = modelled[series]
        days = panel.n_days - cutoff_column - 1
        if not rows.any() or days < 1 or self.booster is None:
            return pd.DataFrame(columns=[DATE, *SERIES_KEY, "feature_hash", *numeric])
        categories = dict(
            zip(
                categorical_columns(self.spec),
                self.booster.pandas_categorical or [],
                strict=True,
            )
        )
        matrix = feature_matrix(panel, self.spec, cutoff_column + 1, days, modelled, categories)
        rank = np.cumsum(modelled) - 1  # a modelled series' block of rows in the matrix
        position = rank[series[rows]] * days + (column[rows] - cutoff_column - 1)
        numeric_at = np.array(
            [feature_columns(self.spec).index(name) for name in numeric], dtype=np.int64
        )
        chosen = future.loc[rows]
        values = pd.DataFrame(
            matrix[np.ix_(position, numeric_at)], columns=numeric, index=chosen.index
        )
        keys = chosen[[DATE, *SERIES_KEY]].astype({key: str for key in SERIES_KEY})
        features = pd.concat([keys, values], axis=1)
        features.insert(3, "feature_hash", feature_hashes(features, self.spec))
        return features.reset_index(drop=True)

    def _estimate_missing_days(
        self, booster: lightgbm.Booster, panel: SalesPanel, cutoff_column: int, modelled: BoolArray
    ) -> None:
        """Write into `panel.units` an estimate of every missing day among the
        `spec.lookback_days` days up to the cutoff, for the `modelled` series whose span holds
        it, oldest first: the model's prediction from that day's features (see the class
        docstring). The day stays flagged in `panel.missing`."""
        categories = dict(
            zip(categorical_columns(self.spec), booster.pandas_categorical or [], strict=True)
        )
        threads = self.lightgbm_params["num_threads"]
        first_read = max(cutoff_column - self.spec.lookback_days + 1, 0)
        for day in np.flatnonzero(panel.missing[first_read : cutoff_column + 1]) + first_read:
            rows = modelled & (panel.first <= day)
            if not rows.any():
                continue
            features = feature_matrix(panel, self.spec, int(day), 1, rows, categories)
            predicted = np.asarray(booster.predict(features, num_threads=threads), np.float64)
            panel.units[rows, day] = np.maximum(predicted, 0.0)

    def _predict_recursively(
        self, booster: lightgbm.Booster, panel: SalesPanel, cutoff_column: int, modelled: BoolArray
    ) -> None:
        """Write the forecasts of the `modelled` series into `panel.units` after the cutoff.

        The features of day `t` read units sold only up to `t - min_lag`, so the `min_lag`
        days after the last filled day depend on nothing still unknown: each block of that many
        days is one `feature_matrix` and one `Booster.predict` call (4 for 28 days with lags
        from 7), and its forecasts are written before the next block's features are computed.
        That is the same recursion, value for value, as one day at a time; the per-call work
        (feature set-up, LightGBM's input checks) is paid 4 times per forecast, not 28.
        """
        categories = dict(
            zip(categorical_columns(self.spec), booster.pandas_categorical or [], strict=True)
        )
        threads = self.lightgbm_params["num_threads"]
        n_modelled = int(modelled.sum())
        block = self.spec.min_lag
        for first in range(cutoff_column + 1, panel.n_days, block):
            days = min(block, panel.n_days - first)
            features = feature_matrix(panel, self.spec, first, days, modelled, categories)
            predicted = np.asarray(booster.predict(features, num_threads=threads), np.float64)
            forecast = np.maximum(predicted.reshape(n_modelled, days), 0.0)
            panel.units[modelled, first : first + days] = forecast

    def _require_booster(self) -> lightgbm.Booster:
        if self.booster is None:
            if self._fitted:
                raise RuntimeError(
                    f"{self.name} has no LightGBM model: no series of the history it was fitted "
                    f"on had {MIN_HISTORY_DAYS} days."
                )
            raise RuntimeError(f"{self.name} is not fitted; call fit(history) or load(path).")
        return self.booster

    def feature_importance(self, top: int = 20) -> pd.DataFrame:
        """The `top` features by total split gain: columns `feature`, `gain` (sum of the loss
        reductions of the splits on the feature), largest first."""
        booster = self._require_booster()
        importance = pd.DataFrame(
            {
                "feature": booster.feature_name(),
                "gain": booster.feature_importance(importance_type="gain"),
            }
        )
        ranked = importance.sort_values("gain", ascending=False, kind="stable")
        return ranked.head(top).reset_index(drop=True)

    def save(self, path: Path) -> tuple[Path, Path]:
        """Write the booster (LightGBM model text) to `path` and the forecaster's settings
        (objective, params, window_days, feature spec and `feature_set_version`) as JSON to
        `spec_path(path)`; parents are created. Returns both paths (log both to a registry)."""
        booster = self._require_booster()
        path.parent.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(path))
        settings = {
            "name": self.name,
            "objective": self.objective,
            "params": self.params,
            "window_days": self.window_days,
            "feature_spec": self.spec.to_dict(),
            "feature_set_version": feature_set_version(self.spec),
        }
        spec_file = spec_path(path)
        spec_file.write_text(json.dumps(settings, indent=2, sort_keys=True) + "\n")
        return path, spec_file

    @classmethod
    def load(cls, path: Path) -> LightGBMForecaster:
        """The forecaster `save(path)` wrote, ready to predict.

        Raises `FileNotFoundError` when the spec JSON is not beside the model, and `ValueError`
        when the model's feature set differs from what this code computes for its spec (the
        features changed meaning: retrain)."""
        import lightgbm

        spec_file = spec_path(path)
        if not spec_file.is_file():
            raise FileNotFoundError(
                f"{spec_file} not found: LightGBMForecaster.save writes it beside the model "
                f"file {path}; keep the two files together."
            )
        settings = json.loads(spec_file.read_text())
        spec = FeatureSpec.from_dict(settings["feature_spec"])
        if feature_set_version(spec) != settings["feature_set_version"]:
            raise ValueError(
                f"{path} was trained on feature set {settings['feature_set_version']}, but this "
                f"code computes feature set {feature_set_version(spec)} for its spec; retrain it."
            )
        forecaster = cls(
            objective=settings["objective"],
            spec=spec,
            params=settings["params"],
            window_days=settings["window_days"],
        )
        forecaster.booster = lightgbm.Booster(model_file=str(path))
        forecaster._fitted = True
        return forecaster


def make_forecaster(name: str, *, window_days: int | None = None) -> Forecaster:
    """A fresh, unfitted forecaster of candidate `name` (one of `CANDIDATE_NAMES`).

    `window_days` is the LightGBM training window (see `LightGBMForecaster`); the baselines do
    not train and ignore it. Raises `ValueError` for an unknown name.
    """
    if name == SEASONAL_NAIVE:
        return SeasonalNaive()
    if name == MOVING_AVERAGE:
        return MovingAverage()
    if name == LIGHTGBM_TWEEDIE:
        return LightGBMForecaster("tweedie", window_days=window_days)
    if name == LIGHTGBM_POISSON:
        return LightGBMForecaster("poisson", window_days=window_days)
    raise ValueError(f"Unknown forecaster {name!r}; choose one of {', '.join(CANDIDATE_NAMES)}.")


def future_frame(sales: pd.DataFrame, cutoff: DayLike, horizon: int) -> pd.DataFrame:
    """The rows to forecast days `cutoff + 1 .. cutoff + horizon` for real.

    Inputs: long sales (`SALES_COLUMNS`; rows after `cutoff` are ignored), the cutoff day and
    the horizon in days (>= 1). One row per day and series active at the cutoff (a row within
    the last `ACTIVE_LOOKBACK_DAYS` days up to it), sorted by date, store_id, product_id, with
    columns `FUTURE_COLUMNS`: no promotion is assumed, and the price is the series' last
    regular price carried forward (its last row off promotion; its last row if it never was
    off promotion), as a promoted price without the promotion would read as a discount.
    """
    check_columns(sales, SALES_COLUMNS, "sales")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 day, got {horizon}.")
    day = pd.Timestamp(cutoff)
    history = sales.loc[sales[DATE] <= day].sort_values(DATE, kind="stable")
    keys = list(SERIES_KEY)
    latest = history.groupby(keys, sort=True).agg(last_day=(DATE, "last"), price=(PRICE, "last"))
    regular = history.loc[~history[PROMOTION].astype(bool)].groupby(keys)[PRICE].last()
    latest[PRICE] = regular.reindex(latest.index).fillna(latest[PRICE])
    active = latest.loc[latest["last_day"] > day - pd.Timedelta(days=ACTIVE_LOOKBACK_DAYS)]
    days = pd.DataFrame({DATE: pd.date_range(day + pd.Timedelta(days=1), periods=horizon)})
    rows = days.merge(active[[PRICE]].reset_index(), how="cross").assign(**{PROMOTION: False})
    return rows[list(FUTURE_COLUMNS)].sort_values([DATE, *keys], ignore_index=True)
