"""Rolling-origin backtest: score forecasters on the last days of history, as if run back then.

Inputs: long daily sales (`date` datetime64, `store_id`, `product_id`, `units_sold`, `price`,
`on_promotion`), candidate forecasters (factories, so every fold trains a fresh model) and a
`BacktestSpec`. For each fold cutoff `c` (see `BacktestSpec.fold_cutoffs`):

- history = the sales rows with `date <= c` (only the last `window_days` days if given); the
  forecaster is fitted on it and predicts with it, so it never sees a day after `c`;
- future = the rows of days `c+1 .. c+horizon` without `units_sold`: the real `price` and
  `on_promotion` of those days (covariates are taken as known in advance, as in production where
  prices and promotions are planned);
- the forecast of each future row is joined to its actual `units_sold`.

Outputs (`BacktestResult`): every prediction with its actual, metrics per candidate and level
(overall, store, product, series) pooled over all folds, WAPE per fold, a ranking with a
sentence on why the winner won (a candidate whose fit or predict raised in any fold is ranked
last with status `failed` and its error, and the others still rank; when every candidate
fails, `BacktestFailedError` names each one's error), per-horizon-step residual quantiles for
prediction intervals with their honestly measured coverage, and a PNG plot.

Doing less each day (decision 0026): with `BacktestSpec.anchor_weekday` the folds end on a fixed
weekday, so the daily cycles of one week share their fold cutoffs, and with a `FoldCache` a
(candidate, fold) whose inputs are byte-identical to an earlier run's (same candidate, cutoff
and a digest of the fold's history, future covariates and actuals) reuses that run's scored
forecasts instead of refitting. A corrected late day changes the digest of every fold whose
history or horizon holds it, so exactly those refit. The result equals a full refit.

Everything is vectorised over series: the only Python loop is over folds x candidates, and its
(fold, candidate) fits run on a pool of threads (`workers`). Each LightGBM fit uses one thread
of its own and LightGBM releases the GIL while it boosts, so two workers on two cores halve the
wall time of the LightGBM candidates while every model, and so every forecast, stays
bit-identical to a one-worker run: the results do not depend on the worker count or the host.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecastops.domain.metrics import (
    ACTUAL,
    FORECAST,
    MASE_SCALE,
    METRIC_COLUMNS,
    SEASON_DAYS,
    SERIES_KEY,
    TARGET,
    SeasonalDifferences,
    interval_coverage,
    metrics_by,
)

FloatArray = npt.NDArray[np.float64]
_T = TypeVar("_T")

ROW_KEY: tuple[str, ...] = ("date", *SERIES_KEY)
FUTURE_COLUMNS: tuple[str, ...] = (*ROW_KEY, "price", "on_promotion")
"""What a forecaster is told about the days it forecasts."""
SALES_COLUMNS: tuple[str, ...] = (*FUTURE_COLUMNS, TARGET)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "candidate",
    "fold",
    "cutoff",
    *ROW_KEY,
    ACTUAL,
    FORECAST,
    "horizon_step",
    MASE_SCALE,
)

MIN_FOLDS = 3
LEVELS: Mapping[str, tuple[str, ...]] = {
    "overall": (),
    "store": ("store_id",),
    "product": ("product_id",),
    "series": SERIES_KEY,
}
"""Metric levels of `BacktestResult.metrics` and the keys each is grouped by."""

SEASONAL_NAIVE = "seasonal_naive"
"""Candidate name of the baseline every model is compared with in the ranking."""
BIAS_NOTE_THRESHOLD = 0.05
"""|bias| above which the ranking sentence flags the winner's bias as material."""
DEFAULT_INTERVAL_LEVELS: tuple[float, float] = (0.1, 0.9)
"""Residual quantiles of the P10/P90 interval (nominal coverage 80 %)."""
RELATIVE_RESIDUAL_FLOOR = 1.0
"""Units sold: relative residuals divide by `max(forecast, floor)` so zero forecasts stay finite."""

PLOT_SIZE_INCHES = (10.0, 7.0)
PLOT_DPI = 100
"""`plot_backtest` writes a 1000 x 700 px PNG."""
ACTUAL_COLOR = "black"


STATUS_OK = "ok"
STATUS_FAILED = "failed"
"""`Ranking.table["status"]`: scored, or failed in at least one fold (then `error` says why)."""


