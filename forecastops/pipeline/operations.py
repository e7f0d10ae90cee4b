"""Operating the model registry: promote, roll back, read the history and the status, export a
cutoff's forecasts, and reproduce a version from its recorded training snapshot.

The pure core behind `forecastops promote | rollback | history | status | forecasts |
reproduce` and the Dagster jobs `promote_model_job` / `rollback_model_job`; both front ends are
thin and only translate `OperationRefused` into an exit code or a `dagster.Failure`.

Rules (chosen here; docs/operations.md repeats them for operators):

- **Promotable** (`promotion_blockers`): a version may become champion by hand only when its
  backtest ran (version tag `backtest_wape` present) and the promotion gate passed it (tag
  `promotion_decision` = `promoted`). A version whose gate verdict is `rejected`, or that never
  reached the gate, or that has no backtest, is refused unless forced; a forced move records the
  rules it overrode in the reason of the history record. An unknown version is never accepted.
- **Rollback** moves `champion` back to `ModelRegistry.previous_champion()` (the newest recorded
  champion before the current one); with no such version it is refused.
- **Nothing changes on a refusal**: every check runs before the one `ModelRegistry.move_alias`
  call, and `apply_plan` refuses when the alias moved between the check and the move.
- **Realized accuracy** (`realized_accuracy`): a version's stored P50 forecasts in the lake's
  `forecasts` table are scored against `raw_sales` on the days that have both. For a day
  forecast from several cutoffs the newest cutoff counts (the forecast that was live that day).
  A series with no `raw_sales` row on a stored day sold 0 units (as in
  `forecastops.domain.features`).
  The 7-day window is the `REALIZED_WINDOW_DAYS` calendar days ending at the newest scored day;
  the trend compares its WAPE with the 7 days before, and is null unless both windows hold
  `TREND_MIN_SCORED_DAYS` scored days: `degrading` when WAPE rose by more than
  `TREND_THRESHOLD` (relative), `improving` when it fell by more, else `stable`.
- **Reproduction** (`reproduce_version`): the version's training snapshot (run artifact named by
  its `training_data` tag) must hash to its `data_sha256` tag; a LightGBM model refit on it with
  the settings of the version's saved spec JSON must give the recorded `train_wape` within
  `REPRODUCE_TOLERANCE`. Whether the refit booster file is byte-identical (`artifact_sha256`) is
  reported too, for information: LightGBM here is deterministic, so a difference means another
  LightGBM build, not other data.

Versions are the registry's version numbers as text ("3").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from forecastops.pipeline.cycle import DECISION_TABLE, FORECASTS_TABLE, data_sha256
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.stores.registry import CHALLENGER, CHAMPION, SHA256_TAG

if TYPE_CHECKING:
    from forecastops.domain.forecasters import LightGBMForecaster
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import AliasMove, ModelRegistry

DECISION_TAG = "promotion_decision"
"""Version tag the `promotion_decision` asset sets: `promoted` or `rejected`."""
PROMOTED = "promoted"
BACKTEST_TAG_PREFIX = "backtest_"
BACKTEST_WAPE_TAG = f"{BACKTEST_TAG_PREFIX}wape"
"""Version tag the `backtest` asset sets (with `backtest_mae`, `_rmse`, `_bias`, `_mase`)."""
BACKTEST_METRICS: tuple[str, ...] = ("wape", "mae", "rmse", "bias", "mase")
TRAINING_DATA_TAG = "training_data"
"""Version tag naming the run artifact that holds the training snapshot (a Parquet file)."""
TRAINING_DATA_ARTIFACT = "training_data"
"""Run folder `challenger_model` logs the training snapshot into."""
TRAINING_DATA_FILE = "training_sales.parquet"
TRAIN_WAPE_METRIC = "train_wape"
"""Run metric: `in_sample_wape` of the registered model on its training snapshot."""
TRAINING_ROWS_METRIC = "training_rows"

REALIZED_WINDOW_DAYS = 7
"""Length in days of the realized-accuracy window (`wape_7d`, `mae_7d`)."""
TREND_MIN_SCORED_DAYS = 5
"""Scored days each 7-day window needs before a trend is given."""
TREND_THRESHOLD = 0.05
"""Relative WAPE change between the two 7-day windows that counts as a trend (0.05 = 5 %)."""
REPRODUCE_TOLERANCE = 1e-6
"""Largest |recorded - reproduced| `train_wape` that counts as reproduced."""

SERVING = "serving"
"""Champion status: the newest stored forecasts were made by this version."""
AWAITING_FORECASTS = "awaiting_forecasts"
"""Champion status: it has not produced the newest stored forecasts (none yet, or it was
promoted or rolled back to since: the next `forecasts` run will use it)."""

EXPORT_COLUMNS: tuple[str, ...] = (
    "date",
    "store_id",
    "product_id",
    "p10",
    "p50",
    "p90",
    "model_version",
)
"""The first columns of an exported forecast; the lineage columns follow."""


class OperationRefused(Exception):
    """A registry operation was refused before anything changed.

    `field`: the input at fault (`version`, `reason`, `date`, ...) or None when the registry's
    state is the reason; `usage`: True when the input itself is wrong (the CLI exits 2), False
    when a rule refused a well-formed request (exit 1).
    """

    def __init__(self, message: str, *, field: str | None = None, usage: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.usage = usage


# -- promote and roll back ------------------------------------------------------------------


@dataclass(frozen=True)
class AliasPlan:
    """A checked alias move, ready to confirm and apply.

    `overridden`: the promotion rules `force` overrode (empty when none did). `summary`: what
    the move does, in words an operator confirms.
    """

    alias: str
    from_version: str | None
    to_version: str
    summary: str
    overridden: tuple[str, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return self.from_version == self.to_version


def _where(registry: ModelRegistry) -> str:
    return f"model {registry.model_name!r} at {registry.display_uri}"


def _versions(registry: ModelRegistry) -> dict[str, dict[str, Any]]:
    return {row["version"]: row for row in registry.versions()}


def check_version(registry: ModelRegistry, version: str) -> tuple[str, dict[str, str]]:
    """(the version as the registry spells it, its tags) after checking that `version` is a
    version number the registry holds.

    Raises `OperationRefused` (field `version`, usage) for text that is not a whole number >= 1
    and for a version that does not exist, listing the ones that do.
    """
    text = str(version).strip()
    if not text.isdigit() or int(text) < 1:
        raise OperationRefused(
            f"{version!r} is not a model version number; give a whole number >= 1 "
            "(`forecastops history` and `forecastops status` show the versions in use).",
            field="version",
            usage=True,
        )
    text = str(int(text))
    known = _versions(registry)
    if text not in known:
        listed = ", ".join(known) if known else "none yet: run the retrain cycle first"
        raise OperationRefused(
            f"Version {text} does not exist in {_where(registry)} (versions: {listed}).",
            field="version",
            usage=True,
        )
    return text, dict(known[text]["tags"])


def promotion_blockers(tags: Mapping[str, str]) -> list[str]:
    """The promotion rules a version's tags fail, one sentence each (empty: promotable).

    A version is promotable when its backtest ran (`backtest_wape` tag) and the promotion gate
    passed it (`promotion_decision` = `promoted`).
    """
    cutoff = tags.get("training_cutoff", "<its training cutoff>")
    blockers = []
    if BACKTEST_WAPE_TAG not in tags:
        blockers.append(
            f"it has no backtest (tag {BACKTEST_WAPE_TAG} missing: the retrain run of cutoff "
            f"{cutoff} stopped before `backtest`; its run in the Dagster UI says why)"
        )
    decision = tags.get(DECISION_TAG)
    if decision is None:
        blockers.append(
            f"it never went through the promotion gate (tag {DECISION_TAG} missing: the "
            f"retrain run of cutoff {cutoff} stopped before `promotion_decision`)"
        )
    elif decision != PROMOTED:
        blockers.append(
            f"the promotion gate {decision} it (tag {DECISION_TAG}={decision}); its reasons: "
            f"`forecastops sql \"SELECT * FROM {DECISION_TABLE} WHERE day = '{cutoff}'\"`"
        )
    return blockers


def _describe(version: str | None, tags: Mapping[str, str]) -> str:
    if version is None:
        return "none"
    wape = tags.get(BACKTEST_WAPE_TAG)
    details = [f"cutoff {tags.get('training_cutoff', 'unknown')}"]
    if wape is not None:
        details.append(f"backtest WAPE {wape}")
    return f"v{version} ({', '.join(details)})"


def plan_promotion(registry: ModelRegistry, version: str, *, force: bool = False) -> AliasPlan:
    """Check that `version` may become champion (see `promotion_blockers`).

    Raises `OperationRefused`: usage for an unknown version (even with `force`); a rule refusal
    naming the blockers and `force` when the version is not promotable and `force` is False.
    """
    target, tags = check_version(registry, version)
    current = registry.alias_version(CHAMPION)
    blockers = promotion_blockers(tags)
    if blockers and not force:
        raise OperationRefused(
            f"Version {target} is not promotable: {'; '.join(blockers)}. Nothing changed. "
            "Promote it anyway with force (--force / config force: true) if you are sure.",
            field="force",
        )
    current_tags = registry.version_tags(current) if current else {}
    summary = (
        f"Move champion of {_where(registry)} from {_describe(current, current_tags)} "
        f"to {_describe(target, tags)}"
        + (f", overriding: {'; '.join(blockers)}" if blockers else "")
        + "."
    )
    return AliasPlan(CHAMPION, current, target, summary, tuple(blockers))


def plan_rollback(registry: ModelRegistry) -> AliasPlan:
    """The move of `champion` back to the previous champion of the recorded history.

    Raises `OperationRefused` when the history has no previous champion.
    """
    current = registry.alias_version(CHAMPION)
    target = registry.previous_champion()
    if target is None:
        raise OperationRefused(
            f"No previous champion to roll back to: the alias history of {_where(registry)} "
            f"records no champion other than the current one ({current or 'none'}). Nothing "
            "changed. To pick a version by hand use `forecastops promote --version N`."
        )
    current_tags = registry.version_tags(current) if current else {}
    summary = (
        f"Roll champion of {_where(registry)} back from {_describe(current, current_tags)} "
        f"to {_describe(target, registry.version_tags(target))}."
    )
    return AliasPlan(CHAMPION, current, target, summary)


def check_reason(reason: str | None, default: str) -> str:
    """The reason to record: `reason` stripped, or `default` when None. Raises
    `OperationRefused` (field `reason`, usage) for a blank reason."""
    if reason is None:
        return default
    if not reason.strip():
        raise OperationRefused(
            "The reason is blank; say in a sentence why the alias moves, or leave it out.",
            field="reason",
            usage=True,
        )
    return reason.strip()


def apply_plan(
    registry: ModelRegistry, plan: AliasPlan, *, actor: str, reason: str
) -> AliasMove | None:
    """Move the alias as planned through `ModelRegistry.move_alias` (recorded with `actor` and
    `reason`, plus the overridden rules of a forced promotion). Returns the move, or None when
    the alias already points at the target (nothing is recorded).

    Raises `OperationRefused` when the alias moved since the plan was made (re-plan), and
    `RegistryError` when the move fails (the registry leaves the alias where it was).
    """
    current = registry.alias_version(plan.alias)
    if current != plan.from_version:
        raise OperationRefused(
            f"{plan.alias} moved from {plan.from_version or 'none'} to {current or 'none'} while "
            "this operation was being confirmed. Nothing changed; run it again."
        )
    if plan.changes_nothing:
        return None
    recorded = reason
    if plan.overridden:
        recorded += f" [forced past: {'; '.join(plan.overridden)}]"
    return registry.move_alias(plan.alias, plan.to_version, actor=actor, reason=recorded)


def history_frame(registry: ModelRegistry) -> pd.DataFrame:
    """Every recorded alias move, oldest first: `moved_at` (ISO 8601 UTC), `alias`, `change`
    (`from -> to`, `none` when the alias was not set), `actor`, `reason`."""
    moves = registry.history()
    return pd.DataFrame(
        {
            "moved_at": [move.moved_at for move in moves],
            "alias": [move.alias for move in moves],
            "change": [f"{move.from_version or 'none'} -> {move.to_version}" for move in moves],
            "actor": [move.actor for move in moves],
            "reason": [move.reason for move in moves],
        }
    )


# -- status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RealizedAccuracy:
    """A version's stored forecasts scored against what sold (see the module docstring).

    WAPE is a unitless share; MAE is in units sold per series-day. Every field is None when
    no stored forecast of the version has actuals yet.
    """

    last_day: date | None = None
    days_scored: int = 0
    wape_7d: float | None = None
    mae_7d: float | None = None
    previous_days_scored: int = 0
    previous_wape_7d: float | None = None
    trend: str | None = None


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def classify_trend(
    wape_last: float | None,
    wape_previous: float | None,
    threshold: float = TREND_THRESHOLD,
) -> str | None:
    """`improving`, `stable` or `degrading` from the WAPE of the last window and the one
    before (relative change beyond `threshold`); None when either is missing or the earlier
    one is 0."""
    if wape_last is None or wape_previous is None or wape_previous <= 0:
        return None
    change = wape_last / wape_previous - 1.0
    if change > threshold:
        return "degrading"
    if change < -threshold:
        return "improving"
    return "stable"


def _live_forecasts(lake: Lake, version: str) -> pd.DataFrame:
    """The P50 of `version` per (date, store_id, product_id) from its newest cutoff."""
    if not lake.partition_days(FORECASTS_TABLE):
        return pd.DataFrame(columns=["date", "store_id", "product_id", "forecast"])
    import duckdb

    source = lake.glob(FORECASTS_TABLE).replace("'", "''")
    frame = (
        duckdb.connect()
        .execute(
            f"""
            SELECT "date", store_id, product_id, p50 AS forecast
            FROM read_parquet('{source}', union_by_name = true, hive_partitioning = false)
            WHERE model_version = ?
            QUALIFY row_number() OVER (
                PARTITION BY "date", store_id, product_id ORDER BY training_cutoff DESC
            ) = 1
            """,
            [version],
        )
        .df()
    )
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def realized_accuracy(lake: Lake, version: str) -> RealizedAccuracy:
    """Score `version`'s stored forecasts against `raw_sales` (module docstring: the rules)."""
    from forecastops.domain.metrics import mae, wape

    forecasts = _live_forecasts(lake, version)
    actual_days = {pd.Timestamp(day) for day in lake.partition_days(RAW_SALES_TABLE)}
    forecasts = forecasts[forecasts["date"].isin(actual_days)]
    if forecasts.empty:
        return RealizedAccuracy()
    last = forecasts["date"].max()
    first = last - pd.Timedelta(days=2 * REALIZED_WINDOW_DAYS - 1)
    window = forecasts[forecasts["date"] >= first]
    days = sorted({day.date() for day in window["date"]})
    actuals = lake.read_days(
        RAW_SALES_TABLE, days, columns=["date", "store_id", "product_id", "units_sold"]
    ).astype({"date": "datetime64[ns]"})
    scored = window.merge(actuals, on=["date", "store_id", "product_id"], how="left")
    scored["units_sold"] = scored["units_sold"].fillna(0.0)
    split = last - pd.Timedelta(days=REALIZED_WINDOW_DAYS - 1)
    recent, previous = scored[scored["date"] >= split], scored[scored["date"] < split]
    recent_wape = _finite(wape(recent["units_sold"], recent["forecast"]))
    previous_wape = _finite(wape(previous["units_sold"], previous["forecast"]))
    recent_days, previous_days = recent["date"].nunique(), previous["date"].nunique()
    enough = min(recent_days, previous_days) >= TREND_MIN_SCORED_DAYS
    return RealizedAccuracy(
        last_day=last.date(),
        days_scored=int(recent_days),
        wape_7d=recent_wape,
        mae_7d=_finite(mae(recent["units_sold"], recent["forecast"])),
        previous_days_scored=int(previous_days),
        previous_wape_7d=previous_wape if previous_days else None,
        trend=classify_trend(recent_wape, previous_wape) if enough else None,
    )


