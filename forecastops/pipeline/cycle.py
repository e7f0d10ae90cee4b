"""The retrain cycle's steps over the lake: what the model-plane assets call.

features -> backtest -> challenger -> promotion decision -> forecasts, for one training cutoff
(the partition day). The backtest ranks the candidate families first, so the challenger is
the LightGBM family that ranked best (`choose_challenger`, decision 0019). Only
contract-valid days are in `raw_sales`, so a day whose contract check failed can never feed
training. Each step persists its results to the lake as one atomic
partition, so a failed run leaves no half-written output.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd

from forecastops.domain.contract import CONTRACT_COLUMNS
from forecastops.domain.features import FeatureSpec, build_training_frame, feature_set_version
from forecastops.domain.promotion import (
    ChampionHealth,
    GateInput,
    PromotionDecision,
    PromotionPolicy,
)
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.stores.lake import Lake
from forecastops.stores.registry_tags import BACKTEST_METRICS, CONFIGURATION_TAGS

if TYPE_CHECKING:
    from forecastops.domain.backtest import BacktestResult, BacktestSpec
    from forecastops.domain.forecasters import Forecaster, LightGBMForecaster
    from forecastops.domain.shadow import ShadowEvidence
    from forecastops.stores.fold_cache import LakeFoldCache
    from forecastops.stores.settings import PolicySettings

FEATURES_TABLE = "sales_features"
BACKTEST_TABLE = "backtest"
DECISION_TABLE = "promotion_decision"
FORECASTS_TABLE = "forecasts"
SHADOW_FORECASTS_TABLE = "shadow_forecasts"
"""The challenger's forecasts from the served forecasts' origin: stored, scored, never served
(decision 0022)."""
INTERVAL_LEVELS = (0.1, 0.9)
FOLD_ANCHOR_WEEKDAY = 6
"""Sunday, the end of the retail week: where a weekly fold anchor ends the backtest's folds."""


@dataclass(frozen=True)
class CyclePolicy:
    """The retrain cycle's settings: training window, backtest layout, challenger, gate.

    The fields are the settings of the same names (`PolicySettings`, env
    `FORECASTOPS_<NAME>`); build it with `from_settings`.
    """

    training_window_days: int = 120
    horizon_days: int = 28
    backtest_days: int = 90
    backtest_folds: int = 3
    backtest_workers: int | None = None
    """Threads of the backtest (`forecastops.domain.backtest.run_backtest`); None: all usable
    CPUs."""
    backtest_fold_anchor: str = "daily"
    """`daily`: the backtest's last fold ends at the cutoff; `weekly`: on the latest Sunday on
    or before it, so a week's cycles share their folds (decision 0026)."""
    backtest_fold_cache: bool = True
    """Reuse the scored forecasts of (candidate, fold) pairs whose inputs did not change."""
    missing_days_alert_after: int = 3
    """A training-window day without data longer than this (days to the cutoff) raises a
    `missing_data` alert (`overdue_missing_days`)."""
    objective: str = "tweedie"
    """The LightGBM objective of a challenger trained without a backtest ranking for its
    cutoff (`choose_challenger`); with one, the best-ranked LightGBM family's objective wins."""
    feature_spec: FeatureSpec = field(default_factory=FeatureSpec)
    promotion: PromotionPolicy = field(default_factory=PromotionPolicy)

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> CyclePolicy:
        """The cycle's policy (with its promotion gate) from the settings' knobs."""
        return cls(
            training_window_days=settings.training_window_days,
            horizon_days=settings.horizon_days,
            backtest_days=settings.backtest_days,
            backtest_folds=settings.backtest_folds,
            backtest_workers=settings.backtest_workers,
            backtest_fold_anchor=settings.backtest_fold_anchor,
            backtest_fold_cache=settings.backtest_fold_cache,
            missing_days_alert_after=settings.missing_days_alert_after,
            objective=settings.objective,
            promotion=settings.promotion_policy(),
        )

    @property
    def challenger_candidate(self) -> str:
        """The backtest candidate of `objective` (the weekly champion backtest's family)."""
        return lightgbm_candidate(self.objective)

    @property
    def history_days(self) -> int:
        """Days of sales the backtest needs before the cutoff: evaluation + window + lags (+ the
        up to 6 days a weekly fold anchor moves the folds back)."""
        anchored = 6 if self.backtest_spec.anchor_weekday is not None else 0
        return (
            self.backtest_days
            + anchored
            + self.training_window_days
            + self.feature_spec.lookback_days
        )

    @property
    def backtest_spec(self) -> BacktestSpec:
        """Where the backtest's folds sit (`forecastops.domain.backtest.BacktestSpec`)."""
        from forecastops.domain.backtest import BacktestSpec

        return BacktestSpec(
            evaluation_days=self.backtest_days,
            horizon=self.horizon_days,
            folds=self.backtest_folds,
            anchor_weekday=FOLD_ANCHOR_WEEKDAY if self.backtest_fold_anchor == "weekly" else None,
        )


