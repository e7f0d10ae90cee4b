"""The registry's vocabulary: the names the assets write are the names the rules read."""

from __future__ import annotations

from datetime import date

import pytest

from forecastops.pipeline.operations import promotion_blockers
from forecastops.stores.registry_tags import (
    BACKTEST_METRICS,
    CHAMPION_BACKTEST_TAGS,
    DECISION_TAG,
    REGISTRATION_TAGS,
    VERSION_TAGS,
    backtest_tag,
    backtest_tags,
    champion_backtest_tags,
    decision_tags,
    registration_tags,
)


def test_registration_writes_exactly_the_registration_tags() -> None:
    tags = registration_tags(
        training_data="training_data/training_sales.parquet",
        training_cutoff=date(2025, 5, 31),
        window_days=120,
        objective="tweedie",
        feature_set_version="fs-1",
        data_sha256="abc",
        dagster_run_id="run-1",
        dagster_root_run_id="run-1",
        partition="2025-05-31",
        top_features="lag_7,lag_14,rolling_mean_7",
        top3_vs_champion="no champion yet",
        selected_by="backtest ranking: rank 1 of 4",
        horizon_days=28,
    )
    assert tuple(tags) == REGISTRATION_TAGS
    assert tags["training_cutoff"] == "2025-05-31" and tags["window_days"] == "120"


def test_every_tag_the_cycle_writes_is_a_known_version_tag() -> None:
    written = {
        *backtest_tags({metric: 0.25 for metric in BACKTEST_METRICS}),
        *decision_tags(True),
        *decision_tags(False),
    }
    assert written <= VERSION_TAGS
    assert backtest_tags({"wape": 0.1234567}) == {"backtest_wape": "0.123457"}


def test_the_champion_backtest_writes_its_own_tags_never_the_backtest_ones() -> None:
    written = champion_backtest_tags(
        {metric: 0.25 for metric in BACKTEST_METRICS}, date(2025, 6, 7)
    )
    assert tuple(written) == CHAMPION_BACKTEST_TAGS
    assert set(written) <= VERSION_TAGS
    assert not set(written) & set(backtest_tags({metric: 0.25 for metric in BACKTEST_METRICS}))
    assert written["champion_backtest_cutoff"] == "2025-06-07"
    assert written["champion_backtest_wape"] == "0.250000"


def test_an_unknown_backtest_score_has_no_tag() -> None:
    with pytest.raises(KeyError, match="smape"):
        backtest_tag("smape")


def test_the_promote_rule_reads_what_the_gate_and_the_backtest_write() -> None:
    backtested = backtest_tags({"wape": 0.2})
    assert promotion_blockers({**backtested, **decision_tags(True)}) == []
    [rejected] = promotion_blockers({**backtested, **decision_tags(False)})
    assert f"{DECISION_TAG}=rejected" in rejected
    assert len(promotion_blockers(decision_tags(True))) == 1  # never backtested
