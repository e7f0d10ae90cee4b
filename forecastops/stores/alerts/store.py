"""The alert store: what the pipeline wants an operator to look at, kept in SQL (SQLAlchemy 2).

Sensors and assets raise alerts (data drift, performance drift, a broken landing contract, a
failed run, a promotion); the UI and the CLI list them and move each one through its lifecycle:

    unread ──> read ──> actioned
       │         └────> dismissed
       ├──────────────> actioned
       └──────────────> dismissed

| method | from | to |
|---|---|---|
| `mark_read(id, actor)` | unread | read |
| `action(id, actor, notes)` | unread, read | actioned |
| `dismiss(id, actor, notes)` | unread, read | dismissed |

Every other move (read -> read, actioned -> read, dismissed -> actioned, ...) raises
`AlertTransitionError`, which names the alert, its current status (and who set it when) and the
states it may still move to; an unknown id raises `AlertNotFoundError`. Actioned and dismissed
are final. An alert is *open* while it is unread or read (`OPEN_STATUSES`).

Concurrency. A transition is one conditional statement,
`UPDATE ... SET status = :to WHERE id = :id AND status IN (:allowed_from)`, and succeeds only if
it changed exactly one row. The database serialises the updates of one row (SQLite takes a
write lock on the file; PostgreSQL, at READ COMMITTED, makes the second UPDATE wait for the
first and re-check its WHERE against the committed row), so when several threads or processes
act on the same alert exactly one wins and the others get `AlertTransitionError` with the
winner's status and name. Statuses only move forward, so a failed update never hides a state
that would have allowed it.

De-duplication. `dedup_key` is unique among *open* alerts, enforced by the database with a
partial unique index (`WHERE status IN ('unread', 'read')`). Raising an alert whose key belongs
to an open alert returns that alert unchanged (the new title, message and severity are not
applied); once it is actioned or dismissed the same key raises a new alert. Two processes
raising the same key at once both get the one alert: the loser's INSERT hits the index and it
reads the winner's row. Put whatever makes two alerts "the same" into the key, e.g.
`"data_drift:raw_sales:2025-03-01"`.

Backends. SQLite (a file; the default is `$FORECASTOPS_HOME/alerts.db`) and PostgreSQL through
psycopg 3. With SQLAlchemy 2.1 `postgresql://` already means `postgresql+psycopg://` (psycopg 3;
2.0 meant psycopg2, which is not installed), and both spellings are accepted. The URL comes from
the setting `FORECASTOPS_ALERTS_DB_URL`; a URL the store cannot use raises
`AlertStoreConfigError` naming that variable and the fix. SQLite files are opened in WAL mode
with a busy timeout, so readers do not block the writer and writers queue rather than fail.

Schema. Versioned with Alembic migrations kept in the package
(`forecastops.stores.alerts.migrations`,
revision table `forecastops_alerts_alembic_version`). `migrate()` brings a database to the head
revision: it creates an empty one, stamps a table made before migrations existed as the baseline
and runs the missing steps (`forecastops doctor --fix` calls it). `create_schema()`, which every
process calls before its first use of a store, only creates an *empty* database at head; a
database that is behind raises `AlertSchemaError` saying to back it up and run
`forecastops doctor --fix` (docs/decisions/0009-alert-store-migrations.md says why processes do
not migrate by themselves). A change to the table below needs a migration.

The public API returns frozen dataclasses (`Alert`, `AlertLink`), never ORM objects, so callers
hold no session. Times are timezone-aware UTC.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Engine,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from forecastops.domain.alerts import (
    ALLOWED_TRANSITIONS,
    OPEN_STATUSES,
    SEVERITIES_WORST_FIRST,
    Alert,
    AlertLink,
    AlertStatus,
    AlertType,
    Severity,
)
from forecastops.domain.secrets import mask_url, mask_urls_in
from forecastops.stores.alerts.identity import (
    TABLE_NAME,
    URL_VARIABLE,
    AlertError,
    AlertNotFoundError,
    AlertSchemaError,
    AlertStoreConfigError,
    AlertStoreUnavailableError,
    InvalidAlertError,
)

if TYPE_CHECKING:
    from forecastops.stores.alerts.migrations import MigrationReport, SchemaState

URL_EXAMPLES = "sqlite:////absolute/path/alerts.db or postgresql://user@host:5432/dbname"

TITLE_MAX_CHARS = 200
KEY_MAX_CHARS = 500
"""Longest `subject` and `dedup_key`."""
ACTOR_MAX_CHARS = 200
DEFAULT_LIST_LIMIT = 100
SQLITE_BUSY_TIMEOUT_S = 15.0
"""How long a SQLite writer waits for the file's write lock before giving up."""
POSTGRES_CONNECT_TIMEOUT_S = 10
MIGRATION_LOCK_KEY = int.from_bytes(b"FOalerts", "big")
"""PostgreSQL advisory lock held while the alert schema is created or migrated."""
MIGRATION_LOCK_TIMEOUT_S = 60
"""How long a PostgreSQL migrator waits for that lock (or a table lock) before giving up."""
DEDUP_ATTEMPTS = 5
"""Insert/read rounds `raise_alert` makes when racing other raisers of the same `dedup_key`."""


