"""Shadow scoring: the challenger stream's realized accuracy beside the champion's, same rows.

Every day the `forecasts` step also forecasts, from the same origin, with the challenger (the
version holding the `challenger` alias, when it is not the champion); those shadow forecasts
are stored, never served (decision 0022). When actuals arrive they are scored by the one
realized-accuracy definition (`forecastops.domain.performance.score_forecasts` and
`realized_metrics`, no twin), on exactly the rows the champion is scored on: a (day, series)
counts only when both the champion's served forecast and the shadow forecast in force on it
were issued from the same origin (`training_cutoff`).

The daily retrain registers a fresh refit every day, so evidence per version would never reach
`min_shadow_days`. What is judged is the *stream* of a configuration (objective, training
window, feature set: the `CONFIGURATION_TAGS`): each day is scored with whichever refit of the
stream held the challenger alias on that day's origin, over the days since the last champion
change, at most `SHADOW_WINDOW_DAYS`. WAPE and bias are unitless shares, MAE in units sold per
series-day.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

import pandas as pd

from forecastops.domain.performance import RECENT_WINDOW_DAYS, ROW_KEY, realized_metrics

SHADOW_WINDOW_DAYS = 28
"""The newest realized days the shadow comparison reads (four weeks, the default health
window): a stream that got better lately is not held back by months of ties."""
ORIGIN = "training_cutoff"
"""The forecast rows' origin column: both sides of a compared row were issued on that day."""