def _newest_forecast(lake: Lake) -> tuple[date, str] | None:
    """(cutoff, model_version) of the newest stored forecasts, or None."""
    days = lake.partition_days(FORECASTS_TABLE)
    if not days:
        return None
    newest = lake.read_partition(FORECASTS_TABLE, days[-1])
    versions = newest["model_version"].astype(str).unique()
    return days[-1], str(versions[0]) if len(versions) else ""


def champion_status(registry: ModelRegistry, lake: Lake) -> dict[str, Any] | None:
    """The champion's version, status (`SERVING` / `AWAITING_FORECASTS`), training cutoff and
    realized accuracy (`realized_accuracy`); None when there is no champion."""
    version = registry.alias_version(CHAMPION)
    if version is None:
        return None
    tags = registry.version_tags(version)
    newest = _newest_forecast(lake)
    accuracy = realized_accuracy(lake, version)
    return {
        "version": version,
        "status": SERVING if newest and newest[1] == version else AWAITING_FORECASTS,
        "training_cutoff": tags.get("training_cutoff"),
        "newest_forecast_cutoff": newest[0].isoformat() if newest else None,
        "newest_forecast_version": newest[1] if newest else None,
        "wape_7d": accuracy.wape_7d,
        "mae_7d": accuracy.mae_7d,
        "days_scored_7d": accuracy.days_scored,
        "last_scored_day": accuracy.last_day.isoformat() if accuracy.last_day else None,
        "previous_wape_7d": accuracy.previous_wape_7d,
        "trend": accuracy.trend,
    }


