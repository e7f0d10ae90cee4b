"""Model features: hand-computed values, no leakage past `t - min_lag`, train/serve agreement."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

import forecastops.domain.features as features
from forecastops.domain.features import (
    FUTURE_COLUMNS,
    FeatureSpec,
    SalesPanel,
    build_training_frame,
    categorical_columns,
    feature_columns,
    feature_matrix,
    feature_set_version,
)
from tests.unit import synthetic

START = synthetic.START
REGULAR_PRICE = synthetic.REGULAR_PRICE
PROMO_PRICE = synthetic.PROMO_PRICE


def weekly_sales(
    days: int = 200,
    series: Sequence[tuple[str, str]] = (("S1", "P1"), ("S1", "P2"), ("S2", "P1")),
    seed: int = 0,
) -> pd.DataFrame:
    """Three series, about one promoted day in ten (see `tests.unit.synthetic`)."""
    return synthetic.weekly_sales(
        days, series, seed=seed, promo_share=0.1, base_level=8.0, level_step=6.0
    )


def one_series(units: Sequence[int], prices: Sequence[float] | None = None) -> pd.DataFrame:
    """One series ("S1", "P1") selling `units` on consecutive days from START."""
    count = len(units)
    return pd.DataFrame(
        {
            "date": pd.date_range(START, periods=count, freq="D"),
            "store_id": "S1",
            "product_id": "P1",
            "units_sold": np.asarray(units, dtype=np.int64),
            "price": prices if prices is not None else [REGULAR_PRICE] * count,
            "on_promotion": False,
        }
    )


def rows_on(frame: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    return frame[frame["date"] == day].reset_index(drop=True)


TINY_SPEC = FeatureSpec(lags=(1, 2), windows=(2, 3), price_window=2)


def test_lags_and_rolling_stats_match_hand_computed_values() -> None:
    units = [3, 0, 5, 2, 8, 1, 4, 6]
    prices = [4.0, 4.0, 4.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    frame = build_training_frame(one_series(units, prices), TINY_SPEC)

    # The longest lag (2) needs history: the first two days are dropped.
    assert list(frame["date"]) == list(pd.date_range(START + pd.Timedelta(days=2), periods=6))
    assert list(frame["units_sold"]) == units[2:]
    day2, day4 = frame.iloc[0], frame.iloc[2]
    # Day 4: lags read days 3 and 2; the windows end at day 4 - min_lag = 3.
    assert (day4["lag_1"], day4["lag_2"]) == (2, 5)
    assert day4["rolling_mean_2"] == pytest.approx(3.5)  # days 2..3: 5, 2
    assert day4["rolling_std_2"] == pytest.approx(np.sqrt(4.5), rel=1e-6)
    assert day4["rolling_mean_3"] == pytest.approx(7 / 3, rel=1e-6)  # days 1..3: 0, 5, 2
    assert day4["rolling_std_3"] == pytest.approx(np.sqrt(19 / 3), rel=1e-6)
    # Day 2: the 3-day window (days 0..1) is cut by the series' start: mean of 3 and 0.
    assert day2["rolling_mean_3"] == pytest.approx(1.5)
    assert day2["rolling_std_3"] == pytest.approx(np.sqrt(4.5), rel=1e-6)
    # Price of day 3 is 2 against a 2-day mean of 3: ratio 2/3, a discount; day 4 is back up.
    day3 = frame.iloc[1]
    assert day3["price_ratio"] == pytest.approx(2 / 3, rel=1e-6)
    assert (day3["is_discount"], day4["is_discount"]) == (1, 0)
    assert day4["price_ratio"] == pytest.approx(4 / 3, rel=1e-6)


def two_series(units: Sequence[int], other: Sequence[int]) -> pd.DataFrame:
    """("S1", "P1") selling `units` and ("S1", "P2") selling `other` on consecutive days."""
    second = one_series(other).assign(product_id="P2")
    return pd.concat([one_series(units), second], ignore_index=True)


def test_a_series_without_a_row_on_a_delivered_day_sold_zero_at_the_last_price() -> None:
    sales = one_series([3, 0, 5, 2, 8, 1, 4, 6], [4.0, 4.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0])
    sales.loc[3, "on_promotion"] = True
    other = one_series([1] * 8).assign(product_id="P2")
    gappy = pd.concat([sales.drop(index=3), other], ignore_index=True)  # P1 has no day-3 row

    frame = build_training_frame(gappy, TINY_SPEC)
    p1 = frame[frame["product_id"] == "P1"]

    day3 = rows_on(p1, START + pd.Timedelta(days=3)).iloc[0]
    assert day3["units_sold"] == 0
    assert day3["price"] == 5.0
    assert day3["on_promotion"] == 0
    assert rows_on(p1, START + pd.Timedelta(days=4)).loc[0, "lag_1"] == 0
    assert not SalesPanel.from_sales(gappy).missing.any()


def test_a_day_without_any_row_is_missing_for_every_series_not_zero() -> None:
    sales = two_series([3, 0, 5, 2, 8, 1, 4, 6], [1, 2, 3, 4, 5, 6, 7, 8])
    day3 = START + pd.Timedelta(days=3)
    rejected = sales[sales["date"] != day3]  # the whole day was rejected

    frame = build_training_frame(rejected, TINY_SPEC)
    panel = SalesPanel.from_sales(rejected)

    assert list(panel.missing_days) == [day3]
    assert np.isnan(panel.units[:, 3]).all()
    assert day3 not in set(frame["date"])  # never a training target
    day4 = rows_on(frame[frame["product_id"] == "P1"], START + pd.Timedelta(days=4)).iloc[0]
    assert np.isnan(day4["lag_1"])  # lands on the missing day
    assert day4["lag_2"] == 5
    assert day4["rolling_mean_2"] == pytest.approx(5.0)  # days 2..3: only day 2 is known
    assert np.isnan(day4["rolling_std_2"])  # one known day
    assert day4["rolling_mean_3"] == pytest.approx(2.5)  # days 1..3: 0 and 5, not 0, 5, 0
    day5 = rows_on(frame[frame["product_id"] == "P1"], START + pd.Timedelta(days=5)).iloc[0]
    assert np.isnan(day5["lag_2"]) and day5["lag_1"] == 8


def test_rolling_stats_of_a_window_without_a_known_day_are_missing() -> None:
    sales = two_series([3, 0, 5, 2, 8, 1, 4, 6], [1, 2, 3, 4, 5, 6, 7, 8])
    gone = {START + pd.Timedelta(days=3), START + pd.Timedelta(days=4)}

    frame = build_training_frame(sales[~sales["date"].isin(gone)], TINY_SPEC)

    day5 = rows_on(frame[frame["product_id"] == "P1"], START + pd.Timedelta(days=5)).iloc[0]
    assert np.isnan(day5["rolling_mean_2"]) and np.isnan(day5["rolling_std_2"])  # days 3..4
    assert day5["rolling_mean_3"] == pytest.approx(5.0)  # days 2..4: only day 2 is known


def test_the_forecast_panel_keeps_a_missing_day_missing() -> None:
    sales = weekly_sales(days=60)
    cutoff = START + pd.Timedelta(days=50)
    gone = cutoff - pd.Timedelta(days=3)
    history = sales[(sales["date"] <= cutoff) & (sales["date"] != gone)]
    future = sales.loc[sales["date"] > cutoff, list(FUTURE_COLUMNS)]

    panel, _, _ = SalesPanel.from_sales(history).forecast_panel(future, 34)

    assert list(panel.missing_days) == [gone]
    assert np.isnan(panel.units[:, 30]).all()  # column 33 is the cutoff
    assert not np.isnan(panel.units[:, :30]).any() and not np.isnan(panel.units[:, 31:34]).any()


def test_features_never_see_units_after_t_minus_min_lag() -> None:
    sales = weekly_sales()
    spec = FeatureSpec()
    day = START + pd.Timedelta(days=150)
    last_visible = day - pd.Timedelta(days=spec.min_lag)
    columns = feature_columns(spec)
    before = rows_on(build_training_frame(sales, spec), day)[columns]

    later = sales.copy()
    later.loc[later["date"] > last_visible, "units_sold"] += 100
    after_later = rows_on(build_training_frame(later, spec), day)[columns]
    pd.testing.assert_frame_equal(after_later, before)

    edge = sales.copy()
    edge.loc[edge["date"] == last_visible, "units_sold"] += 100
    after_edge = rows_on(build_training_frame(edge, spec), day)
    assert (after_edge["lag_7"] == before["lag_7"] + 100).all()
    assert (after_edge["rolling_mean_7"] > before["rolling_mean_7"]).all()


def test_series_keys_are_categorical_features() -> None:
    spec = FeatureSpec()
    frame = build_training_frame(weekly_sales(), spec)

    assert categorical_columns(spec) == ["store_id", "product_id"]
    assert set(categorical_columns(spec)) <= set(feature_columns(spec))
    for column, categories in (("store_id", ["S1", "S2"]), ("product_id", ["P1", "P2"])):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
        assert list(frame[column].cat.categories) == categories
    numeric = [c for c in feature_columns(spec) if c not in categorical_columns(spec)]
    assert all(pd.api.types.is_numeric_dtype(frame[column]) for column in numeric)


def test_training_rows_cover_each_active_span_after_the_longest_lag() -> None:
    sales = weekly_sales(days=120)
    launch_day = START + pd.Timedelta(days=40)
    stop_day = START + pd.Timedelta(days=90)
    before_launch = (sales["product_id"] == "P2") & (sales["date"] < launch_day)
    after_stop = (sales["store_id"] == "S2") & (sales["date"] > stop_day)
    sales = sales[~(before_launch | after_stop)]

    frame = build_training_frame(sales, FeatureSpec())

    span = frame.groupby(["store_id", "product_id"], observed=True)["date"].agg(["min", "max"])
    assert span.loc[("S1", "P1")].tolist() == [START + pd.Timedelta(days=28), sales["date"].max()]
    assert span.loc[("S1", "P2"), "min"] == launch_day + pd.Timedelta(days=28)
    assert span.loc[("S2", "P1"), "max"] == stop_day
    assert not frame[feature_columns(FeatureSpec())[:3]].isna().any().any()


def test_date_window_keeps_the_history_before_it_for_lags() -> None:
    sales = weekly_sales()
    spec = FeatureSpec()
    start, end = START + pd.Timedelta(days=100), START + pd.Timedelta(days=120)
    full = build_training_frame(sales, spec)

    window = build_training_frame(sales, spec, start=start, end=end)

    expected = full[(full["date"] >= start) & (full["date"] <= end)].reset_index(drop=True)
    pd.testing.assert_frame_equal(window, expected)


def test_forecast_panel_features_equal_training_features() -> None:
    """Train/serve agreement: the features of the first `min_lag` days after a cutoff, computed
    in one block on the forecast panel from history + future covariates, equal the training
    frame's; the series keys are codes of the training categories."""
    sales = weekly_sales()
    spec = FeatureSpec()
    cutoff = START + pd.Timedelta(days=160)
    history = sales[sales["date"] <= cutoff]
    future = sales.loc[sales["date"] > cutoff, list(FUTURE_COLUMNS)]
    training = build_training_frame(sales, spec)
    keys = categorical_columns(spec)
    categories = {key: list(training[key].cat.categories) for key in keys}

    panel, _, _ = SalesPanel.from_sales(history).forecast_panel(future, spec.lookback_days)
    served = feature_matrix(
        panel, spec, spec.lookback_days, spec.min_lag, np.ones(3, bool), categories
    )
    block_end = cutoff + pd.Timedelta(days=spec.min_lag)
    block = training[(training["date"] > cutoff) & (training["date"] <= block_end)]
    trained = block[feature_columns(spec)].assign(**{key: block[key].cat.codes for key in keys})
    assert served.dtype == np.float32
    np.testing.assert_allclose(served, trained.to_numpy(np.float64), rtol=1e-6)


