"""`forecastops`: the one command-line entry point (simulate a retailer, query the lake,
operate the model registry: promote, rollback, history, status, forecasts, reproduce; write
the incident report; queue retrains; list, read and act on alerts).

Every bad flag or setting stops with a message that names it and says what to do; nothing is
written before the input has been checked.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer

from forecastops.alert_kinds import SEVERITIES_WORST_FIRST, AlertType, Severity
from forecastops.retrain import MAX_PARTITIONS
from forecastops.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from forecastops.alerts import Alert, AlertStore
    from forecastops.operations import AliasPlan, OperationRefused
    from forecastops.registry import ModelRegistry
    from forecastops.retrain import RetrainRefused
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


def _existing_registry(settings: Settings) -> ModelRegistry | None:
    """The settings' registry; None when it is a SQLite store that does not exist, which is
    not created, so a mistyped FORECASTOPS_HOME does not create an empty registry."""
    from forecastops.registry import ModelRegistry

    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    return ModelRegistry(
        uri,
        settings.model_name,
        settings.experiment_name,
        artifact_location=settings.mlflow_artifact_uri,
    )


def _registry(settings: Settings) -> ModelRegistry:
    """The settings' registry; a SQLite store that does not exist stops with exit 1."""
    registry = _existing_registry(settings)
    if registry is None:
        typer.echo(
            f"No MLflow registry at {settings.mlflow_uri} yet: run the retrain cycle first "
            "(`make demo`, or retrain_job in the UI), or point MLFLOW_TRACKING_URI / "
            "FORECASTOPS_HOME at it.",
            err=True,
        )
        raise typer.Exit(1)
    return registry


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
    """The champion (realized 7-day WAPE/MAE and trend), the challenger (backtest, gate
    verdict), the newest drift score (alarm, top drifted features) and the open alerts per
    severity, as JSON; numbers that are not known yet are null."""
    from forecastops.lake import Lake
    from forecastops.monitoring import latest_drift
    from forecastops.operations import registry_status
    from forecastops.reports import open_alert_counts

    settings = _settings()
    registry = _registry(settings)
    lake = Lake(settings.lake_path)
    with _operation_errors():
        report = registry_status(registry, lake)
    with _alert_errors():
        alerts = open_alert_counts(_alert_store(settings))
    report |= {"drift": latest_drift(lake), "open_alerts": alerts}
    typer.echo(json.dumps(report, indent=2))


class ReportFormat(StrEnum):
    md = "md"
    csv = "csv"


