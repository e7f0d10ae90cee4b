"""Forecasters: baselines against hand-computed values, LightGBM determinism, skill, fallbacks,
persistence, and the one predict() contract they share."""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forecastops.domain.features as features
from forecastops.domain.features import (
    FUTURE_COLUMNS,
    FeatureSpec,
    SalesPanel,
    categorical_columns,
    feature_columns,
    feature_hashes,
    feature_matrix,
    feature_set_version,
    numeric_feature_columns,
)
from forecastops.domain.forecasters import (
    CANDIDATE_NAMES,
    MIN_HISTORY_DAYS,
    SEASON_DAYS,
    LightGBMForecaster,
    MovingAverage,
    SeasonalNaive,
    configuration_hash,
    future_frame,
    make_forecaster,
    spec_path,
)
from tests.unit import synthetic

START = synthetic.START
REGULAR_PRICE = synthetic.REGULAR_PRICE
PROMO_PRICE = synthetic.PROMO_PRICE
SERIES = (("S1", "P1"), ("S1", "P2"), ("S2", "P1"), ("S2", "P2"))
HORIZON = 28


def weekly_sales(days: int = 200, series: Sequence[tuple[str, str]] = SERIES) -> pd.DataFrame:
    """Four series, about one promoted day in eight (see `tests.unit.synthetic`)."""
    return synthetic.weekly_sales(
        days, series, seed=7, promo_share=0.125, base_level=6.0, level_step=8.0
    )


