from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecastops.domain.backtest import (
    PREDICTION_COLUMNS,
    SEASONAL_NAIVE,
    STATUS_FAILED,
    STATUS_OK,
    BacktestFailedError,
    BacktestResult,
    BacktestSpec,
    ResidualQuantiles,
    plot_backtest,
    run_backtest,
)
from forecastops.domain.forecasters import LIGHTGBM_POISSON, LIGHTGBM_TWEEDIE, make_forecaster
from forecastops.domain.metrics import (
    METRIC_COLUMNS,
    mape,
    overstock_rate,
    seasonal_naive_scale,
    stockout_miss_rate,
)

SPEC = BacktestSpec(evaluation_days=90, horizon=28, folds=3)
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2025, 6, 30)
STORES = ("S1", "S2")
PRODUCTS = ("P1", "P2", "P3")
SERIES = ["store_id", "product_id"]
ROW = ["date", *SERIES]


def _sales() -> pd.DataFrame:
    """A small retailer: weekly pattern x series level, deterministic noise, a few promotions."""
    days = pd.date_range(FIRST_DAY, LAST_DAY)
    grid = pd.MultiIndex.from_product([days, STORES, PRODUCTS], names=ROW).to_frame(index=False)
    rng = np.random.default_rng(3)
    level = 5.0 * (1 + np.arange(len(grid)) % (len(STORES) * len(PRODUCTS)))
    weekly = 1.0 + 0.5 * (grid["date"].dt.dayofweek >= 5).to_numpy()
    units = rng.poisson(level * weekly)
    return grid.assign(
        units_sold=units.astype(np.int64),
        price=2.5,
        on_promotion=rng.random(len(grid)) < 0.05,
    )


class LastValue:
    """Forecasts each series' last observed value."""

    name = "last_value"

    def fit(self, history: pd.DataFrame) -> LastValue:
        last = history.sort_values("date").groupby(SERIES, as_index=False).tail(1)
        self.last = last[[*SERIES, "units_sold"]].rename(columns={"units_sold": "forecast"})
        return self

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        return future.merge(self.last, on=SERIES, how="left").fillna({"forecast": 0.0})


class SeasonalNaive:
    """Forecasts the value of the same weekday in the last week of history."""

    name = SEASONAL_NAIVE

    def fit(self, history: pd.DataFrame) -> SeasonalNaive:
        return self

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        last_week = history[history["date"] > history["date"].max() - pd.Timedelta(days=7)]
        weekday = last_week.assign(weekday=last_week["date"].dt.dayofweek)
        lookup = weekday[[*SERIES, "weekday", "units_sold"]].rename(
            columns={"units_sold": "forecast"}
        )
        with_weekday = future.assign(weekday=future["date"].dt.dayofweek)
        return with_weekday.merge(lookup, on=[*SERIES, "weekday"], how="left").drop(
            columns="weekday"
        )


class Oracle:
    """Knows the truth (given at construction), so it forecasts perfectly."""

    name = "oracle"

    def __init__(self, truth: pd.DataFrame, offset_after: date | None = None) -> None:
        self.truth = truth[[*ROW, "units_sold"]].rename(columns={"units_sold": "forecast"})
        self.offset_after = offset_after

    def fit(self, history: pd.DataFrame) -> Oracle:
        return self

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        predicted = future.merge(self.truth, on=ROW, how="left")
        if self.offset_after is not None and history["date"].max() >= pd.Timestamp(
            self.offset_after
        ):
            predicted["forecast"] = predicted["forecast"] + 50.0
        return predicted


@dataclass(frozen=True)
class Seen:
    """What one fit or predict call was shown."""

    call: str
    history_start: pd.Timestamp
    history_end: pd.Timestamp
    future: pd.DataFrame | None = None


class Recorder:
    """Records what it was shown; forecasts zero."""

    name = "recorder"

    def __init__(self, log: list[Seen]) -> None:
        self.log = log

    def fit(self, history: pd.DataFrame) -> Recorder:
        self.log.append(Seen("fit", history["date"].min(), history["date"].max()))
        return self

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        self.log.append(Seen("predict", history["date"].min(), history["date"].max(), future))
        return future.assign(forecast=0.0)


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return _sales()


@pytest.fixture(scope="module")
def result(sales: pd.DataFrame) -> BacktestResult:
    candidates: dict[str, Callable[[], LastValue | SeasonalNaive | Oracle]] = {
        "last_value": LastValue,
        SEASONAL_NAIVE: SeasonalNaive,
        "oracle": lambda: Oracle(sales),
    }
    return run_backtest(sales, candidates, SPEC)


