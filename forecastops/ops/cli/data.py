"""Data commands: simulate a retailer, one day's quality report, SQL over the lake."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

if TYPE_CHECKING:
    from forecastops.domain.simulator import CorruptionKind
from forecastops.ops.cli.output import (
    DEFAULT_TABLE_ROWS,
    FormatOption,
    LimitOption,
    OutputFormat,
    print_frame,
)
from forecastops.ops.cli.shared import (
    FileFormat,
    app,
    parse_day,
    settings_or_exit,
)

PANEL = "Data"


def _parse_corruption(value: str) -> tuple[date, CorruptionKind]:
    from forecastops.domain.simulator import CORRUPTION_KINDS

    day_text, _, kind = value.partition(":")
    if kind not in CORRUPTION_KINDS:
        raise typer.BadParameter(
            f"{value!r} is not DAY:KIND; KIND is one of {', '.join(CORRUPTION_KINDS)} "
            "(e.g. 2025-03-01:negative_units).",
            param_hint="--corrupt",
        )
    return parse_day(day_text, "--corrupt"), cast("CorruptionKind", kind)


@app.command(rich_help_panel=PANEL)
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
    from forecastops.domain.simulator import DriftScenario, SimulationSpec, write_landing_files

    settings = settings_or_exit()
    if days is not None and (start or end):
        raise typer.BadParameter(
            "give either --days or --start/--end, not both.", param_hint="--days"
        )
    if days is not None:
        last = date.today() - timedelta(days=1)
        first = max(last - timedelta(days=days - 1), settings.start_date)
    elif start and end:
        first, last = parse_day(start, "--start"), parse_day(end, "--end")
    else:
        raise typer.BadParameter("give --start and --end, or --days.", param_hint="--start/--end")
    drift = (
        DriftScenario(parse_day(drift_from, "--drift-from"), drift_factor) if drift_from else None
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


@app.command(rich_help_panel=PANEL)
def quality(
    day: Annotated[str, typer.Option("--date", help="Partition day (YYYY-MM-DD).")],
    output: FormatOption = OutputFormat.table,
    limit: LimitOption = DEFAULT_TABLE_ROWS,
) -> None:
    """Print the stored data-quality report of one day: summary, column profile, outliers,
    new and vanished series (csv: one table with a `part` column)."""
    from forecastops.pipeline.ingest import QUALITY_TABLE, load_quality_report
    from forecastops.stores.lake import Lake

    settings = settings_or_exit()
    lake = Lake(settings.lake_path)
    partition = parse_day(day, "--date")
    if not lake.has_partition(QUALITY_TABLE, partition):
        typer.echo(
            f"No quality report for {partition.isoformat()} in {lake.table_path(QUALITY_TABLE)}. "
            "Materialize sales_quality_report for that partition first "
            f"(dg launch --assets raw_sales,sales_quality_report --partition {partition}).",
            err=True,
        )
        raise typer.Exit(1)
    report = load_quality_report(lake, partition)
    if output is OutputFormat.json:
        parts = {
            part: json.loads(frame.to_json(orient="records")) for part, frame in report.items()
        }
        typer.echo(json.dumps({"day": partition.isoformat(), **parts}, indent=2))
        return
    if output is OutputFormat.csv:
        import pandas as pd

        long = pd.concat([frame.assign(part=part) for part, frame in report.items()])
        print_frame(long[["part", *long.columns.drop("part")]], output)
        return
    typer.echo(f"Data quality report {partition.isoformat()}")
    for part, frame in report.items():
        if frame.empty:
            typer.echo(f"\n{part}: none")
        else:
            print_frame(frame, output, limit, title=part)


READ_ONLY_NOTE = (
    "forecastops sql is read-only over the lake: it queries the lake's tables (one view each, "
    "e.g. raw_sales) and cannot read or write other files, attach databases, change DuckDB "
    "settings or install or load extensions. Write a result elsewhere by redirecting the "
    "output (forecastops sql '...' > result.md)."
)


@app.command(rich_help_panel=PANEL)
def sql(
    query: Annotated[str, typer.Argument(help="A DuckDB SQL query over the lake's tables.")],
    output: FormatOption = OutputFormat.table,
    limit: LimitOption = DEFAULT_TABLE_ROWS,
) -> None:
    """Query the lake with SQL (DuckDB, read-only); each table is a view, e.g. `raw_sales`."""
    import duckdb

    from forecastops.stores.lake import Lake

    connection = Lake(settings_or_exit().lake_path).connect()
    try:
        result = connection.sql(query)
        frame = result.df() if result is not None else None
    except duckdb.Error as error:
        refused = isinstance(error, duckdb.PermissionException) or "has been locked" in str(error)
        typer.echo(f"Query failed: {error}" + (f"\n{READ_ONLY_NOTE}" if refused else ""), err=True)
        raise typer.Exit(1) from None
    if frame is None:
        typer.echo("OK")
    else:
        print_frame(frame, output, limit)
