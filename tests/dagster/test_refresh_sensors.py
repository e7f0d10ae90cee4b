"""The sensors that keep the monitoring pages about now: champion_health_refresh requests
model_health for the newest scored day whenever the champion alias moves, open_alerts_refresh
requests open_alerts whenever an alert is raised or closed; neither requests a run twice."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
from mlflow import MlflowClient

from forecast_assets.alerts import open_alerts
from forecast_assets.experiments import experiments
from forecastops.domain.alerts import AlertType, Severity
from forecastops.pipeline.experiments import experiment_config
from forecastops.pipeline.monitoring import PERFORMANCE_TABLE
from forecastops.stores.alerts.experiments import ExperimentStore
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHALLENGER, CHAMPION
from forecastops.stores.settings import PolicySettings
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.storage import LakeStorage
from sensors.refresh import champion_health_refresh, open_alerts_refresh
from tests.registry_helpers import empty_mlflow_store

SCORED_DAY = date(2026, 11, 20)


def _tick(
    sensor: dg.SensorDefinition, cursor: str | None, **resources: object
) -> tuple[list[dg.RunRequest], str | None, str | None]:
    """(run requests, new cursor, skip reason) of one evaluation."""
    with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
        result = sensor(context)
    if isinstance(result, dg.SkipReason):
        return [], cursor, result.skip_message
    skip = result.skip_reason.skip_message if result.skip_reason else None
    return list(result.run_requests or []), result.cursor, skip


def test_a_champion_move_re_scores_health_for_the_newest_scored_day_once(tmp_path: Path) -> None:
    shutil.copyfile(empty_mlflow_store(), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    client.create_registered_model("demand_forecaster")
    for _ in range(2):
        client.create_model_version("demand_forecaster", source=str(tmp_path))
    registry = ModelRegistry(uri)
    lake = Lake(tmp_path / "lake")
    resources = {
        "mlflow_registry": MlflowRegistry(tracking_uri=uri),
        "storage": LakeStorage(root=str(tmp_path / "lake")),
    }

    requests, cursor, skip = _tick(champion_health_refresh, None, **resources)
    assert requests == [] and skip == "No champion in the registry yet."
    registry.move_alias(CHAMPION, "1", actor="test", reason="first")
    requests, cursor, skip = _tick(champion_health_refresh, cursor, **resources)
    assert requests == [] and cursor == "1" and "scored no day yet" in str(skip)
    lake.write_partition(PERFORMANCE_TABLE, SCORED_DAY, {"data": pd.DataFrame({"n": [1]})})
    registry.move_alias(CHAMPION, "2", actor="test", reason="gate passed")

    requests, cursor, _ = _tick(champion_health_refresh, cursor, **resources)
    again, _, skip = _tick(champion_health_refresh, cursor, **resources)

    [request] = requests
    assert request.partition_key == SCORED_DAY.isoformat()
    assert request.run_key == f"champion_v2:{SCORED_DAY.isoformat()}"
    assert again == [] and skip == "The champion is still v2."


def _alerts_and_registry(tmp_path: Path) -> tuple[str, str, dict[str, object]]:
    """(alert store URL, tracking URI, resources) of open_alerts_refresh over a fresh alert
    store and an empty MLflow store in `tmp_path`."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    shutil.copyfile(empty_mlflow_store(), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    resources = {
        "alert_store": AlertStoreResource(url=url),
        "mlflow_registry": MlflowRegistry(tracking_uri=uri),
    }
    return url, uri, resources


def test_open_alerts_is_refreshed_when_an_alert_is_raised_or_closed(tmp_path: Path) -> None:
    url, _, resources = _alerts_and_registry(tmp_path)
    with AlertStore(url) as store:
        store.create_schema()
        first, cursor, _ = _tick(open_alerts_refresh, None, **resources)
        quiet, cursor, skip = _tick(open_alerts_refresh, first[0].run_key, **resources)
        raised = store.raise_alert(
            type=AlertType.DATA_DRIFT, severity=Severity.WARNING, title="Data drift", message=""
        )
        after_raise, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)
        store.dismiss(raised.id, "ops", None)
        after_close, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)
        unchanged, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)
        experiment = ExperimentStore(store).propose(
            title="Poisson",
            hypothesis="Poisson fits sparse products.",
            proposer="alice",
            config=experiment_config(PolicySettings(), objective="poisson"),
            test_period_days=14,
        )
        after_proposal, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)
        ExperimentStore(store).approve(experiment.id, "bob")
        after_approval, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)

    assert len(first) == 1 and quiet == [] and "No alert raised or closed" in str(skip)
    assert [r.run_key for r in after_raise] == [
        f"raised #{raised.id}, none closed, experiment change #0"
    ]
    assert len(after_close) == 1 and f"closed #{raised.id}" in str(after_close[0].run_key)
    assert unchanged == []
    assert [r.run_key.rsplit(", ", 1)[1] for r in after_proposal + after_approval] == [
        "experiment change #1",
        "experiment change #2",
    ]
    refreshed = dg.materialize([open_alerts, experiments], resources=resources)
    [materialization] = refreshed.asset_materializations_for_node("open_alerts")
    assert materialization.metadata["dagster/row_count"].value == 0  # the dismissal shows
    [shown] = refreshed.asset_materializations_for_node("experiments")
    assert shown.metadata["experiments_approved"].value == 1
    [row] = shown.metadata["experiments"].value.records
    assert (row.data["id"], row.data["status"], row.data["objective"]) == (1, "approved", "poisson")
    assert row.data["improvement_pct"] is None  # not completed: unknown, not 0


def test_an_in_progress_experiments_registered_version_refreshes_and_moves_it(
    tmp_path: Path,
) -> None:
    url, uri, resources = _alerts_and_registry(tmp_path)
    with AlertStore(url) as alerts:
        alerts.create_schema()
        store = ExperimentStore(alerts)
        experiment = store.propose(
            title="Window 56",
            hypothesis="A shorter window follows the trend.",
            proposer="alice",
            config=experiment_config(PolicySettings(), training_window_days=56),
            test_period_days=14,
        )
        store.approve(experiment.id, "bob")
        store.start(experiment.id, "bob")
        waiting, cursor, _ = _tick(open_alerts_refresh, None, **resources)
        quiet, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)
        client = MlflowClient(uri, uri)
        client.create_registered_model("demand_forecaster")
        client.create_model_version(
            "demand_forecaster",
            source=str(tmp_path),
            tags={"experiment_id": str(experiment.id), "training_cutoff": "2026-11-20"},
        )
        ModelRegistry(uri).move_alias(CHALLENGER, "1", actor="dagster:run", reason="registered")
        registered, cursor, _ = _tick(open_alerts_refresh, cursor, **resources)

        refreshed = dg.materialize([open_alerts, experiments], resources=resources)

        moved = store.get(experiment.id)
    assert [r.run_key.rsplit(", ", 1)[1] for r in waiting + registered] == [
        "challenger vNone",
        "challenger v1",
    ]
    assert quiet == []
    [shown] = refreshed.asset_materializations_for_node("experiments")
    assert shown.metadata["moved_to_shadow_testing"].value == 1
    assert (moved.status, moved.experimental_version) == ("shadow_testing", "1")
    assert moved.test_started_on == date(2026, 11, 21)
    assert moved.events[-1].actor == f"dagster:{refreshed.run_id}"
