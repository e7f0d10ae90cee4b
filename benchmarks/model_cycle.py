"""Benchmark: the retrain cycle's model steps, ours vs Nixtla mlforecast, side by side.

For each size (series = stores x products, simulated over `--days` days) it times, in one process:

- ours: `build_training_frame` over the training window; `LightGBMForecaster` (challenger
  objective) fitted on that window; `run_backtest` (the cycle's `BacktestSpec` and training
  window) for the LightGBM candidate alone and for all `CANDIDATE_NAMES`; a horizon-day forecast;
- mlforecast: the same features (lags, rolling mean/std of the smallest lag, calendar with US
  holidays, price, price ratio, discount, promotion, store/product), the same LightGBM
  parameters, `preprocess` + `fit_models` on the same window, `cross_validation` on the same
  three cutoffs with `input_size` = the training window, recursive; and its `predict`.

It prints one markdown table per size (wall seconds, ratio = ours / mlforecast, so below 1 means
ours is faster; CPU seconds of this process beside them, since the host may be shared), the
backtest WAPE of both on exactly the same (series, day, cutoff) rows plus the seasonal-naive and
moving-average baselines, and whether the aims hold: our backtest in at most half of
mlforecast's time at a WAPE no worse, and our full cycle at 1,000 series in under a minute.
What differs between the two setups is printed once at the top.

    .venv/bin/python benchmarks/model_cycle.py [--sizes 100,1000,10000] [--stores 10]
                                               [--days 730] [--seed 1] [--wape-seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, partial
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

    from forecastops.domain.forecasters import LightGBMForecaster
    from forecastops.pipeline.cycle import CyclePolicy

T = TypeVar("T")

START = date(2023, 1, 2)
DEFAULT_SIZES = "100,1000,10000"
BACKTEST_SPEEDUP_AIM = 0.5
"""Aim: our backtest takes at most this share of mlforecast's cross_validation time."""
FULL_CYCLE_AIM_SERIES = 1_000
FULL_CYCLE_AIM_SECONDS = 60.0
ID_SEPARATOR = "|"
STATIC_FEATURES = ["store_id", "product_id"]
CYCLE_STEPS = ("prep", "features", "training", "backtest_all", "forecast")
"""The steps of one retrain cycle (the challenger-alone backtest is part of the all-candidate
one); ours has no prep step."""

DIFFERENCES = """\
What differs between the two setups (everything else is the same: lags, windows, calendar,
price/promotion covariates, LightGBM parameters, cutoffs, horizon, training window):
- Series that end before the last day (discontinued products) are left out of mlforecast's
  input: `cross_validation` places each series' cutoffs relative to that series' own last date,
  so they would be scored on other days. They have no rows in the evaluated horizons, so the
  scored rows are identical, but our backtest also trains on any of their days inside a fold's
  window.
- Rolling mean/std of lag {min_lag}: `RollingMean(w, min_samples=1)`, `RollingStd(w,
  min_samples=2)`, our definition (partial windows at a series' start); coreforecast computes
  the std in float32 (relative differences up to ~1e-4 from ours).
- Calendar: `dayofweek`, `day`, `month` as mlforecast strings; ISO week and the three US
  holiday features as date-feature callables (same definitions as ours).
- `price_ratio` / `is_discount` are dynamic exogenous columns computed beforehand with
  `mlforecast.feature_engineering.transform_exog` (a lag-0 rolling mean of the price; mlforecast
  cannot derive a covariate from another's history inside fit/predict); that and the long-format
  conversion are the "input prep" row, not in mlforecast's backtest time (in its full cycle).
- Training window of {window} days: ours `window_days` (a fold's history is the days up to
  its cutoff inside the window), mlforecast `input_size`: the same rows. Lag {max_lag} needs
  history, so both train on the last {target_days} days of each fold's window. The standalone
  training step reads the features' lookback ({lookback} days) before its {window} target days
  on both sides (mlforecast: `preprocess`, keep the window's rows, `fit_models`).
- Feature matrix: ours float32/int8/int16 columns in our order; mlforecast float64 in its order
  (static, exogenous, lags, date features), so LightGBM breaks split ties differently.
- "All candidates": ours runs its four candidates (seasonal naive, moving average 28, LightGBM
  tweedie and poisson, each LightGBM building its own features per fold); mlforecast has no
  naive baselines, so it runs the two LightGBM models on one shared feature matrix per fold.
- mlforecast keeps `validate_data=True` (its default check for duplicates and missing dates);
  ours validates duplicates when building the panel."""


