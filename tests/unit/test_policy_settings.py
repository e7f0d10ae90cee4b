"""Every policy is built from the settings: one name per knob from the variable to the policy,
today's values by default, bounds checked once for the environment and the resource alike."""

from __future__ import annotations

import os
from typing import Any

import pytest

from forecastops.domain.drift import DriftPolicy
from forecastops.domain.performance import PerformancePolicy
from forecastops.domain.promotion import PromotionPolicy
from forecastops.domain.triggers import TriggerPolicy
from forecastops.pipeline.cycle import CyclePolicy
from forecastops.stores.settings import (
    DRIFT_KNOBS,
    HEALTH_KNOBS,
    MONITORING_KNOBS,
    RETRAIN_KNOBS,
    TRIGGER_KNOBS,
    PolicySettings,
    Settings,
    SettingsError,
    load_settings,
    variable,
)
from resources.policies import MonitoringPolicy, RetrainPolicy
from tests.conftest import REPO_ROOT

NOT_DEFAULT: dict[str, tuple[str, Any]] = {
    "objective": ("poisson", "poisson"),
    "training_window_days": ("90", 90),
    "horizon_days": ("14", 14),
    "backtest_days": ("60", 60),
    "backtest_folds": ("4", 4),
    "backtest_workers": ("2", 2),
    "backtest_fold_anchor": ("weekly", "weekly"),
    "backtest_fold_cache": ("false", False),
    "missing_days_alert_after": ("7", 7),
    "min_wape_improvement": ("0.02", 0.02),
    "max_store_degradation": ("0.2", 0.2),
    "min_shadow_days": ("14", 14),
    "drift_numeric_threshold": ("0.35", 0.35),
    "drift_categorical_threshold": ("0.1", 0.1),
    "drift_null_rate_threshold": ("0.1", 0.1),
    "drift_target_shift_threshold": ("0.5", 0.5),
    "drift_share_threshold": ("0.5", 0.5),
    "drift_max_rows": ("1000", 1000),
    "health_degrading_threshold": ("0.1", 0.1),
    "health_drifting_threshold": ("0.3", 0.3),
    "health_min_points": ("14", 14),
    "health_window_days": ("21", 21),
    "trigger_data_fire": ("1.5", 1.5),
    "trigger_data_rearm": ("0.5", 0.5),
    "trigger_performance_fire": ("0.25", 0.25),
    "trigger_performance_rearm": ("0.05", 0.05),
    "trigger_cooldown_hours": ("6", 6.0),
}
"""A valid value other than the default for every knob: (variable's text, parsed value)."""
GATE_KNOBS = ("min_wape_improvement", "max_store_degradation", "min_shadow_days")
"""The knobs the promotion gate (`PromotionPolicy`) holds."""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("FORECASTOPS_") and name != "FORECASTOPS_HOME":
            monkeypatch.delenv(name)
    return monkeypatch


def _policy_holding(knob: str, settings: PolicySettings) -> object:
    """The policy `knob` configures, built from `settings` the way the pipeline builds it."""
    if knob in GATE_KNOBS:
        return CyclePolicy.from_settings(settings).promotion
    if knob in RETRAIN_KNOBS:
        return CyclePolicy.from_settings(settings)
    if knob in DRIFT_KNOBS:
        return settings.drift_policy()
    if knob in HEALTH_KNOBS:
        return settings.performance_policy()
    assert knob in TRIGGER_KNOBS
    return settings.trigger_policy()


def _resource_policy_holding(knob: str, settings: Settings) -> object:
    """The same policy, as the Dagster resources built from `settings` hand it to the assets."""
    if knob in RETRAIN_KNOBS:
        policy = RetrainPolicy.from_settings(settings).policy
        return policy.promotion if knob in GATE_KNOBS else policy
    monitoring = MonitoringPolicy.from_settings(settings)
    if knob in DRIFT_KNOBS:
        return monitoring.drift
    return monitoring.performance if knob in HEALTH_KNOBS else monitoring.trigger


def test_every_knob_belongs_to_exactly_one_policy_resource() -> None:
    assert sorted(RETRAIN_KNOBS + MONITORING_KNOBS) == sorted(PolicySettings.model_fields)
    assert set(NOT_DEFAULT) == set(PolicySettings.model_fields)
    for resource, knobs in ((RetrainPolicy, RETRAIN_KNOBS), (MonitoringPolicy, MONITORING_KNOBS)):
        assert sorted(resource.model_fields) == sorted(knobs)
        for name in knobs:
            field, knob = resource.model_fields[name], PolicySettings.model_fields[name]
            assert (field.default, field.description) == (knob.default, knob.description)


def test_the_default_settings_build_todays_policies() -> None:
    settings = PolicySettings()
    assert CyclePolicy.from_settings(settings) == CyclePolicy()
    assert settings.promotion_policy() == PromotionPolicy()
    assert settings.drift_policy() == DriftPolicy()
    assert settings.performance_policy() == PerformancePolicy()
    assert settings.trigger_policy() == TriggerPolicy()
    # the calibrated values the policies document
    assert (CyclePolicy().training_window_days, CyclePolicy().horizon_days) == (120, 28)
    assert (DriftPolicy().drift_numeric_threshold, DriftPolicy().drift_share_threshold) == (
        0.2,
        0.25,
    )
    assert (PerformancePolicy().health_drifting_threshold, TriggerPolicy().trigger_data_fire) == (
        0.15,
        1.0,
    )
    assert TriggerPolicy().trigger_cooldown_hours == 24


