"""Baseline: the alerts table and its three indexes, exactly as `create_schema()` made them
before the store had migrations (SQLAlchemy `create_all` of the model at that time).

Revision ID: 0001_baseline
Revises: (none)

A database that has this table but no version table was made by that older code: the runner
stamps it with this revision instead of running it (`forecastops.stores.alerts.migrations`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

TABLE = "forecastops_alerts"
OPEN = sa.text("status IN ('unread', 'read')")


def _choice(name: str, *values: str) -> sa.Enum:
    """VARCHAR(20) with a CHECK of the allowed values (no native PostgreSQL enum type)."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "type",
            _choice(
                f"ck_{TABLE}_type",
                "data_drift",
                "performance_drift",
                "contract_break",
                "run_failure",
                "promotion",
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            _choice(f"ck_{TABLE}_severity", "info", "warning", "critical"),
            nullable=False,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("dedup_key", sa.String(500), nullable=True),
        sa.Column("recommendation", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            _choice(f"ck_{TABLE}_status", "unread", "read", "actioned", "dismissed"),
            nullable=False,
        ),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
    )
    op.create_index(f"ix_{TABLE}_status_severity", TABLE, ["status", "severity"])
    op.create_index(f"ix_{TABLE}_created_at", TABLE, ["created_at"])
    op.create_index(
        f"uq_{TABLE}_open_dedup_key",
        TABLE,
        ["dedup_key"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
