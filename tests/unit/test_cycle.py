from __future__ import annotations

import pytest

from forecastops.pipeline.cycle import same_configuration
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
