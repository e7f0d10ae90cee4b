"""Checking a retrain request and handing it to `dagster job backfill` (faked here; the real
command runs in tests/integration/test_retrain_cli.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from forecastops.ops.retrain_queue import (
    MAX_PARTITIONS,
    RETRAIN_JOB,
    RetrainLaunchError,
    RetrainRefused,
    backfill_command,
    check_days,
    instance_config_problem,
    latest_partition,
    plan_partitions,
    plan_range,
    queue_retrain,
)
from forecastops.stores.settings import Settings

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
"""Yesterday, 2025-06-09, is the latest partition."""


def settings(tmp_path: Path, **values: Any) -> Settings:
    defaults = {"home": tmp_path, "dagster_home": tmp_path / "dagster", "start_date": "2025-01-01"}
    return Settings(**{**defaults, **values})


def refusal(call: Any) -> RetrainRefused:
    with pytest.raises(RetrainRefused) as caught:
        call()
    return caught.value


def test_a_range_is_every_day_from_first_to_last(tmp_path: Path) -> None:
    days = plan_range("2025-01-30", "2025-02-02", settings(tmp_path), NOW)
    assert [d.isoformat() for d in days] == [
        "2025-01-30",
        "2025-01-31",
        "2025-02-01",
        "2025-02-02",
    ]


def test_partitions_are_sorted_and_queued_once(tmp_path: Path) -> None:
    days = plan_partitions(" 2025-03-08,2025-03-01 ,2025-03-08", settings(tmp_path), NOW)
    assert days == (date(2025, 3, 1), date(2025, 3, 8))


def test_the_latest_partition_is_yesterday_in_the_partition_timezone(tmp_path: Path) -> None:
    late_evening_utc = datetime(2025, 6, 10, 23, 30, tzinfo=UTC)  # already 06-11 in Berlin
    assert latest_partition(settings(tmp_path), late_evening_utc) == date(2025, 6, 9)
    berlin = settings(tmp_path, timezone="Europe/Berlin")
    assert latest_partition(berlin, late_evening_utc) == date(2025, 6, 10)


@pytest.mark.parametrize(
    ("first", "last", "field", "says"),
    [
        ("2025-3-01", "2025-03-02", "from", "write it as YYYY-MM-DD"),
        ("20250301", "2025-03-02", "from", "write it as YYYY-MM-DD"),
        ("2025-03-01", "2025-02-30", "to", "write it as YYYY-MM-DD"),
        ("2025-03-05", "2025-03-01", "to", "give a last day on or after the first"),
        ("2024-12-31", "2025-01-02", "from", "before the first partition, 2025-01-01"),
        ("2025-06-09", "2025-06-10", "to", "the latest cutoff is 2025-06-09"),
        ("2025-06-10", "2025-06-11", "from", "not a partition yet"),
    ],
)
def test_a_bad_range_names_the_flag_and_the_fix(
    tmp_path: Path, first: str, last: str, field: str, says: str
) -> None:
    error = refusal(lambda: plan_range(first, last, settings(tmp_path), NOW))
    assert (error.field, error.usage) == (field, True)
    assert says in str(error)


@pytest.mark.parametrize(
    ("partitions", "says"),
    [
        ("", "has an empty item"),
        ("2025-03-01,,2025-03-02", "has an empty item"),
        ("2025-03-01,", "has an empty item"),
        ("2025-03-01;2025-03-02", "write it as YYYY-MM-DD"),
        ("yesterday", "write it as YYYY-MM-DD"),
        ("2024-12-31,2025-03-01", "before the first partition"),
        ("2025-03-01,2099-01-01", "not a partition yet"),
    ],
)
def test_bad_partitions_name_the_flag_and_the_fix(
    tmp_path: Path, partitions: str, says: str
) -> None:
    error = refusal(lambda: plan_partitions(partitions, settings(tmp_path), NOW))
    assert (error.field, error.usage) == ("partitions", True)
    assert says in str(error)


def test_at_most_max_partitions_days_per_request(tmp_path: Path) -> None:
    config = settings(tmp_path, start_date="2023-01-01")
    year = plan_range("2024-01-01", "2024-12-31", config, NOW)  # a leap year: 366 days
    assert len(year) == MAX_PARTITIONS
    error = refusal(lambda: plan_range("2024-01-01", "2025-01-01", config, NOW))
    assert (error.field, f"more than {MAX_PARTITIONS}" in str(error)) == ("to", True)
    listed = refusal(lambda: check_days([*year, date(2025, 1, 1)], config, "partitions", NOW))
    assert (listed.field, "367 days" in str(listed)) == ("partitions", True)


def test_the_command_is_the_documented_backfill_of_retrain_job(tmp_path: Path) -> None:
    workspace = tmp_path / "workspace.yaml"
    command = backfill_command([date(2025, 3, 1), date(2025, 3, 2)], workspace)
    assert command[1:] == [
        "-m",
        "dagster",
        "job",
        "backfill",
        "-w",
        str(workspace),
        "-j",
        RETRAIN_JOB,
        "--partitions",
        "2025-03-01,2025-03-02",
        "--noprompt",
    ]
    tagged = backfill_command([date(2025, 3, 1)], workspace, {"forecastops/alert_ids": "7"})
    assert tagged[-3:] == ["--tags", '{"forecastops/alert_ids": "7"}', "--noprompt"]


def test_a_failed_backfill_command_is_an_error_quoting_its_output(tmp_path: Path) -> None:
    config = settings(tmp_path)
    config.dagster_home_path.mkdir(parents=True)
    (config.dagster_home_path / "dagster.yaml").write_text(
        "run_storage:\n  module: forecastops_no_such_module\n  class: Missing\n"
    )
    with pytest.raises(RetrainLaunchError, match="forecastops_no_such_module") as raised:
        queue_retrain((date(2025, 3, 1),), config)
    assert f"DAGSTER_HOME={config.dagster_home_path}" in str(raised.value)


def test_a_missing_instance_config_warns_and_for_postgres_refuses(tmp_path: Path) -> None:
    embedded = settings(tmp_path)
    assert "no limit on concurrent backfill runs" in (instance_config_problem(embedded) or "")
    postgres = settings(
        tmp_path,
        instance="postgres",
        dagster_pg_url="postgresql+psycopg2://postgres@127.0.0.1:5432/dagster",
    )
    error = refusal(lambda: instance_config_problem(postgres))
    assert not error.usage
    assert "forecastops doctor --fix" in str(error)
