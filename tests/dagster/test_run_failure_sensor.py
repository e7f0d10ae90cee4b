"""The run-failure sensor: real failed runs in a test instance, then the sensor's ticks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pytest

from forecastops.domain.alerts import Alert, AlertStatus, AlertType, Severity
from forecastops.domain.runs import run_partition
from forecastops.stores.alerts.store import AlertStore
from resources.alerts import AlertStoreResource
from sensors.run_failure import (
    RUN_FAILURE_SENSOR,
    run_failure_alerts,
    run_label,
    run_links,
)

CUTOFF = "2025-03-01"
partitions = dg.DailyPartitionsDefinition(start_date="2025-01-01")


@dg.asset(partitions_def=partitions)
def stand_in_features() -> None:
    raise dg.Failure(description=f"No validated sales before {CUTOFF}; ingest them first.")


@dg.asset(deps=[stand_in_features], partitions_def=partitions)
def stand_in_model() -> None:
    pass


@dg.op
def crash() -> None:
    raise ValueError("units_sold has negative values\nin 3 rows")


@dg.op
def fine() -> None:
    pass


# Named like the real job: a failed retrain_job run recommends retrying its cutoff.
stand_in_retrain_job = dg.define_asset_job(
    "retrain_job", selection=[stand_in_features, stand_in_model], partitions_def=partitions
)


@dg.job
def crashing_job() -> None:
    crash()


@dg.job
def healthy_job() -> None:
    fine()


@dataclass(frozen=True)
class Evaluated:
    """One tick over three real runs (a failed retrain, a crash, a success), then a second
    tick and a direct re-invocation of the sensor for the crash."""

    store: AlertStore
    retrain_run_id: str
    crash_run_id: str
    healthy_run_id: str
    reacted: list[str]
    reacted_again: list[str]


DAGSTER_UI = "http://dagster.example:3000"
"""Where the alerts' links point (`FORECASTOPS_DAGSTER_UI_URL`)."""


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluated]:
    url = f"sqlite:///{tmp_path_factory.mktemp('run-failure') / 'alerts.db'}"
    resource = AlertStoreResource(url=url, dagster_ui=DAGSTER_UI)
    with dg.instance_for_test() as instance:
        cursor, _ = _tick(instance, resource, None)  # the first tick only sets the cursor
        retrain = (
            dg.Definitions(assets=[stand_in_features, stand_in_model], jobs=[stand_in_retrain_job])
            .resolve_job_def("retrain_job")
            .execute_in_process(instance=instance, partition_key=CUTOFF, raise_on_error=False)
        )
        crashed = crashing_job.execute_in_process(instance=instance, raise_on_error=False)
        healthy = healthy_job.execute_in_process(instance=instance)
        assert not retrain.success and not crashed.success and healthy.success
        cursor, reacted = _tick(instance, resource, cursor)
        _, reacted_again = _tick(instance, resource, cursor)
        context = dg.build_run_status_sensor_context(
            sensor_name=RUN_FAILURE_SENSOR,
            dagster_event=crashed.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=crashed.dagster_run,
        ).for_run_failure()
        run_failure_alerts(context, alert_store=resource)
    with AlertStore(url) as store:
        yield Evaluated(
            store, retrain.run_id, crashed.run_id, healthy.run_id, reacted, reacted_again
        )


def _tick(
    instance: dg.DagsterInstance, resource: AlertStoreResource, cursor: str | None
) -> tuple[str | None, list[str]]:
    """Evaluate one tick of the sensor as the daemon would; returns the new cursor and the runs
    it reacted to. (Runs executed in process carry no code location, and neither does this
    context, so the sensor treats them as runs of its own location.)"""
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alert_store": resource}
    )
    data = run_failure_alerts.evaluate_tick(context)
    reactions = data.dagster_run_reactions or []
    assert [r.error for r in reactions if r.error] == []
    return data.cursor, [r.dagster_run.run_id for r in reactions if r.dagster_run]


def _alert(evaluated: Evaluated, run_id: str) -> Alert:
    [alert] = [a for a in evaluated.store.list() if a.dedup_key == f"run_failure:{run_id}"]
    return alert


def test_each_failed_run_raises_one_alert_and_a_success_none(evaluated: Evaluated) -> None:
    assert sorted(evaluated.reacted) == sorted([evaluated.retrain_run_id, evaluated.crash_run_id])
    assert evaluated.reacted_again == []
    assert len(evaluated.store.list()) == 2  # the re-invocation found the crash's open alert


def test_a_failed_retrain_alert_names_job_partition_step_and_error(evaluated: Evaluated) -> None:
    run_id = evaluated.retrain_run_id
    alert = _alert(evaluated, run_id)
    assert alert.type is AlertType.RUN_FAILURE
    assert alert.severity is Severity.CRITICAL
    assert alert.status is AlertStatus.UNREAD
    assert alert.title == f"retrain_job failed for partition {CUTOFF}"
    assert alert.subject == f"retrain_job/{CUTOFF}"
    assert alert.message.startswith(
        f"Run {run_id} of retrain_job (partition {CUTOFF}) failed in step(s) stand_in_features."
    )
    assert f"- stand_in_features: No validated sales before {CUTOFF}; ingest them first." in (
        alert.message
    )
    assert "Stack Trace" not in alert.message
    assert [(link.label, link.url) for link in alert.links] == [
        ("Dagster run", f"{DAGSTER_UI}/runs/{run_id}")
    ]
    assert alert.recommendation == {"action": "retrain", "partition": CUTOFF}


def test_an_exception_in_a_step_is_quoted_without_dagsters_wrapper(evaluated: Evaluated) -> None:
    alert = _alert(evaluated, evaluated.crash_run_id)
    assert alert.title == "crashing_job failed"
    assert alert.subject == "crashing_job"
    assert "- crash: ValueError: units_sold has negative values\nin 3 rows" in alert.message
    assert "DagsterExecutionStepExecutionError" not in alert.message
    assert alert.recommendation is None


def test_the_sensor_runs_by_default_and_needs_only_the_alert_store() -> None:
    assert run_failure_alerts.default_status is dg.DefaultSensorStatus.RUNNING
    assert run_failure_alerts.required_resource_keys == {"alert_store"}


def test_a_backfill_run_links_its_backfill_and_a_range_run_names_its_range() -> None:
    assert run_links("r1", "bkfl", DAGSTER_UI) == [
        {"label": "Dagster run", "url": f"{DAGSTER_UI}/runs/r1"},
        {"label": "Dagster backfill", "url": f"{DAGSTER_UI}/runs/b/bkfl"},
    ]
    range_tags = {
        "dagster/asset_partition_range_start": "2025-01-01",
        "dagster/asset_partition_range_end": "2025-01-31",
    }
    assert run_partition(range_tags) == "2025-01-01...2025-01-31"
    assert run_partition({"dagster/partition": CUTOFF}) == CUTOFF
    assert run_partition({}) is None


def test_an_ad_hoc_materialization_is_named_by_its_assets() -> None:
    keys = {dg.AssetKey(name) for name in ["raw_sales", "sales_quality_report"]}
    assert run_label("__ASSET_JOB", keys) == "materialization of raw_sales, sales_quality_report"
    many = {dg.AssetKey(f"asset_{n}") for n in range(7)}
    assert run_label("__ASSET_JOB", many).endswith("(+2 more)")
    assert run_label("ingest_job", keys) == "ingest_job"
