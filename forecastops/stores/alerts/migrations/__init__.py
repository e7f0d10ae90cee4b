"""Versioned schema migrations of the alert store (Alembic), run from code.

This folder is the Alembic script directory: `env.py` and `versions/`. No `alembic.ini` is read:
`_config` points Alembic here and hands it the connection. The revision is kept in
`forecastops_alerts_alembic_version` (`VERSION_TABLE`), never in `alembic_version`, so the alert
store may share a database with MLflow or Dagster (which both keep `alembic_version`).

| revision | what it does |
|---|---|
| `0001_baseline` | the table and the three indexes `create_schema()` made before migrations |
| `0002_latest_index` | index (dedup_key, created_at, id) so `AlertStore.latest` needs no scan |
| `0003_missing_data_type` | alert type `missing_data` (new type CHECK; SQLite rebuilds the table) |
| `0004_experiments` | the experiments table and its events (audit) table (`experiments.py`) |

A database states one of these `SchemaState`s:

- empty (no alerts table, no version): upgrading to head creates everything;
- unversioned (the alerts table from before migrations, no version table): `upgrade_to_head`
  checks that its columns and indexes are the baseline's, stamps it `0001_baseline`, upgrades;
- behind (an older revision): upgraded; at head: nothing to do;
- unknown revision (a newer ForecastOps migrated it): refused; there are no downgrades, so the way
  back is that newer version or the backup taken before it migrated.

`AlertStore` runs `upgrade_to_head` on a connection inside one transaction that holds the
migration lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so concurrent migrators
queue and the second finds the work done, and a failing step leaves the database as it was.

Adding a migration: change the model in `forecastops/stores/alerts/store.py`, then add
`versions/vNNNN_what.py` (copy the newest one) with `revision = "NNNN_what"` and
`down_revision` the previous head, writing the change out in `op.*` calls (never import the
model). Migrations are forward-only: leave `downgrade` out. `tests/unit/test_alert_migrations.py`
checks that the head schema is exactly what the model would create, so a model change without
its migration fails there.
A new AlertType, Severity or AlertStatus value changes a CHECK constraint: on SQLite that needs
`op.batch_alter_table` (it rebuilds the table).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from forecastops.stores.alerts.identity import TABLE_NAME, URL_VARIABLE, AlertSchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent
VERSION_TABLE = "forecastops_alerts_alembic_version"
"""Our Alembic version table; MLflow's and Dagster's are both `alembic_version`."""
BASELINE_REVISION = "0001_baseline"
CONNECTION_ATTRIBUTE = "connection"
"""The key of `Config.attributes` under which env.py finds the connection to migrate."""
FIX = "`forecastops doctor --fix`"

BASELINE_COLUMNS = frozenset(
    {
        "id",
        "type",
        "severity",
        "title",
        "message",
        "links",
        "subject",
        "dedup_key",
        "recommendation",
        "created_at",
        "status",
        "status_changed_at",
        "actor",
        "notes",
    }
)
BASELINE_INDEXES = frozenset(
    {
        f"ix_{TABLE_NAME}_status_severity",
        f"ix_{TABLE_NAME}_created_at",
        f"uq_{TABLE_NAME}_open_dedup_key",
    }
)
"""What `create_schema()` made before migrations; an unversioned table must have exactly these
columns and at least these indexes to be stamped as the baseline."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION).replace("%", "%%"))
    config.attributes[CONNECTION_ATTRIBUTE] = connection
    return config


