"""`forecastops`: the one command-line entry point (simulate a retailer, query the lake).

Every bad flag or setting stops with a message that names it and says what to do; nothing is
written before the input has been checked.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from forecastops.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from forecastops.simulator import CorruptionKind

app = typer.Typer(
    help="ForecastOps: demand-forecasting MLOps on Dagster and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise typer.Exit(2) from None


def _parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD.", param_hint=flag
        ) from None


def _parse_corruption(value: str) -> tuple[date, CorruptionKind]:
    from forecastops.simulator import CORRUPTION_KINDS

    day_text, _, kind = value.partition(":")
    if kind not in CORRUPTION_KINDS:
        raise typer.BadParameter(
            f"{value!r} is not DAY:KIND; KIND is one of {', '.join(CORRUPTION_KINDS)} "
            "(e.g. 2025-03-01:negative_units).",
            param_hint="--corrupt",
        )
    return _parse_day(day_text, "--corrupt"), cast("CorruptionKind", kind)


@app.command()
def simulate(
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, inclusive (YYYY-MM-DD).")] = None,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Instead of --start/--end: this many days ending yesterday."),
    ] = None,
    stores: Annotated[int, typer.Option(min=1, help="Number of stores.")] = 5,
    products: Annotated[int, typer.Option(min=1, help="Number of products per store.")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    landing: Annotated[
        Path | None,
        typer.Option(help="Landing folder. Default: $FORECASTOPS_LANDING_DIR."),
    ] = None,
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="Landing file format.")
    ] = FileFormat.csv,
    drift_from: Annotated[
        str | None, typer.Option(help="Inject demand drift from this day (YYYY-MM-DD).")
    ] = None,
    drift_factor: Annotated[
        float, typer.Option(min=0.01, help="Demand multiplier of the drift.")
    ] = 1.6,
    corrupt: Annotated[
        list[str] | None,
        typer.Option(help="Corrupt a day, DAY:KIND (repeatable), e.g. 2025-03-01:duplicates."),
    ] = None,
) -> None:
    """Write a realistic retailer's daily sales history as landing files (one per day).

    Weekly and yearly seasonality, trend, price changes, promotions, holidays, intermittent
    products, launches and discontinuations. Deterministic for a seed.
    """
    from forecastops.simulator import DriftScenario, SimulationSpec, write_landing_files

    settings = _settings()
    if days is not None and (start or end):
        raise typer.BadParameter(
            "give either --days or --start/--end, not both.", param_hint="--days"
        )
    if days is not None:
        last = date.today() - timedelta(days=1)
        first = max(last - timedelta(days=days - 1), settings.start_date)
    elif start and end:
        first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
    else:
        raise typer.BadParameter("give --start and --end, or --days.", param_hint="--start/--end")
    drift = (
        DriftScenario(_parse_day(drift_from, "--drift-from"), drift_factor) if drift_from else None
    )
    try:
        spec = SimulationSpec(
            start=first,
            end=last,
            stores=stores,
            products=products,
            seed=seed,
            drift=drift,
            corrupt_days=dict(_parse_corruption(value) for value in corrupt or []),
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    folder = landing or settings.landing_path
    paths = write_landing_files(spec, folder, file_format.value)
    typer.echo(
        f"Wrote {len(paths)} daily files ({first.isoformat()}..{last.isoformat()}, "
        f"{stores} stores x {products} products) to {folder}"
    )


@app.command()
def quality(
    day: Annotated[str, typer.Option("--date", help="Partition day (YYYY-MM-DD).")],
) -> None:
    """Print the stored data-quality report of one day."""
    from forecastops.ingest import QUALITY_TABLE, load_quality_report
    from forecastops.lake import Lake

    settings = _settings()
    lake = Lake(settings.lake_path)
    partition = _parse_day(day, "--date")
    if not lake.has_partition(QUALITY_TABLE, partition):
        typer.echo(
            f"No quality report for {partition.isoformat()} in {lake.table_path(QUALITY_TABLE)}. "
            "Materialize sales_quality_report for that partition first "
            f"(dg launch --assets raw_sales,sales_quality_report --partition {partition}).",
            err=True,
        )
        raise typer.Exit(1)
    report = load_quality_report(lake, partition)
    typer.echo(f"# Data quality report {partition.isoformat()}\n")
    for part, frame in report.items():
        typer.echo(f"## {part}\n")
        typer.echo((frame.to_markdown(index=False) if not frame.empty else "(none)") + "\n")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A DuckDB SQL query over the lake's tables.")],
) -> None:
    """Query the lake with SQL (DuckDB); each table is a view, e.g. `raw_sales`."""
    import duckdb

    from forecastops.lake import Lake

    connection = Lake(_settings().lake_path).connect()
    try:
        result = connection.sql(query)
    except duckdb.Error as error:
        typer.echo(f"Query failed: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(result.df().to_markdown(index=False) if result is not None else "OK")
