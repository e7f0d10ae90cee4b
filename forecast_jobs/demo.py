"""`make demo`: simulate a retailer and run the pipeline end to end on the embedded instance.

First a year of ordinary sales, ingested and retrained on; then the last `DRIFT_DAYS` days
arrive with demand shifted by `DRIFT_DEMAND_FACTOR`, the daily cycle runs, its monitoring raises
drift alerts, and drift_retrain_sensor (evaluated once, as the daemon would) requests a retrain,
which the demo launches. Runs land in the same `DAGSTER_HOME` that `make ui` opens, so the demo's
runs (the sensor's retrain among them, with its trigger tags), materializations and check
results are there to inspect afterwards.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

import typer

from forecastops.domain.runs import DAILY_CYCLE_JOB, INGEST_JOB, RETRAIN_JOB
from forecastops.domain.secrets import mask_url
from forecastops.stores.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from forecastops.domain.simulator import SimulationSpec

DEMO_DAYS = 365
DEMO_STORES = 5
DEMO_PRODUCTS = 20
DEMO_SEED = 7
DRIFT_DAYS = 14
"""The newest days, simulated with shifted demand after the first cycle: half of the drift
score's 28-day window (10 days at 2.5x moved the target by 26 %, short of the 30 % alarm)."""
DRIFT_DEMAND_FACTOR = 2.5
"""Demand multiplier of the drifted days."""


START_DATE_FILE = "demo_start_date"
"""Where the demo records the first day it simulated, in FORECASTOPS_HOME; `make ui` and
`make up` read it into FORECASTOPS_START_DATE so the UI's partitions start where the data
does (no phantom "missing" partitions before it)."""


def demo_start(today: date | None = None) -> date:
    """The first day the demo simulates: `DEMO_DAYS + DRIFT_DAYS` days ending yesterday."""
    return (today or date.today()) - timedelta(days=DEMO_DAYS + DRIFT_DAYS)


def demo_range(settings: Settings, days: int, today: date | None = None) -> tuple[date, date]:
    """The `days` days ending yesterday, never before the first partition."""
    last = (today or date.today()) - timedelta(days=1)
    first = max(last - timedelta(days=days - 1), settings.start_date)
    if first > last:
        raise SettingsError(
            f"FORECASTOPS_START_DATE={settings.start_date.isoformat()} is in the future; "
            "the demo needs at least one past day. Set it to a past date."
        )
    return first, last


def _migrate_alert_store(settings: Settings) -> str | None:
    """Set up the alert store as `forecastops doctor --fix` would: create it, or upgrade one an
    older checkout made (runs and sensors only create an empty store, they never migrate).
    What was done, or None when it was already at head."""
    from forecastops.stores.alerts.store import AlertStore

    with AlertStore(settings.alerts_url) as store:
        report = store.migrate()
    return f"Alert store {store.display_url}: {report}" if report.changed else None