def test_feature_matrix_marks_a_series_key_the_model_never_saw_as_missing() -> None:
    spec = FeatureSpec()
    sales = weekly_sales()
    panel = SalesPanel.from_sales(sales)
    seen = {"store_id": ["S1"], "product_id": ["P1", "P2"]}

    served = feature_matrix(panel, spec, panel.n_days - 1, 1, np.ones(3, bool), seen)

    stores = served[:, feature_columns(spec).index("store_id")]
    products = served[:, feature_columns(spec).index("product_id")]
    assert stores[:2].tolist() == [0.0, 0.0]
    assert np.isnan(stores[2])  # S2 is not among the categories
    assert products.tolist() == [0.0, 1.0, 0.0]


def test_holiday_features_count_days_to_and_from_the_fourth_of_july() -> None:
    spec = FeatureSpec(lags=(1,), windows=(2,))
    sales = one_series([1] * 200)  # 2024-01-01 .. 2024-07-18
    frame = build_training_frame(sales, spec).set_index("date")

    july = frame.loc["2024-07-01":"2024-07-06", ["is_holiday", "days_to_holiday"]]
    assert july["is_holiday"].tolist() == [0, 0, 0, 1, 0, 0]
    assert july["days_to_holiday"].tolist()[:4] == [3, 2, 1, 0]
    assert frame.loc["2024-07-06", "days_from_holiday"] == 2
    assert frame.loc["2024-07-06", "day_of_week"] == 5  # a Saturday
    assert frame["days_to_holiday"].max() <= features.HOLIDAY_DISTANCE_CAP_DAYS


