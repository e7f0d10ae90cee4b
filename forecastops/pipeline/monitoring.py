"""Monitoring over the lake, persisted per day so sensors only read it (they compute nothing
heavy): the drift score of the recent window against the champion's training window, and the
champion's realized accuracy against its backtest (performance drift)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from forecastops.domain.features import build_training_frame
from forecastops.domain.performance import OPERATIONAL_METRICS
from forecastops.pipeline.cycle import CyclePolicy, history_until
from forecastops.stores.lake import Lake

if TYPE_CHECKING:
    from forecastops.domain.drift import DriftPolicy, DriftResult
    from forecastops.domain.performance import Health, PerformancePolicy
    from forecastops.domain.promotion import ChampionHealth
    from forecastops.domain.shadow import ShadowEvidence
    from forecastops.domain.triggers import Signals
    from forecastops.stores.registry import ModelRegistry

DRIFT_TABLE = "drift_score"
CURRENT_WINDOW_DAYS = 28
TOP_DRIFTED = 5
"""How many drifted features the stored summary names, and `latest_drift` lists."""


@dataclass(frozen=True)
class DriftReference:
    """Where the reference window comes from: the champion's training window when there is a
    champion, else the `window_days` days just before the current window."""

    cutoff: date
    window_days: int
    source: str  # e.g. "champion v3" or "previous window (no champion yet)"


def reference_for(
    day: date, policy: CyclePolicy, champion: tuple[str, date, int] | None
) -> DriftReference:
    """The reference window for the drift score of `day`; `champion` = (version, training
    cutoff, window days) or None."""
    if champion is not None:
        version, cutoff, window = champion
        return DriftReference(cutoff=cutoff, window_days=window, source=f"champion v{version}")
    return DriftReference(
        cutoff=day - timedelta(days=CURRENT_WINDOW_DAYS),
        window_days=policy.training_window_days,
        source="previous window (no champion yet)",
    )


def _window_features(lake: Lake, cutoff: date, days: int, policy: CyclePolicy) -> pd.DataFrame:
    spec = policy.feature_spec
    sales = history_until(lake, cutoff, days + spec.lookback_days)
    return build_training_frame(sales, spec, start=cutoff - timedelta(days=days - 1), end=cutoff)


def window_missing_days(lake: Lake, day: date, reference: DriftReference) -> dict[str, list[str]]:
    """The missing days (no `raw_sales` partition) of the drift windows of `day`, which the
    drift score skips: `{"current": [...], "reference": [...]}`, ISO days."""
    from forecastops.pipeline.ingest import missing_days

    windows = {
        "current": (day, CURRENT_WINDOW_DAYS),
        "reference": (reference.cutoff, reference.window_days),
    }
    return {
        name: [
            missing.isoformat()
            for missing in missing_days(lake, last - timedelta(days=length - 1), last)
        ]
        for name, (last, length) in windows.items()
    }


def score_drift(
    lake: Lake,
    day: date,
    policy: CyclePolicy,
    reference: DriftReference,
    drift_policy: DriftPolicy,
    html_path: Path,
) -> DriftResult:
    """Score the data drift of the `CURRENT_WINDOW_DAYS` days ending at `day` against the
    reference window, write Evidently's HTML report to `html_path`, and store the per-feature
    scores, null-rate changes and a one-row summary in the lake (`drift_score` table).

    A missing day (no `raw_sales` partition; `window_missing_days` lists them) has no rows in
    either window, and the lags and rolling statistics that read it are NaN, which the scores
    leave out (decision 0016): it neither looks like a day of zero demand nor shifts the lag
    distributions. Only the null-rate table sees it, as the share of rows whose features read
    it."""
    from forecastops.domain.drift import detect_data_drift, drift_feature_columns

    columns, categorical = drift_feature_columns(policy.feature_spec)
    result = detect_data_drift(
        _window_features(lake, reference.cutoff, reference.window_days, policy),
        _window_features(lake, day, CURRENT_WINDOW_DAYS, policy),
        columns,
        categorical,
        drift_policy,
        html_path=html_path,
    )
    summary = pd.DataFrame(
        {
            "partition_date": [day.isoformat()],
            "overall_score": [result.overall_score],
            "alarm": [result.alarm],
            "drift_share": [result.drift_share],
            "dataset_drifted": [result.dataset_drifted],
            "target_shift": [result.target_shift],
            "target_drifted": [result.target_drifted],
            "top_features": [",".join(result.drifted_features[:TOP_DRIFTED])],
            "signal": [result.signal],
            "reference": [reference.source],
            "reference_cutoff": [reference.cutoff.isoformat()],
            "html_report": [str(html_path)],
        }
    )
    lake.write_partition(
        DRIFT_TABLE,
        day,
        {"data": summary, "features": result.features, "null_rates": result.null_rates},
    )
    return result


PERFORMANCE_TABLE = "model_performance"
TREND_PLOT_SIZE_INCHES = (10.0, 5.0)
TREND_PLOT_DPI = 100
STORED_FLOATS: tuple[str, ...] = (
    "overall_degradation",
    "overall_mae",
    "baseline_mae",
    "wape_7d",
    "mae_7d",
    "previous_wape_7d",
    *(f"{name}_7d" for name in OPERATIONAL_METRICS),
)
"""`Health.summary()` numbers stored as float64 (NaN where the summary has None), so every
day's `model_performance` record has the same types whatever was known."""
BASELINE_COLUMNS: tuple[str, ...] = ("candidate", "level", "store_id", "product_id", "mae")
"""The backtest metrics columns a health baseline needs (empty when there is no backtest)."""


