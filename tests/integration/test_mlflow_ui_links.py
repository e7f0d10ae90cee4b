"""The MLflow links ForecastOps records open real pages: a registered version's links, served
by the MLflow UI that `forecastops serve mlflow` (so `make ui` / `forecastops up`) starts on
the settings' port, name an experiment, a run, a logged model and a version that server knows."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from forecastops.domain.forecasters import LightGBMForecaster
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.settings import Settings
from tests.integration.helpers import answers, free_port, isolated_env, log_tail, running
from tests.unit.test_registry import tiny_sales

pytestmark = pytest.mark.slow

SERVER_START_S = 120


def api(base: str, route: str, **query: str) -> dict[str, object]:
    """One GET of the MLflow REST API behind the UI at `base`."""
    with urllib.request.urlopen(f"{base}/api/2.0/mlflow/{route}?{urlencode(query)}") as reply:
        return dict(json.loads(reply.read()))


def test_the_recorded_mlflow_links_name_what_the_served_ui_shows(tmp_path: Path) -> None:
    port = free_port()
    env = isolated_env(tmp_path, FORECASTOPS_MLFLOW_PORT=str(port))
    settings = Settings(home=tmp_path, mlflow_port=port)
    registry = ModelRegistry(
        settings.mlflow_uri,
        artifact_location=settings.mlflow_artifact_uri,
        ui_url=settings.mlflow_ui,
    )
    LightGBMForecaster(params={"num_iterations": 5, "num_leaves": 7}).fit(tiny_sales()).save(
        tmp_path / "model" / "model.txt"
    )
    registered = registry.register_challenger(
        tmp_path / "model", params={}, metrics={}, tags={}, logged_model_name="lightgbm_tweedie_w60"
    )
    pages = registered.pages
    base = f"http://127.0.0.1:{port}"
    assert all(
        page.startswith(f"{base}/#/")
        for page in (pages.model_version, pages.run, pages.experiment, pages.logged_model or "")
    ), pages

    log = tmp_path / "mlflow.log"
    with running(["forecastops", "serve", "mlflow"], env, log):
        deadline = time.monotonic() + SERVER_START_S
        while not answers(f"{base}/health"):
            assert time.monotonic() < deadline, log_tail(log)
            time.sleep(0.5)
        with urllib.request.urlopen(pages.run) as page:  # the fragment stays in the browser
            assert b"<title>MLflow</title>" in page.read()
        experiment_id = pages.experiment.split("/experiments/")[1].split("?")[0]
        run = api(base, "runs/get", run_id=registered.run_id)["run"]
        assert run["info"]["experiment_id"] == experiment_id  # type: ignore[index]
        experiment = api(base, "experiments/get", experiment_id=experiment_id)["experiment"]
        kind = {tag["key"]: tag["value"] for tag in experiment["tags"]}  # type: ignore[index]
        assert kind["mlflow.experimentKind"] == "custom_model_development"
        version = api(base, "model-versions/get", name=registry.model_name, version="1")
        assert version["model_version"]["run_id"] == registered.run_id  # type: ignore[index]
