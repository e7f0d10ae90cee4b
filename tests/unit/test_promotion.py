from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from forecastops.domain.promotion import (
    RULE_CUTOFF,
    RULE_FINITE,
    RULE_IMPROVEMENT,
    RULE_SEASONAL_NAIVE,
    RULE_SHADOW_STORES,
    RULE_STORES,
    RULES,
    ChampionHealth,
    GateInput,
    PromotionPolicy,
    decide_promotion,
)
from forecastops.domain.shadow import ShadowEvidence

NAN = float("nan")
POLICY = PromotionPolicy()
CHAMPION_CUTOFF = date(2025, 6, 30)


def _shadow(
    days: int = 9,
    challenger: float = 0.231,
    champion: float = 0.262,
    stores: dict[str, float] | None = None,
    champion_stores: dict[str, float] | None = None,
) -> ShadowEvidence:
    """The stream's realized evidence: `days` shadow days, overall and per-store WAPEs."""
    return ShadowEvidence(
        stream="objective=tweedie, window_days=120, feature_set_version=fs1",
        challenger="7",
        versions=("5", "6b", "7") if days else (),
        champion="6",
        since=date(2025, 6, 20),
        as_of=date(2025, 7, 1),
        realized_days=days,
        challenger_wape=challenger,
        champion_wape=champion,
        challenger_mae=1.1,
        champion_mae=1.3,
        wape_7d=challenger,
        mae_7d=1.1,
        challenger_store_wape=stores if stores is not None else {"S1": 0.20, "S2": 0.25},
        champion_store_wape=champion_stores
        if champion_stores is not None
        else {"S1": 0.22, "S2": 0.27},
    )


# A challenger whose stream is 11.8 % better realized over 9 shadow days; in the backtest it
# beats seasonal naive and ties the champion (same family), no store worse.
WITH_CHAMPION = GateInput(
    challenger_version="7",
    challenger_cutoff=date(2025, 7, 1),
    champion_version="6",
    champion_cutoff=CHAMPION_CUTOFF,
    challenger_wape=0.262,
    champion_wape=0.262,
    seasonal_naive_wape=0.309,
    challenger_store_wape={"S1": 0.22, "S2": 0.27},
    champion_store_wape={"S1": 0.22, "S2": 0.27},
    shadow=_shadow(),
)
FIRST_MODEL = dataclasses.replace(
    WITH_CHAMPION,
    champion_version=None,
    champion_cutoff=None,
    champion_wape=None,
    champion_store_wape={},
    shadow=None,
)
DRIFTING = ChampionHealth(status="drifting", day=date(2025, 7, 1), degradation=2.06)


