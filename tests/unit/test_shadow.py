"""Shadow scoring (decision 0022): the stream's realized accuracy against the champion's on the
same rows, by the one realized-accuracy definition."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest

from forecastops.domain.performance import score_forecasts
from forecastops.domain.shadow import SHADOW_WINDOW_DAYS, compare_shadow, evidence_window

SINCE = date(2025, 3, 1)  # the champion took office: its first forecast in force is on 3 Mar


def _rows(days: int, p50: dict[str, float], version: str, skip: int = 0) -> pd.DataFrame:
    """One-day-ahead forecasts of two stores' one product for `days` days after `SINCE`, from
    the origin the day before (all but the first `skip` days)."""
    rows = [
        {
            "date": pd.Timestamp(SINCE + timedelta(days=offset)),
            "store_id": store,
            "product_id": "p1",
            "p50": value,
            "model_version": version,
            "training_cutoff": (SINCE + timedelta(days=offset - 1)).isoformat(),
        }
        for offset in range(1 + skip, days + 1)
        for store, value in p50.items()
    ]
    return pd.DataFrame(rows)


def _actuals(days: int) -> pd.DataFrame:
    """Store s1 sells 10 units a day, store s2 sells 20."""
    return pd.DataFrame(
        [
            {
                "date": pd.Timestamp(SINCE + timedelta(days=offset)),
                "store_id": store,
                "product_id": "p1",
                "units_sold": units,
            }
            for offset in range(1, days + 1)
            for store, units in {"s1": 10, "s2": 20}.items()
        ]
    )


def test_the_stream_is_compared_with_the_champion_on_the_same_rows_only() -> None:
    actuals = _actuals(10)
    # champion: 2 units off in each store; the shadow: 1 off, but it only started 3 days later
    champion = score_forecasts(_rows(10, {"s1": 12, "s2": 22}, "1"), actuals)
    shadow = score_forecasts(_rows(10, {"s1": 11, "s2": 19}, "5", skip=3), actuals)
    shadow.loc[shadow["date"] == shadow["date"].max(), "model_version"] = "6"  # next refit
    as_of = SINCE + timedelta(days=10)

    evidence = compare_shadow(
        champion,
        shadow,
        as_of,
        stream="objective=tweedie",
        challenger="6",
        champion="1",
        since=SINCE,
    )

    assert evidence.realized_days == 7  # days 4..10: the days both forecast
    assert evidence.versions == ("5", "6")
    # 7 days x (2 + 2) units off against 7 x 30 sold; the shadow 7 x (1 + 1)
    assert evidence.champion_wape == pytest.approx(28 / 210)
    assert evidence.challenger_wape == pytest.approx(14 / 210)
    assert evidence.improvement == pytest.approx(0.5)
    assert evidence.champion_mae == pytest.approx(2.0)
    assert evidence.challenger_mae == pytest.approx(1.0)
    assert evidence.wape_7d == pytest.approx(14 / 210)
    assert dict(evidence.challenger_store_wape) == pytest.approx({"s1": 0.1, "s2": 0.05})
    assert dict(evidence.champion_store_wape) == pytest.approx({"s1": 0.2, "s2": 0.1})
    assert evidence.describe() == (
        "stream objective=tweedie (v5, v6) realized WAPE 0.067 vs champion v1 0.133 on the "
        "same rows over 7 day(s) since 2025-03-01 up to 2025-03-11"
    )
    assert evidence.summary()["improvement"] == pytest.approx(0.5)


def test_rows_forecast_from_different_origins_are_not_compared() -> None:
    actuals = _actuals(4)
    champion = score_forecasts(_rows(4, {"s1": 12, "s2": 22}, "1"), actuals)
    shadow_rows = _rows(4, {"s1": 10, "s2": 20}, "5")
    shadow_rows["training_cutoff"] = (SINCE - timedelta(days=1)).isoformat()  # older origin
    shadow = score_forecasts(shadow_rows, actuals)

    evidence = compare_shadow(
        champion,
        shadow,
        SINCE + timedelta(days=4),
        stream="s",
        challenger="5",
        champion="1",
        since=SINCE,
    )

    assert evidence.realized_days == 0
    assert math.isnan(evidence.challenger_wape) and math.isnan(evidence.improvement)
    assert evidence.summary()["wape"] is None
    assert "no realized shadow day yet" in evidence.describe()


def test_the_evidence_window_starts_after_the_champion_took_office() -> None:
    assert evidence_window(SINCE + timedelta(days=5), SINCE) == 5
    assert evidence_window(SINCE + timedelta(days=90), SINCE) == SHADOW_WINDOW_DAYS == 28
    assert evidence_window(SINCE, None) == 28
