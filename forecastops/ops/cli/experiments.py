"""`forecastops experiments`: propose, list, show, approve, reject and complete experiments
(seed 001), kept in the alert store's database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from forecastops.domain.experiments import Decision, ExperimentStatus
from forecastops.domain.secrets import mask_url
from forecastops.ops.cli.output import FormatOption, OutputFormat, print_frame
from forecastops.ops.cli.retrain import retrain_errors
from forecastops.ops.cli.shared import (
    ID_HINT,
    alert_errors,
    app,
    current_actor,
    existing_alert_store,
    existing_registry,
    operation_errors,
    parse_day,
    registry_or_exit,
    settings_or_exit,
)

if TYPE_CHECKING:
    from forecastops.domain.experiments import Experiment
    from forecastops.stores.alerts.experiments import ExperimentStore
    from forecastops.stores.settings import Settings

PANEL = "Experiments"

# The lifecycle is forecastops.domain.experiments.TRANSITIONS; the use cases are
# forecastops.pipeline.experiments. Exit codes: 0 done; 1 refused (an illegal move, no realized
# rows to compare) or failed; 2 bad usage (a flag, a configuration or an ID that is wrong).
# Nothing changes unless 0.

experiments_app = typer.Typer(
    help="Experiments: a configuration (objective, training window, feature set, segment) "
    "proposed, approved, trained, tested beside the champion and completed with a decision "
    "computed from realized accuracy.",
    no_args_is_help=True,
)
app.add_typer(experiments_app, name="experiments", rich_help_panel=PANEL)

_ID_ARGUMENT = typer.Argument(
    metavar="ID", help="Experiment id (see `forecastops experiments list`).", show_default=False
)
_NOTES_OPTION = typer.Option("--notes", help="A sentence recorded with the change.")


class StatusChoice(StrEnum):
    """`--status` of `experiments list`: one status, open (not final) or all."""

    proposed = "proposed"
    approved = "approved"
    rejected = "rejected"
    in_progress = "in_progress"
    shadow_testing = "shadow_testing"
    completed = "completed"
    open = "open"
    all = "all"


@contextmanager
def experiment_errors() -> Iterator[None]:
    """The store's and the use cases' errors as messages and exit codes (see the comment at the
    top); wraps `alert_errors` for the database's own."""
    from forecastops.domain.experiments import ExperimentTransitionError, InvalidExperimentError
    from forecastops.pipeline.experiments import ExperimentRefused
    from forecastops.stores.alerts.experiments import ExperimentNotFoundError

    with alert_errors():
        try:
            yield
        except ExperimentNotFoundError as error:
            raise typer.BadParameter(
                f"{error} List them with `forecastops experiments list --status all`.",
                param_hint=ID_HINT,
            ) from None
        except InvalidExperimentError as error:
            raise typer.BadParameter(f"{error} Nothing changed.") from None
        except (ExperimentTransitionError, ExperimentRefused) as error:
            typer.echo(f"Refused: {error} Nothing changed.", err=True)
            raise typer.Exit(1) from None


def _store(settings: Settings, *, create: bool) -> ExperimentStore | None:
    """The experiment store of the settings' alert database. `create`: make the database (and
    its schema) when there is none yet; else None then. Call inside `experiment_errors()`."""
    from forecastops.stores.alerts.experiments import ExperimentStore
    from forecastops.stores.alerts.store import AlertStore

    alerts = existing_alert_store(settings)
    if alerts is None and create:
        alerts = AlertStore(settings.alerts_url)
        alerts.create_schema()
    return None if alerts is None else ExperimentStore(alerts)


def _existing(settings: Settings, experiment_id: int) -> ExperimentStore:
    """The store holding experiment `experiment_id` (in_progress experiments whose version is
    registered moved on to shadow_testing first); an unknown id is usage (exit 2)."""
    from forecastops.stores.alerts.experiments import ExperimentNotFoundError

    store = _store(settings, create=False)
    if store is None:
        raise ExperimentNotFoundError(experiment_id, mask_url(settings.alerts_url))
    _sync(settings, store)
    store.get(experiment_id)
    return store


