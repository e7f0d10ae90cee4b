from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from forecastops.pipeline.cycle import (
    CyclePolicy,
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
