"""The `forecastops` command: its commands, and a clear refusal of every bad flag or setting."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecastops.ops.cli import app
from forecastops.pipeline.ingest import build_quality_reports, ingest_days
from forecastops.stores.lake import Lake

runner = CliRunner()


def _invoke(home: Path, *args: str, **env: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env={"FORECASTOPS_HOME": str(home), **env})


def test_simulate_writes_one_landing_file_per_day(tmp_path: Path) -> None:
    result = _invoke(
        tmp_path,
        "simulate",
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-05",
        "--stores",
        "2",
        "--products",
        "2",
        "--corrupt",
        "2025-01-03:duplicates",
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "landing").iterdir())
    assert names == [f"sales_2025-01-0{d}.csv" for d in range(1, 6)]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--start", "2025-02-30", "--end", "2025-03-01"], "--start"),
        (["--start", "2025-03-01", "--end", "2025-02-01"], "end"),
        (["--start", "2025-01-01", "--end", "2025-01-02", "--stores", "0"], "--stores"),
        (
            ["--start", "2025-01-01", "--end", "2025-01-02", "--corrupt", "2025-01-01:melted"],
            "--corrupt",
        ),
        (["--start", "2025-01-01", "--end", "2025-01-02", "--format", "xlsx"], "--format"),
        (["--days", "5", "--start", "2025-01-01"], "--days"),
        (["--end", "2025-01-01"], "--start"),
    ],
)
def test_simulate_refuses_bad_flags_and_writes_nothing(
    tmp_path: Path, args: list[str], named: str
) -> None:
    result = _invoke(tmp_path, "simulate", *args)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert not (tmp_path / "landing").exists()


def test_a_bad_setting_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "simulate", "--days", "3", FORECASTOPS_START_DATE="01/02/2025")
    assert result.exit_code == 2
    assert "FORECASTOPS_START_DATE='01/02/2025'" in result.output
    assert not (tmp_path / "landing").exists()


def test_quality_prints_a_stored_report_and_explains_a_missing_one(tmp_path: Path) -> None:
    assert (
        _invoke(
            tmp_path,
            "simulate",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-10",
            "--stores",
            "2",
            "--products",
            "3",
        ).exit_code
        == 0
    )
    lake = Lake(tmp_path / "lake")
    days = [date(2025, 1, d) for d in range(1, 11)]
    ingest_days(lake, tmp_path / "landing", days)
    build_quality_reports(lake, days, history_days=28)

    shown = _invoke(tmp_path, "quality", "--date", "2025-01-10")
    assert shown.exit_code == 0, shown.output
    assert "row_count" in shown.output and "zero_sales_share" in shown.output

    missing = _invoke(tmp_path, "quality", "--date", "2025-02-01")
    assert missing.exit_code == 1
    assert "No quality report for 2025-02-01" in missing.output

    bad = _invoke(tmp_path, "quality", "--date", "tomorrow")
    assert bad.exit_code == 2 and "--date" in bad.output


def test_sql_queries_the_lake_and_reports_bad_sql(tmp_path: Path) -> None:
    assert (
        _invoke(
            tmp_path,
            "simulate",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-03",
            "--stores",
            "1",
            "--products",
            "2",
        ).exit_code
        == 0
    )
    ingest_days(
        Lake(tmp_path / "lake"), tmp_path / "landing", [date(2025, 1, d) for d in (1, 2, 3)]
    )
    result = _invoke(tmp_path, "sql", "SELECT count(DISTINCT day) AS days FROM sales_contract")
    assert result.exit_code == 0, result.output
    assert "3" in result.output.splitlines()[-1]
    broken = _invoke(tmp_path, "sql", "SELEKT 1")
    assert broken.exit_code == 1 and "Query failed" in broken.output


def test_sql_over_a_lake_with_a_quote_in_its_path_is_read_only(tmp_path: Path) -> None:
    home = tmp_path / 'ops\' "home"'
    lake = Lake(home / "lake")
    lake.write_partition("sales_contract", date(2025, 1, 1), {"data": pd.DataFrame({"n": [1]})})
    result = _invoke(home, "sql", "SELECT count(*) AS days FROM sales_contract")
    assert result.exit_code == 0, result.output
    assert "1" in result.output.splitlines()[-1]
    target = tmp_path / "copied.csv"
    for statement in (
        f"COPY sales_contract TO '{target}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"ATTACH '{tmp_path / 'other.db'}'",
        "INSTALL httpfs",
        "SET enable_external_access = true",
    ):
        refused = _invoke(home, "sql", statement)
        assert refused.exit_code == 1, (statement, refused.output)
        assert "Query failed" in refused.output
        assert "forecastops sql is read-only over the lake" in refused.output, refused.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [home.name]


def test_read_commands_print_a_table_for_people_and_json_or_csv_for_scripts(
    tmp_path: Path,
) -> None:
    lake = Lake(tmp_path / "lake")
    rows = pd.DataFrame(
        {
            "n": range(60),
            "share": [1 / 3 + i for i in range(60)],
            "note": ["x" * 100] + [None] * 59,
        }
    )
    lake.write_partition("numbers", date(2025, 1, 1), {"data": rows})
    query = "SELECT n, share, note FROM numbers ORDER BY n"

    table = _invoke(tmp_path, "sql", query)
    limited = _invoke(tmp_path, "sql", query, "--limit", "5")
    everything = _invoke(tmp_path, "sql", query, "--limit", "0")
    as_csv = _invoke(tmp_path, "sql", query, "--format", "csv")
    as_json = _invoke(tmp_path, "sql", query, "--format", "json")

    assert table.exit_code == 0, table.output
    assert "50 of 60 rows shown; --limit 0 shows all of them." in table.output
    assert "0.3333" in table.output and "0.3333333" not in table.output  # rounded
    assert "x" * 59 + "…" in table.output and "x" * 60 not in table.output  # cut
    assert "—" in table.output  # unknown is shown as unknown, not as 0 or blank
    assert "5 of 60 rows shown" in limited.output
    assert "rows shown" not in everything.output and "59" in everything.output
    parsed = pd.read_csv(io.StringIO(as_csv.output))
    assert len(parsed) == 60 and parsed.loc[0, "note"] == "x" * 100
    assert parsed.loc[1, "share"] == pytest.approx(4 / 3)
    records = json.loads(as_json.output)
    assert len(records) == 60 and records[1]["note"] is None


def test_the_cli_has_a_version_and_clean_help(tmp_path: Path) -> None:
    from importlib.metadata import version

    shown = _invoke(tmp_path, "--version")
    assert shown.exit_code == 0 and shown.output.strip() == f"forecastops {version('forecastops')}"
    for command in (["--help"], ["alerts", "list", "--help"], ["promote", "--help"]):
        helped = _invoke(tmp_path, *command)
        assert helped.exit_code == 0, helped.output
        assert "<bool>" not in helped.output, command
    doctor = " ".join(_invoke(tmp_path, "--help").output.replace("│", " ").split())
    assert "one verdict per item" in doctor  # a wrapped docstring reads as one paragraph