def _tag_float(tags: Mapping[str, str], name: str) -> float | None:
    try:
        return _finite(float(tags[name]))
    except (KeyError, ValueError):
        return None


def promotion_eligibility(
    lake: Lake, version: str, tags: Mapping[str, str]
) -> tuple[bool | None, str | None, str]:
    """Would the promotion gate pass `version`: (verdict, reasons, where the verdict comes from).

    The stored `promotion_decision` partition of the version's training cutoff answers when it
    was decided for this version; otherwise its `promotion_decision` tag; otherwise None (not
    decided yet).
    """
    cutoff_text = tags.get("training_cutoff")
    if cutoff_text:
        cutoff = date.fromisoformat(cutoff_text)
        if lake.has_partition(DECISION_TABLE, cutoff):
            decision = lake.read_partition(DECISION_TABLE, cutoff)
            if not decision.empty and str(decision["challenger_version"].iloc[0]) == version:
                return (
                    bool(decision["promote"].iloc[0]),
                    str(decision["reasons"].iloc[0]),
                    f"lake {DECISION_TABLE} day={cutoff.isoformat()}",
                )
    tag = tags.get(DECISION_TAG)
    if tag is not None:
        return tag == PROMOTED, None, f"version tag {DECISION_TAG}={tag}"
    return (
        None,
        None,
        f"not decided yet: materialize promotion_decision for {cutoff_text or 'its cutoff'}",
    )


