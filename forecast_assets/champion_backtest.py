"""The weekly champion backtest: the serving model's configuration re-scored on the newest data
(`forecastops.pipeline.champion_backtest`)."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. The core (pandas, LightGBM, MLflow) loads inside the body.
from datetime import date

import dagster as dg

from forecast_assets.ingest import raw_sales
from forecast_assets.metadata import mlflow_links, overall_table_markdown, png_markdown
from forecast_assets.model import TRAINING_LOOKBACK_PARTITIONS
from forecast_assets.partitions import daily_partitions, trailing_window
from forecastops.stores.registry_tags import champion_backtest_tag
from resources.mlflow_registry import MlflowRegistry
from resources.policies import RetrainPolicy
from resources.storage import LakeStorage


@dg.asset(
    partitions_def=daily_partitions,
    # It reads the raw sales before the partition day, not the day's model: lineage only.
    deps=[trailing_window(raw_sales, TRAINING_LOOKBACK_PARTITIONS)],
    group_name="model",
    kinds={"pandas", "mlflow"},
)
def champion_backtest(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    mlflow_registry: MlflowRegistry,
) -> dg.MaterializeResult:
    """The rolling-origin backtest of the champion's own configuration (its objective and
    training window) on the data up to the partition day, next to seasonal naive; the scores
    go onto the champion as `champion_backtest_*` tags. The challenger's `backtest_*` tags and
    the daily `backtest` table are never touched. Fails, naming the fix, when there is no
    champion."""
    from forecastops.domain.backtest import plot_backtest
    from forecastops.pipeline.champion_backtest import (
        CHAMPION_BACKTEST_TABLE,
        ChampionConfigurationError,
        NoChampionError,
        run_champion_backtest,
    )

    cutoff = date.fromisoformat(context.partition_key)
    registry = mlflow_registry.registry
    try:
        scored = run_champion_backtest(storage.lake, registry, cutoff, retrain.policy)
    except (NoChampionError, ChampionConfigurationError) as error:
        raise dg.Failure(description=str(error)) from error
    result = scored.result
    plot = plot_backtest(
        result, storage.lake.partition_path(CHAMPION_BACKTEST_TABLE, cutoff) / "backtest.png"
    )
    overall = result.metrics[result.metrics["level"] == "overall"]
    return dg.MaterializeResult(
        metadata={
            "champion_version": scored.version,
            **mlflow_links(registry.version_pages(scored.version)),
            "configuration": f"{scored.candidate}, {scored.window_days}-day window",
            "feature_set_version": (
                f"champion {scored.feature_set_version or 'untagged'}, scored with "
                f"{scored.scored_feature_set_version}"
            ),
            "overall": dg.MetadataValue.md(overall_table_markdown(overall)),
            "plot": dg.MetadataValue.md(png_markdown(plot, "champion backtest")),
            "fold_cutoffs": [c.isoformat() for c in result.cutoffs],
            "seasonal_naive_wape": dg.MetadataValue.float(scored.seasonal_naive_wape),
            **{
                champion_backtest_tag(name): dg.MetadataValue.float(value)
                for name, value in scored.scores.items()
            },
        }
    )
