"""The experiment store: experiments (seed 001) kept in the alert store's SQL database, in two
tables made by migration `0004_experiments` (docs/decisions/0023-experiments.md).

`forecastops_experiments` holds one row per experiment (its configuration, status, decision and
results); `forecastops_experiment_events` one row per status change (time, actor, command, from,
to, notes): the audit trail, written in the same transaction as the change.

A move is one conditional statement, `UPDATE ... SET status = :to WHERE id = :id AND status =
:from`, like the alerts' (`forecastops.stores.alerts.store`): of several actors moving one
experiment at once exactly one wins; the others get `ExperimentTransitionError` naming the
winner's status and the commands it still allows. The allowed moves are
`forecastops.domain.experiments.TRANSITIONS`.

The store shares the `AlertStore`'s engine (its URL, `FORECASTOPS_ALERTS_DB_URL`, and its schema:
`AlertStore.create_schema()` / `migrate()` make both tables); its errors are the alert store's
(`AlertStoreUnavailableError`, ...), and an unknown id is `ExperimentNotFoundError`.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from forecastops.domain.experiments import (
    TRANSITIONS,
    Decision,
    Experiment,
    ExperimentCommand,
    ExperimentConfig,
    ExperimentError,
    ExperimentEvent,
    ExperimentResults,
    ExperimentStatus,
    ExperimentTransitionError,
    InvalidExperimentError,
    check_config,
)
from forecastops.domain.secrets import mask_urls_in
from forecastops.stores.alerts.store import (
    ACTOR_MAX_CHARS,
    TITLE_MAX_CHARS,
    AlertStore,
    _Base,
    _enum_column,
    _UTCDateTime,
)

EXPERIMENTS_TABLE = "forecastops_experiments"
EVENTS_TABLE = "forecastops_experiment_events"
PROPOSE = "propose"
"""The `command` of an experiment's first event (it has no status before)."""
MAX_TEST_PERIOD_DAYS = 366
"""Longest test period: a year of realized days."""


class ExperimentNotFoundError(ExperimentError, LookupError):
    """No experiment has the id asked for."""

    def __init__(self, experiment_id: int, store: str) -> None:
        self.experiment_id = experiment_id
        super().__init__(f"No experiment with id {experiment_id} in the store at {store}.")


class _ExperimentRow(_Base):
    __tablename__ = EXPERIMENTS_TABLE
    __table_args__ = (Index(f"ix_{EXPERIMENTS_TABLE}_status", "status"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    title: Mapped[str] = mapped_column(String(TITLE_MAX_CHARS))
    hypothesis: Mapped[str] = mapped_column(Text)
    proposer: Mapped[str] = mapped_column(String(ACTOR_MAX_CHARS))
    created_at: Mapped[Any] = mapped_column(_UTCDateTime())
    status: Mapped[ExperimentStatus] = mapped_column(
        _enum_column(ExperimentStatus, f"ck_{EXPERIMENTS_TABLE}_status")
    )
    status_changed_at: Mapped[Any] = mapped_column(_UTCDateTime())
    status_actor: Mapped[str | None] = mapped_column(String(ACTOR_MAX_CHARS))
    objective: Mapped[str] = mapped_column(String(20))
    training_window_days: Mapped[int] = mapped_column(Integer)
    feature_set_version: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(100))
    test_period_days: Mapped[int] = mapped_column(Integer)
    experimental_version: Mapped[str | None] = mapped_column(String(20))
    test_started_on: Mapped[date | None] = mapped_column(Date)
    decision: Mapped[Decision | None] = mapped_column(
        _enum_column(Decision, f"ck_{EXPERIMENTS_TABLE}_decision")
    )
    rationale: Mapped[str | None] = mapped_column(Text)
    results: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class _EventRow(_Base):
    __tablename__ = EVENTS_TABLE
    __table_args__ = (Index(f"ix_{EVENTS_TABLE}_experiment_id", "experiment_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    experiment_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey(f"{EXPERIMENTS_TABLE}.id")
    )
    at: Mapped[Any] = mapped_column(_UTCDateTime())
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX_CHARS))
    command: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)


def _to_event(row: _EventRow) -> ExperimentEvent:
    return ExperimentEvent(
        at=row.at,
        actor=row.actor,
        command=row.command,
        from_status=None if row.from_status is None else ExperimentStatus(row.from_status),
        to_status=ExperimentStatus(row.to_status),
        notes=row.notes,
    )


