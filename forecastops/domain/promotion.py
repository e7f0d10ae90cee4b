"""The champion/challenger promotion gate: a pure function of the evidence and a policy.

`decide_promotion(gate, policy)` evaluates every rule, always all of them, and promotes only when
all pass. Each verdict is a sentence with its numbers, so the decision reads on its own in the UI.

The backtest admits a challenger (it beats seasonal naive, no store degrades against the
champion's family) and ranks families; whether it replaces the champion is decided on data
neither model has seen: the realized accuracy of the challenger's configuration stream in
shadow, on the champion's rows (`forecastops.domain.shadow`, decision 0022).

| rule | passes when |
|---|---|
| `metrics_are_numbers` | backtest: challenger, seasonal-naive and (if any) champion WAPE are
  not NaN |
| `cutoff_not_older` | no champion, or the challenger's training cutoff >= the champion's |
| `beats_seasonal_naive` | backtest: challenger WAPE < seasonal-naive WAPE (or the policy does
  not ask) |
| `no_store_degrades` | backtest: no champion, or for every store scored on both sides,
  `(challenger - champion) / champion <= max_store_degradation` |
| `improves_on_champion` | no champion, or the stream's shadow evidence covers at least
  `min_shadow_days` realized days and its realized WAPE is `>= min_wape_improvement` better than
  the champion's on the same rows |
| `no_store_degrades_in_shadow` | no champion, or the store rule above on the realized per-store
  WAPE of the shadow evidence (vacuous while there is none) |

Notes: with no champion the gate promotes iff the challenger beats seasonal naive (under the
default policy). A challenger trained on an older cutoff than the champion (a backfill) is never
promoted, so re-running old partitions cannot move the live model backwards. A champion WAPE of 0
cannot be improved on (the improvement rule fails); a champion store WAPE of 0 tolerates only a
challenger store WAPE of 0. Stores missing on either side, or with a NaN WAPE on either side (no
demand in the window), are ignored by the store rules and named in their verdict; a NaN forecast
already makes the challenger's overall WAPE NaN, which the first rule rejects. Ratios are
compared with a tolerance of `FLOAT_TOLERANCE`, so "exactly 5 %" passes a 5 % threshold.

The shadow evidence restarts at every champion change, so the alias cannot move twice within
`min_shadow_days` realized days (no churn), while a fresher refit stream that really is better
on realized data is promoted (no freeze).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from forecastops.domain.performance import DRIFTING
from forecastops.domain.shadow import ShadowEvidence

RULE_FINITE = "metrics_are_numbers"
RULE_CUTOFF = "cutoff_not_older"
RULE_SEASONAL_NAIVE = "beats_seasonal_naive"
RULE_IMPROVEMENT = "improves_on_champion"
RULE_STORES = "no_store_degrades"
RULE_SHADOW_STORES = "no_store_degrades_in_shadow"
RULES: tuple[str, ...] = (
    RULE_FINITE,
    RULE_CUTOFF,
    RULE_SEASONAL_NAIVE,
    RULE_STORES,
    RULE_IMPROVEMENT,
    RULE_SHADOW_STORES,
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
    """The challenger stream's realized WAPE must be at least this much better than the
    champion's on the same rows."""
    max_store_degradation: float = 0.10
    """No store's WAPE (backtest, and realized in shadow) may get worse than the champion's by
    more than this."""
    must_beat_seasonal_naive: bool = True
    min_shadow_days: int = 7
    """Realized shadow days the challenger stream needs before it may replace a champion."""

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
        if self.min_shadow_days < 1:
            raise ValueError(
                f"PromotionPolicy.min_shadow_days must be >= 1 day, got {self.min_shadow_days}."
            )


@dataclass(frozen=True)
class ChampionHealth:
    """The champion's realized health as monitoring last classified it (a `model_performance`
    record, written from `forecastops.domain.performance.Health`): `status` one of
    `MODEL_STATUSES`, on `day`, with the realized MAE's relative change against the champion's
    backtest MAE (`degradation`, 2.06 = +206 %; NaN when not computable). Recorded with the
    decision and named in its verdict; no rule reads it (decision 0022: the shadow evidence
    decides, also for a drifting champion)."""

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
    or all set. `*_wape` and `*_store_wape` (store_id -> WAPE; the champion's empty without a
    champion) are the backtest's, each model scored as its family. `shadow`: the challenger
    stream's realized evidence against the champion (None: no champion, or none recorded);
    `champion_health`: the champion's newest realized health on or before the cutoff, for the
    record only.
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
    shadow: ShadowEvidence | None = None
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


