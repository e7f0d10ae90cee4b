"""Missing days through the retrain cycle (decision 0016): a day without a raw_sales partition
is never trained on nor read as 0 sold, forecasts from an origin with missing lag days say so,
a day missing longer than FORECASTOPS_MISSING_DAYS_ALERT_AFTER raises one missing_data alert,
and a missing cutoff is refused."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_assets.model import LAG_WINDOW_CHECK, TRAINING_WINDOW_CHECK
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.alerts import AlertType, Severity
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.cycle import FEATURES_TABLE
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from tests.dagster.pipeline import pipeline_definitions, pipeline_settings

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
CUTOFF = START + timedelta(days=149)
OVERDUE = CUTOFF - timedelta(days=5)  # missing for 5 days: more than the default 3
RECENT = CUTOFF - timedelta(days=2)  # missing for 2 days: may still arrive, no alert


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    [materialization] = result.asset_materializations_for_node(asset)
    return {key: value.value for key, value in materialization.metadata.items()}


@pytest.fixture(scope="module")
def cycle(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dg.Definitions, dg.ExecuteInProcessResult, dg.ExecuteInProcessResult]:
    workdir = tmp_path_factory.mktemp("missing")
    spec = SimulationSpec(start=START, end=CUTOFF, stores=2, products=8, seed=5)
    write_landing_files(spec, workdir / "landing")
    defs = pipeline_definitions(workdir)
    lake = Lake(workdir / "lake")
    with dg.instance_for_test() as instance:
        assert execute_partition_range(
            defs.resolve_job_def("ingest_job"), START, CUTOFF, instance
        ).success
        for day in (OVERDUE, RECENT):  # as if their files had been rejected
            assert lake.delete_partition(RAW_SALES_TABLE, day)
        retrain = defs.resolve_job_def("retrain_job")
        first = retrain.execute_in_process(instance=instance, partition_key=CUTOFF.isoformat())
        again = retrain.execute_in_process(instance=instance, partition_key=CUTOFF.isoformat())
    assert first.success and again.success
    return workdir, defs, first, again


def test_missing_days_are_not_training_rows(
    cycle: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult, dg.ExecuteInProcessResult],
) -> None:
    workdir, _, first, _ = cycle
    table = Lake(workdir / "lake").read_partition(FEATURES_TABLE, CUTOFF)
    assert not table["date"].isin(pd.to_datetime([OVERDUE, RECENT])).any()
    assert table["date"].max() == pd.Timestamp(CUTOFF)
    after = table[table["date"] == pd.Timestamp(RECENT + timedelta(days=7))]
    assert after["lag_7"].isna().all()  # reads the missing day: unknown, not 0
    assert _metadata(first, "sales_features")["missing_days_in_training_window"] == [
        OVERDUE.isoformat(),
        RECENT.isoformat(),
    ]


def test_forecasts_from_an_origin_with_missing_lag_days_say_so(
    cycle: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult, dg.ExecuteInProcessResult],
) -> None:
    _, _, first, _ = cycle
    missing = [OVERDUE.isoformat(), RECENT.isoformat()]
    assert _metadata(first, "forecasts")["missing_days_in_lag_window"] == missing
    check = _check(first, LAG_WINDOW_CHECK)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["missing_days"].value == missing
    assert "re-materialize raw_sales" in str(check.metadata["note"].value)


def test_a_day_missing_longer_than_the_setting_raises_one_missing_data_alert(
    cycle: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult, dg.ExecuteInProcessResult],
) -> None:
    workdir, _, first, again = cycle
    check = _check(first, TRAINING_WINDOW_CHECK)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["overdue_missing_days"].value == [OVERDUE.isoformat()]
    with AlertStore(pipeline_settings(workdir).alerts_url) as store:
        alerts = store.list(type=AlertType.MISSING_DATA)
        assert len(alerts) == 1  # the recent day may still arrive; the rerun found the same
        [alert] = alerts
        assert alert.severity is Severity.WARNING
        assert alert.dedup_key == f"missing_data:raw_sales:{OVERDUE}"
        assert alert.recommendation == {
            "action": "deliver_and_materialize",
            "asset": "raw_sales",
            "partition": OVERDUE.isoformat(),
        }
        assert f"sales_{OVERDUE}.csv" in alert.message and "re-materialize" in alert.message
    assert _check(again, TRAINING_WINDOW_CHECK).metadata["alert_ids"].value == [alert.id]


def test_a_missing_cutoff_is_refused_with_the_fix(
    cycle: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult, dg.ExecuteInProcessResult],
) -> None:
    _, defs, _, _ = cycle
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance, partition_key=RECENT.isoformat(), raise_on_error=False
        )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert f"The cutoff {RECENT} has no raw_sales partition" in message
    assert f"re-materialize raw_sales for {RECENT}" in message
