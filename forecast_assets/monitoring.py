"""Monitoring assets: the daily drift score (data drift of the recent window against the
champion's training window) and the champion's health (performance drift)."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. Evidently and pandas load inside the body.
from datetime import date

import dagster as dg

from forecast_assets.alerting import record_alerts, run_links
from forecast_assets.ingest import raw_sales
from forecast_assets.metadata import frame_table, mlflow_links, png_markdown, rounded
from forecast_assets.model import forecasts
from forecast_assets.partitions import daily_partitions, trailing_window
from forecastops.stores.registry_tags import (
    CHAMPION,
    TRAINING_CUTOFF_TAG,
    WINDOW_DAYS_TAG,
)
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.policies import MonitoringPolicy, RetrainPolicy
from resources.storage import LakeStorage, ReportsFolder

DRIFT_CHECK = "no_data_drift"
DRIFT_ARTIFACT = "drift"
"""Run folder of the champion's MLflow run that holds each day's Evidently report."""
HEALTH_ARTIFACT = "health"
"""Run folder of the champion's MLflow run that holds each day's realized-accuracy plot."""
DRIFT_LOOKBACK_PARTITIONS = 28


@dg.asset(
    partitions_def=daily_partitions,
    deps=[trailing_window(raw_sales, DRIFT_LOOKBACK_PARTITIONS)],
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
    monitoring: MonitoringPolicy,
    mlflow_registry: MlflowRegistry,
    reports: ReportsFolder,
    alert_store: AlertStoreResource,
) -> dg.MaterializeResult:
    """Data drift of the last 28 days against the champion's training window (Evidently:
    normed Wasserstein for numeric features, PSI for categorical ones), null-rate drift per
    column and a target-shift proxy on units sold; per-feature scores are stored in the lake.
    An alarm raises a data_drift alert recommending a retrain of the day."""
    from forecastops.pipeline.alerts import data_drift_alert, mlflow_version_link
    from forecastops.pipeline.monitoring import reference_for, score_drift, window_missing_days

    day = date.fromisoformat(context.partition_key)
    policy = retrain.policy
    registry = mlflow_registry.registry
    champion = registry.alias_version(CHAMPION)
    tags = registry.version_tags(champion) if champion else {}
    reference = reference_for(
        day,
        policy,
        (champion, date.fromisoformat(tags[TRAINING_CUTOFF_TAG]), int(tags[WINDOW_DAYS_TAG]))
        if champion
        else None,
    )
    html = reports.path_for(f"drift_{day.isoformat()}.html")
    result = score_drift(storage.lake, day, policy, reference, monitoring.drift, html)
    links = run_links(context, alert_store, "drift_score")
    mlflow: dict[str, dg.MetadataValue] = {}
    report_url = None
    if champion:  # the report belongs with the model it measures drift against
        links.append(mlflow_version_link(champion, registry.version_url(champion)))
        report_url = registry.log_to_version_run(
            champion, metrics={}, artifacts={DRIFT_ARTIFACT: html}
        )[DRIFT_ARTIFACT]
        mlflow = mlflow_links(registry.version_pages(champion))
    alert = record_alerts(
        context,
        alert_store,
        [data_drift_alert(day, result, reference.source, html, links, report_url)],
    )
    return dg.MaterializeResult(
        metadata={
            "overall_score": rounded(result.overall_score),
            "drift_share": rounded(result.drift_share),
            "target_shift": rounded(result.target_shift),
            "alarm": result.alarm,
            "reference": reference.source,
            "missing_days_skipped": window_missing_days(storage.lake, day, reference),
            "most_drifted": dg.MetadataValue.md(result.to_markdown()),
            "null_rates": frame_table(result.null_rates),
            "evidently_report": dg.MetadataValue.url(report_url)
            if report_url
            else dg.MetadataValue.path(str(html)),
            "evidently_report_file": dg.MetadataValue.path(str(html)),
            **mlflow,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=DRIFT_CHECK,
                passed=not result.alarm,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "overall_score": rounded(result.overall_score),
                    "drifted_features": ", ".join(result.drifted_features) or "none",
                    **alert,
                },
            )
        ],
    )


HEALTH_CHECK = "champion_not_drifting"


@dg.asset(
    partitions_def=daily_partitions,
    deps=[drift_score, forecasts],
    group_name="monitoring",
    kinds={"pandas", "mlflow"},
    check_specs=[
        dg.AssetCheckSpec(
            HEALTH_CHECK,
            asset="model_health",
            description="Warns when the champion's realized accuracy drifts from its backtest.",
        )
    ],
)
def model_health(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    monitoring: MonitoringPolicy,
    mlflow_registry: MlflowRegistry,
    alert_store: AlertStoreResource,
    reports: ReportsFolder,
) -> dg.MaterializeResult:
    """The champion's health on the day, by the one realized-accuracy definition
    (`forecastops.domain.performance`): its stored forecasts scored against the delivered
    actuals, WAPE/MAE, MAPE, stockout-miss and overstock rates over the last 7 days and its
    trend, the 28-day MAE against its backtest classified per series and for the model
    (healthy / degrading / drifting, or awaiting_actuals / insufficient_data / no_baseline),
    stored in the lake (the record
    `forecastops status` prints for the same day); with a plot of its realized accuracy over
    the days scored so far, the registry status, the day's drift score and the open alerts.
    The challenger stream's shadow forecasts are scored on the same rows as the champion's and
    stored (`shadow_performance`, decision 0022)."""
    import json

    from forecastops.domain.performance import DRIFTING, OPERATIONAL_METRICS, status_since
    from forecastops.pipeline.alerts import performance_drift_alert
    from forecastops.pipeline.incident_report import open_alert_counts
    from forecastops.pipeline.monitoring import (
        DRIFT_TABLE,
        performance_history,
        plot_performance_trend,
        score_performance,
        score_shadow,
    )
    from forecastops.pipeline.operations import registry_status

    day = date.fromisoformat(context.partition_key)
    registry, lake = mlflow_registry.registry, storage.lake
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        raise dg.Failure("No champion in the registry yet; run retrain_job first.")
    health = score_performance(
        lake, day, champion, registry.version_tags(champion), monitoring.performance
    )
    summary = health.summary()
    shadow = score_shadow(lake, registry, day, champion)
    drift = (
        lake.read_partition(DRIFT_TABLE, day).iloc[0].to_dict()
        if lake.has_partition(DRIFT_TABLE, day)
        else None
    )
    status = registry_status(registry, lake, day, monitoring.performance, health)
    alert = record_alerts(
        context,
        alert_store,
        [
            performance_drift_alert(
                day, champion, health.performance, run_links(context, alert_store, "model_health")
            )
        ],
    )
    history = performance_history(lake, champion)
    since = (
        status_since(history.set_index("partition_date")["model_status"], day)
        if not history.empty
        else None
    )
    verdict = health.verdict(champion, since)
    trend_plot, plot_page = "_No scored days yet._", {}
    if not history.empty:
        plot = plot_performance_trend(history, reports.path_for(f"model_health_{day}.png"))
        trend_plot = png_markdown(plot, f"champion v{champion} realized accuracy")
        logged = registry.log_to_version_run(
            champion, metrics={}, artifacts={HEALTH_ARTIFACT: plot}
        )
        plot_page = {"trend_plot_in_mlflow": dg.MetadataValue.url(logged[HEALTH_ARTIFACT])}
    alerts = open_alert_counts(alert_store.store)
    return dg.MaterializeResult(
        metadata={
            "verdict": verdict,
            "champion_version": champion,
            "model_status": health.status,
            "overall_degradation": summary["overall_degradation"],
            "wape_7d": summary["wape_7d"],
            "mae_7d": summary["mae_7d"],
            "days_scored_7d": summary["days_scored_7d"],
            **{
                f"{name}_7d": dg.MetadataValue.float(
                    float("nan") if summary[f"{name}_7d"] is None else summary[f"{name}_7d"]
                )
                for name in OPERATIONAL_METRICS
            },
            "unknown_metrics_7d": summary["unknown_7d"] or "none",
            "last_scored_day": summary["last_scored_day"] or "none",
            "performance": dg.MetadataValue.md(health.to_markdown()),
            "registry_status": dg.MetadataValue.json(json.loads(json.dumps(status, default=str))),
            "drift_score": drift["overall_score"] if drift else None,
            "drift_alarm": bool(drift["alarm"]) if drift else None,
            "trend": health.trend or "not enough scored days",
            "challenger_shadow": shadow.describe() if shadow else "no challenger in shadow",
            "challenger_shadow_scores": dg.MetadataValue.json(shadow.summary() if shadow else {}),
            "trend_plot": dg.MetadataValue.md(trend_plot),
            **plot_page,
            **mlflow_links(registry.version_pages(champion)),
            "open_alerts": alerts["total"],
            "open_alerts_by_severity": dg.MetadataValue.json(alerts),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=HEALTH_CHECK,
                passed=health.status != DRIFTING,
                severity=dg.AssetCheckSeverity.WARN,
                description=verdict,
                metadata={"model_status": health.status, **alert},
            )
        ],
    )
