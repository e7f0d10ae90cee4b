"""The pipeline's policies as Dagster resources, built from the settings.

- `retrain` (`RetrainPolicy`): the retrain cycle and its promotion gate (`CyclePolicy`).
- `monitoring` (`MonitoringPolicy`): data drift (`DriftPolicy`), the champion's health
  (`PerformancePolicy`) and the retrain triggers (`TriggerPolicy`).

Every field is a knob of `forecastops.stores.settings.PolicySettings` under the same name
(variable `FORECASTOPS_<NAME>`), with its default and meaning from there, so the resource's page
in the UI shows what each one does. A value set on the resource (run config in the launchpad)
goes through the same bounds as the variable: the resource refuses it when the run starts, with
the message the variable would get. Dagster's config schema cannot carry numeric bounds, so the
check runs when the resource is built, before any step computes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

import dagster as dg
from pydantic import Field, model_validator

from forecastops.stores.settings import (
    MONITORING_KNOBS,
    RETRAIN_KNOBS,
    PolicySettings,
    check_policy_knobs,
)

if TYPE_CHECKING:
    from forecastops.domain.drift import DriftPolicy
    from forecastops.domain.performance import PerformancePolicy
    from forecastops.domain.triggers import TriggerPolicy
    from forecastops.pipeline.cycle import CyclePolicy


def _knob(name: str) -> Any:
    """The resource field of knob `name`: its default and description from `PolicySettings`."""
    definition = PolicySettings.model_fields[name]
    return Field(default=definition.default, description=definition.description)


class _PolicyResource(dg.ConfigurableResource):
    """A resource whose fields are the knobs `KNOBS` of `PolicySettings`."""

    KNOBS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_settings(cls, settings: PolicySettings) -> Self:
        """The resource with the settings' values of its knobs."""
        return cls(**{name: getattr(settings, name) for name in cls.KNOBS})

    @model_validator(mode="after")
    def _within_bounds(self) -> Self:
        self.settings()  # raises SettingsError (a ValueError) naming a value out of bounds
        return self

    def settings(self) -> PolicySettings:
        """The knobs this resource holds (the others at their defaults), checked."""
        return check_policy_knobs(
            {name: getattr(self, name) for name in self.KNOBS},
            f"resource config of {type(self).__name__}",
        )


class RetrainPolicy(_PolicyResource):
    """Training window, backtest layout, challenger objective and the promotion gate."""

    KNOBS = RETRAIN_KNOBS

    objective: str = _knob("objective")
    training_window_days: int = _knob("training_window_days")
    horizon_days: int = _knob("horizon_days")
    backtest_days: int = _knob("backtest_days")
    backtest_folds: int = _knob("backtest_folds")
    backtest_workers: int | None = _knob("backtest_workers")
    backtest_fold_anchor: str = _knob("backtest_fold_anchor")
    backtest_fold_cache: bool = _knob("backtest_fold_cache")
    missing_days_alert_after: int = _knob("missing_days_alert_after")
    min_wape_improvement: float = _knob("min_wape_improvement")
    max_store_degradation: float = _knob("max_store_degradation")
    min_shadow_days: int = _knob("min_shadow_days")

    @property
    def policy(self) -> CyclePolicy:
        from forecastops.pipeline.cycle import CyclePolicy

        return CyclePolicy.from_settings(self.settings())


class MonitoringPolicy(_PolicyResource):
    """Thresholds of data drift, of the champion's health and of the drift retrain triggers."""

    KNOBS = MONITORING_KNOBS

    drift_numeric_threshold: float = _knob("drift_numeric_threshold")
    drift_categorical_threshold: float = _knob("drift_categorical_threshold")
    drift_null_rate_threshold: float = _knob("drift_null_rate_threshold")
    drift_target_shift_threshold: float = _knob("drift_target_shift_threshold")
    drift_share_threshold: float = _knob("drift_share_threshold")
    drift_max_rows: int = _knob("drift_max_rows")
    health_degrading_threshold: float = _knob("health_degrading_threshold")
    health_drifting_threshold: float = _knob("health_drifting_threshold")
    health_min_points: int = _knob("health_min_points")
    health_window_days: int = _knob("health_window_days")
    trigger_data_fire: float = _knob("trigger_data_fire")
    trigger_data_rearm: float = _knob("trigger_data_rearm")
    trigger_performance_fire: float = _knob("trigger_performance_fire")
    trigger_performance_rearm: float = _knob("trigger_performance_rearm")
    trigger_cooldown_hours: float = _knob("trigger_cooldown_hours")

    @property
    def drift(self) -> DriftPolicy:
        return self.settings().drift_policy()

    @property
    def performance(self) -> PerformancePolicy:
        return self.settings().performance_policy()

    @property
    def trigger(self) -> TriggerPolicy:
        return self.settings().trigger_policy()
