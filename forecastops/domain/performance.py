"""The one definition of realized accuracy and health: how the champion's stored forecasts are
scored against what sold, over which days, and what healthy / degrading / drifting mean.

Inputs: the stored forecasts (the lake's `forecasts` table: `date`, `store_id`, `product_id`,
`p50` and lineage such as `model_version`, `training_cutoff`, `horizon_step`), the validated
actual sales (`raw_sales`: `date`, `store_id`, `product_id`, `units_sold`) with the days they
were delivered on, and the champion's backtest metrics (the lake's `backtest` table, `metrics`
part, rows of the champion's candidate family).

Rules (docs/operations.md, "Realized accuracy and health", repeats them for operators):

1. **Which rows are scored** (`score_forecasts`). A (day, series) is scored with the forecast in
   force on the day: the model's forecast from the latest training cutoff before the day (daily
   forecasts overlap; in daily operation that is the one-day-ahead forecast). It is scored only
   on a *delivered* day: a day whose landing file passed the contract, i.e. that has a
   `raw_sales` partition. Within a delivered day a series without a row sold 0 units (sparse
   feeds omit zero rows; a store closed on Sundays sold nothing on Sundays). A day without a
   `raw_sales` partition (rejected, not yet delivered, deleted) is unknown: it is never scored,
   and never as 0 units.
2. **Windows** (`realized_metrics`). A window of `w` days *ends at `as_of`* (inclusive): the
   `w` calendar days up to the day the health is for, whatever arrived. It never slides back to
   the newest scored day, so actuals that stopped arriving show as fewer scored days, and a
   week without any as `awaiting_actuals`, instead of last month's numbers passing for today's.
   The short window is `RECENT_WINDOW_DAYS` (7: `wape_7d`, `mae_7d`); the classified window is
   `PerformancePolicy.health_window_days` (28).
3. **Health** (`classify`, the one classifier). The model's status is, in this order:
   `awaiting_actuals` (no scored day in the last `RECENT_WINDOW_DAYS` days: nothing current to
   judge), `insufficient_data` (fewer than `health_min_points` scored days in the classified
   window), `no_baseline` (no backtest MAE to compare with), else by the realized MAE against the
   backtest MAE: `healthy`, `degrading` or `drifting` (`PerformancePolicy`). Each series gets
   the same classes but `awaiting_actuals` (`STATUSES`).
4. **Trend** (`classify_trend`): the WAPE of the last `RECENT_WINDOW_DAYS` days against the
   `RECENT_WINDOW_DAYS` days before, `improving` / `stable` / `worsening` (words of its own, so
   that `degrading` means only the health class above); None unless both windows hold
   `TREND_MIN_SCORED_DAYS` scored days.

`assess_health` applies all four to scored rows and returns one `Health`, whose `summary()` is
the record that `model_health` stores, `forecastops status` prints and the incident report
shows. MAE is in units sold per series-day; WAPE, bias and degradations are unitless ratios
(0.15 = 15 %). Everything is vectorised (group-bys), no loop over series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from forecastops.domain.metrics import (
    ACTUAL,
    FORECAST,
    MASE_SCALE,
    SERIES_KEY,
    TARGET,
    metrics_by,
    undefined_reason,
)

HEALTHY = "healthy"
DEGRADING = "degrading"
DRIFTING = "drifting"
INSUFFICIENT_DATA = "insufficient_data"
NO_BASELINE = "no_baseline"
AWAITING_ACTUALS = "awaiting_actuals"
STATUSES: tuple[str, ...] = (DRIFTING, DEGRADING, HEALTHY, NO_BASELINE, INSUFFICIENT_DATA)
"""Every status of a series, worst first (the order of `PerformanceResult.series` and
`counts`)."""
MODEL_STATUSES: tuple[str, ...] = (*STATUSES, AWAITING_ACTUALS)
"""Every status of the model (`PerformanceResult.model_status`, `Health.status`)."""

RECENT_WINDOW_DAYS = 7
"""Length in days of the short realized window (`wape_7d`, `mae_7d`) and of each trend window;
a model without a scored day in it is `awaiting_actuals`."""
TREND_MIN_SCORED_DAYS = 5
"""Scored days each trend window needs before a trend is given."""
TREND_THRESHOLD = 0.05
"""Relative WAPE change between the two trend windows that counts as a trend (0.05 = 5 %)."""
IMPROVING = "improving"
STABLE = "stable"
WORSENING = "worsening"
TRENDS: tuple[str, ...] = (IMPROVING, STABLE, WORSENING)

ROW_KEY: tuple[str, ...] = ("date", *SERIES_KEY)
FORECAST_REQUIRED: tuple[str, ...] = (*ROW_KEY, "p50")
ACTUAL_REQUIRED: tuple[str, ...] = (*ROW_KEY, TARGET)
PASSTHROUGH_COLUMNS: tuple[str, ...] = (
    "model_version",
    "training_cutoff",
    "horizon_step",
    "p10",
    "p90",
)
"""Forecast columns `score_forecasts` keeps when present."""
LEVELS: dict[str, tuple[str, ...]] = {
    "overall": (),
    "store": ("store_id",),
    "series": SERIES_KEY,
}
"""Levels of `realized_metrics` and the keys each is grouped by."""
REALIZED_COLUMNS: tuple[str, ...] = (
    "as_of",
    "window_days",
    "level",
    *SERIES_KEY,
    "wape",
    "mae",
    "rmse",
    "bias",
    "mape",
    "stockout_miss_rate",
    "overstock_rate",
    "n",
    "n_demand",
    "days",
)
"""Columns of `realized_metrics`."""
OPERATIONAL_METRICS: tuple[str, ...] = ("mape", "stockout_miss_rate", "overstock_rate")
"""The metrics of `forecastops.domain.metrics` beside WAPE/MAE that the health reports per
window (`<metric>_7d` in `Health.summary()`): how the P50 serves stocking decisions."""
DEGRADATION_DECIMALS = 9
"""Degradations are rounded to this many decimals before the thresholds, so a realized MAE
of 2.3 against a baseline of 2.0 counts as exactly 15 % (float division gives 0.1499...)."""


@dataclass(frozen=True)
class PerformancePolicy:
    """How realized error is judged against the backtest.

    `degradation = realized MAE / baseline MAE - 1` over the last `health_window_days` days:

    - healthy: `degradation <= health_degrading_threshold` (improvements included);
    - degrading: `health_degrading_threshold < degradation <= health_drifting_threshold`;
    - drifting: `degradation > health_drifting_threshold` (default: more than 15 % worse than
      the backtest promised, the seed project's rule for a model that needs retraining);
    - insufficient_data: fewer than `health_min_points` scored days in the window (a series'
      MAE over a handful of days is mostly noise; 7 = one full week, so every weekday is seen);
    - no_baseline: scored, but the backtest has no MAE for the series (launched since).

    `health_window_days` (28) is the realized window that is classified: four whole weeks, the
    forecast horizon. The `RECENT_WINDOW_DAYS` window only decides `awaiting_actuals` (`classify`).
    MAE is compared: the backtest stores it per series, and being in units it is not blown up
    by low-volume series as percentage errors are. It grows with the demand level even for a
    good forecast (count noise grows with the mean), so a demand rise the model follows still
    raises it a little; `wape` is shown next to it. Per-series classes over 28 days are noisy
    (on a simulated undrifted month, a flat forecast's series read drifting for about one in
    ten series against their backtest); the model status, pooled over all series, is the
    stable signal. The fields are the settings of the same names
    (`forecastops.stores.settings.PolicySettings`).
    """

    health_degrading_threshold: float = 0.05
    health_drifting_threshold: float = 0.15
    health_min_points: int = 7
    health_window_days: int = 28

    def __post_init__(self) -> None:
        if not 0 <= self.health_degrading_threshold < self.health_drifting_threshold:
            raise ValueError(
                "PerformancePolicy needs 0 <= health_degrading_threshold < "
                f"health_drifting_threshold, got {self.health_degrading_threshold} and "
                f"{self.health_drifting_threshold}."
            )
        if self.health_min_points < 1:
            raise ValueError(
                f"PerformancePolicy.health_min_points must be >= 1, got {self.health_min_points}."
            )
        if self.health_window_days < 1:
            raise ValueError(
                "PerformancePolicy.health_window_days must be >= 1 day, got "
                f"{self.health_window_days}."
            )


def _check_columns(frame: pd.DataFrame, required: Sequence[str], name: str, fix: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing the columns {missing}; {fix}")


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `date` as midnight datetime64 and the series key as str."""
    return frame.assign(
        date=pd.to_datetime(frame["date"]).dt.normalize(),
        **{key: frame[key].astype(str) for key in SERIES_KEY},
    )


def score_forecasts(
    forecasts: pd.DataFrame,
    actuals: pd.DataFrame,
    model_version: str | None = None,
    delivered_days: Iterable[date] | None = None,
) -> pd.DataFrame:
    """Join stored forecasts with actual units sold (rule 1 of the module docstring): one row
    per (delivered day, series) that has a forecast in force.

    `forecasts`: rows `date, store_id, product_id, p50` (units sold), optionally lineage
    (`PASSTHROUGH_COLUMNS`). A day forecast by several runs is scored with the forecast in
    force on that day: the one with the latest `training_cutoff` before the day; forecasts
    issued on or after the day are ignored. In daily operation that is the one-day-ahead
    forecast, easier than the backtest's average over the horizon, so the comparison with the
    backtest leans optimistic: a drift it reports is real.
    `model_version`: keep only that model's forecasts (the champion's), None = all.
    `actuals`: validated sales (`raw_sales` rows), one row per (date, series), `units_sold`.
    `delivered_days`: the days whose actuals were delivered and passed the contract (the days
    with a `raw_sales` partition); None = the days that have at least one row in `actuals`.
    Forecast rows on other days are dropped (unknown, never 0); on a delivered day a series
    without a row in `actuals` sold 0 units.

    Returns columns `date` (datetime64), `store_id`, `product_id` (str), `actual`, `forecast`
    (= p50), `error` (= forecast - actual) and `abs_error` (units sold), then the lineage
    columns present; sorted by date, store, product. Raises `ValueError` for missing columns,
    a (date, series) with two actuals, an actual on a day not in `delivered_days`, or two
    forecasts that no `training_cutoff` tells apart.
    """
    _check_columns(
        forecasts, FORECAST_REQUIRED, "forecasts", "pass rows of the lake's forecasts table."
    )
    _check_columns(actuals, ACTUAL_REQUIRED, "actuals", "pass validated raw_sales rows.")
    keys = list(ROW_KEY)
    chosen = _keyed(forecasts)
    if model_version is not None:
        if "model_version" not in chosen.columns:
            raise ValueError(
                "forecasts has no model_version column to filter on; pass model_version=None "
                "or the lake's forecasts table, which stamps it on every row."
            )
        chosen = chosen[chosen["model_version"].astype(str) == model_version]
    if "training_cutoff" in chosen.columns:
        issued = pd.to_datetime(chosen["training_cutoff"]).dt.normalize()
        chosen = chosen.assign(_issued=issued).loc[lambda frame: frame["_issued"] < frame["date"]]
        if chosen.duplicated([*keys, "_issued"]).any():
            raise ValueError(
                "forecasts has several rows for some (date, store_id, product_id, "
                "training_cutoff); pass model_version to keep one model's forecasts, or "
                "deduplicate them."
            )
        chosen = (
            chosen.sort_values([*keys, "_issued"], kind="stable")
            .drop_duplicates(keys, keep="last")
            .drop(columns="_issued")
        )
    elif chosen.duplicated(keys).any():
        raise ValueError(
            "forecasts has several rows for some (date, store_id, product_id) and no "
            "training_cutoff to pick the one in force; pass one forecast per day and series."
        )
    truth = _keyed(actuals)[[*keys, TARGET]]
    if truth.duplicated(keys).any():
        raise ValueError(
            "actuals has several rows for some (date, store_id, product_id); deduplicate it "
            "(validated raw_sales has one row per day and series)."
        )
    if delivered_days is None:
        delivered = pd.DatetimeIndex(truth["date"].unique())
    else:
        delivered = pd.DatetimeIndex(pd.to_datetime(list(delivered_days))).normalize()
        undelivered = sorted(set(truth["date"]) - set(delivered))
        if undelivered:
            raise ValueError(
                f"actuals has rows on {[str(day.date()) for day in undelivered[:5]]}, which are "
                "not in delivered_days; pass the days of the raw_sales partitions the actuals "
                "were read from."
            )
    lineage = [column for column in PASSTHROUGH_COLUMNS if column in chosen.columns]
    chosen = chosen[chosen["date"].isin(delivered)]
    scored = chosen[[*keys, "p50", *lineage]].merge(truth, on=keys, how="left", indicator=True)
    no_row = (scored.pop("_merge") == "left_only").to_numpy()
    actual = np.where(no_row, 0.0, scored[TARGET].to_numpy(dtype=np.float64))
    forecast = scored["p50"].to_numpy(dtype=np.float64)
    result = pd.DataFrame(
        {
            **{key: scored[key].to_numpy() for key in keys},
            ACTUAL: actual,
            FORECAST: forecast,
            "error": forecast - actual,
            "abs_error": np.abs(forecast - actual),
            **{column: scored[column].to_numpy() for column in lineage},
        }
    )
    return result.sort_values(keys, ignore_index=True)


def realized_metrics(
    scored: pd.DataFrame, as_of: date, windows: Sequence[int] = (RECENT_WINDOW_DAYS, 28)
) -> pd.DataFrame:
    """Realized accuracy over the last `w` days up to `as_of` (inclusive), for each `w` in
    `windows`, per series, per store and overall (rule 2 of the module docstring: a window ends
    at `as_of`, never at the newest scored day).

    `scored`: `score_forecasts` output. Rows dated after `as_of` are ignored.
    Returns columns `REALIZED_COLUMNS`: `as_of` (date), `window_days`, `level` (overall |
    store | series), `store_id`, `product_id` (the level's keys; None where not part of it),
    `wape`, `mae`, `rmse`, `bias`, `mape`, `stockout_miss_rate`, `overstock_rate` (see
    `forecastops.domain.metrics.metrics_by`), `n` (scored rows), `n_demand` (scored rows with
    units sold > 0) and `days` (distinct scored days; for a series equal to `n`). A window
    without scored rows still has its overall row, with `n = 0` and NaN metrics.
    """
    _check_columns(scored, (*ROW_KEY, ACTUAL, FORECAST), "scored", "pass score_forecasts output.")
    if not windows or min(windows) < 1:
        raise ValueError(f"windows must be whole days >= 1, got {list(windows)}.")
    end = pd.Timestamp(as_of)
    dates = pd.to_datetime(scored["date"])
    frames = []
    for window in windows:
        inside = scored[(dates > end - pd.Timedelta(days=window)) & (dates <= end)]
        inside = inside.assign(**{MASE_SCALE: np.nan})
        for level, keys in LEVELS.items():
            table = metrics_by(inside, list(keys))
            if keys:
                days = inside.groupby(list(keys), sort=True)["date"].nunique().to_numpy()
            else:
                days = np.array([inside["date"].nunique()])
            frames.append(
                table.assign(days=days, level=level, window_days=int(window), as_of=as_of)
            )
    realized = pd.concat(frames, ignore_index=True)
    for key in SERIES_KEY:
        values = realized[key] if key in realized.columns else pd.Series(np.nan, realized.index)
        realized[key] = values.astype(object).where(values.notna(), None)
    return realized[list(REALIZED_COLUMNS)]


@dataclass(frozen=True, eq=False)
class PerformanceResult:
    """The outcome of `classify`.

    - `series`: one row per series in the realized window or the baseline: `store_id`,
      `product_id`, `n` (scored days in the window), `mae` and `wape` (realized), `bias`,
      `baseline_mae` (backtest), `degradation` (`mae / baseline_mae - 1`; NaN without a
      baseline or scored days) and `status`; worst status first, then largest degradation.
    - `counts`: series per status, every status of `STATUSES` (zeros included).
    - `model_status`: the status of the model as a whole (`MODEL_STATUSES`): awaiting_actuals
      without a scored day in the last `RECENT_WINDOW_DAYS` days, insufficient_data with fewer
      than `health_min_points` scored days, else from `overall_degradation`.
    - `overall_degradation`: realized MAE over the MAE the backtest promised for the same
      series, minus 1 (see `classify`).
    - `overall_mae`, `baseline_mae`: those two MAEs (units sold per series-day).
    - `days`: distinct scored days in the window.
    """

    series: pd.DataFrame
    counts: dict[str, int]
    model_status: str
    overall_degradation: float
    overall_mae: float
    baseline_mae: float
    days: int
    policy: PerformancePolicy

    def to_markdown(self, n: int = 10) -> str:
        """A summary for operators: the model's status, the counts and the `n` worst series."""
        if self.model_status == AWAITING_ACTUALS:
            return (
                f"**Champion performance: {AWAITING_ACTUALS}** (no delivered day scored in the "
                f"last {RECENT_WINDOW_DAYS} days; {self.days} scored in the last "
                f"{self.policy.health_window_days})"
            )
        degradation = (
            "n/a" if math.isnan(self.overall_degradation) else f"{self.overall_degradation:+.1%}"
        )
        counts = pd.DataFrame({"status": list(self.counts), "series": list(self.counts.values())})
        worst = self.series[self.series["status"].isin([DRIFTING, DEGRADING])].head(n)
        lines = [
            f"**Champion performance: {self.model_status}** "
            f"(MAE {self.overall_mae:.3f} vs backtest {self.baseline_mae:.3f}: {degradation}; "
            f"degrading above {self.policy.health_degrading_threshold:+.0%}, drifting above "
            f"{self.policy.health_drifting_threshold:+.0%}; "
            f"last {self.policy.health_window_days} days, "
            f"{self.days} scored)",
            "",
            counts.to_markdown(index=False),
        ]
        if not worst.empty:
            lines += ["", worst.to_markdown(index=False, floatfmt=".3f")]
        return "\n".join(lines)


def _status(
    degradation: np.ndarray,
    mae: np.ndarray,
    n: np.ndarray,
    policy: PerformancePolicy,
    recent_days: np.ndarray | None = None,
) -> np.ndarray:
    """The one classifier: the status of each entry (vectorised), for series and for the model.

    In order: awaiting_actuals when `recent_days` (scored days in the last
    `RECENT_WINDOW_DAYS`; given for the model only) is 0; insufficient_data when `n` (scored
    days in the classified window) < `health_min_points`; drifting for a NaN realized MAE with
    enough days (a NaN forecast: a failed forecast never hides); no_baseline for a NaN degradation;
    then drifting / degrading / healthy by `degradation` (see `PerformancePolicy`)."""
    rounded = np.round(degradation, DEGRADATION_DECIMALS)
    awaiting = np.zeros(len(n), dtype=bool) if recent_days is None else recent_days == 0
    with np.errstate(invalid="ignore"):
        return np.select(
            [
                awaiting,
                n < policy.health_min_points,
                np.isnan(mae),
                np.isnan(rounded),
                rounded > policy.health_drifting_threshold,
                rounded > policy.health_degrading_threshold,
            ],
            [AWAITING_ACTUALS, INSUFFICIENT_DATA, DRIFTING, NO_BASELINE, DRIFTING, DEGRADING],
            default=HEALTHY,
        )


def _degradation(mae: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """`mae / baseline - 1`; with a zero baseline 0 when `mae` is 0 too, else inf."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(baseline > 0, mae / baseline - 1.0, np.where(mae > 0, np.inf, 0.0))
    return np.where(np.isnan(baseline) | np.isnan(mae), np.nan, ratio)


def classify(
    realized: pd.DataFrame,
    baseline: pd.DataFrame,
    policy: PerformancePolicy = PerformancePolicy(),
) -> PerformanceResult:
    """Classify each series and the model by realized MAE against the backtest MAE (rule 3 of
    the module docstring, through the one classifier `_status`).

    `realized`: `realized_metrics` output holding the `policy.health_window_days` window and the
    `RECENT_WINDOW_DAYS` window (the default `windows` of `realized_metrics` hold both).
    `baseline`: the champion's backtest metrics (the lake's backtest `metrics` rows of one
    candidate): columns `level`, `store_id`, `product_id`, `mae`, with `series` rows and an
    `overall` row.

    Series: `degradation = mae / baseline_mae - 1` with the rule of `PerformancePolicy`.
    Model: the realized MAE of the series that have a baseline, against the MAE the backtest
    promised for that same mix, `sum(n_s * baseline_mae_s) / sum(n_s)` (a backtest series MAE
    weighted by its realized days), so launches and discontinuations do not move it; without
    series baselines, the overall rows. Raises `ValueError` for a missing window or columns, or
    a baseline of several candidates. An empty `baseline` (with its columns) classifies every
    scored series, and the model, as no_baseline.
    """
    _check_columns(realized, REALIZED_COLUMNS, "realized", "pass realized_metrics output.")
    _check_columns(
        baseline,
        ("level", *SERIES_KEY, "mae"),
        "baseline",
        "pass the champion's rows of the backtest metrics.",
    )
    if "candidate" in baseline.columns and baseline["candidate"].nunique() > 1:
        raise ValueError(
            f"baseline holds several candidates {sorted(baseline['candidate'].unique())}; "
            "keep only the champion's family (e.g. metrics[metrics.candidate == "
            "'lightgbm_tweedie'])."
        )
    window = realized[realized["window_days"] == policy.health_window_days]
    if window.empty:
        raise ValueError(
            f"realized has no {policy.health_window_days}-day window (it has "
            f"{sorted(realized['window_days'].unique())}); compute realized_metrics with "
            f"windows including {policy.health_window_days}."
        )
    recent = realized[
        (realized["window_days"] == RECENT_WINDOW_DAYS) & (realized["level"] == "overall")
    ]
    if recent.empty:
        raise ValueError(
            f"realized has no {RECENT_WINDOW_DAYS}-day window (it has "
            f"{sorted(realized['window_days'].unique())}); compute realized_metrics with "
            f"windows including {RECENT_WINDOW_DAYS}, which decides awaiting_actuals."
        )
    keys = list(SERIES_KEY)
    mine = window[window["level"] == "series"][[*keys, "n", "mae", "wape", "bias"]]
    promised = baseline[baseline["level"] == "series"][[*keys, "mae"]]
    promised = promised.astype({key: str for key in keys}).rename(columns={"mae": "baseline_mae"})
    table = mine.astype({key: str for key in keys}).merge(promised, on=keys, how="outer")
    table["n"] = table["n"].fillna(0).astype(np.int64)
    mae = table["mae"].to_numpy(dtype=np.float64)
    base = table["baseline_mae"].to_numpy(dtype=np.float64)
    n = table["n"].to_numpy()
    table["degradation"] = _degradation(mae, base)
    table["status"] = _status(table["degradation"].to_numpy(), mae, n, policy)
    order = table["status"].map({status: rank for rank, status in enumerate(STATUSES)})
    table = (
        table.assign(_order=order, _sort=-table["degradation"].fillna(-np.inf))
        .sort_values(["_order", "_sort", *keys], kind="stable")
        .drop(columns=["_order", "_sort"])
        .reset_index(drop=True)
    )[[*keys, "n", "mae", "wape", "bias", "baseline_mae", "degradation", "status"]]

    matched = table[(table["n"] > 0) & table["baseline_mae"].notna()]
    if not matched.empty:
        weights = matched["n"].to_numpy(dtype=np.float64)
        overall_mae = float(np.average(matched["mae"].to_numpy(dtype=np.float64), weights=weights))
        baseline_mae = float(np.average(matched["baseline_mae"].to_numpy(), weights=weights))
    else:
        overall = window[window["level"] == "overall"]
        promised_overall = baseline[baseline["level"] == "overall"]
        overall_mae = float(overall["mae"].iloc[0]) if not overall.empty else float("nan")
        baseline_mae = (
            float(promised_overall["mae"].iloc[0]) if not promised_overall.empty else float("nan")
        )
    overall_rows = window[window["level"] == "overall"]
    days = int(overall_rows["days"].iloc[0]) if not overall_rows.empty else 0
    overall_degradation = float(_degradation(np.array([overall_mae]), np.array([baseline_mae]))[0])
    model_status = _status(
        np.array([overall_degradation]),
        np.array([overall_mae]),
        np.array([days]),
        policy,
        recent_days=np.array([int(recent["days"].iloc[0])]),
    )[0]
    counts = {status: int((table["status"] == status).sum()) for status in STATUSES}
    return PerformanceResult(
        series=table,
        counts=counts,
        model_status=str(model_status),
        overall_degradation=overall_degradation,
        overall_mae=overall_mae,
        baseline_mae=baseline_mae,
        days=days,
        policy=policy,
    )


# -- the health of a model on a day: every window, the class and the trend ------------------


@dataclass(frozen=True)
class WindowAccuracy:
    """Realized accuracy over the days `first`..`last` (inclusive): `days_scored` delivered
    days with a scored forecast, their pooled `wape` (unitless) and `mae` (units sold per
    series-day); both None when no day was scored (or WAPE without demand to weigh by).
    `operational`: each of `OPERATIONAL_METRICS` -> its value over the window (None when
    unknown) and `unknown_because` -> why each unknown one is (e.g. no day with demand for
    MAPE; see `forecastops.domain.metrics.undefined_reason`)."""

    first: date
    last: date
    days_scored: int
    wape: float | None
    mae: float | None
    operational: Mapping[str, float | None] = field(default_factory=dict)
    unknown_because: Mapping[str, str] = field(default_factory=dict)


def _number(value: Any) -> float | None:
    """A float as JSON-ready: None for NaN and inf."""
    number = float(value)
    return number if math.isfinite(number) else None


def _window_accuracy(realized: pd.DataFrame, as_of: date, window: int) -> WindowAccuracy:
    overall = realized[(realized["window_days"] == window) & (realized["level"] == "overall")]
    row = overall.iloc[0]
    reasons = {name: undefined_reason(name, row) for name in OPERATIONAL_METRICS}
    return WindowAccuracy(
        first=as_of - timedelta(days=window - 1),
        last=as_of,
        days_scored=int(row["days"]),
        wape=_number(row["wape"]),
        mae=_number(row["mae"]),
        operational={name: _number(row[name]) for name in OPERATIONAL_METRICS},
        unknown_because={name: reason for name, reason in reasons.items() if reason},
    )


def classify_trend(recent: WindowAccuracy, previous: WindowAccuracy) -> str | None:
    """`improving`, `stable` or `worsening` (`TRENDS`): the relative change of the recent
    window's WAPE against the previous window's, beyond `TREND_THRESHOLD` either way. None when
    either window has fewer than `TREND_MIN_SCORED_DAYS` scored days, a WAPE is unknown, or
    the previous WAPE is 0."""
    if min(recent.days_scored, previous.days_scored) < TREND_MIN_SCORED_DAYS:
        return None
    if recent.wape is None or previous.wape is None or previous.wape <= 0:
        return None
    change = recent.wape / previous.wape - 1.0
    if change > TREND_THRESHOLD:
        return WORSENING
    if change < -TREND_THRESHOLD:
        return IMPROVING
    return STABLE


HEALTH_FIELDS: tuple[str, ...] = (
    "as_of",
    "model_status",
    "overall_degradation",
    "overall_mae",
    "baseline_mae",
    "scored_days",
    "wape_7d",
    "mae_7d",
    "days_scored_7d",
    "last_scored_day",
    "previous_wape_7d",
    "previous_days_scored_7d",
    "trend",
    *(f"{name}_7d" for name in OPERATIONAL_METRICS),
    "unknown_7d",
)
"""The keys of `Health.summary()`, in order: what `model_health` stores, `forecastops status`
prints and the incident report shows."""


@dataclass(frozen=True, eq=False)
class Health:
    """A model's health on `as_of` (`assess_health`): everything the module docstring defines.

    - `performance`: the classified window (`PerformancePolicy.health_window_days` days up to
      `as_of`): per-series classes, the model's status and its MAE against the backtest.
    - `recent`: the last `RECENT_WINDOW_DAYS` days up to `as_of` (`wape_7d`, `mae_7d`);
      `previous`: the `RECENT_WINDOW_DAYS` days before them.
    - `trend`: `classify_trend(recent, previous)`.
    - `last_scored_day`: the newest scored day up to `as_of` among the rows assessed, or None.
    """

    as_of: date
    performance: PerformanceResult
    recent: WindowAccuracy
    previous: WindowAccuracy
    trend: str | None
    last_scored_day: date | None

    @property
    def status(self) -> str:
        """The model's status (`MODEL_STATUSES`)."""
        return self.performance.model_status

    def summary(self) -> dict[str, Any]:
        """The health as one JSON-ready record with the keys `HEALTH_FIELDS` (dates as ISO
        text, unknown numbers None). MAEs are in units sold per series-day; WAPEs and the
        degradation are unitless ratios; `scored_days` counts the classified window's scored
        days, `days_scored_7d` the recent window's. `mape_7d`, `stockout_miss_rate_7d` and
        `overstock_rate_7d` are the recent window's `OPERATIONAL_METRICS`; `unknown_7d` says
        why each of them that is None is unknown (`"<metric>: <reason>; ..."`, None when all
        are known)."""
        performance = self.performance
        return {
            "as_of": self.as_of.isoformat(),
            "model_status": performance.model_status,
            "overall_degradation": _number(performance.overall_degradation),
            "overall_mae": _number(performance.overall_mae),
            "baseline_mae": _number(performance.baseline_mae),
            "scored_days": performance.days,
            "wape_7d": self.recent.wape,
            "mae_7d": self.recent.mae,
            "days_scored_7d": self.recent.days_scored,
            "last_scored_day": self.last_scored_day.isoformat() if self.last_scored_day else None,
            "previous_wape_7d": self.previous.wape,
            "previous_days_scored_7d": self.previous.days_scored,
            "trend": self.trend,
            **{f"{name}_7d": value for name, value in self.recent.operational.items()},
            "unknown_7d": "; ".join(
                f"{name}: {reason}" for name, reason in self.recent.unknown_because.items()
            )
            or None,
        }

    def verdict(self, version: str, since: date | None = None) -> str:
        """One line for an operator: the champion, its status since when, the numbers that
        decided it and what to do."""
        performance, recent = self.performance, self.recent
        when = f" since {since.isoformat()}" if since is not None and since < self.as_of else ""
        head = f"Champion v{version} is {self.status.replace('_', ' ')}{when}"
        degradation = _number(performance.overall_degradation)
        versus = (
            f"MAE {degradation:+.0%} vs its backtest over the last {performance.days} scored days"
            if degradation is not None
            else ""
        )
        wape = (
            f"; WAPE {recent.wape:.3f} over the last {RECENT_WINDOW_DAYS} days"
            f" ({self.trend or 'no trend yet'})"
            if recent.wape is not None
            else ""
        )
        last = self.last_scored_day.isoformat() if self.last_scored_day else "none"
        advice = {
            HEALTHY: f": {versus}{wape}. Nothing to do.",
            DEGRADING: f": {versus}{wape}. Watch it: at drifting a retrain is requested.",
            DRIFTING: f": {versus}{wape}. Retrain: approve its performance_drift alert "
            "(forecastops alerts list) or let drift_retrain_sensor request it.",
            AWAITING_ACTUALS: f": no scored day in the last {RECENT_WINDOW_DAYS} (newest scored "
            f"day: {last}). Deliver the landing files; it is scored as actuals arrive.",
            INSUFFICIENT_DATA: f": too few scored days to judge ({performance.days} in the "
            "window). It is judged once enough actuals arrive.",
            NO_BASELINE: ": it has no backtest to compare with. Run retrain_job (or the weekly "
            "backtest) for its cutoff.",
        }
        return head + advice.get(self.status, ".")

    def to_markdown(self, n: int = 10) -> str:
        """`PerformanceResult.to_markdown` with the recent window and the trend above it."""
        recent = self.recent
        wape = "n/a" if recent.wape is None else f"{recent.wape:.3f}"
        mae = "n/a" if recent.mae is None else f"{recent.mae:.3f}"
        last = self.last_scored_day.isoformat() if self.last_scored_day else "none"
        line = (
            f"As of {self.as_of}: last {RECENT_WINDOW_DAYS} days ({recent.first}..{recent.last}) "
            f"WAPE {wape}, MAE {mae} over {recent.days_scored} scored days; newest scored day "
            f"{last}; trend {self.trend or 'n/a'}. {_operational_line(recent)}"
        )
        return f"{line}\n\n{self.performance.to_markdown(n)}"


def _operational_line(window: WindowAccuracy) -> str:
    """MAPE, stockout-miss and overstock rates of a window as one sentence; an unknown one is
    given with its reason."""
    labels = {
        "mape": "MAPE (days with demand)",
        "stockout_miss_rate": "stockout-miss rate",
        "overstock_rate": "overstock rate",
    }
    parts = []
    for name, label in labels.items():
        value = window.operational.get(name)
        shown = f"{value:.3f}" if value is not None else "n/a"
        reason = window.unknown_because.get(name)
        parts.append(f"{label} {shown}" + (f" ({reason})" if reason else ""))
    return "; ".join(parts) + "."


def status_since(statuses: pd.Series, as_of: date) -> date | None:
    """The first day of the run of equal statuses that ends at `as_of`: `statuses` is a model's
    stored status per day (a date index); None when `as_of` has no stored status. Days not
    stored in between do not break the run."""
    known = statuses[statuses.index <= pd.Timestamp(as_of)].sort_index()
    if known.empty or known.index[-1] != pd.Timestamp(as_of):
        return None
    current = known.iloc[-1]
    changed = known[known != current]
    after = known[known.index > changed.index[-1]] if not changed.empty else known
    return after.index[0].date()


def assess_health(
    scored: pd.DataFrame,
    baseline: pd.DataFrame,
    as_of: date,
    policy: PerformancePolicy = PerformancePolicy(),
) -> Health:
    """A model's health on `as_of`: the classified window, the recent and the previous
    `RECENT_WINDOW_DAYS` windows and the trend, all ending where the module docstring says.

    `scored`: `score_forecasts` output for the model (rows after `as_of` are ignored);
    `baseline`: its backtest metrics (see `classify`; empty with its columns when there is no
    backtest). Raises `ValueError` as `classify` does.
    """
    windows = sorted({RECENT_WINDOW_DAYS, policy.health_window_days})
    realized = realized_metrics(scored, as_of, windows=windows)
    earlier = as_of - timedelta(days=RECENT_WINDOW_DAYS)
    previous = realized_metrics(scored, earlier, windows=(RECENT_WINDOW_DAYS,))
    recent_window = _window_accuracy(realized, as_of, RECENT_WINDOW_DAYS)
    previous_window = _window_accuracy(previous, earlier, RECENT_WINDOW_DAYS)
    dates = pd.to_datetime(scored["date"])
    up_to = dates[dates <= pd.Timestamp(as_of)]
    return Health(
        as_of=as_of,
        performance=classify(realized, baseline, policy),
        recent=recent_window,
        previous=previous_window,
        trend=classify_trend(recent_window, previous_window),
        last_scored_day=up_to.max().date() if not up_to.empty else None,
    )