class BacktestFailedError(RuntimeError):
    """Every candidate of a backtest failed; the message names each one's first error."""


class Forecaster(Protocol):
    """What the backtest needs of a model (`forecastops.domain.forecasters.Forecaster` matches it).

    `fit(history)` trains on long sales rows and returns the fitted forecaster;
    `predict(history, future)` returns `future` (date, store_id, product_id, price, on_promotion
    of the days after the history) with a `forecast` column in units sold.
    """

    name: str

    def fit(self, history: pd.DataFrame) -> Forecaster: ...

    def predict(self, history: pd.DataFrame, future: pd.DataFrame) -> pd.DataFrame: ...


ForecasterFactory = Callable[[], Forecaster]


@dataclass(frozen=True)
class BacktestSpec:
    """Where the backtest folds sit: `folds` forecasts of `horizon` days inside the last
    `evaluation_days` days of the data.

    `step = (evaluation_days - horizon) // (folds - 1)` days between consecutive cutoffs.
    Raises `ValueError` naming the field when `horizon < 1`, `folds < 3` or the folds cannot be
    at least one day apart (`evaluation_days < horizon + folds - 1`).
    """

    evaluation_days: int = 90
    horizon: int = 28
    folds: int = 3
    anchor_weekday: int | None = None
    """None: the last fold's horizon ends on the last day of the data. 0-6 (Monday = 0): it
    ends on the latest such weekday on or before it, so a week of daily cycles has the same
    fold cutoffs (and a `FoldCache` refits nothing that did not change); the up to 6 newest
    days are then not scored."""

    def __post_init__(self) -> None:
        if self.anchor_weekday is not None and not 0 <= self.anchor_weekday <= 6:
            raise ValueError(
                "BacktestSpec.anchor_weekday must be None or a weekday 0-6 (Monday = 0), got "
                f"{self.anchor_weekday}."
            )
        if self.horizon < 1:
            raise ValueError(f"BacktestSpec.horizon must be >= 1 day, got {self.horizon}.")
        if self.folds < MIN_FOLDS:
            raise ValueError(
                f"BacktestSpec.folds must be >= {MIN_FOLDS} (the interval coverage calibrates on "
                f"all folds but the last, so on at least two), got {self.folds}."
            )
        shortest = self.horizon + self.folds - 1
        if self.evaluation_days < shortest:
            raise ValueError(
                f"BacktestSpec.evaluation_days must be >= horizon + folds - 1 = {shortest} so "
                f"{self.folds} cutoffs fit at least one day apart, got {self.evaluation_days}; "
                "raise evaluation_days or lower horizon/folds."
            )

    @property
    def step(self) -> int:
        """Days between consecutive fold cutoffs."""
        return (self.evaluation_days - self.horizon) // (self.folds - 1)

    def fold_cutoffs(self, last_day: date) -> list[date]:
        """The fold cutoffs (last day of each fold's history), oldest first.

        `cutoff[k] = last_day - horizon - (folds - 1 - k) * step` for `k = 0 .. folds - 1`:
        the last fold's horizon ends exactly at `last_day`, and the first cutoff is no earlier
        than `last_day - evaluation_days` (equal when `evaluation_days - horizon` divides by
        `folds - 1`). Fold `k` forecasts days `cutoff[k] + 1 .. cutoff[k] + horizon`. With the
        defaults (90, 28, 3), step = 31 and the cutoffs are `last_day - 90`, `- 59`, `- 28`.
        With `anchor_weekday`, `last_day` is first moved back to the latest day of that weekday.
        """
        last = pd.Timestamp(last_day).date()
        if self.anchor_weekday is not None:
            last -= timedelta(days=(last.weekday() - self.anchor_weekday) % 7)
        return [
            last - timedelta(days=self.horizon + (self.folds - 1 - k) * self.step)
            for k in range(self.folds)
        ]


