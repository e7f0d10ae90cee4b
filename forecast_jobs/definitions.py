"""The single code location: every asset, check, job, schedule, sensor and resource."""

from __future__ import annotations

import dagster as dg

from forecast_assets.ingest import raw_sales, sales_quality_report
from forecast_jobs.jobs import ingest_job
from forecast_jobs.schedules import daily_ingest_schedule
from forecastops.settings import load_settings
from resources.storage import LakeStorage, LandingSalesSource

_settings = load_settings()

defs = dg.Definitions(
    assets=[raw_sales, sales_quality_report],
    jobs=[ingest_job],
    schedules=[daily_ingest_schedule],
    resources={
        "landing": LandingSalesSource(landing_dir=str(_settings.landing_path)),
        "storage": LakeStorage(root=str(_settings.lake_path)),
    },
)
