"""Alembic's entry point for the alert store's migrations.

Run only through `forecastops.stores.alerts.migrations` (`AlertStore.migrate()` /
`create_schema()`),
which hands over a connection that is already inside a transaction holding the migration lock:
Alembic then runs every step in that one transaction and commits nothing itself.
"""

from alembic import context

from forecastops.stores.alerts.migrations import CONNECTION_ATTRIBUTE, VERSION_TABLE

if context.is_offline_mode():
    raise RuntimeError(
        "The alert store's migrations run against a database only (no --sql mode): use "
        "`forecastops doctor --fix`, which calls AlertStore.migrate()."
    )

context.configure(
    connection=context.config.attributes[CONNECTION_ATTRIBUTE],
    version_table=VERSION_TABLE,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
