"""The vocabulary and records of experiments (seed 001): a proposed change of the model's
configuration, tested live against the champion and closed with a decision.

Lifecycle, one command per move (`TRANSITIONS` is the one table; the store, the CLI and the
UI read it):

    proposed ──approve──> approved ──start──> in_progress ──shadow──> shadow_testing
        └─────reject────> rejected                            shadow_testing ──complete──> completed

| command | from | to | who |
|---|---|---|---|
| `approve` | proposed | approved | an operator (`forecastops experiments approve`) |
| `reject` | proposed | rejected | an operator |
| `start` | approved | in_progress | the operator path that launches its retrain |
| `shadow` | in_progress | shadow_testing | when the version trained for it is registered |
| `complete` | shadow_testing | completed | an operator; results computed from realized scores |

Rejected and completed are final. Any other move raises `ExperimentTransitionError`, naming the
experiment, its current status and the commands it still allows.

An experiment tests one `ExperimentConfig` (objective, training window, feature set version,
segment) for `test_period_days` realized days; `complete` records a `Decision` (adopt |
reject), a rationale sentence with its numbers, and `ExperimentResults` computed from the
realized accuracy of both versions on the same rows (`forecastops.pipeline.experiments`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from forecastops.domain.features import FeatureSpec, feature_set_version
from forecastops.domain.forecasters import OBJECTIVES


class ExperimentStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    SHADOW_TESTING = "shadow_testing"
    COMPLETED = "completed"


class ExperimentCommand(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    START = "start"
    SHADOW = "shadow"
    COMPLETE = "complete"


TRANSITIONS: Mapping[ExperimentCommand, tuple[ExperimentStatus, ExperimentStatus]] = (
    MappingProxyType(
        {
            ExperimentCommand.APPROVE: (ExperimentStatus.PROPOSED, ExperimentStatus.APPROVED),
            ExperimentCommand.REJECT: (ExperimentStatus.PROPOSED, ExperimentStatus.REJECTED),
            ExperimentCommand.START: (ExperimentStatus.APPROVED, ExperimentStatus.IN_PROGRESS),
            ExperimentCommand.SHADOW: (
                ExperimentStatus.IN_PROGRESS,
                ExperimentStatus.SHADOW_TESTING,
            ),
            ExperimentCommand.COMPLETE: (
                ExperimentStatus.SHADOW_TESTING,
                ExperimentStatus.COMPLETED,
            ),
        }
    )
)
"""Command -> (the status it starts from, the status it leads to): every allowed move."""
FINAL_STATUSES: tuple[ExperimentStatus, ...] = tuple(
    status
    for status in ExperimentStatus
    if not any(source == status for source, _ in TRANSITIONS.values())
)
"""Statuses no command leaves: rejected and completed."""


def allowed_commands(status: ExperimentStatus) -> tuple[ExperimentCommand, ...]:
    """The commands an experiment in `status` accepts (empty when it is final)."""
    return tuple(command for command, (source, _) in TRANSITIONS.items() if source == status)


class Decision(StrEnum):
    ADOPT = "adopt"
    REJECT = "reject"


SEGMENTS: tuple[str, ...] = ("all",)
"""Segment choices a configuration may name. ForecastOps trains one global model over every
series, so `all` is the only segment it can train today; a per-store or per-category model
would add its name here together with the training path that honours it."""


class ExperimentError(Exception):
    """Base of the errors about experiments."""


class InvalidExperimentError(ExperimentError, ValueError):
    """A field of an experiment is not valid; the message names it and the fix."""


class ExperimentTransitionError(ExperimentError):
    """The experiment's status does not allow the command (or another actor moved it first)."""

    def __init__(self, experiment: Experiment, command: ExperimentCommand) -> None:
        self.experiment_id = experiment.id
        self.current = experiment.status
        self.command = command
        self.allowed = allowed_commands(experiment.status)
        by = f", by {experiment.status_actor}" if experiment.status_actor else ""
        since = f" (since {experiment.status_changed_at.isoformat()}{by})"
        if self.allowed:
            allowed = (
                f"From {experiment.status} the allowed commands are: {', '.join(self.allowed)}."
            )
        else:
            allowed = f"{experiment.status.capitalize()} is final: no command applies."
        needed = TRANSITIONS[command][0]
        super().__init__(
            f"Cannot {command} experiment {experiment.id}: it is {experiment.status}{since}, "
            f"and {command} needs it {needed}. {allowed}"
        )


@dataclass(frozen=True)
class ExperimentConfig:
    """The configuration an experiment tests: the LightGBM `objective`, the training window in
    days, the feature set version (hash of the feature definitions) and the segment."""

    objective: str
    training_window_days: int
    feature_set_version: str
    segment: str = "all"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def current_feature_set_version() -> str:
    """The feature set version the pipeline trains with (the default `FeatureSpec`)."""
    return feature_set_version(FeatureSpec())