@dataclass(frozen=True)
class Timing:
    """Wall-clock and process CPU seconds of one step."""

    wall: float
    cpu: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall + other.wall, self.cpu + other.cpu)


ZERO = Timing(0.0, 0.0)


def _timed(step: Callable[[], T]) -> tuple[T, Timing]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# --- mlforecast calendar features (the definitions of forecastops.domain.features)
# -----------------


@cache
def _holiday_day_numbers(country: str, first_year: int, last_year: int) -> npt.NDArray[Any]:
    import holidays
    import numpy as np

    calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    days = np.array(sorted(calendar), dtype="datetime64[D]").astype(np.int64)
    far = 10**9
    return np.concatenate(([-far], days, [far]))


def _calendar_callables(country: str) -> list[Callable[[Any], npt.NDArray[Any]]]:
    """mlforecast date features (one callable per column, named like ours) for ISO week and
    the holiday features of `forecastops.domain.features`."""
    import numpy as np
    import pandas as pd

    from forecastops.domain.features import HOLIDAY_DISTANCE_CAP_DAYS

    def neighbours(dates: Any) -> tuple[npt.NDArray[Any], ...]:
        days = pd.DatetimeIndex(dates)
        numbers = days.to_numpy(dtype="datetime64[D]").astype(np.int64)
        holiday = _holiday_day_numbers(country, int(days.year.min()) - 1, int(days.year.max()) + 1)
        following = holiday[np.searchsorted(holiday, numbers, side="left")]
        preceding = holiday[np.searchsorted(holiday, numbers, side="right") - 1]
        return numbers, following, preceding

    def week_of_year(dates: Any) -> npt.NDArray[Any]:
        return pd.DatetimeIndex(dates).isocalendar().week.to_numpy(dtype=np.int16)

    def is_holiday(dates: Any) -> npt.NDArray[Any]:
        numbers, following, _ = neighbours(dates)
        return (following == numbers).astype(np.int8)

    def days_to_holiday(dates: Any) -> npt.NDArray[Any]:
        numbers, following, _ = neighbours(dates)
        return np.minimum(following - numbers, HOLIDAY_DISTANCE_CAP_DAYS).astype(np.int16)

    def days_from_holiday(dates: Any) -> npt.NDArray[Any]:
        numbers, _, preceding = neighbours(dates)
        return np.minimum(numbers - preceding, HOLIDAY_DISTANCE_CAP_DAYS).astype(np.int16)

    return [week_of_year, is_holiday, days_to_holiday, days_from_holiday]


def _lightgbm_regressor(objective: str, threads: int) -> Any:
    """An sklearn LightGBM model with exactly our forecaster's parameters, on `threads`
    threads (ours: 1; more changes LightGBM's sums, so the trees may differ slightly)."""
    import lightgbm

    from forecastops.domain.forecasters import LightGBMForecaster

    params = dict(LightGBMForecaster(objective).lightgbm_params)  # type: ignore[arg-type]
    return lightgbm.LGBMRegressor(**{**params, "num_threads": threads})


def _mlforecast(policy: CyclePolicy, objectives: list[str], threads: int = 1) -> Any:
    """An `MLForecast` with our feature definitions and one LightGBM model per objective."""
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean, RollingStd

    spec = policy.feature_spec
    rolling: list[Any] = []
    for window in spec.windows:
        rolling += [RollingMean(window, min_samples=1), RollingStd(window, min_samples=2)]
    return MLForecast(
        models={
            f"lightgbm_{objective}": _lightgbm_regressor(objective, threads)
            for objective in objectives
        },
        freq="D",
        lags=list(spec.lags),
        lag_transforms={spec.min_lag: rolling},
        date_features=["dayofweek", "day", "month", *_calendar_callables(spec.holiday_country)],
    )


