"""Index (dedup_key, created_at, id) for `AlertStore.latest(dedup_key)`.

Revision ID: 0002_latest_index
Revises: 0001_baseline

`latest` asks for the newest alert with a key whatever its status, newest first. The only index
on the key was the partial unique one over *open* alerts, which a query without the status
condition cannot use, so it scanned the table. This one answers it with one index lookup read
backwards (no sort). A plain CREATE INDEX: it blocks writes to the table while it builds, which
for an alerts table is a moment; migrations run with the services stopped anyway.
"""

from alembic import op

revision = "0002_latest_index"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

TABLE = "forecastops_alerts"


def upgrade() -> None:
    op.create_index(f"ix_{TABLE}_dedup_key_created_at", TABLE, ["dedup_key", "created_at", "id"])
