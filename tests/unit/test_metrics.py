from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecastops.domain.metrics import (
    METRIC_COLUMNS,
    OVERSTOCK_MIN_UNITS,
    OVERSTOCK_SHARE,
    STOCKOUT_FORECAST_UNITS,
    bias,
    interval_coverage,
    mae,
    mape,
    mase,
    metrics_by,
    overstock_rate,
    rmse,
    seasonal_naive_scale,
    stockout_miss_rate,
    undefined_reason,
    wape,
)

ACTUAL = [1.0, 2.0, 3.0]
FLAT = [2.0, 2.0, 2.0]


def test_hand_computed_values_on_a_tiny_series() -> None:
    # errors f - a = [1, 0, -1]; sum|a| = 6
    assert wape(ACTUAL, FLAT) == pytest.approx(2 / 6)
    assert mae(ACTUAL, FLAT) == pytest.approx(2 / 3)
    assert rmse(ACTUAL, FLAT) == pytest.approx(math.sqrt(2 / 3))
    assert bias(ACTUAL, FLAT) == 0.0
    assert mase(ACTUAL, FLAT, scale=0.5) == pytest.approx((2 / 3) / 0.5)


def test_bias_is_positive_when_over_forecasting() -> None:
    assert bias(ACTUAL, [2.0, 3.0, 4.0]) == pytest.approx(3 / 6)
    assert bias(ACTUAL, [0.0, 1.0, 2.0]) == pytest.approx(-3 / 6)


def test_zero_denominators_give_nan_without_warnings() -> None:
    zeros = [0.0, 0.0]
    with np.errstate(all="raise"):
        assert math.isnan(wape(zeros, [1.0, 1.0]))
        assert math.isnan(bias(zeros, [1.0, 1.0]))
        assert math.isnan(mase(ACTUAL, FLAT, scale=0.0))
        assert math.isnan(mase(ACTUAL, FLAT, scale=float("nan")))
        assert math.isnan(mae([], []))


def test_a_nan_forecast_propagates_instead_of_being_skipped() -> None:
    assert math.isnan(wape(ACTUAL, [2.0, float("nan"), 2.0]))
    assert math.isnan(rmse(ACTUAL, [2.0, float("nan"), 2.0]))


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="one forecast per actual"):
        wape(ACTUAL, [1.0])


def test_interval_coverage_counts_bounds_as_inside_and_nan_as_a_miss() -> None:
    assert interval_coverage(ACTUAL, [0.0, 3.0, 3.0], [1.0, 4.0, 3.0]) == pytest.approx(2 / 3)
    assert interval_coverage(ACTUAL, [0.0, float("nan"), 0.0], [9.0, 9.0, 9.0]) == pytest.approx(
        2 / 3
    )
    assert math.isnan(interval_coverage([], [], []))


def _history(units: dict[str, list[float]], start: str = "2025-01-01") -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "date": pd.date_range(start, periods=len(values)),
                "store_id": "S1",
                "product_id": product,
                "units_sold": values,
            }
        )
        for product, values in units.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_mase_scale_is_the_mean_weekly_difference_per_series() -> None:
    history = _history(
        {
            "rising": [float(day) for day in range(15)],  # every y(t) - y(t-7) = 7
            "flat": [5.0] * 15,  # scale 0
            "short": [1.0, 2.0, 3.0],  # no pair a week apart
        }
    )
    scale = seasonal_naive_scale(history).set_index("product_id")["mase_scale"]
    assert scale["rising"] == pytest.approx(7.0)
    assert scale["flat"] == 0.0
    assert math.isnan(scale["short"])


def test_mase_scale_pairs_only_days_exactly_a_week_apart() -> None:
    history = _history({"gappy": [0.0] * 7 + [10.0, 20.0]})
    # drop day 1 (2025-01-02): day 8 (20 units) loses its partner, day 7 keeps day 0
    history = history[history["date"] != pd.Timestamp("2025-01-02")]
    scale = seasonal_naive_scale(history)
    assert scale["mase_scale"].tolist() == [10.0]