@pytest.mark.parametrize("knob", sorted(NOT_DEFAULT))
def test_a_knobs_variable_reaches_its_policy_under_the_same_name(
    clean_env: pytest.MonkeyPatch, knob: str
) -> None:
    text, value = NOT_DEFAULT[knob]
    clean_env.setenv(f"FORECASTOPS_{knob.upper()}", text)
    settings = load_settings()
    assert getattr(settings, knob) == value
    assert getattr(_policy_holding(knob, settings), knob) == value
    assert getattr(_resource_policy_holding(knob, settings), knob) == value


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"FORECASTOPS_DRIFT_NUMERIC_THRESHOLD": "0"}, ["FORECASTOPS_DRIFT_NUMERIC_THRESHOLD"]),
        ({"FORECASTOPS_DRIFT_SHARE_THRESHOLD": "1.5"}, ["FORECASTOPS_DRIFT_SHARE_THRESHOLD"]),
        ({"FORECASTOPS_DRIFT_MAX_ROWS": "0"}, ["FORECASTOPS_DRIFT_MAX_ROWS"]),
        ({"FORECASTOPS_HEALTH_MIN_POINTS": "0"}, ["FORECASTOPS_HEALTH_MIN_POINTS"]),
        ({"FORECASTOPS_TRIGGER_COOLDOWN_HOURS": "-1"}, ["FORECASTOPS_TRIGGER_COOLDOWN_HOURS"]),
        ({"FORECASTOPS_TRIGGER_DATA_FIRE": "soon"}, ["FORECASTOPS_TRIGGER_DATA_FIRE"]),
        ({"FORECASTOPS_TRAINING_WINDOW_DAYS": "7"}, ["FORECASTOPS_TRAINING_WINDOW_DAYS"]),
        ({"FORECASTOPS_OBJECTIVE": "gamma"}, ["FORECASTOPS_OBJECTIVE"]),
        (
            {"FORECASTOPS_HEALTH_DEGRADING_THRESHOLD": "0.2"},
            ["FORECASTOPS_HEALTH_DEGRADING_THRESHOLD", "FORECASTOPS_HEALTH_DRIFTING_THRESHOLD"],
        ),
        (
            {"FORECASTOPS_HEALTH_MIN_POINTS": "30"},
            ["FORECASTOPS_HEALTH_MIN_POINTS", "FORECASTOPS_HEALTH_WINDOW_DAYS"],
        ),
        (
            {"FORECASTOPS_TRIGGER_DATA_REARM": "1.5"},
            ["FORECASTOPS_TRIGGER_DATA_REARM", "FORECASTOPS_TRIGGER_DATA_FIRE"],
        ),
        (
            {"FORECASTOPS_TRIGGER_PERFORMANCE_FIRE": "0.05"},
            ["FORECASTOPS_TRIGGER_PERFORMANCE_REARM", "FORECASTOPS_TRIGGER_PERFORMANCE_FIRE"],
        ),
        (
            {"FORECASTOPS_BACKTEST_DAYS": "30", "FORECASTOPS_HORIZON_DAYS": "60"},
            ["FORECASTOPS_BACKTEST_DAYS", "FORECASTOPS_HORIZON_DAYS", "FORECASTOPS_BACKTEST_FOLDS"],
        ),
    ],
)
def test_a_knob_out_of_bounds_is_refused_naming_its_variable(
    clean_env: pytest.MonkeyPatch, variables: dict[str, str], named: list[str]
) -> None:
    for name, value in variables.items():
        clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    for name in named:
        assert name in str(refused.value)


@pytest.mark.parametrize(
    ("resource", "config", "named"),
    [
        (RetrainPolicy, {"training_window_days": 7}, "FORECASTOPS_TRAINING_WINDOW_DAYS"),
        (RetrainPolicy, {"objective": "gamma"}, "FORECASTOPS_OBJECTIVE"),
        (MonitoringPolicy, {"drift_numeric_threshold": 0.0}, "FORECASTOPS_DRIFT_NUMERIC_THRESHOLD"),
        (MonitoringPolicy, {"trigger_cooldown_hours": -1.0}, "FORECASTOPS_TRIGGER_COOLDOWN_HOURS"),
        (
            MonitoringPolicy,
            {"health_degrading_threshold": 0.3},
            "FORECASTOPS_HEALTH_DRIFTING_THRESHOLD",
        ),
    ],
)
def test_resource_config_out_of_bounds_is_refused_as_its_variable_would_be(
    resource: type[RetrainPolicy | MonitoringPolicy], config: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as refused:
        resource(**config)
    assert f"resource config of {resource.__name__}" in str(refused.value)


def test_every_setting_has_a_row_in_the_configuration_reference() -> None:
    reference = (REPO_ROOT / "docs" / "configuration.md").read_text()
    variables = [variable(name) for name in Settings.model_fields]
    assert [name for name in variables if f"\n| `{name}`" not in reference] == []
