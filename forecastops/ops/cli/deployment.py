"""Deployment commands: doctor, up, down, serve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from forecastops.stores.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    pass
from forecastops.ops.cli.shared import (
    app,
    settings_or_exit,
)

PANEL = "Deployment"

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
    from forecastops.ops.doctor import diagnose, repair

    verdicts = diagnose(settings)
    if fix and not all(verdict.healthy for verdict in verdicts):
        for line in repair(settings, verdicts):
            typer.echo(line)
        verdicts = diagnose(settings)
    for verdict in verdicts:
        typer.echo(verdict.line)
    return all(verdict.healthy for verdict in verdicts)


@app.command(rich_help_panel=PANEL)
def doctor(
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help="Create missing folders, migrate the Dagster instance, upgrade the MLflow "
            "store and migrate the alert store (creating it if new), clear the debris of dead "
            "runs (mark them FAILED, archive orphan versions, take challenger off an "
            "unbacktested version), then check again.",
        ),
    ] = False,
) -> None:
    """Check every dependency (databases reachable and migrated, folders, code location) and
    the debris dead runs leave (stuck runs, MLflow runs left RUNNING, challenger alias, orphan
    versions); one verdict per item. Exits 0 only when everything is healthy."""
    healthy = _run_doctor(_diagnosed_settings(), fix)
    typer.echo("All healthy." if healthy else "Not healthy: see the FAIL lines above.")
    raise typer.Exit(0 if healthy else 1)


@app.command(rich_help_panel=PANEL)
def up() -> None:
    """Start dagster-webserver, dagster-daemon and the MLflow UI in the background (logs and PID
    files in $FORECASTOPS_HOME/logs), after `doctor --fix` has migrated and checked everything."""
    from forecastops.ops.services import ServiceError, refuse_to_start, start

    settings = _diagnosed_settings()
    try:
        refuse_to_start(settings)
    except ServiceError as error:
        typer.echo(f"Refused: {error}", err=True)
        raise typer.Exit(1) from None
    from forecastops.ops.doctor import unreachable_databases

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


@app.command(rich_help_panel=PANEL)
def down() -> None:
    """Stop what `forecastops up` started; with nothing running it does nothing."""
    from forecastops.ops.services import stop

    stopped = stop(settings_or_exit())
    typer.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@app.command(rich_help_panel=PANEL)
def serve(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="The service: dagster-webserver, dagster-daemon or mlflow."
        ),
    ],
) -> None:
    """Run one service in the foreground, as `up` starts it: what a service manager runs (the
    systemd units in deploy/systemd/). The settings are checked first."""
    from forecastops.ops.services import ServiceError, exec_service

    settings = settings_or_exit()
    try:
        exec_service(settings, name)
    except ServiceError as error:
        raise typer.BadParameter(str(error), param_hint="NAME") from None
