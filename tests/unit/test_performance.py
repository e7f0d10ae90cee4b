from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from forecastops.domain.metrics import MASE_SCALE, metrics_by
from forecastops.domain.performance import (
    AWAITING_ACTUALS,
    DEGRADING,
    DRIFTING,
    HEALTH_FIELDS,
    HEALTHY,
    IMPROVING,
    INSUFFICIENT_DATA,
    MODEL_STATUSES,
    NO_BASELINE,
    REALIZED_COLUMNS,
    STABLE,
    STATUSES,
    TRENDS,
    WORSENING,
    PerformancePolicy,
    WindowAccuracy,
    assess_health,
    classify,
    classify_trend,
    realized_metrics,
    score_forecasts,
    status_since,
)
from forecastops.domain.simulator import DriftScenario, SimulationSpec, simulate_sales

SERIES = ["store_id", "product_id"]
CUTOFF = date(2024, 9, 30)  # the champion's training cutoff; it forecasts the 28 days after
HORIZON = 28
AS_OF = CUTOFF + timedelta(days=HORIZON)


def _sales(drift: DriftScenario | None = None) -> pd.DataFrame:
    spec = SimulationSpec(
        start=CUTOFF - timedelta(days=150),
        end=AS_OF,
        stores=2,
        products=10,
        seed=1,
        drift=drift,
    )
    return simulate_sales(spec)


def _flat_forecast(sales: pd.DataFrame, cutoff: date, version: str = "v1") -> pd.DataFrame:
    """Rows of the forecasts table: each series' mean of the 28 days up to `cutoff`, for the
    28 days after it (a forecast that knows nothing of what happens after the cutoff)."""
    end = pd.Timestamp(cutoff)
    recent = sales[(sales["date"] > end - pd.Timedelta(days=28)) & (sales["date"] <= end)]
    level = recent.groupby(SERIES, as_index=False).agg(p50=("units_sold", "mean"))
    days = pd.DataFrame({"date": pd.date_range(end + pd.Timedelta(days=1), periods=HORIZON)})
    rows = days.merge(level, how="cross")
    return rows.assign(
        horizon_step=(rows["date"] - end).dt.days,
        training_cutoff=cutoff.isoformat(),
        model_version=version,
    )


def _backtest_metrics(scored: pd.DataFrame) -> pd.DataFrame:
    """The backtest table's metrics rows of one candidate (series and overall levels)."""
    scored = scored.assign(**{MASE_SCALE: np.nan}, candidate="lightgbm_tweedie")
    return pd.concat(
        [
            metrics_by(scored, ["candidate", *SERIES]).assign(level="series"),
            metrics_by(scored, ["candidate"]).assign(level="overall"),
        ],
        ignore_index=True,
    )


def _champion_baseline(sales: pd.DataFrame) -> pd.DataFrame:
    """The flat forecaster's rolling-origin backtest before the cutoff: three 28-day folds."""
    folds = [_flat_forecast(sales, CUTOFF - timedelta(days=28 * k)) for k in (1, 2, 3)]
    return _backtest_metrics(pd.concat([score_forecasts(fold, sales) for fold in folds]))


def _constant_error_forecast(sales: pd.DataFrame, first: date, last: date) -> pd.DataFrame:
    """Forecasts off by exactly 0.5 units every day (sign alternating), issued the day before."""
    rows = sales[(sales["date"] >= pd.Timestamp(first)) & (sales["date"] <= pd.Timestamp(last))]
    sign = np.where(np.arange(len(rows)) % 2 == 0, 1.0, -1.0)
    return pd.DataFrame(
        {
            "date": rows["date"].to_numpy(),
            "store_id": rows["store_id"].to_numpy(),
            "product_id": rows["product_id"].to_numpy(),
            "p50": rows["units_sold"].to_numpy() + 0.5 * sign,
            "training_cutoff": (rows["date"] - pd.Timedelta(days=1)).dt.date.astype(str),
            "model_version": "v1",
        }
    )


def _hand_scored(abs_errors: dict[str, float], days: int, end: date = AS_OF) -> pd.DataFrame:
    """Scored rows of series S1/<product>, each with the same absolute error every day."""
    dates = pd.date_range(end=pd.Timestamp(end), periods=days)
    frames = [
        pd.DataFrame(
            {
                "date": dates,
                "store_id": "S1",
                "product_id": product,
                "actual": 10.0,
                "forecast": 10.0 + error,
            }
        )
        for product, error in abs_errors.items()
    ]
    return pd.concat(frames, ignore_index=True)