def run_demo(settings: Settings, days: int = DEMO_DAYS) -> None:
    """Simulate `days` of landing files but the last `DRIFT_DAYS`, ingest them in one run and
    run the retrain cycle at the last of them (features, backtest, challenger, promotion,
    forecasts); then let drifted days arrive (`drift_triggered_retrain`)."""
    import dagster as dg

    from forecast_jobs.instance import prepare_dagster_home
    from forecast_jobs.launch import QUIET_CONSOLE, execute_partition_range
    from forecastops.domain.simulator import SimulationSpec, write_landing_files
    from forecastops.pipeline.cycle import FORECASTS_TABLE
    from forecastops.pipeline.ingest import CONTRACT_TABLE
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import ModelRegistry
    from forecastops.stores.registry_tags import CHAMPION

    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home(settings))
    migrated = _migrate_alert_store(settings)
    if migrated:
        typer.echo(migrated)
    first, newest = demo_range(settings, days + DRIFT_DAYS)
    last = newest - timedelta(days=DRIFT_DAYS)
    if last < first:
        raise SettingsError(
            f"FORECASTOPS_START_DATE={settings.start_date.isoformat()} leaves fewer than "
            f"{DRIFT_DAYS + 1} past days; the demo needs more. Set it further back."
        )
    spec = SimulationSpec(
        start=first, end=last, stores=DEMO_STORES, products=DEMO_PRODUCTS, seed=DEMO_SEED
    )
    files = write_landing_files(spec, settings.landing_path)
    typer.echo(f"Simulated {len(files)} days of sales into {settings.landing_path}")

    from forecast_jobs.definitions import defs

    with dg.DagsterInstance.get() as instance:
        result = execute_partition_range(
            defs.resolve_job_def(INGEST_JOB),
            first,
            last,
            instance,
            raise_on_error=False,
            run_config=QUIET_CONSOLE,
        )
        retrain = (
            defs.resolve_job_def(RETRAIN_JOB).execute_in_process(
                instance=instance,
                partition_key=last.isoformat(),
                raise_on_error=False,
                run_config=QUIET_CONSOLE,
            )
            if result.success
            else None
        )
    lake = Lake(settings.lake_path)
    contract = (
        lake.connect()
        .sql(
            "SELECT count(*) AS days, sum(row_count) AS rows, "
            f"count(*) FILTER (NOT passed) AS rejected FROM {CONTRACT_TABLE}"
        )
        .fetchall()[0]
    )
    days, rows, rejected = contract
    typer.echo(
        f"\ningest_job run {result.run_id}: {_verdict(result.success)}\n"
        f"  partitions {first.isoformat()}..{last.isoformat()}: {days} days, {rows:,} rows, "
        f"{rejected} rejected by the contract\n"
        f"  lake: {settings.lake_path}"
    )
    if retrain is not None:
        champion = ModelRegistry(settings.mlflow_uri, settings.model_name).alias_version(CHAMPION)
        forecast_rows = (
            len(lake.read_partition(FORECASTS_TABLE, last))
            if lake.has_partition(FORECASTS_TABLE, last)
            else 0
        )
        typer.echo(
            f"retrain_job run {retrain.run_id} (cutoff {last.isoformat()}): "
            f"{_verdict(retrain.success)}\n"
            f"  champion: version {champion or 'none'} of {settings.model_name} "
            f"({mask_url(settings.mlflow_uri)})\n"
            f"  forecasts: {forecast_rows:,} rows (P10/P50/P90, next {settings.horizon_days} days)"
        )
    cycle_ok = result.success and retrain is not None and retrain.success
    drift_ok = cycle_ok and drift_triggered_retrain(settings, spec, newest)
    refreshed_ok = cycle_ok and refresh_monitoring(settings)
    report_ok = write_incident_report(settings) and refreshed_ok
    if cycle_ok:
        print_status(settings, newest)
    cli = _command_path()
    typer.echo(
        f"\nNext:\n"
        f"  {cli} status                       # this table; --format json for scripts\n"
        f"  {cli} alerts list --status all\n"
        f"  {cli} quality --date {newest.isoformat()}\n"
        f"  make ui                                  # the Dagster UI: {settings.dagster_ui}, "
        f"MLflow UI: {settings.mlflow_ui} (make down stops them)"
    )
    if not (cycle_ok and drift_ok and report_ok):
        raise typer.Exit(1)


def refresh_monitoring(settings: Settings) -> bool:
    """Tick champion_health_refresh and open_alerts_refresh once, as the daemon would after
    the drift retrain (which forecasts in shadow until its stream earns promotion, decision
    0022) and the actioned alerts, and run what they request, so model_health and open_alerts
    in the UI describe the serving champion and the alerts as they are now. True when every
    run succeeded."""
    import dagster as dg

    from forecast_jobs.definitions import defs
    from forecast_jobs.launch import QUIET_CONSOLE, tick_sensor_in_process
    from sensors.refresh import CHAMPION_HEALTH_SENSOR, OPEN_ALERTS_SENSOR

    outcomes = []
    with dg.DagsterInstance.get() as instance:
        for sensor in (CHAMPION_HEALTH_SENSOR, OPEN_ALERTS_SENSOR):
            tick = tick_sensor_in_process(defs, sensor, instance, run_config=QUIET_CONSOLE)
            for run in tick.runs:
                typer.echo(
                    f"{sensor}: {run.job_def.name} run {run.run_id}: {_verdict(run.success)}"
                )
            outcomes += [run.success for run in tick.runs]
    return all(outcomes)


def write_incident_report(settings: Settings) -> bool:
    """Materialize `incident_report` on the demo's instance (so the UI shows it) and print
    where its Markdown and CSV files went; True when the run succeeded."""
    import dagster as dg

    from forecast_assets.reports import incident_report
    from forecast_jobs.definitions import build_resources
    from forecast_jobs.launch import QUIET_CONSOLE

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [incident_report],
            instance=instance,
            resources=build_resources(settings),
            raise_on_error=False,
            run_config=QUIET_CONSOLE,
        )
    typer.echo(f"\nincident_report run {result.run_id}: {_verdict(result.success)}")
    if result.success:
        [materialization] = result.asset_materializations_for_node("incident_report")
        for name in ("markdown_file", "csv_file"):
            typer.echo(f"  {name}: {materialization.metadata[name].value}")
    return result.success


