"""Monitoring assets: the daily drift score (data drift of the recent window against the
champion's training window)."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. Evidently and pandas load inside the body.
from datetime import date

import dagster as dg

from forecast_assets.ingest import raw_sales
from forecast_assets.metadata import markdown_table
from forecast_assets.partitions import daily_partitions
from resources.mlflow_registry import MlflowRegistry, RetrainPolicy
from resources.storage import LakeStorage, ReportsFolder

DRIFT_CHECK = "no_data_drift"
DRIFT_LOOKBACK_PARTITIONS = 28


@dg.asset(
    partitions_def=daily_partitions,
    deps=[
        dg.AssetDep(
            raw_sales,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-DRIFT_LOOKBACK_PARTITIONS, end_offset=0
            ),
        )
    ],
    group_name="monitoring",
    kinds={"evidently", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset="drift_score",
            description="Warns when the recent window drifted from the champion's training data.",
        )
    ],
)
def drift_score(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    mlflow_registry: MlflowRegistry,
    reports: ReportsFolder,
) -> dg.MaterializeResult:
    """Data drift of the last 28 days against the champion's training window (Evidently:
    normed Wasserstein for numeric features, PSI for categorical ones), null-rate drift per
    column and a target-shift proxy on units sold; per-feature scores are stored in the lake."""
    from forecastops.drift import DriftPolicy
    from forecastops.monitoring import reference_for, score_drift

    day = date.fromisoformat(context.partition_key)
    policy = retrain.policy
    registry = mlflow_registry.registry
    champion = registry.alias_version("champion")
    tags = registry.version_tags(champion) if champion else {}
    reference = reference_for(
        day,
        policy,
        (champion, date.fromisoformat(tags["training_cutoff"]), int(tags["window_days"]))
        if champion
        else None,
    )
    html = reports.path_for(f"drift_{day.isoformat()}.html")
    result = score_drift(storage.lake, day, policy, reference, DriftPolicy(), html)
    return dg.MaterializeResult(
        metadata={
            "overall_score": result.overall_score,
            "drift_share": result.drift_share,
            "target_shift": result.target_shift,
            "alarm": result.alarm,
            "reference": reference.source,
            "most_drifted": dg.MetadataValue.md(result.to_markdown()),
            "null_rates": dg.MetadataValue.md(markdown_table(result.null_rates)),
            "evidently_report": dg.MetadataValue.path(str(html)),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                passed=not result.alarm,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "overall_score": result.overall_score,
                    "drifted_features": ", ".join(result.drifted_features) or "none",
                },
            )
        ],
    )
