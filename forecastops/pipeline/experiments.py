"""Experiments as use cases: check a configuration against what the pipeline trains, compare two
versions' realized accuracy on the same rows, complete an experiment with a computed decision
and adopt it through the promotion path.

`realized_comparison` is the one place that answers "version A vs version B over days D on the
same rows". It reads the stored forecasts of both versions the way `model_health` does
(`forecastops.pipeline.monitoring`) and scores them with the one realized-accuracy definition
(`forecastops.domain.performance`: forecast in force, delivered days only, a missing day
unknown): the rows a version served as champion and those it forecast in shadow as challenger
(`shadow_forecasts`, decision 0022), so a candidate that was never served is scored too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from forecastops.domain.experiments import (
    Decision,
    Experiment,
    ExperimentCommand,
    ExperimentConfig,
    ExperimentError,
    ExperimentResults,
    ExperimentStatus,
    ExperimentTransitionError,
    InvalidExperimentError,
    check_config,
    current_feature_set_version,
    decide,
)
from forecastops.domain.runs import (
    EXPERIMENT_OBJECTIVE_TAG,
    EXPERIMENT_RUN_TAG,
    EXPERIMENT_WINDOW_TAG,
)
from forecastops.stores.lake import Lake
from forecastops.stores.registry_tags import CHAMPION, EXPERIMENT_ID_TAG, TRAINING_CUTOFF_TAG
from forecastops.stores.settings import PolicySettings, SettingsError, check_policy_knobs

if TYPE_CHECKING:
    from forecastops.pipeline.cycle import ChallengerChoice, CyclePolicy
    from forecastops.stores.alerts.experiments import ExperimentStore
    from forecastops.stores.registry import AliasMove, ModelRegistry


class ExperimentRefused(ExperimentError):
    """A request about an experiment was refused before anything changed; the message says
    why and what to do."""


def experiment_config(
    settings: PolicySettings,
    *,
    objective: str | None = None,
    training_window_days: int | None = None,
    feature_set_version: str | None = None,
    segment: str | None = None,
) -> ExperimentConfig:
    """The configuration to test: each field given, else the pipeline's current one (the
    settings' objective and window, the current feature set, segment `all`). Checked: the
    objective and window by the same bounds as their settings (`FORECASTOPS_OBJECTIVE`,
    `FORECASTOPS_TRAINING_WINDOW_DAYS`), then `check_config`. Raises `InvalidExperimentError`
    naming the field."""
    config = ExperimentConfig(
        objective=objective if objective is not None else settings.objective,
        training_window_days=(
            training_window_days
            if training_window_days is not None
            else settings.training_window_days
        ),
        feature_set_version=feature_set_version or current_feature_set_version(),
        segment=segment or "all",
    )
    _check_knobs(config.objective, config.training_window_days, "experiment's configuration")
    return check_config(config)


def _check_knobs(objective: str, training_window_days: int, source: str) -> None:
    """The objective and window checked by the bounds of their settings; a bad one raises
    `InvalidExperimentError` naming its variable."""
    try:
        check_policy_knobs(
            {"objective": objective, "training_window_days": training_window_days}, source
        )
    except SettingsError as error:
        raise InvalidExperimentError(str(error)) from None


def experiment_run_tags(experiment: Experiment) -> dict[str, str]:
    """The run tags of the retrain that trains `experiment`'s configuration: its id, objective
    and training window (`forecastops.domain.runs`). Only an approved experiment is trained
    (`ExperimentTransitionError` otherwise)."""
    if experiment.status is not ExperimentStatus.APPROVED:
        raise ExperimentTransitionError(experiment, ExperimentCommand.START)
    return {
        EXPERIMENT_RUN_TAG: str(experiment.id),
        EXPERIMENT_OBJECTIVE_TAG: experiment.config.objective,
        EXPERIMENT_WINDOW_TAG: str(experiment.config.training_window_days),
    }


@dataclass(frozen=True)
class RunExperiment:
    """The experiment a retrain run trains (from its run tags): id, objective, window."""

    experiment_id: int
    objective: str
    training_window_days: int

    @property
    def selected_by(self) -> str:
        """Why the version has this configuration (its `selected_by` tag)."""
        return (
            f"experiment {self.experiment_id}: objective {self.objective}, window "
            f"{self.training_window_days} days"
        )


def run_experiment(tags: Mapping[str, str]) -> RunExperiment | None:
    """The experiment of a run with `tags` (`experiment_run_tags`), None for any other run.
    Raises `InvalidExperimentError` for tags that do not name a trainable configuration."""
    if EXPERIMENT_RUN_TAG not in tags:
        return None
    try:
        experiment_id = int(tags[EXPERIMENT_RUN_TAG])
        window = int(tags[EXPERIMENT_WINDOW_TAG])
        objective = tags[EXPERIMENT_OBJECTIVE_TAG]
    except (KeyError, ValueError) as error:
        raise InvalidExperimentError(
            f"The run's experiment tags are incomplete or not numbers ({error}): it needs "
            f"{EXPERIMENT_RUN_TAG}, {EXPERIMENT_OBJECTIVE_TAG} and {EXPERIMENT_WINDOW_TAG}, as "
            "`forecastops experiments start` sets them."
        ) from None
    _check_knobs(objective, window, "run's experiment tags")
    return RunExperiment(experiment_id, objective, window)


def policy_for_run(policy: CyclePolicy, tags: Mapping[str, str]) -> CyclePolicy:
    """`policy` with the objective and training window of the run's experiment, when the run
    trains one (`run_experiment`); `policy` itself otherwise."""
    experiment = run_experiment(tags)
    if experiment is None:
        return policy
    return replace(
        policy,
        objective=experiment.objective,
        training_window_days=experiment.training_window_days,
    )


def experiment_choice(choice: ChallengerChoice, tags: Mapping[str, str]) -> ChallengerChoice:
    """The family a retrain run trains: the experiment's objective when the run trains one
    (whatever the backtest ranked first), else `choice` (the ranked winner)."""
    from forecastops.pipeline.cycle import lightgbm_candidate

    experiment = run_experiment(tags)
    if experiment is None:
        return choice
    return replace(
        choice,
        objective=experiment.objective,
        candidate=lightgbm_candidate(experiment.objective),
        selected_by=experiment.selected_by,
    )


def experiment_version_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The version tags that mark a version trained by a run with `tags` for an experiment
    (`EXPERIMENT_ID_TAG`); empty for any other run."""
    experiment = run_experiment(tags)
    return {} if experiment is None else {EXPERIMENT_ID_TAG: str(experiment.experiment_id)}


