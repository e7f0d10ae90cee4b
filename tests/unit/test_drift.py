from __future__ import annotations

import math
import subprocess
import sys
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecastops.domain.drift import (
    FEATURE_COLUMNS,
    NULL_RATE_COLUMNS,
    DriftPolicy,
    detect_data_drift,
    drift_feature_columns,
    target_shift,
)
from forecastops.domain.features import FeatureSpec, build_training_frame
from forecastops.domain.simulator import DriftScenario, SimulationSpec, simulate_sales

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC = FeatureSpec()
COLUMNS, CATEGORICAL = drift_feature_columns(SPEC)
# 4 stores x 25 products: 100 series, enough that one product's launch or season does not
# decide a feature's distribution (at 20 series it often does), still < 0.1 s to simulate.
STORES, PRODUCTS, SEED = 4, 25, 1
REFERENCE_DAYS, CURRENT_DAYS = 120, 28
UNITS_FEATURES = {f"lag_{lag}" for lag in SPEC.lags} | {
    f"rolling_{stat}_{window}" for window in SPEC.windows for stat in ("mean", "std")
}


@cache
def _sales(cutoff: date, drift: DriftScenario | None = None) -> pd.DataFrame:
    """Simulated sales from 200 days before `cutoff` to the end of the current window."""
    spec = SimulationSpec(
        start=cutoff - timedelta(days=200),
        end=cutoff + timedelta(days=CURRENT_DAYS),
        stores=STORES,
        products=PRODUCTS,
        seed=SEED,
        drift=drift,
    )
    return simulate_sales(spec)


