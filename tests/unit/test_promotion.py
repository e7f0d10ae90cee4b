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
    RULE_STORES,
    RULES,
    ChampionHealth,
    GateInput,
    PromotionPolicy,
    decide_promotion,
)

NAN = float("nan")
POLICY = PromotionPolicy()
CHAMPION_CUTOFF = date(2025, 6, 30)

# A challenger 11.8 % better than its champion, better than seasonal naive, no store worse.
WITH_CHAMPION = GateInput(
    challenger_version="7",
    challenger_cutoff=date(2025, 7, 1),
    champion_version="6",
    champion_cutoff=CHAMPION_CUTOFF,
    challenger_wape=0.231,
    champion_wape=0.262,
    seasonal_naive_wape=0.309,
    challenger_store_wape={"S1": 0.20, "S2": 0.25},
    champion_store_wape={"S1": 0.22, "S2": 0.27},
)
FIRST_MODEL = dataclasses.replace(
    WITH_CHAMPION,
    champion_version=None,
    champion_cutoff=None,
    champion_wape=None,
    champion_store_wape={},
)

DRIFTING = ChampionHealth(status="drifting", day=date(2025, 7, 1), degradation=2.06)
# A refit of the champion's configuration on one more day: the backtest scores both as one
# family, so every WAPE ties; the champion's realized MAE is 206 % above its backtest.
SAME_CONFIG_REFIT = dataclasses.replace(
    WITH_CHAMPION,
    challenger_wape=0.262,
    challenger_store_wape={"S1": 0.22, "S2": 0.27},
    same_configuration=True,
    champion_health=DRIFTING,
)


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
    ("11.8 % better than champion", WITH_CHAMPION, {}, POLICY, True, set(), ""),
    # (0.7 - 0.665) / 0.7 and (0.33 - 0.3) / 0.3 miss their threshold by one float ulp; the
    # gate's tolerance makes "exactly 5 %" and "exactly 10 %" pass as the policy says.
    (
        "exactly 5 % better",
        WITH_CHAMPION,
        {"challenger_wape": 0.665, "champion_wape": 0.7, "seasonal_naive_wape": 0.8},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "4.9 % better",
        WITH_CHAMPION,
        {"challenger_wape": 0.6657, "champion_wape": 0.7, "seasonal_naive_wape": 0.8},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "4.9 % better (needs >= 5.0 %)",
    ),
    (
        "worse than champion",
        WITH_CHAMPION,
        {"challenger_wape": 0.27},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "3.1 % worse",
    ),
    (
        "perfect champion",
        WITH_CHAMPION,
        {"champion_wape": 0.0},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "champion is perfect",
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
        {RULE_FINITE, RULE_SEASONAL_NAIVE, RULE_IMPROVEMENT},
        "challenger WAPE is NaN",
    ),
    (
        "NaN champion WAPE",
        WITH_CHAMPION,
        {"champion_wape": NAN},
        POLICY,
        False,
        {RULE_FINITE, RULE_IMPROVEMENT},
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
    ("same config, drifting champion, newer data", SAME_CONFIG_REFIT, {}, POLICY, True, set(), ""),
    *[
        (
            f"same config, {status} champion",
            SAME_CONFIG_REFIT,
            {"champion_health": dataclasses.replace(DRIFTING, status=status, degradation=0.08)},
            POLICY,
            False,
            {RULE_IMPROVEMENT},
            f"health: {status} on 2025-07-01 (MAE +8 % vs backtest)",
        )
        for status in ("healthy", "degrading")
    ],
    (
        "same config, champion health not scored",
        SAME_CONFIG_REFIT,
        {"champion_health": None},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "health: not scored yet",
    ),
    (
        "same config, drifting champion, same cutoff",
        SAME_CONFIG_REFIT,
        {"challenger_cutoff": CHAMPION_CUTOFF},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "a refit replaces only a drifting champion, on newer data",
    ),
    (
        "same config, drifting champion, older data",
        SAME_CONFIG_REFIT,
        {"challenger_cutoff": date(2025, 6, 1)},
        POLICY,
        False,
        {RULE_CUTOFF, RULE_IMPROVEMENT},
        "a backfill never replaces a newer champion",
    ),
    (
        "same config, drifting champion, worse than naive",
        SAME_CONFIG_REFIT,
        {"seasonal_naive_wape": 0.25},
        POLICY,
        False,
        {RULE_SEASONAL_NAIVE},
        "must be lower",
    ),
    (
        "same config, drifting champion, a store much worse",
        SAME_CONFIG_REFIT,
        {"challenger_store_wape": {"S1": 0.30, "S2": 0.27}},
        POLICY,
        False,
        {RULE_STORES},
        "too much worse: S1",
    ),
    (  # decision 0019: the ranked family replaces a drifting champion when no worse
        "other config, drifting champion, tied WAPE, newer data",
        SAME_CONFIG_REFIT,
        {"same_configuration": False},
        POLICY,
        True,
        set(),
        "",
    ),
    (
        "other config, drifting champion, worse WAPE",
        SAME_CONFIG_REFIT,
        {"same_configuration": False, "challenger_wape": 0.270},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "WAPE 0.270 vs champion 0.262 (version 6): 3.1 % worse (needs >= 5.0 %).",
    ),
    (
        "other config, drifting champion, tied WAPE, same cutoff",
        SAME_CONFIG_REFIT,
        {"same_configuration": False, "challenger_cutoff": CHAMPION_CUTOFF},
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "WAPE 0.262 vs champion 0.262 (version 6): 0.0 % better (needs >= 5.0 %).",
    ),
    (
        "other config, healthy champion, tied WAPE",
        SAME_CONFIG_REFIT,
        {
            "same_configuration": False,
            "champion_health": dataclasses.replace(DRIFTING, status="healthy", degradation=0.0),
        },
        POLICY,
        False,
        {RULE_IMPROVEMENT},
        "0.0 % better (needs >= 5.0 %).",
    ),
    (
        "other config, drifting champion, 11.8 % better",
        WITH_CHAMPION,
        {"champion_health": DRIFTING},
        POLICY,
        True,
        set(),
        "",
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
    assert (
        "WAPE 0.231 vs champion 0.262 (version 6): 11.8 % better (needs >= 5.0 %)."
        in decision.reasons
    )
    assert any("25.2 % better" in reason for reason in decision.reasons)


def test_a_drifting_champion_s_refit_says_which_path_applied() -> None:
    decision = decide_promotion(SAME_CONFIG_REFIT, POLICY)
    assert decision.reasons[RULES.index(RULE_IMPROVEMENT)] == (
        "same configuration as champion v6, which is drifting on 2025-07-01 (MAE +206 % vs "
        "backtest): fresher data replaces it (trained up to 2025-07-01, the champion up to "
        "2025-06-30)."
    )


def test_a_drifting_champion_replaced_by_another_family_says_so() -> None:
    gate = dataclasses.replace(SAME_CONFIG_REFIT, same_configuration=False)
    decision = decide_promotion(gate, POLICY)
    assert decision.promote
    assert "champion v6 is drifting on 2025-07-01" in decision.reasons[3]
    assert "scores no worse (WAPE 0.262 vs 0.262)" in decision.reasons[3]


def test_ignored_stores_are_named() -> None:
    gate = dataclasses.replace(WITH_CHAMPION, challenger_store_wape={"S1": 0.20, "S3": 0.9})
    store_reason = decide_promotion(gate, POLICY).reasons[RULES.index(RULE_STORES)]
    assert "Ignored 2 store(s) missing or NaN on one side: S2, S3." in store_reason


def test_markdown_has_a_headline_and_one_line_per_rule() -> None:
    promoted = decide_promotion(WITH_CHAMPION, POLICY).to_markdown()
    assert promoted.startswith("**Promote the challenger.**")
    assert all(f"`{rule}`" in promoted for rule in RULES)
    kept = dataclasses.replace(WITH_CHAMPION, challenger_wape=0.3)
    assert "FAIL `improves_on_champion`" in decide_promotion(kept, POLICY).to_markdown()


def test_a_half_described_champion_is_refused() -> None:
    with pytest.raises(ValueError, match=r"GateInput\.champion_wape"):
        dataclasses.replace(WITH_CHAMPION, champion_wape=None)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"min_wape_improvement": 1.5}, "min_wape_improvement"),
        ({"max_store_degradation": -0.1}, "max_store_degradation"),
    ],
)
def test_a_bad_policy_names_its_field(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=rf"PromotionPolicy\.{named}"):
        dataclasses.replace(POLICY, **fields)
