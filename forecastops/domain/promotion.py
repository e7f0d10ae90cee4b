"""The champion/challenger promotion gate: a pure function of backtest numbers and a policy.

`decide_promotion(gate, policy)` evaluates every rule, always all of them, and promotes only when
all pass. Each verdict is a sentence with its numbers, so the decision reads on its own in the UI.

| rule | passes when |
|---|---|
| `metrics_are_numbers` | challenger, seasonal-naive and (if any) champion WAPE are not NaN |
| `cutoff_not_older` | no champion, or the challenger's training cutoff >= the champion's |
| `beats_seasonal_naive` | challenger WAPE < seasonal-naive WAPE (or the policy does not ask) |
| `improves_on_champion` | no champion, or `(champion - challenger) / champion >=
  min_wape_improvement`, or the challenger has the champion's configuration, the champion's
  realized health is drifting and the challenger's cutoff is newer (see below) |
| `no_store_degrades` | no champion, or for every store scored on both sides,
  `(challenger - champion) / champion <= max_store_degradation` |

Notes: with no champion the gate promotes iff the challenger beats seasonal naive (under the
default policy). A challenger trained on an older cutoff than the champion (a backfill) is never
promoted, so re-running old partitions cannot move the live model backwards. A champion WAPE of 0
cannot be improved on (the improvement rule fails); a champion store WAPE of 0 tolerates only a
challenger store WAPE of 0. Stores missing on either side, or with a NaN WAPE on either side (no
demand in the window), are ignored by the store rule and named in its verdict; a NaN forecast
already makes the challenger's overall WAPE NaN, which the first rule rejects. Ratios are
compared with a tolerance of `FLOAT_TOLERANCE`, so "exactly 5 %" passes a 5 % threshold.

A challenger with the champion's configuration (`same_configuration`: same objective, training
window and feature set) is scored as the same backtest family, so its WAPE equals the champion's
and the improvement rule could never pass, even when monitoring says the champion is drifting.
For that case the rule passes instead when `champion_health` (the champion's newest realized
health on or before the cutoff) is drifting and the challenger was trained on newer data: the
fresher refit replaces a model whose accuracy has gone. Healthy, degrading or unknown health
keeps the WAPE comparison (and so the champion). The other rules still apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from forecastops.domain.performance import DRIFTING

RULE_FINITE = "metrics_are_numbers"
RULE_CUTOFF = "cutoff_not_older"
RULE_SEASONAL_NAIVE = "beats_seasonal_naive"
RULE_IMPROVEMENT = "improves_on_champion"
RULE_STORES = "no_store_degrades"
RULES: tuple[str, ...] = (
    RULE_FINITE,
    RULE_CUTOFF,
    RULE_SEASONAL_NAIVE,
    RULE_IMPROVEMENT,
    RULE_STORES,
)
"""Rule names in evaluation order (the order of `PromotionDecision.reasons`)."""

FLOAT_TOLERANCE = 1e-9
"""Slack on the relative thresholds, so that a ratio of exactly the threshold passes."""
MAX_LISTED_STORES = 5
"""Stores named in a verdict before it says "and N more"."""


@dataclass(frozen=True)
class PromotionPolicy:
    """Thresholds of the gate; relative changes are shares (0.05 = 5 %)."""

    min_wape_improvement: float = 0.05
    """The challenger's overall WAPE must be at least this much better than the champion's."""
    max_store_degradation: float = 0.10
    """No store's WAPE may get worse than the champion's by more than this."""
    must_beat_seasonal_naive: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.min_wape_improvement < 1:
            raise ValueError(
                "PromotionPolicy.min_wape_improvement must be a share in [0, 1), "
                f"got {self.min_wape_improvement}."
            )
        if not self.max_store_degradation >= 0:
            raise ValueError(
                "PromotionPolicy.max_store_degradation must be a share >= 0, "
                f"got {self.max_store_degradation}."
            )


@dataclass(frozen=True)
class ChampionHealth:
    """The champion's realized health as monitoring last classified it (a `model_performance`
    record, written from `forecastops.domain.performance.Health`): `status` one of
    `MODEL_STATUSES` (only drifting matters to the gate), on `day`, with the realized MAE's
    relative change against the champion's backtest MAE (`degradation`, 2.06 = +206 %; NaN
    when not computable)."""

    status: str
    day: date
    degradation: float

    @property
    def is_drifting(self) -> bool:
        return self.status == DRIFTING

    def describe(self) -> str:
        change = (
            "MAE not computable"
            if math.isnan(self.degradation)
            else f"MAE {self.degradation * 100:+.0f} % vs backtest"
        )
        return f"{self.status} on {self.day} ({change})"


@dataclass(frozen=True)
class GateInput:
    """The numbers the gate decides on. WAPEs are unitless shares (0.231 = 23.1 %).

    `champion_version`, `champion_cutoff` and `champion_wape` are all None (no champion yet)
    or all set. `*_store_wape` map store_id -> WAPE; the champion's is empty without a champion.
    `same_configuration`: the challenger has the champion's objective, training window and
    feature set (so the backtest scores both as one family); `champion_health`: the champion's
    newest realized health on or before the cutoff, None when monitoring has not scored it.
    """

    challenger_version: str
    challenger_cutoff: date
    champion_version: str | None
    champion_cutoff: date | None
    challenger_wape: float
    champion_wape: float | None
    seasonal_naive_wape: float
    challenger_store_wape: Mapping[str, float]
    champion_store_wape: Mapping[str, float]
    same_configuration: bool = False
    champion_health: ChampionHealth | None = None

    def __post_init__(self) -> None:
        champion_fields = {
            "champion_version": self.champion_version,
            "champion_cutoff": self.champion_cutoff,
            "champion_wape": self.champion_wape,
        }
        unset = [name for name, value in champion_fields.items() if value is None]
        if unset and len(unset) < len(champion_fields):
            raise ValueError(
                f"GateInput.{', GateInput.'.join(unset)} missing while other champion fields "
                "are set; pass all three champion fields, or none when there is no champion."
            )

    @property
    def has_champion(self) -> bool:
        """Whether a champion is registered."""
        return self.champion_version is not None


@dataclass(frozen=True)
class PromotionDecision:
    """The verdict: `promote` iff every rule passed.

    `reasons` holds one sentence per rule (in `RULES` order) with its numbers;
    `rule_results` maps each rule name to whether it passed.
    """

    promote: bool
    reasons: tuple[str, ...]
    rule_results: Mapping[str, bool]

    def to_markdown(self) -> str:
        """A headline and one bullet per rule, for the Dagster UI."""
        headline = "**Promote the challenger.**" if self.promote else "**Keep the champion.**"
        bullets = [
            f"- {'pass' if passed else 'FAIL'} `{rule}`: {reason}"
            for (rule, passed), reason in zip(self.rule_results.items(), self.reasons, strict=True)
        ]
        return "\n".join([headline, "", *bullets])


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _names(stores: list[str]) -> str:
    shown = ", ".join(stores[:MAX_LISTED_STORES])
    hidden = len(stores) - MAX_LISTED_STORES
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def _finite_rule(gate: GateInput) -> tuple[bool, str]:
    named = {
        "challenger WAPE": gate.challenger_wape,
        "seasonal-naive WAPE": gate.seasonal_naive_wape,
    }
    if gate.champion_wape is not None:
        named["champion WAPE"] = gate.champion_wape
    not_numbers = [name for name, value in named.items() if math.isnan(value)]
    if not_numbers:
        verb = "is" if len(not_numbers) == 1 else "are"
        return False, (
            f"{' and '.join(not_numbers)} {verb} NaN: the backtest produced no usable score "
            "(NaN forecasts or no demand in the window); not promoted until it is re-scored."
        )
    return True, "all overall WAPEs are numbers."


def _cutoff_rule(gate: GateInput) -> tuple[bool, str]:
    if gate.champion_cutoff is None:
        return True, f"no champion; challenger trained up to {gate.challenger_cutoff}."
    if gate.challenger_cutoff < gate.champion_cutoff:
        return False, (
            f"challenger cutoff {gate.challenger_cutoff} is older than the champion's "
            f"{gate.champion_cutoff}: a backfill never replaces a newer champion."
        )
    return True, (
        f"challenger cutoff {gate.challenger_cutoff} is not older than the champion's "
        f"{gate.champion_cutoff}."
    )


def _seasonal_naive_rule(gate: GateInput, policy: PromotionPolicy) -> tuple[bool, str]:
    challenger, naive = gate.challenger_wape, gate.seasonal_naive_wape
    if math.isnan(challenger) or math.isnan(naive):
        return not policy.must_beat_seasonal_naive, "cannot compare with seasonal naive: NaN WAPE."
    if naive > 0:
        comparison = f"{_percent((naive - challenger) / naive)} better"
    else:
        comparison = "seasonal naive is perfect"
    numbers = f"WAPE {challenger:.3f} vs seasonal naive {naive:.3f}: {comparison}"
    if not policy.must_beat_seasonal_naive:
        return True, f"{numbers} (not required by the policy)."
    return challenger < naive, f"{numbers} (must be lower)."


def _refit_replaces_drifting_champion(gate: GateInput) -> bool:
    return (
        gate.same_configuration
        and gate.champion_health is not None
        and gate.champion_health.is_drifting
        and gate.champion_cutoff is not None
        and gate.challenger_cutoff > gate.champion_cutoff
    )


def _improvement_rule(gate: GateInput, policy: PromotionPolicy) -> tuple[bool, str]:
    champion = gate.champion_wape
    if champion is None:
        return True, "no champion to improve on."
    if gate.same_configuration:
        health = gate.champion_health.describe() if gate.champion_health else "not scored yet"
        same = f"same configuration as champion v{gate.champion_version}"
        if _refit_replaces_drifting_champion(gate):
            return True, (
                f"{same}, which is {health}: fresher data replaces it (trained up to "
                f"{gate.challenger_cutoff}, the champion up to {gate.champion_cutoff})."
            )
        passed, reason = _wape_improvement(gate, champion, policy)
        return passed, (
            f"{reason} {same} (health: {health}), so the WAPE comparison decides; a refit "
            "replaces only a drifting champion, on newer data."
        )
    if _ranked_family_replaces_drifting_champion(gate, champion):
        health = gate.champion_health.describe() if gate.champion_health else ""
        return True, (
            f"champion v{gate.champion_version} is {health}; the challenger's family scores no "
            f"worse (WAPE {gate.challenger_wape:.3f} vs {champion:.3f}) and is trained on newer "
            f"data (up to {gate.challenger_cutoff}, the champion up to {gate.champion_cutoff}): "
            "it replaces it (decision 0019)."
        )
    return _wape_improvement(gate, champion, policy)


def _ranked_family_replaces_drifting_champion(gate: GateInput, champion: float) -> bool:
    """Decision 0019: the challenger is the family the backtest ranked best, which may not be
    the champion's; against a drifting champion it need not win by the margin, only score no
    worse on newer data, as a same-configuration refit (which ties) does."""
    challenger = gate.challenger_wape
    return (
        gate.champion_health is not None
        and gate.champion_health.is_drifting
        and gate.champion_cutoff is not None
        and gate.challenger_cutoff > gate.champion_cutoff
        and not math.isnan(challenger)
        and not math.isnan(champion)
        and challenger <= champion + FLOAT_TOLERANCE
    )


def _wape_improvement(
    gate: GateInput, champion: float, policy: PromotionPolicy
) -> tuple[bool, str]:
    challenger = gate.challenger_wape
    needs = f"needs >= {_percent(policy.min_wape_improvement)}"
    if math.isnan(challenger) or math.isnan(champion):
        return False, f"cannot compare with the champion: NaN WAPE ({needs})."
    numbers = f"WAPE {challenger:.3f} vs champion {champion:.3f} (version {gate.champion_version})"
    if champion == 0:
        return False, f"{numbers}: the champion is perfect, nothing to improve on ({needs})."
    improvement = (champion - challenger) / champion
    passed = improvement >= policy.min_wape_improvement - FLOAT_TOLERANCE
    change = f"{_percent(abs(improvement))} {'better' if improvement >= 0 else 'worse'}"
    return passed, f"{numbers}: {change} ({needs})."


def _store_degradation(challenger: float, champion: float) -> float:
    """Relative change `(challenger - champion) / champion`; from a perfect champion, 0 or inf."""
    if champion == 0:
        return 0.0 if challenger == 0 else math.inf
    return (challenger - champion) / champion


def _store_rule(gate: GateInput, policy: PromotionPolicy) -> tuple[bool, str]:
    if not gate.has_champion:
        return True, "no champion to compare stores with."
    allowed = f"allowed <= +{_percent(policy.max_store_degradation)}"
    challenger, champion = gate.challenger_store_wape, gate.champion_store_wape
    common = sorted(
        store
        for store in set(challenger) & set(champion)
        if not (math.isnan(challenger[store]) or math.isnan(champion[store]))
    )
    ignored = sorted((set(challenger) | set(champion)) - set(common))
    note = (
        f" Ignored {len(ignored)} store(s) missing or NaN on one side: {_names(ignored)}."
        if ignored
        else ""
    )
    if not common:
        return True, f"no store scored on both sides ({allowed}).{note}"
    changes = {store: _store_degradation(challenger[store], champion[store]) for store in common}
    worst = max(common, key=lambda store: changes[store])
    too_worse = [
        store for store in common if changes[store] > policy.max_store_degradation + FLOAT_TOLERANCE
    ]
    change = "+inf %" if math.isinf(changes[worst]) else f"{changes[worst] * 100:+.1f} %"
    numbers = (
        f"worst store {worst}: WAPE {champion[worst]:.3f} -> {challenger[worst]:.3f} "
        f"({change}, {allowed}) over {len(common)} store(s)"
    )
    if too_worse:
        return False, f"{numbers}; too much worse: {_names(too_worse)}.{note}"
    return True, f"{numbers}.{note}"


def decide_promotion(gate: GateInput, policy: PromotionPolicy) -> PromotionDecision:
    """Decide whether the challenger replaces the champion; see the module docstring's rules.

    Pure: the same inputs always give the same decision. Every rule is evaluated and explained,
    also after one has failed, so the verdict shows everything an operator would need to fix.
    """
    verdicts = {
        RULE_FINITE: _finite_rule(gate),
        RULE_CUTOFF: _cutoff_rule(gate),
        RULE_SEASONAL_NAIVE: _seasonal_naive_rule(gate, policy),
        RULE_IMPROVEMENT: _improvement_rule(gate, policy),
        RULE_STORES: _store_rule(gate, policy),
    }
    results = {rule: passed for rule, (passed, _) in verdicts.items()}
    return PromotionDecision(
        promote=all(results.values()),
        reasons=tuple(reason for _, reason in verdicts.values()),
        rule_results=MappingProxyType(results),
    )
