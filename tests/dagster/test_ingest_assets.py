from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

from forecast_assets.ingest import (
    CONTRACT_CHECK,
    EXTRA_COLUMNS_CHECK,
    LANDING_NAMES_CHECK,
    raw_sales,
    sales_quality_report,
)
from forecast_jobs.definitions import defs
from forecast_jobs.jobs import ingest_job
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.alerts import AlertType, Severity
from forecastops.domain.quality import build_quality_reports
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.ingest import (
    CONTRACT_TABLE,
    QUALITY_TABLE,
    QUARANTINE_TABLE,
    RAW_SALES_TABLE,
    REPORT_PARTS,
    load_quality_report,
)
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from resources.alerts import AlertStoreResource
from resources.storage import LakeStorage, LandingSalesSource

START = date(2025, 2, 1)
DAYS = 35
BROKEN_DAY = START + timedelta(days=30)


def _resources(workdir: Path) -> dict[str, object]:
    return {
        "landing": LandingSalesSource(landing_dir=str(workdir / "landing")),
        "storage": LakeStorage(root=str(workdir / "lake")),
        "alert_store": AlertStoreResource(url=f"sqlite:///{workdir / 'alerts.db'}"),
    }


def _simulate(workdir: Path, **corrupt: str) -> None:
    spec = SimulationSpec(
        start=START,
        end=START + timedelta(days=DAYS - 1),
        stores=2,
        products=6,
        seed=3,
        corrupt_days={date.fromisoformat(d): kind for d, kind in corrupt.items()},
    )
    write_landing_files(spec, workdir / "landing")


def _materialize(workdir: Path, day: date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_sales, sales_quality_report],
        partition_key=day.isoformat(),
        resources=_resources(workdir),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, str]:
    """The metadata of `asset`'s (first) materialization event in the run, as text."""
    events = result.get_asset_materialization_events()
    [first, *_] = [e for e in events if e.asset_key == dg.AssetKey(asset)]
    return {key: str(value.value) for key, value in first.materialization.metadata.items()}


def _frame_of(part: str) -> pd.DataFrame:
    return pd.DataFrame({"store_id": ["s1"], "product_id": ["p1"], "part": [part]})


def _job_with(workdir: Path) -> dg.JobDefinition:
    return dg.Definitions(
        assets=[raw_sales, sales_quality_report],
        jobs=[ingest_job],
        resources=_resources(workdir),
    ).resolve_job_def("ingest_job")


def test_a_range_run_ingests_every_day_and_reports_quality(workdir: Path) -> None:
    _simulate(workdir)
    last = START + timedelta(days=DAYS - 1)
    with dg.instance_for_test() as instance:
        result = execute_partition_range(_job_with(workdir), START, last, instance)
        materialized = instance.get_materialized_partitions(dg.AssetKey("sales_quality_report"))
    assert result.success
    lake = Lake(workdir / "lake")
    assert len(lake.partition_days(RAW_SALES_TABLE)) == DAYS
    assert len(lake.partition_days(QUALITY_TABLE)) == DAYS
    assert len(materialized) == DAYS
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks[CONTRACT_CHECK] and checks[EXTRA_COLUMNS_CHECK]
    # every partition's event carries the run's metadata: a summary, not one day's report
    quality = _metadata(result, "sales_quality_report")
    assert "latest_report" not in quality
    assert quality["days"].count("\n| 2025-") == 2  # the first and the last day
    assert f"{DAYS - 2} more days" in quality["days"]


def test_a_single_day_run_shows_that_days_report(workdir: Path) -> None:
    _simulate(workdir)
    result = _materialize(workdir, BROKEN_DAY)
    assert result.success
    quality = _metadata(result, "sales_quality_report")
    assert f"### Data quality {BROKEN_DAY.isoformat()}" in quality["latest_report"]
    assert f"sales_{BROKEN_DAY.isoformat()}.csv" in _metadata(result, "raw_sales")["landing_files"]


