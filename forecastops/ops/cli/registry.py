"""Operating the model registry: promote, rollback, history, status, forecasts, reproduce."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from forecastops.pipeline.operations import AliasPlan
    from forecastops.stores.registry import ModelRegistry
from forecastops.ops.cli.output import (
    DEFAULT_TABLE_ROWS,
    FormatOption,
    LimitOption,
    OutputFormat,
    print_frame,
    print_record,
    working,
)
from forecastops.ops.cli.shared import (
    FileFormat,
    alert_errors,
    app,
    current_actor,
    existing_alert_store,
    operation_errors,
    parse_day,
    registry_or_exit,
    settings_or_exit,
)

PANEL = "Model registry"

# The logic is in forecastops.pipeline.operations (its docstring states the rules); these
# commands parse flags, confirm and print. Exit codes: 0 done (or nothing to do); 1 refused by a
# rule, cancelled or failed; 2 bad usage (a flag's value is wrong). Nothing changes unless 0.


def _move(
    registry: ModelRegistry, make_plan: Callable[[], AliasPlan], yes: bool, reason: str
) -> None:
    """Plan, show, confirm (unless `yes`) and apply an alias move, then report it. Call inside
    `operation_errors()`."""
    from forecastops.pipeline.operations import apply_plan

    plan = make_plan()
    typer.echo(plan.summary)
    if plan.changes_nothing:
        typer.echo(f"Version {plan.to_version} is already {plan.alias}; nothing changed.")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise typer.BadParameter(
                "there is no terminal to confirm on (stdin is not a TTY); pass --yes to "
                "confirm without a prompt. Nothing changed.",
                param_hint="--yes",
            )
        if not typer.confirm("Proceed?", default=False):
            typer.echo("Cancelled; nothing changed.", err=True)
            raise typer.Exit(1)
    move = apply_plan(registry, plan, actor=current_actor(), reason=reason)
    if move is not None:
        typer.echo(
            f"{move.alias}: {move.from_version or 'none'} -> {move.to_version} "
            f"(recorded at {move.moved_at}, actor {move.actor}, reason: {move.reason})"
        )


@contextmanager
def _quiet_downloads() -> Iterator[None]:
    """No MLflow download progress bars on stderr for the block (the setting is restored)."""
    import os

    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    previous = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


_VERSION_HELP = "Model version number (see `forecastops history` / `forecastops status`)."
_YES_HELP = "Do not ask for confirmation (required when stdin is not a terminal)."
_REASON_HELP = "Why, in a sentence; recorded in the alias history."


@app.command(rich_help_panel=PANEL)
def promote(
    version: Annotated[int, typer.Option("--version", min=1, help=_VERSION_HELP)],
    yes: Annotated[bool, typer.Option("--yes", help=_YES_HELP)] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Promote even when the version has no backtest or the promotion gate did not "
            "pass it (the history records what was overridden).",
        ),
    ] = False,
    reason: Annotated[str | None, typer.Option("--reason", help=_REASON_HELP)] = None,
) -> None:
    """Make version N the champion. Asks first unless --yes.

    Refused (exit 1) unless the version's backtest ran and the promotion gate passed it (tags
    backtest_wape and promotion_decision=promoted); --force overrides that. An unknown version
    is a usage error (exit 2). The move is recorded with your OS user and the reason.
    """
    from forecastops.pipeline.operations import check_reason, plan_promotion

    with operation_errors():
        why = check_reason(reason, "manual promotion (forecastops promote)")
        registry = registry_or_exit(settings_or_exit())
        _move(registry, lambda: plan_promotion(registry, str(version), force=force), yes, why)


@app.command(rich_help_panel=PANEL)
def rollback(
    yes: Annotated[bool, typer.Option("--yes", help=_YES_HELP)] = False,
    reason: Annotated[str | None, typer.Option("--reason", help=_REASON_HELP)] = None,
) -> None:
    """Move the champion back to the previous champion of the recorded alias history.

    Asks first unless --yes; refused (exit 1) when the history has no previous champion.
    """
    from forecastops.pipeline.operations import check_reason, plan_rollback

    with operation_errors():
        why = check_reason(reason, "manual rollback (forecastops rollback)")
        registry = registry_or_exit(settings_or_exit())
        _move(registry, lambda: plan_rollback(registry), yes, why)


@app.command(rich_help_panel=PANEL)
def history(
    output: FormatOption = OutputFormat.table, limit: LimitOption = DEFAULT_TABLE_ROWS
) -> None:
    """Every alias move, newest first: time (UTC), alias, from -> to, actor, reason."""
    from forecastops.pipeline.operations import history_frame

    registry = registry_or_exit(settings_or_exit())
    with operation_errors(), working("Reading the alias history…"):
        moves = history_frame(registry)
    if moves.empty and output is OutputFormat.table:
        typer.echo(f"No alias moves recorded for model {registry.model_name!r} yet.")
        return
    print_frame(moves.iloc[::-1], output, limit)


@app.command(rich_help_panel=PANEL)
def status(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Day (YYYY-MM-DD) of the champion's health. Default: yesterday in "
            "FORECASTOPS_TIMEZONE, the newest day whose actuals are due.",
        ),
    ] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The champion (its health on the day: class, realized 7-day WAPE/MAE, trend; the same
    record model_health stores for that day), the challenger (backtest, gate verdict), the
    newest drift score (alarm, top drifted features) and the open alerts per severity.
    Numbers not known yet are null in JSON, — in the table."""
    from forecastops.ops.status import status_report
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.pipeline.operations import due_day
    from forecastops.stores.lake import Lake

    settings = settings_or_exit()
    day = parse_day(as_of, "--as-of") if as_of is not None else due_day(settings.timezone)
    registry = registry_or_exit(settings)
    with operation_errors(), alert_errors(), working("Scoring the champion…"):
        report = status_report(
            registry,
            Lake(settings.lake_path),
            existing_alert_store(settings),
            day,
            settings.performance_policy(),
            CyclePolicy.from_settings(settings),
        )
    print_record(report, output)