def test_fold_cutoffs_for_the_default_spec_are_exact() -> None:
    assert SPEC.step == 31
    assert SPEC.fold_cutoffs(LAST_DAY) == [date(2025, 4, 1), date(2025, 5, 2), date(2025, 6, 2)]
    assert SPEC.fold_cutoffs(LAST_DAY)[-1] + timedelta(days=SPEC.horizon) == LAST_DAY


def test_uneven_folds_end_at_the_last_day_and_stay_inside_the_window() -> None:
    spec = BacktestSpec(evaluation_days=101, horizon=28, folds=4)
    cutoffs = spec.fold_cutoffs(LAST_DAY)
    assert spec.step == 24
    assert [(LAST_DAY - cutoff).days for cutoff in cutoffs] == [100, 76, 52, 28]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"folds": 2}, "folds"),
        ({"horizon": 0}, "horizon"),
        ({"evaluation_days": 29}, "evaluation_days"),
    ],
)
def test_a_bad_spec_names_its_field(fields: dict[str, int], named: str) -> None:
    with pytest.raises(ValueError, match=rf"BacktestSpec\.{named}"):
        BacktestSpec(**fields)


def test_no_forecaster_sees_a_day_after_its_cutoff(sales: pd.DataFrame) -> None:
    log: list[Seen] = []
    run_backtest(sales, {"recorder": lambda: Recorder(log)}, SPEC, workers=1)  # log in fold order
    cutoffs = [pd.Timestamp(cutoff) for cutoff in SPEC.fold_cutoffs(LAST_DAY)]
    assert [seen.call for seen in log] == ["fit", "predict"] * SPEC.folds
    assert [seen.history_end for seen in log] == [
        cutoff for cutoff in cutoffs for _call in ("fit", "predict")
    ]
    futures = [seen.future for seen in log if seen.future is not None]
    for future, cutoff in zip(futures, cutoffs, strict=True):
        assert future["date"].min() == cutoff + pd.Timedelta(days=1)
        assert future["date"].max() == cutoff + pd.Timedelta(days=SPEC.horizon)
        assert "units_sold" not in future.columns
        assert future["price"].notna().all()


def test_window_days_limits_the_history(sales: pd.DataFrame) -> None:
    log: list[Seen] = []
    run_backtest(sales, {"recorder": lambda: Recorder(log)}, SPEC, window_days=30)
    for seen in log:
        assert seen.history_end - seen.history_start == pd.Timedelta(days=29)


@pytest.mark.parametrize("window_days", [None, 30])
def test_mase_scale_comes_from_the_fold_history_only(
    sales: pd.DataFrame, window_days: int | None
) -> None:
    result = run_backtest(sales, {"last_value": LastValue}, SPEC, window_days=window_days)
    cutoff = pd.Timestamp(SPEC.fold_cutoffs(LAST_DAY)[1])
    history = sales[sales["date"] <= cutoff]
    if window_days is not None:
        history = history[history["date"] > cutoff - pd.Timedelta(days=window_days)]
    expected = seasonal_naive_scale(history)
    fold = result.predictions[result.predictions["fold"] == 1]
    got = fold.drop_duplicates(SERIES)[[*SERIES, "mase_scale"]]
    merged = got.merge(expected, on=SERIES, suffixes=("", "_expected"))
    assert len(merged) == len(STORES) * len(PRODUCTS)
    np.testing.assert_allclose(merged["mase_scale"], merged["mase_scale_expected"])


def test_predictions_hold_every_future_row_per_candidate(
    sales: pd.DataFrame, result: BacktestResult
) -> None:
    predictions = result.predictions
    assert tuple(predictions.columns) == PREDICTION_COLUMNS
    rows_per_fold = len(STORES) * len(PRODUCTS) * SPEC.horizon
    assert len(predictions) == 3 * SPEC.folds * rows_per_fold
    assert predictions["horizon_step"].between(1, SPEC.horizon).all()
    assert (predictions["date"] - predictions["cutoff"]).dt.days.equals(predictions["horizon_step"])
    actual = predictions.merge(sales, on=ROW)
    assert (actual["actual"] == actual["units_sold"]).all()