def test_feature_set_version_is_stable_and_changes_with_the_definitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    version = feature_set_version(FeatureSpec())
    script = "from forecastops.domain.features import *; print(feature_set_version(FeatureSpec()))"
    other_process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert other_process == version
    assert len(version) == 12 and int(version, 16) >= 0
    assert feature_set_version(FeatureSpec(lags=(28, 7, 14))) == version  # same lags
    changed = [
        FeatureSpec(lags=(7, 14)),
        FeatureSpec(windows=(7, 14, 28)),
        FeatureSpec(holiday_country="DE"),
        FeatureSpec(price_window=14),
        FeatureSpec(discount_threshold=0.1),
    ]
    assert version not in {feature_set_version(spec) for spec in changed}
    monkeypatch.setattr(features, "FEATURES_SCHEMA_VERSION", features.FEATURES_SCHEMA_VERSION + 1)
    assert feature_set_version(FeatureSpec()) != version


def test_bad_spec_and_duplicate_rows_are_refused() -> None:
    with pytest.raises(ValueError, match=r"FeatureSpec\.lags"):
        FeatureSpec(lags=(0, 7))
    with pytest.raises(ValueError, match=r"FeatureSpec\.windows"):
        FeatureSpec(windows=(1,))
    doubled = pd.concat([one_series([1, 2, 3]), one_series([1, 2, 3])])
    with pytest.raises(ValueError, match="more than one row"):
        build_training_frame(doubled, FeatureSpec())
