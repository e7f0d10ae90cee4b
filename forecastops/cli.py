"""`forecastops`: the one command-line entry point (simulate a retailer, query the lake,
operate the model registry: promote, rollback, history, status, forecasts, reproduce).

Every bad flag or setting stops with a message that names it and says what to do; nothing is
written before the input has been checked.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer

from forecastops.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from forecastops.operations import AliasPlan, OperationRefused
    from forecastops.registry import ModelRegistry
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


# -- operating the registry -----------------------------------------------------------------
# The logic is in forecastops.operations (its docstring states the rules); these commands parse
# flags, confirm and print. Exit codes: 0 done (or nothing to do); 1 refused by a rule,
# cancelled or failed; 2 bad usage (a flag's value is wrong). Nothing changes unless 0.

_FLAGS = {"version": "--version", "reason": "--reason", "date": "--date", "force": "--force"}


def _refuse(error: OperationRefused) -> NoReturn:
    """Exit for a refused operation: 2 naming the flag for bad usage, else 1."""
    if error.usage:
        raise typer.BadParameter(str(error), param_hint=_FLAGS.get(error.field or "")) from None
    typer.echo(f"Refused: {error}", err=True)
    raise typer.Exit(1) from None


@contextmanager
def _operation_errors() -> Iterator[None]:
    """Turn the core's refusals and registry failures into messages and exit codes."""
    from forecastops.operations import OperationRefused
    from forecastops.registry import RegistryError

    try:
        yield
    except OperationRefused as error:
        _refuse(error)
    except RegistryError as error:
        typer.echo(f"Registry error: {error}", err=True)
        raise typer.Exit(1) from None


def _actor() -> str:
    """Who runs the command: the OS user (`getpass.getuser`); `unknown` when there is none."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _registry(settings: Settings) -> ModelRegistry:
    """The settings' registry. A SQLite store that does not exist stops with exit 1, so a
    mistyped FORECASTOPS_HOME does not create an empty registry."""
    from forecastops.registry import ModelRegistry

    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        typer.echo(
            f"No MLflow registry at {uri} yet: run the retrain cycle first (`make demo`, or "
            "retrain_job in the UI), or point MLFLOW_TRACKING_URI / FORECASTOPS_HOME at it.",
            err=True,
        )
        raise typer.Exit(1)
    return ModelRegistry(uri, settings.model_name, settings.experiment_name)


def _move(
    registry: ModelRegistry, make_plan: Callable[[], AliasPlan], yes: bool, reason: str
) -> None:
    """Plan, show, confirm (unless `yes`) and apply an alias move, then report it. Call inside
    `_operation_errors()`."""
    from forecastops.operations import apply_plan

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
    move = apply_plan(registry, plan, actor=_actor(), reason=reason)
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


@app.command()
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
    from forecastops.operations import check_reason, plan_promotion

    with _operation_errors():
        why = check_reason(reason, "manual promotion (forecastops promote)")
        registry = _registry(_settings())
        _move(registry, lambda: plan_promotion(registry, str(version), force=force), yes, why)


@app.command()
def rollback(
    yes: Annotated[bool, typer.Option("--yes", help=_YES_HELP)] = False,
    reason: Annotated[str | None, typer.Option("--reason", help=_REASON_HELP)] = None,
) -> None:
    """Move the champion back to the previous champion of the recorded alias history.

    Asks first unless --yes; refused (exit 1) when the history has no previous champion.
    """
    from forecastops.operations import check_reason, plan_rollback

    with _operation_errors():
        why = check_reason(reason, "manual rollback (forecastops rollback)")
        registry = _registry(_settings())
        _move(registry, lambda: plan_rollback(registry), yes, why)


@app.command()
def history() -> None:
    """Every alias move, oldest first: time (UTC), alias, from -> to, actor, reason."""
    from forecastops.operations import history_frame

    registry = _registry(_settings())
    with _operation_errors():
        moves = history_frame(registry)
    if moves.empty:
        typer.echo(f"No alias moves recorded for model {registry.model_name!r} yet.")
        return
    typer.echo(moves.to_markdown(index=False))


@app.command()
def status() -> None:
    """The champion (realized 7-day WAPE/MAE and trend) and the challenger (backtest, gate
    verdict) as JSON; numbers that are not known yet are null."""
    from forecastops.lake import Lake
    from forecastops.operations import registry_status

    settings = _settings()
    registry = _registry(settings)
    with _operation_errors():
        report = registry_status(registry, Lake(settings.lake_path))
    typer.echo(json.dumps(report, indent=2))


@app.command()
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
) -> None:
    """Export the stored forecasts of one cutoff: date, store_id, product_id, p10, p50, p90,
    model_version and the lineage columns."""
    from forecastops.lake import Lake
    from forecastops.operations import stored_forecasts

    cutoff = _parse_day(day, "--date")
    if out is None and file_format is FileFormat.parquet:
        raise typer.BadParameter(
            "Parquet is binary and is not written to stdout; give --out PATH.", param_hint="--out"
        )
    if out is not None and out.is_dir():
        raise typer.BadParameter(
            f"{out} is a folder; give a file path such as {out / f'forecasts_{cutoff}.csv'}.",
            param_hint="--out",
        )
    with _operation_errors():
        table = stored_forecasts(Lake(_settings().lake_path), cutoff)
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


@app.command()
def reproduce(
    version: Annotated[int, typer.Option("--version", min=1, help=_VERSION_HELP)],
) -> None:
    """Refit version N from its recorded training snapshot and settings and compare.

    Exit 0 when the snapshot matches its recorded hash and the refit's train_wape is within
    1e-6 of the recorded one; 1 otherwise (the table says which check failed).
    """
    from forecastops.operations import REPRODUCE_TOLERANCE, reproduce_version

    registry = _registry(_settings())
    with (
        tempfile.TemporaryDirectory(prefix="forecastops-reproduce-") as folder,
        _quiet_downloads(),
        _operation_errors(),
    ):
        result = reproduce_version(registry, str(version), Path(folder))
    typer.echo(f"# Reproducing version {result.version}\n")
    typer.echo(result.to_frame().to_markdown(index=False) + "\n")
    if not result.reproduced:
        typer.echo(
            f"NOT reproduced: see the rows with match = no (tolerance {REPRODUCE_TOLERANCE:.0e}).",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Reproduced: train_wape within {REPRODUCE_TOLERANCE:.0e} of the recorded value.")