def _stored_forecasts(
    lake: Lake,
    version: str,
    since: date | None,
    first: date,
    as_of: date,
    *,
    table: str | None = None,
    column: Literal["model_version", "champion_version"] = "model_version",
) -> pd.DataFrame:
    """The stored forecast rows dated `first`..`as_of` whose `column` is `version` (by default
    the served rows of model `version`), from the partitions of `table` (`forecasts` when None)
    of the cutoffs before `as_of` (and not before `since`, the version's training cutoff, when
    known): only those can hold a forecast in force on those days."""
    import duckdb

    from forecastops.pipeline.cycle import FORECASTS_TABLE

    table = table or FORECASTS_TABLE
    files = [
        str(lake.part_path(table, cutoff))
        for cutoff in lake.partition_days(table)
        if cutoff < as_of and (since is None or cutoff >= since)
    ]
    if not files:
        return pd.DataFrame(
            columns=["date", "store_id", "product_id", "p50", "model_version", "training_cutoff"]
        )
    frame = (
        duckdb.connect()
        .execute(
            f"""
            SELECT "date", store_id, product_id, p50, model_version, training_cutoff
            FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
            WHERE "{column}" = $version AND "date" BETWEEN $first AND $last
            """,
            {
                "files": files,
                "version": version,
                "first": pd.Timestamp(first),
                "last": pd.Timestamp(as_of),
            },
        )
        .df()
    )
    return frame.astype({"date": "datetime64[ns]"})


def _baseline(lake: Lake, tags: Mapping[str, str]) -> pd.DataFrame:
    """The backtest metrics of the version's family (`lightgbm_<objective>`) at its training
    cutoff; empty (with `BASELINE_COLUMNS`) when a tag is missing or the cutoff was never
    backtested."""
    from forecastops.pipeline.cycle import BACKTEST_TABLE

    cutoff, objective = tags.get("training_cutoff"), tags.get("objective")
    if cutoff and objective and lake.has_partition(BACKTEST_TABLE, date.fromisoformat(cutoff)):
        metrics = lake.read_partition(BACKTEST_TABLE, date.fromisoformat(cutoff), "metrics")
        return metrics[metrics["candidate"] == f"lightgbm_{objective}"]
    return pd.DataFrame(columns=list(BASELINE_COLUMNS))


def assess_champion(
    lake: Lake,
    version: str,
    tags: Mapping[str, str],
    as_of: date,
    policy: PerformancePolicy,
) -> Health:
    """Model `version`'s health on `as_of`: the one realized-accuracy definition
    (`forecastops.domain.performance`) applied to what the lake holds.

    `tags`: the version's registry tags (`training_cutoff` and `objective` name its backtest
    baseline). Its stored forecasts dated in the assessed span (the classified window, and at
    least two `RECENT_WINDOW_DAYS` windows for the trend, up to `as_of`) are scored against the
    `raw_sales` partitions of that span: the delivered days. Used by `model_health` (which
    stores it), `forecastops status`, the incident report and, through the stored record, the
    promotion gate; so they all say the same for the same day.
    """
    from forecastops.domain.performance import RECENT_WINDOW_DAYS, assess_health, score_forecasts

    span = max(policy.health_window_days, 2 * RECENT_WINDOW_DAYS)
    first = as_of - timedelta(days=span - 1)
    cutoff = tags.get("training_cutoff")
    forecasts = _stored_forecasts(
        lake, version, date.fromisoformat(cutoff) if cutoff else None, first, as_of
    )
    delivered, actuals = _delivered_actuals(lake, first, as_of)
    scored = score_forecasts(forecasts, actuals, model_version=version, delivered_days=delivered)
    return assess_health(scored, _baseline(lake, tags), as_of, policy)