def test_mase_scale_refuses_duplicate_days() -> None:
    history = _history({"p": [1.0] * 8})
    with pytest.raises(ValueError, match="deduplicate"):
        seasonal_naive_scale(pd.concat([history, history.tail(1)]))


@pytest.fixture
def scored() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "store_id": ["S1", "S1", "S1", "S2", "S2", "S2"],
            "product_id": ["A", "A", "B", "A", "B", "B"],
            "actual": [1.0, 2.0, 3.0, 4.0, 0.0, 0.0],
            "forecast": [2.0, 2.0, 2.0, 4.0, 1.0, 0.0],
            "mase_scale": [0.5, 0.5, 0.0, 2.0, 1.0, 1.0],
        }
    )


def test_metrics_by_without_keys_scores_the_whole_frame(scored: pd.DataFrame) -> None:
    overall = metrics_by(scored)
    assert list(overall.columns) == list(METRIC_COLUMNS)
    row = overall.iloc[0]
    assert row["wape"] == pytest.approx(wape(scored["actual"], scored["forecast"]))
    assert row["mae"] == pytest.approx(mae(scored["actual"], scored["forecast"]))
    assert row["rmse"] == pytest.approx(rmse(scored["actual"], scored["forecast"]))
    assert row["bias"] == pytest.approx(bias(scored["actual"], scored["forecast"]))
    # rows with a usable scale: |e|/s = 2, 0, 0, 1, 0 (the scale-0 row is left out)
    assert row["mase"] == pytest.approx(3 / 5)
    assert row["n"] == 6


def test_metrics_by_groups_by_store_product_and_series(scored: pd.DataFrame) -> None:
    by_store = metrics_by(scored, ["store_id"]).set_index("store_id")
    assert by_store.loc["S1", "wape"] == pytest.approx(2 / 6)
    assert by_store.loc["S2", "wape"] == pytest.approx(1 / 4)
    assert by_store.loc["S2", "bias"] == pytest.approx(1 / 4)
    assert by_store["n"].tolist() == [3, 3]

    by_series = metrics_by(scored, ["store_id", "product_id"])
    assert len(by_series) == 4
    s1_b = by_series[(by_series["store_id"] == "S1") & (by_series["product_id"] == "B")].iloc[0]
    assert s1_b["wape"] == pytest.approx(1 / 3)
    assert math.isnan(s1_b["mase"])  # its only row has scale 0
    s2_b = by_series[(by_series["store_id"] == "S2") & (by_series["product_id"] == "B")].iloc[0]
    assert math.isnan(s2_b["wape"])  # no demand: WAPE undefined
    assert s2_b["mae"] == pytest.approx(0.5)


def test_a_nan_forecast_spoils_only_its_own_group(scored: pd.DataFrame) -> None:
    scored.loc[0, "forecast"] = float("nan")
    by_store = metrics_by(scored, ["store_id"]).set_index("store_id")
    assert by_store.loc["S1", ["wape", "mae", "rmse", "bias", "mase"]].isna().all()
    assert by_store.loc["S2", "wape"] == pytest.approx(1 / 4)


def test_metrics_by_names_missing_columns(scored: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="mase_scale"):
        metrics_by(scored.drop(columns="mase_scale"))


def test_mape_averages_percentage_errors_over_days_with_demand_only() -> None:
    # demand on days 1, 2, 4: |e|/a = 1/1, 0/2, 1/4; the zero day (forecast 3) is left out
    actual, forecast = [1.0, 2.0, 0.0, 4.0], [2.0, 2.0, 3.0, 3.0]
    assert mape(actual, forecast) == pytest.approx((1.0 + 0.0 + 0.25) / 3)


def test_stockout_miss_rate_counts_forecasts_under_half_a_unit_on_days_with_demand() -> None:
    assert STOCKOUT_FORECAST_UNITS == 0.5
    # demand on 4 days; P50 0.0 and 0.49 miss, 0.5 and 3.0 do not; the 0-demand day never counts
    actual = [1.0, 2.0, 1.0, 5.0, 0.0]
    forecast = [0.0, 0.49, 0.5, 3.0, 0.0]
    assert stockout_miss_rate(actual, forecast) == pytest.approx(2 / 4)


