"""`forecastops report` on a fresh home, and its refusals of bad flags (the report on a real
pipeline is tested in tests/dagster/test_incident_report.py)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from forecastops.ops.cli import app
from forecastops.pipeline.incident_report import SECTIONS, IncidentReport
from tests.integration.helpers import isolated_env, run

runner = CliRunner()


def test_a_fresh_home_gets_a_report_that_says_nothing_has_run_yet(tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.csv"
    env = isolated_env(tmp_path / "home")
    result = run(["forecastops", "report", "--format", "csv", "--out", str(out)], env)
    assert result.returncode == 0, result.stderr
    sections = IncidentReport.from_csv(out).sections
    assert list(sections) == list(SECTIONS)
    assert sections["recent_runs"].empty and sections["drift"].empty
    assert sections["open_alert_counts"]["total"].item() == "0"
    assert "no model registry yet" in sections["model_health"]["note"].item()
    assert sections["report"]["runs_source"].item().startswith("Dagster instance at")
    # Reading the report created neither a registry nor an alert store in the home.
    assert not (tmp_path / "home" / "mlflow").exists()
    assert not (tmp_path / "home" / "alerts.db").exists()


def test_an_instance_that_cannot_be_read_still_gets_a_report_saying_why(tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    env = isolated_env(tmp_path / "home")
    dagster_home = Path(env["DAGSTER_HOME"]).resolve()
    (dagster_home / "dagster.yaml").write_text(
        "run_storage:\n  module: forecastops_no_such_module\n  class: NoSuchRunStorage\n"
    )
    result = run(["forecastops", "report", "--format", "csv", "--out", str(out)], env)
    assert result.returncode == 0, result.stderr
    command = "`-m forecast_assets.run_history --json --limit=20`"
    assert f"Warning: the report lists no runs: {command} exited with 1" in result.stderr
    assert f"(DAGSTER_HOME={dagster_home}); its output ends with:" in result.stderr
    assert "forecastops_no_such_module" in result.stderr  # the child's own error, quoted
    sections = IncidentReport.from_csv(out).sections
    assert sections["recent_runs"].empty
    assert sections["report"]["runs_source"].item().startswith(f"unavailable: {command} exited")


def test_an_unknown_format_is_refused_naming_the_flag(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", "--format", "xml"], env={"FORECASTOPS_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "--format" in result.output and "xml" in result.output


def test_a_folder_as_out_is_refused_naming_the_flag(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["report", "--out", str(tmp_path)], env={"FORECASTOPS_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2
    assert "--out" in result.output and "is a folder" in result.output


def test_an_unwritable_out_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the report's folder should be\n")
    out = blocker / "report.md"
    result = run(["forecastops", "report", "--out", str(out)], isolated_env(tmp_path / "home"))
    assert result.returncode == 1
    assert f"Cannot write --out {out}" in result.stderr
    assert "Nothing was written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "taken"]
