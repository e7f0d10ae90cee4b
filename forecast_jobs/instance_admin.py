"""Dagster-side instance administration for `forecastops doctor` and `forecastops up`, which
run it in a subprocess (`python -m forecast_jobs.instance_admin head|migrate`) so the core never
imports Dagster.

- `head`: print the schema revision this Dagster release expects of its storage (the alembic
  head; run, event-log and schedule storage share one `alembic_version` table).
- `migrate`: write the `dagster.yaml` of `FORECASTOPS_INSTANCE` into `DAGSTER_HOME`, then
  create or upgrade the instance's storage: what `dagster instance migrate` does.
- `runs`: print, as JSON, the runs in progress and those of them that are dead: STARTED, but
  the process that executes them (the run worker that logged "Started process for run (pid:
  N)", or the shell command that ran it in process) is gone from this machine (killed, OOM, a
  reboot). Such a run stays STARTED forever: the project's run launcher
  (Dagster's default) cannot check a worker's health, so run monitoring never ends it, and it
  holds the `model_plane` pool, blocking every later retrain run.
- `fail-dead-runs`: mark each dead run FAILED (a run-failure event with a message saying why);
  print their ids as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg
from alembic.script import ScriptDirectory
from dagster_postgres.run_storage import run_storage
from dagster_postgres.utils import pg_alembic_config

from forecast_jobs.instance import prepare_dagster_home
from forecastops.stores.settings import load_settings


def storage_head_revision() -> str:
    """The alembic head revision of Dagster's storage schema (the same for SQLite)."""
    script = ScriptDirectory.from_config(pg_alembic_config(run_storage.__file__))
    return str(script.as_revision_number("head"))


def migrate_instance() -> None:
    """Prepare `DAGSTER_HOME`, bring its storage to the head revision and register the pools."""
    prepare_dagster_home(load_settings())
    with dg.DagsterInstance.get() as instance:
        instance.upgrade(print)
        initialize_pools(instance)


def initialize_pools(instance: dg.DagsterInstance) -> None:
    """Give `model_plane` its limit (dagster.yaml's `concurrency.pools.default_limit`) now.

    The run queue gives a pool its default limit only once it meets the pool in a queued run,
    after it has read which pools have limits: in that first pass the pool counts as unlimited,
    so the first runs queued with it all start at once (seen with Dagster 1.13). Registered
    here, the pool is limited from the first run on; as a default, a changed dagster.yaml still
    applies."""
    from forecast_assets.model import MODEL_PLANE_POOL

    instance.event_log_storage.initialize_concurrency_limit_to_default(MODEL_PLANE_POOL)


DEAD_RUN_MESSAGE = (
    "Marked FAILED by `forecastops doctor --fix`: the run was STARTED but its run worker "
    "(pid {pid} on this machine) is gone. Re-execute it from the UI if its work is still needed."
)
_WORKER_STARTED = (
    "Started process for run",  # a run worker the run launcher started (the daemon's runs)
    "Executing steps in process",  # a run executed in its caller (`dg launch`, `make demo`)
    "Executing steps using multiprocess executor: parent process",
)
"""The engine events whose `pid` is the process that executes the run."""
IN_PROGRESS = (
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
"""Runs that may be writing to the stores right now."""


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid of the process executing the run, as its worker or executor logged it when it
    started (the last one, after a resume), or None."""
    pid = None
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(_WORKER_STARTED):
            continue
        value = event.engine_event_data.metadata.get("pid")
        if value is not None:
            pid = int(str(value.value))
    return pid


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine; a zombie (dead, not yet reaped) is gone."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        # The state follows the parenthesised command name, which may itself hold spaces.
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def runs_report(instance: dg.DagsterInstance) -> dict[str, list[dict[str, object]]]:
    """{"in_progress": [{"run_id", "job", "status"}], "dead": [{"run_id", "job", "pid"}]}: the
    dead are the STARTED runs whose worker is gone (see the module's docstring)."""
    running = instance.get_runs(dg.RunsFilter(statuses=list(IN_PROGRESS)))
    dead = []
    for run in running:
        pid = (
            worker_pid(instance, run.run_id) if run.status == dg.DagsterRunStatus.STARTED else None
        )
        if pid is not None and not process_alive(pid):
            dead.append({"run_id": run.run_id, "job": run.job_name, "pid": pid})
    return {
        "in_progress": [
            {"run_id": run.run_id, "job": run.job_name, "status": run.status.value}
            for run in running
        ],
        "dead": dead,
    }


def fail_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark every dead run FAILED, saying why; their ids."""
    failed = []
    for dead in runs_report(instance)["dead"]:
        run = instance.get_run_by_id(str(dead["run_id"]))
        if run is not None:
            instance.report_run_failed(run, message=DEAD_RUN_MESSAGE.format(pid=dead["pid"]))
            failed.append(run.run_id)
    return failed


def main(argv: list[str]) -> int:
    if argv == ["head"]:
        print(storage_head_revision())
        return 0
    if argv == ["migrate"]:
        migrate_instance()
        return 0
    if argv in (["runs"], ["fail-dead-runs"]):
        with dg.DagsterInstance.get() as instance:
            report = runs_report(instance) if argv == ["runs"] else fail_dead_runs(instance)
        print(json.dumps(report))
        return 0
    print(
        "usage: python -m forecast_jobs.instance_admin head|migrate|runs|fail-dead-runs",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
