from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from forecastops.pipeline.cycle import (
    CyclePolicy,
    NoRankedModelError,
    choose_challenger,
    lag_window_missing_days,
    overdue_missing_days,
    same_configuration,
)
from forecastops.pipeline.ingest import RAW_SALES_TABLE, delivered_days, missing_days
from forecastops.stores.lake import Lake
from forecastops.stores.registry_tags import CONFIGURATION_TAGS

CHAMPION_TAGS = {
    "objective": "tweedie",
    "window_days": "120",
    "feature_set_version": "fs-1",
    "training_cutoff": "2025-06-30",
}


def test_versions_agreeing_on_the_configuration_tags_are_the_same_configuration() -> None:
    challenger = {**CHAMPION_TAGS, "training_cutoff": "2025-07-01", "data_sha256": "abc"}
    assert same_configuration(challenger, CHAMPION_TAGS)


@pytest.mark.parametrize("tag", CONFIGURATION_TAGS)
def test_one_differing_or_missing_configuration_tag_makes_another_configuration(tag: str) -> None:
    assert not same_configuration({**CHAMPION_TAGS, tag: "other"}, CHAMPION_TAGS)
    older = {key: value for key, value in CHAMPION_TAGS.items() if key != tag}
    assert not same_configuration(CHAMPION_TAGS, older)
    assert not same_configuration(older, older)


def test_a_day_without_a_raw_sales_partition_is_missing_from_the_lag_window(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake")
    cutoff = date(2025, 3, 31)
    policy = CyclePolicy()
    rejected = {cutoff - timedelta(days=3), cutoff - timedelta(days=40)}
    for offset in range(60):
        day = cutoff - timedelta(days=offset)
        if day not in rejected:
            row = {"date": [pd.Timestamp(day)], "store_id": ["S1"], "product_id": ["P1"]}
            lake.write_partition(RAW_SALES_TABLE, day, {"data": pd.DataFrame(row)})
    first = cutoff - timedelta(days=59)

    assert missing_days(lake, first, cutoff) == sorted(rejected)
    assert len(delivered_days(lake, first, cutoff)) == 58
    # The lag window is the 34 days up to the cutoff: only the recent rejected day is in it.
    assert lag_window_missing_days(lake, cutoff, policy) == [cutoff - timedelta(days=3)]


@pytest.mark.parametrize("alert_after", [0, 3, 10])
def test_only_days_missing_longer_than_the_setting_are_overdue(
    tmp_path: Path, alert_after: int
) -> None:
    lake = Lake(tmp_path / "lake")
    cutoff = date(2025, 3, 31)
    policy = CyclePolicy(training_window_days=30, missing_days_alert_after=alert_after)
    gaps = [cutoff - timedelta(days=age) for age in (40, 11, 10, 4, 3, 1)]  # 40: out of window
    for offset in range(45):
        day = cutoff - timedelta(days=offset)
        if day not in gaps:
            row = {"date": [pd.Timestamp(day)], "store_id": ["S1"], "product_id": ["P1"]}
            lake.write_partition(RAW_SALES_TABLE, day, {"data": pd.DataFrame(row)})

    overdue = overdue_missing_days(lake, cutoff, policy)

    ages = sorted((cutoff - day).days for day in overdue)
    assert ages == [age for age in (1, 3, 4, 10, 11) if age > alert_after]


def _ranking(*rows: tuple[str, float, str | None]) -> pd.DataFrame:
    """A stored ranking table: (candidate, wape, error) rows, ranked as given."""
    return pd.DataFrame(
        {
            "rank": range(1, len(rows) + 1),
            "candidate": [row[0] for row in rows],
            "wape": [row[1] for row in rows],
            "status": ["failed" if row[2] else "ok" for row in rows],
            "error": [row[2] for row in rows],
        }
    )


CUTOFF = date(2025, 5, 31)


def test_the_best_ranked_lightgbm_family_is_the_challenger_whatever_the_setting() -> None:
    ranking = _ranking(
        ("lightgbm_poisson", 0.30, None),
        ("lightgbm_tweedie", 0.32, None),
        ("seasonal_naive", 0.40, None),
        ("moving_average_28", 0.45, None),
    )
    choice = choose_challenger(ranking, CyclePolicy(objective="tweedie"), CUTOFF)
    assert (choice.objective, choice.candidate) == ("poisson", "lightgbm_poisson")
    assert choice.selected_by == "backtest ranking: rank 1 of 4"
    assert not choice.baseline_won


def test_a_baseline_that_ranks_first_is_never_the_challenger_and_is_named() -> None:
    ranking = _ranking(
        ("seasonal_naive", 0.28, None),
        ("lightgbm_tweedie", 0.30, None),
        ("lightgbm_poisson", float("nan"), "RuntimeError: boom (fold 0, cutoff 2025-03-02)"),
    )
    choice = choose_challenger(ranking, CyclePolicy(objective="poisson"), CUTOFF)
    assert choice.objective == "tweedie"
    assert choice.baseline_won and choice.winner == "seasonal_naive"
    assert choice.selected_by == (
        "backtest ranking: rank 2 of 3 (best LightGBM; the baseline seasonal_naive ranked first)"
    )


def test_without_a_ranking_the_setting_chooses_and_says_so() -> None:
    choice = choose_challenger(None, CyclePolicy(objective="poisson"), CUTOFF)
    assert choice.objective == "poisson" and choice.rank is None
    assert "FORECASTOPS_OBJECTIVE=poisson" in choice.selected_by
    assert "2025-05-31" in choice.selected_by


def test_when_no_lightgbm_family_was_scored_nothing_is_chosen() -> None:
    ranking = _ranking(
        ("seasonal_naive", 0.28, None),
        ("lightgbm_tweedie", float("nan"), "ValueError: bad (fold 1, cutoff 2025-04-02)"),
        ("lightgbm_poisson", float("nan"), "MemoryError: (fold 0, cutoff 2025-03-02)"),
    )
    with pytest.raises(NoRankedModelError) as raised:
        choose_challenger(ranking, CyclePolicy(), CUTOFF)
    message = str(raised.value)
    assert "2025-05-31 scored no LightGBM family" in message
    assert "lightgbm_tweedie: ValueError: bad (fold 1" in message
    assert "lightgbm_poisson: MemoryError" in message