LIGHTGBM_PREFIX = "lightgbm_"
"""Backtest candidates named `lightgbm_<objective>` are trainable challengers; the others are
baselines, ranked but never registered."""


def lightgbm_candidate(objective: str) -> str:
    """The backtest candidate name of the LightGBM family with `objective`."""
    return f"{LIGHTGBM_PREFIX}{objective}"


class NotEnoughHistoryError(ValueError):
    """The lake holds too little validated history before a cutoff to train or evaluate."""


def load_sales(lake: Lake, first: date, last: date) -> pd.DataFrame:
    """Validated sales (contract columns) for `first`..`last` from the lake, sorted by
    date, store, product. Days that are not in the lake (rejected or never ingested) are absent."""
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    sales = lake.read_days(RAW_SALES_TABLE, days, columns=list(CONTRACT_COLUMNS))
    if sales.empty:
        raise NotEnoughHistoryError(
            f"The lake has no validated raw_sales between {first.isoformat()} and "
            f"{last.isoformat()} ({lake.table_path(RAW_SALES_TABLE)}). Ingest those days first."
        )
    return sales.sort_values(["date", "store_id", "product_id"], ignore_index=True)


def history_until(lake: Lake, cutoff: date, days: int) -> pd.DataFrame:
    """The `days` days of validated sales ending at `cutoff` (inclusive).

    The cutoff day itself must be delivered: a cycle "as of" a day that is missing is refused
    (`NotEnoughHistoryError`), not run to the last delivered day (decision 0016): its
    partitions (features, model tags, forecasts keyed by the cutoff, horizon steps counted
    from it) would claim a day the model never saw, and the forecast of the missing day
    itself would go unscored. Days missing before the cutoff are fine: they are unknown to
    the features, never 0 sold."""
    from forecastops.pipeline.ingest import delivered_days

    if not delivered_days(lake, cutoff, cutoff):
        raise NotEnoughHistoryError(
            f"The cutoff {cutoff.isoformat()} has no raw_sales partition (its landing file was "
            "rejected by the contract, not delivered yet, or deleted), so nothing is trained "
            "or forecast as of that day. Deliver (or fix) the landing file "
            f"sales_{cutoff.isoformat()}.csv (or .parquet) in FORECASTOPS_LANDING_DIR, "
            f"re-materialize raw_sales for {cutoff.isoformat()}, then run this partition "
            "again; or run the cycle for the last delivered day."
        )
    return load_sales(lake, cutoff - timedelta(days=days - 1), cutoff)


def overdue_missing_days(lake: Lake, cutoff: date, policy: CyclePolicy) -> list[date]:
    """The days of the training window ending at `cutoff` without a `raw_sales` partition for
    longer than `policy.missing_days_alert_after` days (`cutoff - day` above it), oldest
    first: each gets a `missing_data` alert. Younger gaps are left to arrive."""
    from forecastops.pipeline.ingest import missing_days

    first = cutoff - timedelta(days=policy.training_window_days - 1)
    overdue = cutoff - timedelta(days=policy.missing_days_alert_after + 1)
    return [day for day in missing_days(lake, first, cutoff) if day <= overdue]