def split(sales: pd.DataFrame, cutoff: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History up to `cutoff` and the future rows (actual covariates) of the horizon after it."""
    horizon_end = cutoff + pd.Timedelta(days=HORIZON)
    history = sales[sales["date"] <= cutoff]
    upcoming = (sales["date"] > cutoff) & (sales["date"] <= horizon_end)
    return history, sales.loc[upcoming, list(FUTURE_COLUMNS)].reset_index(drop=True)


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.abs(actual - forecast).sum() / np.abs(actual).sum())


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return weekly_sales()


@pytest.fixture(scope="module")
def cutoff(sales: pd.DataFrame) -> pd.Timestamp:
    return sales["date"].max() - pd.Timedelta(days=HORIZON)


@pytest.fixture(scope="module")
def fitted(sales: pd.DataFrame, cutoff: pd.Timestamp) -> LightGBMForecaster:
    return LightGBMForecaster("tweedie").fit(split(sales, cutoff)[0])


def tiny_history(units: Sequence[int]) -> pd.DataFrame:
    """One series ("S1", "P1") selling `units` on consecutive days from START."""
    return weekly_sales(len(units), SERIES[:1]).assign(
        units_sold=np.asarray(units, dtype=np.int64), price=REGULAR_PRICE, on_promotion=False
    )


def tiny_future(history: pd.DataFrame, days: int) -> pd.DataFrame:
    first = history["date"].max() + pd.Timedelta(days=1)
    return pd.DataFrame(
        {
            "date": pd.date_range(first, periods=days, freq="D"),
            "store_id": "S1",
            "product_id": "P1",
            "price": REGULAR_PRICE,
            "on_promotion": False,
        }
    )


def test_seasonal_naive_repeats_the_last_week_before_the_cutoff() -> None:
    history = tiny_history(list(range(14)))  # units 0..13, cutoff = day 13
    predicted = SeasonalNaive().fit(history).predict(history, tiny_future(history, 10))

    assert predicted["forecast"].tolist() == [7, 8, 9, 10, 11, 12, 13, 7, 8, 9]


def test_moving_average_is_the_mean_of_the_last_window_days() -> None:
    history = tiny_history(list(range(14)))
    gappy = history[history["date"] != history["date"].max() - pd.Timedelta(days=1)]

    last_three = MovingAverage(3).predict(history, tiny_future(history, 5))["forecast"]
    default = MovingAverage().predict(history, tiny_future(history, 5))["forecast"]
    with_gap = MovingAverage(3).predict(gappy, tiny_future(history, 5))["forecast"]

    assert last_three.tolist() == [12.0] * 5  # (11 + 12 + 13) / 3
    assert default.tolist() == [6.5] * 5  # 28-day window, 14 days of history: mean of 0..13
    # Day 12 has no row at all: no data was delivered, so it is unknown, not 0: (11 + 13) / 2.
    assert with_gap.tolist() == [12.0] * 5


def test_seasonal_naive_does_not_repeat_a_missing_day_as_zero() -> None:
    history = tiny_history(list(range(14)))  # cutoff = day 13; last week = days 7..13
    gappy = history[history["date"] != START + pd.Timedelta(days=9)]

    predicted = SeasonalNaive().predict(gappy, tiny_future(history, 7))["forecast"]

    known = [7, 8, 10, 11, 12, 13]
    assert predicted.tolist() == [7, 8, np.mean(known), 10, 11, 12, 13]


def test_lightgbm_estimates_a_missing_day_instead_of_reading_zero_sold(
    fitted: LightGBMForecaster, sales: pd.DataFrame, cutoff: pd.Timestamp
) -> None:
    """A day rejected three days before the cutoff is estimated by the model from its own
    features, and the forecast reads that estimate: the same forecast as from a history that
    holds the estimate as the day's actuals, not the one from a history of zeros that day."""
    history, future = split(sales, cutoff)
    gone = cutoff - pd.Timedelta(days=3)
    rejected = history[history["date"] != gone]
    spec, booster = fitted.spec, fitted.booster
    assert booster is not None
    lookback = 2 * spec.lookback_days
    panel, _, _ = SalesPanel.from_sales(rejected).forecast_panel(future, lookback)
    column = lookback - 1 - 3
    assert panel.missing[column] and np.isnan(panel.units[:, column]).all()
    categories = dict(zip(categorical_columns(spec), booster.pandas_categorical, strict=True))
    every_series = np.ones(panel.n_series, dtype=bool)
    estimate = booster.predict(feature_matrix(panel, spec, column, 1, every_series, categories))
    on_gone = history["date"] == gone
    filled = history.copy()
    filled["units_sold"] = filled["units_sold"].astype(float)
    filled.loc[on_gone, "units_sold"] = np.maximum(estimate, 0.0)
    filled.loc[on_gone, "price"] = panel.price[:, column]
    filled.loc[on_gone, "on_promotion"] = False
    zeroed = history.assign(units_sold=history["units_sold"].where(~on_gone, 0))

    forecast = fitted.predict(rejected, future)["forecast"].to_numpy()

    assert (estimate > 1).all()
    np.testing.assert_allclose(forecast, fitted.predict(filled, future)["forecast"], rtol=1e-6)
    assert not np.allclose(forecast, fitted.predict(zeroed, future)["forecast"])


def test_lightgbm_is_deterministic(sales: pd.DataFrame, cutoff: pd.Timestamp) -> None:
    history, future = split(sales, cutoff)

    first = LightGBMForecaster("poisson").fit(history).predict(history, future)
    second = LightGBMForecaster("poisson").fit(history).predict(history, future)

    np.testing.assert_array_equal(first["forecast"].to_numpy(), second["forecast"].to_numpy())


def test_lightgbm_forecast_equals_one_day_at_a_time_from_a_pandas_frame(
    fitted: LightGBMForecaster, sales: pd.DataFrame, cutoff: pd.Timestamp
) -> None:
    """The block recursion on a float32 matrix gives exactly the forecast of the plain
    recursion: one day per `Booster.predict` call on a DataFrame whose series keys are
    categoricals (in another category order, which LightGBM maps to the training one)."""
    history, future = split(sales, cutoff)
    spec, booster = fitted.spec, fitted.booster
    assert booster is not None
    lookback = max(spec.lookback_days, SEASON_DAYS)
    panel, series, column = SalesPanel.from_sales(history).forecast_panel(future, lookback)
    keys = categorical_columns(spec)
    categories = {key: sorted(set(panel.series_keys[key])) for key in keys}
    every_series = np.ones(panel.n_series, dtype=bool)

    for day in range(lookback, panel.n_days):
        matrix = feature_matrix(panel, spec, day, 1, every_series, categories)
        frame = pd.DataFrame(matrix, columns=feature_columns(spec))
        for key in keys:
            frame[key] = pd.Categorical(panel.series_keys[key], categories=categories[key][::-1])
        panel.units[:, day] = np.maximum(booster.predict(frame), 0.0)

    forecast = fitted.predict(history, future)["forecast"].to_numpy()
    np.testing.assert_array_equal(forecast, panel.units[series, column])


def test_lightgbm_beats_seasonal_naive_on_a_weekly_pattern_with_promotions(
    sales: pd.DataFrame, cutoff: pd.Timestamp, fitted: LightGBMForecaster
) -> None:
    history, future = split(sales, cutoff)
    actual = sales.loc[sales["date"] > cutoff, "units_sold"].to_numpy(dtype=float)

    model_wape = wape(actual, fitted.predict(history, future)["forecast"].to_numpy())
    naive_wape = wape(actual, SeasonalNaive().predict(history, future)["forecast"].to_numpy())

    assert model_wape < 0.8 * naive_wape, (model_wape, naive_wape)
    top = fitted.feature_importance(top=5)
    assert list(top.columns) == ["feature", "gain"] and len(top) == 5
    assert top["gain"].is_monotonic_decreasing
    everything = fitted.feature_importance(top=len(feature_columns(FeatureSpec())))
    assert set(everything["feature"]) == set(feature_columns(FeatureSpec()))


def test_short_and_missing_histories_get_the_fallbacks(
    sales: pd.DataFrame, cutoff: pd.Timestamp, fitted: LightGBMForecaster
) -> None:
    history, future = split(sales, cutoff)
    young_start = cutoff - pd.Timedelta(days=MIN_HISTORY_DAYS - 2)  # 27 days: seasonal naive
    baby_start = cutoff - pd.Timedelta(days=2)  # 3 days: moving average
    is_young = (history["product_id"] == "P2") & (history["store_id"] == "S1")
    is_baby = (history["product_id"] == "P2") & (history["store_id"] == "S2")
    history = history[
        ~(is_young & (history["date"] < young_start)) & ~(is_baby & (history["date"] < baby_start))
    ]
    newcomer = future[future["store_id"] == "S1"].assign(store_id="S9")  # no history at all
    future = pd.concat([future, newcomer], ignore_index=True)

    predicted = fitted.predict(history, future)
    naive = SeasonalNaive().predict(history, future)

    def forecast(frame: pd.DataFrame, store: str, product: str) -> np.ndarray:
        rows = (frame["store_id"] == store) & (frame["product_id"] == product)
        return frame.loc[rows, "forecast"].to_numpy()

    np.testing.assert_array_equal(forecast(predicted, "S1", "P2"), forecast(naive, "S1", "P2"))
    baby_days = history[(history["store_id"] == "S2") & (history["product_id"] == "P2")]
    assert len(baby_days) == 3
    np.testing.assert_allclose(forecast(predicted, "S2", "P2"), baby_days["units_sold"].mean())
    assert (forecast(predicted, "S9", "P1") == 0).all()
    assert (forecast(predicted, "S9", "P2") == 0).all()
    modelled = forecast(predicted, "S1", "P1")
    assert not np.array_equal(modelled, forecast(naive, "S1", "P1"))


def test_save_and_load_give_identical_predictions(
    sales: pd.DataFrame, cutoff: pd.Timestamp, fitted: LightGBMForecaster, tmp_path: Path
) -> None:
    history, future = split(sales, cutoff)

    model_file, spec_file = fitted.save(tmp_path / "registry" / "model.txt")
    loaded = LightGBMForecaster.load(model_file)

    assert spec_file == spec_path(model_file) and spec_file.name == "model.spec.json"
    assert json.loads(spec_file.read_text())["feature_spec"]["lags"] == [7, 14, 28]
    assert loaded.name == fitted.name and loaded.spec == fitted.spec
    np.testing.assert_array_equal(
        loaded.predict(history, future)["forecast"].to_numpy(),
        fitted.predict(history, future)["forecast"].to_numpy(),
    )


def test_load_refuses_a_model_of_another_feature_set(
    fitted: LightGBMForecaster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_file, _ = fitted.save(tmp_path / "model.txt")
    monkeypatch.setattr(features, "FEATURES_SCHEMA_VERSION", features.FEATURES_SCHEMA_VERSION + 1)

    with pytest.raises(ValueError, match="retrain"):
        LightGBMForecaster.load(model_file)


@pytest.mark.parametrize("name", CANDIDATE_NAMES)
def test_every_candidate_returns_future_in_order_with_non_negative_forecasts(
    name: str, sales: pd.DataFrame, cutoff: pd.Timestamp
) -> None:
    history, future = split(sales, cutoff)
    shuffled = future.sample(frac=1.0, random_state=3)  # scrambled order, non-default index

    forecaster = make_forecaster(name)
    predicted = forecaster.fit(history).predict(history, shuffled)

    assert forecaster.name == name
    pd.testing.assert_frame_equal(predicted.drop(columns="forecast"), shuffled)
    assert predicted["forecast"].dtype == np.float64
    assert (predicted["forecast"] >= 0).all() and predicted["forecast"].notna().all()


def test_bad_requests_are_refused(sales: pd.DataFrame, cutoff: pd.Timestamp) -> None:
    history, future = split(sales, cutoff)
    with pytest.raises(ValueError, match="Unknown forecaster"):
        make_forecaster("prophet")
    with pytest.raises(RuntimeError, match="not fitted"):
        LightGBMForecaster().predict(history, future)
    with pytest.raises(ValueError, match="on or before"):
        SeasonalNaive().predict(history, future.assign(date=cutoff))


def test_future_frame_carries_the_last_regular_price_without_promotion() -> None:
    sales = weekly_sales(days=60)
    cutoff = sales["date"].max()
    last_day = sales["date"] == cutoff
    sales.loc[last_day, ["price", "on_promotion"]] = [PROMO_PRICE, True]  # promoted at the cutoff
    gone = (sales["store_id"] == "S2") & (sales["product_id"] == "P2")
    sales = sales[~(gone & (sales["date"] > cutoff - pd.Timedelta(days=10)))]

    future = future_frame(sales, cutoff.date(), horizon=3)

    assert list(future.columns) == list(FUTURE_COLUMNS)
    assert len(future) == 3 * 3  # S2/P2 stopped selling 10 days ago
    assert future["date"].min() == cutoff + pd.Timedelta(days=1)
    assert future["date"].max() == cutoff + pd.Timedelta(days=3)
    assert (future["price"] == REGULAR_PRICE).all()
    assert not future["on_promotion"].any()


def test_importing_models_does_not_import_lightgbm() -> None:
    script = "import sys, forecastops.domain.forecasters; print('lightgbm' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "False"


def test_traced_features_are_the_models_inputs_and_hash_each_row(
    fitted: LightGBMForecaster, sales: pd.DataFrame, cutoff: pd.Timestamp
) -> None:
    history, future = split(sales, cutoff)
    young = (history["store_id"] == "S1") & (history["product_id"] == "P2")
    history = history[~young | (history["date"] > cutoff - pd.Timedelta(days=10))]  # fallback
    traced = fitted.predict_traced(history, future)

    pd.testing.assert_frame_equal(traced.forecast, fitted.predict(history, future))
    fallback = (future["store_id"] == "S1") & (future["product_id"] == "P2")
    assert traced.feature_hash[fallback].isna().all()  # no feature vector was read
    assert traced.feature_hash[~fallback].str.fullmatch("[0-9a-f]{16}").all()
    features = traced.features
    assert len(features) == int((~fallback).sum()) == 3 * HORIZON
    # the stored vectors are what the booster read: predicting from them gives the forecast
    assert fitted.booster is not None
    frame = features[numeric_feature_columns(fitted.spec)].copy()
    for key, categories in zip(
        categorical_columns(fitted.spec), fitted.booster.pandas_categorical, strict=True
    ):
        frame[key] = pd.Categorical(features[key], categories=categories)
    again = np.maximum(fitted.booster.predict(frame[feature_columns(fitted.spec)]), 0.0)
    np.testing.assert_array_equal(again, traced.forecast.loc[~fallback, "forecast"].to_numpy())
    # the hash is recomputed from the stored values, and moves with any one of them
    assert (feature_hashes(features, fitted.spec) == features["feature_hash"]).all()
    changed = features.copy()
    changed.loc[5, "lag_7"] = changed.loc[5, "lag_7"] + 1.0
    rehashed = feature_hashes(changed, fitted.spec)
    assert rehashed[5] != features.loc[5, "feature_hash"]
    assert (rehashed.drop(5) == features["feature_hash"].drop(5)).all()
    assert traced.configuration == {
        "objective": "tweedie",
        "window_days": None,
        "feature_set_version": feature_set_version(fitted.spec),
    }
    assert configuration_hash(traced.configuration) == configuration_hash(
        dict(reversed(list(traced.configuration.items())))
    )


def test_the_feature_hash_reads_values_not_bit_patterns() -> None:
    spec = FeatureSpec()
    numeric = numeric_feature_columns(spec)
    row = pd.DataFrame([dict.fromkeys(numeric, 1.5) | {"store_id": "S1", "product_id": "P1"}])
    base = feature_hashes(row, spec)[0]
    # the documented byte layout, built by hand: key, then big-endian float64 values
    layout = b"S1\x1fP1\x1e" + struct.pack(f">{len(numeric)}d", *[1.5] * len(numeric))
    assert base == hashlib.sha256(layout).hexdigest()[:16] == "b33169e0d48a58dd"
    signalling_nan = np.array([0x7FF0000000000001], dtype=np.uint64).view(np.float64)[0]
    nan_a = row.assign(lag_7=np.nan)
    nan_b = row.assign(lag_7=signalling_nan)
    assert feature_hashes(nan_a, spec)[0] == feature_hashes(nan_b, spec)[0] != base
    zero = row.assign(lag_7=0.0)
    assert feature_hashes(zero, spec)[0] == feature_hashes(row.assign(lag_7=-0.0), spec)[0]
    as_float32 = row.astype(dict.fromkeys(numeric, np.float32))
    assert feature_hashes(as_float32, spec)[0] == base
    assert feature_hashes(row.assign(product_id="P2"), spec)[0] != base