def test_the_oracle_scores_zero_error_at_every_level(result: BacktestResult) -> None:
    oracle = result.metrics[result.metrics["candidate"] == "oracle"]
    assert (oracle["wape"] == 0).all()
    assert (oracle["mase"] == 0).all()
    levels = oracle["level"].value_counts().to_dict()
    assert levels == {"overall": 1, "store": 2, "product": 3, "series": 6}
    assert result.store_wape("oracle") == {"S1": 0.0, "S2": 0.0}


def test_ranking_puts_the_best_first_and_says_why(result: BacktestResult) -> None:
    ranking = result.ranking()
    assert ranking.winner == "oracle"
    assert ranking.table["candidate"].iloc[0] == "oracle"
    assert ranking.table["wape"].is_monotonic_increasing
    runner_up = ranking.table["candidate"].iloc[1]
    assert f"**{runner_up}**" in ranking.explanation
    assert "100.0 % better" in ranking.explanation
    assert "Its bias is +0.0 %" in ranking.explanation
    assert "| oracle" in ranking.to_markdown()


def test_mape_stockout_and_overstock_rates_score_every_family_at_every_level(
    sales: pd.DataFrame,
) -> None:
    result = run_backtest(
        sales,
        {
            "oracle": lambda: Oracle(sales),
            "zero": lambda: Recorder([]),  # forecasts 0: misses every day with demand
            "oracle_plus_50": lambda: Oracle(sales, offset_after=FIRST_DAY),
        },
        SPEC,
    )
    overall = result.metrics[result.metrics["level"] == "overall"].set_index("candidate")
    assert overall.loc["oracle", ["mape", "stockout_miss_rate", "overstock_rate"]].eq(0).all()
    assert overall.loc["zero", "stockout_miss_rate"] == 1.0
    assert overall.loc["zero", "mape"] == 1.0 and overall.loc["zero", "overstock_rate"] == 0.0
    # 50 units over demand of at most ~70 a day is more than 20 % and one unit: every day
    assert overall.loc["oracle_plus_50", "overstock_rate"] == 1.0
    days_with_demand = int((result.predictions["actual"] > 0).sum()) // 3
    assert (overall["n_demand"] == days_with_demand).all()
    for candidate, rows in result.predictions.groupby("candidate"):  # one definition
        a, f = rows["actual"], rows["forecast"]
        assert overall.loc[candidate, "mape"] == pytest.approx(mape(a, f))
        assert overall.loc[candidate, "stockout_miss_rate"] == stockout_miss_rate(a, f)
        assert overall.loc[candidate, "overstock_rate"] == overstock_rate(a, f)
    series = result.metrics[result.metrics["level"] == "series"]
    assert series.groupby("candidate")["stockout_miss_rate"].max().to_dict()["zero"] == 1.0
    assert set(METRIC_COLUMNS) <= set(result.ranking().table.columns)
    assert set(METRIC_COLUMNS) <= set(result.fold_metrics.columns)


def test_fold_metrics_hold_one_wape_per_candidate_and_fold(result: BacktestResult) -> None:
    assert len(result.fold_metrics) == 3 * SPEC.folds
    assert result.fold_metrics.groupby("candidate")["fold"].nunique().eq(SPEC.folds).all()


def test_coverage_is_measured_on_a_fold_the_quantiles_never_saw(sales: pd.DataFrame) -> None:
    last_cutoff = SPEC.fold_cutoffs(LAST_DAY)[-1]
    # perfect on folds 0 and 1, 50 units too high on fold 2: an honest split covers nothing
    shifted = run_backtest(sales, {"shifted": lambda: Oracle(sales, last_cutoff)}, SPEC)
    report = shifted.coverage("shifted", relative=False)
    assert report.calibration_folds == (0, 1)
    assert report.evaluation_fold == 2
    assert report.n == len(STORES) * len(PRODUCTS) * SPEC.horizon
    assert report.coverage == 0.0
    assert report.nominal == pytest.approx(0.8)
    assert "80.0 % interval of **shifted**: covered 0.0 %" in report.to_markdown()


def test_coverage_of_a_perfect_forecaster_is_complete(result: BacktestResult) -> None:
    assert result.coverage("oracle").coverage == 1.0
    assert 0.0 <= result.coverage("last_value").coverage <= 1.0


def test_residual_quantiles_are_per_horizon_step(result: BacktestResult) -> None:
    quantiles = result.residual_quantiles("last_value", levels=(0.1, 0.9), relative=False)
    assert quantiles.table.index.tolist() == list(range(1, SPEC.horizon + 1))
    assert (quantiles.table[0.1] <= quantiles.table[0.9]).all()