def lag_window_missing_days(lake: Lake, cutoff: date, policy: CyclePolicy) -> list[date]:
    """The missing days (no `raw_sales` partition) among the `feature_spec.lookback_days` days
    up to `cutoff`: the days whose units a forecast from `cutoff` reads through its lags and
    rolling windows. The LightGBM forecaster estimates each of them before forecasting
    (decision 0016), so a forecast from such an origin rests partly on estimates."""
    from forecastops.pipeline.ingest import missing_days

    first = cutoff - timedelta(days=policy.feature_spec.lookback_days - 1)
    return missing_days(lake, first, cutoff)


def data_sha256(sales: pd.DataFrame) -> str:
    """SHA-256 of a sales snapshot's contract columns (row order normalised), so a model
    version names exactly the data it was trained on."""
    ordered = sales[list(CONTRACT_COLUMNS)].sort_values(["date", "store_id", "product_id"])
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def build_features(lake: Lake, cutoff: date, policy: CyclePolicy) -> tuple[pd.DataFrame, str, str]:
    """The modelling table for the training window ending at `cutoff`, stored in the lake.

    Returns (table, feature_set_version, data_sha256 of the sales it was built from).
    """
    spec = policy.feature_spec
    sales = history_until(lake, cutoff, policy.training_window_days + spec.lookback_days)
    start = cutoff - timedelta(days=policy.training_window_days - 1)
    table = build_training_frame(sales, spec, start=start, end=cutoff)
    lake.write_partition(FEATURES_TABLE, cutoff, {"data": table})
    return table, feature_set_version(spec), data_sha256(sales)


def candidate_factories(
    policy: CyclePolicy, names: Sequence[str] | None = None
) -> dict[str, Callable[[], Forecaster]]:
    """The candidate families the backtest ranks, each refit at every fold cutoff: by default
    (`names` None) seasonal naive, the moving average and LightGBM with both count objectives,
    on the policy's training window. The challenger and the champion are LightGBM
    configurations, so each is scored as its family (see docs/promotion.md)."""
    from forecastops.domain.forecasters import CANDIDATE_NAMES, make_forecaster

    return {
        name: partial(make_forecaster, name, window_days=policy.training_window_days)
        for name in (CANDIDATE_NAMES if names is None else names)
    }


def backtest_at(
    lake: Lake,
    cutoff: date,
    policy: CyclePolicy,
    candidates: Mapping[str, Callable[[], Forecaster]],
) -> BacktestResult:
    """Rolling-origin backtest of `candidates` at `cutoff` on the lake's validated sales, laid
    out by `policy` (evaluation days, horizon, folds, training window, workers). Stores
    nothing but the fold cache (`policy.backtest_fold_cache`, decision 0026); raises
    `NotEnoughHistoryError` when the lake starts too late for the first fold."""
    from forecastops.domain.backtest import run_backtest

    sales = history_until(lake, cutoff, policy.history_days)
    spec = policy.backtest_spec
    first_cutoff = spec.fold_cutoffs(cutoff)[0]
    if sales["date"].min().date() > first_cutoff - timedelta(days=policy.feature_spec.min_lag):
        raise NotEnoughHistoryError(
            f"The backtest at {cutoff.isoformat()} needs validated sales from "
            f"{(cutoff - timedelta(days=policy.history_days - 1)).isoformat()}; the lake starts at "
            f"{sales['date'].min().date().isoformat()}. Ingest more history or lower "
            "FORECASTOPS_BACKTEST_DAYS / FORECASTOPS_TRAINING_WINDOW_DAYS."
        )
    cache = fold_cache(lake, policy) if policy.backtest_fold_cache else None
    result = run_backtest(
        sales,
        candidates,
        spec,
        window_days=policy.training_window_days,
        workers=policy.backtest_workers,
        cache=cache,
    )
    if cache is not None:
        cache.sweep()
    return result