@app.command()
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
    from forecastops.lake import Lake
    from forecastops.reports import (
        RunHistoryError,
        build_incident_report,
        read_run_history,
        write_atomically,
    )

    if out is not None and out.is_dir():
        example = out / f"incident_report.{file_format}"
        raise typer.BadParameter(
            f"{out} is a folder; give a file path such as {example}.", param_hint="--out"
        )
    settings = _settings()
    try:
        runs, runs_source = read_run_history(settings)
    except RunHistoryError as error:
        typer.echo(f"Warning: the report lists no runs: {error}", err=True)
        runs, runs_source = [], f"unavailable: {str(error).splitlines()[0]}"
    with _operation_errors(), _alert_errors():
        incident = build_incident_report(
            generated_at=datetime.now(UTC),
            lake=Lake(settings.lake_path),
            registry=_existing_registry(settings),
            alert_store=_alert_store(settings),
            runs=runs,
            runs_source=runs_source,
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


# -- retrains and alerts --------------------------------------------------------------------
# Retrain requests are checked by forecastops.retrain and queued with the real `dagster job
# backfill`; the alert lifecycle is forecastops.alerts (its docstring states the moves). Exit
# codes as above: 0 done; 1 refused (an illegal move, a day that cannot be retrained) or failed;
# 2 bad usage (a flag or an ID that is wrong). Nothing changes unless 0.


def _refuse_retrain(error: RetrainRefused) -> NoReturn:
    """Exit for a refused retrain request: 2 naming the flag for bad usage, else 1."""
    if error.usage:
        hint = f"--{error.field}" if error.field else None
        raise typer.BadParameter(f"{error} Nothing was queued.", param_hint=hint) from None
    typer.echo(f"Refused: {error} Nothing was queued.", err=True)
    raise typer.Exit(1) from None


def _days_text(days: tuple[date, ...]) -> str:
    if len(days) <= 7:
        return ", ".join(day.isoformat() for day in days)
    return f"{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} days)"


def _queue_retrain(
    days: tuple[date, ...], settings: Settings, tags: Mapping[str, str] | None = None
) -> None:
    """Queue one retrain_job run per day (tagged with `tags`) and say where to follow it.
    Raises the core's `RetrainRefused`, `RetrainLaunchError` and `SettingsError` for the caller
    to report."""
    from forecastops.retrain import RETRAIN_JOB, queue_retrain

    typer.echo(
        f"Queuing {len(days)} {RETRAIN_JOB} run(s) with `dagster job backfill` (it loads the "
        "code location first; this takes a few seconds)...",
        err=True,
    )
    queued = queue_retrain(days, settings, tags)
    if queued.warning:
        typer.echo(f"Warning: {queued.warning}", err=True)
    limit = "" if queued.warning else ", one backfill run at a time (dagster.yaml's limit)"
    typer.echo(
        f"Queued backfill {queued.backfill_id}: {len(days)} {RETRAIN_JOB} run(s) for "
        f"{_days_text(days)} in DAGSTER_HOME={queued.dagster_home}.\n"
        "The Dagster daemon starts them (`make ui` runs one, or `dagster-daemon run -w "
        f"workspace.yaml`){limit}. Follow it in the UI at {queued.ui_path}."
    )


@app.command(
    help=f"""Queue one retrain_job run per cutoff day for the daemon (a backfill).

    The same backfill as the UI's backfill dialog, made with the real `dagster job backfill`.
    Give --from and --to (a range, both included) or --partitions. Each day must be a partition:
    from FORECASTOPS_START_DATE to yesterday in FORECASTOPS_TIMEZONE; at most {MAX_PARTITIONS}
    days per request. The runs wait in the run queue of the instance at DAGSTER_HOME until the
    daemon starts them (`make ui` runs one, or `dagster-daemon run -w workspace.yaml`). How many
    run at once is set by dagster.yaml in DAGSTER_HOME: its tag_concurrency_limits entry for
    dagster/backfill (limit 1) lets one backfill run at a time, so the daily schedule is not
    starved. Prints the backfill id.
    """
)
def retrain(
    first: Annotated[
        str | None, typer.Option("--from", help="First cutoff day (YYYY-MM-DD).")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last cutoff day, included (YYYY-MM-DD).")
    ] = None,
    partitions: Annotated[
        str | None,
        typer.Option(
            "--partitions", help="Instead of --from/--to: cutoff days, e.g. 2025-03-01,2025-03-08."
        ),
    ] = None,
) -> None:
    from forecastops.retrain import (
        RetrainLaunchError,
        RetrainRefused,
        plan_partitions,
        plan_range,
    )

    if partitions is not None and (first is not None or last is not None):
        raise typer.BadParameter(
            "give either --partitions or --from/--to, not both. Nothing was queued.",
            param_hint="--partitions",
        )
    if partitions is None and (first is None or last is None):
        missing = "--to" if first is not None else "--from"
        raise typer.BadParameter(
            "give --from and --to (a range of cutoff days), or --partitions. Nothing was queued.",
            param_hint=missing,
        )
    settings = _settings()
    try:
        if partitions is not None:
            days = plan_partitions(partitions, settings)
        else:
            assert first is not None and last is not None
            days = plan_range(first, last, settings)
        _queue_retrain(days, settings)
    except RetrainRefused as error:
        _refuse_retrain(error)
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise typer.Exit(2) from None
    except RetrainLaunchError as error:
        typer.echo(f"Could not queue the retrain: {error}", err=True)
        raise typer.Exit(1) from None


alerts_app = typer.Typer(
    help="The alerts the pipeline raised (run failures, drift, contract breaks, promotions): "
    "list them, read one, act on it or dismiss it.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")


class AlertStatusChoice(StrEnum):
    """`--status` of `alerts list`: a status of forecastops.alerts.AlertStatus, open or all."""

    unread = "unread"
    read = "read"
    actioned = "actioned"
    dismissed = "dismissed"
    open = "open"
    all = "all"


ALERT_TITLE_CHARS_LISTED = 80
_ID_HINT = "'ID'"


@contextmanager
def _alert_errors() -> Iterator[None]:
    """Turn the store's errors into messages and exit codes: an unknown ID or a bad value is
    usage (2), an illegal move or an unreachable store is 1."""
    from forecastops.alerts import (
        AlertNotFoundError,
        AlertStoreConfigError,
        AlertStoreUnavailableError,
        AlertTransitionError,
        InvalidAlertError,
    )

    try:
        yield
    except AlertStoreConfigError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise typer.Exit(2) from None
    except AlertNotFoundError as error:
        raise typer.BadParameter(
            f"{error} List them with `forecastops alerts list --status all`.",
            param_hint=_ID_HINT,
        ) from None
    except InvalidAlertError as error:
        raise typer.BadParameter(str(error)) from None
    except AlertTransitionError as error:
        typer.echo(f"Refused: {error} Nothing changed.", err=True)
        raise typer.Exit(1) from None
    except AlertStoreUnavailableError as error:
        typer.echo(f"Alert store error: {error}", err=True)
        raise typer.Exit(1) from None


def _alert_store(settings: Settings) -> AlertStore | None:
    """The settings' alert store with its schema; None when it is a SQLite file that does not
    exist yet (no alert was ever raised), which is not created, so a mistyped FORECASTOPS_HOME
    leaves nothing behind. A store behind the head revision is an `AlertSchemaError` (an
    `AlertStoreUnavailableError`) saying to run `forecastops doctor --fix`: a command that only
    reads or moves alerts does not migrate. Call inside `_alert_errors()`."""
    from forecastops.alerts import AlertStore

    store = AlertStore(settings.alerts_url)
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None
    store.create_schema()
    return store


def _get_alert(store: AlertStore | None, alert_id: int, settings: Settings) -> Alert:
    """The alert with this id; an unknown one is a usage error naming ID. Call inside
    `_alert_errors()`."""
    from forecastops.alerts import AlertNotFoundError

    if store is None:
        raise AlertNotFoundError(alert_id, settings.alerts_url)
    return store.get(alert_id)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _print_alert(alert: Alert) -> None:
    """An alert in full: its fields, links, recommendation, notes and message."""
    by = f", by {alert.actor}" if alert.actor else ""
    rows = [
        ("severity", alert.severity.value),
        ("type", alert.type.value),
        ("status", f"{alert.status.value} (since {_when(alert.status_changed_at)}{by})"),
        ("created", _when(alert.created_at)),
        ("subject", alert.subject or "-"),
    ]
    rows += [("link", f"{link.label}: {link.url}") for link in alert.links]
    if alert.recommendation is not None:
        recommended = json.dumps(dict(alert.recommendation))
        if alert.is_open:
            recommended += f" (approve: forecastops alerts action {alert.id} --approve)"
        rows.append(("recommends", recommended))
    if alert.notes:
        rows.append(("notes", alert.notes))
    width = max(len(label) for label, _ in rows)
    typer.echo(f"Alert {alert.id}: {alert.title}")
    for label, value in rows:
        typer.echo(f"  {label.ljust(width)}  {value}")
    if alert.message:
        typer.echo(f"\n{alert.message}")


_ALERT_ID_ARGUMENT = typer.Argument(
    metavar="ID", help="Alert id (see `forecastops alerts list`).", show_default=False
)


@alerts_app.command("list")
def list_alerts(
    status: Annotated[
        AlertStatusChoice,
        typer.Option(
            "--status",
            help="open = unread or read (still wanting attention); all = every status.",
        ),
    ] = AlertStatusChoice.open,
    severity: Annotated[
        Severity | None, typer.Option("--severity", help="Only this severity.")
    ] = None,
    alert_type: Annotated[AlertType | None, typer.Option("--type", help="Only this type.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many, newest first.")
    ] = 100,
) -> None:
    """List alerts, newest first (the open ones unless --status says otherwise).

    Columns: id, severity, type, title, subject, created_at (UTC), status; then the open
    alerts per severity.
    """
    from tabulate import tabulate

    from forecastops.alerts import OPEN_STATUSES, AlertStatus

    settings = _settings()
    statuses: tuple[AlertStatus, ...] | None = (
        None
        if status is AlertStatusChoice.all
        else OPEN_STATUSES
        if status is AlertStatusChoice.open
        else (AlertStatus(status.value),)
    )
    with _alert_errors():
        store = _alert_store(settings)
        if store is None:
            typer.echo(
                f"No alerts: none has been raised yet (no alert store at {settings.alerts_url})."
            )
            return
        alerts = store.list(
            status=statuses,
            severity=severity.value if severity else None,
            type=alert_type.value if alert_type else None,
            limit=limit,
        )
        counts = store.open_counts()
    filters = [f"status {status.value}"]
    filters += [f"severity {severity.value}"] if severity else []
    filters += [f"type {alert_type.value}"] if alert_type else []
    if alerts:
        rows = [
            [
                alert.id,
                alert.severity.value,
                alert.type.value,
                _table_cell(_cut(alert.title, ALERT_TITLE_CHARS_LISTED)),
                _table_cell(alert.subject or ""),
                _when(alert.created_at),
                alert.status.value,
            ]
            for alert in alerts
        ]
        headers = ["id", "severity", "type", "title", "subject", "created_at", "status"]
        typer.echo(tabulate(rows, headers=headers, tablefmt="pipe"))
        more = (
            f"; the newest {limit} are shown, raise --limit for more"
            if len(alerts) == limit
            else ""
        )
        typer.echo(f"\n{len(alerts)} alert(s) with {', '.join(filters)}{more}.")
    else:
        typer.echo(f"No alerts with {', '.join(filters)}.")
    open_text = ", ".join(f"{counts[s]} {s.value}" for s in SEVERITIES_WORST_FIRST)
    typer.echo(f"Open: {open_text}. Read one with `forecastops alerts read ID`.")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table_cell(text: str) -> str:
    """Text safe inside a markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


@alerts_app.command("show")
def show_alert(alert_id: Annotated[int, _ALERT_ID_ARGUMENT]) -> None:
    """Print an alert in full without changing its status."""
    settings = _settings()
    with _alert_errors():
        alert = _get_alert(_alert_store(settings), alert_id, settings)
    _print_alert(alert)


@alerts_app.command("read")
def read_alert(alert_id: Annotated[int, _ALERT_ID_ARGUMENT]) -> None:
    """Mark an unread alert read and print it in full.

    Recorded with your OS user. Refused (exit 1) unless the alert is unread; `forecastops
    alerts show ID` prints any alert.
    """
    settings = _settings()
    with _alert_errors():
        store = _alert_store(settings)
        _get_alert(store, alert_id, settings)
        assert store is not None  # _get_alert found the alert in it
        alert = store.mark_read(alert_id, _actor())
    _print_alert(alert)


@alerts_app.command("action")
def action_alert(
    alert_id: Annotated[int, _ALERT_ID_ARGUMENT],
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Done what it asks (actioned). An alert recommending a retrain queues that "
            "retrain, as `forecastops retrain --partitions D` does, its run tagged with the "
            "alert's id (forecastops/alert_ids) and, for a drift alert, its trigger.",
        ),
    ] = False,
    dismiss: Annotated[
        bool, typer.Option("--dismiss", help="Nothing to do (dismissed); --notes can say why.")
    ] = False,
    notes: Annotated[
        str | None, typer.Option("--notes", help="A sentence recorded with the alert.")
    ] = None,
) -> None:
    """Close an open alert: --approve (actioned) or --dismiss; both are final.

    Recorded with your OS user and the notes. Refused (exit 1), with nothing changed, when the
    alert is already actioned or dismissed, or when it recommends retraining a day that cannot
    be retrained. The alert is closed before its retrain is queued, so two operators approving
    at once queue it once; if queueing then fails, the message gives the `forecastops retrain`
    command to run. Once every drift alert of a day is approved, drift_retrain_sensor does not
    retrain that day again.
    """
    if approve == dismiss:
        raise typer.BadParameter(
            "give exactly one of --approve (done what it asks) or --dismiss (nothing to do). "
            "Nothing changed.",
            param_hint="--approve/--dismiss",
        )
    if notes is not None and not notes.strip():
        raise typer.BadParameter(
            "the notes are blank; say in a sentence what was done or why, or leave --notes out. "
            "Nothing changed.",
            param_hint="--notes",
        )
    from forecastops.retrain import RetrainLaunchError, RetrainRefused
    from forecastops.triggers import approval_tags

    settings = _settings()
    with _alert_errors():
        store = _alert_store(settings)
        alert = _get_alert(store, alert_id, settings)
        assert store is not None  # _get_alert found the alert in it
        days = _recommended_retrain(alert, settings) if approve and alert.is_open else None
        if approve:
            alert = store.action(alert_id, _actor(), notes.strip() if notes else None)
        else:
            alert = store.dismiss(alert_id, _actor(), notes.strip() if notes else None)
    typer.echo(f"Alert {alert.id} {alert.status.value} by {alert.actor}: {alert.title}")
    if days is None:
        if approve and alert.recommendation is not None:
            typer.echo(
                f"Its recommendation {json.dumps(dict(alert.recommendation))} has no automatic "
                "action; carry it out by hand."
            )
        return
    try:
        _queue_retrain(days, settings, approval_tags(alert))
    except (RetrainRefused, RetrainLaunchError, SettingsError) as error:
        typer.echo(
            f"Alert {alert.id} is actioned, but its retrain was not queued: {error}\n"
            f"Queue it with: forecastops retrain --partitions {','.join(map(str, days))}",
            err=True,
        )
        raise typer.Exit(1) from None


def _recommended_retrain(alert: Alert, settings: Settings) -> tuple[date, ...] | None:
    """The days an open alert's recommendation asks to retrain, checked now so that an approval
    which cannot be carried out changes nothing; None when it recommends no retrain."""
    from forecastops.retrain import RetrainRefused, instance_config_problem, plan_partitions

    recommendation = alert.recommendation or {}
    if recommendation.get("action") != "retrain":
        return None
    partition = recommendation.get("partition")
    try:
        if not isinstance(partition, str):
            raise RetrainRefused(f"it names no partition day ({json.dumps(dict(recommendation))}).")
        days = plan_partitions(partition, settings)
        instance_config_problem(settings)
    except RetrainRefused as error:
        typer.echo(
            f"Refused: alert {alert.id} recommends a retrain that cannot be queued: {error} "
            "Nothing changed. Dismiss it (--dismiss --notes ...), or queue a retrain of a valid "
            "day with `forecastops retrain` and then approve or dismiss it.",
            err=True,
        )
        raise typer.Exit(1) from None
    return days


# --- deployment: doctor, up, down -----------------------------------------------------------


def _diagnosed_settings() -> Settings:
    """The settings, reported as the doctor's first verdict; exit 1 when they do not load."""
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"FAIL  settings: {error}")
        raise typer.Exit(1) from None
    typer.echo(f"OK    settings: loaded (FORECASTOPS_INSTANCE={settings.instance})")
    return settings


