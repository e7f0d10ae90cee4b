"""The MLflow model registry as a Dagster resource."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from forecastops.stores.registry import ModelRegistry


class MlflowRegistry(dg.ConfigurableResource):
    """One registered model (`model_name`) with the aliases champion and challenger.

    Our own resource rather than dagster-mlflow's: see docs/decisions/0004-mlflow-resource.md.
    """

    tracking_uri: str
    model_name: str = "demand_forecaster"
    experiment: str = "forecastops"
    artifact_location: str | None = None
    """Artifact root (URI) of the experiment when this resource creates it; set from
    FORECASTOPS_MLFLOW_ARTIFACT_ROOT."""
    ui_url: str | None = None
    """The MLflow UI's base URL for links in metadata and alerts (`Settings.mlflow_ui`,
    FORECASTOPS_MLFLOW_UI_URL)."""

    @property
    def registry(self) -> ModelRegistry:
        from forecastops.stores.registry import ModelRegistry  # mlflow loads on first use only

        return ModelRegistry(
            self.tracking_uri,
            self.model_name,
            self.experiment,
            artifact_location=self.artifact_location,
            ui_url=self.ui_url,
        )
