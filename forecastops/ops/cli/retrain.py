"""`forecastops retrain`: queue retrains of chosen days as a Dagster backfill."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from forecastops.ops.retrain_queue import MAX_PARTITIONS
from forecastops.stores.settings import Settings, SettingsError

if TYPE_CHECKING:
    from forecastops.ops.retrain_queue import RetrainRefused
from forecastops.ops.cli.shared import (
    app,
    settings_or_exit,
)

PANEL = "Retrains and alerts"

# Retrain requests are checked by forecastops.ops.retrain_queue and queued with the real
# `dagster job backfill`. Exit codes: 0 done; 1 refused (a day that cannot be retrained) or
# failed; 2 bad usage (a flag that is wrong). Nothing is queued unless 0.


def _refuse_retrain(error: RetrainRefused) -> NoReturn:
    """Exit for a refused retrain request: 2 naming the flag for bad usage, else 1."""
    if error.usage:
        hint = f"--{error.field}" if error.field else None
        raise typer.BadParameter(f"{error} Nothing was queued.", param_hint=hint) from None
    typer.echo(f"Refused: {error} Nothing was queued.", err=True)
    raise typer.Exit(1) from None


@contextmanager
def retrain_errors() -> Iterator[None]:
    """A refused, misconfigured or failed retrain request as a message and an exit code: 2
    naming the flag for bad usage or a bad setting, else 1. Nothing was queued."""
    from forecastops.ops.retrain_queue import RetrainLaunchError, RetrainRefused

    try:
        yield
    except RetrainRefused as error:
        _refuse_retrain(error)
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise typer.Exit(2) from None
    except RetrainLaunchError as error:
        typer.echo(f"Could not queue the retrain: {error}", err=True)
        raise typer.Exit(1) from None


def _days_text(days: tuple[date, ...]) -> str:
    if len(days) <= 7:
        return ", ".join(day.isoformat() for day in days)
    return f"{days[0].isoformat()}..{days[-1].isoformat()} ({len(days)} days)"


def queue_retrain_or_exit(
    days: tuple[date, ...], settings: Settings, tags: Mapping[str, str] | None = None
) -> None:
    """Queue one retrain_job run per day (tagged with `tags`) and say where to follow it.
    Raises the core's `RetrainRefused`, `RetrainLaunchError` and `SettingsError` for the caller
    to report."""
    from forecastops.ops.retrain_queue import RETRAIN_JOB, queue_retrain

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
        "The Dagster daemon starts them (`forecastops up` or `make ui` runs one, as does "
        f"`dagster-daemon run -w $FORECASTOPS_HOME/workspace.yaml`){limit}. Follow it in the UI "
        f"at {queued.ui_path}."
    )


@app.command(
    rich_help_panel=PANEL,
    help=f"""Queue one retrain_job run per cutoff day for the daemon (a backfill).

    The same backfill as the UI's backfill dialog, made with the real `dagster job backfill`.
    Give --from and --to (a range, both included) or --partitions. Each day must be a partition:
    from FORECASTOPS_START_DATE to yesterday in FORECASTOPS_TIMEZONE; at most {MAX_PARTITIONS}
    days per request. The runs wait in the run queue of the instance at DAGSTER_HOME until the
    daemon starts them (`forecastops up` or `make ui` runs one). How many
    run at once is set by dagster.yaml in DAGSTER_HOME: its tag_concurrency_limits entry for
    dagster/backfill (limit 1) lets one backfill run at a time, so the daily schedule is not
    starved. Prints the backfill id.
    """,
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
    from forecastops.ops.retrain_queue import plan_partitions, plan_range

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
    settings = settings_or_exit()
    with retrain_errors():
        if partitions is not None:
            days = plan_partitions(partitions, settings)
        else:
            assert first is not None and last is not None
            days = plan_range(first, last, settings)
        queue_retrain_or_exit(days, settings)