def test_the_stored_quality_report_reads_back_as_computed(workdir: Path) -> None:
    _simulate(workdir)
    last = START + timedelta(days=DAYS - 1)
    path = workdir / "landing" / f"sales_{last.isoformat()}.csv"
    delivered = pd.read_csv(path, dtype={"store_id": str, "product_id": str})
    delivered.iloc[1:].to_csv(path, index=False)  # one series vanishes on the last day
    with dg.instance_for_test() as instance:
        assert execute_partition_range(_job_with(workdir), START, last, instance).success
    lake = Lake(workdir / "lake")
    days = lake.partition_days(QUALITY_TABLE)
    computed = build_quality_reports(lake.read_days(RAW_SALES_TABLE, days), days, 28)
    for report in computed:
        stored = load_quality_report(lake, report.partition_date)
        assert list(stored) == list(REPORT_PARTS)
        pd.testing.assert_frame_equal(stored["summary"], report.summary_frame())
        for part in REPORT_PARTS[1:]:
            pd.testing.assert_frame_equal(stored[part], getattr(report, part))
    assert sum(len(r.outliers) for r in computed) and len(computed[-1].vanished_series) == 1


def test_a_quality_report_stored_one_file_per_part_still_loads(workdir: Path) -> None:
    lake = Lake(workdir / "lake")
    parts = {part: _frame_of(part) for part in REPORT_PARTS}
    lake.write_partition(QUALITY_TABLE, START, parts)
    stored = load_quality_report(lake, START)
    for part in REPORT_PARTS:
        pd.testing.assert_frame_equal(stored[part], parts[part])


def test_a_contract_break_blocks_everything_downstream_of_that_day(workdir: Path) -> None:
    _simulate(workdir, **{BROKEN_DAY.isoformat(): "negative_units"})
    result = _materialize(workdir, BROKEN_DAY)
    assert not result.success
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK
    ]
    assert not evaluation.passed
    failure_cases = evaluation.metadata["failure_cases"].value
    assert "units_sold" in failure_cases and "greater_than_or_equal_to(0)" in failure_cases
    assert evaluation.metadata["rejected_days"].value == [BROKEN_DAY.isoformat()]
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {dg.AssetKey("raw_sales")}
    lake = Lake(workdir / "lake")
    assert not lake.has_partition(RAW_SALES_TABLE, BROKEN_DAY)
    assert not lake.has_partition(QUALITY_TABLE, BROKEN_DAY)
    assert lake.has_partition(QUARANTINE_TABLE, BROKEN_DAY)
    record = lake.read_partition(CONTRACT_TABLE, BROKEN_DAY)
    assert not record["passed"].item()


def test_a_contract_break_raises_one_critical_alert_per_day_shown_on_the_check(
    workdir: Path,
) -> None:
    _simulate(workdir, **{BROKEN_DAY.isoformat(): "negative_units"})
    first = _materialize(workdir, BROKEN_DAY)
    again = _materialize(workdir, BROKEN_DAY)
    store = AlertStore(f"sqlite:///{workdir / 'alerts.db'}")
    [alert] = store.list()
    assert (alert.type, alert.severity) == (AlertType.CONTRACT_BREAK, Severity.CRITICAL)
    assert alert.subject == f"raw_sales/{BROKEN_DAY.isoformat()}"
    assert BROKEN_DAY.isoformat() in alert.title
    assert "greater_than_or_equal_to(0)" in alert.message
    assert f"sales_{BROKEN_DAY.isoformat()}.csv" in alert.message
    assert {link.label for link in alert.links} >= {"Dagster run", "Dagster asset raw_sales"}
    for result in (first, again):
        [check] = [
            e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK
        ]
        assert check.metadata["alert_ids"].value == [alert.id]
        assert f"forecastops alerts show {alert.id}" in str(check.metadata["alerts"].value)


