from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from forecastops.stores.settings import SettingsError, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("FORECASTOPS_") or name in {"DAGSTER_HOME", "MLFLOW_TRACKING_URI"}:
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_folder_defaults_under_forecastops_home(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("FORECASTOPS_HOME", str(tmp_path))
    settings = load_settings()
    assert settings.landing_path == tmp_path / "landing"
    assert settings.lake_path == tmp_path / "lake"
    assert settings.dagster_home_path == tmp_path / "dagster"
    assert settings.mlflow_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"


def test_standard_dagster_and_mlflow_variables_are_honoured(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    clean_env.setenv("FORECASTOPS_LANDING_DIR", str(tmp_path / "drop"))
    clean_env.setenv("FORECASTOPS_START_DATE", "2024-02-29")
    settings = load_settings()
    assert settings.dagster_home_path == tmp_path / "elsewhere"
    assert settings.mlflow_uri == "http://127.0.0.1:5000"
    assert settings.landing_path == tmp_path / "drop"
    assert settings.start_date == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FORECASTOPS_START_DATE", "2024-13-01"),
        ("FORECASTOPS_START_DATE", "yesterday"),
        ("FORECASTOPS_TIMEZONE", "Mars/Olympus"),
        ("FORECASTOPS_INGEST_TIME", "25:99"),
        ("FORECASTOPS_QUALITY_HISTORY_DAYS", "0"),
        ("FORECASTOPS_BACKTEST_WORKERS", "0"),
        ("FORECASTOPS_BACKTEST_WORKERS", "two"),
        # an empty host would make the UIs listen on every interface
        ("FORECASTOPS_SERVICE_HOST", ""),
        ("FORECASTOPS_SERVICE_HOST", " \t"),
        # found at load, not as a traceback when a run first reaches the store (issue 11)
        ("MLFLOW_TRACKING_URI", "garbage://x"),
        ("MLFLOW_TRACKING_URI", "http://127.0.0.1:abc"),
        ("FORECASTOPS_ALERTS_DB_URL", "postgresql://forecastops@127.0.0.1:xx/alerts"),
        ("FORECASTOPS_ALERTS_DB_URL", "mysql://127.0.0.1/alerts"),
        ("FORECASTOPS_MLFLOW_ARTIFACT_ROOT", "gs://bucket/artifacts"),
        ("FORECASTOPS_START_DATE", "2999-01-01"),
        ("FORECASTOPS_MAX_STORE_DEGRADATION", "inf"),
        ("FORECASTOPS_MIN_WAPE_IMPROVEMENT", "nan"),
        ("FORECASTOPS_MIN_DELIVERY_SHARE", "1.5"),
        ("FORECASTOPS_HOME", "/proc/forecastops"),
        ("FORECASTOPS_LAKE_DIR", "/etc/hostname"),
        ("DAGSTER_HOME", "/etc/hostname/dagster"),
    ],
)
def test_a_bad_value_names_its_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert variable in str(raised.value)
    assert repr(value) in str(raised.value)


def test_a_folder_under_a_file_is_refused_at_load_naming_its_variable(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    clean_env.setenv("FORECASTOPS_HOME", str(tmp_path / "home"))
    clean_env.setenv("FORECASTOPS_LAKE_DIR", str(blocker / "lake"))
    with pytest.raises(SettingsError, match=r"FORECASTOPS_LAKE_DIR=.*a-file.*which is a file"):
        load_settings()


def test_mlflow_artifacts_default_under_home_and_take_a_folder_or_a_uri(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("FORECASTOPS_HOME", str(tmp_path))
    assert load_settings().mlflow_artifact_uri == (tmp_path / "mlflow" / "artifacts").as_uri()
    clean_env.setenv("FORECASTOPS_MLFLOW_ARTIFACT_ROOT", str(tmp_path / "store"))
    assert load_settings().mlflow_artifact_uri == (tmp_path / "store").as_uri()
    clean_env.setenv("FORECASTOPS_MLFLOW_ARTIFACT_ROOT", "ftp://files.example/forecastops")
    assert load_settings().mlflow_artifact_uri == "ftp://files.example/forecastops"


@pytest.mark.parametrize(
    "mlflow_uri",
    [
        "postgresql://postgres@127.0.0.1:5432/dagster",
        "postgresql+psycopg2://other:secret@localhost/dagster",
    ],
)
def test_mlflow_may_not_share_the_dagster_database(
    clean_env: pytest.MonkeyPatch, mlflow_uri: str
) -> None:
    clean_env.setenv("FORECASTOPS_INSTANCE", "postgres")
    clean_env.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/dagster")
    clean_env.setenv("MLFLOW_TRACKING_URI", mlflow_uri)
    with pytest.raises(SettingsError, match=r"MLFLOW_TRACKING_URI and DAGSTER_PG_URL .*'dagster'"):
        load_settings()


def test_mlflow_in_its_own_database_on_the_dagster_server_is_fine(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("FORECASTOPS_INSTANCE", "postgres")
    clean_env.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/dagster")
    clean_env.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg2://postgres@127.0.0.1:5432/mlflow")
    assert load_settings().mlflow_uri.endswith("/mlflow")


def test_celery_executor_needs_a_broker_named_by_its_variable(
    clean_env: pytest.MonkeyPatch,
) -> None:
    assert load_settings().executor == "multiprocess"
    clean_env.setenv("FORECASTOPS_EXECUTOR", "celery")
    with pytest.raises(SettingsError, match="FORECASTOPS_CELERY_BROKER_URL"):
        load_settings()


def test_celery_broker_url_is_masked_when_refused_and_shown(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("FORECASTOPS_EXECUTOR", "celery")
    clean_env.setenv("FORECASTOPS_CELERY_BROKER_URL", "http://user:s3cret@127.0.0.1:6379/0")
    with pytest.raises(SettingsError, match="FORECASTOPS_CELERY_BROKER_URL") as refused:
        load_settings()
    assert "s3cret" not in str(refused.value)
    clean_env.setenv("FORECASTOPS_CELERY_BROKER_URL", "redis://:s3cret@127.0.0.1:6379/5")
    settings = load_settings()
    assert settings.celery_workers == 2
    assert "s3cret" not in repr(settings)
