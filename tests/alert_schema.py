"""An alert store as ForecastOps made it before its schema had migrations, for the upgrade tests.

`LEGACY_DDL` is what `AlertStore.create_schema()` (SQLAlchemy `create_all`) emitted then, copied
as text so that it stays frozen while the model moves on.
"""

from __future__ import annotations

import sqlalchemy as sa

_CHECKS = """,
\tCONSTRAINT ck_forecastops_alerts_type CHECK (type IN ('data_drift', 'performance_drift', 'contract_break', 'run_failure', 'promotion')),
\tCONSTRAINT ck_forecastops_alerts_severity CHECK (severity IN ('info', 'warning', 'critical')),
\tCONSTRAINT ck_forecastops_alerts_status CHECK (status IN ('unread', 'read', 'actioned', 'dismissed'))
)"""  # noqa: E501


def _table(id_type: str, time_type: str) -> str:
    return f"""CREATE TABLE forecastops_alerts (
\tid {id_type} NOT NULL,
\ttype VARCHAR(20) NOT NULL,
\tseverity VARCHAR(20) NOT NULL,
\ttitle VARCHAR(200) NOT NULL,
\tmessage TEXT NOT NULL,
\tlinks JSON NOT NULL,
\tsubject VARCHAR(500),
\tdedup_key VARCHAR(500),
\trecommendation JSON,
\tcreated_at {time_type} NOT NULL,
\tstatus VARCHAR(20) NOT NULL,
\tstatus_changed_at {time_type} NOT NULL,
\tactor VARCHAR(200),
\tnotes TEXT,
\tPRIMARY KEY (id){_CHECKS}"""


_INDEXES = (
    "CREATE INDEX ix_forecastops_alerts_status_severity ON forecastops_alerts (status, severity)",
    "CREATE INDEX ix_forecastops_alerts_created_at ON forecastops_alerts (created_at)",
    "CREATE UNIQUE INDEX uq_forecastops_alerts_open_dedup_key ON forecastops_alerts (dedup_key) "
    "WHERE status IN ('unread', 'read')",
)
LEGACY_DDL = {
    "sqlite": (_table("INTEGER", "DATETIME"), *_INDEXES),
    "postgresql": (_table("BIGSERIAL", "TIMESTAMP WITH TIME ZONE"), *_INDEXES),
}
"""Backend -> the statements `create_schema()` ran before migrations (table, then indexes)."""

LATEST_INDEX = "ix_forecastops_alerts_dedup_key_created_at"
"""The index revision 0002_latest_index adds."""


def make_legacy_store(url: str) -> None:
    """Create the alerts table at `url` (a SQLite file or a PostgreSQL database) the way
    ForecastOps did before migrations: no version table."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            for statement in LEGACY_DDL[engine.dialect.name]:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def index_names(url: str, table: str = "forecastops_alerts") -> set[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return {str(index["name"]) for index in sa.inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
