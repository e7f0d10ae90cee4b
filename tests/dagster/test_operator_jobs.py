"""The launchpad's operator jobs: alert_action_job approves or dismisses an alert as the run
(an approved retrain recommendation queues that retrain), queue_retrain_job queues retrain_job
runs for chosen days; a bad config fails the run naming the field, and nothing changes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from forecast_jobs.operator_jobs import (
    ACT_ON_ALERT_OP,
    QUEUE_RETRAIN_OP,
    alert_action_job,
    queue_retrain_job,
)
from forecastops.domain.alerts import AlertStatus, AlertType, Severity
from forecastops.domain.runs import ALERT_IDS_TAG
from forecastops.pipeline.alerts import retrain_recommendation
from forecastops.stores.alerts.store import AlertStore
from resources.alerts import AlertStoreResource
from tests.dagster.pipeline import op_failure
from tests.integration.helpers import isolated_env


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An operator's FORECASTOPS_HOME, set in this process's environment (the ops read the
    settings, and `dagster job backfill` inherits them)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name, value in isolated_env(tmp_path).items():
        if name.startswith("FORECASTOPS_") or name == "DAGSTER_HOME":
            monkeypatch.setenv(name, value)
    return tmp_path


@pytest.fixture
def store(home: Path) -> Iterator[AlertStore]:
    with AlertStore(_url(home)) as alert_store:
        alert_store.create_schema()
        yield alert_store


def _url(home: Path) -> str:
    return f"sqlite:///{home / 'alerts.db'}"


def _raise(store: AlertStore, **overrides: object) -> int:
    values: dict[str, object] = {
        "type": AlertType.CONTRACT_BREAK,
        "severity": Severity.CRITICAL,
        "title": "sales_2025-01-03.csv breaks the contract",
        "message": "units_sold: greater_than_or_equal_to(0)",
        "subject": "raw_sales/2025-01-03",
    }
    return store.raise_alert(**{**values, **overrides}).id  # type: ignore[arg-type]


def _act(store: AlertStore, **config: object) -> dg.ExecuteInProcessResult:
    return alert_action_job.execute_in_process(
        run_config={"ops": {ACT_ON_ALERT_OP: {"config": config}}},
        resources={
            "alert_store": AlertStoreResource(url=_url(Path(os.environ["FORECASTOPS_HOME"])))
        },
        raise_on_error=False,
    )


def _queue(days: str) -> dg.ExecuteInProcessResult:
    return queue_retrain_job.execute_in_process(
        run_config={"ops": {QUEUE_RETRAIN_OP: {"config": {"days": days}}}},
        raise_on_error=False,
    )


def _backfill(home: Path, result: dg.ExecuteInProcessResult, op: str) -> tuple[list[str], str]:
    """The partitions of the backfill the op queued and the tags of its runs (joined)."""
    [materialization] = [
        event.step_output_data
        for event in result.all_events
        if event.is_successful_output and event.step_key == op
    ]
    backfill_id = str(materialization.metadata["backfill_id"].value)
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        backfill = instance.get_backfill(backfill_id)
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    assert backfill is not None
    return list(backfill.partition_names or []), ",".join(
        run.tags.get(ALERT_IDS_TAG, "") for run in runs
    )


def test_an_operator_approves_and_dismisses_alerts_from_the_launchpad(store: AlertStore) -> None:
    fixed, noise = _raise(store), _raise(store, subject="raw_sales/2025-01-04")

    approved = _act(store, alert_id=fixed, decision="approve", notes="re-delivered the file")
    dismissed = _act(store, alert_id=noise, decision="dismiss")

    assert approved.success and dismissed.success
    first, second = store.get(fixed), store.get(noise)
    assert (first.status, first.actor, first.notes) == (
        AlertStatus.ACTIONED,
        f"dagster:{approved.run_id}",
        "re-delivered the file",
    )
    assert (second.status, second.actor) == (AlertStatus.DISMISSED, f"dagster:{dismissed.run_id}")


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"alert_id": 999, "decision": "approve"}, "ops.act_on_alert.config.alert_id"),
        ({"decision": "dismiss", "notes": "   "}, "ops.act_on_alert.config.notes: the notes"),
        ({"decision": "approve", "closed": True}, "dismissed"),
    ],
    ids=["unknown_id", "blank_notes", "already_closed"],
)
def test_a_bad_config_fails_naming_the_field_and_changes_nothing(
    store: AlertStore, config: dict[str, object], says: str
) -> None:
    alert_id = _raise(store)
    if config.pop("closed", False):
        store.dismiss(alert_id, "ops", None)
    before = store.get(alert_id)

    result = _act(store, **{"alert_id": alert_id, **config})

    assert says in op_failure(result, ACT_ON_ALERT_OP)
    assert store.get(alert_id) == before


@pytest.mark.slow
def test_approving_a_retrain_recommendation_queues_that_retrain(
    home: Path, store: AlertStore
) -> None:
    alert_id = _raise(
        store,
        type=AlertType.RUN_FAILURE,
        title="retrain_job failed for partition 2025-01-03",
        recommendation=retrain_recommendation("2025-01-03"),
    )

    result = _act(store, alert_id=alert_id, decision="approve")

    assert result.success
    assert _backfill(home, result, ACT_ON_ALERT_OP) == (["2025-01-03"], str(alert_id))
    assert store.get(alert_id).status == AlertStatus.ACTIONED


@pytest.mark.slow
def test_queue_retrain_job_queues_chosen_days_and_refuses_a_day_that_is_no_partition(
    home: Path,
) -> None:
    queued = _queue("2025-01-03..2025-01-04")
    refused = _queue("2099-01-01")

    assert queued.success
    assert _backfill(home, queued, QUEUE_RETRAIN_OP)[0] == ["2025-01-03", "2025-01-04"]
    message = op_failure(refused, QUEUE_RETRAIN_OP)
    assert message.startswith("Config field ops.queue_retrain.config.days: 2099-01-01 is not a")