def _to_experiment(row: _ExperimentRow, events: Iterable[_EventRow] = ()) -> Experiment:
    return Experiment(
        id=row.id,
        title=row.title,
        hypothesis=row.hypothesis,
        proposer=row.proposer,
        created_at=row.created_at,
        status=ExperimentStatus(row.status),
        status_changed_at=row.status_changed_at,
        status_actor=row.status_actor,
        config=ExperimentConfig(
            objective=row.objective,
            training_window_days=row.training_window_days,
            feature_set_version=row.feature_set_version,
            segment=row.segment,
        ),
        test_period_days=row.test_period_days,
        experimental_version=row.experimental_version,
        test_started_on=row.test_started_on,
        decision=None if row.decision is None else Decision(row.decision),
        rationale=row.rationale,
        results=None if row.results is None else ExperimentResults.from_dict(row.results),
        events=tuple(_to_event(event) for event in events),
    )


def _text(what: str, value: object, max_chars: int | None, *, required: bool = True) -> str:
    """`value` checked, with the password of any URL in it masked."""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidExperimentError(
            f"Experiment {what} must be a non-empty string, got {value!r}."
        )
    value = mask_urls_in(value.strip())
    if max_chars is not None and len(value) > max_chars:
        raise InvalidExperimentError(
            f"Experiment {what} is {len(value)} characters long; the limit is {max_chars}."
        )
    return value


def _optional_text(what: str, value: object) -> str | None:
    return None if value is None else _text(what, value, None)


def _experiment_id(experiment_id: object) -> int:
    if isinstance(experiment_id, bool) or not isinstance(experiment_id, int):
        raise InvalidExperimentError(f"Experiment ids are integers, got {experiment_id!r}.")
    return experiment_id


