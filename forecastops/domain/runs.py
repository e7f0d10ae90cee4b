"""The names of the pipeline's runs, in one place: its job names and every Dagster run tag it
writes or reads.

ForecastOps' own tags start with `forecastops/`. Dagster's system tags (`dagster/...`) are the
names Dagster documents for a run's partition, backfill, sensor and run key; Dagster exports no
public constants for them, so they are spelled here once instead of importing its private
`dagster._core.storage.tags`. `run_partition` is the one reader of a run's partition.
"""

from __future__ import annotations

from collections.abc import Mapping

INGEST_JOB = "ingest_job"
RETRAIN_JOB = "retrain_job"
DAILY_CYCLE_JOB = "daily_cycle_job"
WEEKLY_BACKTEST_JOB = "weekly_backtest_job"
MONITORING_JOB = "monitoring_job"
PROMOTE_MODEL_JOB = "promote_model_job"
ROLLBACK_MODEL_JOB = "rollback_model_job"
ALERT_ACTION_JOB = "alert_action_job"
QUEUE_RETRAIN_JOB = "queue_retrain_job"
HEALTH_REFRESH_JOB = "health_refresh_job"
OPEN_ALERTS_JOB = "open_alerts_job"

TRIGGER_TAG = "forecastops/trigger"
"""Run tag of a drift-triggered retrain: the trigger (data_drift or performance_drift)."""
REASON_TAG = "forecastops/trigger_reason"
TOP_DRIFTED_TAG = "forecastops/top_drifted_features"
ALERT_IDS_TAG = "forecastops/alert_ids"
"""Run tag of a drift-triggered retrain: the ids of the day's drift alerts it answers ("2,3");
of a retrain queued by approving an alert: that alert's id."""
REPAIR_TAG = "forecastops/repaired_day"
"""Run tag of a repair run (repair_sensor, `forecastops repair`): the re-delivered day whose
stale downstream partitions it recomputes (decision 0020)."""
EXPERIMENT_RUN_TAG = "forecastops/experiment_id"
"""Run tag of a retrain launched for an experiment (`forecastops experiments start`): its id;
the version the run registers carries it as `experiment_id`."""
EXPERIMENT_OBJECTIVE_TAG = "forecastops/experiment_objective"
EXPERIMENT_WINDOW_TAG = "forecastops/experiment_window_days"
"""Run tags of an experiment's retrain: the configuration it trains (the LightGBM objective and
the training window in days), instead of the `retrain` resource's."""
KIND_TAG = "forecastops/kind"
"""What a non-asset job does, e.g. `registry` for promote/rollback."""

DAGSTER_PARTITION_TAG = "dagster/partition"
DAGSTER_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
DAGSTER_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
"""A single-run backfill of a partition range carries its first and last partition."""
DAGSTER_BACKFILL_TAG = "dagster/backfill"
DAGSTER_SENSOR_NAME_TAG = "dagster/sensor_name"
DAGSTER_RUN_KEY_TAG = "dagster/run_key"

PARTITION_RANGE_SEPARATOR = "..."
"""Between the first and last day of a range, as `dg launch --partition-range` writes it."""


def run_partition(tags: Mapping[str, str]) -> str | None:
    """The run's partition (`2025-03-01`), its range for a single-run backfill
    (`2025-01-01...2025-01-31`; one day when both ends are equal), or None."""
    if DAGSTER_PARTITION_TAG in tags:
        return tags[DAGSTER_PARTITION_TAG]
    start = tags.get(DAGSTER_PARTITION_RANGE_START_TAG)
    end = tags.get(DAGSTER_PARTITION_RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}{PARTITION_RANGE_SEPARATOR}{end}"
    return start or None