def _hand_baseline(maes: dict[str, float]) -> pd.DataFrame:
    rows = [
        {"level": "series", "store_id": "S1", "product_id": p, "mae": m} for p, m in maes.items()
    ]
    overall = {"level": "overall", "store_id": None, "product_id": None, "mae": 2.0}
    return pd.DataFrame([*rows, overall])


def test_accurate_forecasts_are_healthy() -> None:
    sales = _sales()
    backtest = score_forecasts(
        _constant_error_forecast(sales, CUTOFF - timedelta(days=83), CUTOFF), sales
    )
    live = score_forecasts(
        _constant_error_forecast(sales, CUTOFF + timedelta(days=1), AS_OF), sales
    )
    result = classify(realized_metrics(live, AS_OF), _backtest_metrics(backtest))

    assert result.model_status == HEALTHY
    assert result.overall_degradation == pytest.approx(0.0)
    assert result.overall_mae == pytest.approx(0.5)
    live_days = live.groupby(SERIES).size()
    assert result.counts[HEALTHY] == (live_days >= PerformancePolicy().health_min_points).sum() > 0
    assert result.counts[DRIFTING] == result.counts[DEGRADING] == 0
    # the rest were discontinued before or launched during the window
    assert result.counts[HEALTHY] + result.counts[INSUFFICIENT_DATA] == len(result.series)
    assert result.days == HORIZON
    assert list(result.counts) == list(STATUSES)
    assert "Champion performance: healthy" in result.to_markdown()


def test_forecasts_from_before_a_demand_shift_are_drifting() -> None:
    drift = DriftScenario(start=CUTOFF + timedelta(days=1), demand_factor=1.8)
    sales = _sales(drift)  # the days up to the cutoff are those of the undrifted simulation
    baseline = _champion_baseline(sales)
    scored = score_forecasts(_flat_forecast(sales, CUTOFF), sales)
    result = classify(realized_metrics(scored, AS_OF), baseline)

    assert result.model_status == DRIFTING
    assert result.overall_degradation > 2 * PerformancePolicy().health_drifting_threshold
    assert result.counts[DRIFTING] > len(result.series) / 2
    assert result.series["status"].iloc[0] == DRIFTING  # worst first
    assert (result.series["bias"].dropna() < 0.1).all()  # the flat forecast under-forecasts
    assert "Champion performance: drifting" in result.to_markdown()


def test_the_same_forecaster_without_a_shift_is_not_drifting() -> None:
    sales = _sales()
    scored = score_forecasts(_flat_forecast(sales, CUTOFF), sales)
    result = classify(realized_metrics(scored, AS_OF), _champion_baseline(sales))
    assert result.model_status != DRIFTING
    assert result.overall_degradation < PerformancePolicy().health_drifting_threshold


def test_the_15_percent_rule_at_its_boundaries() -> None:
    # baseline MAE 2.0 everywhere; realized MAE = the constant absolute error
    errors = {"HEALTHY": 2.1, "JUST_DEGRADING": 2.12, "AT_15": 2.3, "OVER_15": 2.32, "BETTER": 1.0}
    realized = realized_metrics(_hand_scored(errors, days=28), AS_OF)
    result = classify(realized, _hand_baseline(dict.fromkeys(errors, 2.0)))
    status = result.series.set_index("product_id")["status"].to_dict()
    assert status == {
        "HEALTHY": HEALTHY,  # +5 % is not more than 5 %
        "JUST_DEGRADING": DEGRADING,
        "AT_15": DEGRADING,  # +15 % is not more than 15 %
        "OVER_15": DRIFTING,
        "BETTER": HEALTHY,
    }
    degradation = result.series.set_index("product_id")["degradation"]
    assert degradation["AT_15"] == pytest.approx(0.15)
    assert result.counts == {
        DRIFTING: 1,
        DEGRADING: 2,
        HEALTHY: 2,
        NO_BASELINE: 0,
        INSUFFICIENT_DATA: 0,
    }
    # model: pooled MAE (2.1 + 2.12 + 2.3 + 2.32 + 1.0) / 5 = 1.968 against 2.0
    assert result.overall_degradation == pytest.approx(1.968 / 2.0 - 1)
    assert result.model_status == HEALTHY