def _version_forecasts(lake: Lake, version: str, first: date, last: date) -> pd.DataFrame:
    """`version`'s stored forecast rows dated `first`..`last`: those it served as champion and
    those it made in shadow as challenger (decision 0022). A version is in one table per cutoff
    (the shadow forecast is written only for a challenger that is not the champion)."""
    from forecastops.pipeline.cycle import SHADOW_FORECASTS_TABLE
    from forecastops.pipeline.monitoring import _stored_forecasts

    served = _stored_forecasts(lake, version, None, first, last)
    shadow = _stored_forecasts(lake, version, None, first, last, table=SHADOW_FORECASTS_TABLE)
    frames = [frame for frame in (served, shadow) if not frame.empty]
    return pd.concat(frames, ignore_index=True) if frames else served


def realized_comparison(
    lake: Lake, baseline_version: str, experimental_version: str, first: date, last: date
) -> ExperimentResults:
    """Realized accuracy of `experimental_version` against `baseline_version` over the days
    `first`..`last` (inclusive), on the rows (day, series) scored for both.

    Each version's stored forecasts are scored against the delivered `raw_sales` days by
    `score_forecasts` (the forecast in force on each day; a day without a partition is unknown,
    never 0); the rows both have are kept and `realized_metrics` pools them into MAE (units sold
    per series-day) and WAPE. Raises `ExperimentRefused` when no row was scored for both (the
    message says how many each had).
    """
    from forecastops.domain.contract import CONTRACT_COLUMNS
    from forecastops.domain.performance import ROW_KEY, realized_metrics, score_forecasts
    from forecastops.pipeline.ingest import RAW_SALES_TABLE, delivered_days

    if last < first:
        raise ExperimentRefused(f"The test period ends ({last}) before it starts ({first}).")
    delivered = delivered_days(lake, first, last)
    actuals = lake.read_days(RAW_SALES_TABLE, delivered, columns=list(CONTRACT_COLUMNS))
    keys = list(ROW_KEY)
    scored = {
        version: score_forecasts(
            _version_forecasts(lake, version, first, last),
            actuals,
            model_version=version,
            delivered_days=delivered,
        )
        for version in (baseline_version, experimental_version)
    }
    common = scored[baseline_version][keys].merge(scored[experimental_version][keys], on=keys)
    if common.empty:
        counts = ", ".join(f"v{version}: {len(rows)}" for version, rows in scored.items())
        raise ExperimentRefused(
            f"No (day, series) between {first} and {last} has a realized score for both "
            f"v{baseline_version} and v{experimental_version} (scored rows {counts}; delivered "
            f"days {len(delivered)}). Wait for actuals of days both versions forecast."
        )
    window = (last - first).days + 1
    overall = {}
    for version, rows in scored.items():
        realized = realized_metrics(rows.merge(common, on=keys), last, windows=(window,))
        overall[version] = realized[realized["level"] == "overall"].iloc[0]
    baseline, experimental = overall[baseline_version], overall[experimental_version]
    gain = (float(baseline["wape"]) - float(experimental["wape"])) / float(baseline["wape"])
    return ExperimentResults(
        baseline_version=baseline_version,
        experimental_version=experimental_version,
        baseline_mae=float(baseline["mae"]),
        experimental_mae=float(experimental["mae"]),
        baseline_wape=float(baseline["wape"]),
        experimental_wape=float(experimental["wape"]),
        improvement_pct=round(100 * gain, 6),
        realized_days=int(baseline["days"]),
        scored_rows=int(baseline["n"]),
        first_day=first,
        last_day=last,
    )