@functools.cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this ForecastOps knows (the one a healthy store is at)."""
    head = _script().get_current_head()
    assert head is not None, f"no migrations under {SCRIPT_LOCATION / 'versions'}"
    return head


def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _script().walk_revisions())


@dataclass(frozen=True)
class SchemaState:
    """Where a database's alert schema stands. `revision` is None without a version table."""

    revision: str | None
    has_table: bool
    head: str

    @property
    def empty(self) -> bool:
        """Nothing there yet: upgrading creates it all."""
        return self.revision is None and not self.has_table

    @property
    def unversioned(self) -> bool:
        """The table from before migrations (no version table)."""
        return self.revision is None and self.has_table

    @property
    def at_head(self) -> bool:
        return self.revision == self.head and self.has_table

    @property
    def known(self) -> bool:
        """False when a newer ForecastOps migrated the database past what this one knows."""
        return self.revision is None or self.revision in known_revisions()

    @property
    def lost_table(self) -> bool:
        """A revision is recorded but the alerts table is gone (dropped by hand)."""
        return self.revision is not None and not self.has_table

    def describe_revision(self) -> str:
        if self.unversioned:
            return "no revision: a table from before versioned migrations"
        if self.empty:
            return "no schema"
        return str(self.revision)

    def problem(self, where: str) -> str | None:
        """Why the code cannot use this database as it is (None when it can: at head), with
        the fix; `where` names the database."""
        if self.at_head:
            return None
        if not self.known:
            return (
                f"The alert store at {where} ({URL_VARIABLE}) is at revision {self.revision}, "
                "which this ForecastOps does not know: a newer version migrated it. Migrations "
                "have no downgrades: run that newer version, or restore the database from the "
                "backup taken before it was migrated."
            )
        if self.lost_table:
            return (
                f"The alert store at {where} ({URL_VARIABLE}) is at revision {self.revision} "
                f"but has no {TABLE_NAME} table (was it dropped by hand?). Restore the backup, "
                f"or drop {VERSION_TABLE} too and run {FIX} to start with an empty store."
            )
        return (
            f"The alert store at {where} ({URL_VARIABLE}) is not at the head revision (at "
            f"{self.describe_revision()}, head {self.head}). Back up the database, then run "
            f"{FIX} to migrate it."
        )


@dataclass(frozen=True)
class MigrationReport:
    """What `upgrade_to_head` did: `before` is the state it found, `head` where it left it."""

    before: SchemaState
    head: str

    @property
    def changed(self) -> bool:
        return not self.before.at_head

    def __str__(self) -> str:
        if self.before.at_head:
            return f"already at the head revision {self.head}"
        if self.before.empty:
            return f"created the alerts table at revision {self.head}"
        if self.before.unversioned:
            return (
                f"stamped the table from before migrations as {BASELINE_REVISION} and "
                f"upgraded it to {self.head}"
            )
        return f"upgraded the schema from {self.before.revision} to {self.head}"


def read_state(connection: Connection) -> SchemaState:
    """The alert schema's state in the database of `connection` (reads only)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    tables = set(inspect(connection).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        revision = context.get_current_revision()
    return SchemaState(revision=revision, has_table=TABLE_NAME in tables, head=head_revision())


def _baseline_mismatch(connection: Connection) -> str | None:
    """How an unversioned alerts table differs from the baseline, or None if it does not."""
    from sqlalchemy import inspect

    inspector = inspect(connection)
    columns = {column["name"] for column in inspector.get_columns(TABLE_NAME)}
    indexes = {str(index["name"]) for index in inspector.get_indexes(TABLE_NAME)}
    differences = []
    if columns - BASELINE_COLUMNS:
        differences.append(f"unexpected columns {', '.join(sorted(columns - BASELINE_COLUMNS))}")
    if BASELINE_COLUMNS - columns:
        differences.append(f"missing columns {', '.join(sorted(BASELINE_COLUMNS - columns))}")
    if BASELINE_INDEXES - indexes:
        differences.append(f"missing indexes {', '.join(sorted(BASELINE_INDEXES - indexes))}")
    return "; ".join(differences) or None


def upgrade_to_head(connection: Connection, where: str) -> MigrationReport:
    """Bring the database of `connection` to the head revision: create it when empty, stamp an
    unversioned table as the baseline (after checking it is one), run the missing steps.

    Call inside a transaction that holds the migration lock; nothing here commits, so the caller's
    rollback undoes every step. Raises `AlertSchemaError` (naming `where`) for a database this
    code must not touch: an unknown revision, a lost table, an unversioned table that is not the
    baseline.
    """
    from alembic import command

    state = read_state(connection)
    if state.at_head:
        return MigrationReport(state, state.head)
    if not state.known or state.lost_table:
        raise AlertSchemaError(str(state.problem(where)))
    config = _config(connection)
    if state.unversioned:
        mismatch = _baseline_mismatch(connection)
        if mismatch:
            raise AlertSchemaError(
                f"The alert store at {where} ({URL_VARIABLE}) has a {TABLE_NAME} table without "
                f"a revision ({VERSION_TABLE} is missing) that is not the one ForecastOps made "
                f"before migrations: {mismatch}. Nothing was changed. Move that table out of the "
                f"way, or point {URL_VARIABLE} at another database."
            )
        command.stamp(config, BASELINE_REVISION)
    command.upgrade(config, "head")
    return MigrationReport(state, state.head)