def test_series_with_too_few_scored_days_have_insufficient_data() -> None:
    scored = pd.concat(
        [
            _hand_scored({"SIX_DAYS": 9.0}, days=6),
            _hand_scored({"SEVEN_DAYS": 9.0}, days=7),
            _hand_scored({"NEW": 9.0}, days=20),
        ]
    )
    baseline = _hand_baseline({"SIX_DAYS": 2.0, "SEVEN_DAYS": 2.0, "GONE": 2.0})
    result = classify(realized_metrics(scored, AS_OF), baseline)
    status = result.series.set_index("product_id")["status"].to_dict()
    assert status == {
        "SIX_DAYS": INSUFFICIENT_DATA,
        "SEVEN_DAYS": DRIFTING,
        "NEW": NO_BASELINE,  # launched after the backtest
        "GONE": INSUFFICIENT_DATA,  # in the backtest, never scored
    }
    assert result.series.set_index("product_id").loc["GONE", "n"] == 0

    too_short = realized_metrics(_hand_scored({"SEVEN_DAYS": 9.0}, days=5), AS_OF)
    assert classify(too_short, baseline).model_status == INSUFFICIENT_DATA


def test_score_forecasts_uses_the_forecast_in_force_on_each_day() -> None:
    day = pd.Timestamp(AS_OF)

    def row(product: str, p50: float, cutoff: str, version: str = "v1") -> dict[str, object]:
        return {
            "date": day,
            "store_id": "S1",
            "product_id": product,
            "p50": p50,
            "training_cutoff": cutoff,
            "model_version": version,
        }

    forecasts = pd.DataFrame(
        [
            row("P1", 1.0, "2024-10-25"),
            row("P1", 2.0, "2024-10-27"),
            row("P1", 3.0, "2024-10-28"),  # issued on the day itself: not a forecast
            row("P1", 4.0, "2024-10-27", version="v0"),
            row("P9", 5.0, "2024-10-27"),
        ]
    )
    actuals = pd.DataFrame(
        [{"date": day.date(), "store_id": "S1", "product_id": "P1", "units_sold": 4}]
    )
    scored = score_forecasts(forecasts, actuals, model_version="v1").set_index("product_id")
    # the cutoff-day forecast is not in force; P9 has no row on the delivered day: 0 sold
    assert list(scored.index) == ["P1", "P9"]
    picked = scored.loc["P1"]
    assert picked[["forecast", "actual", "error", "abs_error"]].tolist() == [2.0, 4.0, -2.0, 2.0]
    assert picked["training_cutoff"] == "2024-10-27" and picked["model_version"] == "v1"
    assert scored.loc["P9", ["forecast", "actual"]].tolist() == [5.0, 0.0]
    with pytest.raises(ValueError, match="pass model_version"):
        score_forecasts(forecasts, actuals)  # v0 and v1 both issued on 2024-10-27
    with pytest.raises(ValueError, match=r"missing the columns \['p50'\]"):
        score_forecasts(forecasts.drop(columns="p50"), actuals)


def test_realized_metrics_cover_the_last_7_and_28_days_up_to_as_of() -> None:
    scored = pd.concat(
        [
            _hand_scored({"P1": 1.0, "P2": 3.0}, days=40),
            _hand_scored({"P1": 50.0}, days=3, end=AS_OF + timedelta(days=3)).iloc[-3:],
        ]
    ).drop_duplicates(["date", *SERIES], keep="first")
    realized = realized_metrics(scored, AS_OF)
    assert list(realized.columns) == list(REALIZED_COLUMNS)
    overall = realized[realized["level"] == "overall"].set_index("window_days")
    assert overall.loc[7, "n"] == 14 and overall.loc[28, "n"] == 56  # later days ignored
    assert overall.loc[28, "days"] == 28
    assert overall.loc[28, "mae"] == pytest.approx(2.0)
    assert overall.loc[28, "wape"] == pytest.approx(2.0 / 10.0)
    series = realized[(realized["level"] == "series") & (realized["window_days"] == 7)]
    assert series.set_index("product_id")["mae"].to_dict() == {"P1": 1.0, "P2": 3.0}
    assert realized.loc[realized["level"] == "overall", "store_id"].isna().all()

    empty = realized_metrics(scored, date(2020, 1, 1), windows=(28,))
    assert len(empty) == 1 and empty["n"].iloc[0] == 0 and math.isnan(empty["mae"].iloc[0])