def _windows(cutoff: date, drift: DriftScenario | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of the champion's training window (120 days up to `cutoff`) and of the 28
    days after it, from one simulation (drifted from `drift.start` when given)."""
    sales = _sales(cutoff, drift)
    reference = build_training_frame(
        sales, SPEC, start=cutoff - timedelta(days=REFERENCE_DAYS - 1), end=cutoff
    )
    current = build_training_frame(
        sales,
        SPEC,
        start=cutoff + timedelta(days=1),
        end=cutoff + timedelta(days=CURRENT_DAYS),
    )
    return reference, current


SPRING, AUTUMN = date(2024, 3, 31), date(2024, 9, 30)


def test_importing_drift_does_not_load_evidently() -> None:
    code = (
        "import sys, forecastops.domain.drift; "
        "assert 'evidently' not in sys.modules, 'forecastops.domain.drift imported evidently'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, timeout=60)


def test_default_columns_leave_out_window_bound_calendar_and_series_key() -> None:
    assert set(CATEGORICAL) == {"day_of_week", "is_discount", "on_promotion"}
    assert set(CATEGORICAL) <= set(COLUMNS)
    assert UNITS_FEATURES | {"price", "price_ratio"} <= set(COLUMNS)
    for left_out in ("month", "week_of_year", "day_of_month", "is_holiday", "store_id"):
        assert left_out not in COLUMNS


@pytest.mark.parametrize("cutoff", [SPRING, AUTUMN])
def test_undrifted_windows_of_one_simulation_do_not_raise_the_alarm(cutoff: date) -> None:
    reference, current = _windows(cutoff)
    result = detect_data_drift(reference, current, COLUMNS, CATEGORICAL)
    assert not result.dataset_drifted
    assert not result.target_drifted
    assert not result.alarm
    assert result.overall_score < 1.0
    assert abs(result.target_shift) < DriftPolicy().drift_target_shift_threshold
    assert list(result.features.columns) == list(FEATURE_COLUMNS)
    assert not result.null_rates["drifted"].any()


def test_demand_and_promotion_shift_raises_the_alarm_and_ranks_shifted_features_first(
    tmp_path: Path,
) -> None:
    drift = DriftScenario(start=AUTUMN + timedelta(days=1), demand_factor=1.8, promo_rate=0.3)
    reference, current = _windows(AUTUMN, drift)
    html = tmp_path / "reports" / "drift.html"
    result = detect_data_drift(reference, current, COLUMNS, CATEGORICAL, html_path=html)

    assert result.dataset_drifted and result.target_drifted and result.alarm
    assert result.target_shift > 0.5  # demand x1.8 on most series
    assert result.drift_share >= DriftPolicy().drift_share_threshold
    assert result.overall_score >= 2.0
    top = set(result.top(5)["feature"])
    assert "on_promotion" in top
    assert top & UNITS_FEATURES
    assert "day_of_week" not in set(result.drifted_features)
    ranked = result.features["severity"].to_numpy()
    assert (np.diff(ranked) <= 0).all()

    assert html.stat().st_size > 10_000
    assert "on_promotion" in html.read_text(encoding="utf-8")
    summary = result.to_markdown(n=5)
    assert "Data drift: DRIFT" in summary and "on_promotion" in summary


def test_price_rise_puts_the_price_features_on_top() -> None:
    drift = DriftScenario(start=AUTUMN + timedelta(days=1), demand_factor=1.0, price_factor=1.3)
    result = detect_data_drift(*_windows(AUTUMN, drift), COLUMNS, CATEGORICAL)
    assert set(result.top(2)["feature"]) == {"price", "price_ratio"}
    assert result.top(2)["drifted"].all()
    assert result.target_shift < -0.2  # demand answers the price through its elasticity
    assert result.alarm


def test_a_column_going_null_is_flagged_and_an_empty_one_ranks_first() -> None:
    reference, current = _windows(AUTUMN)
    current = current.copy()
    current.loc[current.index[::3], "price"] = np.nan  # a third of the rows lose their price
    current["rolling_std_28"] = np.nan
    result = detect_data_drift(reference, current, COLUMNS, CATEGORICAL)

    nulls = result.null_rates.set_index("column")
    assert list(result.null_rates.columns) == list(NULL_RATE_COLUMNS)
    assert nulls.loc["price", "change"] == pytest.approx(1 / 3, abs=0.01)
    assert nulls.loc["price", "drifted"]
    assert nulls.loc["rolling_std_28", "current_null_share"] == 1.0
    assert set(nulls.index[nulls["drifted"]]) == {"price", "rolling_std_28"}
    first = result.features.iloc[0]
    assert first["feature"] == "rolling_std_28"
    assert math.isnan(first["score"]) and first["drifted"] and first["severity"] == math.inf
    assert "Null shares that moved" in result.to_markdown()


def test_sampling_is_seeded_so_reruns_give_the_same_scores() -> None:
    reference, current = _windows(SPRING)
    policy = DriftPolicy(drift_max_rows=2_000, seed=7)
    first = detect_data_drift(reference, current, COLUMNS, CATEGORICAL, policy)
    again = detect_data_drift(reference, current, COLUMNS, CATEGORICAL, policy)
    pd.testing.assert_frame_equal(first.features, again.features)
    assert first.reference_rows == len(reference) > policy.drift_max_rows


def test_target_shift_is_the_median_series_change_unmoved_by_new_series() -> None:
    def frame(means: dict[str, float]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "store_id": "S1",
                "product_id": list(means),
                "units_sold": list(means.values()),
            }
        )

    reference = frame({"A": 9.9, "B": 0.9, "C": 4.9})
    current = frame({"A": 19.9, "B": 1.9, "C": 4.9, "NEW": 500.0})
    # per series (cur + 0.1) / (ref + 0.1): 2.0, 2.0, 1.0 -> median 2.0; NEW has no reference
    assert target_shift(reference, current) == pytest.approx(1.0)
    pooled = target_shift(reference.drop(columns="product_id"), current.drop(columns="product_id"))
    assert pooled == pytest.approx(
        current["units_sold"].mean() / reference["units_sold"].mean() - 1
    )


def test_bad_inputs_are_refused_with_the_fix() -> None:
    reference, current = _windows(SPRING)
    with pytest.raises(ValueError, match=r"current frame is missing the columns \['price'\]"):
        detect_data_drift(reference, current.drop(columns="price"), COLUMNS, CATEGORICAL)
    with pytest.raises(ValueError, match="not in columns"):
        detect_data_drift(reference, current, ["price"], ["on_promotion"])
    with pytest.raises(ValueError, match="drift_share_threshold"):
        DriftPolicy(drift_share_threshold=1.5)


def test_the_signal_says_which_drift_fired() -> None:
    """A level shift of demand moves no feature's distribution: the words say the alarm came
    from the target alone, not "top drifted features: none"."""
    from dataclasses import replace

    import pandas as pd

    from forecastops.domain.drift import DriftPolicy, DriftResult

    features = pd.DataFrame(
        {"feature": ["lag_7", "price"], "drifted": [False, False], "score": [0.1, 0.0]}
    )
    quiet = DriftResult(
        features=features,
        null_rates=pd.DataFrame({"column": [], "drifted": []}),
        drift_share=0.0,
        dataset_drifted=False,
        target_shift=0.45,
        target_drifted=True,
        overall_score=1.5,
        policy=DriftPolicy(),
        reference_rows=10,
        current_rows=10,
    )
    both = replace(
        quiet,
        features=features.assign(drifted=[True, False]),
        drift_share=0.5,
        dataset_drifted=True,
    )

    assert quiet.signal == "no feature over threshold; alarm from target shift +45.0%"
    assert (
        both.signal
        == "dataset drift (1 of 2 features over threshold (lag_7)) and target shift +45.0%"
    )
    assert replace(quiet, target_shift=0.1, target_drifted=False).signal.startswith("no drift")


def test_missing_days_are_skipped_not_read_as_days_without_demand() -> None:
    """Four days of the current window were rejected: the drift score reads the other days (no
    rows on the missing ones, NaN lags that read them), so demand does not seem to fall; had
    the days been read as 0 sold for every series, the target would shift by about -4/28."""
    cutoff = SPRING
    sales = _sales(cutoff)
    gone = [cutoff + timedelta(days=offset) for offset in (10, 11, 12, 13)]
    rejected = sales[~sales["date"].isin(pd.to_datetime(gone))]
    zeroed = sales.assign(
        units_sold=sales["units_sold"].where(~sales["date"].isin(pd.to_datetime(gone)), 0)
    )
    reference, intact = _windows(cutoff)

    def current(frame: pd.DataFrame) -> pd.DataFrame:
        start, end = cutoff + timedelta(days=1), cutoff + timedelta(days=CURRENT_DAYS)
        return build_training_frame(frame, SPEC, start=start, end=end)

    skipped = current(rejected)
    baseline = detect_data_drift(reference, intact, COLUMNS, CATEGORICAL)
    result = detect_data_drift(reference, skipped, COLUMNS, CATEGORICAL)
    as_zero = detect_data_drift(reference, current(zeroed), COLUMNS, CATEGORICAL)

    assert not skipped["date"].isin(pd.to_datetime(gone)).any()
    assert abs(result.target_shift - baseline.target_shift) < 0.03
    assert as_zero.target_shift < baseline.target_shift - 0.08
    assert not result.alarm