def test_period(experiment: Experiment, as_of: date) -> tuple[date, date]:
    """The days of `experiment`'s test period realized by `as_of`: from `test_started_on`, for
    `test_period_days` days, cut at `as_of`. Raises `ExperimentRefused` before it started."""
    if experiment.test_started_on is None or experiment.experimental_version is None:
        raise ExperimentRefused(
            f"Experiment {experiment.id} has no version in shadow yet (it is "
            f"{experiment.status}); its test period starts when the version trained for it is "
            "registered."
        )
    first = experiment.test_started_on
    last = min(first + timedelta(days=experiment.test_period_days - 1), as_of)
    if last < first:
        raise ExperimentRefused(
            f"Experiment {experiment.id}'s test period starts on {first}, after {as_of}: no "
            "day of it is realized yet."
        )
    return first, last


@dataclass(frozen=True)
class Completion:
    """What `complete_experiment` did: the completed experiment, the computed decision (which
    the recorded one may override) and the champion move of an adoption (None otherwise)."""

    experiment: Experiment
    computed: Decision
    move: AliasMove | None


def complete_experiment(
    store: ExperimentStore,
    registry: ModelRegistry,
    lake: Lake,
    experiment_id: int,
    *,
    actor: str,
    as_of: date,
    min_improvement: float,
    min_realized_days: int,
    decision: Decision | None = None,
    force: bool = False,
) -> Completion:
    """Complete a `shadow_testing` experiment: compare its version with the current champion
    over the realized part of its test period (`realized_comparison`), decide (`decide`:
    adopt when the relative gain is at least `min_improvement` over at least
    `min_realized_days` days), record decision, rationale and results, and on adopt promote
    the version through `plan_promotion` / `apply_plan` (the alias history records actor,
    experiment and numbers).

    `decision`: the operator's, when given; an adopt the numbers do not support needs `force`
    (the rationale says it was overridden). Raises `ExperimentTransitionError` unless the
    experiment is shadow_testing, `ExperimentRefused` without a champion or realized rows.
    """
    from forecastops.pipeline.operations import apply_plan, plan_promotion

    experiment = store.get(experiment_id)
    if experiment.status is not ExperimentStatus.SHADOW_TESTING:
        raise ExperimentTransitionError(experiment, ExperimentCommand.COMPLETE)
    first, last = test_period(experiment, as_of)
    assert experiment.experimental_version is not None  # test_period checked it
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        raise ExperimentRefused(
            f"There is no champion to compare experiment {experiment.id}'s "
            f"v{experiment.experimental_version} with; promote one first."
        )
    if champion == experiment.experimental_version:
        raise ExperimentRefused(
            f"v{champion}, experiment {experiment.id}'s version, is the champion already: there "
            "is no baseline beside it to compare with over its test period."
        )
    results = realized_comparison(lake, champion, experiment.experimental_version, first, last)
    computed, rationale = decide(results, min_improvement, min_realized_days)
    chosen = decision or computed
    if chosen is not computed:
        if chosen is Decision.ADOPT and not force:
            raise ExperimentRefused(
                f"The numbers do not support adopting experiment {experiment.id}: {rationale} "
                "Adopt it anyway with --force (recorded in the rationale), or record reject."
            )
        rationale = f"{chosen.capitalize()} by {actor}, overriding the computed {rationale}"
    move = None
    if chosen is Decision.ADOPT:
        plan = plan_promotion(registry, experiment.experimental_version, force=True)
        move = apply_plan(
            registry,
            plan,
            actor=actor,
            reason=f"experiment {experiment.id} adopted: {rationale}",
        )
    completed = store.complete(
        experiment.id, actor, decision=chosen, rationale=rationale, results=results
    )
    return Completion(completed, computed, move)