def test_classify_refuses_ambiguous_baselines_and_missing_windows() -> None:
    realized = realized_metrics(_hand_scored({"P1": 1.0}, days=28), AS_OF, windows=(7,))
    baseline = _hand_baseline({"P1": 1.0})
    with pytest.raises(ValueError, match="no 28-day window"):
        classify(realized, baseline)
    only_28 = realized_metrics(_hand_scored({"P1": 1.0}, days=28), AS_OF, windows=(28,))
    with pytest.raises(ValueError, match="no 7-day window"):
        classify(only_28, baseline)
    mixed = pd.concat([baseline.assign(candidate="a"), baseline.assign(candidate="b")])
    with pytest.raises(ValueError, match="several candidates"):
        classify(realized_metrics(_hand_scored({"P1": 1.0}, days=28), AS_OF), mixed)
    with pytest.raises(ValueError, match="drifting_threshold"):
        PerformancePolicy(health_degrading_threshold=0.2, health_drifting_threshold=0.1)


# -- the one definition: which rows, which window, which status --------------------------------

DAY = date(2025, 3, 14)


def _forecasts(days: list[date], products: list[str], p50: float) -> pd.DataFrame:
    """One-day-ahead forecasts of S1/<product> on `days` (each issued the day before)."""
    return pd.DataFrame(
        [
            {
                "date": pd.Timestamp(day),
                "store_id": "S1",
                "product_id": product,
                "p50": p50,
                "training_cutoff": (day - timedelta(days=1)).isoformat(),
                "model_version": "v1",
            }
            for day in days
            for product in products
        ]
    )


def _actuals(days: list[date], products: list[str], units: int) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"date": day, "store_id": "S1", "product_id": product, "units_sold": units}
            for day in days
            for product in products
        ]
    )


def test_a_delivered_day_without_a_series_row_counts_as_zero_sold() -> None:
    forecasts = _forecasts([DAY], ["P1", "P2"], 4.0)
    actuals = _actuals([DAY], ["P1"], 4)  # a sparse feed omits P2, which sold nothing

    scored = score_forecasts(forecasts, actuals, delivered_days=[DAY]).set_index("product_id")

    assert scored["actual"].to_dict() == {"P1": 4.0, "P2": 0.0}
    assert scored.loc["P2", "abs_error"] == 4.0


def test_a_day_without_a_raw_sales_partition_is_never_scored_as_zero() -> None:
    days = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    rejected = days[1]  # its landing file broke the contract: no raw_sales partition
    forecasts = _forecasts(days, ["P1", "P2"], 5.0)
    actuals = _actuals([days[0], days[2]], ["P1", "P2"], 4)

    for delivered in ([days[0], days[2]], None):  # None: the days that have actuals rows
        scored = score_forecasts(forecasts, actuals, delivered_days=delivered)
        assert rejected not in set(scored["date"].dt.date)
        assert (scored["actual"] == 4.0).all()
    health = assess_health(scored, _hand_baseline({"P1": 1.0, "P2": 1.0}), DAY)
    assert health.recent.days_scored == 2 and health.recent.wape == pytest.approx(0.25)


def test_actuals_of_a_day_that_was_not_delivered_are_refused() -> None:
    actuals = _actuals([DAY], ["P1"], 4)
    with pytest.raises(ValueError, match="not in delivered_days"):
        score_forecasts(_forecasts([DAY], ["P1"], 4.0), actuals, delivered_days=[])


def test_the_windows_end_at_as_of_so_actuals_that_stopped_leave_fewer_scored_days() -> None:
    stopped = DAY - timedelta(days=3)  # the last delivered day
    older = _hand_scored({"P1": 1.0}, days=20, end=stopped - timedelta(days=4))
    newest = _hand_scored({"P1": 3.0}, days=4, end=stopped)
    health = assess_health(pd.concat([older, newest]), _hand_baseline({"P1": 1.0}), DAY)

    assert (health.recent.first, health.recent.last) == (DAY - timedelta(days=6), DAY)
    assert health.recent.days_scored == 4  # not slid back to 7 days ending at `stopped`
    assert health.recent.wape == pytest.approx(0.3) and health.recent.mae == pytest.approx(3.0)
    assert health.last_scored_day == stopped
    assert health.status == DRIFTING  # a verdict: the last 7 days hold scored days
    assert health.summary()["as_of"] == DAY.isoformat()