class ExperimentStore:
    """Experiments in the database of `alerts` (an `AlertStore` whose schema is created).

    Every method is its own transaction; records come back as frozen `Experiment`s with their
    events, oldest first.
    """

    def __init__(self, alerts: AlertStore) -> None:
        self._alerts = alerts
        self.display_url = alerts.display_url

    def _session(self) -> AbstractContextManager[Session]:
        """A session of the alert store's database (its errors, its masked URL)."""
        return self._alerts._session()

    def _now(self) -> Any:
        return self._alerts._clock()

    def propose(
        self,
        *,
        title: str,
        hypothesis: str,
        proposer: str,
        config: ExperimentConfig,
        test_period_days: int,
    ) -> Experiment:
        """Store a new `proposed` experiment (and its `propose` event) and return it.
        `config` is checked by `check_config`; `test_period_days` is 1..`MAX_TEST_PERIOD_DAYS`."""
        check_config(config)
        if (
            isinstance(test_period_days, bool)
            or not isinstance(test_period_days, int)
            or not 1 <= test_period_days <= MAX_TEST_PERIOD_DAYS
        ):
            raise InvalidExperimentError(
                f"test_period_days must be a whole number of days from 1 to "
                f"{MAX_TEST_PERIOD_DAYS}, got {test_period_days!r}."
            )
        now = self._now()
        who = _text("proposer", proposer, ACTOR_MAX_CHARS)
        row = _ExperimentRow(
            title=_text("title", title, TITLE_MAX_CHARS),
            hypothesis=_text("hypothesis", hypothesis, None),
            proposer=who,
            created_at=now,
            status=ExperimentStatus.PROPOSED,
            status_changed_at=now,
            status_actor=who,
            test_period_days=test_period_days,
            **config.to_dict(),
        )
        with self._session() as session, session.begin():
            session.add(row)
            session.flush()
            event = _EventRow(
                experiment_id=row.id,
                at=now,
                actor=who,
                command=PROPOSE,
                from_status=None,
                to_status=ExperimentStatus.PROPOSED,
                notes=None,
            )
            session.add(event)
            session.flush()
            return _to_experiment(row, [event])

    def get(self, experiment_id: int) -> Experiment:
        """The experiment with its events; `ExperimentNotFoundError` if there is none."""
        experiment_id = _experiment_id(experiment_id)
        with self._session() as session:
            row = session.get(_ExperimentRow, experiment_id)
            if row is None:
                raise ExperimentNotFoundError(experiment_id, self.display_url)
            events = session.scalars(
                select(_EventRow)
                .where(_EventRow.experiment_id == experiment_id)
                .order_by(_EventRow.id)
            )
            return _to_experiment(row, events)

    def list(
        self,
        *,
        status: ExperimentStatus | str | Iterable[ExperimentStatus | str] | None = None,
        limit: int = 100,
    ) -> builtins.list[Experiment]:
        """Experiments newest first (without their events), at most `limit`; `status`: None
        (any), one status or several."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidExperimentError(f"limit must be a positive integer, got {limit!r}.")
        query = select(_ExperimentRow)
        if status is not None:
            wanted = [status] if isinstance(status, str) else builtins.list(status)
            try:
                statuses = [ExperimentStatus(value) for value in wanted]
            except ValueError:
                raise InvalidExperimentError(
                    f"Unknown experiment status in {wanted!r}; use one of: "
                    f"{', '.join(ExperimentStatus)}."
                ) from None
            query = query.where(_ExperimentRow.status.in_(statuses))
        query = query.order_by(_ExperimentRow.id.desc()).limit(limit)
        with self._session() as session:
            return [_to_experiment(row) for row in session.scalars(query)]

    def newest_event_id(self) -> int:
        """The id of the newest status change (a proposal included), 0 when there is none:
        what a reader compares to see whether anything changed."""
        from sqlalchemy import func

        with self._session() as session:
            return int(session.scalar(select(func.max(_EventRow.id))) or 0)

    # --- transitions ----------------------------------------------------------------------

    def approve(self, experiment_id: int, actor: str, notes: str | None = None) -> Experiment:
        """proposed -> approved."""
        return self._move(experiment_id, ExperimentCommand.APPROVE, actor, notes, {})

    def reject(self, experiment_id: int, actor: str, notes: str | None = None) -> Experiment:
        """proposed -> rejected (final)."""
        return self._move(experiment_id, ExperimentCommand.REJECT, actor, notes, {})

    def start(self, experiment_id: int, actor: str, notes: str | None = None) -> Experiment:
        """approved -> in_progress: its retrain was launched (`notes` say where)."""
        return self._move(experiment_id, ExperimentCommand.START, actor, notes, {})

    def shadow(
        self,
        experiment_id: int,
        actor: str,
        *,
        experimental_version: str,
        test_started_on: date,
        notes: str | None = None,
    ) -> Experiment:
        """in_progress -> shadow_testing: the version trained for it is registered; its test
        period starts on `test_started_on`."""
        version = _text("experimental_version", experimental_version, 20)
        if not version.isdigit():
            raise InvalidExperimentError(
                f"experimental_version must be a model version number, got {version!r}."
            )
        return self._move(
            experiment_id,
            ExperimentCommand.SHADOW,
            actor,
            notes,
            {"experimental_version": version, "test_started_on": test_started_on},
        )

    def complete(
        self,
        experiment_id: int,
        actor: str,
        *,
        decision: Decision,
        rationale: str,
        results: ExperimentResults,
        notes: str | None = None,
    ) -> Experiment:
        """shadow_testing -> completed (final), recording the decision, rationale and results."""
        return self._move(
            experiment_id,
            ExperimentCommand.COMPLETE,
            actor,
            notes,
            {
                "decision": Decision(decision),
                "rationale": _text("rationale", rationale, None),
                "results": results.to_dict(),
            },
        )

    def _move(
        self,
        experiment_id: int,
        command: ExperimentCommand,
        actor: str,
        notes: str | None,
        values: Mapping[str, Any],
    ) -> Experiment:
        experiment_id = _experiment_id(experiment_id)
        source, target = TRANSITIONS[command]
        now = self._now()
        who = _text("actor", actor, ACTOR_MAX_CHARS)
        statement = (
            update(_ExperimentRow)
            .where(_ExperimentRow.id == experiment_id, _ExperimentRow.status == source)
            .values(status=target, status_changed_at=now, status_actor=who, **values)
        )
        with self._session() as session, session.begin():
            if session.connection().execute(statement).rowcount == 1:
                session.add(
                    _EventRow(
                        experiment_id=experiment_id,
                        at=now,
                        actor=who,
                        command=command.value,
                        from_status=source.value,
                        to_status=target.value,
                        notes=_optional_text("notes", notes),
                    )
                )
                moved = True
            else:
                moved = False
        experiment = self.get(experiment_id)  # unknown id: ExperimentNotFoundError
        if not moved:
            raise ExperimentTransitionError(experiment, command)
        return experiment
