"""`forecastops promote | rollback | history | status | forecasts | reproduce` against a real
MLflow SQLite store and lake: the happy paths, and every refusal exits non-zero, names the flag
and leaves the aliases where they were."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from forecastops.domain.performance import TRENDS
from forecastops.ops.cli import app
from forecastops.pipeline.cycle import DECISION_TABLE
from forecastops.pipeline.operations import due_day
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHALLENGER, CHAMPION
from tests.registry_helpers import (
    CUTOFF,
    empty_mlflow_store,
    trained_challengers,
    write_forecasts,
)

FORECAST_DAYS = 7
runner = CliRunner()


def _write_forecasts(lake: Lake, sales: pd.DataFrame, cutoff: date, version: str) -> None:
    """A stored forecast of the next `FORECAST_DAYS` days: the actuals + 1 unit."""
    days = pd.date_range(cutoff + timedelta(days=1), periods=FORECAST_DAYS)
    rows = sales[sales["date"].isin(days)][["date", "store_id", "product_id", "units_sold"]]
    p50 = rows.pop("units_sold").astype(float) + 1.0
    write_forecasts(lake, rows, cutoff, version, p50)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake of 100 simulated days (2 stores x 8 products) and a registry with two versions
    trained by challenger_model: both passed the gate; v2 is champion (after v1) and
    challenger. Version 2's forecasts of the last two weeks are stored."""
    workdir = tmp_path_factory.mktemp("registry-cli")
    cutoffs = (CUTOFF - timedelta(days=20), CUTOFF - timedelta(days=14))
    sales, lake, uri = trained_challengers(workdir, cutoffs)
    registry = ModelRegistry(uri)
    for number, cutoff in enumerate(cutoffs, start=1):
        version = str(number)
        registry.set_version_tags(
            version, {"backtest_wape": "0.25", "promotion_decision": "promoted"}
        )
        registry.move_alias(CHAMPION, version, actor="dagster:run-gate", reason="gate passed")
        lake.write_partition(
            DECISION_TABLE,
            cutoff,
            {
                "data": pd.DataFrame(
                    {"promote": [True], "challenger_version": [version], "reasons": ["better"]}
                )
            },
        )
    for offset in range(14, 0, -1):
        _write_forecasts(lake, sales, CUTOFF - timedelta(days=offset), "2")
    return workdir


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    """Settings of an operator shell on a private copy of the registry (shared lake)."""
    shutil.copyfile(home / "mlflow.db", tmp_path / "mlflow.db")
    return {
        "FORECASTOPS_HOME": str(tmp_path),
        "FORECASTOPS_LAKE_DIR": str(home / "lake"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }


@pytest.fixture
def registry(env: dict[str, str]) -> ModelRegistry:
    return ModelRegistry(env["MLFLOW_TRACKING_URI"])


def invoke(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def flat(text: str) -> str:
    """Output with the error panel's borders and line wrapping removed."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", text)


def state(registry: ModelRegistry) -> tuple[str | None, str | None, int]:
    """Where the aliases point and how many moves are recorded."""
    return (
        registry.alias_version(CHAMPION),
        registry.alias_version(CHALLENGER),
        len(registry.history()),
    )


BEFORE = ("2", "2", 4)


# -- promote and rollback ---------------------------------------------------------------------


def test_promote_with_yes_moves_the_champion_as_the_os_user(
    env: dict[str, str], registry: ModelRegistry
) -> None:
    result = invoke(env, "promote", "--version", "1", "--yes", "--reason", "v2 over-forecasts")

    assert result.exit_code == 0, result.output
    assert "champion: 2 -> 1" in result.stdout
    move = registry.history()[-1]
    assert (move.alias, move.from_version, move.to_version) == (CHAMPION, "2", "1")
    assert (move.actor, move.reason) == (getpass.getuser(), "v2 over-forecasts")


def test_promoting_the_champion_again_changes_nothing(
    env: dict[str, str], registry: ModelRegistry
) -> None:
    result = invoke(env, "promote", "--version", "2", "--yes")

    assert result.exit_code == 0 and "already champion; nothing changed" in result.stdout
    assert state(registry) == BEFORE


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["--version", "9", "--yes"], 2, "--version"),
        (["--version", "0", "--yes"], 2, "--version"),
        (["--version", "two", "--yes"], 2, "--version"),
        (["--yes"], 2, "--version"),
        (["--version", "1", "--yes", "--reason", "  "], 2, "--reason"),
        (["--version", "1"], 2, "--yes"),  # no terminal to confirm on
    ],
)
def test_promote_usage_errors_name_the_flag_and_change_nothing(
    env: dict[str, str], registry: ModelRegistry, args: list[str], code: int, named: str
) -> None:
    result = invoke(env, "promote", *args)

    assert result.exit_code == code, result.output
    assert named in result.output
    assert state(registry) == BEFORE


def test_an_unknown_version_is_named_with_the_versions_there_are(env: dict[str, str]) -> None:
    result = invoke(env, "promote", "--version", "9", "--yes")

    assert "Version 9 does not exist" in flat(result.output)
    assert "versions: 1, 2" in flat(result.output)


def test_a_version_the_gate_rejected_is_refused_unless_forced(
    env: dict[str, str], registry: ModelRegistry
) -> None:
    registry.set_version_tags("1", {"promotion_decision": "rejected"})

    refused = invoke(env, "promote", "--version", "1", "--yes")
    assert refused.exit_code == 1
    assert "Refused: Version 1 is not promotable" in refused.stderr and "--force" in refused.stderr
    assert state(registry) == BEFORE

    forced = invoke(env, "promote", "--version", "1", "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert registry.alias_version(CHAMPION) == "1"
    assert "[forced past: the promotion gate rejected it" in registry.history()[-1].reason


def test_promote_on_a_terminal_asks_and_only_yes_moves(
    env: dict[str, str], registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert _on_a_terminal(monkeypatch, "n\n", "promote", "--version", "1") == 1
    assert state(registry) == BEFORE
    assert _on_a_terminal(monkeypatch, "y\n", "promote", "--version", "1") == 0
    assert registry.alias_version(CHAMPION) == "1"


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch, answer: str, *args: str) -> int:
    """Run the CLI in this process with stdin a real pseudo-terminal holding `answer`."""
    leader, follower = os.openpty()
    os.write(leader, answer.encode())
    try:
        with open(follower, encoding="utf-8") as terminal:
            monkeypatch.setattr(sys, "stdin", terminal)
            monkeypatch.setattr(sys, "stdout", io.StringIO())
            with pytest.raises(SystemExit) as exited:
                app([*args], prog_name="forecastops")
    finally:
        os.close(leader)
    return int(exited.value.code or 0)


def test_rollback_returns_to_the_previous_champion(
    env: dict[str, str], registry: ModelRegistry
) -> None:
    result = invoke(env, "rollback", "--yes", "--reason", "v2 forecasts drifted")

    assert result.exit_code == 0, result.output
    assert registry.alias_version(CHAMPION) == "1"
    move = registry.history()[-1]
    assert (move.from_version, move.actor, move.reason) == (
        "2",
        getpass.getuser(),
        "v2 forecasts drifted",
    )


def test_rollback_without_a_previous_champion_or_a_registry_is_refused(tmp_path: Path) -> None:
    env = {"FORECASTOPS_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": ""}
    missing = invoke(env, "rollback", "--yes")
    assert missing.exit_code == 1 and "No MLflow registry at" in missing.stderr

    (tmp_path / "mlflow").mkdir()
    shutil.copyfile(empty_mlflow_store(), tmp_path / "mlflow" / "mlflow.db")
    refused = invoke(env, "rollback", "--yes")
    assert refused.exit_code == 1
    assert "No previous champion to roll back to" in flat(refused.stderr)


def test_rollback_without_yes_and_without_a_terminal_is_refused(
    env: dict[str, str], registry: ModelRegistry
) -> None:
    result = invoke(env, "rollback")

    assert result.exit_code == 2 and "--yes" in result.output
    assert state(registry) == BEFORE


def test_history_lists_every_alias_move(env: dict[str, str]) -> None:
    result = invoke(env, "history", "--format", "csv")
    table = invoke(env, "history")

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["moved_at", "alias", "change", "actor", "reason"]
    assert len(rows) == 4
    newest = rows[0]
    assert (newest["alias"], newest["change"], newest["actor"]) == (
        "champion",
        "1 -> 2",
        "dagster:run-gate",
    )
    assert newest["reason"].startswith("gate passed")
    assert table.exit_code == 0 and "champion  1 -> 2" in re.sub(r" {2,}", "  ", table.stdout)


# -- status, forecasts, reproduce -------------------------------------------------------------


def test_status_prints_the_champion_and_the_challenger_as_json(env: dict[str, str]) -> None:
    result = invoke(env, "status", "--as-of", CUTOFF.isoformat(), "--format", "json")

    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    champion, challenger = status["champion"], status["challenger"]
    assert champion["version"] == "2" and champion["status"] == "serving"
    assert champion["training_cutoff"] == (CUTOFF - timedelta(days=14)).isoformat()
    assert champion["as_of"] == CUTOFF.isoformat()
    assert champion["last_scored_day"] == CUTOFF.isoformat() and champion["days_scored_7d"] == 7
    assert 0 < champion["wape_7d"] < 1 and champion["mae_7d"] == pytest.approx(1.0)
    assert champion["trend"] in TRENDS
    assert champion["model_status"] == "no_baseline"  # its cutoff was never backtested
    assert challenger["version"] == "2" and challenger["backtest"]["wape"] == 0.25
    assert challenger["promotion_eligible"] is True
    assert challenger["decision_source"].startswith("lake promotion_decision")
    table = invoke(env, "status", "--as-of", CUTOFF.isoformat()).stdout
    lines = [" ".join(line.split()) for line in table.splitlines()]
    assert "champion" in lines and "challenger" in lines  # one section each
    assert "version 2" in lines and "model_status no_baseline" in lines
    assert "backtest.wape 0.25" in lines  # nested fields, dotted


def test_status_speaks_for_yesterday_by_default_and_awaits_missing_actuals(
    env: dict[str, str],
) -> None:
    timezone = os.environ.get("FORECASTOPS_TIMEZONE", "UTC")
    before = due_day(timezone)
    result = invoke(env, "status", "--format", "json")  # the lake's actuals end in 2025
    after = due_day(timezone)  # the same day unless midnight passed meanwhile

    assert result.exit_code == 0, result.output
    champion = json.loads(result.stdout)["champion"]
    assert champion["as_of"] in {before.isoformat(), after.isoformat()}
    assert champion["model_status"] == "awaiting_actuals" and champion["wape_7d"] is None
    bad = invoke(env, "status", "--as-of", "yesterday")
    assert bad.exit_code == 2 and "--as-of" in bad.output


def test_forecasts_export_as_csv_to_stdout_and_parquet_to_a_file(
    env: dict[str, str], tmp_path: Path
) -> None:
    cutoff = (CUTOFF - timedelta(days=1)).isoformat()
    csv = invoke(env, "forecasts", "--date", cutoff)
    assert csv.exit_code == 0, csv.output
    table = pd.read_csv(io.StringIO(csv.stdout))
    assert list(table.columns[:7]) == [
        "date",
        "store_id",
        "product_id",
        "p10",
        "p50",
        "p90",
        "model_version",
    ]
    assert {"feature_set_version", "data_sha256", "dagster_run_id"} <= set(table.columns)
    assert table["date"].iloc[0] == CUTOFF.isoformat()

    out = tmp_path / "export" / "forecasts.parquet"
    parquet = invoke(env, "forecasts", "--date", cutoff, "--format", "parquet", "--out", str(out))
    assert parquet.exit_code == 0, parquet.output
    assert len(pd.read_parquet(out)) == len(table)


def test_forecasts_trace_of_a_partition_stored_before_traceability_is_empty_and_says_so(
    env: dict[str, str],
) -> None:
    cutoff = (CUTOFF - timedelta(days=1)).isoformat()  # written without the trace columns
    result = invoke(env, "forecasts", "--date", cutoff, "--trace")

    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns[-4:]) == ["objective", "window_days", "config_hash", "feature_hash"]
    assert table[["objective", "window_days", "config_hash", "feature_hash"]].isna().all().all()
    assert f"These {len(table)} forecasts were stored before prediction traceability" in flat(
        result.stderr
    )
    plain = invoke(env, "forecasts", "--date", cutoff)
    assert "feature_hash" not in plain.stdout and plain.stderr == ""


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["--date", "2025-13-01"], 2, "--date"),
        (["--date", "2025-04-01", "--format", "parquet"], 2, "--out"),
        (["--date", "2025-04-01", "--format", "xlsx"], 2, "--format"),
        (["--date", "2025-01-05"], 1, "dg launch --job retrain_job --partition 2025-01-05"),
    ],
)
def test_forecasts_refusals_say_what_to_do(
    env: dict[str, str], args: list[str], code: int, named: str
) -> None:
    result = invoke(env, "forecasts", *args)

    assert result.exit_code == code, result.output
    assert named in flat(result.output)


def test_reproduce_refits_a_version_to_the_recorded_metric(env: dict[str, str]) -> None:
    result = invoke(env, "reproduce", "--version", "2")

    assert result.exit_code == 0, result.output
    rows = {
        cells[1].strip(): [cell.strip() for cell in cells[2:5]]
        for line in result.stdout.splitlines()
        if line.startswith("| ") and (cells := line.split("|"))
    }
    wape = next(values for name, values in rows.items() if name.startswith("train_wape"))
    assert abs(float(wape[0]) - float(wape[1])) <= 1e-6 and wape[2] == "yes"
    assert rows["training data sha256"][2] == "yes"
    assert rows["booster artifact sha256 (information)"][2] == "yes"
    assert "Reproduced" in result.stdout


def test_reproduce_of_an_unknown_version_is_a_usage_error(env: dict[str, str]) -> None:
    result = invoke(env, "reproduce", "--version", "5")

    assert result.exit_code == 2 and "--version" in result.output