def _sync(settings: Settings, store: ExperimentStore) -> None:
    """Move in_progress experiments whose version is registered to shadow_testing
    (`sync_experiment_versions`), so what is shown is current; nothing without a registry."""
    from forecastops.domain.experiments import ExperimentStatus as Status
    from forecastops.pipeline.experiments import sync_experiment_versions

    if not store.list(status=Status.IN_PROGRESS, limit=1):
        return
    registry = existing_registry(settings)
    if registry is not None:
        with operation_errors():
            sync_experiment_versions(store, registry, current_actor())


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _print_experiment(experiment: Experiment) -> None:
    """An experiment in full: fields, configuration, results, decision and its history."""
    config = experiment.config
    rows = [
        ("status", f"{experiment.status.value} (since {_when(experiment.status_changed_at)})"),
        ("proposer", f"{experiment.proposer}, {_when(experiment.created_at)}"),
        ("hypothesis", experiment.hypothesis),
        (
            "configuration",
            f"objective {config.objective}, window {config.training_window_days} days, "
            f"feature set {config.feature_set_version}, segment {config.segment}",
        ),
        ("test period", f"{experiment.test_period_days} realized days"),
        ("version", experiment.experimental_version or "-"),
        ("test starts", str(experiment.test_started_on or "-")),
    ]
    if experiment.results is not None:
        rows.append(("results", json.dumps(experiment.results.to_dict())))
    if experiment.decision is not None:
        rows.append(("decision", f"{experiment.decision.value}: {experiment.rationale}"))
    width = max(len(label) for label, _ in rows)
    typer.echo(f"Experiment {experiment.id}: {experiment.title}")
    for label, value in rows:
        typer.echo(f"  {label.ljust(width)}  {value}")
    typer.echo("\nHistory:")
    for event in experiment.events:
        moved = f"{event.from_status or '-'} -> {event.to_status}"
        notes = f": {event.notes}" if event.notes else ""
        typer.echo(f"  {_when(event.at)}  {event.command:<8} {moved}  by {event.actor}{notes}")


@experiments_app.command("propose")
def propose(
    title: Annotated[str, typer.Option("--title", help="A short name.")],
    hypothesis: Annotated[
        str, typer.Option("--hypothesis", help="What should improve, and why, in a sentence.")
    ],
    objective: Annotated[
        str | None,
        typer.Option("--objective", help="LightGBM objective. Default: FORECASTOPS_OBJECTIVE."),
    ] = None,
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days",
            help="Training window in days. Default: FORECASTOPS_TRAINING_WINDOW_DAYS.",
        ),
    ] = None,
    feature_set: Annotated[
        str | None,
        typer.Option("--feature-set", help="Feature set version. Default: the current one."),
    ] = None,
    segment: Annotated[
        str | None, typer.Option("--segment", help="Series it applies to. Default: all.")
    ] = None,
    test_days: Annotated[
        int,
        typer.Option(
            "--test-days", help="Realized days the version is tested beside the champion."
        ),
    ] = 14,
) -> None:
    """Propose an experiment (status proposed), recorded with your OS user.

    The configuration is checked against what the pipeline trains (objective and window by the
    bounds of their settings, the current feature set, segment all); a bad one is a usage error
    naming the field.
    """
    from forecastops.pipeline.experiments import experiment_config

    settings = settings_or_exit()
    with experiment_errors():
        config = experiment_config(
            settings,
            objective=objective,
            training_window_days=window_days,
            feature_set_version=feature_set,
            segment=segment,
        )
        store = _store(settings, create=True)
        assert store is not None  # created
        experiment = store.propose(
            title=title,
            hypothesis=hypothesis,
            proposer=current_actor(),
            config=config,
            test_period_days=test_days,
        )
    typer.echo(
        f"Proposed experiment {experiment.id}: {experiment.title} (objective "
        f"{config.objective}, window {config.training_window_days} days, {test_days} test "
        f"days). Approve it with `forecastops experiments approve {experiment.id}`."
    )


@experiments_app.command("list")
def list_experiments(
    status: Annotated[
        StatusChoice,
        typer.Option("--status", help="open = not rejected or completed; all = every status."),
    ] = StatusChoice.all,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many, newest first.")
    ] = 100,
    output: FormatOption = OutputFormat.table,
) -> None:
    """List experiments, newest first: id, title, status, configuration, version, decision and
    results (— where not known yet)."""
    from forecastops.domain.experiments import FINAL_STATUSES
    from forecastops.pipeline.experiments import experiments_frame

    settings = settings_or_exit()
    statuses: list[ExperimentStatus] | None = (
        None
        if status is StatusChoice.all
        else [s for s in ExperimentStatus if s not in FINAL_STATUSES]
        if status is StatusChoice.open
        else [ExperimentStatus(status.value)]
    )
    with experiment_errors():
        store = _store(settings, create=False)
        if store is not None:
            _sync(settings, store)
        experiments = [] if store is None else store.list(status=statuses, limit=limit)
    if output is not OutputFormat.table:
        print_frame(experiments_frame(experiments), output)
        return
    if not experiments:
        typer.echo(f"No experiments with status {status.value}.")
        return
    print_frame(experiments_frame(experiments), output, limit=0)
    typer.echo(f"{len(experiments)} experiment(s) with status {status.value}.")


