"""Experiments in the SQL store (SQLite file): the status machine of one table, the audit trail
of every change, configurations the pipeline cannot train refused by field, concurrent moves
with one winner, and a store at revision 0003 upgraded to the experiments tables with its
alerts kept."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from forecastops.domain.experiments import (
    FINAL_STATUSES,
    TRANSITIONS,
    Decision,
    ExperimentCommand,
    ExperimentConfig,
    ExperimentResults,
    ExperimentStatus,
    ExperimentTransitionError,
    InvalidExperimentError,
    allowed_commands,
    current_feature_set_version,
    decide,
)
from forecastops.pipeline.experiments import experiment_config
from forecastops.stores.alerts.experiments import ExperimentNotFoundError, ExperimentStore
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.settings import PolicySettings
from tests.alert_races import WORKERS, drift_alert

T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock that moves one minute per reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def experiments(tmp_path: Path) -> Iterator[ExperimentStore]:
    with AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}", clock=Clock()) as alerts:
        alerts.create_schema()
        yield ExperimentStore(alerts)


def propose(store: ExperimentStore, window: int = 56) -> int:
    return store.propose(
        title="Shorter window",
        hypothesis="A 56-day window follows the spring trend faster and cuts MAE by 5 %.",
        proposer="alice",
        config=experiment_config(PolicySettings(), training_window_days=window),
        test_period_days=14,
    ).id


def test_the_transition_table_leaves_rejected_and_completed_final() -> None:
    assert FINAL_STATUSES == (ExperimentStatus.REJECTED, ExperimentStatus.COMPLETED)
    assert allowed_commands(ExperimentStatus.PROPOSED) == (
        ExperimentCommand.APPROVE,
        ExperimentCommand.REJECT,
    )
    reached = {target for _, target in TRANSITIONS.values()}
    assert reached == set(ExperimentStatus) - {ExperimentStatus.PROPOSED}


def test_an_experiment_moves_through_its_lifecycle_and_every_change_is_audited(
    experiments: ExperimentStore,
) -> None:
    experiment_id = propose(experiments)
    experiments.approve(experiment_id, "bob", notes="worth a try")
    experiments.start(experiment_id, "carol", notes="backfill abc")
    experiments.shadow(
        experiment_id, "dagster:run-1", experimental_version="7", test_started_on=date(2025, 6, 2)
    )
    results = ExperimentResults(
        baseline_version="6",
        experimental_version="7",
        baseline_mae=2.0,
        experimental_mae=1.8,
        baseline_wape=0.4,
        experimental_wape=0.36,
        improvement_pct=10.0,
        realized_days=14,
        scored_rows=224,
        first_day=date(2025, 6, 2),
        last_day=date(2025, 6, 15),
    )
    done = experiments.complete(
        experiment_id, "bob", decision=Decision.ADOPT, rationale="Adopt: 10 %.", results=results
    )

    assert done.status is ExperimentStatus.COMPLETED
    assert (done.experimental_version, done.test_started_on) == ("7", date(2025, 6, 2))
    assert (done.decision, done.rationale, done.results) == (
        Decision.ADOPT,
        "Adopt: 10 %.",
        results,
    )
    assert done.config.training_window_days == 56
    assert [(e.command, e.from_status, e.to_status, e.actor, e.notes) for e in done.events] == [
        ("propose", None, "proposed", "alice", None),
        ("approve", "proposed", "approved", "bob", "worth a try"),
        ("start", "approved", "in_progress", "carol", "backfill abc"),
        ("shadow", "in_progress", "shadow_testing", "dagster:run-1", None),
        ("complete", "shadow_testing", "completed", "bob", None),
    ]
    times = [event.at for event in done.events]
    assert times == sorted(times) and len(set(times)) == 5
    assert times[0] == done.created_at and times[-1] == done.status_changed_at


def test_an_illegal_move_names_the_status_and_the_allowed_commands_and_changes_nothing(
    experiments: ExperimentStore,
) -> None:
    experiment_id = propose(experiments)
    with pytest.raises(ExperimentTransitionError) as early:
        experiments.start(experiment_id, "carol")
    assert "Cannot start experiment 1: it is proposed" in str(early.value)
    assert "needs it approved" in str(early.value)
    assert "the allowed commands are: approve, reject" in str(early.value)

    experiments.reject(experiment_id, "bob", notes="not now")
    with pytest.raises(ExperimentTransitionError, match="Rejected is final: no command applies"):
        experiments.approve(experiment_id, "bob")
    stored = experiments.get(experiment_id)
    assert stored.status is ExperimentStatus.REJECTED and len(stored.events) == 2
    with pytest.raises(ExperimentNotFoundError, match="No experiment with id 99"):
        experiments.approve(99, "bob")


def test_concurrent_approvals_of_one_experiment_have_one_winner(
    experiments: ExperimentStore,
) -> None:
    experiment_id = propose(experiments)
    barrier = threading.Barrier(WORKERS)

    def approve(worker: int) -> str:
        barrier.wait(timeout=10)
        try:
            experiments.approve(experiment_id, f"operator-{worker}")
        except ExperimentTransitionError:
            return "lost"
        return "won"

    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(approve, range(WORKERS)))

    assert outcomes.count("won") == 1
    assert len(experiments.get(experiment_id).events) == 2


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"objective": "gamma"}, "FORECASTOPS_OBJECTIVE"),
        ({"training_window_days": 14}, "FORECASTOPS_TRAINING_WINDOW_DAYS"),
        ({"feature_set_version": "0123456789ab"}, "the only feature set it trains is"),
        ({"segment": "store:S01"}, "segment 'store:S01' is not one the pipeline trains"),
    ],
)
def test_a_configuration_the_pipeline_cannot_train_is_refused_naming_the_field(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidExperimentError, match=message):
        experiment_config(PolicySettings(), **fields)  # type: ignore[arg-type]


def test_a_default_configuration_is_the_pipelines_current_one() -> None:
    settings = PolicySettings(objective="poisson", training_window_days=90)
    assert experiment_config(settings) == ExperimentConfig(
        "poisson", 90, current_feature_set_version(), "all"
    )


def test_the_computed_decision_needs_the_margin_and_the_realized_days() -> None:
    def results(gain_pct: float, days: int) -> ExperimentResults:
        return ExperimentResults(
            "1", "2", 2.0, 2.0 * (1 - gain_pct / 100), 0.5, 0.5 * (1 - gain_pct / 100),
            gain_pct, days, days * 16, date(2025, 6, 1), date(2025, 6, days),
        )  # fmt: skip

    adopt, why = decide(results(6.0, 14), 0.05, 7)
    assert adopt is Decision.ADOPT
    assert why.startswith("Adopt: the improvement reaches the required 5.0%")
    assert "MAE 1.88 vs 2, WAPE 0.47 vs 0.5, +6.0 %" in why
    assert decide(results(4.9, 14), 0.05, 7)[0] is Decision.REJECT
    short, why_short = decide(results(20.0, 6), 0.05, 7)
    assert short is Decision.REJECT and "only 6 realized days, fewer than the 7" in why_short


def test_a_store_at_0003_is_upgraded_to_the_experiments_tables_keeping_its_alerts(
    tmp_path: Path,
) -> None:
    from alembic import command

    from forecastops.stores.alerts.identity import AlertSchemaError
    from forecastops.stores.alerts.migrations import _config

    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    with AlertStore(url) as alerts:
        with alerts._locked() as connection:
            command.upgrade(_config(connection), "0003_missing_data_type")
        kept = drift_alert(alerts, dedup_key="drift:k")
        with pytest.raises(AlertSchemaError, match="at 0003_missing_data_type, head 0004"):
            alerts.create_schema()

        report = alerts.migrate()

        assert str(report) == "upgraded the schema from 0003_missing_data_type to 0004_experiments"
        assert alerts.get(kept.id) == kept
        store = ExperimentStore(alerts)
        experiment_id = propose(store)
        assert store.get(experiment_id).status is ExperimentStatus.PROPOSED
