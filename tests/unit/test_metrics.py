from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecastops.domain.metrics import (
    METRIC_COLUMNS,
    bias,
    interval_coverage,
    mae,
    mase,
    metrics_by,
    rmse,
    seasonal_naive_scale,
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
