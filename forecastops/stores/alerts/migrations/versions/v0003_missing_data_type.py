"""Alert type `missing_data`: a day of the training window without delivered data.

Revision ID: 0003_missing_data_type
Revises: 0002_latest_index

The type column is a VARCHAR with a CHECK of the allowed values (no native enum), so a new type
rewrites that CHECK. PostgreSQL drops and re-adds the constraint. SQLite cannot alter a
constraint, so the table is rebuilt: copied to a scratch table, dropped, created again under its
own name with the new CHECK (a rename would leave it quoted, and batch mode reorders the
constraints, so the schema would differ in text from what the model creates) and copied back,
then its indexes are made again. Alerts keep their ids.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_missing_data_type"
down_revision = "0002_latest_index"
branch_labels = None
depends_on = None

TABLE = "forecastops_alerts"
SCRATCH = f"{TABLE}_0003"
OPEN = sa.text("status IN ('unread', 'read')")
OLD_TYPES = ("data_drift", "performance_drift", "contract_break", "run_failure", "promotion")
NEW_TYPES = (*OLD_TYPES, "missing_data")
COLUMNS = (
    "id, type, severity, title, message, links, subject, dedup_key, recommendation, "
    "created_at, status, status_changed_at, actor, notes"
)


def _choice(name: str, *values: str) -> sa.Enum:
    """VARCHAR(20) with a CHECK of the allowed values (no native PostgreSQL enum type)."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _create(table: str) -> None:
    """The alerts table under `table`, as the model defines it at this revision."""
    op.create_table(
        table,
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("type", _choice(f"ck_{TABLE}_type", *NEW_TYPES), nullable=False),
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


def _copy(source: str, target: str) -> None:
    op.execute(f"INSERT INTO {target} ({COLUMNS}) SELECT {COLUMNS} FROM {source}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(f"ck_{TABLE}_type", TABLE, type_="check")
        op.create_check_constraint(f"ck_{TABLE}_type", TABLE, sa.column("type").in_(NEW_TYPES))
        return
    _create(SCRATCH)
    _copy(TABLE, SCRATCH)
    op.drop_table(TABLE)
    _create(TABLE)
    _copy(SCRATCH, TABLE)
    op.drop_table(SCRATCH)
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
    op.create_index(f"ix_{TABLE}_dedup_key_created_at", TABLE, ["dedup_key", "created_at", "id"])