# (case id, base gate, changed fields, policy, promote, failed rules, phrase in the failed reason)
CASES: list[tuple[str, GateInput, dict[str, Any], PromotionPolicy, bool, set[str], str]] = [
    ("first model beating naive", FIRST_MODEL, {}, POLICY, True, set(), ""),
    (
        "first model worse than naive",
        FIRST_MODEL,
        {"challenger_wape": 0.35},
        POLICY,
        False,
        {RULE_SEASONAL_NAIVE},
        "WAPE 0.350 vs seasonal naive 0.309",
    ),
    (
        "first model tying naive",
        FIRST_MODEL,
        {"challenger_wape": 0.309},
        POLICY,
        False,
        {RULE_SEASONAL_NAIVE},
        "must be lower",
    ),
    (
        "naive not required by policy",
        FIRST_MODEL,
        {"challenger_wape": 0.35},
        PromotionPolicy(must_beat_seasonal_naive=False),
        True,
        set(),
        "",
    ),
    ("stream 11.8 % better over 9 shadow days", WITH_CHAMPION, {}, POLICY, True, set(), ""),
    # (0.7 - 0.665) / 0.7 misses 5 % by one float ulp; the gate's tolerance makes "exactly
    # 5 %" pass as the policy says.
    (
        "stream exactly 5 % better",
        WITH_CHAMPION,
        {"shadow": _shadow(challenger=0.665, champion=0.7)},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "stream 4.9 % better",
        WITH_CHAMPION,
        {"shadow": _shadow(challenger=0.6657, champion=0.7)},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "4.9 % better (needs >= 5.0 % better over >= 7 realized shadow days)",
    ),
    (
        "stream worse than champion",
        WITH_CHAMPION,
        {"shadow": _shadow(challenger=0.27)},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "3.1 % worse",
    ),
    (
        "6 of 7 shadow days",
        WITH_CHAMPION,
        {"shadow": _shadow(days=6, challenger=0.1)},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "6 of 7 shadow days: stream objective=tweedie",
    ),
    (
        "exactly 7 shadow days",
        WITH_CHAMPION,
        {"shadow": _shadow(days=7)},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "no shadow evidence",
        WITH_CHAMPION,
        {"shadow": None},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "0 of 7 shadow days: no shadow forecast scored yet",
    ),
    (
        "a longer shadow period asked",
        WITH_CHAMPION,
        {},
        PromotionPolicy(min_shadow_days=14),
        False,
        {RULE_IMPROVEMENT},
        "9 of 14 shadow days",
    ),
    (
        "perfect champion in shadow",
        WITH_CHAMPION,
        {"shadow": _shadow(champion=0.0)},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "not comparable (NaN or perfect champion",
    ),
    (
        "a drifting champion still needs the shadow evidence",
        WITH_CHAMPION,
        {"champion_health": DRIFTING, "shadow": _shadow(days=3)},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "Champion health: drifting on 2025-07-01 (MAE +206 % vs backtest).",
    ),
    (
        "a drifting champion replaced by a stream 11.8 % better",
        WITH_CHAMPION,
        {"champion_health": DRIFTING},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "a realized store 10.5 % worse",
        WITH_CHAMPION,
        {"shadow": _shadow(stores={"S1": 0.20, "S2": 0.29835})},
        POLICY,
        False,
        {RULE_SHADOW_STORES},
        "realized in shadow over 9 day(s): worst store S2: WAPE 0.270 -> 0.298 (+10.5 %",
    ),
    (
        "another family better in the backtest but not realized",
        WITH_CHAMPION,
        {"challenger_wape": 0.2, "shadow": _shadow(challenger=0.262)},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "0.0 % better",
    ),
    (
        "backfill with an older cutoff",
        WITH_CHAMPION,
        {"challenger_cutoff": date(2025, 6, 29), "challenger_wape": 0.1},
        POLICY,
        False,
        {RULE_CUTOFF},
        "older than the champion's 2025-06-30",
    ),
    (
        "same cutoff as champion",
        WITH_CHAMPION,
        {"challenger_cutoff": CHAMPION_CUTOFF},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "NaN challenger WAPE",
        WITH_CHAMPION,
        {"challenger_wape": NAN},
        POLICY,
        False,
        {RULE_FINITE, RULE_SEASONAL_NAIVE},
        "challenger WAPE is NaN",
    ),
    (
        "NaN champion WAPE",
        WITH_CHAMPION,
        {"champion_wape": NAN},
        POLICY,
        False,
        {RULE_FINITE},
        "champion WAPE is NaN",
    ),
    (
        "NaN seasonal-naive WAPE",
        FIRST_MODEL,
        {"seasonal_naive_wape": NAN},
        POLICY,
        False,
        {RULE_FINITE, RULE_SEASONAL_NAIVE},
        "seasonal-naive WAPE is NaN",
    ),
    (
        "store exactly 10 % worse",
        WITH_CHAMPION,
        {"champion_store_wape": {"S1": 0.3}, "challenger_store_wape": {"S1": 0.33}},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "store 10.5 % worse",
        WITH_CHAMPION,
        {"challenger_store_wape": {"S1": 0.22, "S2": 0.29835}},
        POLICY,
        False,
        {RULE_STORES},
        "worst store S2: WAPE 0.270 -> 0.298 (+10.5 %, allowed <= +10.0 %)",
    ),
    (
        "stores missing on one side are ignored",
        WITH_CHAMPION,
        {"challenger_store_wape": {"S1": 0.20, "S3": 0.9}},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "store NaN on one side is ignored",
        WITH_CHAMPION,
        {"challenger_store_wape": {"S1": 0.20, "S2": NAN}},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "perfect champion store kept perfect",
        WITH_CHAMPION,
        {"champion_store_wape": {"S1": 0.0}, "challenger_store_wape": {"S1": 0.0}},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "perfect champion store made worse",
        WITH_CHAMPION,
        {"champion_store_wape": {"S1": 0.0}, "challenger_store_wape": {"S1": 0.01}},
        POLICY,
        False,
        {RULE_STORES},
        "+inf %",
    ),
]


