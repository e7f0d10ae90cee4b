"""The production path: a Dagster instance on PostgreSQL (dagster-postgres, DAGSTER_PG_URL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from forecast_jobs.instance import prepare_dagster_home
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.stores.settings import Settings
from tests.integration.postgres import fresh_database

pytestmark = pytest.mark.postgres


def test_a_range_run_is_stored_in_the_postgres_run_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forecast_assets.ingest import raw_sales, sales_quality_report
    from forecast_jobs.jobs import ingest_job
    from resources.alerts import AlertStoreResource
    from resources.storage import LakeStorage, LandingSalesSource

    write_landing_files(
        SimulationSpec(start=date(2025, 1, 1), end=date(2025, 1, 3), stores=1, products=3, seed=1),
        tmp_path / "landing",
    )
    with fresh_database("forecastops_dagster") as plain_url:
        url = plain_url.replace("postgresql://", "postgresql+psycopg2://")
        monkeypatch.setenv("DAGSTER_PG_URL", url)
        home = prepare_dagster_home(
            Settings(home=tmp_path, instance="postgres", dagster_pg_url=url)
        )
        job = dg.Definitions(
            assets=[raw_sales, sales_quality_report],
            jobs=[ingest_job],
            resources={
                "landing": LandingSalesSource(landing_dir=str(tmp_path / "landing")),
                "storage": LakeStorage(root=str(tmp_path / "lake")),
                "alert_store": AlertStoreResource(url=f"sqlite:///{tmp_path / 'alerts.db'}"),
            },
        ).resolve_job_def("ingest_job")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            result = execute_partition_range(job, date(2025, 1, 1), date(2025, 1, 3), instance)
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert not instance.nux_enabled  # deploy/dagster.postgres.yaml: no community dialog
        assert result.success
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            stored = connection.execute(
                sa.text("SELECT status FROM runs WHERE run_id = :run_id"),
                {"run_id": result.run_id},
            ).scalar_one()
        engine.dispose()
        assert stored == "SUCCESS"
