"""MLflow tracking and registry on PostgreSQL (its own database), artifacts under the configured
root: the production MLflow setup."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from forecastops.domain.forecasters import LightGBMForecaster
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHAMPION
from forecastops.stores.settings import Settings
from tests.integration.postgres import fresh_database
from tests.unit.test_registry import TAGS, tiny_sales

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("driver", ["postgresql+psycopg2", "postgresql+psycopg"])
def test_a_registry_round_trip_keeps_the_store_on_postgres_and_artifacts_under_the_root(
    tmp_path: Path, driver: str
) -> None:
    forecaster = LightGBMForecaster(params={"num_iterations": 5, "num_leaves": 4}).fit(tiny_sales())
    forecaster.save(tmp_path / "model" / "model.txt")
    artifact_root = tmp_path / "artifact-store"
    with fresh_database("forecastops_mlflow") as plain_url:
        settings = Settings(
            home=tmp_path / "home",
            mlflow_tracking_uri=plain_url.replace("postgresql://", f"{driver}://"),
            mlflow_artifact_root=str(artifact_root),
        )
        registry = ModelRegistry(
            settings.mlflow_uri,
            settings.model_name,
            settings.experiment_name,
            artifact_location=settings.mlflow_artifact_uri,
        )
        registered = registry.register_challenger(
            tmp_path / "model", params={"objective": "tweedie"}, metrics={"wape": 0.2}, tags=TAGS
        )
        registry.move_alias(CHAMPION, registered.version, actor="test", reason="round trip")

        reread = ModelRegistry(settings.mlflow_uri, settings.model_name, settings.experiment_name)
        assert reread.alias_version(CHAMPION) == registered.version
        champion_moves = [move for move in reread.history() if move.alias == CHAMPION]
        assert [move.to_version for move in champion_moves] == [registered.version]
        engine = sa.create_engine(plain_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as connection:
            stored_alias = connection.execute(
                sa.text("SELECT version FROM registered_model_aliases WHERE alias = :alias"),
                {"alias": CHAMPION},
            ).scalar_one()
            artifact_location = connection.execute(
                sa.text("SELECT artifact_location FROM experiments WHERE name = :name"),
                {"name": settings.experiment_name},
            ).scalar_one()
        engine.dispose()
        assert str(stored_alias) == registered.version
        assert artifact_location == artifact_root.resolve().as_uri()
        assert list(artifact_root.rglob("model.txt")), "the model's files are under the root"
        assert not (settings.home / "mlflow").exists(), "nothing fell back to the SQLite store"