def _run_doctor(settings: Settings, fix: bool) -> bool:
    """Print one verdict per item (after repairing what can be, with `fix`); True if healthy."""
    from forecastops.doctor import diagnose, repair

    verdicts = diagnose(settings)
    if fix and not all(verdict.healthy for verdict in verdicts):
        for line in repair(settings, verdicts):
            typer.echo(line)
        verdicts = diagnose(settings)
    for verdict in verdicts:
        typer.echo(verdict.line)
    return all(verdict.healthy for verdict in verdicts)


@app.command()
def doctor(
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Create missing folders, migrate the Dagster instance, upgrade the MLflow "
            "store and migrate the alert store (creating it if new), then check again.",
        ),
    ] = False,
) -> None:
    """Check every dependency (databases reachable and migrated, folders, code location); one
    verdict per item. Exits 0 only when everything is healthy."""
    healthy = _run_doctor(_diagnosed_settings(), fix)
    typer.echo("All healthy." if healthy else "Not healthy: see the FAIL lines above.")
    raise typer.Exit(0 if healthy else 1)


@app.command()
def up() -> None:
    """Start dagster-webserver, dagster-daemon and the MLflow UI in the background (logs and PID
    files in $FORECASTOPS_HOME/logs), after `doctor --fix` has migrated and checked everything."""
    from forecastops.services import ServiceError, refuse_to_start, start

    settings = _diagnosed_settings()
    try:
        refuse_to_start(settings)
    except ServiceError as error:
        typer.echo(f"Refused: {error}", err=True)
        raise typer.Exit(1) from None
    from forecastops.doctor import unreachable_databases

    unreachable = unreachable_databases(settings)
    for verdict in unreachable:
        typer.echo(verdict.line)
    if unreachable:
        typer.echo("Refused: PostgreSQL is unreachable (see above); nothing started.", err=True)
        raise typer.Exit(1)
    if not _run_doctor(settings, fix=True):
        typer.echo("Refused: not healthy (see the FAIL lines above); nothing started.", err=True)
        raise typer.Exit(1)
    try:
        start(settings, lambda service, pid: typer.echo(f"started {service.name} (pid {pid})"))
    except ServiceError as error:
        typer.echo(f"Failed: {error}\nEverything started was stopped again.", err=True)
        raise typer.Exit(1) from None
    host = settings.service_host
    typer.echo(
        f"Dagster UI: http://{host}:{settings.webserver_port}  "
        f"MLflow UI: http://{host}:{settings.mlflow_port}  logs: {settings.logs_path}"
    )


@app.command()
def down() -> None:
    """Stop what `forecastops up` started; with nothing running it does nothing."""
    from forecastops.services import stop

    stopped = stop(_settings())
    typer.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