def challenger_status(registry: ModelRegistry, lake: Lake) -> dict[str, Any] | None:
    """The challenger's version, training cutoff, backtest metrics (from its tags; None when
    not backtested) and whether the gate passes it; None when there is no challenger."""
    version = registry.alias_version(CHALLENGER)
    if version is None:
        return None
    tags = registry.version_tags(version)
    eligible, reasons, source = promotion_eligibility(lake, version, tags)
    return {
        "version": version,
        "training_cutoff": tags.get("training_cutoff"),
        "is_champion": registry.alias_version(CHAMPION) == version,
        "backtest": {
            name: _tag_float(tags, f"{BACKTEST_TAG_PREFIX}{name}") for name in BACKTEST_METRICS
        },
        "promotion_eligible": eligible,
        "promotion_reasons": reasons,
        "decision_source": source,
    }


def registry_status(registry: ModelRegistry, lake: Lake) -> dict[str, Any]:
    """`{"model", "tracking_uri", "champion", "challenger"}`: see `champion_status` and
    `challenger_status`. JSON-ready (None for unknown numbers); the URI's password masked."""
    return {
        "model": registry.model_name,
        "tracking_uri": registry.display_uri,
        "champion": champion_status(registry, lake),
        "challenger": challenger_status(registry, lake),
    }


