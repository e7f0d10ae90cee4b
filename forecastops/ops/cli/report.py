"""`forecastops report`: the incident report from a shell."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass
from forecastops.ops.cli.shared import (
    alert_errors,
    app,
    existing_alert_store,
    existing_registry,
    operation_errors,
    settings_or_exit,
)

PANEL = "Model registry"


class ReportFormat(StrEnum):
    md = "md"
    csv = "csv"


@app.command(rich_help_panel=PANEL)
def report(
    file_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help="md: Markdown to read; csv: long format section,row,field,value to parse.",
        ),
    ] = ReportFormat.md,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (replaced atomically). Default: stdout."),
    ] = None,
) -> None:
    """Write the incident report now: health, drift, alerts, runs, promotions.

    The same report the incident_report asset writes under $FORECASTOPS_HOME/reports/. The runs
    come from the Dagster instance at DAGSTER_HOME; when it cannot be read the report is still
    written, saying why its run list is empty (and a warning goes to stderr).
    """
    from forecastops.ops.run_history import RunHistoryError, read_run_history
    from forecastops.pipeline.incident_report import build_incident_report, write_atomically
    from forecastops.pipeline.operations import due_day
    from forecastops.stores.lake import Lake

    if out is not None and out.is_dir():
        example = out / f"incident_report.{file_format}"
        raise typer.BadParameter(
            f"{out} is a folder; give a file path such as {example}.", param_hint="--out"
        )
    settings = settings_or_exit()
    try:
        runs, runs_source = read_run_history(settings)
    except RunHistoryError as error:
        typer.echo(f"Warning: the report lists no runs: {error}", err=True)
        runs, runs_source = [], f"unavailable: {str(error).splitlines()[0]}"
    with operation_errors(), alert_errors():
        incident = build_incident_report(
            generated_at=datetime.now(UTC),
            as_of=due_day(settings.timezone),
            lake=Lake(settings.lake_path),
            registry=existing_registry(settings),
            alert_store=existing_alert_store(settings),
            runs=runs,
            runs_source=runs_source,
            health_policy=settings.performance_policy(),
        )
    text = incident.to_markdown() if file_format is ReportFormat.md else incident.to_csv()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        write_atomically(out, text)
    except OSError as error:
        typer.echo(
            f"Cannot write --out {out}: {error.strerror or error}. Nothing was written; choose "
            "a path in a folder you can write to.",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(f"Wrote the incident report ({file_format}) to {out}", err=True)
