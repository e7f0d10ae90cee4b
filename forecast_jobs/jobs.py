"""Asset jobs: named selections an operator launches, schedules run and backfills target."""

from __future__ import annotations

import warnings

import dagster as dg

from forecast_assets.alerts import open_alerts
from forecast_assets.champion_backtest import champion_backtest
from forecast_assets.experiments import experiments
from forecast_assets.ingest import raw_sales, sales_quality_report
from forecast_assets.model import (
    backtest,
    challenger_model,
    forecasts,
    promotion_decision,
    sales_features,
)
from forecast_assets.monitoring import drift_score, model_health
from forecast_assets.partitions import daily_partitions
from forecast_assets.reports import incident_report
from forecastops.domain.runs import (
    DAILY_CYCLE_JOB,
    HEALTH_REFRESH_JOB,
    INGEST_JOB,
    MONITORING_JOB,
    OPEN_ALERTS_JOB,
    RETRAIN_JOB,
    WEEKLY_BACKTEST_JOB,
)

# daily_cycle_job mixes the single-run ingest assets with one-day model assets; Dagster warns
# on every load that it runs the job one partition per run, which is what the daily schedule
# asks for (a range of days goes through ingest_job and retrain_job instead).
warnings.filterwarnings(
    "ignore", message="Asset job daily_cycle_job materializes assets with varying"
)

INGEST_ASSETS = (raw_sales, sales_quality_report)
RETRAIN_ASSETS = (sales_features, backtest, challenger_model, promotion_decision, forecasts)
MONITORING_ASSETS = (drift_score, model_health, incident_report)
"""The day's monitoring; `incident_report` is unpartitioned (a snapshot of now) and runs once
at the end of each daily cycle run (Dagster 1.13 allows both kinds in one asset job)."""

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.assets(*INGEST_ASSETS),
    partitions_def=daily_partitions,
    description="Ingest a day's landing file: raw_sales (contract checked) and its quality report.",
)

retrain_job = dg.define_asset_job(
    RETRAIN_JOB,
    selection=dg.AssetSelection.assets(*RETRAIN_ASSETS),
    partitions_def=daily_partitions,
    description="The retrain cycle for one cutoff day: features -> backtest (ranks the "
    "families) -> challenger (the best-ranked LightGBM) -> promotion gate -> champion forecasts.",
)

daily_cycle_job = dg.define_asset_job(
    DAILY_CYCLE_JOB,
    selection=dg.AssetSelection.assets(*INGEST_ASSETS, *RETRAIN_ASSETS, *MONITORING_ASSETS),
    partitions_def=daily_partitions,
    description="The whole day: ingest, the retrain cycle with its promotion gate, forecasts, "
    "the drift score, the champion's health and the incident report.",
)

monitoring_job = dg.define_asset_job(
    MONITORING_JOB,
    selection=dg.AssetSelection.assets(drift_score, model_health),
    partitions_def=daily_partitions,
    description="A day's monitoring alone: its drift score and the champion's health; what "
    "repair_sensor re-runs for the days whose windows held a re-delivered day.",
)

weekly_backtest_job = dg.define_asset_job(
    WEEKLY_BACKTEST_JOB,
    selection=dg.AssetSelection.assets(champion_backtest),
    partitions_def=daily_partitions,
    description="The champion's own configuration backtested on the data up to the day; its "
    "scores go onto the champion as champion_backtest_* tags (the challenger is not touched).",
)

health_refresh_job = dg.define_asset_job(
    HEALTH_REFRESH_JOB,
    selection=dg.AssetSelection.assets(model_health),
    partitions_def=daily_partitions,
    description="Re-score the serving champion's health on a day (champion_health_refresh "
    "requests it when the champion alias moves).",
)

open_alerts_job = dg.define_asset_job(
    OPEN_ALERTS_JOB,
    selection=dg.AssetSelection.assets(open_alerts, experiments),
    description="Refresh the open alerts and the experiments (open_alerts_refresh requests it "
    "when an alert is raised or closed or an experiment changes status).",
)
