"""The policy resources set from the launchpad (run config) meet the bounds of their settings:
a value out of bounds fails the run when its resource is built, before any step computes, with
the message its variable would get."""

# No `from __future__ import annotations`: Dagster reads the probe asset's `context` annotation.
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from forecast_assets.monitoring import drift_score
from forecastops.domain.triggers import TriggerPolicy
from tests.dagster.pipeline import pipeline_definitions

DAY = "2025-03-01"


def _error_text(result: dg.ExecuteInProcessResult) -> str:
    """Every error message of the run's events, causes included."""
    texts = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            texts.append(error.message)
            error = error.cause
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"training_window_days": 7}, "FORECASTOPS_TRAINING_WINDOW_DAYS"),
        ({"backtest_days": 30, "horizon_days": 60}, "FORECASTOPS_BACKTEST_DAYS"),
    ],
)
def test_a_retrain_policy_out_of_bounds_in_the_launchpad_fails_the_run_before_training(
    tmp_path: Path, config: dict[str, Any], named: str
) -> None:
    defs = pipeline_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("retrain_job").execute_in_process(
            run_config={"resources": {"retrain": {"config": config}}},
            partition_key=DAY,
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    errors = _error_text(result)
    assert named in errors and "resource config of RetrainPolicy" in errors
    assert not result.get_asset_materialization_events()


def test_a_monitoring_policy_out_of_bounds_in_the_launchpad_fails_the_drift_score(
    tmp_path: Path,
) -> None:
    defs = pipeline_definitions(tmp_path)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [drift_score],
            partition_key=DAY,
            instance=instance,
            resources=defs.resources,
            run_config={"resources": {"monitoring": {"config": {"drift_share_threshold": 1.5}}}},
            raise_on_error=False,
        )
    assert not result.success
    errors = _error_text(result)
    assert "drift_share_threshold=1.5 (variable FORECASTOPS_DRIFT_SHARE_THRESHOLD)" in errors
    assert not result.get_asset_materialization_events()


def test_a_launchpad_value_within_bounds_reaches_the_policy(tmp_path: Path) -> None:
    defs = pipeline_definitions(tmp_path)
    seen: list[TriggerPolicy] = []

    @dg.asset(required_resource_keys={"monitoring"})
    def probe(context: dg.AssetExecutionContext) -> None:
        seen.append(context.resources.monitoring.trigger)

    assert dg.materialize(
        [probe],
        resources=defs.resources,
        run_config={"resources": {"monitoring": {"config": {"trigger_cooldown_hours": 6.0}}}},
    ).success
    assert [policy.trigger_cooldown_hours for policy in seen] == [6.0]