def test_interval_bounds_scale_with_the_forecast_when_relative() -> None:
    table = pd.DataFrame({0.1: [-0.5], 0.9: [0.5]}, index=pd.Index([1], name="horizon_step"))
    relative = ResidualQuantiles(table=table, levels=(0.1, 0.9), relative=True)
    lower, upper = relative.bounds([10.0, 0.0, 10.0], [1, 1, 2])
    np.testing.assert_allclose(lower[:2], [5.0, 0.0])  # 0 - 0.5 * max(0, 1) clips at 0
    np.testing.assert_allclose(upper[:2], [15.0, 0.5])
    assert np.isnan(lower[2]) and np.isnan(upper[2])  # step 2 was never calibrated
    absolute = ResidualQuantiles(table=table, levels=(0.1, 0.9), relative=False)
    lower, upper = absolute.bounds([10.0], [1])
    np.testing.assert_allclose([lower[0], upper[0]], [9.5, 10.5])


def test_plot_is_a_small_png(result: BacktestResult, tmp_path: Path) -> None:
    path = plot_backtest(result, tmp_path / "plots" / "backtest.png")
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1000, 700)


class DropsRows(LastValue):
    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        return super().predict(history, future).iloc[1:]


class NoForecast(LastValue):
    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame:
        return future


@pytest.mark.parametrize(
    ("forecaster", "message"),
    [(DropsRows, "no forecast for 1 of 168 future rows"), (NoForecast, "no 'forecast' column")],
)
def test_a_broken_predict_is_named(
    sales: pd.DataFrame, forecaster: Callable[[], LastValue], message: str
) -> None:
    with pytest.raises(BacktestFailedError, match=rf"'broken': ValueError: .*{message}") as raised:
        run_backtest(sales, {"broken": forecaster}, SPEC)
    assert isinstance(raised.value.__cause__, ValueError)
    assert "'broken' (fold 0, cutoff 2025-04-01)" in str(raised.value.__cause__)


def test_too_little_history_is_refused(sales: pd.DataFrame) -> None:
    recent = sales[sales["date"] > pd.Timestamp(date(2025, 4, 15))]
    with pytest.raises(ValueError, match="evaluation_days"):
        run_backtest(recent, {"last_value": LastValue}, SPEC)


def test_lightgbm_forecasts_do_not_depend_on_the_worker_count(sales: pd.DataFrame) -> None:
    candidates = {
        name: partial(make_forecaster, name, window_days=60)
        for name in (SEASONAL_NAIVE, LIGHTGBM_TWEEDIE, LIGHTGBM_POISSON)
    }
    alone = run_backtest(sales, candidates, SPEC, window_days=60, workers=1)
    threaded = run_backtest(sales, candidates, SPEC, window_days=60, workers=3)
    pd.testing.assert_frame_equal(threaded.predictions, alone.predictions, check_exact=True)
    pd.testing.assert_frame_equal(threaded.metrics, alone.metrics, check_exact=True)
    assert alone.predictions["forecast"].nunique() > 100  # real models, not constant output


class Rendezvous:
    """Lets a fit through only once `parties` fits have started (or `timeout` s have passed)."""

    def __init__(self, parties: int, timeout: float) -> None:
        self.parties, self.timeout = parties, timeout
        self.started = 0
        self.condition = threading.Condition()

    def arrive(self) -> bool:
        with self.condition:
            self.started += 1
            self.condition.notify_all()
            return self.condition.wait_for(lambda: self.started >= self.parties, self.timeout)


class MeetsAnother(LastValue):
    """Fails unless another fit started while it waited: proves the fits run side by side."""

    def __init__(self, rendezvous: Rendezvous) -> None:
        self.rendezvous = rendezvous

    def fit(self, history: pd.DataFrame) -> MeetsAnother:
        if not self.rendezvous.arrive():
            raise TimeoutError("no other fit started meanwhile")
        super().fit(history)
        return self


def test_two_workers_fit_two_folds_at_once(sales: pd.DataFrame) -> None:
    together = Rendezvous(2, timeout=10)
    result = run_backtest(sales, {"meets": lambda: MeetsAnother(together)}, SPEC, workers=2)
    assert sorted(set(result.predictions["fold"])) == [0, 1, 2]
    alone = Rendezvous(2, timeout=0.5)
    with pytest.raises(BacktestFailedError, match="'meets': TimeoutError: no other fit"):
        run_backtest(sales, {"meets": lambda: MeetsAnother(alone)}, SPEC, workers=1)


