"""The names of the accuracy metrics, without their computation, so the modules Dagster loads
(registry tags, asset pages) can name them without importing numpy and pandas. The metrics
themselves are defined in `forecastops.domain.metrics`."""

from __future__ import annotations

SCORE_METRICS: tuple[str, ...] = (
    "wape",
    "mae",
    "rmse",
    "bias",
    "mase",
    "mape",
    "stockout_miss_rate",
    "overstock_rate",
)
"""Every score `forecastops.domain.metrics.metrics_by` computes per group (its columns are
these, then the row counts `n` and `n_demand`); each is tagged on a backtested version."""