def test_a_week_without_actuals_is_awaiting_actuals_not_last_months_verdict() -> None:
    # three weeks scored, far worse than the backtest, then nothing for the last 7 days
    scored = _hand_scored({"P1": 9.0}, days=21, end=DAY - timedelta(days=7))
    health = assess_health(scored, _hand_baseline({"P1": 2.0}), DAY)

    assert health.status == AWAITING_ACTUALS
    assert health.performance.days == 21  # enough for a verdict, but none of it is current
    summary = health.summary()
    assert summary["wape_7d"] is None and summary["days_scored_7d"] == 0
    assert summary["last_scored_day"] == (DAY - timedelta(days=7)).isoformat()
    assert health.trend is None
    assert "awaiting_actuals" in health.to_markdown()


def test_no_actuals_after_the_cutoff_is_awaiting_actuals() -> None:
    cutoff = DAY - timedelta(days=3)
    ahead = [cutoff + timedelta(days=step) for step in range(1, 8)]
    forecasts = _forecasts(ahead, ["P1"], 5.0).assign(training_cutoff=cutoff.isoformat())
    actuals = _actuals([cutoff], ["P1"], 4)  # delivered up to the cutoff only

    scored = score_forecasts(forecasts, actuals, delivered_days=[cutoff])
    health = assess_health(scored, _hand_baseline({"P1": 1.0}), DAY)

    assert scored.empty
    assert health.status == AWAITING_ACTUALS and health.last_scored_day is None
    summary = health.summary()
    assert summary["scored_days"] == 0
    assert summary["overall_degradation"] is None and summary["mae_7d"] is None


@pytest.mark.parametrize(
    ("recent", "previous", "trend"),
    [
        ((7, 0.20), (7, 0.20), STABLE),
        ((7, 0.22), (7, 0.20), WORSENING),
        ((7, 0.18), (7, 0.20), IMPROVING),
        ((5, 0.22), (5, 0.20), WORSENING),  # 5 scored days in each window are enough
        ((4, 0.22), (7, 0.20), None),
        ((7, 0.22), (7, None), None),
        ((7, 0.22), (7, 0.0), None),
    ],
)
def test_the_trend_compares_the_last_7_days_with_the_7_before(
    recent: tuple[int, float], previous: tuple[int, float | None], trend: str | None
) -> None:
    def window(days: int, wape: float | None, end: date) -> WindowAccuracy:
        return WindowAccuracy(end - timedelta(days=6), end, days, wape, None)

    last_week = window(*recent, DAY)
    week_before = window(*previous, DAY - timedelta(days=7))
    assert classify_trend(last_week, week_before) == trend


def test_degrading_means_only_the_health_class_and_the_trend_has_its_own_words() -> None:
    assert not set(TRENDS) & set(MODEL_STATUSES)
    assert set(STATUSES) < set(MODEL_STATUSES) and DEGRADING in STATUSES
    # 8 % worse than the backtest over 28 days, and the last week worse than the one before
    scored = pd.concat(
        [
            _hand_scored({"P1": 2.0}, days=21, end=DAY - timedelta(days=7)),
            _hand_scored({"P1": 2.48}, days=7, end=DAY),
        ]
    )
    health = assess_health(scored, _hand_baseline({"P1": 2.0}), DAY)
    assert health.status == DEGRADING
    assert health.trend == WORSENING


def test_the_health_summary_is_one_json_ready_record() -> None:
    scored = _hand_scored({"P1": 1.0, "P2": 3.0}, days=28)
    health = assess_health(scored, _hand_baseline({"P1": 2.0, "P2": 2.0}), AS_OF)

    summary = health.summary()
    assert list(summary) == list(HEALTH_FIELDS)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["model_status"] == HEALTHY and summary["overall_degradation"] == 0.0
    assert summary["wape_7d"] == pytest.approx(0.2) and summary["mae_7d"] == pytest.approx(2.0)
    assert summary["days_scored_7d"] == summary["previous_days_scored_7d"] == 7
    assert summary["scored_days"] == 28 and summary["trend"] == STABLE


def test_without_a_backtest_the_model_has_no_baseline() -> None:
    baseline = pd.DataFrame(columns=["candidate", "level", "store_id", "product_id", "mae"])
    health = assess_health(_hand_scored({"P1": 1.0}, days=28), baseline, AS_OF)

    assert health.status == NO_BASELINE
    assert health.recent.wape == pytest.approx(0.1)
    assert set(health.performance.series["status"]) == {NO_BASELINE}


# -- the verdict line -------------------------------------------------------------------------


