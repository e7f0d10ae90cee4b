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
    """Simulate `days` of landing files, ingest them in one run, then run the retrain cycle at
    the last day (features, challenger, backtest, promotion, forecasts)."""
    import dagster as dg

    from forecast_jobs.instance import prepare_dagster_home
    from forecast_jobs.launch import execute_partition_range
    from forecastops.cycle import FORECASTS_TABLE
    from forecastops.ingest import CONTRACT_TABLE
    from forecastops.lake import Lake
    from forecastops.registry import ModelRegistry
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
        retrain = (
            defs.resolve_job_def("retrain_job").execute_in_process(
                instance=instance, partition_key=last.isoformat(), raise_on_error=False
            )
            if result.success
            else None
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
    days, rows, rejected = contract
    typer.echo(
        f"\ningest_job run {result.run_id}: {_verdict(result.success)}\n"
        f"  partitions {first.isoformat()}..{last.isoformat()}: {days} days, {rows:,} rows, "
        f"{rejected} rejected by the contract\n"
        f"  lake: {settings.lake_path}"
    )
    if retrain is not None:
        champion = ModelRegistry(settings.mlflow_uri, settings.model_name).alias_version("champion")
        forecast_rows = (
            len(lake.read_partition(FORECASTS_TABLE, last))
            if lake.has_partition(FORECASTS_TABLE, last)
            else 0
        )
        typer.echo(
            f"retrain_job run {retrain.run_id} (cutoff {last.isoformat()}): "
            f"{_verdict(retrain.success)}\n"
            f"  champion: version {champion or 'none'} of {settings.model_name} "
            f"({settings.mlflow_uri})\n"
            f"  forecasts: {forecast_rows:,} rows (P10/P50/P90, next {settings.horizon_days} days)"
        )
    typer.echo(
        f"\nInspect: forecastops quality --date {last.isoformat()}\n"
        "Open the UI: make ui  (then http://127.0.0.1:3000)"
    )
    if not (result.success and retrain is not None and retrain.success):
        raise typer.Exit(1)


def _verdict(success: bool) -> str:
    return "SUCCESS" if success else "FAILURE"


def main() -> None:
    try:
        run_demo(load_settings())
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
