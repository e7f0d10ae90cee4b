"""Small synthetic sales the model tests build on: a weekly profile, promotions, Poisson noise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-01-01")
WEEKLY_PROFILE = np.array([0.6, 0.7, 0.8, 1.0, 1.3, 1.8, 1.5])  # Monday .. Sunday
REGULAR_PRICE = 4.0
PROMO_PRICE = 3.2


def weekly_sales(
    days: int,
    series: Sequence[tuple[str, str]],
    *,
    seed: int,
    promo_share: float,
    base_level: float,
    level_step: float,
) -> pd.DataFrame:
    """Long daily sales: series i has level `base_level + level_step * i` times a weekly
    profile, doubled on promoted days (a `promo_share` of days, at a discounted price), with
    Poisson noise; sorted by date and series."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(START, periods=days, freq="D")
    frames = []
    for index, (store, product) in enumerate(series):
        promo = rng.random(days) < promo_share
        level = base_level + level_step * index
        mean = level * WEEKLY_PROFILE[dates.dayofweek] * np.where(promo, 2.0, 1.0)
        frames.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "store_id": store,
                    "product_id": product,
                    "units_sold": rng.poisson(mean).astype(np.int64),
                    "price": np.where(promo, PROMO_PRICE, REGULAR_PRICE),
                    "on_promotion": promo,
                }
            )
        )
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["date", "store_id", "product_id"])
        .reset_index(drop=True)
    )