def test_the_verdict_names_the_champion_its_status_since_when_and_what_to_do() -> None:
    healthy = assess_health(
        _hand_scored({"P1": 1.0, "P2": 1.0}, days=28), _hand_baseline({"P1": 1.0, "P2": 1.0}), AS_OF
    )
    drifting = assess_health(
        _hand_scored({"P1": 2.0, "P2": 2.0}, days=28), _hand_baseline({"P1": 1.0, "P2": 1.0}), AS_OF
    )
    waiting = assess_health(
        _hand_scored({"P1": 1.0}, days=7, end=AS_OF - timedelta(days=20)),
        _hand_baseline({"P1": 1.0}),
        AS_OF,
    )

    assert healthy.verdict("3").startswith("Champion v3 is healthy: MAE +0% vs its backtest")
    assert healthy.verdict("3").endswith("Nothing to do.")
    since = AS_OF - timedelta(days=4)
    assert drifting.verdict("3", since).startswith(
        f"Champion v3 is drifting since {since.isoformat()}: MAE +100% vs its backtest"
    )
    assert "approve its performance_drift alert" in drifting.verdict("3")
    assert waiting.verdict("7").startswith("Champion v7 is awaiting actuals: no scored day")


def test_status_since_is_the_start_of_the_run_ending_on_the_day() -> None:
    days = pd.to_datetime(["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-05", "2026-11-06"])
    statuses = pd.Series(["healthy", "drifting", "healthy", "healthy", "healthy"], index=days)

    assert status_since(statuses, date(2026, 11, 6)) == date(2026, 11, 3)  # a gap is no change
    assert status_since(statuses, date(2026, 11, 2)) == date(2026, 11, 2)
    assert status_since(statuses, date(2026, 11, 4)) is None  # no status stored that day
    assert status_since(statuses.iloc[3:], date(2026, 11, 6)) == date(2026, 11, 5)


# -- MAPE, stockout-miss and overstock rates in the health ---------------------------------------


def test_the_health_reports_mape_stockout_and_overstock_over_delivered_days_only() -> None:
    days = [DAY - timedelta(days=back) for back in range(3, -1, -1)]
    rejected = days[1]  # no raw_sales partition: its huge P50 must not count as an overstock
    forecasts = pd.concat(
        [
            _forecasts([days[0], days[2], days[3]], ["P1"], 4.0),  # 5 sold: |e|/a = 0.2
            _forecasts([days[0], days[2], days[3]], ["P2"], 0.3),  # 2 sold: a stockout-miss
            _forecasts([rejected], ["P1", "P2"], 99.0),
        ]
    )
    actuals = pd.concat(
        [
            _actuals([days[0], days[2], days[3]], ["P1"], 5),
            _actuals([days[0], days[2], days[3]], ["P2"], 2),
        ]
    )
    scored = score_forecasts(forecasts, actuals, delivered_days=[days[0], days[2], days[3]])
    health = assess_health(scored, _hand_baseline({"P1": 1.0, "P2": 1.0}), DAY)

    summary = health.summary()
    assert health.recent.days_scored == 3  # the rejected day is unknown, not scored
    # per day: P1 0.2, P2 |2 - 0.3| / 2 = 0.85 -> mean 0.525; P2 misses every day (3 of 6)
    assert summary["mape_7d"] == pytest.approx(0.525)
    assert summary["stockout_miss_rate_7d"] == pytest.approx(0.5)
    assert summary["overstock_rate_7d"] == 0.0  # the rejected day's 99 would be 2 of 8
    assert summary["unknown_7d"] is None
    assert "MAPE (days with demand) 0.525; stockout-miss rate 0.500" in health.to_markdown()


def test_a_week_of_zero_sales_leaves_mape_unknown_with_the_reason() -> None:
    days = [DAY - timedelta(days=back) for back in range(6, -1, -1)]
    scored = score_forecasts(
        _forecasts(days, ["P1"], 2.0), _actuals(days, ["P1"], 0), delivered_days=days
    )
    summary = assess_health(scored, _hand_baseline({"P1": 1.0}), DAY).summary()

    assert summary["mape_7d"] is None and summary["stockout_miss_rate_7d"] is None
    assert summary["overstock_rate_7d"] == 1.0  # 2 units forecast, none sold, every day
    reason = "no series-day with demand > 0 (every actual is 0)"
    assert summary["unknown_7d"] == f"mape: {reason}; stockout_miss_rate: {reason}"
    assert json.loads(json.dumps(summary)) == summary
