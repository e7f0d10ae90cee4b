"""The champion backtest: the serving model's own configuration re-scored on the newest data.

The daily `backtest` scores the candidate families on the production settings to judge a new
challenger. This step answers a different question once a week: how well does the champion's
configuration (its `objective` and `window_days` tags) forecast the latest 90 days? It runs the
same rolling-origin backtest (`forecastops.pipeline.cycle.backtest_at`) for the champion's
LightGBM family and seasonal naive as the floor, stores the result in the lake table
`champion_backtest` (never in `backtest`, whose residual quantiles the forecasts use) and
writes the scores on the champion version as `champion_backtest_*` tags. The `backtest_*` tags
(the score a version was promoted on) are left as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from forecastops.pipeline.cycle import (
    CyclePolicy,
    backtest_at,
    candidate_factories,
    overall_scores,
)
from forecastops.stores.registry_tags import (
    CHAMPION,
    FEATURE_SET_VERSION_TAG,
    OBJECTIVE_TAG,
    WINDOW_DAYS_TAG,
    champion_backtest_tag,
    champion_backtest_tags,
)

if TYPE_CHECKING:
    from forecastops.domain.backtest import BacktestResult
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import ModelRegistry

CHAMPION_BACKTEST_TABLE = "champion_backtest"


class NoChampionError(LookupError):
    """The registry has no champion to backtest."""


class ChampionConfigurationError(ValueError):
    """The champion version's tags do not say which configuration it is."""


@dataclass(frozen=True)
class ChampionBacktest:
    """One champion backtest: which version, at which cutoff, in which configuration, and
    its overall scores (`BACKTEST_METRICS`, WAPE as a fraction) next to seasonal naive's."""

    version: str
    cutoff: date
    candidate: str
    """The champion's family, `lightgbm_<objective>`."""
    window_days: int
    scores: dict[str, float]
    seasonal_naive_wape: float
    feature_set_version: str | None
    """The champion's `feature_set_version` tag; the backtest builds today's features."""
    scored_feature_set_version: str
    result: BacktestResult

    @property
    def tags(self) -> dict[str, str]:
        """The `champion_backtest_*` tags written on the champion."""
        return champion_backtest_tags(self.scores, self.cutoff)


def champion_policy(version: str, tags: Mapping[str, str], policy: CyclePolicy) -> CyclePolicy:
    """`policy` with the champion's own objective and training window (its `objective` and
    `window_days` tags); the backtest layout (days, horizon, folds, workers) stays the policy's.
    Raises `ChampionConfigurationError` naming the version and the tag when one is missing or
    not a value the pipeline writes."""
    from forecastops.domain.forecasters import OBJECTIVES

    fix = "promote a version that retrain_job trained (`forecastops promote --version N`)"
    missing = [tag for tag in (OBJECTIVE_TAG, WINDOW_DAYS_TAG) if tag not in tags]
    if missing:
        raise ChampionConfigurationError(
            f"Champion version {version} has no {' / '.join(missing)} tag, so its "
            f"configuration is unknown; {fix}."
        )
    objective, window = tags[OBJECTIVE_TAG], tags[WINDOW_DAYS_TAG]
    if objective not in OBJECTIVES:
        raise ChampionConfigurationError(
            f"Champion version {version} has {OBJECTIVE_TAG}={objective!r}, not one of "
            f"{', '.join(OBJECTIVES)}; {fix}."
        )
    if not window.isdigit() or int(window) < 1:
        raise ChampionConfigurationError(
            f"Champion version {version} has {WINDOW_DAYS_TAG}={window!r}, not a whole number "
            f"of days >= 1; {fix}."
        )
    return replace(policy, objective=objective, training_window_days=int(window))


def run_champion_backtest(
    lake: Lake, registry: ModelRegistry, cutoff: date, policy: CyclePolicy
) -> ChampionBacktest:
    """Backtest the current champion's configuration at `cutoff` (scoring on the lake's data up
    to that day), store it in the lake table `CHAMPION_BACKTEST_TABLE` (metrics, fold metrics,
    a one-row summary) and tag the champion with its scores (`champion_backtest_*`, also logged
    as metrics of the champion's MLflow run, so the weekly scores form a history there).

    Raises `NoChampionError` without a champion, `ChampionConfigurationError` when its tags do
    not name its configuration, `NotEnoughHistoryError` when the lake lacks the cutoff day or
    the history before it. Nothing is written when it raises before the lake write.
    """
    from forecastops.domain.features import feature_set_version
    from forecastops.domain.forecasters import SEASONAL_NAIVE

    version = registry.alias_version(CHAMPION)
    if version is None:
        raise NoChampionError(
            f"{registry.model_name} has no champion, so there is nothing to backtest: no "
            "challenger has passed the promotion gate yet. Run the daily cycle (or "
            "`forecastops promote --version N`) first."
        )
    tags = registry.version_tags(version)
    mine = champion_policy(version, tags, policy)
    family = mine.challenger_candidate
    result = backtest_at(lake, cutoff, mine, candidate_factories(mine, (SEASONAL_NAIVE, family)))
    scores = overall_scores(result.metrics, family)
    backtest = ChampionBacktest(
        version=version,
        cutoff=cutoff,
        candidate=family,
        window_days=mine.training_window_days,
        scores=scores,
        seasonal_naive_wape=overall_scores(result.metrics, SEASONAL_NAIVE)["wape"],
        feature_set_version=tags.get(FEATURE_SET_VERSION_TAG),
        scored_feature_set_version=feature_set_version(mine.feature_spec),
        result=result,
    )
    summary = pd.DataFrame(
        {
            "champion_version": [version],
            "candidate": [family],
            "window_days": [backtest.window_days],
            "feature_set_version": [backtest.feature_set_version],
            "scored_feature_set_version": [backtest.scored_feature_set_version],
            "seasonal_naive_wape": [backtest.seasonal_naive_wape],
            **{name: [value] for name, value in scores.items()},
        }
    )
    lake.write_partition(
        CHAMPION_BACKTEST_TABLE,
        cutoff,
        {"summary": summary, "metrics": result.metrics, "fold_metrics": result.fold_metrics},
    )
    # Tags last: they are what the CLI and the UI read, so they only ever name a stored result.
    registry.set_version_tags(version, backtest.tags)
    registry.log_to_version_run(
        version, metrics={champion_backtest_tag(name): value for name, value in scores.items()}
    )
    return backtest
