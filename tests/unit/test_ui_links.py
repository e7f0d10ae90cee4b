"""The UI links: the MLflow UI's base URL from the settings, and the page shapes of both UIs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forecastops.stores.settings import SettingsError, load_settings
from forecastops.stores.ui_links import DagsterUi, MlflowUi

ML = "?workflowType=machine_learning"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("FORECASTOPS_") or name in {"DAGSTER_HOME", "MLFLOW_TRACKING_URI"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("FORECASTOPS_HOME", str(tmp_path))
    return monkeypatch


def test_the_mlflow_ui_defaults_to_where_forecastops_up_serves_it(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("FORECASTOPS_SERVICE_HOST", "10.0.0.5")
    clean_env.setenv("FORECASTOPS_MLFLOW_PORT", "5055")
    assert load_settings().mlflow_ui == "http://10.0.0.5:5055"


def test_an_http_tracking_server_is_the_mlflow_ui_without_its_credentials(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("MLFLOW_TRACKING_URI", "https://ops:s3cret@mlflow.example.com/prefix/")
    assert load_settings().mlflow_ui == "https://mlflow.example.com/prefix"


def test_the_mlflow_ui_setting_wins_and_must_be_an_http_url(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    clean_env.setenv("FORECASTOPS_MLFLOW_UI_URL", "https://mlflow.example.com/")
    assert load_settings().mlflow_ui == "https://mlflow.example.com"
    clean_env.setenv("FORECASTOPS_MLFLOW_UI_URL", "mlflow.example.com")
    with pytest.raises(SettingsError, match="FORECASTOPS_MLFLOW_UI_URL"):
        load_settings()


def test_mlflow_pages_have_the_routes_of_the_mlflow_3_ui() -> None:
    ui = MlflowUi("http://127.0.0.1:5000/")
    assert ui.experiment("1") == f"http://127.0.0.1:5000/#/experiments/1{ML}"
    assert ui.run("1", "abc") == f"http://127.0.0.1:5000/#/experiments/1/runs/abc{ML}"
    assert (
        ui.run_artifact("1", "abc", "drift/drift_2025-03-01.html")
        == f"http://127.0.0.1:5000/#/experiments/1/runs/abc/artifacts/drift/drift_2025-03-01.html{ML}"
    )
    assert ui.logged_model("1", "m-1") == f"http://127.0.0.1:5000/#/experiments/1/models/m-1{ML}"
    assert (
        ui.model_version("demand forecaster", "3")
        == f"http://127.0.0.1:5000/#/models/demand%20forecaster/versions/3{ML}"
    )


def test_dagster_pages_have_the_routes_of_the_dagster_ui() -> None:
    ui = DagsterUi("https://dagster.example/prefix")
    assert ui.run("r1") == "https://dagster.example/prefix/runs/r1"
    assert ui.asset("drift_score") == "https://dagster.example/prefix/assets/drift_score"
    assert (
        ui.asset("drift_score", "2025-03-01")
        == "https://dagster.example/prefix/assets/drift_score?view=partitions&partition=2025-03-01"
    )
