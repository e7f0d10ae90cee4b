"""`forecastops experiments propose | list | show | approve | reject | complete` against a real
SQLite store, a real MLflow registry (two versions trained by challenger_model) and a lake of
simulated sales: results computed from realized scores on the same rows, adopt promotes through
the alias history, reject leaves the champion, and every bad flag or illegal move changes
nothing."""

from __future__ import annotations

import getpass
import json
import re
import shutil
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import forecastops.ops.retrain_queue
from forecastops.domain.runs import (
    EXPERIMENT_OBJECTIVE_TAG,
    EXPERIMENT_RUN_TAG,
    EXPERIMENT_WINDOW_TAG,
)
from forecastops.ops.cli import app
from forecastops.ops.retrain_queue import QueuedRetrain
from forecastops.pipeline.cycle import FORECASTS_TABLE
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.stores.alerts.experiments import ExperimentStore
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHAMPION, EXPERIMENT_ID_TAG
from forecastops.stores.settings import Settings
from tests.registry_helpers import CUTOFF, trained_challengers

runner = CliRunner()
TEST_DAYS = 14
FIRST = CUTOFF - timedelta(days=TEST_DAYS - 1)
"""The test period: the last 14 days of the lake, after both versions' training cutoffs."""
MISSING = CUTOFF - timedelta(days=5)
"""A day whose actuals are not in the lake: unknown, never scored."""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """100 simulated days (2 stores x 8 products); v1 (champion) and v2 trained before the
    test period."""
    workdir = tmp_path_factory.mktemp("experiments-cli")
    cutoffs = (CUTOFF - timedelta(days=21), CUTOFF - timedelta(days=14))
    sales, _, uri = trained_challengers(workdir, cutoffs)
    ModelRegistry(uri).move_alias(CHAMPION, "1", actor="dagster:run-gate", reason="gate passed")
    return workdir, sales