# -- forecasts ------------------------------------------------------------------------------


def stored_forecasts(lake: Lake, cutoff: date) -> pd.DataFrame:
    """The stored forecasts of training cutoff `cutoff`: `EXPORT_COLUMNS` first, then the
    lineage columns (feature_set_version, data_sha256, dagster_run_id, training_cutoff,
    horizon_step), sorted by date, store, product.

    Raises `OperationRefused` (field `date`) when the lake has none for that cutoff, naming how
    to produce them.
    """
    if not lake.has_partition(FORECASTS_TABLE, cutoff):
        stored = lake.partition_days(FORECASTS_TABLE)
        hint = f" Stored cutoffs: {stored[0]}..{stored[-1]} ({len(stored)})." if stored else ""
        raise OperationRefused(
            f"No forecasts stored for cutoff {cutoff.isoformat()} in "
            f"{lake.table_path(FORECASTS_TABLE)}.{hint} Produce them by running the retrain "
            f"cycle for that day: `dg launch --job retrain_job --partition {cutoff.isoformat()}` "
            "(or materialize the `forecasts` asset for that partition in the UI).",
            field="date",
        )
    table = lake.read_partition(FORECASTS_TABLE, cutoff)
    lineage = [column for column in table.columns if column not in EXPORT_COLUMNS]
    return table[[*EXPORT_COLUMNS, *lineage]].sort_values(
        ["date", "store_id", "product_id"], ignore_index=True
    )