@dataclass(frozen=True, eq=False)
class Ranking:
    """Candidates ordered by overall WAPE (best first; NaN last; failed candidates after all).

    `table`: rank, candidate, wape, mae, rmse, bias, mase, n (overall level), status
    (`STATUS_OK` / `STATUS_FAILED`) and error (the failure, with its fold; None when ok).
    `winner`: the best candidate, None when no candidate has a finite WAPE.
    `explanation`: one markdown sentence on why the winner won.
    """

    table: pd.DataFrame
    winner: str | None
    explanation: str

    def to_markdown(self) -> str:
        """The table as a markdown table followed by the explanation."""
        return f"{self.table.to_markdown(index=False, floatfmt='.3f')}\n\n{self.explanation}"


@dataclass(frozen=True, eq=False)
class ResidualQuantiles:
    """Per-horizon-step quantiles of the backtest residuals `actual - forecast`.

    `table`: index `horizon_step` (1 .. horizon), one column per level in `levels`. With
    `relative=False` the quantiles are in units sold; with `relative=True` they are of
    `(actual - forecast) / max(forecast, RELATIVE_RESIDUAL_FLOOR)`, a share of the forecast,
    so intervals widen with the forecast level.
    """

    table: pd.DataFrame
    levels: tuple[float, float]
    relative: bool

    def bounds(
        self, forecast: npt.ArrayLike, horizon_step: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """The interval `(lower, upper)` around each point forecast, in units sold.

        `lower = forecast + q_low * s`, `upper = forecast + q_high * s` with the quantiles of
        the row's horizon step and `s = 1` (absolute) or `max(forecast, floor)` (relative), both
        clipped at 0 (units sold cannot be negative). A step outside the table gives NaN bounds.
        The interval need not contain the forecast: a biased model's residuals shift it.
        """
        point = np.asarray(forecast, dtype=np.float64)
        steps = self.table.reindex(np.asarray(horizon_step))
        low = steps[self.levels[0]].to_numpy(dtype=np.float64)
        high = steps[self.levels[1]].to_numpy(dtype=np.float64)
        size = np.maximum(point, RELATIVE_RESIDUAL_FLOOR) if self.relative else 1.0
        return np.maximum(point + low * size, 0.0), np.maximum(point + high * size, 0.0)


@dataclass(frozen=True)
class CoverageReport:
    """Empirical coverage of a residual-quantile interval, measured out of sample.

    Quantiles calibrated on `calibration_folds`, applied to the forecasts of `evaluation_fold`:
    `coverage` is the share of its actuals inside the interval (`nominal` is what it should be),
    `mean_width` the average interval width in units sold, `n` the rows scored.
    """

    candidate: str
    nominal: float
    coverage: float
    mean_width: float
    n: int
    calibration_folds: tuple[int, ...]
    evaluation_fold: int

    def to_markdown(self) -> str:
        """One sentence for an operator."""
        folds = ", ".join(str(fold) for fold in self.calibration_folds)
        return (
            f"{_percent(self.nominal)} interval of **{self.candidate}**: covered "
            f"{_percent(self.coverage)} of {self.n} actuals in fold {self.evaluation_fold} "
            f"(calibrated on folds {folds}; mean width {self.mean_width:.2f} units)."
        )


def _check_levels(levels: tuple[float, float]) -> None:
    low, high = levels
    if not 0 < low < high < 1:
        raise ValueError(f"interval levels must satisfy 0 < low < high < 1, got {levels}.")


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _gain(other: float, best: float) -> str:
    """How much better `best` is than `other`, relative: `(other - best) / other`."""
    return f"{_percent((other - best) / other)} better" if other > 0 else "as good"


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """The outcome of `run_backtest`.

    - `predictions`: one row per candidate, fold and future row: candidate, fold (0 = oldest),
      cutoff, date, store_id, product_id, actual, forecast (units sold), horizon_step
      (days after the cutoff, 1 .. horizon) and mase_scale (the series' seasonal-naive MAE on
      the fold's history, units/day).
    - `metrics`: candidate, level (overall | store | product | series), store_id, product_id
      (the level's keys; NaN where not part of it), wape, mae, rmse, bias, mase, n; pooled over
      all folds (see `forecastops.domain.metrics.metrics_by`).
    - `fold_metrics`: candidate, fold, cutoff, wape, mae, rmse, bias, mase, n.
    - `failures`: candidate -> its first error (type, message, fold and cutoff) for every
      candidate whose fit or predict raised in some fold; such a candidate has no predictions
      or metrics at all (a score over the folds it survived would not compare with the others).
    """

    spec: BacktestSpec
    cutoffs: tuple[date, ...]
    predictions: pd.DataFrame
    metrics: pd.DataFrame
    fold_metrics: pd.DataFrame
    failures: Mapping[str, str] = field(default_factory=dict)
    reused_fits: int = 0
    """(fold, candidate) fits taken from the `FoldCache` instead of refitted."""

    @property
    def fold_fits(self) -> int:
        """(fold, candidate) pairs the backtest scored or tried, reused ones included."""
        return len(self.cutoffs) * (len(self.candidates) + len(self.failures))

    @property
    def candidates(self) -> list[str]:
        """Names of the scored candidates (not failed) in the order they were given."""
        return list(dict.fromkeys(self.predictions["candidate"]))

    def _level(self, level: str) -> pd.DataFrame:
        return self.metrics[self.metrics["level"] == level]

    def _check_candidate(self, candidate: str) -> None:
        if candidate in self.failures:
            raise KeyError(
                f"Candidate {candidate!r} failed in this backtest, so it has no score: "
                f"{self.failures[candidate]}"
            )
        if candidate not in self.candidates:
            raise KeyError(
                f"No candidate {candidate!r} in this backtest; it has {self.candidates}."
            )

    def overall_wape(self, candidate: str) -> float:
        """The candidate's WAPE over all folds, series and days."""
        self._check_candidate(candidate)
        overall = self._level("overall")
        return float(overall.loc[overall["candidate"] == candidate, "wape"].iloc[0])

    def store_wape(self, candidate: str) -> dict[str, float]:
        """The candidate's WAPE per store, over all folds: store_id -> WAPE."""
        self._check_candidate(candidate)
        stores = self._level("store")
        mine = stores[stores["candidate"] == candidate]
        return dict(zip(mine["store_id"].astype(str), mine["wape"].astype(float), strict=True))

    def ranking(self, baseline: str = SEASONAL_NAIVE) -> Ranking:
        """Candidates ranked by overall WAPE, with a markdown sentence on why the winner won.

        The sentence gives the winner's WAPE, its relative improvement over the runner-up and
        over `baseline` (when that candidate is in the backtest) and its bias, flagged when
        `|bias| > BIAS_NOTE_THRESHOLD`. Relative improvement = `(other - winner) / other`.
        Failed candidates follow the scored ones (status `failed`, NaN scores, their error),
        and the sentence names them.
        """
        overall = self._level("overall").drop(columns=["level", *SERIES_KEY])
        scored = overall.sort_values("wape", na_position="last", kind="stable")
        table = scored.assign(status=STATUS_OK, error=None)
        if self.failures:
            failed = pd.DataFrame(
                {"candidate": list(self.failures), "error": list(self.failures.values())}
            ).assign(status=STATUS_FAILED)
            table = pd.concat([table, failed], ignore_index=True)[table.columns]
        table = table.reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
        scores = dict(zip(scored["candidate"], scored["wape"].astype(float), strict=True))
        finite = [name for name, score in scores.items() if np.isfinite(score)]
        failed_note = (
            " Failed (not ranked on a score): "
            + "; ".join(f"**{name}**: {error}" for name, error in self.failures.items())
            + "."
            if self.failures
            else ""
        )
        if not finite:
            return Ranking(
                table, None, "No candidate has a finite overall WAPE; none can win." + failed_note
            )
        winner = finite[0]
        best = scores[winner]
        sentence = f"**{winner}** ranks first with overall WAPE {best:.3f}"
        if len(finite) > 1:
            runner_up = finite[1]
            role = "the seasonal-naive baseline" if runner_up == baseline else "the runner-up"
            sentence += (
                f", {_gain(scores[runner_up], best)} than {role} **{runner_up}** "
                f"({scores[runner_up]:.3f})"
            )
        if winner == baseline:
            sentence += "; the seasonal-naive baseline itself wins, so no model adds skill"
        elif baseline in finite and baseline != finite[1]:
            naive = scores[baseline]
            sentence += f" and {_gain(naive, best)} than {baseline} ({naive:.3f})"
        elif baseline not in finite:
            sentence += f" ({baseline} has no finite WAPE in this backtest)"
        winner_bias = float(table.loc[table["candidate"] == winner, "bias"].iloc[0])
        direction = "over" if winner_bias > 0 else "under"
        if abs(winner_bias) > BIAS_NOTE_THRESHOLD:
            note = f"a material {direction}-forecast (beyond ±{_percent(BIAS_NOTE_THRESHOLD)})"
        else:
            note = f"within ±{_percent(BIAS_NOTE_THRESHOLD)}"
        sentence += f". Its bias is {winner_bias * 100:+.1f} %, {note}." + failed_note
        return Ranking(table, winner, sentence)

    def residual_quantiles(
        self,
        candidate: str,
        levels: tuple[float, float] = DEFAULT_INTERVAL_LEVELS,
        relative: bool = True,
        folds: Sequence[int] | None = None,
    ) -> ResidualQuantiles:
        """Per-horizon-step quantiles of the candidate's residuals `actual - forecast`.

        Pools the residuals of `folds` (default: all) over all series for each horizon step
        and takes their empirical quantiles (linear interpolation), i.e. split-conformal
        intervals per step without the `(n + 1)` finite-sample correction, which is negligible
        with thousands of residuals per step. NaN residuals (NaN forecasts) are skipped.

        `relative=True` (default) pools `(actual - forecast) / max(forecast,
        RELATIVE_RESIDUAL_FLOOR)`, so the interval scales with the forecast; `relative=False`
        pools residuals in units sold, one width for every series. Both reach the nominal
        coverage overall, but series volumes span orders of magnitude, and absolute widths
        over-cover small series and badly under-cover large ones (simulated 10 x 100 retailer,
        80 % interval: coverage by volume quartile ~100/100/89/35 % absolute vs ~93/63/78/88 %
        relative). The forecasts asset applies the all-fold quantiles with
        `ResidualQuantiles.bounds` to build P10/P90 around its P50.
        """
        self._check_candidate(candidate)
        _check_levels(levels)
        rows = self.predictions[self.predictions["candidate"] == candidate]
        if folds is not None:
            rows = rows[rows["fold"].isin(list(folds))]
        residual = rows[ACTUAL] - rows[FORECAST]
        if relative:
            residual = residual / np.maximum(rows[FORECAST], RELATIVE_RESIDUAL_FLOOR)
        table = residual.groupby(rows["horizon_step"]).quantile(np.asarray(levels)).unstack()
        return ResidualQuantiles(table=table, levels=levels, relative=relative)

    def coverage(
        self,
        candidate: str,
        levels: tuple[float, float] = DEFAULT_INTERVAL_LEVELS,
        relative: bool = True,
    ) -> CoverageReport:
        """Out-of-sample coverage of the residual-quantile interval (nominal `high - low`).

        Honest split: quantiles from all folds but the last, applied to the last fold's
        forecasts, coverage measured on its actuals, which the quantiles never saw. The
        forecasts asset calibrates the same way on all folds, so this checks the method with
        one fold less data behind it.
        """
        self._check_candidate(candidate)
        folds = sorted(set(self.predictions["fold"]))
        calibration, evaluation = tuple(folds[:-1]), folds[-1]
        quantiles = self.residual_quantiles(candidate, levels, relative, calibration)
        rows = self.predictions[
            (self.predictions["candidate"] == candidate) & (self.predictions["fold"] == evaluation)
        ]
        lower, upper = quantiles.bounds(rows[FORECAST], rows["horizon_step"])
        return CoverageReport(
            candidate=candidate,
            nominal=levels[1] - levels[0],
            coverage=interval_coverage(rows[ACTUAL], lower, upper),
            mean_width=float(np.mean(upper - lower)) if len(rows) else float("nan"),
            n=len(rows),
            calibration_folds=tuple(int(fold) for fold in calibration),
            evaluation_fold=int(evaluation),
        )


def _check_sales(sales: pd.DataFrame) -> None:
    missing = [column for column in SALES_COLUMNS if column not in sales.columns]
    if missing:
        raise ValueError(f"sales is missing the columns {missing}; pass the validated sales.")
    if sales.empty:
        raise ValueError("sales is empty; the backtest needs history and its last horizon days.")


def _scored_fold(
    candidate: str,
    fold: int,
    cutoff: pd.Timestamp,
    predicted: pd.DataFrame,
    actuals: pd.DataFrame,
) -> pd.DataFrame:
    """Join a candidate's predictions to the fold's actuals; raise on a broken predict()."""
    where = f"Candidate {candidate!r} (fold {fold}, cutoff {cutoff.date()})"
    if FORECAST not in predicted.columns:
        raise ValueError(f"{where} returned no {FORECAST!r} column; predict() must add it.")
    forecasts = predicted[[*ROW_KEY, FORECAST]]
    if forecasts.duplicated(list(ROW_KEY)).any():
        raise ValueError(f"{where} returned more than one forecast for some (date, series).")
    joined = actuals.merge(forecasts, on=list(ROW_KEY), how="left", indicator=True)
    unforecast = int((joined.pop("_merge") == "left_only").sum())
    if unforecast:
        raise ValueError(
            f"{where} returned no forecast for {unforecast} of {len(actuals)} future rows; "
            "predict() must return one row per row of `future`."
        )
    return joined.assign(
        candidate=candidate,
        fold=fold,
        cutoff=cutoff,
        forecast=joined[FORECAST].astype(np.float64),
        horizon_step=(joined["date"] - cutoff).dt.days,
    )


class FoldCache(Protocol):
    """Scored fold forecasts by key (see `fold_digest`); `get` returns None on a miss. A store
    (the lake's `forecastops.stores.fold_cache`) implements it; its keys must also cover what
    the key here cannot see: the candidates' code and configuration."""

    def get(self, key: str) -> pd.DataFrame | None: ...

    def put(self, key: str, scored: pd.DataFrame) -> None: ...


def fold_digest(*frames: pd.DataFrame) -> str:
    """A SHA-256 of the frames' columns, dtypes and values, row order included (pandas'
    `hash_pandas_object`, which is stable across runs and platforms for the same values)."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(
            repr([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]).encode()
        )
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _reuse_or_fit(
    cache: FoldCache,
    key: str,
    fit: Callable[[], pd.DataFrame | _FailedFit],
    fold: int,
) -> tuple[pd.DataFrame | _FailedFit, bool]:
    """The cached scored forecasts of `key` (renumbered as `fold`, which depends on where the
    cutoff sits today), else `fit()`, stored when it succeeded; and whether it was reused."""
    cached = cache.get(key)
    if cached is not None:
        return cached.assign(fold=fold), True
    outcome = fit()
    if isinstance(outcome, pd.DataFrame):
        cache.put(key, outcome.drop(columns="fold"))
    return outcome, False


def default_workers() -> int:
    """The CPUs this process may run on (its affinity mask, e.g. a container's CPU set)."""
    return len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class _FailedFit:
    """A (fold, candidate) fit, predict or scoring that raised: the error, with a note saying
    where."""

    candidate: str
    fold: int
    cutoff: pd.Timestamp
    error: Exception

    def describe(self) -> str:
        return (
            f"{type(self.error).__name__}: {self.error} (fold {self.fold}, cutoff "
            f"{self.cutoff.date()})"
        )


def _fit_and_score(
    candidate: str,
    make_forecaster: ForecasterFactory,
    fold: int,
    cutoff: pd.Timestamp,
    history: pd.DataFrame,
    future: pd.DataFrame,
    actuals: pd.DataFrame,
) -> pd.DataFrame | _FailedFit:
    """Fit a fresh forecaster on its own copy of the fold's history and score its forecast;
    an exception from the candidate is returned (as `_FailedFit`), so one fragile candidate
    does not sink the others."""
    history, future = history.copy(), future.copy()
    try:
        fitted = make_forecaster().fit(history)
        predicted = fitted.predict(history, future)
        return _scored_fold(candidate, fold, cutoff, predicted, actuals)
    except Exception as error:
        error.add_note(
            f"while backtesting candidate {candidate!r} at fold {fold} (cutoff {cutoff.date()})"
        )
        return _FailedFit(candidate, fold, cutoff, error)


def _run_in_threads(tasks: Sequence[Callable[[], _T]], workers: int) -> list[_T]:
    """Every task's result, in task order, computed on up to `workers` threads.

    The first task (in order) that raised re-raises here, after the tasks not yet started are
    cancelled and the running ones finished, so no thread outlives the call.
    """
    if workers == 1 or len(tasks) == 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(min(workers, len(tasks)), thread_name_prefix="backtest") as pool:
        futures: list[Future[_T]] = [pool.submit(task) for task in tasks]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def run_backtest(
    sales: pd.DataFrame,
    forecasters: Mapping[str, ForecasterFactory],
    spec: BacktestSpec,
    window_days: int | None = None,
    workers: int | None = None,
    cache: FoldCache | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of every candidate on the last `spec.evaluation_days` of `sales`.

    `sales`: long daily sales ending at the training cutoff (its last date is `last_day` of
    `spec.fold_cutoffs`). `forecasters`: candidate name -> factory of a fresh, unfitted
    forecaster (called once per fold). `window_days`: if given, each fold's history is only
    the last `window_days` days up to the cutoff (the production training window). `workers`:
    threads the (fold, candidate) fits run on, default `default_workers()`; the result is the
    same for any count. `cache`: where (fold, candidate) scored forecasts are reused from and
    stored (keyed by candidate, cutoff and `fold_digest` of the fold's inputs); the result is
    the same as without it.

    Per fold and candidate the forecaster gets its own copy of the history (rows with
    `date <= cutoff`) for `fit` and `predict`, and the future rows (days `cutoff+1 ..
    cutoff+horizon`, columns `FUTURE_COLUMNS`: real prices and promotions, no units). Raises
    `ValueError` for bad inputs. A candidate whose fit or predict raises, or whose predict()
    drops, duplicates or omits forecasts, in any fold is left out of the scores and listed in
    `BacktestResult.failures`; when that is every candidate, `BacktestFailedError` names each
    one's error (chained to the first).
    """
    if not forecasters:
        raise ValueError("run_backtest needs at least one candidate forecaster.")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1 thread or None (all usable CPUs), got {workers}.")
    if window_days is not None and window_days < 1:
        raise ValueError(f"window_days must be >= 1 day or None (all history), got {window_days}.")
    _check_sales(sales)
    dates = sales["date"]
    cutoffs = spec.fold_cutoffs(dates.max().date())
    if dates.min().date() > cutoffs[0]:
        raise ValueError(
            f"sales start on {dates.min().date()}, after the first fold cutoff {cutoffs[0]}: no "
            "history to train on. Load more history or shorten BacktestSpec.evaluation_days "
            f"({spec.evaluation_days})."
        )
    horizon = pd.Timedelta(days=spec.horizon)
    differences = SeasonalDifferences.of(sales)
    fits: list[Callable[[], tuple[pd.DataFrame | _FailedFit, bool]]] = []
    for fold, cutoff_day in enumerate(cutoffs):
        cutoff = pd.Timestamp(cutoff_day)
        seen = dates <= cutoff
        paired = seen  # rows whose partner a season earlier is in the history, too
        if window_days is not None:
            window_start = cutoff - pd.Timedelta(days=window_days)
            seen = seen & (dates > window_start)
            paired = seen & (dates > window_start + pd.Timedelta(days=SEASON_DAYS))
        upcoming = (dates > cutoff) & (dates <= cutoff + horizon)
        scale = differences.scale(paired.to_numpy())
        actuals = (
            sales.loc[upcoming, [*ROW_KEY, TARGET]]
            .rename(columns={TARGET: ACTUAL})
            .assign(**{MASE_SCALE: scale[differences.series[upcoming.to_numpy()]]})
        )
        fold_history = sales.loc[seen]
        fold_future = sales.loc[upcoming, list(FUTURE_COLUMNS)].reset_index(drop=True)
        digest = fold_digest(fold_history, fold_future, actuals) if cache else ""
        for candidate, make_forecaster in forecasters.items():
            fit = partial(
                _fit_and_score,
                candidate,
                make_forecaster,
                fold,
                cutoff,
                fold_history,
                fold_future,
                actuals,
            )
            key = f"{candidate}-{cutoff.date().isoformat()}-{digest}"
            fits.append(
                partial(_reuse_or_fit, cache, key, fit, fold) if cache else partial(_fitted, fit)
            )
    ran = _run_in_threads(fits, default_workers() if workers is None else workers)
    outcomes = [outcome for outcome, _ in ran]
    failed: dict[str, _FailedFit] = {}
    for outcome in outcomes:  # task order: each candidate's oldest failing fold
        if isinstance(outcome, _FailedFit):
            failed.setdefault(outcome.candidate, outcome)
    if len(failed) == len(forecasters):
        first = next(iter(failed.values()))
        raise BacktestFailedError(
            "Every backtest candidate failed, so nothing can be ranked: "
            + "; ".join(f"{name!r}: {fit.describe()}" for name, fit in failed.items())
            + ". Fix the candidates (or their data) and run the backtest again."
        ) from first.error
    names = [name for _ in cutoffs for name in forecasters]  # the order `fits` was built in
    scored = [
        outcome
        for name, outcome in zip(names, outcomes, strict=True)
        if isinstance(outcome, pd.DataFrame) and name not in failed
    ]
    predictions = pd.concat(scored, ignore_index=True)[list(PREDICTION_COLUMNS)]
    metrics = pd.concat(
        [
            metrics_by(predictions, ["candidate", *keys]).assign(level=level)
            for level, keys in LEVELS.items()
        ],
        ignore_index=True,
    )
    metrics = metrics[["candidate", "level", *SERIES_KEY, *METRIC_COLUMNS]]
    return BacktestResult(
        spec=spec,
        cutoffs=tuple(cutoffs),
        predictions=predictions,
        metrics=metrics,
        fold_metrics=metrics_by(predictions, ["candidate", "fold", "cutoff"]),
        failures=MappingProxyType({name: fit.describe() for name, fit in failed.items()}),
        reused_fits=sum(reused for _, reused in ran),
    )


def _fitted(
    fit: Callable[[], pd.DataFrame | _FailedFit],
) -> tuple[pd.DataFrame | _FailedFit, bool]:
    """`fit()`, never reused (no cache)."""
    return fit(), False


def plot_backtest(result: BacktestResult, path: Path) -> Path:
    """Write a 1000 x 700 px PNG of the backtest to `path` (parents created) and return it.

    Top: total actual vs forecast units sold per day (all series) over each fold's horizon,
    one line per candidate, cutoffs dashed. Bottom: WAPE per fold, one bar per candidate.
    """
    from matplotlib.figure import Figure  # heavy import kept out of module load

    candidates = result.candidates
    colors = {name: f"C{index}" for index, name in enumerate(candidates)}
    totals = result.predictions.groupby(["fold", "date", "candidate"], as_index=False)[
        [ACTUAL, FORECAST]
    ].sum()
    figure = Figure(figsize=PLOT_SIZE_INCHES, dpi=PLOT_DPI, layout="constrained")
    totals_axis, wape_axis = figure.subplots(2, 1)
    for fold, cutoff in enumerate(result.cutoffs):
        first_fold = fold == 0
        in_fold = totals[totals["fold"] == fold]
        totals_axis.axvline(pd.Timestamp(cutoff), color="grey", linestyle="--", linewidth=0.8)
        actual = in_fold[in_fold["candidate"] == candidates[0]]
        totals_axis.plot(
            actual["date"],
            actual[ACTUAL],
            color=ACTUAL_COLOR,
            linewidth=2,
            label="actual" if first_fold else None,
        )
        for name in candidates:
            forecast = in_fold[in_fold["candidate"] == name]
            totals_axis.plot(
                forecast["date"],
                forecast[FORECAST],
                color=colors[name],
                linewidth=1.2,
                label=name if first_fold else None,
            )
    totals_axis.set_title("Total units sold per day: actual vs forecast (dashed: fold cutoffs)")
    totals_axis.set_ylabel("units sold / day")
    totals_axis.legend(loc="upper left", fontsize="small")

    width = 0.8 / len(candidates)
    positions = np.arange(len(result.cutoffs))
    for index, name in enumerate(candidates):
        mine = result.fold_metrics[result.fold_metrics["candidate"] == name]
        wapes = mine.set_index("fold")["wape"].reindex(positions).to_numpy(dtype=np.float64)
        wape_axis.bar(positions + index * width, wapes, width, color=colors[name], label=name)
    wape_axis.set_xticks(
        positions + width * (len(candidates) - 1) / 2,
        [f"fold {fold}\ncutoff {cutoff}" for fold, cutoff in enumerate(result.cutoffs)],
    )
    wape_axis.set_title("WAPE per fold (lower is better)")
    wape_axis.set_ylabel("WAPE")
    wape_axis.legend(loc="upper left", fontsize="small")

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