_SOURCES: Mapping[AlertStatus, tuple[AlertStatus, ...]] = MappingProxyType(
    {
        target: tuple(s for s, nexts in ALLOWED_TRANSITIONS.items() if target in nexts)
        for target in AlertStatus
    }
)


class AlertTransitionError(AlertError):
    """The alert is not in a state the requested move may start from (or another actor won)."""

    def __init__(self, alert: Alert, requested: AlertStatus) -> None:
        self.alert_id = alert.id
        self.current = alert.status
        self.requested = requested
        self.allowed = ALLOWED_TRANSITIONS[alert.status]
        by = f", by {alert.actor}" if alert.actor else ""
        since = f" (since {alert.status_changed_at.isoformat()}{by})"
        if self.allowed:
            nexts = ", ".join(self.allowed)
            allowed = f"From {alert.status} it may only move to: {nexts}."
        else:
            allowed = f"{alert.status.capitalize()} is final: no further transitions are allowed."
        super().__init__(
            f"Cannot mark alert {alert.id} as {requested}: it is {alert.status}{since}. {allowed}"
        )


# --- the table ------------------------------------------------------------------------------


class _UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no offset: store UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InvalidAlertError(f"Alert times must be timezone-aware, got {value!r}.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_E = TypeVar("_E", bound=StrEnum)


def _enum_column(enum: type[_E], name: str) -> SqlEnum:
    """A VARCHAR + CHECK column of the enum's values (no native PostgreSQL enum type)."""
    return SqlEnum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


_OPEN_SQL = text("status IN ('unread', 'read')")


class _Base(DeclarativeBase):
    pass


class _AlertRow(_Base):
    __tablename__ = TABLE_NAME
    __table_args__ = (
        Index(f"ix_{TABLE_NAME}_status_severity", "status", "severity"),
        Index(f"ix_{TABLE_NAME}_created_at", "created_at"),
        Index(f"ix_{TABLE_NAME}_dedup_key_created_at", "dedup_key", "created_at", "id"),
        Index(
            f"uq_{TABLE_NAME}_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=_OPEN_SQL,
            postgresql_where=_OPEN_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    type: Mapped[AlertType] = mapped_column(_enum_column(AlertType, f"ck_{TABLE_NAME}_type"))
    severity: Mapped[Severity] = mapped_column(_enum_column(Severity, f"ck_{TABLE_NAME}_severity"))
    title: Mapped[str] = mapped_column(String(TITLE_MAX_CHARS))
    message: Mapped[str] = mapped_column(Text)
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    subject: Mapped[str | None] = mapped_column(String(KEY_MAX_CHARS))
    dedup_key: Mapped[str | None] = mapped_column(String(KEY_MAX_CHARS))
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    status: Mapped[AlertStatus] = mapped_column(
        _enum_column(AlertStatus, f"ck_{TABLE_NAME}_status")
    )
    status_changed_at: Mapped[datetime] = mapped_column(_UTCDateTime())
    actor: Mapped[str | None] = mapped_column(String(ACTOR_MAX_CHARS))
    notes: Mapped[str | None] = mapped_column(Text)


def _to_alert(row: _AlertRow) -> Alert:
    return Alert(
        id=row.id,
        type=AlertType(row.type),
        severity=Severity(row.severity),
        title=row.title,
        message=row.message,
        links=tuple(AlertLink(label=link["label"], url=link["url"]) for link in row.links),
        subject=row.subject,
        dedup_key=row.dedup_key,
        recommendation=(
            None if row.recommendation is None else MappingProxyType(dict(row.recommendation))
        ),
        created_at=row.created_at,
        status=AlertStatus(row.status),
        status_changed_at=row.status_changed_at,
        actor=row.actor,
        notes=row.notes,
    )


# --- argument checks ------------------------------------------------------------------------


def _member(enum: type[_E], value: object, what: str) -> _E:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return enum(value)
    except ValueError:
        choices = ", ".join(enum)
        raise InvalidAlertError(f"Unknown alert {what} {value!r}; use one of: {choices}.") from None


def _members(enum: type[_E], value: object, what: str) -> builtins.list[_E] | None:
    """None (no filter), one value, or a collection of values -> the enum members."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        return [_member(enum, value, what)]
    return [_member(enum, item, what) for item in value]


def _text(what: str, value: object, max_chars: int | None, *, required: bool = True) -> str:
    """`value`, checked, with the password of any URL in it masked (an alert never stores
    one, whatever its caller quoted)."""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidAlertError(f"Alert {what} must be a non-empty string, got {value!r}.")
    value = mask_urls_in(value)
    if max_chars is not None and len(value) > max_chars:
        raise InvalidAlertError(
            f"Alert {what} is {len(value)} characters long; the limit is {max_chars}."
        )
    return value


def _optional_text(what: str, value: object, max_chars: int | None) -> str | None:
    return None if value is None else _text(what, value, max_chars)


def _links(links: Iterable[AlertLink | Mapping[str, str]]) -> builtins.list[dict[str, str]]:
    if isinstance(links, str | bytes | Mapping):
        raise InvalidAlertError(
            f"Alert links must be a list of {{label, url}}, got {type(links).__name__}."
        )
    result = []
    for index, link in enumerate(links):
        if isinstance(link, AlertLink):
            link = link.to_dict()
        if not isinstance(link, Mapping) or set(link) != {"label", "url"}:
            raise InvalidAlertError(
                f"Alert link #{index} must have exactly the keys 'label' and 'url', got {link!r}."
            )
        result.append(
            {
                "label": _text(f"link #{index} label", link["label"], None),
                "url": _text(f"link #{index} url", link["url"], None),
            }
        )
    return result


def _recommendation(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidAlertError(
            f"Alert recommendation must be a JSON object (a mapping), got {type(value).__name__}."
        )
    try:
        return dict(json.loads(json.dumps(dict(value))))
    except (TypeError, ValueError) as error:
        raise InvalidAlertError(
            f"Alert recommendation must be JSON-serialisable ({error}): {value!r}."
        ) from None


def _alert_id(alert_id: object) -> int:
    if isinstance(alert_id, bool) or not isinstance(alert_id, int):
        raise InvalidAlertError(f"Alert ids are integers, got {alert_id!r}.")
    return alert_id


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- the URL --------------------------------------------------------------------------------


def _config_error(url: str, problem: str, fix: str) -> AlertStoreConfigError:
    return AlertStoreConfigError(f"{URL_VARIABLE}={url!r} {problem}. {fix}")


def _parse_url(raw: str) -> URL:
    """Check that `raw` is a SQLite-file or PostgreSQL (psycopg 3) URL; return it parsed."""
    if not isinstance(raw, str) or not raw.strip():
        raise _config_error(str(raw), "is empty", f"Set it to a database URL, e.g. {URL_EXAMPLES}.")
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise _config_error(
            mask_url(raw),
            "is not a database URL",
            f"Use a SQLAlchemy URL, e.g. {URL_EXAMPLES}.",
        ) from None
    masked = mask_url(raw.strip())
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise _config_error(
                masked, f"uses the SQLite driver {driver!r}", "Write sqlite:///... (pysqlite)."
            )
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise _config_error(
                masked,
                "is an in-memory SQLite database, which every connection sees empty",
                "Use a file: sqlite:////absolute/path/alerts.db.",
            )
        if not Path(database).is_absolute():
            raise _config_error(
                masked,
                "is a SQLite path relative to the working directory, so processes started in "
                "different folders would not share alerts",
                f"Use an absolute path: sqlite:///{Path(database).resolve()}.",
            )
        return url
    if backend == "postgresql":
        if driver not in ("", "psycopg"):
            raise _config_error(
                masked,
                f"asks for the PostgreSQL driver {driver!r}; ForecastOps installs psycopg 3 only",
                "Write postgresql://... or postgresql+psycopg://...",
            )
        url = url.set(drivername="postgresql+psycopg")
        if not url.database:
            raise _config_error(
                masked,
                "names no database",
                "Add one after the host, e.g. postgresql://user@host:5432/forecastops.",
            )
        return url
    raise _config_error(
        masked,
        f"uses the backend {backend!r}; the alert store supports SQLite and PostgreSQL",
        f"Use e.g. {URL_EXAMPLES}.",
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _sqlite_without_implicit_transactions(dbapi_connection: Any, record: Any) -> None:
    """WAL, and the sqlite3 module's own transaction handling off (`_begin_immediate` begins)."""
    _sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- the store ------------------------------------------------------------------------------


class AlertStore:
    """Alerts in the SQL database at `url` (`FORECASTOPS_ALERTS_DB_URL`).

    Constructing the store checks the URL (`AlertStoreConfigError`) but does not connect; call
    `create_schema()` once (it is idempotent) before the first use, and `migrate()` to upgrade
    a database made by an older ForecastOps. A store is
    safe to share between threads; every method is its own transaction. `clock` returns the
    (timezone-aware) time recorded as `created_at` / `status_changed_at`; tests may pin it.
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self._url = _parse_url(url)
        self.display_url = mask_url(self._url.render_as_string(hide_password=False))
        """The URL with its password masked, for messages and logs."""
        self._clock = clock or _utc_now
        if self._url.get_backend_name() == "sqlite":
            engine = create_engine(self._url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in self._url.query:
                connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
            try:
                engine = create_engine(self._url, pool_pre_ping=True, connect_args=connect_args)
            except NoSuchModuleError as error:  # pragma: no cover - psycopg is a dependency
                raise _config_error(
                    self.display_url, f"needs a driver that is not installed ({error})", ""
                ) from None
        self._engine: Engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"AlertStore({self.display_url!r})"

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and tests; use the methods for alerts)."""
        return self._engine

    def close(self) -> None:
        """Close the pooled connections (the store reconnects if used again)."""
        self._engine.dispose()

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with self._sessions() as session:
                yield session
        except (OperationalError, ProgrammingError, InterfaceError) as error:
            raise AlertStoreUnavailableError(
                f"The alert store at {self.display_url} ({URL_VARIABLE}) failed: "
                f"{getattr(error, 'orig', None) or error}. Check that the database server is "
                f"running and reachable, that the database exists, and that its schema is "
                f"there (`forecastops doctor --fix`, or AlertStore.create_schema())."
            ) from error

    # --- schema ---------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Make sure the schema this code needs is there: create it at the head revision in an
        empty database; leave one already at head alone.

        Any other database raises `AlertSchemaError` and is not touched: one that is behind
        (made by an older ForecastOps, with or without a revision) wants a backup and
        `migrate()` (`forecastops doctor --fix`), one at an unknown revision wants the newer
        ForecastOps that migrated it. Idempotent, and safe when several processes run it at
        once (the second waits for the first's lock and finds the schema there). For SQLite
        the file's folder is created too.
        """
        from forecastops.stores.alerts.migrations import read_state, upgrade_to_head

        self._make_sqlite_folder()
        with self._database_errors("check the alerts schema"), self._engine.connect() as conn:
            state = read_state(conn)
        if state.at_head:
            return
        if state.empty:
            with self._database_errors("create the alerts schema"), self._locked() as conn:
                state = read_state(conn)  # another process may have created it meanwhile
                if state.empty:
                    upgrade_to_head(conn, self.display_url)
                    return
        problem = state.problem(self.display_url)
        if problem:
            raise AlertSchemaError(problem)

    def migrate(self) -> MigrationReport:
        """Bring the database to the head revision and say what was done: create an empty one,
        stamp a table made before migrations existed as the baseline revision, run the
        missing steps.

        All in one transaction holding a lock, so concurrent callers queue (the later ones find
        nothing to do) and a failing step leaves the database as it was; the `AlertSchemaError`
        then names the revision it is still at. There are no downgrades: back the database up
        first (`forecastops doctor --fix` is the operator's way to run this).
        """
        from alembic.util import CommandError

        from forecastops.stores.alerts.migrations import head_revision, read_state, upgrade_to_head

        self._make_sqlite_folder()
        before = "its current revision"
        try:
            with self._locked() as connection:
                before = read_state(connection).describe_revision()
                return upgrade_to_head(connection, self.display_url)
        except AlertSchemaError:
            raise
        except (DBAPIError, CommandError) as error:
            reason = getattr(error, "orig", None) or error
            raise AlertSchemaError(
                f"Could not migrate the alert store at {self.display_url} ({URL_VARIABLE}) "
                f"to {head_revision()}: {reason}. The migration runs in one transaction, so the "
                f"database was left as it was (at {before}). Fix the cause (is the server "
                f"reachable, may the user create tables and indexes?) and run "
                f"`forecastops doctor --fix` again."
            ) from error

    def schema_state(self) -> SchemaState:
        """Where this database's schema stands against the head revision (reads only)."""
        from forecastops.stores.alerts.migrations import read_state

        with self._database_errors("read the alerts schema"), self._engine.connect() as conn:
            return read_state(conn)

    def _make_sqlite_folder(self) -> None:
        if self._url.get_backend_name() != "sqlite":
            return
        folder = Path(self._url.database or "").parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _config_error(
                self.display_url,
                f"points into {folder}, which cannot be created ({error.strerror})",
                "Point it at a folder you can write to.",
            ) from None

    @contextmanager
    def _database_errors(self, doing: str) -> Iterator[None]:
        """Database errors while `doing` become `AlertStoreUnavailableError` with the fix."""
        try:
            yield
        except DBAPIError as error:
            raise AlertStoreUnavailableError(
                f"Could not {doing} at {self.display_url} ({URL_VARIABLE}): {error.orig}. Check "
                f"that the database server is running and reachable, that the database exists "
                f"and that the user may create tables in it."
            ) from error

    @contextmanager
    def _locked(self) -> Iterator[Connection]:
        """A connection inside a transaction that holds the alert store's migration lock,
        committed when the block ends (rolled back if it raises).

        PostgreSQL: a transaction-scoped advisory lock (DDL is transactional there). SQLite: a
        separate engine whose transactions start with BEGIN IMMEDIATE, which takes the file's
        write lock at once (the sqlite3 module would otherwise run DDL outside any transaction).
        """
        if self._url.get_backend_name() == "sqlite":
            engine = create_engine(self._url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            event.listen(engine, "connect", _sqlite_without_implicit_transactions)
            event.listen(engine, "begin", _begin_immediate)
            try:
                with engine.connect() as connection, connection.begin():
                    yield connection
            finally:
                engine.dispose()
            return
        with self._engine.connect() as connection, connection.begin():
            connection.execute(
                text(f"SET LOCAL lock_timeout = '{MIGRATION_LOCK_TIMEOUT_S}s'"),
            )
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            yield connection

    # --- raising and reading --------------------------------------------------------------

    def raise_alert(
        self,
        *,
        type: AlertType | str,
        severity: Severity | str,
        title: str,
        message: str,
        links: Iterable[AlertLink | Mapping[str, str]] = (),
        subject: str | None = None,
        dedup_key: str | None = None,
        recommendation: Mapping[str, Any] | None = None,
    ) -> Alert:
        """Store a new unread alert and return it.

        If `dedup_key` is given and an open (unread or read) alert has it, that alert is returned
        instead, unchanged (its own id, `created_at` and status). Arguments are checked first
        (`InvalidAlertError`): `title` at most 200 characters, `links` a list of
        `{label, url}`, `recommendation` a JSON object.
        """
        now = self._clock()
        row_values: dict[str, Any] = {
            "type": _member(AlertType, type, "type"),
            "severity": _member(Severity, severity, "severity"),
            "title": _text("title", title, TITLE_MAX_CHARS),
            "message": _text("message", message, None, required=False),
            "links": _links(links),
            "subject": _optional_text("subject", subject, KEY_MAX_CHARS),
            "dedup_key": _optional_text("dedup_key", dedup_key, KEY_MAX_CHARS),
            "recommendation": _recommendation(recommendation),
            "created_at": now,
            "status": AlertStatus.UNREAD,
            "status_changed_at": now,
            "actor": None,
            "notes": None,
        }
        if row_values["dedup_key"] is None:
            return self._insert(row_values)
        last_error: IntegrityError | None = None
        for _ in range(DEDUP_ATTEMPTS):
            existing = self.open_alert(row_values["dedup_key"])
            if existing is not None:
                return existing
            try:
                return self._insert(row_values)
            except IntegrityError as error:  # an open alert with this key appeared meanwhile
                last_error = error
        raise AlertStoreUnavailableError(
            f"Could not raise the alert with dedup_key {row_values['dedup_key']!r} at "
            f"{self.display_url}: {DEDUP_ATTEMPTS} attempts collided with other writers."
        ) from last_error

    def _insert(self, values: dict[str, Any]) -> Alert:
        with self._session() as session, session.begin():
            row = _AlertRow(**values)
            session.add(row)
            session.flush()
            return _to_alert(row)

    def open_alert(self, dedup_key: str) -> Alert | None:
        """The open (unread or read) alert with this `dedup_key`, or None."""
        with self._session() as session:
            row = session.scalars(
                select(_AlertRow).where(
                    _AlertRow.dedup_key == dedup_key, _AlertRow.status.in_(OPEN_STATUSES)
                )
            ).one_or_none()
            return None if row is None else _to_alert(row)

    def latest(self, dedup_key: str) -> Alert | None:
        """The newest alert with this `dedup_key` whatever its status (open, actioned or
        dismissed), or None if none was ever raised. One lookup in the index (dedup_key,
        created_at, id), revision 0002_latest_index."""
        with self._session() as session:
            row = session.scalars(
                select(_AlertRow)
                .where(_AlertRow.dedup_key == dedup_key)
                .order_by(_AlertRow.created_at.desc(), _AlertRow.id.desc())
                .limit(1)
            ).one_or_none()
            return None if row is None else _to_alert(row)

    def get(self, alert_id: int) -> Alert:
        """The alert with this id; `AlertNotFoundError` if there is none."""
        alert_id = _alert_id(alert_id)
        with self._session() as session:
            row = session.get(_AlertRow, alert_id)
            if row is None:
                raise AlertNotFoundError(alert_id, self.display_url)
            return _to_alert(row)

    def list(
        self,
        *,
        status: AlertStatus | str | Iterable[AlertStatus | str] | None = None,
        severity: Severity | str | Iterable[Severity | str] | None = None,
        type: AlertType | str | Iterable[AlertType | str] | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> builtins.list[Alert]:
        """Alerts newest first, at most `limit` of them.

        Each filter is None (any), one value, or several (e.g. `status=OPEN_STATUSES`).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidAlertError(f"limit must be a positive integer, got {limit!r}.")
        query = select(_AlertRow)
        statuses = _members(AlertStatus, status, "status")
        if statuses is not None:
            query = query.where(_AlertRow.status.in_(statuses))
        severities = _members(Severity, severity, "severity")
        if severities is not None:
            query = query.where(_AlertRow.severity.in_(severities))
        types = _members(AlertType, type, "type")
        if types is not None:
            query = query.where(_AlertRow.type.in_(types))
        query = query.order_by(_AlertRow.created_at.desc(), _AlertRow.id.desc()).limit(limit)
        with self._session() as session:
            return [_to_alert(row) for row in session.scalars(query)]

    def open_worst_first(self, limit: int) -> builtins.list[Alert]:
        """The open (unread or read) alerts, critical first, then warning, then info, newest
        first within a severity; at most `limit`."""
        listed: builtins.list[Alert] = []
        for severity in SEVERITIES_WORST_FIRST:
            room = limit - len(listed)
            if room <= 0:
                break
            listed += self.list(status=OPEN_STATUSES, severity=severity, limit=room)
        return listed

    def open_counts(self) -> dict[Severity, int]:
        """Open (unread or read) alerts per severity; every severity is a key, zeros included."""
        query = (
            select(_AlertRow.severity, func.count())
            .where(_AlertRow.status.in_(OPEN_STATUSES))
            .group_by(_AlertRow.severity)
        )
        counts = dict.fromkeys(Severity, 0)
        with self._session() as session:
            for severity, count in session.execute(query):
                counts[Severity(severity)] = int(count)
        return counts

    def raised_after(
        self, alert_id: int, *, severity: Iterable[Severity | str], limit: int
    ) -> builtins.list[Alert]:
        """Alerts of `severity` with an id above `alert_id`, oldest first (ids grow as alerts
        are raised): what a reader that has seen everything up to `alert_id` has not seen."""
        query = (
            select(_AlertRow)
            .where(_AlertRow.id > alert_id)
            .where(_AlertRow.severity.in_(_members(Severity, severity, "severity") or ()))
            .order_by(_AlertRow.id)
            .limit(limit)
        )
        with self._session() as session:
            return [_to_alert(row) for row in session.scalars(query)]

    def resolved_after(
        self, when: datetime, alert_id: int, *, severity: Iterable[Severity | str], limit: int
    ) -> builtins.list[Alert]:
        """Alerts of `severity` actioned or dismissed after (`when`, `alert_id`) in the order
        (status_changed_at, id), oldest first: the resolutions a reader has not seen."""
        changed = _AlertRow.status_changed_at
        query = (
            select(_AlertRow)
            .where(_AlertRow.status.in_((AlertStatus.ACTIONED, AlertStatus.DISMISSED)))
            .where(_AlertRow.severity.in_(_members(Severity, severity, "severity") or ()))
            .where((changed > when) | ((changed == when) & (_AlertRow.id > alert_id)))
            .order_by(changed, _AlertRow.id)
            .limit(limit)
        )
        with self._session() as session:
            return [_to_alert(row) for row in session.scalars(query)]

    def newest_id(self) -> int:
        """The id of the newest alert, 0 when there is none."""
        with self._session() as session:
            return int(session.scalar(select(func.max(_AlertRow.id))) or 0)

    def newest_resolution(self) -> tuple[datetime, int] | None:
        """(status_changed_at, id) of the alert actioned or dismissed last, None if none was:
        where a reader of `resolved_after` starts that has seen every resolution so far."""
        query = (
            select(_AlertRow)
            .where(_AlertRow.status.in_((AlertStatus.ACTIONED, AlertStatus.DISMISSED)))
            .order_by(_AlertRow.status_changed_at.desc(), _AlertRow.id.desc())
            .limit(1)
        )
        with self._session() as session:
            row = session.scalars(query).one_or_none()
            return None if row is None else (row.status_changed_at, row.id)

    # --- transitions ----------------------------------------------------------------------

    def mark_read(self, alert_id: int, actor: str) -> Alert:
        """unread -> read. Returns the updated alert."""
        return self._transition(alert_id, AlertStatus.READ, actor, notes=None, set_notes=False)

    def action(self, alert_id: int, actor: str, notes: str | None = None) -> Alert:
        """unread | read -> actioned (final): someone did what the alert asked."""
        return self._transition(alert_id, AlertStatus.ACTIONED, actor, notes, set_notes=True)

    def dismiss(self, alert_id: int, actor: str, notes: str | None = None) -> Alert:
        """unread | read -> dismissed (final): nothing to do; `notes` can say why."""
        return self._transition(alert_id, AlertStatus.DISMISSED, actor, notes, set_notes=True)

    def _transition(
        self,
        alert_id: int,
        target: AlertStatus,
        actor: str,
        notes: str | None,
        *,
        set_notes: bool,
    ) -> Alert:
        alert_id = _alert_id(alert_id)
        values: dict[str, Any] = {
            "status": target,
            "status_changed_at": self._clock(),
            "actor": _text("actor", actor, ACTOR_MAX_CHARS),
        }
        if set_notes:
            values["notes"] = _optional_text("notes", notes, None)
        statement = (
            update(_AlertRow)
            .where(_AlertRow.id == alert_id, _AlertRow.status.in_(_SOURCES[target]))
            .values(values)
        )
        with self._session() as session, session.begin():
            if session.connection().execute(statement).rowcount == 1:
                row = session.get(_AlertRow, alert_id)
                assert row is not None  # we just updated it, inside this transaction
                return _to_alert(row)
        # Not in a state the move may start from (or another actor got there first). Statuses
        # only move forward, so the state read now is still one the move cannot start from.
        raise AlertTransitionError(self.get(alert_id), target)