# -- reproduce ------------------------------------------------------------------------------


def in_sample_wape(model: LightGBMForecaster, sales: pd.DataFrame) -> float:
    """WAPE (unitless) of the model's one-step predictions over its training window.

    Inputs: a fitted `LightGBMForecaster` and the sales snapshot it was fitted on. The rows are
    `build_training_frame(sales, model.spec)` for the `model.window_days` days ending at the
    snapshot's last date (all days when None); each is predicted by the booster from its true
    lag features. Raises `ValueError` when the model has no booster.
    """
    from forecastops.domain.features import build_training_frame, feature_columns
    from forecastops.domain.metrics import TARGET, wape

    if model.booster is None:
        raise ValueError(f"{model.name} has no LightGBM booster to score in-sample.")
    end = pd.Timestamp(sales["date"].max())
    start = None if model.window_days is None else end - pd.Timedelta(days=model.window_days - 1)
    frame = build_training_frame(sales, model.spec, start=start, end=end)
    predicted = model.booster.predict(
        frame[feature_columns(model.spec)], num_threads=model.lightgbm_params["num_threads"]
    )
    return wape(frame[TARGET], predicted)


@dataclass(frozen=True)
class ReproductionCheck:
    """One line of a reproduction report: what the version recorded, what the refit gave."""

    name: str
    recorded: str
    reproduced: str
    matches: bool


@dataclass(frozen=True)
class Reproduction:
    """The outcome of `reproduce_version`. `reproduced` is True when the snapshot's hash
    matches and |`train_wape` difference| <= `REPRODUCE_TOLERANCE`."""

    version: str
    recorded_wape: float
    reproduced_wape: float
    data_matches: bool
    booster_matches: bool
    checks: Sequence[ReproductionCheck] = field(default_factory=tuple)

    @property
    def wape_difference(self) -> float:
        return abs(self.recorded_wape - self.reproduced_wape)

    @property
    def reproduced(self) -> bool:
        return self.data_matches and self.wape_difference <= REPRODUCE_TOLERANCE

    def to_frame(self) -> pd.DataFrame:
        """The checks as a table: check, recorded, reproduced, match (yes/no)."""
        return pd.DataFrame(
            {
                "check": [check.name for check in self.checks],
                "recorded": [check.recorded for check in self.checks],
                "reproduced": [check.reproduced for check in self.checks],
                "match": ["yes" if check.matches else "no" for check in self.checks],
            }
        )


def _run_record(registry: ModelRegistry, version: str) -> tuple[str, dict[str, float]]:
    """(run id, run metrics) of the MLflow run that logged `version`."""
    from mlflow import MlflowClient

    run_id = _versions(registry)[version]["run_id"]
    if not run_id:
        raise OperationRefused(
            f"Version {version} of {_where(registry)} has no MLflow run to reproduce from.",
            field="version",
        )
    client = MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)
    return str(run_id), dict(client.get_run(run_id).data.metrics)


def _download_snapshot(registry: ModelRegistry, run_id: str, artifact: str, folder: Path) -> Path:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(client.download_artifacts(run_id, artifact, str(folder)))