class FailsInFold(LastValue):
    """Raises when fitted on the history of the given fold's cutoff."""

    def __init__(self, cutoff: date) -> None:
        self.cutoff = pd.Timestamp(cutoff)

    def fit(self, history: pd.DataFrame) -> FailsInFold:
        if history["date"].max() == self.cutoff:
            raise RuntimeError("out of memory")
        super().fit(history)
        return self


def test_a_failing_candidate_is_ranked_failed_and_the_others_still_rank(
    sales: pd.DataFrame,
) -> None:
    cutoff = SPEC.fold_cutoffs(LAST_DAY)[1]
    candidates = {
        "last_value": LastValue,
        "fragile": lambda: FailsInFold(cutoff),
        SEASONAL_NAIVE: SeasonalNaive,
    }
    result = run_backtest(sales, candidates, SPEC, workers=2)
    error = f"RuntimeError: out of memory (fold 1, cutoff {cutoff.isoformat()})"
    assert dict(result.failures) == {"fragile": error}
    assert result.candidates == ["last_value", SEASONAL_NAIVE]
    assert "fragile" not in set(result.predictions["candidate"]) | set(result.metrics["candidate"])
    ranking = result.ranking()
    assert ranking.winner in {"last_value", SEASONAL_NAIVE}
    table = ranking.table.set_index("candidate")
    assert list(ranking.table["rank"]) == [1, 2, 3]
    assert table.loc["fragile", "rank"] == 3  # failed: after every scored candidate
    assert table.loc["fragile", "status"] == STATUS_FAILED
    assert table.loc["fragile", "error"] == error
    assert np.isnan(table.loc["fragile", "wape"])
    assert (table.drop(index="fragile")["status"] == STATUS_OK).all()
    assert table.drop(index="fragile")["error"].isna().all()
    assert f"**fragile**: {error}" in ranking.explanation
    assert "| failed" in ranking.to_markdown()
    with pytest.raises(KeyError, match=r"'fragile' failed in this backtest.*out of memory"):
        result.overall_wape("fragile")


def test_when_every_candidate_fails_the_error_names_each_one(sales: pd.DataFrame) -> None:
    cutoffs = SPEC.fold_cutoffs(LAST_DAY)
    candidates = {
        "fragile": lambda: FailsInFold(cutoffs[2]),
        "broken": DropsRows,
    }
    with pytest.raises(BacktestFailedError) as raised:
        run_backtest(sales, candidates, SPEC, workers=2)
    message = str(raised.value)
    assert f"'fragile': RuntimeError: out of memory (fold 2, cutoff {cutoffs[2]})" in message
    assert f"'broken': ValueError: Candidate 'broken' (fold 0, cutoff {cutoffs[0]})" in message
    assert "no forecast for 1 of 168 future rows" in message


def test_a_bad_worker_count_is_refused(sales: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="workers must be >= 1"):
        run_backtest(sales, {"last_value": LastValue}, SPEC, workers=0)


def test_a_missing_day_is_never_scored_nor_read_as_zero_sold(sales: pd.DataFrame) -> None:
    """Two days rejected: one inside the last fold's horizon (nothing to score there) and one
    three days before that fold's cutoff (the moving average skips it instead of averaging in
    a 0 for every series)."""
    last_cutoff = pd.Timestamp(SPEC.fold_cutoffs(LAST_DAY)[-1])
    in_horizon, before_cutoff = (
        last_cutoff + pd.Timedelta(days=5),
        last_cutoff - pd.Timedelta(days=3),
    )
    rejected = sales[~sales["date"].isin([in_horizon, before_cutoff])]
    candidates = {name: partial(make_forecaster, name) for name in ("moving_average_28",)}

    result = run_backtest(rejected, candidates, SPEC, workers=1)

    scored = result.predictions
    assert not scored["date"].isin([in_horizon, before_cutoff]).any()
    last_fold = scored[scored["fold"] == SPEC.folds - 1]
    assert len(last_fold) == (SPEC.horizon - 1) * len(STORES) * len(PRODUCTS)
    window = rejected[
        (rejected["date"] > last_cutoff - pd.Timedelta(days=28)) & (rejected["date"] <= last_cutoff)
    ]
    known_mean = window.groupby(SERIES)["units_sold"].mean().rename("expected").reset_index()
    checked = last_fold.merge(known_mean, on=SERIES)
    np.testing.assert_allclose(checked["forecast"], checked["expected"])
