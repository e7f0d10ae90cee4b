"""`forecastops alerts`: list, show, read and act on the alerts the pipeline raised."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from forecastops.domain.alerts import SEVERITIES_WORST_FIRST, AlertType, Severity
from forecastops.domain.secrets import mask_url
from forecastops.stores.settings import Settings, SettingsError

if TYPE_CHECKING:
    import pandas as pd

    from forecastops.domain.alerts import Alert
    from forecastops.stores.alerts.store import AlertStore
from forecastops.ops.cli.output import FormatOption, OutputFormat, print_frame
from forecastops.ops.cli.retrain import queue_retrain_or_exit
from forecastops.ops.cli.shared import (
    alert_errors,
    app,
    current_actor,
    existing_alert_store,
    settings_or_exit,
)

PANEL = "Retrains and alerts"

# The alert lifecycle is forecastops.stores.alerts.store (its docstring states the moves).
# Exit codes: 0 done; 1 refused (an illegal move) or failed; 2 bad usage (a flag or an ID that is
# wrong). Nothing changes unless 0.

alerts_app = typer.Typer(
    help="The alerts the pipeline raised (run failures, drift, contract breaks, promotions): "
    "list them, read one, act on it or dismiss it.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts", rich_help_panel=PANEL)


class AlertStatusChoice(StrEnum):
    """`--status` of `alerts list`: a status of forecastops.stores.alerts.store.AlertStatus, open or
    all."""

    unread = "unread"
    read = "read"
    actioned = "actioned"
    dismissed = "dismissed"
    open = "open"
    all = "all"


def _get_alert(store: AlertStore | None, alert_id: int, settings: Settings) -> Alert:
    """The alert with this id; an unknown one is a usage error naming ID. Call inside
    `alert_errors()`."""
    from forecastops.stores.alerts.identity import AlertNotFoundError

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
    output: FormatOption = OutputFormat.table,
) -> None:
    """List alerts, newest first (the open ones unless --status says otherwise).

    Columns: id, severity, type, title, subject, created_at (UTC), status; then the open
    alerts per severity.
    """
    from forecastops.domain.alerts import OPEN_STATUSES, AlertStatus

    settings = settings_or_exit()
    statuses: tuple[AlertStatus, ...] | None = (
        None
        if status is AlertStatusChoice.all
        else OPEN_STATUSES
        if status is AlertStatusChoice.open
        else (AlertStatus(status.value),)
    )
    with alert_errors():
        store = existing_alert_store(settings)
        if store is None:
            typer.echo(
                "No alerts: none has been raised yet "
                f"(no alert store at {mask_url(settings.alerts_url)})."
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
    if output is not OutputFormat.table:
        print_frame(_alerts_frame(alerts), output)
        return
    if alerts:
        print_frame(_alerts_frame(alerts), output, limit=0)
        more = (
            f"; the newest {limit} are shown, raise --limit for more"
            if len(alerts) == limit
            else ""
        )
        typer.echo(f"{len(alerts)} alert(s) with {', '.join(filters)}{more}.")
    else:
        typer.echo(f"No alerts with {', '.join(filters)}.")
    open_text = ", ".join(f"{counts[s]} {s.value}" for s in SEVERITIES_WORST_FIRST)
    typer.echo(f"Open: {open_text}. Read one with `forecastops alerts read ID`.")


def _alerts_frame(alerts: list[Alert]) -> pd.DataFrame:
    """The listed columns, full titles (a table cuts them, json and csv keep them)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "id": [alert.id for alert in alerts],
            "severity": [alert.severity.value for alert in alerts],
            "type": [alert.type.value for alert in alerts],
            "title": [alert.title for alert in alerts],
            "subject": [alert.subject for alert in alerts],
            "created_at": [_when(alert.created_at) for alert in alerts],
            "status": [alert.status.value for alert in alerts],
        },
        columns=["id", "severity", "type", "title", "subject", "created_at", "status"],
    )


@alerts_app.command("show")
def show_alert(alert_id: Annotated[int, _ALERT_ID_ARGUMENT]) -> None:
    """Print an alert in full without changing its status."""
    settings = settings_or_exit()
    with alert_errors():
        alert = _get_alert(existing_alert_store(settings), alert_id, settings)
    _print_alert(alert)


@alerts_app.command("read")
def read_alert(alert_id: Annotated[int, _ALERT_ID_ARGUMENT]) -> None:
    """Mark an unread alert read and print it in full.

    Recorded with your OS user. Refused (exit 1) unless the alert is unread; `forecastops
    alerts show ID` prints any alert.
    """
    settings = settings_or_exit()
    with alert_errors():
        store = existing_alert_store(settings)
        _get_alert(store, alert_id, settings)
        assert store is not None  # _get_alert found the alert in it
        alert = store.mark_read(alert_id, current_actor())
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
    from forecastops.domain.triggers import approval_tags
    from forecastops.ops.alert_actions import AlertActionRefused, close_alert
    from forecastops.ops.retrain_queue import RetrainLaunchError, RetrainRefused

    settings = settings_or_exit()
    with alert_errors():
        store = existing_alert_store(settings)
        _get_alert(store, alert_id, settings)  # an unknown id is usage, also without a store
        assert store is not None  # _get_alert found the alert in it
        try:
            closed = close_alert(
                store,
                alert_id,
                approve=approve,
                actor=current_actor(),
                notes=notes,
                settings=settings,
            )
        except AlertActionRefused as error:
            if error.field == "notes":
                raise typer.BadParameter(str(error), param_hint="--notes") from None
            typer.echo(f"Refused: {error}", err=True)
            raise typer.Exit(1) from None
    typer.echo(closed.summary)
    if closed.manual_recommendation:
        typer.echo(closed.manual_recommendation)
    if closed.retrain_days is None:
        return
    days = closed.retrain_days
    try:
        queue_retrain_or_exit(days, settings, approval_tags(closed.alert))
    except (RetrainRefused, RetrainLaunchError, SettingsError) as error:
        typer.echo(
            f"Alert {closed.alert.id} is actioned, but its retrain was not queued: {error}\n"
            f"Queue it with: forecastops retrain --partitions {','.join(map(str, days))}",
            err=True,
        )
        raise typer.Exit(1) from None