def test_overstock_rate_needs_both_the_share_and_one_whole_unit_of_excess() -> None:
    assert (OVERSTOCK_SHARE, OVERSTOCK_MIN_UNITS) == (0.2, 1.0)
    actual = [0.0, 0.0, 10.0, 10.0, 2.0, 50.0]
    forecast = [0.8, 1.5, 12.0, 12.5, 3.5, 61.0]
    # excess 0.8 (< 1 unit), 1.5 (> 1), 2.0 (= 20 % of 10: not more), 2.5 (> 2), 1.5 (> 1),
    # 11 (> 10 = 20 % of 50): overstocked on days 2, 4, 5, 6
    assert overstock_rate(actual, forecast) == pytest.approx(4 / 6)


def test_all_zero_actuals_make_mape_and_stockout_nan_with_a_reason_not_zero_or_inf() -> None:
    zeros, forecast = [0.0, 0.0, 0.0], [0.0, 2.0, 0.3]
    assert math.isnan(mape(zeros, forecast))
    assert math.isnan(stockout_miss_rate(zeros, forecast))
    assert overstock_rate(zeros, forecast) == pytest.approx(1 / 3)  # only the 2.0 day
    frame = pd.DataFrame({"actual": zeros, "forecast": forecast, "mase_scale": [1.0, 1.0, 1.0]})
    row = metrics_by(frame).iloc[0]
    assert math.isnan(row["mape"]) and math.isnan(row["stockout_miss_rate"])
    assert row["n_demand"] == 0 and row["n"] == 3
    assert undefined_reason("mape", row) == "no series-day with demand > 0 (every actual is 0)"
    assert undefined_reason("overstock_rate", row) is None


def test_a_nan_forecast_makes_the_new_metrics_nan_and_says_why() -> None:
    actual, forecast = [1.0, 2.0], [1.0, float("nan")]
    assert math.isnan(mape(actual, forecast))
    assert math.isnan(stockout_miss_rate(actual, forecast))
    assert math.isnan(overstock_rate(actual, forecast))
    frame = pd.DataFrame({"actual": actual, "forecast": forecast, "mase_scale": [1.0, 1.0]})
    row = metrics_by(frame).iloc[0]
    assert row[["mape", "stockout_miss_rate", "overstock_rate"]].isna().all()
    assert undefined_reason("mape", row) == "a NaN forecast or actual among the series-days"


def test_empty_input_gives_nan_for_every_new_metric() -> None:
    assert math.isnan(mape([], []))
    assert math.isnan(stockout_miss_rate([], []))
    assert math.isnan(overstock_rate([], []))
    empty = pd.DataFrame({"actual": [], "forecast": [], "mase_scale": []}, dtype=float)
    row = metrics_by(empty).iloc[0]
    assert row[["mape", "stockout_miss_rate", "overstock_rate"]].isna().all()
    assert (row["n"], row["n_demand"]) == (0, 0)
    assert undefined_reason("overstock_rate", row) == "no scored series-day"
    grouped = metrics_by(empty.assign(store_id=pd.Series([], dtype=str)), ["store_id"])
    assert grouped.empty and list(grouped.columns) == ["store_id", *METRIC_COLUMNS]


def test_metrics_by_agrees_with_the_array_functions_per_group(scored: pd.DataFrame) -> None:
    by_store = metrics_by(scored, ["store_id"]).set_index("store_id")
    for store, rows in scored.groupby("store_id"):
        a, f = rows["actual"], rows["forecast"]
        assert by_store.loc[store, "mape"] == pytest.approx(mape(a, f), nan_ok=True)
        assert by_store.loc[store, "stockout_miss_rate"] == pytest.approx(
            stockout_miss_rate(a, f), nan_ok=True
        )
        assert by_store.loc[store, "overstock_rate"] == pytest.approx(overstock_rate(a, f))
    # S1: |e|/a = 1, 0, 1/3 -> 4/9; S2: only its 4.0 day has demand -> 0
    assert by_store.loc["S1", "mape"] == pytest.approx(4 / 9)
    assert by_store.loc["S2", "mape"] == 0.0
    assert by_store["n_demand"].tolist() == [3, 1]
