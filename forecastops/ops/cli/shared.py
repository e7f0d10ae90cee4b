"""What every command group shares: the `forecastops` app, settings and day parsing, who is acting,
and the registry and alert store a command opens (with their errors turned into exit codes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperOption

from forecastops.domain.secrets import mask_url
from forecastops.stores.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from forecastops.pipeline.operations import OperationRefused
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.registry import ModelRegistry

app = typer.Typer(
    help="ForecastOps: demand-forecasting MLOps on Dagster and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Markdown joins a docstring's wrapped lines into one paragraph; rich mode keeps every
    # source line break, so help broke mid-sentence at the terminal's edge.
    rich_markup_mode="markdown",
)


def _flags_without_a_type(option: TyperOption, ctx: Any) -> str | None:
    """No type column for an on/off flag (typer 0.29 labels every flag `<bool>`)."""
    return None if option.is_flag else _typed_option_label(option, ctx)


_typed_option_label = TyperOption.display_type_rich
TyperOption.display_type_rich = _flags_without_a_type  # type: ignore[method-assign,assignment]


def _print_version(requested: bool) -> None:
    if requested:
        from importlib.metadata import version

        typer.echo(f"forecastops {version('forecastops')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """ForecastOps: demand-forecasting MLOps on Dagster and MLflow."""


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise typer.Exit(2) from None


def parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD.", param_hint=flag
        ) from None


def current_actor() -> str:
    """Who runs the command: the OS user (`getpass.getuser`); `unknown` when there is none."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def existing_registry(settings: Settings) -> ModelRegistry | None:
    """The settings' registry; None when it is a SQLite store that does not exist, which is
    not created, so a mistyped FORECASTOPS_HOME does not create an empty registry."""
    from forecastops.stores.registry import ModelRegistry

    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None
    return ModelRegistry(
        uri,
        settings.model_name,
        settings.experiment_name,
        artifact_location=settings.mlflow_artifact_uri,
        ui_url=settings.mlflow_ui,
    )


def registry_or_exit(settings: Settings) -> ModelRegistry:
    """The settings' registry; a SQLite store that does not exist stops with exit 1."""
    registry = existing_registry(settings)
    if registry is None:
        typer.echo(
            f"No MLflow registry at {mask_url(settings.mlflow_uri)} yet: run the retrain cycle "
            "first (`make demo`, or retrain_job in the UI), or point MLFLOW_TRACKING_URI / "
            "FORECASTOPS_HOME at it.",
            err=True,
        )
        raise typer.Exit(1)
    return registry


ID_HINT = "'ID'"


@contextmanager
def alert_errors() -> Iterator[None]:
    """Turn the store's errors into messages and exit codes: an unknown ID or a bad value is
    usage (2), an illegal move or an unreachable store is 1."""
    from forecastops.stores.alerts.identity import (
        AlertNotFoundError,
        AlertStoreConfigError,
        AlertStoreUnavailableError,
        InvalidAlertError,
    )
    from forecastops.stores.alerts.store import AlertTransitionError

    try:
        yield
    except AlertStoreConfigError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise typer.Exit(2) from None
    except AlertNotFoundError as error:
        raise typer.BadParameter(
            f"{error} List them with `forecastops alerts list --status all`.",
            param_hint=ID_HINT,
        ) from None
    except InvalidAlertError as error:
        raise typer.BadParameter(str(error)) from None
    except AlertTransitionError as error:
        typer.echo(f"Refused: {error} Nothing changed.", err=True)
        raise typer.Exit(1) from None
    except AlertStoreUnavailableError as error:
        typer.echo(f"Alert store error: {error}", err=True)
        raise typer.Exit(1) from None


def existing_alert_store(settings: Settings) -> AlertStore | None:
    """The settings' alert store with its schema; None when it is a SQLite file that does not
    exist yet (no alert was ever raised), which is not created, so a mistyped FORECASTOPS_HOME
    leaves nothing behind. A store behind the head revision is an `AlertSchemaError` (an
    `AlertStoreUnavailableError`) saying to run `forecastops doctor --fix`: a command that only
    reads or moves alerts does not migrate. Call inside `alert_errors()`."""
    from forecastops.stores.alerts.store import AlertStore

    store = AlertStore(settings.alerts_url)
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None
    store.create_schema()
    return store


FLAGS = {"version": "--version", "reason": "--reason", "date": "--date", "force": "--force"}


def refuse(error: OperationRefused) -> NoReturn:
    """Exit for a refused operation: 2 naming the flag for bad usage, else 1."""
    if error.usage:
        raise typer.BadParameter(str(error), param_hint=FLAGS.get(error.field or "")) from None
    typer.echo(f"Refused: {error}", err=True)
    raise typer.Exit(1) from None


@contextmanager
def operation_errors() -> Iterator[None]:
    """Turn the core's refusals and registry failures into messages and exit codes."""
    from forecastops.pipeline.operations import OperationRefused
    from forecastops.stores.registry import RegistryError

    try:
        yield
    except OperationRefused as error:
        refuse(error)
    except RegistryError as error:
        typer.echo(f"Registry error: {error}", err=True)
        raise typer.Exit(1) from None
