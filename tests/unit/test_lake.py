from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from forecastops.lake import Lake

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