def drift_triggered_retrain(settings: Settings, spec: SimulationSpec, newest: date) -> bool:
    """The days after `spec.end` up to `newest` arrive with demand shifted by
    `DRIFT_DEMAND_FACTOR`: ingest them, run the daily cycle on the newest (ingest, retrain,
    forecasts, drift score, champion health), tick drift_retrain_sensor once against the
    instance and launch the retrain it requests. Prints the trigger, the alerts and the runs;
    True when every run succeeded and the sensor requested a retrain."""
    import dagster as dg

    from forecast_jobs.definitions import defs
    from forecast_jobs.launch import QUIET_CONSOLE, execute_partition_range, tick_sensor_in_process
    from forecastops.domain.runs import ALERT_IDS_TAG, REASON_TAG, TRIGGER_TAG
    from forecastops.domain.simulator import DriftScenario, write_landing_files
    from forecastops.stores.alerts.store import AlertStore

    drift_start = spec.end + timedelta(days=1)
    drifted = replace(
        spec, end=newest, drift=DriftScenario(start=drift_start, demand_factor=DRIFT_DEMAND_FACTOR)
    )
    arrived = write_landing_files(drifted, settings.landing_path, since=drift_start)
    typer.echo(
        f"\n{len(arrived)} more days arrive ({drift_start.isoformat()}..{newest.isoformat()}) "
        f"with demand x{DRIFT_DEMAND_FACTOR}"
    )
    with dg.DagsterInstance.get() as instance:
        # The daily schedule would run the whole cycle every day; the demo ingests the earlier
        # drifted days in one run and runs the cycle on the newest, sparing a retrain per day.
        runs = [
            execute_partition_range(
                defs.resolve_job_def(INGEST_JOB),
                drift_start,
                newest - timedelta(days=1),
                instance,
                raise_on_error=False,
                run_config=QUIET_CONSOLE,
            ),
            defs.resolve_job_def(DAILY_CYCLE_JOB).execute_in_process(
                instance=instance,
                partition_key=newest.isoformat(),
                raise_on_error=False,
                run_config=QUIET_CONSOLE,
            ),
        ]
        for name, run in zip((INGEST_JOB, DAILY_CYCLE_JOB), runs, strict=True):
            typer.echo(f"{name} run {run.run_id}: {_verdict(run.success)}")
        if not all(run.success for run in runs):
            return False
        tick = tick_sensor_in_process(
            defs, "drift_retrain_sensor", instance, run_config=QUIET_CONSOLE
        )
    if not tick.runs:
        typer.echo(f"drift_retrain_sensor requested no retrain: {tick.skip_reason}")
        return False
    store = AlertStore(settings.alerts_url)
    for request, run in zip(tick.run_requests, tick.runs, strict=True):
        tags = request.tags
        typer.echo(
            f"drift_retrain_sensor requested retrain_job for {request.partition_key} "
            f"(run key {request.run_key})\n"
            f"  trigger: {tags[TRIGGER_TAG]}: {tags[REASON_TAG]}\n"
            f"retrain_job run {run.run_id}: {_verdict(run.success)}"
        )
        for alert_id in filter(None, tags.get(ALERT_IDS_TAG, "").split(",")):
            alert = store.get(int(alert_id))
            typer.echo(
                f"  answers alert {alert.id} ({alert.type}, {alert.severity}), "
                f"{alert.status} by {alert.actor}: forecastops alerts show {alert.id}"
            )
    typer.echo("Alerts raised:")
    for alert in reversed(store.list(limit=10)):
        typer.echo(
            f"  {alert.id} {alert.severity:<8} {alert.type:<17} {alert.status:<8} {alert.title}"
        )
    return all(run.success for run in tick.runs)


def print_status(settings: Settings, day: date) -> None:
    """What `forecastops status --as-of DAY` prints: the champion's health, the challenger,
    the drift score and the open alerts, as a table."""
    from forecastops.ops.cli.output import OutputFormat, print_record
    from forecastops.ops.status import status_report
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import ModelRegistry

    registry = ModelRegistry(settings.mlflow_uri, settings.model_name)
    with AlertStore(settings.alerts_url) as alerts:
        report = status_report(
            registry,
            Lake(settings.lake_path),
            alerts,
            day,
            settings.performance_policy(),
            CyclePolicy.from_settings(settings),
        )
    typer.echo(f"\nforecastops status --as-of {day.isoformat()}")
    print_record(report, OutputFormat.table)


def _command_path() -> str:
    """The `forecastops` command beside this Python, relative to the current folder when under
    it (`.venv/bin/forecastops`), so it can be pasted without activating the venv."""
    import sys
    from pathlib import Path

    command = Path(sys.executable).parent / "forecastops"
    try:
        return str(command.relative_to(Path.cwd()))
    except ValueError:
        return str(command)


def quiet_libraries() -> None:
    """Keep the demo's screen to its own summary: MLflow's INFO lines, pickling and pip notes
    and download progress bars go (the runs' events are stored in full either way)."""
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")


def _verdict(success: bool) -> str:
    return "SUCCESS" if success else "FAILURE"


def main() -> None:
    from forecastops.stores.alerts.identity import AlertStoreUnavailableError

    quiet_libraries()
    # The partitions start where the demo's data does, unless the operator chose a start date.
    os.environ.setdefault("FORECASTOPS_START_DATE", demo_start().isoformat())
    try:
        settings = load_settings()
        settings.home.mkdir(parents=True, exist_ok=True)
        (settings.home / START_DATE_FILE).write_text(settings.start_date.isoformat() + "\n")
        run_demo(settings)
    except SettingsError as error:
        typer.echo(f"Configuration error:\n{error}", err=True)
        raise SystemExit(2) from None
    except AlertStoreUnavailableError as error:  # e.g. a store a newer checkout migrated
        typer.echo(f"Alert store error:\n{error}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
