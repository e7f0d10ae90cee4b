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
- **Status** (`registry_status`): the champion's health on a day (default `due_day`: the
  newest day whose partition is over) is `forecastops.pipeline.monitoring.assess_champion`,
  the one realized-accuracy definition (`forecastops.domain.performance` states it), so
  `forecastops status` prints what `model_health` stores for that day.
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from forecastops.pipeline.cycle import (
    DECISION_TABLE,
    FORECASTS_TABLE,
    TRACE_COLUMNS,
    data_sha256,
)
from forecastops.stores.registry_tags import (
    BACKTEST_METRICS,
    BACKTEST_WAPE_TAG,
    CHALLENGER,
    CHAMPION,
    CHAMPION_BACKTEST_CUTOFF_TAG,
    DATA_SHA256_TAG,
    DECISION_TAG,
    OBJECTIVE_TAG,
    PROMOTED,
    SHA256_TAG,
    TRAINING_CUTOFF_TAG,
    TRAINING_DATA_TAG,
    WINDOW_DAYS_TAG,
    backtest_tag,
    champion_backtest_tag,
)

if TYPE_CHECKING:
    from forecastops.domain.forecasters import LightGBMForecaster
    from forecastops.domain.performance import Health, PerformancePolicy
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import AliasMove, ModelRegistry

TRAINING_DATA_ARTIFACT = "training_data"
"""Run folder `challenger_model` logs the training snapshot into."""
TRAINING_DATA_FILE = "training_sales.parquet"
TRAIN_WAPE_METRIC = "train_wape"
"""Run metric: `in_sample_wape` of the registered model on its training snapshot."""
TRAINING_ROWS_METRIC = "training_rows"

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
    cutoff = tags.get(TRAINING_CUTOFF_TAG, "<its training cutoff>")
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
    details = [f"cutoff {tags.get(TRAINING_CUTOFF_TAG, 'unknown')}"]
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


def due_day(timezone: str, now: datetime | None = None) -> date:
    """The newest day whose daily partition is over at `now` (default: the current time) in the
    IANA `timezone` of the partitions: yesterday there. The daily cycle ingests that day's
    actuals, so it is the day `status` and the incident report speak for by default."""
    from zoneinfo import ZoneInfo

    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    return local.date() - timedelta(days=1)


def _newest_forecast(lake: Lake) -> tuple[date, str] | None:
    """(cutoff, model_version) of the newest stored forecasts, or None."""
    days = lake.partition_days(FORECASTS_TABLE)
    if not days:
        return None
    newest = lake.read_partition(FORECASTS_TABLE, days[-1])
    versions = newest["model_version"].astype(str).unique()
    return days[-1], str(versions[0]) if len(versions) else ""


def champion_status(
    registry: ModelRegistry,
    lake: Lake,
    as_of: date,
    policy: PerformancePolicy,
    health: Health | None = None,
) -> dict[str, Any] | None:
    """The champion's version, status (`SERVING` / `AWAITING_FORECASTS`), training cutoff, its
    latest weekly `champion_backtest` (cutoff and scores from its tags; None until it ran) and
    its health on `as_of` under `policy` (the settings' health knobs), computed by
    `assess_champion` (every `HEALTH_FIELDS` key of `Health.summary()`, as `model_health`
    stores them) unless the caller already assessed it (`health`, for the same champion and
    day); None when there is no champion."""
    from forecastops.pipeline.monitoring import assess_champion

    version = registry.alias_version(CHAMPION)
    if version is None:
        return None
    tags = registry.version_tags(version)
    newest = _newest_forecast(lake)
    if health is None:
        health = assess_champion(lake, version, tags, as_of, policy)
    return {
        "version": version,
        "status": SERVING if newest and newest[1] == version else AWAITING_FORECASTS,
        "training_cutoff": tags.get(TRAINING_CUTOFF_TAG),
        "newest_forecast_cutoff": newest[0].isoformat() if newest else None,
        "newest_forecast_version": newest[1] if newest else None,
        "champion_backtest": {
            "cutoff": tags.get(CHAMPION_BACKTEST_CUTOFF_TAG),
            **{name: _tag_float(tags, champion_backtest_tag(name)) for name in BACKTEST_METRICS},
        },
        **health.summary(),
    }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


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
    cutoff_text = tags.get(TRAINING_CUTOFF_TAG)
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


SHADOW_STATUS_FIELDS: tuple[str, ...] = ("stream", "since", "wape", "champion_wape", "improvement")
"""The shadow evidence `challenger_status` shows beside the 7-day numbers: the stream, since
when, its WAPE and the champion's on the same rows over the evidence window, the gain."""