@app.command(rich_help_panel=PANEL)
def forecasts(
    day: Annotated[
        str, typer.Option("--date", help="Training cutoff (YYYY-MM-DD) of the forecasts.")
    ],
    file_format: Annotated[
        FileFormat, typer.Option("--format", help="csv (default) or parquet.")
    ] = FileFormat.csv,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write. Default: stdout (csv only)."),
    ] = None,
    trace: Annotated[
        bool,
        typer.Option(
            "--trace",
            help="Add objective, window_days, config_hash and feature_hash (the hash of the "
            "feature values each row was computed from); empty for forecasts stored before "
            "they were recorded.",
        ),
    ] = False,
) -> None:
    """Export the stored forecasts of one cutoff: date, store_id, product_id, p10, p50, p90,
    model_version and the lineage columns (with --trace, the configuration and feature hash
    of every row)."""
    from forecastops.pipeline.operations import stored_forecasts, trace_note
    from forecastops.stores.lake import Lake

    cutoff = parse_day(day, "--date")
    if out is None and file_format is FileFormat.parquet:
        raise typer.BadParameter(
            "Parquet is binary and is not written to stdout; give --out PATH.", param_hint="--out"
        )
    if out is not None and out.is_dir():
        raise typer.BadParameter(
            f"{out} is a folder; give a file path such as {out / f'forecasts_{cutoff}.csv'}.",
            param_hint="--out",
        )
    with operation_errors():
        table = stored_forecasts(Lake(settings_or_exit().lake_path), cutoff, trace=trace)
    note = trace_note(table) if trace else None
    if note:
        typer.echo(note, err=True)
    if out is None:
        typer.echo(table.to_csv(index=False, date_format="%Y-%m-%d"), nl=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if file_format is FileFormat.csv:
            table.to_csv(out, index=False, date_format="%Y-%m-%d")
        else:
            table.to_parquet(out, index=False)
    except OSError as error:
        typer.echo(f"Cannot write --out {out}: {error.strerror or error}.", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Wrote {len(table)} forecast rows of cutoff {cutoff} to {out}", err=True)


@app.command(rich_help_panel=PANEL)
def reproduce(
    version: Annotated[int, typer.Option("--version", min=1, help=_VERSION_HELP)],
) -> None:
    """Refit version N from its recorded training snapshot and settings and compare.

    Exit 0 when the snapshot matches its recorded hash and the refit's train_wape is within
    1e-6 of the recorded one; 1 otherwise (the table says which check failed).
    """
    from forecastops.pipeline.operations import REPRODUCE_TOLERANCE, reproduce_version

    registry = registry_or_exit(settings_or_exit())
    with (
        tempfile.TemporaryDirectory(prefix="forecastops-reproduce-") as folder,
        _quiet_downloads(),
        operation_errors(),
        working(f"Refitting version {version}…"),
    ):
        result = reproduce_version(registry, str(version), Path(folder))
    # Markdown, not a rounded table: the hashes and metrics are compared to the last digit.
    typer.echo(f"# Reproducing version {result.version}\n")
    typer.echo(result.to_frame().to_markdown(index=False) + "\n")
    if not result.reproduced:
        typer.echo(
            f"NOT reproduced: see the rows with match = no (tolerance {REPRODUCE_TOLERANCE:.0e}).",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Reproduced: train_wape within {REPRODUCE_TOLERANCE:.0e} of the recorded value.")
