"""The weekly backtest job, executed for real: it re-scores the champion's own configuration and
writes `champion_backtest_*` onto the champion, leaving the challenger and the daily backtest
as they were.

One simulated retailer, a real Dagster instance and MLflow store (the code location's own
resources, pointed at a temporary folder)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_jobs.definitions import build_definitions
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.performance import PerformancePolicy
from forecastops.pipeline.champion_backtest import CHAMPION_BACKTEST_TABLE
from forecastops.pipeline.cycle import BACKTEST_TABLE
from forecastops.pipeline.operations import champion_status
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import (
    BACKTEST_METRICS,
    BACKTEST_TAG_PREFIX,
    CHALLENGER,
    CHAMPION,
    CHAMPION_BACKTEST_CUTOFF_TAG,
    CHAMPION_BACKTEST_TAGS,
    VERSION_TAGS,
)
from tests.dagster.pipeline import (
    DRIFT_START,
    DRIFT_TRAINED_AT,
    DRIFTED_DAY,
    pipeline_definitions,
    pipeline_settings,
    tracking_uri,
    write_drifted_landing,
)

pytestmark = pytest.mark.slow

WEEKLY_JOB = "weekly_backtest_job"


@dataclass(frozen=True)
class Weekly:
    workdir: Path
    without_champion: dg.ExecuteInProcessResult
    request: dg.RunRequest
    """What the Sunday schedule tick asked for."""
    weekly: dg.ExecuteInProcessResult
    tags_before: dict[str, dict[str, str]]
    """Every version's tags just before the weekly run."""
    daily_backtest_before: pd.DataFrame


def _backtest_tags(tags: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in tags.items() if key.startswith(BACKTEST_TAG_PREFIX)}


@pytest.fixture(scope="module")
def weekly(tmp_path_factory: pytest.TempPathFactory) -> Weekly:
    """Ingest the retailer, run the weekly job before any champion exists, train v1 and v2,
    keep v1 serving (v2 is the challenger), then tick the Sunday schedule and run what it asks
    for, with settings whose objective differs from the champion's."""
    workdir = tmp_path_factory.mktemp("weekly")
    write_drifted_landing(workdir)
    defs = pipeline_definitions(workdir)
    # Today's settings say poisson; the champion's family is what its backtest ranked best.
    poisson_defs = build_definitions(
        pipeline_settings(workdir).model_copy(update={"objective": "poisson"})
    )
    day = DRIFTED_DAY.isoformat()
    registry = ModelRegistry(tracking_uri(workdir))
    with dg.instance_for_test() as instance:
        assert execute_partition_range(
            defs.resolve_job_def("ingest_job"), DRIFT_START, DRIFTED_DAY, instance
        ).success
        without_champion = defs.resolve_job_def(WEEKLY_JOB).execute_in_process(
            instance=instance, partition_key=day, raise_on_error=False
        )
        for cutoff in (DRIFT_TRAINED_AT, DRIFTED_DAY):
            assert (
                defs.resolve_job_def("retrain_job")
                .execute_in_process(instance=instance, partition_key=cutoff.isoformat())
                .success
            )
        # Whatever the gate said about v2, the operator keeps v1 serving.
        registry.move_alias(CHAMPION, "1", actor="test", reason="keep v1 serving")
        assert registry.alias_version(CHALLENGER) == "2"
        tags_before = {row["version"]: row["tags"] for row in registry.versions()}
        daily_backtest_before = Lake(workdir / "lake").read_partition(
            BACKTEST_TABLE, DRIFTED_DAY, "residual_quantiles"
        )
        # The Sunday tick after the last ingested day (a Friday) asks for that day.
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2025, 6, 15, 9, 0, tzinfo=UTC),
            repository_def=poisson_defs.get_repository_def(),
        ) as context:
            tick = poisson_defs.resolve_schedule_def("weekly_backtest_schedule").evaluate_tick(
                context
            )
        [request] = tick.run_requests or []
        weekly_run = poisson_defs.resolve_job_def(WEEKLY_JOB).execute_in_process(
            instance=instance, partition_key=request.partition_key
        )
    return Weekly(
        workdir, without_champion, request, weekly_run, tags_before, daily_backtest_before
    )


def test_without_a_champion_the_weekly_backtest_fails_saying_so(weekly: Weekly) -> None:
    assert not weekly.without_champion.success
    [failure] = [
        event
        for event in weekly.without_champion.all_events
        if event.event_type is dg.DagsterEventType.STEP_FAILURE
    ]
    message = failure.step_failure_data.error.message
    assert "has no champion" in message and "Run the daily cycle" in message


def test_the_champion_gets_its_own_scores_and_the_challenger_is_untouched(weekly: Weekly) -> None:
    assert weekly.request.partition_key == DRIFTED_DAY.isoformat()
    assert weekly.weekly.success
    registry = ModelRegistry(tracking_uri(weekly.workdir))
    after = {row["version"]: row["tags"] for row in registry.versions()}
    champion, challenger = after["1"], after["2"]

    assert set(CHAMPION_BACKTEST_TAGS) <= set(champion)
    assert champion[CHAMPION_BACKTEST_CUTOFF_TAG] == DRIFTED_DAY.isoformat()
    assert 0 < float(champion["champion_backtest_wape"]) < 2
    assert set(champion) <= VERSION_TAGS
    # The scores a version was promoted or judged on stay as they were, on both versions.
    for version in ("1", "2"):
        assert _backtest_tags(after[version]) == _backtest_tags(weekly.tags_before[version])
        assert _backtest_tags(after[version])  # both were backtested by their retrain
    assert challenger == weekly.tags_before["2"]
    assert not set(CHAMPION_BACKTEST_TAGS) & set(challenger)
    # `forecastops status` shows it with the champion
    status = champion_status(
        registry, Lake(weekly.workdir / "lake"), DRIFTED_DAY, PerformancePolicy()
    )
    assert status is not None and status["champion_backtest"] == {
        "cutoff": DRIFTED_DAY.isoformat(),
        **{name: float(champion[f"champion_backtest_{name}"]) for name in BACKTEST_METRICS},
    }


def test_it_scores_the_champions_configuration_and_keeps_the_daily_backtest(
    weekly: Weekly,
) -> None:
    [materialization] = weekly.weekly.asset_materializations_for_node("champion_backtest")
    metadata = materialization.metadata
    assert metadata["champion_version"].value == "1"
    # v1's family is the one its backtest ranked best (decision 0019) on the 60-day window,
    # whatever today's settings say.
    family = f"lightgbm_{weekly.tags_before['1']['objective']}"
    assert metadata["configuration"].value == f"{family}, 60-day window"
    lake = Lake(weekly.workdir / "lake")
    summary = lake.read_partition(CHAMPION_BACKTEST_TABLE, DRIFTED_DAY, "summary")
    assert summary.loc[0, "champion_version"] == "1"
    assert summary.loc[0, "candidate"] == family
    metrics = lake.read_partition(CHAMPION_BACKTEST_TABLE, DRIFTED_DAY, "metrics")
    assert set(metrics["candidate"]) == {family, "seasonal_naive"}
    assert metadata["champion_backtest_wape"].value == pytest.approx(float(summary.loc[0, "wape"]))
    # forecasts read the daily backtest's residual quantiles: the weekly run leaves them be.
    pd.testing.assert_frame_equal(
        lake.read_partition(BACKTEST_TABLE, DRIFTED_DAY, "residual_quantiles"),
        weekly.daily_backtest_before,
    )
