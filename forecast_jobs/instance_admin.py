"""Dagster-side instance administration for `forecastops doctor` and `forecastops up`, which
run it in a subprocess (`python -m forecast_jobs.instance_admin head|migrate`) so the core never
imports Dagster.

- `head`: print the schema revision this Dagster release expects of its storage (the alembic
  head; run, event-log and schedule storage share one `alembic_version` table).
- `migrate`: write the `dagster.yaml` of `FORECASTOPS_INSTANCE` into `DAGSTER_HOME`, then
  create or upgrade the instance's storage: what `dagster instance migrate` does.
"""

from __future__ import annotations

import sys

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


def main(argv: list[str]) -> int:
    if argv == ["head"]:
        print(storage_head_revision())
        return 0
    if argv == ["migrate"]:
        migrate_instance()
        return 0
    print(
        "usage: python -m forecast_jobs.instance_admin head|migrate",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