def score_performance(
    lake: Lake,
    day: date,
    version: str,
    tags: Mapping[str, str],
    policy: PerformancePolicy,
) -> Health:
    """`assess_champion` on `day`, stored in the lake's `model_performance` table: `data` one
    row (`partition_date`, `model_version`, every `HEALTH_FIELDS` value of `Health.summary()`
    and `series_<status>` counts), `series` the per-series classes. Returns the health."""
    health = assess_champion(lake, version, tags, day, policy)
    summary = pd.DataFrame(
        [
            {
                "partition_date": day.isoformat(),
                "model_version": version,
                **health.summary(),
                **{
                    f"series_{status}": count for status, count in health.performance.counts.items()
                },
            }
        ]
    ).astype(dict.fromkeys(STORED_FLOATS, "float64"))
    lake.write_partition(
        PERFORMANCE_TABLE, day, {"data": summary, "series": health.performance.series}
    )
    return health


def _delivered_actuals(lake: Lake, first: date, as_of: date) -> tuple[list[date], pd.DataFrame]:
    """The delivered days `first`..`as_of` (with a `raw_sales` partition) and their sales."""
    from forecastops.domain.contract import CONTRACT_COLUMNS
    from forecastops.pipeline.ingest import RAW_SALES_TABLE, delivered_days

    delivered = delivered_days(lake, first, as_of)
    return delivered, lake.read_days(RAW_SALES_TABLE, delivered, columns=list(CONTRACT_COLUMNS))


SHADOW_PERFORMANCE_TABLE = "shadow_performance"
"""Per day: the challenger stream's shadow evidence against the champion (decision 0022)."""


def champion_since(lake: Lake, champion: str, as_of: date) -> date | None:
    """The cutoff on which `champion` was promoted by the gate: the newest `promotion_decision`
    on or before `as_of` that promoted it; None when the lake records none (promoted by hand,
    or before decisions were stored)."""
    from forecastops.pipeline.cycle import DECISION_TABLE

    for day in reversed(lake.partition_days(DECISION_TABLE)):
        if day > as_of:
            continue
        decision = lake.read_partition(DECISION_TABLE, day).iloc[0]
        if bool(decision["promote"]) and str(decision["challenger_version"]) == champion:
            return day
    return None


def stream_name(tags: Mapping[str, str]) -> str:
    """A configuration stream as `objective=..., window_days=..., feature_set_version=...`."""
    from forecastops.stores.registry_tags import CONFIGURATION_TAGS

    return ", ".join(f"{tag}={tags.get(tag, '?')}" for tag in CONFIGURATION_TAGS)


def stream_evidence(
    lake: Lake, registry: ModelRegistry, champion: str, challenger: str, as_of: date
) -> ShadowEvidence:
    """The shadow evidence on `as_of` of the stream of `challenger`'s configuration against
    `champion` (`forecastops.domain.shadow`): the stored shadow forecasts issued beside
    `champion` since it took office (`champion_since`) by any refit of that configuration,
    and the champion's served forecasts, both scored on the delivered days by the one
    realized-accuracy definition and compared on their shared rows."""
    from forecastops.domain.performance import score_forecasts
    from forecastops.domain.shadow import compare_shadow, evidence_window
    from forecastops.pipeline.cycle import SHADOW_FORECASTS_TABLE, same_configuration

    tags = registry.version_tags(challenger)
    since = champion_since(lake, champion, as_of)
    first = as_of - timedelta(days=evidence_window(as_of, since) - 1)
    shadow = _stored_forecasts(
        lake,
        champion,
        since,
        first,
        as_of,
        table=SHADOW_FORECASTS_TABLE,
        column="champion_version",
    )
    stream = [
        version
        for version in shadow["model_version"].astype(str).unique()
        if version == challenger or same_configuration(registry.version_tags(version), tags)
    ]
    shadow = shadow[shadow["model_version"].astype(str).isin(stream)]
    served = _stored_forecasts(lake, champion, since, first, as_of)
    delivered, actuals = _delivered_actuals(lake, first, as_of)
    return compare_shadow(
        score_forecasts(served, actuals, model_version=champion, delivered_days=delivered),
        score_forecasts(shadow, actuals, delivered_days=delivered),
        as_of,
        stream=stream_name(tags),
        challenger=challenger,
        champion=champion,
        since=since,
    )


