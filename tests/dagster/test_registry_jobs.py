"""The registry's Dagster side: challenger_model records a reproducible training snapshot, and
the launchpad jobs promote_model_job / rollback_model_job move the champion as the run, or fail
with a clear description and change nothing."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest

from forecast_jobs.registry_jobs import (
    PROMOTE_OP,
    ROLLBACK_OP,
    promote_model_job,
    rollback_model_job,
)
from forecastops.pipeline.operations import (
    REPRODUCE_TOLERANCE,
    TRAIN_WAPE_METRIC,
    reproduce_version,
)
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHALLENGER, CHAMPION, TRAINING_DATA_TAG
from resources.mlflow_registry import MlflowRegistry
from tests.dagster.pipeline import op_failure
from tests.registry_helpers import CUTOFF, trained_challengers


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions trained by challenger_model on a simulated lake (2 stores x 8 products):
    v1 passed the gate and is champion; v2, the challenger, was rejected by the gate."""
    workdir = tmp_path_factory.mktemp("registry-jobs")
    _, _, uri = trained_challengers(workdir, (CUTOFF - timedelta(days=1), CUTOFF))
    registry = ModelRegistry(uri)
    registry.set_version_tags("1", {"backtest_wape": "0.2", "promotion_decision": "promoted"})
    registry.move_alias(CHAMPION, "1", actor="dagster:run-gate", reason="gate passed")
    registry.set_version_tags("2", {"backtest_wape": "0.3", "promotion_decision": "rejected"})
    return workdir


@pytest.fixture
def registry(store: Path, tmp_path: Path) -> ModelRegistry:
    """The module's registry on a private copy of its database (artifacts stay shared)."""
    shutil.copyfile(store / "mlflow.db", tmp_path / "mlflow.db")
    return ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")


def _run(
    job: dg.JobDefinition, registry: ModelRegistry, op: str, **config: object
) -> dg.ExecuteInProcessResult:
    return job.execute_in_process(
        run_config={"ops": {op: {"config": config}}},
        resources={"mlflow_registry": MlflowRegistry(tracking_uri=registry.tracking_uri)},
        raise_on_error=False,
    )


def aliases(registry: ModelRegistry) -> dict[str, str | None]:
    return {alias: registry.alias_version(alias) for alias in (CHAMPION, CHALLENGER)}


def test_a_challenger_refits_from_its_recorded_snapshot_to_the_same_metric(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    tags = registry.version_tags("2")
    assert tags[TRAINING_DATA_TAG] == "training_data/training_sales.parquet"

    result = reproduce_version(registry, "2", tmp_path / "work")

    assert result.data_matches
    assert result.wape_difference <= REPRODUCE_TOLERANCE
    assert 0 < result.recorded_wape < 1
    assert result.booster_matches, "LightGBM is deterministic here: the refit is byte-identical"
    assert result.reproduced
    assert TRAIN_WAPE_METRIC in result.to_frame()["check"].iloc[3]


def test_promote_job_moves_the_champion_as_the_run_and_rollback_undoes_it(
    registry: ModelRegistry,
) -> None:
    promoted = _run(promote_model_job, registry, PROMOTE_OP, version=2, force=True, reason="hotfix")
    assert promoted.success
    assert aliases(registry) == {CHAMPION: "2", CHALLENGER: "2"}
    move = registry.history()[-1]
    assert move.actor == f"dagster:{promoted.run_id}"
    assert move.reason.startswith("hotfix [forced past: the promotion gate rejected it")

    rolled_back = _run(rollback_model_job, registry, ROLLBACK_OP, reason="hotfix was worse")
    assert rolled_back.success
    assert registry.alias_version(CHAMPION) == "1"
    move = registry.history()[-1]
    assert (move.from_version, move.to_version) == ("2", "1")
    assert (move.actor, move.reason) == (f"dagster:{rolled_back.run_id}", "hotfix was worse")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"version": 7}, "ops.promote_model.config.version: Version 7 does not exist"),
        ({"version": 0}, "ops.promote_model.config.version"),
        ({"version": 2}, "ops.promote_model.config.force: Version 2 is not promotable"),
        ({"version": 1, "reason": " "}, "ops.promote_model.config.reason"),
    ],
)
def test_promote_job_refusals_name_the_config_field_and_change_nothing(
    registry: ModelRegistry, config: dict[str, object], named: str
) -> None:
    before = (aliases(registry), len(registry.history()))

    description = op_failure(_run(promote_model_job, registry, PROMOTE_OP, **config), PROMOTE_OP)

    assert named in description
    assert (aliases(registry), len(registry.history())) == before


def test_rollback_job_without_a_previous_champion_fails_and_changes_nothing(
    registry: ModelRegistry,
) -> None:
    before = (aliases(registry), len(registry.history()))

    description = op_failure(_run(rollback_model_job, registry, ROLLBACK_OP), ROLLBACK_OP)

    assert description.startswith("No previous champion to roll back to")
    assert (aliases(registry), len(registry.history())) == before
