from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from forecastops.stores.lake import Lake

DAY = date(2025, 3, 1)


def _frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({"store_id": [f"S{i}" for i in range(rows)], "units_sold": range(rows)})


def test_rewriting_a_partition_replaces_it_instead_of_adding_rows(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write_partition("t", DAY, {"data": _frame(5)})
    lake.write_partition("t", DAY, {"data": _frame(3)})
    assert len(lake.read_partition("t", DAY)) == 3
    assert [p.name for p in lake.table_path("t").iterdir()] == ["day=2025-03-01"]


def test_a_failed_write_leaves_the_earlier_partition_untouched(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write_partition("t", DAY, {"data": _frame(5)})
    unwritable = pd.DataFrame({"bad": [object()]})
    with pytest.raises(ValueError):
        lake.write_partition("t", DAY, {"data": _frame(2), "broken": unwritable})
    assert len(lake.read_partition("t", DAY)) == 5
    assert sorted(p.name for p in lake.table_path("t").iterdir()) == ["day=2025-03-01"]


def test_duckdb_reads_every_partition_with_its_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write_partition("t", DAY, {"data": _frame(2), "extra": _frame(1)})
    lake.write_partition("t", date(2025, 3, 2), {"data": _frame(3)})
    connection = lake.connect()
    per_day = connection.sql(
        "SELECT day::VARCHAR AS day, count(*) AS n FROM t GROUP BY 1 ORDER BY 1"
    )
    assert per_day.fetchall() == [("2025-03-01", 2), ("2025-03-02", 3)]
    assert connection.sql("SELECT count(*) FROM t_extra").fetchall() == [(1,)]


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 42) TO {outside}",
        "COPY t TO {inside}",
        "EXPORT DATABASE {outside}",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_parquet({lake_files})",
        "ATTACH {outside} AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
    ],
)
def test_the_lake_connection_reads_the_lake_and_nothing_else(
    tmp_path: Path, statement: str
) -> None:
    """No file written (not even inside the lake), none read by path (not even the lake's own:
    the views are the way in), no database attached, no extension installed or loaded, and no
    setting switched back."""
    import duckdb

    lake = Lake(tmp_path / "lake")
    lake.write_partition("t", DAY, {"data": _frame(2)})
    before = sorted(tmp_path.rglob("*"))
    connection = lake.connect()
    query = statement.format(
        outside=_literal(tmp_path / "written"),
        inside=_literal(lake.table_path("t") / "copy.csv"),
        lake_files=_literal(Path(lake.glob("t"))),
    )
    with pytest.raises((duckdb.PermissionException, duckdb.InvalidInputException)) as refused:
        connection.execute(query)
    assert re.search(r"disabled (by|through) configuration|has been locked", str(refused.value))
    assert sorted(tmp_path.rglob("*")) == before
    assert connection.sql("SELECT count(*) FROM t").fetchall() == [(2,)]


def test_a_lake_under_a_folder_with_a_quote_is_queried(tmp_path: Path) -> None:
    lake = Lake(tmp_path / 'it\'s "the" lake')
    lake.write_partition("t", DAY, {"data": _frame(2)})
    lake.write_partition("it's", DAY, {"data": _frame(1)})
    connection = lake.connect()
    assert connection.sql("SELECT count(*) FROM t").fetchall() == [(2,)]
    assert connection.sql('SELECT count(*) FROM "it\'s"').fetchall() == [(1,)]


def test_missing_partition_error_names_the_path(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"day=2025-03-01/data\.parquet"):
        lake.read_partition("t", DAY)


