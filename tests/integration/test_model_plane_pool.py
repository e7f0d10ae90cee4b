"""Two retrain cycles submitted at once never interleave: the model-plane pool, enforced by the
real run queue of the embedded instance (its dagster.yaml as the project ships it) and a real
`dagster-daemon`.

Both runs are queued before the daemon starts, so without the pool the queue
(`max_concurrent_runs: 2`) would start them together.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.model import MODEL_PLANE_POOL
from forecast_jobs.instance import prepare_dagster_home
from forecast_jobs.instance_admin import migrate_instance
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.runs import RETRAIN_JOB
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import (
    BACKTEST_METRICS,
    DAGSTER_RUN_ID_TAG,
    backtest_tag,
)
from forecastops.stores.settings import load_settings
from tests.dagster.pipeline import small_cycle_env
from tests.integration.helpers import (
    REPO_ROOT,
    isolated_env,
    launch_job,
    running,
    wait_for_runs,
)

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
CUTOFF = START + timedelta(days=149)
TEST_TAG = {"forecastops/test": "model_plane_pool"}
RUN_DEADLINE_S = 900
STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


def _step_span(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    """When the run's first step started and its last step ended (epoch seconds)."""
    stamps = [entry.timestamp for entry in instance.all_logs(run_id, of_type=STEP_EVENTS)]
    assert stamps, f"run {run_id} logged no steps"
    return min(stamps), max(stamps)


def _backtest_scores(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """The backtest scores the run's `backtest` step recorded, formatted as the version tags."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization and materialization.asset_key == dg.AssetKey("backtest"):
            metadata = materialization.metadata
            return {
                backtest_tag(name): f"{metadata[backtest_tag(name)].value:.6f}"
                for name in BACKTEST_METRICS
            }
    raise AssertionError(f"run {run_id} materialized no backtest")


def test_two_retrain_runs_submitted_at_once_run_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = isolated_env(tmp_path, **small_cycle_env())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    home = prepare_dagster_home(settings)
    migrate_instance()  # as `forecastops doctor --fix` and `forecastops up` do
    write_landing_files(
        SimulationSpec(start=START, end=CUTOFF, stores=2, products=4, seed=11),
        settings.landing_path,
    )
    from forecast_jobs.definitions import build_definitions

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.event_log_storage.get_concurrency_info(MODEL_PLANE_POOL).slot_count == 1
        ingest = execute_partition_range(
            build_definitions(settings).resolve_job_def("ingest_job"), START, CUTOFF, instance
        )
    assert ingest.success

    for cutoff in (CUTOFF - timedelta(days=1), CUTOFF):
        launch_job(env, RETRAIN_JOB, {"dagster/partition": cutoff.isoformat(), **TEST_TAG})
    log = tmp_path / "daemon.log"
    with running(
        ["dagster-daemon", "run", "-w", str(REPO_ROOT / "workspace.yaml")], env, log, cwd=tmp_path
    ):
        runs = wait_for_runs(str(home), TEST_TAG, 2, RUN_DEADLINE_S, log=log)
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2, [r.status for r in runs]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        for r in runs:
            assert r.run_op_concurrency and MODEL_PLANE_POOL in (
                r.run_op_concurrency.all_pools or []
            )
        first, second = sorted(_step_span(instance, r.run_id) for r in runs)
        assert first[1] <= second[0], f"the two cycles' steps overlap: {first} and {second}"
        scores = {r.run_id: _backtest_scores(instance, r.run_id) for r in runs}

    registry = ModelRegistry(settings.mlflow_uri)
    versions = registry.versions()
    assert len(versions) == 2
    for version in versions:
        tags = version["tags"]
        own = scores[tags[DAGSTER_RUN_ID_TAG]]
        assert {name: tags.get(name) for name in own} == own, version["version"]
    assert scores[runs[0].run_id] != scores[runs[1].run_id]  # the comparison can tell them apart