@pytest.fixture
def env(home: tuple[Path, pd.DataFrame], tmp_path: Path) -> dict[str, str]:
    """An operator shell on private copies of the registry and the lake."""
    workdir, _ = home
    shutil.copyfile(workdir / "mlflow.db", tmp_path / "mlflow.db")
    shutil.copytree(workdir / "lake", tmp_path / "lake")
    return {
        "FORECASTOPS_HOME": str(tmp_path),
        "FORECASTOPS_LAKE_DIR": str(tmp_path / "lake"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    return runner.invoke(app, list(args), env=env)


def flat(text: str) -> str:
    return re.sub(r"[\s│╭╮╰╯─]+", " ", text)


def store_of(env: dict[str, str]) -> ExperimentStore:
    return ExperimentStore(AlertStore(f"sqlite:///{env['FORECASTOPS_HOME']}/alerts.db"))


def forecast_test_period(
    env: dict[str, str], sales: pd.DataFrame, experimental_error: float
) -> pd.DataFrame:
    """Store one-day-ahead forecasts of every test day for both versions: v1 = actual + 2,
    v2 = actual + `experimental_error`, except that v2 has no forecast for one series on
    `FIRST`. Removes the actuals of `MISSING`. Returns the rows scored for both."""
    lake = Lake(Path(env["FORECASTOPS_LAKE_DIR"]))
    scored = []
    for day in pd.date_range(FIRST, CUTOFF):
        rows = sales[sales["date"] == day][["date", "store_id", "product_id", "units_sold"]]
        actual = rows.pop("units_sold").astype(float)
        cutoff = day.date() - timedelta(days=1)
        champion = rows.assign(p50=actual + 2.0, model_version="1")
        experimental = rows.assign(p50=actual + experimental_error, model_version="2")
        if day.date() == FIRST:
            experimental = experimental.iloc[1:]
        frame = pd.concat([champion, experimental], ignore_index=True).assign(
            training_cutoff=cutoff.isoformat(), horizon_step=1
        )
        lake.write_partition(FORECASTS_TABLE, cutoff, {"data": frame})
        if day.date() != MISSING:
            scored.append(rows.assign(actual=actual).iloc[1 if day.date() == FIRST else 0 :])
    assert lake.delete_partition(RAW_SALES_TABLE, MISSING)
    return pd.concat(scored, ignore_index=True)


def shadow_testing_experiment(env: dict[str, str], window_days: int = 56) -> int:
    """Propose and approve through the CLI; start and shadow (v2, from `FIRST`) in the store,
    as the launch path does once v2 is registered."""
    proposed = invoke(
        env,
        "experiments",
        "propose",
        "--title",
        "Shorter window",
        "--hypothesis",
        "A 56-day window follows the trend faster.",
        "--window-days",
        str(window_days),
        "--test-days",
        str(TEST_DAYS),
    )
    assert proposed.exit_code == 0, proposed.output
    experiment_id = int(re.findall(r"Proposed experiment (\d+)", proposed.output)[0])
    approved = invoke(env, "experiments", "approve", str(experiment_id), "--notes", "go")
    assert approved.exit_code == 0, approved.output
    store = store_of(env)
    store.start(experiment_id, "carol")
    store.shadow(experiment_id, "carol", experimental_version="2", test_started_on=FIRST)
    return experiment_id


def test_complete_computes_the_results_on_the_same_rows_and_adopt_promotes(
    env: dict[str, str], home: tuple[Path, pd.DataFrame]
) -> None:
    scored = forecast_test_period(env, home[1], experimental_error=1.0)
    experiment_id = shadow_testing_experiment(env)

    result = invoke(
        env, "experiments", "complete", str(experiment_id), "--as-of", CUTOFF.isoformat()
    )

    assert result.exit_code == 0, result.output
    experiment = store_of(env).get(experiment_id)
    results = experiment.results
    assert results is not None and experiment.decision == "adopt"
    assert (results.scored_rows, results.realized_days) == (len(scored), 13)
    assert 150 < len(scored) < 13 * 16  # 2 x 8 series, some without a row on a day
    assert (results.baseline_mae, results.experimental_mae) == (2.0, 1.0)
    assert results.baseline_wape == pytest.approx(2 * len(scored) / scored["actual"].sum())
    assert results.experimental_wape == pytest.approx(len(scored) / scored["actual"].sum())
    assert results.improvement_pct == 50.0
    assert (results.baseline_version, results.experimental_version) == ("1", "2")
    assert experiment.rationale is not None
    assert experiment.rationale.startswith("Adopt: the improvement reaches the required 5.0%")
    assert f"on {len(scored)} rows of 13 realized days" in experiment.rationale
    registry = ModelRegistry(env["MLFLOW_TRACKING_URI"])
    assert registry.alias_version(CHAMPION) == "2"
    move = registry.history()[-1]
    assert (move.from_version, move.to_version, move.actor) == ("1", "2", getpass.getuser())
    assert move.reason.startswith(f"experiment {experiment_id} adopted: Adopt: ")
    assert "champion: 1 -> 2" in result.output

    shown = invoke(env, "experiments", "show", str(experiment_id))
    assert shown.exit_code == 0, shown.output
    assert "complete shadow_testing -> completed" in shown.output
    assert '"improvement_pct": 50.0' in shown.output
    listed = json.loads(invoke(env, "experiments", "list", "--format", "json").output)
    assert [(row["id"], row["status"], row["improvement_pct"]) for row in listed] == [
        (experiment_id, "completed", 50.0)
    ]


def test_a_worse_version_is_rejected_and_the_champion_stays(
    env: dict[str, str], home: tuple[Path, pd.DataFrame]
) -> None:
    forecast_test_period(env, home[1], experimental_error=3.0)
    experiment_id = shadow_testing_experiment(env)
    as_of = ("--as-of", CUTOFF.isoformat())

    unsupported = invoke(
        env, "experiments", "complete", str(experiment_id), "--decision", "adopt", *as_of
    )
    assert unsupported.exit_code == 1
    assert "The numbers do not support adopting" in flat(unsupported.output)
    assert store_of(env).get(experiment_id).status == "shadow_testing"

    result = invoke(env, "experiments", "complete", str(experiment_id), *as_of)

    assert result.exit_code == 0, result.output
    experiment = store_of(env).get(experiment_id)
    assert experiment.decision == "reject" and experiment.results is not None
    assert experiment.results.improvement_pct == -50.0
    assert experiment.rationale is not None and "-50.0 %" in experiment.rationale
    registry = ModelRegistry(env["MLFLOW_TRACKING_URI"])
    assert registry.alias_version(CHAMPION) == "1"
    assert [move.to_version for move in registry.history() if move.alias == CHAMPION] == ["1"]
    again = invoke(env, "experiments", "complete", str(experiment_id), *as_of)
    assert again.exit_code == 1
    assert "Completed is final: no command applies" in flat(again.output)


def test_bad_flags_and_illegal_moves_change_nothing(env: dict[str, str]) -> None:
    bad_objective = invoke(
        env, "experiments", "propose", "--title", "t", "--hypothesis", "h", "--objective", "gamma"
    )
    assert bad_objective.exit_code == 2
    assert "FORECASTOPS_OBJECTIVE" in flat(bad_objective.output)
    assert not (Path(env["FORECASTOPS_HOME"]) / "alerts.db").exists()
    unknown = invoke(env, "experiments", "approve", "7")
    assert unknown.exit_code == 2 and "No experiment with id 7" in flat(unknown.output)

    proposed = invoke(env, "experiments", "propose", "--title", "t", "--hypothesis", "h")
    assert proposed.exit_code == 0, proposed.output
    early = invoke(env, "experiments", "complete", "1")
    assert early.exit_code == 1
    assert "it is proposed" in flat(early.output)
    assert "the allowed commands are: approve, reject" in flat(early.output)
    rejected = invoke(env, "experiments", "reject", "1", "--notes", "not now")
    assert rejected.exit_code == 0
    late = invoke(env, "experiments", "approve", "1")
    assert late.exit_code == 1 and "Rejected is final" in flat(late.output)
    assert [event.command for event in store_of(env).get(1).events] == ["propose", "reject"]
    assert date.today() >= FIRST  # the simulated lake lies in the past


def test_start_queues_the_configurations_retrain_and_its_registered_version_starts_the_test(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[tuple[date, ...], dict[str, str] | None]] = []

    def fake_queue(
        days: Sequence[date], settings: Settings, tags: Mapping[str, str] | None = None
    ) -> QueuedRetrain:  # the real backfill is tested in test_retrain_cli.py
        queued.append((tuple(days), dict(tags) if tags else None))
        return QueuedRetrain("expbkfl", tuple(days), settings.dagster_home_path)

    monkeypatch.setattr(forecastops.ops.retrain_queue, "queue_retrain", fake_queue)
    proposed = invoke(
        env, "experiments", "propose", "--title", "Poisson", "--hypothesis", "h",
        "--objective", "poisson", "--window-days", "56",
    )  # fmt: skip
    assert proposed.exit_code == 0, proposed.output
    early = invoke(env, "experiments", "start", "1", "--date", CUTOFF.isoformat())
    assert early.exit_code == 1 and "needs it approved" in flat(early.output)
    assert queued == []
    assert invoke(env, "experiments", "approve", "1").exit_code == 0

    started = invoke(env, "experiments", "start", "1", "--date", CUTOFF.isoformat())

    assert started.exit_code == 0, started.output
    assert queued == [
        (
            (CUTOFF,),
            {
                EXPERIMENT_RUN_TAG: "1",
                EXPERIMENT_OBJECTIVE_TAG: "poisson",
                EXPERIMENT_WINDOW_TAG: "56",
            },
        )
    ]
    assert "queued as backfill expbkfl" in started.output
    assert store_of(env).get(1).status == "in_progress"
    listed = json.loads(invoke(env, "experiments", "list", "--format", "json").output)
    assert listed[0]["status"] == "in_progress"  # no version tagged with it yet

    # what the experiment's retrain run does when it registers its version
    registry = ModelRegistry(env["MLFLOW_TRACKING_URI"])
    registry.set_version_tags("2", {EXPERIMENT_ID_TAG: "1"})
    listed = json.loads(invoke(env, "experiments", "list", "--format", "json").output)

    experiment = store_of(env).get(1)
    assert (listed[0]["status"], listed[0]["version"]) == ("shadow_testing", "2")
    cutoff = date.fromisoformat(registry.version_tags("2")["training_cutoff"])
    assert experiment.test_started_on == cutoff + timedelta(days=1)
    assert [event.command for event in experiment.events] == [
        "propose",
        "approve",
        "start",
        "shadow",
    ]
    assert experiment.events[2].notes == f"retrain_job of {CUTOFF} queued as backfill expbkfl"