def test_read_days_skips_absent_days_and_delete_removes(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write_partition("t", DAY, {"data": _frame(2)})
    assert len(lake.read_days("t", [DAY, date(2025, 3, 5)])) == 2
    assert lake.partition_days("t") == [DAY]
    assert lake.delete_partition("t", DAY)
    assert lake.partition_days("t") == []
    assert not lake.delete_partition("t", DAY)


def _varied(day: int, rows: int) -> pd.DataFrame:
    """A frame with the dtypes a lake part meets, some values missing."""
    return pd.DataFrame(
        {
            "date": pd.Timestamp(f"2025-03-{day:02d}") + pd.to_timedelta(range(rows), unit="h"),
            "store_id": [f"S{i}" if i % 3 else None for i in range(rows)],
            "units_sold": range(rows),
            "price": [1.5 * i if i % 2 else float("nan") for i in range(rows)],
            "on_promotion": [i % 2 == 0 for i in range(rows)],
            "stock": pd.array([i if i % 2 else None for i in range(rows)], dtype="Int64"),
            "channel": pd.Categorical(["web", "shop"] * (rows // 2) + ["web"] * (rows % 2)),
            "at": pd.date_range("2025-03-01", periods=rows, freq="h", tz="Europe/Berlin"),
        }
    )


def test_a_range_write_reads_back_as_writing_each_day_alone(tmp_path: Path) -> None:
    from decimal import Decimal

    days = [date(2025, 3, d) for d in range(1, 7)]
    rows = dict(zip(days, [4, 1, 0, 3, 5, 2], strict=True))
    frames = {day: _varied(day.day, rows[day]) for day in days}
    frames[days[5]] = frames[days[5]].assign(store_id=None)  # an all-null text column
    frames[days[3]] = frames[days[3]].assign(weather="sunny")  # an extra column
    # decimals take their Arrow scale from the values: each day keeps its own
    money = {day: pd.DataFrame({"amount": [Decimal("1." + "5" * day.day)]}) for day in days}
    lake = Lake(tmp_path / "lake")
    lake.write_partitions("t", {day: {"data": frames[day], "money": money[day]} for day in days})
    for day in days:
        for part, frame in (("data", frames[day]), ("money", money[day])):
            alone = tmp_path / "alone" / f"{day.isoformat()}-{part}.parquet"
            alone.parent.mkdir(exist_ok=True)
            frame.to_parquet(alone, index=False)
            expected = pd.read_parquet(alone)
            pd.testing.assert_frame_equal(lake.read_partition("t", day, part), expected)
            pd.testing.assert_frame_equal(pd.read_parquet(lake.part_path("t", day, part)), expected)
        amounts = lake.read_partition("t", day, "money")["amount"]
        assert list(map(str, amounts)) == list(map(str, pd.read_parquet(alone)["amount"]))


def test_a_range_write_that_cannot_store_a_day_names_it_and_writes_nothing(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    first, second = DAY, date(2025, 3, 2)
    lake.write_partitions("t", {first: {"data": _frame(5)}, second: {"data": _frame(5)}})
    unwritable = pd.DataFrame({"store_id": [object()], "units_sold": [1]})
    with pytest.raises(ValueError) as raised:
        lake.write_partitions("t", {first: {"data": _frame(2)}, second: {"data": unwritable}})
    assert "'data' of the 2025-03-02 partition" in "".join(raised.value.__notes__)
    assert [len(lake.read_partition("t", day)) for day in (first, second)] == [5, 5]
    assert sorted(p.name for p in lake.table_path("t").iterdir()) == [
        "day=2025-03-01",
        "day=2025-03-02",
    ]


def test_a_range_rewrite_replaces_every_day_and_leaves_no_staging(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    days = [date(2025, 3, d) for d in range(1, 21)]
    lake.write_partitions("t", {day: {"data": _frame(4), "extra": _frame(1)} for day in days})
    lake.write_partitions("t", {day: {"data": _frame(day.day)} for day in days}, workers=4)
    assert [len(lake.read_partition("t", day)) for day in days] == [day.day for day in days]
    assert not lake.part_path("t", days[0], "extra").exists()
    assert sorted(p.name for p in lake.table_path("t").iterdir()) == [
        f"day={day.isoformat()}" for day in days
    ]


def test_read_days_equals_concatenating_each_day(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    days = [date(2025, 3, d) for d in range(1, 5)]
    lake.write_partitions("same", {day: {"data": _varied(day.day, day.day)} for day in days})
    lake.write_partitions(
        "mixed",
        {
            day: {"data": _frame(day.day).assign(**({"weather": "sun"} if day.day % 2 else {}))}
            for day in days
        },
    )
    for table in ("same", "mixed"):
        expected = pd.concat(
            [pd.read_parquet(lake.part_path(table, day)) for day in days], ignore_index=True
        )
        pd.testing.assert_frame_equal(lake.read_days(table, days), expected)
    pd.testing.assert_frame_equal(
        lake.read_days("same", days, columns=["store_id", "stock"]),
        pd.concat(
            [
                pd.read_parquet(lake.part_path("same", day), columns=["store_id", "stock"])
                for day in days
            ],
            ignore_index=True,
        ),
    )


def test_read_days_of_a_column_a_day_lacks_names_the_file(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    lake.write_partition("t", DAY, {"data": _frame(2)})
    with pytest.raises(ValueError, match=r"day=2025-03-01/data\.parquet has no column\(s\) price"):
        lake.read_days("t", [DAY], columns=["store_id", "price"])


def test_the_sweep_removes_only_dead_writers_debris_and_puts_a_lost_partition_back(
    tmp_path: Path,
) -> None:
    import os
    import socket
    import subprocess
    import sys
    import uuid

    from forecastops.stores.lake import RETIRED_PREFIX, STAGING_PREFIX

    lake = Lake(tmp_path)
    day, other = date(2025, 1, 1), date(2025, 1, 2)
    lake.write_partition("t", other, {"data": _frame(2)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process now

    def folder(prefix: str, day: date, pid: int) -> Path:
        path = lake.table_path("t") / (
            f"{prefix}day={day.isoformat()}-{socket.gethostname()}.{pid}.{uuid.uuid4().hex}"
        )
        path.mkdir()
        return path

    dead_staging = folder(STAGING_PREFIX, other, dead.pid)
    live_staging = folder(STAGING_PREFIX, other, os.getpid())  # a write in progress here
    lost = folder(RETIRED_PREFIX, day, dead.pid)  # died between the two renames of a swap
    _frame(3).to_parquet(lost / "data.parquet", index=False)
    stale_retired = folder(RETIRED_PREFIX, other, dead.pid)

    handled = lake.sweep_debris("t")

    assert sorted(handled) == sorted(p.name for p in (dead_staging, lost, stale_retired))
    assert live_staging.is_dir() and not dead_staging.exists() and not stale_retired.exists()
    assert len(lake.read_partition("t", day)) == 3  # the lost partition is back
    assert len(lake.read_partition("t", other)) == 2


def test_an_unwritable_lake_names_the_setting_and_the_folder(tmp_path: Path) -> None:
    from forecastops.stores.lake import LakeNotWritable

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LakeNotWritable, match=r"FORECASTOPS_LAKE_DIR.*nothing was written"):
        Lake(blocker / "lake").write_partition("t", date(2025, 1, 1), {"data": _frame(1)})