def fold_cache(lake: Lake, policy: CyclePolicy) -> LakeFoldCache:
    """The lake's fold cache for the candidates as `policy` configures them."""
    from forecastops.stores.fold_cache import LakeFoldCache, candidates_namespace

    namespace = candidates_namespace(
        feature_set_version(policy.feature_spec), policy.training_window_days
    )
    return LakeFoldCache.in_lake(lake, namespace)


def run_cycle_backtest(
    lake: Lake, cutoff: date, policy: CyclePolicy
) -> tuple[BacktestResult, pd.DataFrame]:
    """Rolling-origin backtest of every candidate family at `cutoff`; stores metrics, fold
    metrics, the ranking and per-candidate residual quantiles in the lake.

    Returns the result and the ranking table.
    """
    result = backtest_at(lake, cutoff, policy, candidate_factories(policy))
    ranking = result.ranking()
    quantiles = pd.concat(
        [
            result.residual_quantiles(candidate, INTERVAL_LEVELS)
            .table.rename(columns=lambda level: f"q{round(level * 100):02d}")
            .reset_index()
            .assign(candidate=candidate)
            for candidate in result.candidates
        ],
        ignore_index=True,
    )
    lake.write_partition(
        BACKTEST_TABLE,
        cutoff,
        {
            "metrics": result.metrics,
            "fold_metrics": result.fold_metrics,
            "ranking": ranking.table,
            "residual_quantiles": quantiles,
        },
    )
    return result, ranking.table


class NoRankedModelError(ValueError):
    """The cutoff's backtest ranking scored no LightGBM family, so there is nothing to train."""


@dataclass(frozen=True)
class ChallengerChoice:
    """Which LightGBM family the challenger is, and why.

    `objective`, `candidate` (`lightgbm_<objective>`); `rank` of that candidate in a ranking of
    `of` candidates and the ranking's `winner` (None without a ranking); `selected_by`: the
    sentence tagged on the version (`selected_by`)."""

    objective: str
    candidate: str
    rank: int | None
    of: int | None
    winner: str | None
    selected_by: str

    @property
    def baseline_won(self) -> bool:
        """A baseline ranked first: the challenger is the best LightGBM, not the winner."""
        return self.winner is not None and self.winner != self.candidate


def choose_challenger(
    ranking: pd.DataFrame | None, policy: CyclePolicy, cutoff: date
) -> ChallengerChoice:
    """The LightGBM family to train as the challenger at `cutoff`, from the backtest `ranking`
    table (`forecastops.domain.backtest.Ranking.table`, as stored in the lake).

    The best-ranked LightGBM candidate with a finite WAPE and status ok is chosen; baselines
    (seasonal naive, moving average) are never registered: when one ranks first, the best
    LightGBM is chosen and `selected_by` says the baseline won, and the gate's
    `beats_seasonal_naive` rule judges it as before. Without a ranking (`ranking` None: the
    challenger was materialized without its cutoff's backtest), `policy.objective` (setting
    `FORECASTOPS_OBJECTIVE`) is chosen and `selected_by` says so. Raises `NoRankedModelError`,
    naming each LightGBM candidate's error, when the ranking scored none of them.
    """
    from forecastops.domain.forecasters import OBJECTIVES

    if ranking is None:
        return ChallengerChoice(
            objective=policy.objective,
            candidate=policy.challenger_candidate,
            rank=None,
            of=None,
            winner=None,
            selected_by=(
                f"setting FORECASTOPS_OBJECTIVE={policy.objective} (no backtest ranking stored "
                f"for {cutoff.isoformat()})"
            ),
        )
    families = {lightgbm_candidate(objective): objective for objective in OBJECTIVES}
    status = ranking["status"] if "status" in ranking else pd.Series("ok", index=ranking.index)
    scored = ranking[(status == "ok") & ranking["wape"].notna()].sort_values("rank")
    lightgbm = scored[scored["candidate"].isin(list(families))]
    if lightgbm.empty:
        rows = ranking[ranking["candidate"].isin(list(families))]
        errors = "; ".join(
            f"{row.candidate}: {getattr(row, 'error', None) or 'no finite WAPE'}"
            for row in rows.itertuples()
        )
        raise NoRankedModelError(
            f"The backtest at {cutoff.isoformat()} scored no LightGBM family "
            f"({errors or 'none was a candidate'}), so no challenger is trained. Fix the "
            "failure named above, then run the backtest and challenger_model again."
        )
    best = lightgbm.iloc[0]
    winner = str(scored["candidate"].iloc[0])
    rank, of = int(best["rank"]), len(ranking)
    selected_by = f"backtest ranking: rank {rank} of {of}"
    if winner != best["candidate"]:
        selected_by += f" (best LightGBM; the baseline {winner} ranked first)"
    return ChallengerChoice(
        objective=families[str(best["candidate"])],
        candidate=str(best["candidate"]),
        rank=rank,
        of=of,
        winner=winner,
        selected_by=selected_by,
    )


