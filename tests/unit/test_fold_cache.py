"""Doing less work each day (decision 0026): weekly fold anchors and the fold cache.

The cache is the real lake store (`forecastops.stores.fold_cache`) in a temporary folder; the
candidates are real (seasonal naive and LightGBM) next to a counting wrapper that records
every fit, so "reused" is what happened, not what the cache claims.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from forecastops.domain.backtest import BacktestResult, BacktestSpec, run_backtest
from forecastops.domain.forecasters import LIGHTGBM_TWEEDIE, make_forecaster
from forecastops.stores.fold_cache import (
    MAX_IDLE_DAYS,
    LakeFoldCache,
    candidates_namespace,
)
from tests.unit.test_backtest import SeasonalNaive, _sales

WINDOW_DAYS = 60
WEEKLY = BacktestSpec(evaluation_days=90, horizon=28, folds=3, anchor_weekday=6)


class Fits:
    """Counts the fits of every candidate it makes (threads fit at once, hence the lock)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def candidates(self) -> dict[str, object]:
        def counted(make: object) -> object:
            def factory() -> object:
                forecaster = make()  # type: ignore[operator]
                fit = forecaster.fit

                def counting_fit(history: pd.DataFrame) -> object:
                    with self._lock:
                        self.count += 1
                    return fit(history)

                forecaster.fit = counting_fit
                return forecaster

            return factory

        return {
            "seasonal_naive": counted(SeasonalNaive),
            LIGHTGBM_TWEEDIE: counted(
                lambda: make_forecaster(LIGHTGBM_TWEEDIE, window_days=WINDOW_DAYS)
            ),
        }


def _backtest(
    sales: pd.DataFrame, fits: Fits, spec: BacktestSpec, cache: LakeFoldCache | None
) -> BacktestResult:
    return run_backtest(
        sales,
        fits.candidates(),  # type: ignore[arg-type]
        spec,
        window_days=WINDOW_DAYS,
        workers=2,
        cache=cache,
    )


def _same(left: BacktestResult, right: BacktestResult) -> None:
    pd.testing.assert_frame_equal(left.predictions, right.predictions)
    pd.testing.assert_frame_equal(left.metrics, right.metrics)
    pd.testing.assert_frame_equal(left.fold_metrics, right.fold_metrics)
    pd.testing.assert_frame_equal(left.ranking().table, right.ranking().table)


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return _sales()


def test_a_weekly_anchor_gives_a_whole_week_the_same_folds() -> None:
    sunday = date(2025, 6, 29)
    week = [sunday + timedelta(days=n) for n in range(7)]  # Sunday .. Saturday
    assert {tuple(WEEKLY.fold_cutoffs(day)) for day in week} == {
        (date(2025, 3, 31), date(2025, 5, 1), date(2025, 6, 1))
    }
    assert WEEKLY.fold_cutoffs(sunday + timedelta(days=7))[0] == date(2025, 4, 7)
    with pytest.raises(ValueError, match="anchor_weekday"):
        BacktestSpec(anchor_weekday=7)


def test_a_second_run_on_the_same_data_fits_nothing_and_equals_a_full_refit(
    sales: pd.DataFrame, tmp_path: Path
) -> None:
    cache = LakeFoldCache(tmp_path / "cache")
    full = _backtest(sales, Fits(), WEEKLY, None)
    first, second = Fits(), Fits()

    filled = _backtest(sales, first, WEEKLY, cache)
    reused = _backtest(sales, second, WEEKLY, cache)

    assert (first.count, filled.reused_fits) == (6, 0)  # 3 folds x 2 candidates
    assert (second.count, reused.reused_fits, reused.fold_fits) == (0, 6, 6)
    _same(filled, full)
    _same(reused, full)


def test_the_next_day_of_the_week_reuses_every_fold(sales: pd.DataFrame, tmp_path: Path) -> None:
    cache = LakeFoldCache(tmp_path / "cache")
    sunday = pd.Timestamp("2025-06-22")
    _backtest(sales[sales["date"] <= sunday], Fits(), WEEKLY, cache)
    monday = sales[sales["date"] <= sunday + pd.Timedelta(days=1)]
    fits = Fits()

    result = _backtest(monday, fits, WEEKLY, cache)

    assert (fits.count, result.reused_fits) == (0, 6)
    _same(result, _backtest(monday, Fits(), WEEKLY, None))


def test_a_corrected_day_refits_exactly_the_folds_that_read_it(
    sales: pd.DataFrame, tmp_path: Path
) -> None:
    cache = LakeFoldCache(tmp_path / "cache")
    _backtest(sales, Fits(), WEEKLY, cache)
    cutoffs = WEEKLY.fold_cutoffs(sales["date"].max().date())
    corrected_day = pd.Timestamp(cutoffs[1]) + pd.Timedelta(days=3)  # fold 1's horizon
    corrected = sales.copy()
    corrected.loc[corrected["date"] == corrected_day, "units_sold"] += 5
    # fold 0 (cutoff 03-31, horizon to 04-28) never reads 05-04; fold 1 scores it; fold 2
    # (cutoff 06-01, history from 04-02) trains on it
    fits = Fits()

    result = _backtest(corrected, fits, WEEKLY, cache)

    assert (fits.count, result.reused_fits) == (4, 2)
    _same(result, _backtest(corrected, Fits(), WEEKLY, None))


def test_the_namespace_changes_with_what_the_key_cannot_see() -> None:
    base = candidates_namespace("fs-1", 120)
    assert candidates_namespace("fs-1", 120) == base
    assert len({base, candidates_namespace("fs-2", 120), candidates_namespace("fs-1", 90)}) == 3


def test_the_sweep_removes_idle_entries_and_dead_writers_files_only(tmp_path: Path) -> None:
    cache = LakeFoldCache(tmp_path / "cache" / "ns1")
    frame = pd.DataFrame({"forecast": [1.0]})
    cache.put("live", frame)
    cache.put("idle", frame)
    other = LakeFoldCache(tmp_path / "cache" / "ns2")
    other.put("old-namespace", frame)
    dead_writer = cache.folder / "x.0123.tmp"
    dead_writer.write_bytes(b"half")
    now = time.time()
    long_ago = now - (MAX_IDLE_DAYS + 1) * 86400
    for path in (cache.folder / "idle.parquet", other.folder / "old-namespace.parquet"):
        os.utime(path, (long_ago, long_ago))
    os.utime(dead_writer, (now - 7200, now - 7200))

    assert cache.sweep(now) == 3
    assert sorted(p.name for p in (tmp_path / "cache").glob("*/*")) == ["live.parquet"]
    assert cache.get("idle") is None
    pd.testing.assert_frame_equal(cache.get("live"), frame)


def test_the_weekly_setting_anchors_the_cycles_folds_on_sunday_with_six_more_days() -> None:
    from forecastops.pipeline.cycle import CyclePolicy

    daily, weekly = CyclePolicy(), CyclePolicy(backtest_fold_anchor="weekly")
    assert (daily.backtest_spec.anchor_weekday, weekly.backtest_spec.anchor_weekday) == (None, 6)
    assert weekly.history_days == daily.history_days + 6
    wednesday = date(2025, 7, 2)
    assert weekly.backtest_spec.fold_cutoffs(wednesday)[-1] == date(2025, 6, 1)  # Sunday 06-29 - 28
    assert daily.backtest_spec.fold_cutoffs(wednesday)[-1] == wednesday - timedelta(days=28)