def _price_features(frame: pd.DataFrame, policy: CyclePolicy) -> pd.DataFrame:
    """`price_ratio` and `is_discount` (our definitions) of a frame sorted by unique_id, ds."""
    import numpy as np
    from mlforecast.feature_engineering import transform_exog
    from mlforecast.lag_transforms import RollingMean

    spec = policy.feature_spec
    mean = transform_exog(
        frame[["unique_id", "ds", "price"]],
        lag_transforms={0: [RollingMean(spec.price_window, min_samples=1)]},
    ).iloc[:, -1]
    ratio = frame["price"].to_numpy() / mean.to_numpy()
    return frame.assign(
        price_ratio=ratio, is_discount=(ratio < 1.0 - spec.discount_threshold).astype(np.int8)
    )


def _unique_id(frame: pd.DataFrame) -> pd.Series:
    return frame["store_id"].astype(str) + ID_SEPARATOR + frame["product_id"].astype(str)


def _to_mlforecast(sales: pd.DataFrame, policy: CyclePolicy) -> pd.DataFrame:
    """Long sales in mlforecast's format, only the series that reach the last day."""
    import numpy as np

    last_row = sales.groupby(STATIC_FEATURES, sort=False)["date"].transform("max")
    alive = sales.loc[last_row.to_numpy() == sales["date"].max().to_datetime64()]
    frame = alive.assign(
        unique_id=_unique_id(alive), on_promotion=alive["on_promotion"].astype(np.int8)
    )
    frame = frame.rename(columns={"date": "ds", "units_sold": "y"})
    frame = frame.sort_values(["unique_id", "ds"], ignore_index=True)
    frame = _price_features(frame, policy)
    for key in STATIC_FEATURES:
        frame[key] = frame[key].astype("category")
    columns = ["unique_id", "ds", "y", *STATIC_FEATURES, "price", "on_promotion"]
    return frame[[*columns, "price_ratio", "is_discount"]]


def _mlforecast_fit(frame: pd.DataFrame, policy: CyclePolicy, window_start: pd.Timestamp) -> Any:
    """`preprocess` the history, keep the training window's rows, `fit_models` on them."""
    model = _mlforecast(policy, [policy.objective])
    prepared = model.preprocess(frame, static_features=STATIC_FEATURES)
    prepared = prepared[prepared["ds"] >= window_start]
    model.fit_models(prepared[model.ts.features_order_], prepared["y"].to_numpy())
    return model


def _mlforecast_features(
    frame: pd.DataFrame, policy: CyclePolicy, window_start: pd.Timestamp
) -> pd.DataFrame:
    prepared = _mlforecast(policy, [policy.objective]).preprocess(
        frame, static_features=STATIC_FEATURES
    )
    return prepared[prepared["ds"] >= window_start]


def _mlforecast_predict(
    model: Any, history: pd.DataFrame, future: pd.DataFrame, policy: CyclePolicy
) -> pd.DataFrame:
    """The recursive forecast of `future` (our `future_frame` rows) after `history`."""
    import numpy as np
    import pandas as pd

    upcoming = future.assign(
        unique_id=_unique_id(future), on_promotion=future["on_promotion"].astype(np.int8)
    ).rename(columns={"date": "ds"})
    tail_start = upcoming["ds"].min() - pd.Timedelta(days=policy.feature_spec.price_window)
    recent = history.loc[history["ds"] > tail_start, ["unique_id", "ds", "price"]]
    prices = pd.concat([recent, upcoming[["unique_id", "ds", "price"]]], ignore_index=True)
    prices = _price_features(prices.sort_values(["unique_id", "ds"], ignore_index=True), policy)
    x_df = upcoming[["unique_id", "ds", "on_promotion"]].merge(
        prices, on=["unique_id", "ds"], how="left"
    )
    horizon = int((upcoming["ds"].max() - history["ds"].max()).days)
    return model.predict(h=horizon, X_df=x_df)