@dataclass(frozen=True)
class ShadowEvidence:
    """The stream's realized accuracy against the champion's on the same (day, series) rows.

    `stream`: the configuration judged (`key=value` of the configuration tags); `challenger`:
    its newest version (the `challenger` alias); `versions`: the refits whose forecasts were
    scored; `since`: the day the champion took office (None: not recorded, every stored day of
    it counts). `realized_days`: distinct days scored on both sides over the evidence window
    ending at `as_of`; `*_wape`, `*_mae` over those rows; `wape_7d`, `mae_7d`: the challenger's
    over the last `RECENT_WINDOW_DAYS` of them; `*_store_wape`: store_id -> WAPE on both sides.
    """

    stream: str
    challenger: str
    versions: tuple[str, ...]
    champion: str
    since: date | None
    as_of: date
    realized_days: int
    challenger_wape: float
    champion_wape: float
    challenger_mae: float
    champion_mae: float
    wape_7d: float
    mae_7d: float
    challenger_store_wape: Mapping[str, float] = field(default_factory=dict)
    champion_store_wape: Mapping[str, float] = field(default_factory=dict)

    @property
    def improvement(self) -> float:
        """`(champion - challenger) / champion` realized WAPE (0.08 = 8 % better); NaN when
        not computable (no shared rows, or a champion WAPE of 0)."""
        champion, challenger = self.champion_wape, self.challenger_wape
        if math.isnan(champion) or math.isnan(challenger) or champion == 0:
            return math.nan
        return (champion - challenger) / champion

    def describe(self) -> str:
        """One sentence with the numbers, for verdicts and the UI."""
        since = f"since {self.since}" if self.since else "over the champion's stored days"
        if self.realized_days == 0:
            return f"stream {self.stream} has no realized shadow day yet ({since})"
        return (
            f"stream {self.stream} (v{', v'.join(self.versions)}) realized WAPE "
            f"{self.challenger_wape:.3f} vs champion v{self.champion} {self.champion_wape:.3f} "
            f"on the same rows over {self.realized_days} day(s) {since} up to {self.as_of}"
        )

    def summary(self) -> dict[str, object]:
        """The record stored per day (`shadow_performance`) and printed by `forecastops status`;
        NaN numbers become None."""
        return {
            "stream": self.stream,
            "challenger_version": self.challenger,
            "versions": ",".join(self.versions),
            "champion_version": self.champion,
            "since": self.since.isoformat() if self.since else None,
            "realized_days": self.realized_days,
            "wape": _number(self.challenger_wape),
            "champion_wape": _number(self.champion_wape),
            "mae": _number(self.challenger_mae),
            "champion_mae": _number(self.champion_mae),
            "wape_7d": _number(self.wape_7d),
            "mae_7d": _number(self.mae_7d),
            "improvement": _number(self.improvement),
        }


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def shared_rows(
    champion_scored: pd.DataFrame, shadow_scored: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two `score_forecasts` outputs restricted to the rows both hold: same day, series
    and origin (`training_cutoff`), in the same order."""
    keys = [*ROW_KEY, ORIGIN]
    both = champion_scored[keys].merge(shadow_scored[keys], on=keys, how="inner")
    return (
        champion_scored.merge(both, on=keys, how="inner").sort_values(keys, ignore_index=True),
        shadow_scored.merge(both, on=keys, how="inner").sort_values(keys, ignore_index=True),
    )


def _level(realized: pd.DataFrame, window: int, level: str) -> pd.DataFrame:
    return realized[(realized["window_days"] == window) & (realized["level"] == level)]


def _store_wape(realized: pd.DataFrame, window: int) -> dict[str, float]:
    stores = _level(realized, window, "store")
    return dict(zip(stores["store_id"].astype(str), stores["wape"].astype(float), strict=True))


def evidence_window(as_of: date, since: date | None) -> int:
    """Days of the evidence window ending at `as_of`: the days after `since` (the champion's
    first day in office; its own day's forecast was issued by the previous champion), at most
    `SHADOW_WINDOW_DAYS`."""
    if since is None:
        return SHADOW_WINDOW_DAYS
    return max(1, min(SHADOW_WINDOW_DAYS, (as_of - since).days))


def compare_shadow(
    champion_scored: pd.DataFrame,
    shadow_scored: pd.DataFrame,
    as_of: date,
    *,
    stream: str,
    challenger: str,
    champion: str,
    since: date | None,
) -> ShadowEvidence:
    """The `ShadowEvidence` of the stream's scored shadow rows (`shadow_scored`, from
    `score_forecasts`, with `model_version` and `training_cutoff`) against the champion's
    scored rows, on their shared rows over `evidence_window(as_of, since)` days ending at
    `as_of`, by `realized_metrics`. Pure."""
    window = evidence_window(as_of, since)
    first = pd.Timestamp(as_of - timedelta(days=window - 1))
    champion_rows, shadow_rows = shared_rows(
        champion_scored[pd.to_datetime(champion_scored["date"]) >= first],
        shadow_scored[pd.to_datetime(shadow_scored["date"]) >= first],
    )
    windows = sorted({window, RECENT_WINDOW_DAYS})
    mine = realized_metrics(shadow_rows, as_of, windows)
    theirs = realized_metrics(champion_rows, as_of, windows)
    overall, recent = _level(mine, window, "overall"), _level(mine, RECENT_WINDOW_DAYS, "overall")
    champion_overall = _level(theirs, window, "overall")
    versions = sorted(
        {str(version) for version in shadow_rows.get("model_version", [])}, key=_version_order
    )
    return ShadowEvidence(
        stream=stream,
        challenger=challenger,
        versions=tuple(versions),
        champion=champion,
        since=since,
        as_of=as_of,
        realized_days=int(overall["days"].iloc[0]),
        challenger_wape=float(overall["wape"].iloc[0]),
        champion_wape=float(champion_overall["wape"].iloc[0]),
        challenger_mae=float(overall["mae"].iloc[0]),
        champion_mae=float(champion_overall["mae"].iloc[0]),
        wape_7d=float(recent["wape"].iloc[0]),
        mae_7d=float(recent["mae"].iloc[0]),
        challenger_store_wape=MappingProxyType(_store_wape(mine, window)),
        champion_store_wape=MappingProxyType(_store_wape(theirs, window)),
    )


def _version_order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)