def score_shadow(
    lake: Lake, registry: ModelRegistry, day: date, champion: str
) -> ShadowEvidence | None:
    """`stream_evidence` on `day` of the version holding the `challenger` alias, stored in the
    lake's `shadow_performance` table (`data`: one row, `ShadowEvidence.summary()` and
    `partition_date`; `stores`: store_id, challenger and champion WAPE). None (nothing stored)
    when there is no challenger or it is the champion."""
    from forecastops.stores.registry_tags import CHALLENGER

    challenger = registry.alias_version(CHALLENGER)
    if challenger is None or challenger == champion:
        return None
    evidence = stream_evidence(lake, registry, champion, challenger, day)
    summary = pd.DataFrame([{"partition_date": day.isoformat(), **evidence.summary()}]).astype(
        {
            name: "float64"
            for name in (
                "wape",
                "champion_wape",
                "mae",
                "champion_mae",
                "wape_7d",
                "mae_7d",
                "improvement",
            )
        }
    )
    stores = sorted(set(evidence.challenger_store_wape) | set(evidence.champion_store_wape))
    per_store = pd.DataFrame(
        {
            "store_id": stores,
            "wape": [evidence.challenger_store_wape.get(s, math.nan) for s in stores],
            "champion_wape": [evidence.champion_store_wape.get(s, math.nan) for s in stores],
        }
    ).astype({"store_id": "str", "wape": "float64", "champion_wape": "float64"})
    lake.write_partition(SHADOW_PERFORMANCE_TABLE, day, {"data": summary, "stores": per_store})
    return evidence


def latest_signals(lake: Lake) -> Signals | None:
    """What the monitoring assets stored for the newest day they scored (for the retrain
    sensor): its drift score, the champion's degradation and whether the day's landing file met
    the contract. None when nothing is stored yet."""
    from forecastops.domain.triggers import Signals
    from forecastops.pipeline.ingest import CONTRACT_TABLE

    days = set(lake.partition_days(DRIFT_TABLE)) | set(lake.partition_days(PERFORMANCE_TABLE))
    if not days:
        return None
    day = max(days)
    drift = lake.read_partition(DRIFT_TABLE, day) if lake.has_partition(DRIFT_TABLE, day) else None
    performance = (
        lake.read_partition(PERFORMANCE_TABLE, day)
        if lake.has_partition(PERFORMANCE_TABLE, day)
        else None
    )
    contract = (
        lake.read_partition(CONTRACT_TABLE, day)
        if lake.has_partition(CONTRACT_TABLE, day)
        else None
    )
    return Signals(
        day=day.isoformat(),
        contract_passed=bool(contract is not None and contract["passed"].item()),
        drift_score=float(drift["overall_score"].item()) if drift is not None else None,
        degradation=(
            float(performance["overall_degradation"].item()) if performance is not None else None
        ),
        top_features=str(drift["top_features"].item()) if drift is not None else "",
        drift_signal=(
            str(drift["signal"].item()) if drift is not None and "signal" in drift else ""
        ),
    )


def latest_drift(lake: Lake, as_of: date | None = None) -> dict[str, Any] | None:
    """The newest stored drift score (on or before `as_of` when given) as JSON-ready values:
    `day`, `overall_score`, `drift_share`, `alarm`, `target_shift`, `drifted_features` (those
    over their threshold), `top_features` (the `TOP_DRIFTED` most drifted, by severity, over
    their threshold or not), `reference`, `html_report`; None when no day was scored."""
    days = [d for d in lake.partition_days(DRIFT_TABLE) if as_of is None or d <= as_of]
    if not days:
        return None
    row = lake.read_partition(DRIFT_TABLE, days[-1]).iloc[0]
    features = lake.read_partition(DRIFT_TABLE, days[-1], "features")  # most drifted first
    drifted = str(row["top_features"])
    return {
        "day": days[-1].isoformat(),
        "overall_score": _number(row["overall_score"]),
        "drift_share": _number(row["drift_share"]),
        "alarm": bool(row["alarm"]),
        "target_shift": _number(row["target_shift"]),
        "drifted_features": drifted.split(",") if drifted else [],
        "top_features": [str(name) for name in features["feature"].head(TOP_DRIFTED)],
        "signal": str(row["signal"]) if "signal" in row else None,
        "reference": str(row["reference"]),
        "html_report": str(row["html_report"]),
    }


