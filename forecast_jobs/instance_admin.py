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
    """Prepare `DAGSTER_HOME` and bring its storage to the head revision."""
    prepare_dagster_home(load_settings())
    with dg.DagsterInstance.get() as instance:
        instance.upgrade(print)


def main(argv: list[str]) -> int:
    if argv == ["head"]:
        print(storage_head_revision())
        return 0
    if argv == ["migrate"]:
        migrate_instance()
        return 0
    print("usage: python -m forecast_jobs.instance_admin head|migrate", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