def stored_ranking(lake: Lake, cutoff: date) -> pd.DataFrame | None:
    """The backtest ranking table stored for `cutoff`, or None when that backtest never ran."""
    if not lake.has_partition(BACKTEST_TABLE, cutoff):
        return None
    return lake.read_partition(BACKTEST_TABLE, cutoff, "ranking")


def overall_scores(metrics: pd.DataFrame, candidate: str) -> dict[str, float]:
    """The tagged scores (`BACKTEST_METRICS`) of `candidate` over all series in a backtest's
    `metrics`; NaN (unknown) for a metric a backtest stored before it existed. Raises
    `KeyError` when the backtest has no such candidate."""
    rows = metrics[(metrics["level"] == "overall") & (metrics["candidate"] == candidate)]
    if rows.empty:
        raise KeyError(f"The backtest has no candidate {candidate!r}.")
    return {
        name: float(rows[name].iloc[0]) if name in rows.columns else float("nan")
        for name in BACKTEST_METRICS
    }


def _overall_wape(metrics: pd.DataFrame, candidate: str) -> float:
    """The candidate's overall WAPE; NaN when it failed in the backtest (it has no score), so
    the gate's `metrics_are_numbers` refuses rather than the step crashing."""
    try:
        return overall_scores(metrics, candidate)["wape"]
    except KeyError:
        return float("nan")


def _store_wape(metrics: pd.DataFrame, candidate: str) -> dict[str, float]:
    rows = metrics[(metrics["level"] == "store") & (metrics["candidate"] == candidate)]
    return dict(zip(rows["store_id"].astype(str), rows["wape"].astype(float), strict=True))


def same_configuration(
    challenger_tags: Mapping[str, str], champion_tags: Mapping[str, str]
) -> bool:
    """Whether two model versions' registry tags agree on every `CONFIGURATION_TAGS` entry; a
    version missing one (registered before it was tagged) is not known to be the same."""
    return all(
        tag in challenger_tags and challenger_tags[tag] == champion_tags.get(tag)
        for tag in CONFIGURATION_TAGS
    )