def _mlforecast_backtest(
    frame: pd.DataFrame, policy: CyclePolicy, objectives: list[str], threads: int = 1
) -> pd.DataFrame:
    from forecastops.domain.backtest import BacktestSpec

    spec = BacktestSpec(policy.backtest_days, policy.horizon_days, policy.backtest_folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return _mlforecast(policy, objectives, threads).cross_validation(
            frame,
            n_windows=spec.folds,
            h=spec.horizon,
            step_size=spec.step,
            input_size=policy.training_window_days,
            static_features=STATIC_FEATURES,
        )


# --- ours --------------------------------------------------------------------------------


def _our_backtest(
    sales: pd.DataFrame,
    policy: CyclePolicy,
    candidates: tuple[str, ...],
    workers: int | None = None,
) -> Any:
    from forecastops.domain.backtest import BacktestSpec, run_backtest
    from forecastops.domain.forecasters import make_forecaster

    spec = BacktestSpec(policy.backtest_days, policy.horizon_days, policy.backtest_folds)
    factories = {
        name: partial(make_forecaster, name, window_days=policy.training_window_days)
        for name in candidates
    }
    return run_backtest(
        sales, factories, spec, window_days=policy.training_window_days, workers=workers
    )


def _our_fit(history: pd.DataFrame, policy: CyclePolicy) -> LightGBMForecaster:
    from forecastops.domain.forecasters import LightGBMForecaster

    model = LightGBMForecaster(
        policy.objective,  # type: ignore[arg-type]
        spec=policy.feature_spec,
        window_days=policy.training_window_days,
    )
    return model.fit(history)


# --- one size ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeResult:
    series: int
    rows: dict[str, tuple[Timing | None, Timing | None]]
    wape: dict[str, tuple[float, float | None]]
    threaded_wape: float | None
    """mlforecast's challenger WAPE with LightGBM on `workers` threads (None: one CPU)."""
    workers: int
    scored_rows: int
    unmatched: tuple[int, int]
    mlforecast_series: int
    load_before: str
    load_after: str


def _same_rows_wape(
    ours: pd.DataFrame, theirs: pd.DataFrame, candidate: str, their_column: str | None
) -> tuple[float, float | None, int, tuple[int, int]]:
    """WAPE of our `candidate` and of mlforecast's `their_column` on the rows both scored."""
    from forecastops.domain.metrics import wape

    mine = ours.loc[ours["candidate"] == candidate]
    mine = mine.assign(unique_id=_unique_id(mine)).rename(columns={"date": "ds"})
    joined = mine.merge(theirs, on=["unique_id", "ds", "cutoff"], how="outer", indicator=True)
    ours_only = int((joined["_merge"] == "left_only").sum())
    theirs_only = int((joined["_merge"] == "right_only").sum())
    both = joined.loc[joined["_merge"] == "both"]
    their_wape = wape(both["y"], both[their_column]) if their_column else None
    return wape(both["actual"], both["forecast"]), their_wape, len(both), (ours_only, theirs_only)


def _simulate(n_series: int, stores: int, days: int, seed: int) -> pd.DataFrame:
    from forecastops.domain.simulator import SimulationSpec, simulate_sales

    if n_series % stores:
        raise ValueError(f"--sizes {n_series} is not a multiple of --stores {stores}.")
    spec = SimulationSpec(
        start=START,
        end=START + timedelta(days=days - 1),
        stores=stores,
        products=n_series // stores,
        seed=seed,
    )
    return simulate_sales(spec)


def wape_by_seed(
    n_series: int, stores: int, days: int, seeds: list[int], policy: CyclePolicy
) -> str:
    """Both LightGBM objectives' backtest WAPE, ours vs mlforecast, on several simulated
    retailers: whether a single run's WAPE gap is a systematic difference or split-tie noise."""
    import numpy as np
    import pandas as pd

    from forecastops.domain.forecasters import OBJECTIVES

    names = [f"lightgbm_{objective}" for objective in OBJECTIVES]
    lines = [
        f"### Backtest WAPE by simulated retailer ({n_series:,} series, seeds "
        f"{', '.join(map(str, seeds))})",
        "",
        "| seed | candidate | ours | mlforecast | ours - mlforecast |",
        "|---:|---|---:|---:|---:|",
    ]
    gaps: dict[str, list[float]] = {name: [] for name in names}
    for seed in seeds:
        sales = _simulate(n_series, stores, days, seed)
        first = sales["date"].max() - pd.Timedelta(days=policy.history_days)
        recent = sales.loc[sales["date"] > first]
        ours = _our_backtest(recent, policy, tuple(names))
        theirs = _mlforecast_backtest(_to_mlforecast(recent, policy), policy, list(OBJECTIVES))
        for name in names:
            mine, other, _, _ = _same_rows_wape(ours.predictions, theirs, name, name)
            assert other is not None
            gaps[name].append(mine - other)
            lines.append(f"| {seed} | {name} | {mine:.4f} | {other:.4f} | {mine - other:+.4f} |")
        print(f"  [WAPE seeds] seed {seed} done; load {_load()}", file=sys.stderr, flush=True)
    lines += ["", "| candidate | mean gap | std of gap | seeds where ours <= mlforecast |"]
    lines.append("|---|---:|---:|---:|")
    for name, values in gaps.items():
        gap = np.asarray(values)
        lines.append(
            f"| {name} | {gap.mean():+.4f} | {gap.std(ddof=1) if len(gap) > 1 else 0:.4f} "
            f"| {int((gap <= 0).sum())} of {len(gap)} |"
        )
    return "\n".join(lines)


def run_size(n_series: int, stores: int, days: int, seed: int, policy: CyclePolicy) -> SizeResult:
    """Simulate `n_series` series and time every step of both setups."""
    import pandas as pd

    from forecastops.domain.backtest import default_workers
    from forecastops.domain.features import build_training_frame
    from forecastops.domain.forecasters import CANDIDATE_NAMES, future_frame

    load_before = _load()
    sales = _simulate(n_series, stores, days, seed)
    last = sales["date"].max()
    lookback = policy.feature_spec.lookback_days
    backtest_sales = sales.loc[sales["date"] > last - pd.Timedelta(days=policy.history_days)]
    train_sales = sales.loc[
        sales["date"] > last - pd.Timedelta(days=lookback + policy.training_window_days)
    ]
    window_start = last - pd.Timedelta(days=policy.training_window_days - 1)
    future = future_frame(train_sales, last.date(), policy.horizon_days)
    challenger = policy.challenger_candidate
    workers = default_workers()
    both_lightgbm = [policy.objective, "poisson" if policy.objective == "tweedie" else "tweedie"]

    rows: dict[str, tuple[Timing | None, Timing | None]] = {}

    def record(step: str, ours: Timing | None, theirs: Timing | None) -> None:
        rows[step] = (ours, theirs)
        print(
            f"  [{n_series:,} series] {step}: ours {_seconds(ours)} s "
            f"(CPU {_seconds(ours, cpu=True)}), mlforecast {_seconds(theirs)} s "
            f"(CPU {_seconds(theirs, cpu=True)}); load {_load()}",
            file=sys.stderr,
            flush=True,
        )

    frame, theirs = _timed(lambda: _to_mlforecast(backtest_sales, policy))
    record("prep", None, theirs)
    their_history = frame.loc[
        frame["ds"] > last - pd.Timedelta(days=lookback + policy.training_window_days)
    ]

    _, ours = _timed(
        lambda: build_training_frame(train_sales, policy.feature_spec, window_start, last)
    )
    _, theirs = _timed(lambda: _mlforecast_features(their_history, policy, window_start))
    record("features", ours, theirs)

    our_model, ours = _timed(lambda: _our_fit(train_sales, policy))
    their_model, theirs = _timed(lambda: _mlforecast_fit(their_history, policy, window_start))
    record("training", ours, theirs)

    backtests: dict[str, tuple[Any, pd.DataFrame, pd.DataFrame | None]] = {}
    for step, candidates, objectives in (
        ("backtest", (challenger,), [policy.objective]),
        ("backtest_all", CANDIDATE_NAMES, both_lightgbm),
    ):
        ours_result, ours = _timed(partial(_our_backtest, backtest_sales, policy, candidates))
        theirs_result, theirs = _timed(partial(_mlforecast_backtest, frame, policy, objectives))
        record(step, ours, theirs)
        _, one_worker = _timed(
            partial(_our_backtest, backtest_sales, policy, candidates, workers=1)
        )
        record(f"{step}_one_worker", one_worker, theirs)
        threaded = None
        if workers > 1:
            threaded, theirs_threaded = _timed(
                partial(_mlforecast_backtest, frame, policy, objectives, threads=workers)
            )
            record(f"{step}_threaded", ours, theirs_threaded)
        backtests[step] = (ours_result, theirs_result, threaded)
    our_alone, their_alone, their_alone_threaded = backtests["backtest"]
    our_all, their_all, _ = backtests["backtest_all"]
    threaded_wape = (
        None
        if their_alone_threaded is None
        else _same_rows_wape(our_alone.predictions, their_alone_threaded, challenger, challenger)[1]
    )

    _, ours = _timed(lambda: our_model.predict(train_sales, future))
    _, theirs = _timed(lambda: _mlforecast_predict(their_model, their_history, future, policy))
    record("forecast", ours, theirs)

    rows["cycle"] = (
        sum((rows[step][0] or ZERO for step in CYCLE_STEPS), ZERO),
        sum((rows[step][1] or ZERO for step in CYCLE_STEPS), ZERO),
    )

    ours_wape, their_wape, scored, unmatched = _same_rows_wape(
        our_alone.predictions, their_alone, challenger, challenger
    )
    wapes: dict[str, tuple[float, float | None]] = {challenger: (ours_wape, their_wape)}
    modelled = [name for name in CANDIDATE_NAMES if name in their_all and name != challenger]
    for name in modelled + [name for name in CANDIDATE_NAMES if name not in their_all]:
        column = name if name in their_all else None
        mine, other, _, _ = _same_rows_wape(our_all.predictions, their_all, name, column)
        wapes[name] = (mine, other)
    return SizeResult(
        series=sales.groupby(STATIC_FEATURES).ngroups,
        rows=rows,
        wape=wapes,
        threaded_wape=threaded_wape,
        workers=workers,
        scored_rows=scored,
        unmatched=unmatched,
        mlforecast_series=frame["unique_id"].nunique(),
        load_before=load_before,
        load_after=_load(),
    )


# --- report --------------------------------------------------------------------------------


def _seconds(timing: Timing | None, cpu: bool = False) -> str:
    if timing is None:
        return "—"
    return f"{timing.cpu if cpu else timing.wall:.2f}"


def _ratio(ours: Timing | None, theirs: Timing | None) -> str:
    if ours is None or theirs is None or theirs.wall == 0:
        return "—"
    return f"{ours.wall / theirs.wall:.2f}"


def _step_labels(policy: CyclePolicy, workers: int) -> dict[str, str]:
    backtests = {
        "backtest": (
            f"backtest: {policy.challenger_candidate} alone ({policy.backtest_folds} folds)"
        ),
        "backtest_all": "backtest: all candidates (ours 4, mlforecast 2 LightGBM)",
    }
    labels = {
        "prep": "input prep (long format, price ratio)",
        "features": f"feature building ({policy.training_window_days}-day window)",
        "training": f"training (features + LightGBM {policy.objective})",
    }
    for step, label in backtests.items():
        labels[step] = f"{label}, ours on {workers} worker(s)"
        labels[f"{step}_one_worker"] = f"{label}, ours on 1 worker"
        labels[f"{step}_threaded"] = (
            f"{label}, ours on {workers} workers vs mlforecast with LightGBM on {workers} threads"
        )
    return labels | {
        "forecast": f"{policy.horizon_days}-day forecast",
        "cycle": "full cycle (prep, features, training, all-candidate backtest, forecast)",
    }


def _verdict(met: bool) -> str:
    return "**met**" if met else "**NOT met**"


def report(result: SizeResult, policy: CyclePolicy) -> str:
    lines = [
        f"### {result.series:,} series (the cycle reads their last {policy.history_days} days; "
        f"mlforecast gets the {result.mlforecast_series:,} that reach the last day)",
        "",
        f"Load average (1/5/15 min) before: {result.load_before}; after: {result.load_after} "
        f"({os.cpu_count()} CPUs).",
        "",
        "| step | ours s | mlforecast s | ratio | ours CPU s | mlforecast CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    labels = _step_labels(policy, result.workers)
    for step, (ours, theirs) in result.rows.items():
        lines.append(
            f"| {labels[step]} | {_seconds(ours)} | {_seconds(theirs)} | {_ratio(ours, theirs)} "
            f"| {_seconds(ours, cpu=True)} | {_seconds(theirs, cpu=True)} |"
        )
    ours_only, theirs_only = result.unmatched
    lines += [
        "",
        f"Backtest WAPE on the same {result.scored_rows:,} (series, day, cutoff) rows "
        f"(rows scored by only one side: ours {ours_only}, mlforecast {theirs_only}):",
        "",
        "| candidate | ours | mlforecast |",
        "|---|---:|---:|",
    ]
    for name, (mine, theirs_wape) in result.wape.items():
        their_text = "—" if theirs_wape is None else f"{theirs_wape:.4f}"
        lines.append(f"| {name} | {mine:.4f} | {their_text} |")

    challenger = policy.challenger_candidate
    our_wape, their_wape = result.wape[challenger]
    assert their_wape is not None
    lines += [
        "",
        f"- Aim: our backtest <= {BACKTEST_SPEEDUP_AIM}x mlforecast's time at WAPE no worse "
        f"(wall time; ours on {result.workers} worker(s), one LightGBM thread per model):",
    ]
    for step in ("backtest", "backtest_all", "backtest_threaded", "backtest_all_threaded"):
        if step not in result.rows:
            continue
        ours, theirs = result.rows[step]
        assert ours is not None and theirs is not None
        ratio = ours.wall / theirs.wall
        lines.append(
            f"  - {labels[step]}: {ours.wall:.2f} s vs {theirs.wall:.2f} s = {ratio:.2f}x "
            f"({_verdict(ratio <= BACKTEST_SPEEDUP_AIM)})"
        )
    threaded = (
        ""
        if result.threaded_wape is None
        else f"; mlforecast with LightGBM on {result.workers} threads {result.threaded_wape:.4f}"
    )
    lines.append(
        f"  - {challenger} WAPE: ours {our_wape:.4f} vs mlforecast {their_wape:.4f} "
        f"({_verdict(our_wape <= their_wape)}){threaded}."
    )
    if result.series == FULL_CYCLE_AIM_SERIES:
        cycle, _ = result.rows["cycle"]
        assert cycle is not None
        lines.append(
            f"- Aim: our full cycle at {FULL_CYCLE_AIM_SERIES:,} series under "
            f"{FULL_CYCLE_AIM_SECONDS:.0f} s: wall {cycle.wall:.2f} s "
            f"({_verdict(cycle.wall < FULL_CYCLE_AIM_SECONDS)}), CPU {cycle.cpu:.2f} s "
            f"({_verdict(cycle.cpu < FULL_CYCLE_AIM_SECONDS)})."
        )
    return "\n".join(lines)


def _warm_up(policy: CyclePolicy, stores: int, days: int, seed: int) -> None:
    """One tiny untimed run, so imports and first-call costs land on neither side."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_size(stores * 2, stores, days, seed, policy)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated series counts, multiples of --stores (default {DEFAULT_SIZES})",
    )
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--wape-seeds",
        default="",
        help="comma-separated seeds: instead of the timing tables, compare both LightGBM "
        "objectives' backtest WAPE with mlforecast's on one retailer per seed, at the first "
        "of --sizes",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]

    from importlib.metadata import version

    from forecastops.pipeline.cycle import CyclePolicy

    policy = CyclePolicy()
    print("## Model cycle: ForecastOps vs Nixtla mlforecast\n")
    print(
        f"Python {sys.version.split()[0]}, mlforecast {version('mlforecast')}, "
        f"lightgbm {version('lightgbm')}, {os.cpu_count()} CPUs, load average at start "
        f"{_load()}. Simulated {args.days} days from {START} ({args.stores} stores, seed "
        f"{args.seed}); the cycle uses the last {policy.history_days} days: backtest "
        f"{policy.backtest_folds} folds x {policy.horizon_days} days in the last "
        f"{policy.backtest_days}, "
        f"training window {policy.training_window_days} days, objective {policy.objective}. "
        "Ratio = ours / mlforecast wall time (below 1: ours faster).\n"
    )
    features = policy.feature_spec
    differences = DIFFERENCES.format(
        min_lag=features.min_lag,
        max_lag=features.lags[-1],
        window=policy.training_window_days,
        target_days=policy.training_window_days - features.lags[-1],
        lookback=features.lookback_days,
    )
    print(differences + "\n", flush=True)
    if args.wape_seeds:
        seeds = [int(seed) for seed in args.wape_seeds.split(",") if seed.strip()]
        print(wape_by_seed(sizes[0], args.stores, args.days, seeds, policy))
        return
    _warm_up(policy, args.stores, args.days, args.seed)
    for size in sizes:
        result = run_size(size, args.stores, args.days, args.seed, policy)
        print(report(result, policy) + "\n", flush=True)
    if FULL_CYCLE_AIM_SERIES not in sizes:
        print(f"Full-cycle aim not measured: --sizes has no {FULL_CYCLE_AIM_SERIES}.")


if __name__ == "__main__":
    main()