@pytest.mark.parametrize(
    ("base", "changes", "policy", "promote", "failed", "phrase"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_gate_table(
    base: GateInput,
    changes: dict[str, Any],
    policy: PromotionPolicy,
    promote: bool,
    failed: set[str],
    phrase: str,
) -> None:
    decision = decide_promotion(dataclasses.replace(base, **changes), policy)
    assert decision.promote is promote
    assert tuple(decision.rule_results) == RULES
    assert {rule for rule, passed in decision.rule_results.items() if not passed} == failed
    assert len(decision.reasons) == len(RULES)
    failed_reasons = [
        reason
        for reason, passed in zip(decision.reasons, decision.rule_results.values(), strict=True)
        if not passed
    ]
    assert not phrase or any(phrase in reason for reason in failed_reasons), failed_reasons


def test_reasons_state_the_numbers() -> None:
    decision = decide_promotion(WITH_CHAMPION, POLICY)
    assert decision.reasons[RULES.index(RULE_IMPROVEMENT)] == (
        "stream objective=tweedie, window_days=120, feature_set_version=fs1 (v5, v6b, v7) "
        "realized WAPE 0.231 vs champion v6 0.262 on the same rows over 9 day(s) since "
        "2025-06-20 up to 2025-07-01: 11.8 % better (needs >= 5.0 % better over >= 7 realized "
        "shadow days)."
    )
    assert any("15.2 % better" in reason for reason in decision.reasons)  # vs seasonal naive


def test_ignored_stores_are_named() -> None:
    gate = dataclasses.replace(WITH_CHAMPION, challenger_store_wape={"S1": 0.20, "S3": 0.9})
    store_reason = decide_promotion(gate, POLICY).reasons[RULES.index(RULE_STORES)]
    assert "Ignored 2 store(s) missing or NaN on one side: S2, S3." in store_reason


def test_markdown_has_a_headline_and_one_line_per_rule() -> None:
    promoted = decide_promotion(WITH_CHAMPION, POLICY).to_markdown()
    assert promoted.startswith("**Promote the challenger.**")
    assert all(f"`{rule}`" in promoted for rule in RULES)
    kept = dataclasses.replace(WITH_CHAMPION, shadow=_shadow(challenger=0.3))
    assert "FAIL `improves_on_champion`" in decide_promotion(kept, POLICY).to_markdown()


def test_a_half_described_champion_is_refused() -> None:
    with pytest.raises(ValueError, match=r"GateInput\.champion_wape"):
        dataclasses.replace(WITH_CHAMPION, champion_wape=None)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"min_wape_improvement": 1.5}, "min_wape_improvement"),
        ({"max_store_degradation": -0.1}, "max_store_degradation"),
        ({"min_shadow_days": 0}, "min_shadow_days"),
    ],
)
def test_a_bad_policy_names_its_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=rf"PromotionPolicy\.{named}"):
        dataclasses.replace(POLICY, **fields)
