from __future__ import annotations

from datetime import date

from forecastops.cycle import CyclePolicy
from forecastops.monitoring import CURRENT_WINDOW_DAYS, reference_for

DAY = date(2025, 6, 30)


def test_the_reference_is_the_champions_training_window() -> None:
    reference = reference_for(DAY, CyclePolicy(), ("4", date(2025, 5, 1), 90))
    assert (reference.cutoff, reference.window_days) == (date(2025, 5, 1), 90)
    assert reference.source == "champion v4"


def test_without_a_champion_the_reference_is_the_window_before_the_current_one() -> None:
    reference = reference_for(DAY, CyclePolicy(window_days=60), None)
    assert reference.cutoff == date(2025, 6, 2)
    assert (DAY - reference.cutoff).days == CURRENT_WINDOW_DAYS
    assert reference.window_days == 60