def _improvement_rule(gate: GateInput, policy: PromotionPolicy) -> tuple[bool, str]:
    """Decision 0022: the stream's realized WAPE in shadow against the champion's, same rows."""
    if not gate.has_champion:
        return True, "no champion to improve on."
    needs = (
        f"needs >= {_percent(policy.min_wape_improvement)} better over >= "
        f"{policy.min_shadow_days} realized shadow days"
    )
    health = f" Champion health: {gate.champion_health.describe()}." if gate.champion_health else ""
    evidence = gate.shadow
    if evidence is None or evidence.realized_days < policy.min_shadow_days:
        days = evidence.realized_days if evidence else 0
        seen = f": {evidence.describe()}" if evidence else ": no shadow forecast scored yet"
        return False, (
            f"{days} of {policy.min_shadow_days} shadow days{seen}; not eligible until the "
            f"stream has {policy.min_shadow_days} realized days ({needs}).{health}"
        )
    improvement = evidence.improvement
    if math.isnan(improvement):
        return False, f"{evidence.describe()}: not comparable (NaN or perfect champion; {needs})."
    passed = improvement >= policy.min_wape_improvement - FLOAT_TOLERANCE
    change = f"{_percent(abs(improvement))} {'better' if improvement >= 0 else 'worse'}"
    return passed, f"{evidence.describe()}: {change} ({needs}).{health}"


def _store_degradation(challenger: float, champion: float) -> float:
    """Relative change `(challenger - champion) / champion`; from a perfect champion, 0 or inf."""
    if champion == 0:
        return 0.0 if challenger == 0 else math.inf
    return (challenger - champion) / champion


def _stores_verdict(
    challenger: Mapping[str, float], champion: Mapping[str, float], policy: PromotionPolicy
) -> tuple[bool, str]:
    allowed = f"allowed <= +{_percent(policy.max_store_degradation)}"
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


def _store_rule(gate: GateInput, policy: PromotionPolicy) -> tuple[bool, str]:
    if not gate.has_champion:
        return True, "no champion to compare stores with."
    passed, reason = _stores_verdict(gate.challenger_store_wape, gate.champion_store_wape, policy)
    return passed, f"backtest: {reason}"


def _shadow_store_rule(gate: GateInput, policy: PromotionPolicy) -> tuple[bool, str]:
    if not gate.has_champion:
        return True, "no champion to compare stores with."
    evidence = gate.shadow
    if evidence is None or evidence.realized_days == 0:
        return True, "no store realized in shadow yet (the improvement rule waits for them)."
    passed, reason = _stores_verdict(
        evidence.challenger_store_wape, evidence.champion_store_wape, policy
    )
    return passed, f"realized in shadow over {evidence.realized_days} day(s): {reason}"


def decide_promotion(gate: GateInput, policy: PromotionPolicy) -> PromotionDecision:
    """Decide whether the challenger replaces the champion; see the module docstring's rules.

    Pure: the same inputs always give the same decision. Every rule is evaluated and explained,
    also after one has failed, so the verdict shows everything an operator would need to fix.
    """
    verdicts = {
        RULE_FINITE: _finite_rule(gate),
        RULE_CUTOFF: _cutoff_rule(gate),
        RULE_SEASONAL_NAIVE: _seasonal_naive_rule(gate, policy),
        RULE_STORES: _store_rule(gate, policy),
        RULE_IMPROVEMENT: _improvement_rule(gate, policy),
        RULE_SHADOW_STORES: _shadow_store_rule(gate, policy),
    }
    results = {rule: passed for rule, (passed, _) in verdicts.items()}
    return PromotionDecision(
        promote=all(results.values()),
        reasons=tuple(reason for _, reason in verdicts.values()),
        rule_results=MappingProxyType(results),
    )