def sync_experiment_versions(store: ExperimentStore, registry: ModelRegistry, actor: str) -> int:
    """Move every `in_progress` experiment whose version is registered (tagged with its id,
    `EXPERIMENT_ID_TAG`) to `shadow_testing`; its test period starts the day after that
    version's training cutoff. Returns how many moved; an experiment another actor moved
    meanwhile is left to it."""
    moved = 0
    for experiment in store.list(status=ExperimentStatus.IN_PROGRESS):
        version = registry.find_version({EXPERIMENT_ID_TAG: str(experiment.id)}, newest=True)
        if version is None:
            continue
        cutoff = registry.version_tags(version).get(TRAINING_CUTOFF_TAG)
        if cutoff is None:
            continue
        try:
            store.shadow(
                experiment.id,
                actor,
                experimental_version=version,
                test_started_on=date.fromisoformat(cutoff) + timedelta(days=1),
                notes=f"v{version} registered (training cutoff {cutoff})",
            )
        except ExperimentTransitionError:
            continue
        moved += 1
    return moved


def experiments_frame(experiments: list[Experiment]) -> pd.DataFrame:
    """One row per experiment: id, title, status, configuration, test period, version,
    decision and results (NaN where not known yet), for the CLI and the UI."""
    rows = []
    for experiment in experiments:
        results = experiment.results
        rows.append(
            {
                "id": experiment.id,
                "title": experiment.title,
                "status": experiment.status.value,
                "proposer": experiment.proposer,
                "objective": experiment.config.objective,
                "window_days": experiment.config.training_window_days,
                "segment": experiment.config.segment,
                "test_days": experiment.test_period_days,
                "version": experiment.experimental_version,
                "decision": experiment.decision.value if experiment.decision else None,
                "baseline_mae": results.baseline_mae if results else float("nan"),
                "experimental_mae": results.experimental_mae if results else float("nan"),
                "improvement_pct": results.improvement_pct if results else float("nan"),
                "realized_days": results.realized_days if results else None,
            }
        )
    columns = [
        "id",
        "title",
        "status",
        "proposer",
        "objective",
        "window_days",
        "segment",
        "test_days",
        "version",
        "decision",
        "baseline_mae",
        "experimental_mae",
        "improvement_pct",
        "realized_days",
    ]
    return pd.DataFrame(rows, columns=columns)
