"""The promotion step as one use case: decide on the run's own challenger and apply the verdict.

`decide_and_apply_promotion` gathers the gate's input (`judge_input`: the cutoff's backtest, the
challenger the run registered, its configuration stream's shadow evidence against the champion,
the champion's newest health), decides with `domain.promotion`, records
the decision in the lake, moves the `champion` alias when the gate passes, and tags the
challenger with the verdict. The `promotion_decision` asset only turns the outcome into an
alert and metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from forecastops.pipeline.cycle import BACKTEST_TABLE, gate_input, record_decision
from forecastops.pipeline.monitoring import champion_health, stream_evidence
from forecastops.stores.registry_tags import (
    CHAMPION,
    OBJECTIVE_TAG,
    TRAINING_CUTOFF_TAG,
    decision_tags,
)

if TYPE_CHECKING:
    from forecastops.domain.promotion import GateInput, PromotionDecision
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import ModelRegistry


ALREADY_CHAMPION_RULE = "not_already_champion"
"""The one rule of the decision on a challenger that is the champion already: nothing to do."""


@dataclass(frozen=True)
class PromotionOutcome:
    """What the step decided and did: the verdict, the challenger it judged, the champion
    before the step (None: there was none) and after it."""

    decision: PromotionDecision
    challenger: str
    champion_before: str | None
    champion_after: str | None


def decide_and_apply_promotion(
    lake: Lake,
    registry: ModelRegistry,
    cutoff: date,
    policy: CyclePolicy,
    challenger: str,
    actor: str,
) -> PromotionOutcome:
    """Judge `challenger` (the version this run registered) against the champion on the
    `cutoff` day's backtest and its stream's shadow evidence up to `cutoff`; record the
    decision in the lake (`promotion_decision`), promote when the gate passes (alias history
    names `actor` and the reasons) and tag the challenger `promoted` / `rejected`
    (docs/promotion.md)."""
    from forecastops.domain.promotion import PromotionDecision, decide_promotion

    champion = registry.alias_version(CHAMPION)
    if challenger == champion:  # the retrain reused the serving version (decision 0019)
        already = PromotionDecision(
            promote=False,
            reasons=(
                f"the challenger v{challenger} is the champion already: the retrain reused it "
                "(same training data and configuration), so there is nothing to decide and "
                "its tags are left as they were",
            ),
            rule_results={ALREADY_CHAMPION_RULE: False},
        )
        return PromotionOutcome(already, challenger, champion, champion)
    gate = judge_input(lake, registry, cutoff, policy, challenger, champion)
    decision = decide_promotion(gate, policy.promotion)
    record_decision(lake, cutoff, decision, gate)
    if decision.promote:
        registry.move_alias(CHAMPION, challenger, actor=actor, reason="; ".join(decision.reasons))
    registry.set_version_tags(challenger, decision_tags(decision.promote))
    return PromotionOutcome(decision, challenger, champion, registry.alias_version(CHAMPION))


def judge_input(
    lake: Lake,
    registry: ModelRegistry,
    as_of: date,
    policy: CyclePolicy,
    challenger: str,
    champion: str | None,
) -> GateInput:
    """The gate's evidence on `as_of` for `challenger` against `champion` (None: no champion):
    the backtest stored for the challenger's training cutoff (admission: seasonal naive, stores;
    the lake raises when it was never stored), the stream's shadow
    evidence on `as_of` (decision 0022) and the champion's newest health on `as_of`."""
    challenger_tags = registry.version_tags(challenger)
    trained = date.fromisoformat(challenger_tags[TRAINING_CUTOFF_TAG])
    champion_tags = registry.version_tags(champion) if champion else {}
    return gate_input(
        lake.read_partition(BACKTEST_TABLE, trained, "metrics"),
        (
            challenger,
            trained,
            challenger_tags.get(OBJECTIVE_TAG, policy.objective),
        ),
        (
            champion,
            date.fromisoformat(champion_tags[TRAINING_CUTOFF_TAG]),
            champion_tags.get(OBJECTIVE_TAG, policy.objective),
        )
        if champion
        else None,
        shadow=stream_evidence(lake, registry, champion, challenger, as_of) if champion else None,
        champion_health=champion_health(lake, champion, as_of) if champion else None,
    )
