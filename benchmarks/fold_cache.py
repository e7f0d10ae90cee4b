"""Benchmark: the daily backtest with weekly fold anchors and the fold cache, beside mlforecast.

Decision 0026. For each size it times, in one process, the backtest of all four candidates
(`CANDIDATE_NAMES`) on the cycle's layout (90 days, 3 folds, 28-day horizon, 120-day window):

- `full refit` (today's daily layout, no cache): what every daily cycle did before;
- `weekly, first day of the week`: the folds of the week fitted and stored in the cache;
- `weekly, next day`: the same week's folds, one more day of data: everything reused;
- `weekly, a late correction`: one day inside the newest fold's horizon corrected: the folds
  that read it refit, the others are reused;
- mlforecast `cross_validation` of the two LightGBM objectives on the same three cutoffs
  (benchmarks/model_cycle.py's setup): the peer's daily cost, which has no cache.

It prints a markdown table (wall and CPU seconds, fits done and reused, ratio to mlforecast) and
checks that each cached run's ranking equals a full refit's on the same data.

    .venv/bin/python benchmarks/fold_cache.py [--sizes 1000,10000] [--stores 10] [--days 500]

Needs the `bench` dependency group for the mlforecast row (`uv sync --group bench`); without it
that row says so.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

# a sibling script, not a package: found through the path above
from model_cycle import (
    Timing,
    _load,
    _mlforecast_backtest,
    _simulate,
    _timed,
    _to_mlforecast,
)


def _backtest(sales: Any, policy: Any, cache: Any) -> Any:
    from forecastops.domain.backtest import run_backtest
    from forecastops.domain.forecasters import CANDIDATE_NAMES, make_forecaster

    factories = {
        name: partial(make_forecaster, name, window_days=policy.training_window_days)
        for name in CANDIDATE_NAMES
    }
    return run_backtest(
        sales,
        factories,
        policy.backtest_spec,
        window_days=policy.training_window_days,
        cache=cache,
    )


def run_size(n_series: int, stores: int, days: int, seed: int) -> str:
    import pandas as pd

    from forecastops.domain.backtest import BacktestResult
    from forecastops.pipeline.cycle import FOLD_ANCHOR_WEEKDAY, CyclePolicy
    from forecastops.stores.fold_cache import LakeFoldCache

    daily = CyclePolicy()
    weekly = CyclePolicy(backtest_fold_anchor="weekly")
    load_before = _load()
    sales = _simulate(n_series, stores, days, seed)
    # the first cycle of a week is on the anchor day itself (a Sunday)
    last = sales["date"].max()
    while last.dayofweek != FOLD_ANCHOR_WEEKDAY:
        last -= pd.Timedelta(days=1)
    first_day = sales[
        (sales["date"] <= last) & (sales["date"] > last - pd.Timedelta(days=weekly.history_days))
    ]
    next_day = sales[
        (sales["date"] <= last + pd.Timedelta(days=1))
        & (sales["date"] > last + pd.Timedelta(days=1 - weekly.history_days))
    ]
    corrected = next_day.copy()
    late = last - timedelta(days=5)  # inside the newest fold's horizon
    corrected.loc[corrected["date"] == late, "units_sold"] += 1

    rows: list[tuple[str, Timing, BacktestResult | None]] = []
    with tempfile.TemporaryDirectory() as folder:
        cache = LakeFoldCache(Path(folder))
        full, timing = _timed(lambda: _backtest(next_day, daily, None))
        rows.append(("full refit, daily folds (before)", timing, full))
        for label, frame in (
            ("weekly, first day of the week (cache cold)", first_day),
            ("weekly, next day (cache warm)", next_day),
            ("weekly, next day with a late day corrected", corrected),
        ):
            result, timing = _timed(partial(_backtest, frame, weekly, cache))
            fresh = _backtest(frame, weekly, None)
            same = result.ranking().table.equals(fresh.ranking().table)
            rows.append(
                (f"{label}{'' if same else ' (RANKING DIFFERS FROM A REFIT)'}", timing, result)
            )
    try:
        frame = _to_mlforecast(next_day, daily)
        _, theirs = _timed(
            lambda: _mlforecast_backtest(frame, daily, ["tweedie", "poisson"], threads=1)
        )
    except ModuleNotFoundError:
        theirs = None

    lines = [
        f"### {n_series:,} series ({stores} stores, {days} days), load {load_before} -> {_load()}",
        "",
        "| backtest (4 candidates, 3 folds) | wall s | CPU s | fits | reused | vs mlforecast |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, timing, result in rows:
        assert result is not None
        ratio = f"{timing.wall / theirs.wall:.2f}x" if theirs else "n/a"
        done = result.fold_fits - result.reused_fits
        lines.append(
            f"| {label} | {timing.wall:.1f} | {timing.cpu:.1f} | {done} | "
            f"{result.reused_fits} | {ratio} |"
        )
    their_cell = (
        f"| mlforecast cross_validation, 2 LightGBM objectives | {theirs.wall:.1f} | "
        f"{theirs.cpu:.1f} | 6 | 0 | 1.00x |"
        if theirs
        else "| mlforecast | not installed (uv sync --group bench) | | | | |"
    )
    lines.append(their_cell)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        print(run_size(size, args.stores, args.days, args.seed), flush=True)
        print()


if __name__ == "__main__":
    main()
