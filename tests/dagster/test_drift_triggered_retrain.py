"""End to end: a demand shift after the champion was trained -> the monitoring assets raise drift
alerts -> drift_retrain_sensor requests a retrain -> the promotion gate keeps the drifting
champion until the retrain's refit stream has shown better realized accuracy in shadow
(decision 0022: the retrain starts forecasting in shadow; a stream that beats a champion on
realized data is promoted, tests/unit/test_shadow_scenarios.py).

One simulated retailer, a real Dagster instance, MLflow store and SQLite alert store (the code
location's own resources, pointed at a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from forecast_assets.monitoring import DRIFT_CHECK, HEALTH_CHECK, drift_score, model_health
from forecast_jobs.launch import tick_sensor_in_process
from forecastops.domain.alerts import AlertStatus, AlertType, Severity
from forecastops.domain.runs import ALERT_IDS_TAG, TRIGGER_TAG
from forecastops.pipeline.cycle import DECISION_TABLE, SHADOW_FORECASTS_TABLE
from forecastops.stores.alerts.store import AlertStore
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from sensors.drift_retrain import SENSOR_ACTOR
from tests.dagster.pipeline import (
    DRIFTED_DAY,
    ingest_and_train_champion,
    pipeline_definitions,
    pipeline_settings,
    tracking_uri,
    write_drifted_landing,
)

pytestmark = pytest.mark.slow


def test_injected_drift_alerts_and_retrains_through_the_sensor(tmp_path: Path) -> None:
    settings = pipeline_settings(tmp_path)
    write_drifted_landing(tmp_path)
    defs = pipeline_definitions(tmp_path)
    day = DRIFTED_DAY.isoformat()
    with dg.instance_for_test() as instance:
        assert all(result.success for result in ingest_and_train_champion(defs, instance))
        monitoring = dg.materialize(
            [drift_score, model_health],
            partition_key=day,
            instance=instance,
            resources=defs.resources,
            selection=[drift_score, model_health],
        )
        tick = tick_sensor_in_process(defs, "drift_retrain_sensor", instance)
        [request] = tick.run_requests
        [retrain] = tick.runs
        run = instance.get_run_by_id(retrain.run_id)
    registry = ModelRegistry(tracking_uri(tmp_path))

    store = AlertStore(f"sqlite:///{tmp_path / 'alerts.db'}")
    checks = {e.check_name: e for e in monitoring.get_asset_check_evaluations()}
    raised = {
        name: store.get(checks[name].metadata["alert_ids"].value[0])
        for name in (DRIFT_CHECK, HEALTH_CHECK)
    }
    # the drift report and the health plot are artifacts of the champion's run, linked by URL
    [drift] = monitoring.asset_materializations_for_node("drift_score")
    [health] = monitoring.asset_materializations_for_node("model_health")
    report = drift.metadata["evidently_report"]
    assert isinstance(report, dg.UrlMetadataValue)
    assert report.value.startswith(f"{settings.mlflow_ui}/#/experiments/")
    assert f"/artifacts/drift/drift_{day}.html?workflowType=machine_learning" in report.value
    for metadata in (drift.metadata, health.metadata):
        assert isinstance(metadata["mlflow_model_version"], dg.UrlMetadataValue)
        assert isinstance(metadata["mlflow_run"], dg.UrlMetadataValue)
    assert "/artifacts/health/model_health_" in health.metadata["trend_plot_in_mlflow"].value
    assert raised[DRIFT_CHECK].type is AlertType.DATA_DRIFT
    assert report.value in {link.url for link in raised[DRIFT_CHECK].links}
    assert raised[HEALTH_CHECK].type is AlertType.PERFORMANCE_DRIFT
    for alert in raised.values():
        assert alert.recommendation == {"action": "retrain", "partition": day}
        assert f"{settings.dagster_ui}/runs/{monitoring.run_id}" in {
            link.url for link in alert.links
        }

    # the one retrain answers both of the day's drift alerts: approving either cannot repeat it
    trigger = request.tags[TRIGGER_TAG]
    assert trigger in {alert.type for alert in raised.values()}
    for alert in raised.values():
        answered = store.get(alert.id)
        assert answered.status is AlertStatus.ACTIONED and answered.actor == SENSOR_ACTOR
        assert request.run_key in (answered.notes or "")

    assert retrain.success and request.partition_key == day
    assert run is not None and run.job_name == "retrain_job"
    assert run.tags[TRIGGER_TAG] == trigger
    assert run.tags[ALERT_IDS_TAG] == ",".join(str(alert.id) for alert in raised.values())
    assert run.tags["dagster/sensor_name"] == "drift_retrain_sensor"
    # the retrain has no realized shadow day yet: the drifting champion stays, the gate says
    # why with the numbers, and the refused drift retrain raises a warning
    lake = Lake(tmp_path / "lake")
    [before] = [move.to_version for move in registry.history() if move.alias == "champion"]
    assert registry.alias_version("champion") == before
    decision = lake.read_partition(DECISION_TABLE, DRIFTED_DAY)
    assert not decision["promote"].item()
    assert decision["shadow_realized_days"].item() == 0
    assert decision["champion_health"].item() == "drifting"  # recorded beside the evidence
    reasons = decision["reasons"].item()
    assert "0 of 7 shadow days" in reasons
    assert f"Champion health: drifting on {day}" in reasons
    challenger = decision["challenger_version"].item()
    assert registry.alias_version("challenger") == challenger != before
    [gate_alert] = [
        alert
        for alert in store.list(type=AlertType.PROMOTION)
        if alert.subject == f"promotion_decision/{day}"
    ]
    assert gate_alert.severity is Severity.WARNING
    assert gate_alert.title == (
        f"{trigger} retrain of {day} refused by the promotion gate: champion v{before} stays"
    )
    assert f"{settings.dagster_ui}/runs/{retrain.run_id}" in {link.url for link in gate_alert.links}
    # the retrain's forecasts ran: the challenger now forecasts in shadow beside the champion
    shadow = lake.read_partition(SHADOW_FORECASTS_TABLE, DRIFTED_DAY)
    assert set(shadow["model_version"]) == {challenger}
    assert set(shadow["champion_version"]) == {before}
