"""Benchmark: what shadow scoring (decision 0022) adds to the daily cycle.

For each size (series = stores x products, simulated over `--days` days) it times, in one
process, the cycle's model steps as the pipeline runs them (the all-candidate backtest, the
challenger's fit, the champion's served forecast) and the shadow additions: the challenger's
forecast from the same origin (one predict, no refit) and the scoring of a day of shadow rows
against the champion's on the same rows (`score_forecasts` + `compare_shadow`, over the 28-day
evidence window). It prints a markdown table (wall seconds) and the share shadow adds; the aim
of issue 12 is at most 15 %.

    .venv/bin/python benchmarks/shadow_cost.py [--sizes 1000,10000] [--stores 10] [--days 400]
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

START = date(2024, 1, 1)
AIM = 0.15
EVIDENCE_DAYS = 28


def _timed(step: str, times: dict[str, float], call, *args, **kwargs):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = call(*args, **kwargs)
    times[step] = time.perf_counter() - began
    return result


def run(series: int, stores: int, days: int) -> dict[str, float]:
    """Seconds per step for one daily cycle of `series` series."""
    import pandas as pd

    from forecastops.domain.backtest import BacktestSpec, run_backtest
    from forecastops.domain.forecasters import LightGBMForecaster, future_frame
    from forecastops.domain.performance import score_forecasts
    from forecastops.domain.shadow import compare_shadow
    from forecastops.domain.simulator import SimulationSpec, simulate_sales
    from forecastops.pipeline.cycle import CyclePolicy, candidate_factories

    policy = CyclePolicy()
    end = START + timedelta(days=days - 1)
    sales = simulate_sales(
        SimulationSpec(start=START, end=end, stores=stores, products=series // stores, seed=1)
    )
    cutoff = end - timedelta(days=EVIDENCE_DAYS)
    history = sales[sales["date"] <= pd.Timestamp(cutoff)]
    times: dict[str, float] = {}
    spec = BacktestSpec(
        evaluation_days=policy.backtest_days,
        horizon=policy.horizon_days,
        folds=policy.backtest_folds,
    )
    _timed(
        "backtest (all candidates)",
        times,
        run_backtest,
        history,
        candidate_factories(policy),
        spec,
        window_days=policy.training_window_days,
    )

    def fit(objective: str, last: date) -> LightGBMForecaster:
        return LightGBMForecaster(
            objective=objective,  # type: ignore[arg-type]
            spec=policy.feature_spec,
            window_days=policy.training_window_days,
        ).fit(history[history["date"] <= pd.Timestamp(last)])

    champion = fit("tweedie", cutoff - timedelta(days=7))
    challenger = _timed("challenger fit", times, fit, "tweedie", cutoff)
    future = future_frame(history, cutoff, policy.horizon_days)
    served = _timed("served forecast", times, champion.predict, history, future)
    shadow = _timed("SHADOW forecast", times, challenger.predict, history, future)

    def rows(predicted: pd.DataFrame, version: str) -> pd.DataFrame:
        return predicted.rename(columns={"forecast": "p50"}).assign(
            model_version=version, training_cutoff=cutoff.isoformat()
        )

    actuals = sales[sales["date"] > pd.Timestamp(cutoff)]

    def score() -> object:
        champion_scored = score_forecasts(rows(served, "1"), actuals)
        return compare_shadow(
            champion_scored,
            score_forecasts(rows(shadow, "2"), actuals),
            cutoff + timedelta(days=policy.horizon_days),
            stream="tweedie",
            challenger="2",
            champion="1",
            since=cutoff,
        )

    _timed("SHADOW scoring", times, score)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--days", type=int, default=400)
    arguments = parser.parse_args()
    for size in (int(text) for text in arguments.sizes.split(",")):
        times = run(size, arguments.stores, arguments.days)
        cycle = sum(seconds for step, seconds in times.items() if not step.startswith("SHADOW"))
        added = sum(seconds for step, seconds in times.items() if step.startswith("SHADOW"))
        print(f"\n### {size} series\n\n| step | seconds |\n|---|---|")
        for step, seconds in times.items():
            print(f"| {step} | {seconds:.2f} |")
        share = added / cycle
        verdict = "meets" if share <= AIM else "MISSES"
        print(
            f"\nshadow adds {added:.2f} s to a {cycle:.2f} s cycle: {share:.1%} "
            f"({verdict} the {AIM:.0%} aim)"
        )


if __name__ == "__main__":
    main()