def gate_input(
    metrics: pd.DataFrame,
    challenger: tuple[str, date, str],
    champion: tuple[str, date, str] | None,
    *,
    shadow: ShadowEvidence | None = None,
    champion_health: ChampionHealth | None = None,
) -> GateInput:
    """The promotion gate's evidence from the stored backtest `metrics` of a cutoff and the
    challenger stream's shadow evidence.

    `challenger` and `champion`: (version, training cutoff, objective), `champion` None when
    there is no champion yet. Each model is scored in the backtest as its LightGBM family (its
    objective's candidate); a family that failed in the backtest reads as NaN, which the gate
    refuses. `shadow` (see `forecastops.pipeline.monitoring.stream_evidence`) decides the
    improvement rule; `champion_health` (see `forecastops.pipeline.monitoring.champion_health`)
    is recorded with the decision.
    """
    from forecastops.domain.forecasters import SEASONAL_NAIVE

    challenger_family = lightgbm_candidate(challenger[2])
    champion_family = lightgbm_candidate(champion[2]) if champion else None
    return GateInput(
        challenger_version=challenger[0],
        challenger_cutoff=challenger[1],
        champion_version=champion[0] if champion else None,
        champion_cutoff=champion[1] if champion else None,
        challenger_wape=_overall_wape(metrics, challenger_family),
        champion_wape=_overall_wape(metrics, champion_family) if champion_family else None,
        seasonal_naive_wape=_overall_wape(metrics, SEASONAL_NAIVE),
        challenger_store_wape=_store_wape(metrics, challenger_family),
        champion_store_wape=_store_wape(metrics, champion_family) if champion_family else {},
        shadow=shadow,
        champion_health=champion_health,
    )


def record_decision(lake: Lake, cutoff: date, decision: PromotionDecision, gate: GateInput) -> None:
    """Store the decision (verdict, every rule's result and reason, the evidence: backtest
    WAPEs, the stream's shadow evidence and the champion's realized health) in the lake."""
    health, shadow = gate.champion_health, gate.shadow
    rules = pd.DataFrame(
        {
            "rule": list(decision.rule_results),
            "passed": list(decision.rule_results.values()),
            "reason": list(decision.reasons),
        }
    )
    summary = pd.DataFrame(
        {
            "promote": [decision.promote],
            "challenger_version": [gate.challenger_version],
            "champion_version": [gate.champion_version],
            "challenger_wape": [gate.challenger_wape],
            "champion_wape": [gate.champion_wape],
            "seasonal_naive_wape": [gate.seasonal_naive_wape],
            "shadow_stream": [shadow.stream if shadow else None],
            "shadow_versions": [",".join(shadow.versions) if shadow else None],
            "shadow_realized_days": [shadow.realized_days if shadow else 0],
            "shadow_wape": [shadow.challenger_wape if shadow else float("nan")],
            "shadow_champion_wape": [shadow.champion_wape if shadow else float("nan")],
            "shadow_improvement": [shadow.improvement if shadow else float("nan")],
            "champion_health": [health.status if health else None],
            "champion_health_day": [health.day.isoformat() if health else None],
            "champion_degradation": [health.degradation if health else None],
            "reasons": [" | ".join(decision.reasons)],
        }
    )
    lake.write_partition(DECISION_TABLE, cutoff, {"data": summary, "rules": rules})


TRACE_COLUMNS: tuple[str, ...] = ("objective", "window_days", "config_hash", "feature_hash")
"""Columns of a forecast row that trace it beyond its lineage (decision 0024): the model's
configuration (`objective`, `window_days`; `feature_set_version` is a lineage column),
`configuration_hash` of the three, and `feature_hash`, the hash of the row's feature vector
(`forecastops.domain.features.feature_hashes`; empty for a row the seasonal-naive fallback
forecast). Partitions stored before them lack these columns."""
FEATURES_PART = "features"
"""Part of a `forecasts` partition holding the feature vector of every model-forecast row
(`TracedForecast.features`), from which its `feature_hash` can be recomputed."""


@dataclass(frozen=True, eq=False)
class ForecastRows:
    """What `forecast_rows` builds for one forecaster at one cutoff: `rows` (one per series and
    day of the horizon, see `forecast_rows`) and `features` (`TracedForecast.features`)."""

    rows: pd.DataFrame
    features: pd.DataFrame