def performance_history(lake: Lake, version: str | None = None) -> pd.DataFrame:
    """The stored `model_performance` summaries, oldest first, with `partition_date` as a
    datetime; only `version`'s rows when given. Days stored before `mae_7d` / `wape_7d` (or the
    `OPERATIONAL_METRICS`' `<metric>_7d`) were recorded have NaN there: unknown, not 0."""
    history = lake.read_days(PERFORMANCE_TABLE, lake.partition_days(PERFORMANCE_TABLE))
    if history.empty:
        return history
    for column in ("mae_7d", "wape_7d", *(f"{name}_7d" for name in OPERATIONAL_METRICS)):
        if column not in history.columns:
            history[column] = np.nan
    history["partition_date"] = pd.to_datetime(history["partition_date"])
    if version is not None:
        history = history[history["model_version"].astype(str) == version]
    return history.sort_values("partition_date", ignore_index=True)


def champion_health(lake: Lake, version: str, as_of: date) -> ChampionHealth | None:
    """Model `version`'s newest realized health on or before `as_of` (its latest
    `model_performance` record), for the promotion gate; None when it was never scored."""
    from forecastops.domain.promotion import ChampionHealth

    history = performance_history(lake, version)
    if history.empty:
        return None
    history = history[history["partition_date"] <= pd.Timestamp(as_of)]
    if history.empty:
        return None
    newest = history.iloc[-1]
    return ChampionHealth(
        status=str(newest["model_status"]),
        day=newest["partition_date"].date(),
        degradation=float(newest["overall_degradation"]),
    )


TREND_PLOT_WEEKS = 6
"""Weeks of realized accuracy the health plot shows, up to its newest scored day."""


def plot_performance_trend(history: pd.DataFrame, path: Path) -> Path:
    """Write a 1000 x 500 px PNG of realized accuracy over the last `TREND_PLOT_WEEKS` weeks
    to `path` (parents created).

    `history`: `performance_history` rows. Top: MAE (units sold per series-day) over the last
    7 days and over the classified window, with the backtest MAE dashed. Bottom: WAPE over
    the last 7 days. One point per scored day.
    """
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure  # heavy import kept out of module load

    newest = history["partition_date"].max()
    first_shown = newest - pd.Timedelta(weeks=TREND_PLOT_WEEKS)
    history = history[history["partition_date"] > first_shown]
    figure = Figure(figsize=TREND_PLOT_SIZE_INCHES, dpi=TREND_PLOT_DPI, layout="constrained")
    mae_axis, wape_axis = figure.subplots(2, 1, sharex=True)
    days = history["partition_date"]
    # the axis spans the weeks shown, also with a single scored day (Matplotlib would pad a
    # lone date by years)
    mae_axis.set_xlim(first_shown, newest + pd.Timedelta(days=1))
    locator = AutoDateLocator()
    wape_axis.xaxis.set_major_locator(locator)
    wape_axis.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    mae_axis.plot(days, history["mae_7d"], marker="o", label="MAE last 7 days")
    mae_axis.plot(days, history["overall_mae"], marker=".", label="MAE classified window")
    mae_axis.plot(days, history["baseline_mae"], color="grey", linestyle="--", label="backtest MAE")
    mae_axis.set_ylabel("units / series-day")
    mae_axis.set_title("Champion's realized accuracy (lower is better)")
    mae_axis.legend(loc="upper left", fontsize="small")
    wape_axis.plot(days, history["wape_7d"], marker="o", color="C2", label="WAPE last 7 days")
    wape_axis.set_ylabel("WAPE")
    wape_axis.legend(loc="upper left", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _number(value: Any) -> float | None:
    """A stored float as JSON-ready: None for NaN."""
    number = float(value)
    return None if math.isnan(number) else number