def challenger_status(
    registry: ModelRegistry, lake: Lake, as_of: date, policy: CyclePolicy | None = None
) -> dict[str, Any] | None:
    """The challenger's version, training cutoff, backtest metrics (from its tags; None when
    not backtested), its stream's realized shadow accuracy on `as_of` against the champion on
    the same rows (`mae_7d`, `wape_7d`, `realized_days` and `shadow_<field>` for each
    `SHADOW_STATUS_FIELDS` of `ShadowEvidence.summary()`; None, 0 without a champion besides
    it) and whether the gate passes
    it: with `policy` (the settings' gate), the gate judged on `as_of`'s evidence
    (`promotion_reasons`: the failed rules' reasons); without, the stored decision
    (`promotion_eligibility`). None when there is no challenger."""
    from forecastops.domain.promotion import decide_promotion
    from forecastops.pipeline.cycle import BACKTEST_TABLE
    from forecastops.pipeline.monitoring import stream_evidence
    from forecastops.pipeline.promotion import judge_input

    version = registry.alias_version(CHALLENGER)
    if version is None:
        return None
    tags = registry.version_tags(version)
    champion = registry.alias_version(CHAMPION)
    eligible, reasons, source = promotion_eligibility(lake, version, tags)
    shadow = None
    trained = tags.get(TRAINING_CUTOFF_TAG)
    judged = (
        champion != version
        and policy is not None
        and trained is not None
        and lake.has_partition(BACKTEST_TABLE, date.fromisoformat(trained))
    )
    if judged and policy is not None:
        gate = judge_input(lake, registry, as_of, policy, version, champion)
        decision = decide_promotion(gate, policy.promotion)
        eligible, source = decision.promote, f"gate on {as_of.isoformat()}"
        reasons = " | ".join(
            reason
            for reason, passed in zip(decision.reasons, decision.rule_results.values(), strict=True)
            if not passed
        )
        shadow = gate.shadow.summary() if gate.shadow else None
    if shadow is None and champion is not None and champion != version:
        shadow = stream_evidence(lake, registry, champion, version, as_of).summary()
    return {
        "version": version,
        "training_cutoff": trained,
        "is_champion": champion == version,
        "backtest": {name: _tag_float(tags, backtest_tag(name)) for name in BACKTEST_METRICS},
        "mae_7d": shadow["mae_7d"] if shadow else None,
        "wape_7d": shadow["wape_7d"] if shadow else None,
        "realized_days": shadow["realized_days"] if shadow else 0,
        **{f"shadow_{name}": shadow[name] if shadow else None for name in SHADOW_STATUS_FIELDS},
        "promotion_eligible": eligible,
        "promotion_reasons": reasons or None,
        "decision_source": source,
    }


def registry_status(
    registry: ModelRegistry,
    lake: Lake,
    as_of: date,
    policy: PerformancePolicy,
    champion_health: Health | None = None,
    cycle: CyclePolicy | None = None,
) -> dict[str, Any]:
    """`{"model", "tracking_uri", "champion", "challenger"}`: see `champion_status` (its health
    on `as_of`) and `challenger_status` (judged by `cycle`'s gate when given). JSON-ready (None
    for unknown numbers); the URI's password masked."""
    return {
        "model": registry.model_name,
        "tracking_uri": registry.display_uri,
        "champion": champion_status(registry, lake, as_of, policy, champion_health),
        "challenger": challenger_status(registry, lake, as_of, cycle),
    }


# -- forecasts ------------------------------------------------------------------------------


def stored_forecasts(lake: Lake, cutoff: date, trace: bool = False) -> pd.DataFrame:
    """The stored forecasts of training cutoff `cutoff`: `EXPORT_COLUMNS` first, then the
    lineage columns (feature_set_version, data_sha256, dagster_run_id, training_cutoff,
    horizon_step), sorted by date, store, product. With `trace`, the `TRACE_COLUMNS` too
    (objective, window_days, config_hash, feature_hash): null where unknown, i.e. every row of
    a partition stored before they existed and `feature_hash` of a fallback-forecast row (see
    `trace_note`).

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
    if trace:
        table = table.assign(
            **{column: None for column in TRACE_COLUMNS if column not in table.columns}
        )
    else:
        table = table.drop(columns=[column for column in TRACE_COLUMNS if column in table])
    lineage = [column for column in table.columns if column not in EXPORT_COLUMNS]
    return table[[*EXPORT_COLUMNS, *lineage]].sort_values(
        ["date", "store_id", "product_id"], ignore_index=True
    )


def trace_note(table: pd.DataFrame) -> str | None:
    """Why some rows of a `stored_forecasts(..., trace=True)` table have no trace, for the
    operator; None when every row has its `feature_hash`."""
    untraced = table["feature_hash"].isna()
    if not untraced.any():
        return None
    if table["config_hash"].isna().all():
        return (
            f"These {len(table)} forecasts were stored before prediction traceability: their "
            f"{', '.join(TRACE_COLUMNS)} are empty (unknown). Re-materialize the forecasts "
            "partition to trace them."
        )
    return (
        f"{int(untraced.sum())} of {len(table)} rows have no feature_hash: the seasonal-naive "
        "fallback forecast them (a series with too short a history), not the model's features."
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
            tags.get(DATA_SHA256_TAG, "(none)"),
            snapshot_sha,
            snapshot_sha == tags.get(DATA_SHA256_TAG),
        ),
        ReproductionCheck(
            "settings (objective, window_days)",
            f"{tags.get(OBJECTIVE_TAG)}, {tags.get(WINDOW_DAYS_TAG)}",
            f"{refit.objective}, {refit.window_days}",
            tags.get(OBJECTIVE_TAG) == refit.objective
            and tags.get(WINDOW_DAYS_TAG) == str(refit.window_days),
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