def forecast_rows(
    lake: Lake,
    cutoff: date,
    policy: CyclePolicy,
    forecaster: LightGBMForecaster,
    candidate: str,
    lineage: Mapping[str, str],
    history: pd.DataFrame | None = None,
) -> ForecastRows:
    """The P10/P50/P90 forecast of `forecaster` for every active series over the next horizon
    from `cutoff`, as stored rows: the one builder of the rows of the `forecasts` and
    `shadow_forecasts` tables (stores nothing).

    P50 is the forecaster's recursive forecast; P10/P90 are split-conformal bounds from the
    backtest residual quantiles of its family (`candidate`) at this cutoff. Each row carries
    `horizon_step`, `training_cutoff`, the `lineage` (model_version, data_sha256,
    dagster_run_id, ...), the forecaster's configuration (`feature_set_version`, `objective`,
    `window_days`, `config_hash`) and the `feature_hash` of its feature vector
    (`TRACE_COLUMNS`). `history`: the sales it reads (`forecast_history`), read from the lake
    when None.
    """
    from forecastops.domain.backtest import ResidualQuantiles
    from forecastops.domain.forecasters import configuration_hash, future_frame

    if history is None:
        history = forecast_history(lake, cutoff, policy)
    future = future_frame(history, cutoff, policy.horizon_days)
    traced = forecaster.predict_traced(history, future)
    predicted = traced.forecast
    quantiles = lake.read_partition(BACKTEST_TABLE, cutoff, "residual_quantiles")
    mine = quantiles[quantiles["candidate"] == candidate].set_index("horizon_step")
    bounds = ResidualQuantiles(
        table=mine[["q10", "q90"]].set_axis(list(INTERVAL_LEVELS), axis=1),
        levels=INTERVAL_LEVELS,
        relative=True,
    )
    step = (predicted["date"] - pd.Timestamp(cutoff)).dt.days
    p10, p90 = bounds.bounds(predicted["forecast"], step)
    configuration = traced.configuration
    rows = pd.DataFrame(
        {
            "date": predicted["date"],
            "store_id": predicted["store_id"],
            "product_id": predicted["product_id"],
            "p10": p10,
            "p50": predicted["forecast"].to_numpy(),
            "p90": p90,
            "horizon_step": step,
            "training_cutoff": cutoff.isoformat(),
            **{name: value for name, value in lineage.items()},
            "feature_set_version": str(configuration["feature_set_version"]),
            "objective": str(configuration["objective"]),
            "window_days": pd.array([configuration["window_days"]] * len(predicted), dtype="Int64"),
            "config_hash": configuration_hash(configuration),
            "feature_hash": traced.feature_hash.to_numpy(),
        }
    )
    return ForecastRows(rows=rows, features=traced.features)


def forecast_history(lake: Lake, cutoff: date, policy: CyclePolicy) -> pd.DataFrame:
    """The sales a forecast from `cutoff` reads: the lag lookback plus the training window."""
    return history_until(
        lake, cutoff, policy.feature_spec.lookback_days + policy.training_window_days
    )


def make_forecasts(
    lake: Lake,
    cutoff: date,
    policy: CyclePolicy,
    model: LightGBMForecaster,
    candidate: str,
    lineage: Mapping[str, str],
    history: pd.DataFrame | None = None,
    *,
    shadow_beside: str | None = None,
) -> pd.DataFrame:
    """`model`'s forecast rows (`forecast_rows`), stored in the lake with their feature vectors
    (part `FEATURES_PART`) and returned.

    Served (`shadow_beside` None): the champion's forecast, in the `forecasts` table. Shadow
    (`shadow_beside` = the champion's version): the challenger's forecast from the same origin
    (one extra predict, no refit), stamped `champion_version` so its evidence restarts when
    the champion changes, in the `shadow_forecasts` table, never served (decision 0022).
    """
    if shadow_beside is not None:
        lineage = {**lineage, "champion_version": shadow_beside}
    built = forecast_rows(lake, cutoff, policy, model, candidate, lineage, history)
    table = FORECASTS_TABLE if shadow_beside is None else SHADOW_FORECASTS_TABLE
    lake.write_partition(table, cutoff, {"data": built.rows, FEATURES_PART: built.features})
    return built.rows