def check_config(config: ExperimentConfig) -> ExperimentConfig:
    """`config` when the pipeline can train it; else `InvalidExperimentError` naming the field,
    what it may be, and the fix. The training window's bounds are the setting's
    (`forecastops.stores.settings`), checked where the settings are known
    (`forecastops.pipeline.experiments.experiment_config`)."""
    if config.objective not in OBJECTIVES:
        raise InvalidExperimentError(
            f"objective {config.objective!r} is not one ForecastOps trains; use one of: "
            f"{', '.join(OBJECTIVES)}."
        )
    window = config.training_window_days
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidExperimentError(
            f"training_window_days must be a whole number of days, got {window!r}."
        )
    supported = current_feature_set_version()
    if config.feature_set_version != supported:
        raise InvalidExperimentError(
            f"feature_set_version {config.feature_set_version!r} is not one the pipeline can "
            f"build; the only feature set it trains is {supported!r} (the current feature "
            "definitions). Leave it out to use that one."
        )
    if config.segment not in SEGMENTS:
        raise InvalidExperimentError(
            f"segment {config.segment!r} is not one the pipeline trains; use one of: "
            f"{', '.join(SEGMENTS)} (one global model over every series)."
        )
    return config


@dataclass(frozen=True)
class ExperimentResults:
    """The realized comparison that closed an experiment: the champion (`baseline_version`)
    against the experiment's version, both scored on the same rows (day, series) of
    `first_day`..`last_day`.

    MAE in units sold per series-day, WAPE a unitless ratio; `improvement_pct` is the relative
    gain of the experimental version in percent (positive: better). On the same rows MAE and
    WAPE share their denominators, so their relative gains are one number.
    `realized_days`: the days with at least one row scored for both; `scored_rows`: those rows.
    """

    baseline_version: str
    experimental_version: str
    baseline_mae: float
    experimental_mae: float
    baseline_wape: float
    experimental_wape: float
    improvement_pct: float
    realized_days: int
    scored_rows: int
    first_day: date
    last_day: date

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["first_day"] = self.first_day.isoformat()
        values["last_day"] = self.last_day.isoformat()
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ExperimentResults:
        return cls(
            **{
                **values,
                "first_day": date.fromisoformat(str(values["first_day"])),
                "last_day": date.fromisoformat(str(values["last_day"])),
            }
        )


def decide(
    results: ExperimentResults, min_improvement: float, min_realized_days: int
) -> tuple[Decision, str]:
    """The computed decision and its rationale: adopt when the experimental version is at least
    `min_improvement` (a share, the promotion gate's `min_wape_improvement`) better over at
    least `min_realized_days` realized days, else reject."""
    gain = results.improvement_pct / 100
    numbers = (
        f"v{results.experimental_version} vs champion v{results.baseline_version} on "
        f"{results.scored_rows} rows of {results.realized_days} realized days "
        f"({results.first_day}..{results.last_day}): MAE {results.experimental_mae:.4g} vs "
        f"{results.baseline_mae:.4g}, WAPE {results.experimental_wape:.4g} vs "
        f"{results.baseline_wape:.4g}, {results.improvement_pct:+.1f} %"
    )
    if results.realized_days < min_realized_days:
        return Decision.REJECT, (
            f"Reject: only {results.realized_days} realized days, fewer than the "
            f"{min_realized_days} required; {numbers}."
        )
    if gain < min_improvement:
        return Decision.REJECT, (
            f"Reject: the improvement is below the required {min_improvement:.1%}; {numbers}."
        )
    return Decision.ADOPT, (
        f"Adopt: the improvement reaches the required {min_improvement:.1%}; {numbers}."
    )


@dataclass(frozen=True)
class ExperimentEvent:
    """One status change: when, who, which command, from and to, and the notes given."""

    at: datetime
    actor: str
    command: str
    from_status: ExperimentStatus | None
    to_status: ExperimentStatus
    notes: str | None


@dataclass(frozen=True)
class Experiment:
    """One experiment as stored. Times are timezone-aware UTC.

    `experimental_version`: the registered version trained for it (set by `shadow`);
    `test_started_on`: the first day of its test period (the day after that version's training
    cutoff); `decision`, `rationale` and `results` are set by `complete`.
    """

    id: int
    title: str
    hypothesis: str
    proposer: str
    created_at: datetime
    status: ExperimentStatus
    status_changed_at: datetime
    status_actor: str | None
    config: ExperimentConfig
    test_period_days: int
    experimental_version: str | None
    test_started_on: date | None
    decision: Decision | None
    rationale: str | None
    results: ExperimentResults | None
    events: tuple[ExperimentEvent, ...] = ()