def _recorded_model(registry: ModelRegistry, version: str, folder: Path) -> Path:
    """Download `version` and return its booster file (the spec JSON sits beside it)."""
    from forecastops.domain.forecasters import SPEC_SUFFIX
    from forecastops.stores.registry import find_booster

    local = registry.download(version, folder)
    specs = sorted(local.rglob(f"*{SPEC_SUFFIX}"))
    if len(specs) != 1:
        raise OperationRefused(
            f"Version {version} of {_where(registry)} does not hold exactly one LightGBM spec "
            f"JSON (found {len(specs)}); it is not a ForecastOps LightGBM model.",
            field="version",
        )
    return find_booster(specs[0].parent)


def reproduce_version(registry: ModelRegistry, version: str, workdir: Path) -> Reproduction:
    """Refit `version` from its recorded training snapshot and settings and compare.

    Inputs: the registry, a version number, a scratch folder (downloads and the refit model go
    there). Raises `OperationRefused` for an unknown version (usage) and for a version that
    recorded no snapshot or `train_wape` (registered before snapshots were logged).
    """
    from forecastops.domain.forecasters import LightGBMForecaster
    from forecastops.stores.registry import file_sha256

    version, tags = check_version(registry, version)
    run_id, metrics = _run_record(registry, version)
    if TRAINING_DATA_TAG not in tags or TRAIN_WAPE_METRIC not in metrics:
        raise OperationRefused(
            f"Version {version} recorded no training snapshot (version tag {TRAINING_DATA_TAG} "
            f"or run metric {TRAIN_WAPE_METRIC} missing): it was registered before "
            "challenger_model logged its training data, so it cannot be reproduced. Versions "
            "trained from now on can.",
            field="version",
        )
    snapshot_path = _download_snapshot(registry, run_id, tags[TRAINING_DATA_TAG], workdir / "data")
    snapshot = pd.read_parquet(snapshot_path)
    snapshot_sha = data_sha256(snapshot)
    booster_file = _recorded_model(registry, version, workdir / "recorded")
    recorded = LightGBMForecaster.load(booster_file)
    refit = LightGBMForecaster(
        objective=recorded.objective,
        spec=recorded.spec,
        params=recorded.params,
        window_days=recorded.window_days,
    ).fit(snapshot)
    refit_file, _ = refit.save(workdir / "refit" / booster_file.name)
    recorded_wape = float(metrics[TRAIN_WAPE_METRIC])
    reproduced_wape = in_sample_wape(refit, snapshot)
    recorded_sha = tags.get(SHA256_TAG, "")
    refit_sha = file_sha256(refit_file)
    difference = abs(recorded_wape - reproduced_wape)
    checks = [
        ReproductionCheck(
            "training data sha256",
            tags.get("data_sha256", "(none)"),
            snapshot_sha,
            snapshot_sha == tags.get("data_sha256"),
        ),
        ReproductionCheck(
            "settings (objective, window_days)",
            f"{tags.get('objective')}, {tags.get('window_days')}",
            f"{refit.objective}, {refit.window_days}",
            tags.get("objective") == refit.objective
            and tags.get("window_days") == str(refit.window_days),
        ),
        ReproductionCheck(
            TRAINING_ROWS_METRIC,
            f"{metrics.get(TRAINING_ROWS_METRIC, float('nan')):.0f}",
            str(len(snapshot)),
            metrics.get(TRAINING_ROWS_METRIC) == float(len(snapshot)),
        ),
        ReproductionCheck(
            f"{TRAIN_WAPE_METRIC} (abs diff {difference:.1e}, tolerance {REPRODUCE_TOLERANCE:.0e})",
            f"{recorded_wape:.12f}",
            f"{reproduced_wape:.12f}",
            difference <= REPRODUCE_TOLERANCE,
        ),
        ReproductionCheck(
            "booster artifact sha256 (information)",
            recorded_sha,
            refit_sha,
            recorded_sha == refit_sha,
        ),
    ]
    return Reproduction(
        version=version,
        recorded_wape=recorded_wape,
        reproduced_wape=reproduced_wape,
        data_matches=checks[0].matches,
        booster_matches=recorded_sha == refit_sha,
        checks=tuple(checks),
    )
