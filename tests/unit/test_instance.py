from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from forecast_jobs.instance import INSTANCE_TEMPLATES, prepare_dagster_home
from forecastops.stores.settings import Settings, SettingsError, load_settings


def own_home(tmp_path: Path, **values: str) -> Settings:
    """Settings whose DAGSTER_HOME is under `tmp_path`, not the test session's shared one."""
    return Settings(home=tmp_path, dagster_home=tmp_path / "dagster", **values)


def test_switching_to_postgres_is_one_setting(tmp_path: Path) -> None:
    embedded = own_home(tmp_path)
    config = prepare_dagster_home(embedded) / "dagster.yaml"
    assert "postgres_url" not in config.read_text()
    prepare_dagster_home(
        own_home(tmp_path, instance="postgres", dagster_pg_url="postgresql+psycopg2://x@h/d")
    )
    assert "env: DAGSTER_PG_URL" in config.read_text()
    prepare_dagster_home(embedded)
    assert "postgres_url" not in config.read_text()


@pytest.mark.parametrize("instance", sorted(INSTANCE_TEMPLATES))
def test_the_written_dagster_yaml_turns_off_the_first_visit_community_dialog(
    tmp_path: Path, instance: str
) -> None:
    settings = own_home(tmp_path, instance=instance, dagster_pg_url="postgresql+psycopg2://x@h/d")
    config = yaml.safe_load((prepare_dagster_home(settings) / "dagster.yaml").read_text())
    assert config["nux"] == {"enabled": False}


def test_dagster_loads_the_written_dagster_yaml_with_the_dialog_off(tmp_path: Path) -> None:
    home = prepare_dagster_home(own_home(tmp_path))
    with dg.DagsterInstance.from_config(str(home)) as instance:  # validates the whole file
        assert instance.get_settings("nux") == {"enabled": False}
        assert not instance.nux_enabled  # what the UI's shouldShowNux query checks first


def test_a_customised_dagster_yaml_is_left_alone(tmp_path: Path) -> None:
    config = prepare_dagster_home(own_home(tmp_path)) / "dagster.yaml"
    config.write_text("telemetry:\n  enabled: false\n")
    prepare_dagster_home(own_home(tmp_path))
    assert config.read_text() == "telemetry:\n  enabled: false\n"


def test_postgres_without_a_url_names_the_missing_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORECASTOPS_INSTANCE", "postgres")
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    with pytest.raises(SettingsError, match="DAGSTER_PG_URL"):
        load_settings()


def test_a_postgres_url_without_the_psycopg2_driver_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FORECASTOPS_INSTANCE", "postgres")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://postgres@127.0.0.1:5432/dagster")
    with pytest.raises(SettingsError, match=r"postgresql\+psycopg2://"):
        load_settings()


@pytest.mark.parametrize("instance", sorted(INSTANCE_TEMPLATES))
def test_both_instances_hold_the_model_plane_to_one_run_and_keep_the_backfill_limit(
    tmp_path: Path, instance: str
) -> None:
    from forecast_assets.model import MODEL_PLANE_POOL, RETRAIN_POOL_ASSETS

    settings = own_home(tmp_path, instance=instance, dagster_pg_url="postgresql+psycopg2://x@h/d")
    config = yaml.safe_load((prepare_dagster_home(settings) / "dagster.yaml").read_text())
    # Dagster validates the concurrency section against run_coordinator.config when it loads.
    assert config["concurrency"]["pools"] == {"granularity": "run", "default_limit": 1}
    assert {"key": "dagster/backfill", "limit": 1 if instance == "embedded" else 2} in config[
        "concurrency"
    ]["runs"]["tag_concurrency_limits"]
    assert "config" not in config["run_coordinator"]
    assert {asset.op.pool for asset in RETRAIN_POOL_ASSETS} == {MODEL_PLANE_POOL}


def test_dagster_accepts_the_concurrency_section_with_the_queued_coordinator(
    tmp_path: Path,
) -> None:
    home = prepare_dagster_home(own_home(tmp_path))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        concurrency = instance.get_concurrency_config()
    assert concurrency.pool_config.default_pool_limit == 1
    assert concurrency.pool_config.pool_granularity.value == "run"  # type: ignore[union-attr]
    assert concurrency.run_queue_config.max_concurrent_runs == 2  # type: ignore[union-attr]
