"""`make demo`: simulate a retailer and run the pipeline end to end on the embedded instance.

Runs land in the same `DAGSTER_HOME` that `make ui` opens, so the demo's runs, materializations
and check results are there to inspect afterwards.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import typer

from forecastops.settings import Settings, SettingsError, load_settings

DEMO_DAYS = 365
DEMO_STORES = 5
DEMO_PRODUCTS = 20
DEMO_SEED = 7


def demo_range(settings: Settings, days: int, today: date | None = None) -> tuple[date, date]:
    """The `days` days ending yesterday, never before the first partition."""
    last = (today or date.today()) - timedelta(days=1)
    first = max(last - timedelta(days=days - 1), settings.start_date)
    if first > last:
        raise SettingsError(
            f"FORECASTOPS_START_DATE={settings.start_date.isoformat()} is in the future; "
            "the demo needs at least one past day. Set it to a past date."
        )
    return first, last


def run_demo(settings: Settings, days: int = DEMO_DAYS) -> None:
    """Simulate `days` of landing files, then materialize ingest for the whole range in one run."""
    import dagster as dg

    from forecast_jobs.instance import prepare_dagster_home
    from forecast_jobs.launch import execute_partition_range
    from forecastops.ingest import CONTRACT_TABLE
    from forecastops.lake import Lake
    from forecastops.simulator import SimulationSpec, write_landing_files

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    first, last = demo_range(settings, days)
    spec = SimulationSpec(
        start=first, end=last, stores=DEMO_STORES, products=DEMO_PRODUCTS, seed=DEMO_SEED
    )
    files = write_landing_files(spec, settings.landing_path)
    typer.echo(f"Simulated {len(files)} days of sales into {settings.landing_path}")

    from forecast_jobs.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = execute_partition_range(
            defs.resolve_job_def("ingest_job"), first, last, instance, raise_on_error=False
        )
    lake = Lake(settings.lake_path)
    contract = (
        lake.connect()
        .sql(
            "SELECT count(*) AS days, sum(row_count) AS rows, "
            f"count(*) FILTER (NOT passed) AS rejected FROM {CONTRACT_TABLE}"
        )
        .fetchall()[0]
    )
    typer.echo(
        f"\ningest_job run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'}\n"
        f"  partitions {first.isoformat()}..{last.isoformat()}\n"
        f"  lake {settings.lake_path}: {contract}\n"
        f"\nInspect: forecastops quality --date {last.isoformat()}\n"
        "Open the UI: make ui  (then http://127.0.0.1:3000)"
    )
    if not result.success:
        raise typer.Exit(1)


def main() -> None:
    try:
        run_demo(load_settings())
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
