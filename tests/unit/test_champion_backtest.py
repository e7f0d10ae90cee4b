"""Which configuration the champion backtest scores: the champion's own tags, checked."""

from __future__ import annotations

import pytest

from forecastops.pipeline.champion_backtest import ChampionConfigurationError, champion_policy
from forecastops.pipeline.cycle import CyclePolicy


def test_the_champion_is_scored_with_its_own_objective_and_window() -> None:
    today = CyclePolicy(objective="poisson", training_window_days=120, backtest_days=90)
    mine = champion_policy("3", {"objective": "tweedie", "window_days": "60"}, today)
    assert mine.objective == "tweedie" and mine.training_window_days == 60
    assert mine.challenger_candidate == "lightgbm_tweedie"
    assert mine.backtest_days == 90  # the backtest's layout stays the settings'


@pytest.mark.parametrize(
    ("tags", "named"),
    [
        ({"window_days": "60"}, "no objective tag"),
        ({"objective": "tweedie"}, "no window_days tag"),
        ({"objective": "quantile", "window_days": "60"}, "objective='quantile'"),
        ({"objective": "tweedie", "window_days": "sixty"}, "window_days='sixty'"),
        ({"objective": "tweedie", "window_days": "0"}, "window_days='0'"),
    ],
)
def test_a_champion_whose_tags_do_not_name_its_configuration_is_refused(
    tags: dict[str, str], named: str
) -> None:
    with pytest.raises(ChampionConfigurationError, match="Champion version 3") as raised:
        champion_policy("3", tags, CyclePolicy())
    assert named in str(raised.value) and "forecastops promote --version N" in str(raised.value)
