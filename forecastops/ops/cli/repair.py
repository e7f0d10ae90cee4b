"""`forecastops repair --date D`: by hand, what repair_sensor does once a rejected or missing day
is re-delivered (decision 0020): queue the retrain of the newest cutoff whose training window
held the day and the monitoring of the recent days whose windows held it, and action the day's
open contract_break / missing_data alerts naming the backfills."""

from __future__ import annotations

from typing import Annotated

import typer

from forecastops.ops.cli.retrain import PANEL
from forecastops.ops.cli.shared import (
    alert_errors,
    app,
    current_actor,
    existing_alert_store,
    parse_day,
    settings_or_exit,
)


@app.command(
    rich_help_panel=PANEL,
    help="""Re-run what was computed without a day, once it is re-delivered (by hand).

    The day must have passed the contract since (materialize raw_sales for it, e.g. `dagster
    job launch -j ingest_job --partition D` or the UI). Prints the stale partitions (stored
    before the delivery, with a window holding the day), then queues retrain_job for the newest
    stale cutoff and monitoring_job (drift score, health) for the newest stale monitoring days,
    as backfills tagged forecastops/repaired_day=D, and actions the day's open contract_break and
    missing_data alerts naming them. repair_sensor does the same on its own; use this when it is
    stopped or an alert was closed by hand. --dry-run prints the plan only. Exit 1 when the day
    has no passing delivery (nothing queued).
    """,
)
def repair(
    day_text: Annotated[str, typer.Option("--date", help="The re-delivered day (YYYY-MM-DD).")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; queue and action nothing.")
    ] = False,
) -> None:
    from forecastops.domain.runs import MONITORING_JOB, REPAIR_TAG, RETRAIN_JOB
    from forecastops.ops.retrain_queue import RetrainLaunchError, RetrainRefused, queue_retrain
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.pipeline.repair import (
        RepairWindows,
        open_gap_alerts,
        plan_repair,
        repair_runs_path,
    )
    from forecastops.stores.lake import Lake
    from forecastops.stores.settings import SettingsError

    day = parse_day(day_text, "--date")
    settings = settings_or_exit()
    windows = RepairWindows.from_policy(
        settings.training_window_days,
        CyclePolicy.from_settings(settings).feature_spec.lookback_days,
        settings.health_window_days,
    )
    plan = plan_repair(Lake(settings.lake_path), day, windows)
    if plan is None:
        typer.echo(
            f"Refused: {day} has no delivery that passed the contract (no raw_sales partition in "
            f"{settings.lake_path}). Fix or re-deliver its landing file and materialize raw_sales "
            "for it (ingest_job) first. Nothing was queued.",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(plan.summary())
    if dry_run:
        typer.echo("Dry run: nothing queued, no alert actioned.")
        return
    tags = {REPAIR_TAG: day.isoformat()}
    queued: list[str] = []
    try:
        for job, days in (
            (RETRAIN_JOB, (plan.retrain_cutoff,) if plan.retrain_cutoff else ()),
            (MONITORING_JOB, plan.monitoring_days),
        ):
            if days:
                backfill = queue_retrain(days, settings, tags, job=job)
                queued.append(f"{job} backfill {backfill.backfill_id} ({backfill.ui_path})")
                typer.echo(f"Queued {queued[-1]} in DAGSTER_HOME={backfill.dagster_home}.")
    except (RetrainRefused, RetrainLaunchError, SettingsError) as error:
        done = f" Already queued: {'; '.join(queued)}." if queued else " Nothing was queued."
        typer.echo(f"Could not queue the repair: {error}{done} No alert was actioned.", err=True)
        raise typer.Exit(1) from None
    notes = (
        f"Repaired by `forecastops repair --date {day}`: {plan.summary()} Backfills: "
        f"{'; '.join(queued) or 'none (nothing stale)'}. Runs: {repair_runs_path(day)}"
    )
    with alert_errors():
        store = existing_alert_store(settings)
        alerts = open_gap_alerts(store, day) if store is not None else []
        for alert in alerts:
            assert store is not None  # the alerts came from it
            actioned = store.action(alert.id, current_actor(), notes)
            typer.echo(f"Alert {actioned.id} actioned: {actioned.title}")
    if not alerts:
        typer.echo(f"No open contract_break or missing_data alert of {day} to action.")
