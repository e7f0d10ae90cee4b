"""The MLflow model registry and the retrain cycle's policy, as Dagster resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from forecastops.pipeline.cycle import CyclePolicy
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

    @property
    def registry(self) -> ModelRegistry:
        from forecastops.stores.registry import ModelRegistry  # mlflow loads on first use only

        return ModelRegistry(
            self.tracking_uri,
            self.model_name,
            self.experiment,
            artifact_location=self.artifact_location,
        )


class RetrainPolicy(dg.ConfigurableResource):
    """Training window, backtest layout, challenger objective and the promotion gate."""

    window_days: int = 120
    horizon_days: int = 28
    backtest_days: int = 90
    backtest_folds: int = 3
    backtest_workers: int | None = None
    objective: str = "tweedie"
    min_wape_improvement: float = 0.05
    max_store_degradation: float = 0.10

    @property
    def policy(self) -> CyclePolicy:
        from forecastops.domain.promotion import PromotionPolicy
        from forecastops.pipeline.cycle import CyclePolicy

        return CyclePolicy(
            window_days=self.window_days,
            horizon=self.horizon_days,
            backtest_days=self.backtest_days,
            folds=self.backtest_folds,
            backtest_workers=self.backtest_workers,
            objective=self.objective,
            promotion=PromotionPolicy(
                min_wape_improvement=self.min_wape_improvement,
                max_store_degradation=self.max_store_degradation,
            ),
        )
