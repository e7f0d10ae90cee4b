"""Experiments (seed 001): the `forecastops_experiments` table and its audit trail
`forecastops_experiment_events` (one row per status change), beside the alerts.

Revision ID: 0004_experiments
Revises: 0003_missing_data_type

Two new tables and their indexes; the alerts table is not touched. Statuses and decisions are
VARCHAR(20) with a CHECK of the allowed values, like the alerts' (no native enum).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_experiments"
down_revision = "0003_missing_data_type"
branch_labels = None
depends_on = None

EXPERIMENTS = "forecastops_experiments"
EVENTS = "forecastops_experiment_events"
STATUSES = ("proposed", "approved", "rejected", "in_progress", "shadow_testing", "completed")
DECISIONS = ("adopt", "reject")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _choice(name: str, *values: str) -> sa.Enum:
    """VARCHAR(20) with a CHECK of the allowed values (no native PostgreSQL enum type)."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    op.create_table(
        EXPERIMENTS,
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=False),
        sa.Column("proposer", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", _choice(f"ck_{EXPERIMENTS}_status", *STATUSES), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_actor", sa.String(200), nullable=True),
        sa.Column("objective", sa.String(20), nullable=False),
        sa.Column("training_window_days", sa.Integer(), nullable=False),
        sa.Column("feature_set_version", sa.String(64), nullable=False),
        sa.Column("segment", sa.String(100), nullable=False),
        sa.Column("test_period_days", sa.Integer(), nullable=False),
        sa.Column("experimental_version", sa.String(20), nullable=True),
        sa.Column("test_started_on", sa.Date(), nullable=True),
        sa.Column("decision", _choice(f"ck_{EXPERIMENTS}_decision", *DECISIONS), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("results", sa.JSON(none_as_null=True), nullable=True),
    )
    op.create_index(f"ix_{EXPERIMENTS}_status", EXPERIMENTS, ["status"])
    op.create_table(
        EVENTS,
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("experiment_id", _id(), sa.ForeignKey(f"{EXPERIMENTS}.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("command", sa.String(20), nullable=False),
        sa.Column("from_status", sa.String(20), nullable=True),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
    )
    op.create_index(f"ix_{EVENTS}_experiment_id", EVENTS, ["experiment_id", "id"])
