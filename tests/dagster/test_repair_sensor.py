"""repair_sensor (decision 0020): a day rejected by the contract, with a retrain and the
monitoring computed without it, is re-delivered; the sensor requests the repair runs once and
actions the day's contract_break alert naming them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_jobs.definitions import build_resources
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.alerts import AlertStatus, AlertType
from forecastops.domain.contract import landing_file_name
from forecastops.domain.runs import MONITORING_JOB, REPAIR_TAG, RETRAIN_JOB
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.alerts import contract_break_key
from forecastops.pipeline.cycle import FEATURES_TABLE
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.pipeline.monitoring import DRIFT_TABLE, PERFORMANCE_TABLE
from forecastops.pipeline.repair import RepairWindows, plan_repair, repair_runs_path
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from resources.alerts import AlertStoreResource
from sensors.repair import SENSOR_ACTOR
from tests.dagster.pipeline import pipeline_definitions, pipeline_settings

START = date(2025, 1, 1)
CUTOFF = START + timedelta(days=130)
GAP = CUTOFF - timedelta(days=10)
"""Inside the cutoff's training window and its drift and health windows."""


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, home: Path) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("repair_sensor")
    with dg.build_sensor_context(
        instance=instance,
        definitions=defs,
        resources=build_resources(pipeline_settings(home)),
    ) as context:
        return sensor.evaluate_tick(context)


@pytest.mark.slow
def test_a_redelivered_day_is_repaired_once_and_its_alert_actioned(tmp_path: Path) -> None:
    write_landing_files(
        SimulationSpec(start=START, end=CUTOFF, stores=2, products=6, seed=3), tmp_path / "landing"
    )
    gap_file = tmp_path / "landing" / landing_file_name(GAP)
    good = gap_file.read_bytes()
    pd.read_csv(gap_file).drop(columns=["units_sold"]).to_csv(gap_file, index=False)
    defs = pipeline_definitions(tmp_path)
    lake = Lake(tmp_path / "lake")
    alerts = AlertStore(pipeline_settings(tmp_path).alerts_url)
    with dg.instance_for_test() as instance:
        execute_partition_range(
            defs.resolve_job_def("ingest_job"), START, CUTOFF, instance, raise_on_error=False
        )
        assert not lake.has_partition(RAW_SALES_TABLE, GAP)
        broken = alerts.open_alert(contract_break_key(GAP))
        assert broken is not None and broken.type == AlertType.CONTRACT_BREAK
        # what the days after the gap computed without it
        for job in (RETRAIN_JOB, MONITORING_JOB):
            assert (
                defs.resolve_job_def(job)
                .execute_in_process(instance=instance, partition_key=CUTOFF.isoformat())
                .success
            )
        for table in (FEATURES_TABLE, DRIFT_TABLE, PERFORMANCE_TABLE):
            assert lake.has_partition(table, CUTOFF)

        assert _tick(defs, instance, tmp_path).run_requests == []  # the day is still rejected

        gap_file.write_bytes(good)  # the corrected re-delivery
        assert (
            defs.resolve_job_def("ingest_job")
            .execute_in_process(instance=instance, partition_key=GAP.isoformat())
            .success
        )
        first = _tick(defs, instance, tmp_path)
        second = _tick(defs, instance, tmp_path)
        # the requested monitoring run, executed, leaves nothing stale for its day
        [monitor] = [r for r in first.run_requests or [] if r.job_name == MONITORING_JOB]
        assert (
            defs.resolve_job_def(MONITORING_JOB)
            .execute_in_process(
                instance=instance, partition_key=monitor.partition_key, tags=monitor.tags
            )
            .success
        )
        after = plan_repair(
            lake, GAP, RepairWindows(training_days=90, drift_days=90, health_days=90)
        )
        assert after is not None and CUTOFF not in after.stale_monitoring_days

    requests = sorted(first.run_requests or [], key=lambda request: request.job_name or "")
    assert [(r.job_name, r.partition_key) for r in requests] == [
        (MONITORING_JOB, CUTOFF.isoformat()),
        (RETRAIN_JOB, CUTOFF.isoformat()),
    ]
    assert all(r.tags[REPAIR_TAG] == GAP.isoformat() for r in requests)
    assert len({r.run_key for r in requests}) == 2
    assert all(str(GAP) in (r.run_key or "") for r in requests)
    assert not second.run_requests  # the alert is actioned: nothing left to repair

    actioned = alerts.get(broken.id)
    assert actioned.status == AlertStatus.ACTIONED
    assert actioned.actor == SENSOR_ACTOR
    notes = actioned.notes or ""
    assert all((r.run_key or "") in notes for r in requests)
    assert repair_runs_path(GAP) in notes


def test_an_unreachable_alert_store_skips_naming_it_without_its_password(tmp_path: Path) -> None:
    defs = pipeline_definitions(tmp_path)
    resources = build_resources(pipeline_settings(tmp_path))
    resources["alert_store"] = AlertStoreResource(
        url="postgresql+psycopg://ops:s3cret@127.0.0.1:1/alerts"
    )
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance, definitions=defs, resources=resources
        ) as context,
    ):
        result = defs.resolve_sensor_def("repair_sensor").evaluate_tick(context)
    assert not result.run_requests
    assert result.skip_message is not None and "Alert store unavailable" in result.skip_message
    assert "s3cret" not in result.skip_message