@experiments_app.command("show")
def show(experiment_id: Annotated[int, _ID_ARGUMENT]) -> None:
    """Print an experiment in full with its history (who moved it when, and why)."""
    settings = settings_or_exit()
    with experiment_errors():
        experiment = _existing(settings, experiment_id).get(experiment_id)
    _print_experiment(experiment)


@experiments_app.command("approve")
def approve(
    experiment_id: Annotated[int, _ID_ARGUMENT],
    notes: Annotated[str | None, _NOTES_OPTION] = None,
) -> None:
    """proposed -> approved, recorded with your OS user and the notes."""
    settings = settings_or_exit()
    with experiment_errors():
        experiment = _existing(settings, experiment_id).approve(
            experiment_id, current_actor(), notes
        )
    typer.echo(f"Experiment {experiment.id} is approved.")


@experiments_app.command("reject")
def reject(
    experiment_id: Annotated[int, _ID_ARGUMENT],
    notes: Annotated[str | None, _NOTES_OPTION] = None,
) -> None:
    """proposed -> rejected (final), recorded with your OS user and the notes."""
    settings = settings_or_exit()
    with experiment_errors():
        experiment = _existing(settings, experiment_id).reject(
            experiment_id, current_actor(), notes
        )
    typer.echo(f"Experiment {experiment.id} is rejected.")


@experiments_app.command("start")
def start(
    experiment_id: Annotated[int, _ID_ARGUMENT],
    day: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Training cutoff (YYYY-MM-DD). Default: yesterday in FORECASTOPS_TIMEZONE.",
        ),
    ] = None,
) -> None:
    """approved -> in_progress: queue the retrain that trains its configuration.

    One retrain_job run for the cutoff, queued for the daemon as `forecastops retrain` does,
    tagged with the experiment's id, objective and window; the version it registers is tagged
    with the experiment's id, and the experiment moves to shadow_testing (its test period
    starting the day after the cutoff) once that version is registered. Refused (exit 1),
    with nothing queued, unless the experiment is approved.
    """
    from forecastops.ops.experiment_launch import start_experiment

    settings = settings_or_exit()
    cutoff = parse_day(day, "--date") if day is not None else None
    with experiment_errors():
        store = _existing(settings, experiment_id)
        with retrain_errors():
            launched = start_experiment(
                store, experiment_id, settings, actor=current_actor(), day=cutoff
            )
    queued = launched.queued
    typer.echo(
        f"Experiment {experiment_id} is in_progress: retrain_job of "
        f"{queued.partitions[0].isoformat()} queued as backfill {queued.backfill_id} "
        f"(follow it in the UI at {queued.ui_path})."
    )
    if queued.warning:
        typer.echo(f"Warning: {queued.warning}", err=True)


@experiments_app.command("complete")
def complete(
    experiment_id: Annotated[int, _ID_ARGUMENT],
    decision: Annotated[
        Decision | None,
        typer.Option(
            "--decision",
            help="Record this decision instead of the computed one (adopt when the version is "
            "at least FORECASTOPS_MIN_WAPE_IMPROVEMENT better over at least "
            "FORECASTOPS_MIN_SHADOW_DAYS realized days, else reject).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Allow --decision adopt when the numbers say reject."),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Last day (YYYY-MM-DD) of the test period to count. Default: yesterday in "
            "FORECASTOPS_TIMEZONE, the newest day whose actuals are due.",
        ),
    ] = None,
) -> None:
    """shadow_testing -> completed: compute the results from realized scores and decide.

    The baseline is the champion's realized MAE/WAPE and the experimental the experiment
    version's, over the same scored rows (day, series) of the test period. Adopt promotes the
    version through the promotion path (the alias history records you, the experiment and its
    numbers; the backtest gate's verdict is overridden by this realized evidence).
    """
    from forecastops.pipeline.experiments import complete_experiment
    from forecastops.pipeline.operations import due_day
    from forecastops.stores.lake import Lake

    settings = settings_or_exit()
    day = parse_day(as_of, "--as-of") if as_of is not None else due_day(settings.timezone)
    with experiment_errors(), operation_errors():
        store = _existing(settings, experiment_id)
        done = complete_experiment(
            store,
            registry_or_exit(settings),
            Lake(settings.lake_path),
            experiment_id,
            actor=current_actor(),
            as_of=day,
            min_improvement=settings.min_wape_improvement,
            min_realized_days=settings.min_shadow_days,
            decision=decision,
            force=force,
        )
    experiment = done.experiment
    typer.echo(f"Experiment {experiment.id} completed: {experiment.rationale}")
    if done.move is not None:
        typer.echo(
            f"{done.move.alias}: {done.move.from_version or 'none'} -> {done.move.to_version} "
            f"(recorded at {done.move.moved_at}, actor {done.move.actor})"
        )