def test_an_unreachable_alert_store_keeps_the_verdict_and_says_the_alert_is_missing(
    workdir: Path,
) -> None:
    _simulate(workdir, **{BROKEN_DAY.isoformat(): "negative_units"})
    result = dg.materialize(
        [raw_sales],
        partition_key=BROKEN_DAY.isoformat(),
        resources={
            **_resources(workdir),
            "alert_store": AlertStoreResource(url="postgresql://nobody@127.0.0.1:9/none"),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK]
    assert not check.passed
    assert check.metadata["rejected_days"].value == [BROKEN_DAY.isoformat()]
    missing = str(check.metadata["alert_not_recorded"].value)
    assert f"contract_break:raw_sales:{BROKEN_DAY.isoformat()}" in missing
    assert "127.0.0.1" in missing
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [
        dg.AssetKey("raw_sales")
    ]


def test_a_broken_redelivery_removes_the_earlier_valid_partition(workdir: Path) -> None:
    _simulate(workdir)
    assert _materialize(workdir, BROKEN_DAY).success
    _simulate(workdir, **{BROKEN_DAY.isoformat(): "duplicates"})
    assert not _materialize(workdir, BROKEN_DAY).success
    assert not Lake(workdir / "lake").has_partition(RAW_SALES_TABLE, BROKEN_DAY)


def test_rematerializing_a_partition_leaves_identical_data(workdir: Path) -> None:
    _simulate(workdir)
    lake = Lake(workdir / "lake")
    assert _materialize(workdir, BROKEN_DAY).success
    first = lake.read_partition(RAW_SALES_TABLE, BROKEN_DAY)
    first_quality = lake.read_partition(QUALITY_TABLE, BROKEN_DAY, "summary")
    assert _materialize(workdir, BROKEN_DAY).success
    pd.testing.assert_frame_equal(first, lake.read_partition(RAW_SALES_TABLE, BROKEN_DAY))
    pd.testing.assert_frame_equal(
        first_quality, lake.read_partition(QUALITY_TABLE, BROKEN_DAY, "summary")
    )
    assert lake.connect().sql("SELECT count(*) FROM raw_sales").fetchall() == [(len(first),)]


def test_a_missing_landing_file_fails_naming_the_expected_path_and_writes_nothing(
    workdir: Path,
) -> None:
    result = _materialize(workdir, BROKEN_DAY)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert str(workdir / "landing" / f"sales_{BROKEN_DAY.isoformat()}.csv") in message
    assert list((workdir / "lake").iterdir()) == []


def test_a_range_with_one_broken_day_stores_the_good_days_and_names_the_bad_one(
    workdir: Path,
) -> None:
    _simulate(workdir, **{BROKEN_DAY.isoformat(): "missing_column"})
    last = START + timedelta(days=DAYS - 1)
    with dg.instance_for_test() as instance:
        result = execute_partition_range(
            _job_with(workdir), START, last, instance, raise_on_error=False
        )
    assert not result.success
    lake = Lake(workdir / "lake")
    assert len(lake.partition_days(RAW_SALES_TABLE)) == DAYS - 1
    assert lake.partition_days(QUALITY_TABLE) == []
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK
    ]
    assert evaluation.metadata["rejected_days"].value == [BROKEN_DAY.isoformat()]
    assert "column_in_dataframe" in evaluation.metadata["failure_cases"].value
    landing_files = _metadata(result, "raw_sales")["landing_files"]
    listed = [line.split("|")[1].strip() for line in landing_files.splitlines()[2:5]]
    assert listed == [BROKEN_DAY.isoformat(), START.isoformat(), last.isoformat()]
    assert "| FAIL" in landing_files and f"{DAYS - 3} more days" in landing_files


def test_extra_columns_pass_the_contract_with_a_warning(workdir: Path) -> None:
    _simulate(workdir)
    path = workdir / "landing" / f"sales_{BROKEN_DAY.isoformat()}.csv"
    frame = pd.read_csv(path)
    frame["weather"] = "sunny"
    frame.to_csv(path, index=False)
    result = _materialize(workdir, BROKEN_DAY)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[CONTRACT_CHECK].passed
    assert not checks[EXTRA_COLUMNS_CHECK].passed
    assert checks[EXTRA_COLUMNS_CHECK].severity == dg.AssetCheckSeverity.WARN
    stored = Lake(workdir / "lake").read_partition(RAW_SALES_TABLE, BROKEN_DAY)
    assert (stored["weather"] == "sunny").all()


def test_the_daily_ingest_schedule_requests_the_day_that_just_ended() -> None:
    schedule = defs.resolve_schedule_def("daily_ingest_schedule")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.execution_timezone == "UTC"
    tick_time = pd.Timestamp("2025-03-10 06:00", tz="UTC").to_pydatetime()
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick_time)
        [request] = list(schedule.evaluate_tick(context).run_requests or [])
    assert request.partition_key == "2025-03-09"


def test_a_landing_file_named_for_no_day_is_reported_not_ignored(workdir: Path) -> None:
    _simulate(workdir)
    good = workdir / "landing" / f"sales_{START.isoformat()}.csv"
    (workdir / "landing" / "sales_2025-02-30.csv").write_bytes(good.read_bytes())

    result = _materialize(workdir, START)

    [check] = [
        c for c in result.get_asset_check_evaluations() if c.check_name == LANDING_NAMES_CHECK
    ]
    assert check.passed is False
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["misnamed_files"].value == ["sales_2025-02-30.csv"]
    assert "rename each to its day" in (check.description or "")
    assert result.success  # a warning: the day itself was ingested
