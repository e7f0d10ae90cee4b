"""Monitoring: the experiments (seed 001) of the experiment store, shown in the Dagster UI.

`experiments` reads the store: a table of every experiment with its status, configuration,
version, decision and results. First it moves each in_progress experiment whose version is
registered (tagged `experiment_id`) to shadow_testing (`sync_experiment_versions`, as the CLI
does). It is in `open_alerts_job`, which `open_alerts_refresh` runs whenever an experiment
changes status or a new version takes the challenger alias (every registration does).
`forecastops experiments list` is the live view from a shell.
"""

# No `from __future__ import annotations`: Dagster reads the annotations at definition time.
# The store (SQLAlchemy) and pandas load inside the body.
import math

import dagster as dg

from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry

MAX_EXPERIMENTS_LISTED = 100
_COLUMN_TYPES = {"int64": "int", "float64": "float"}


@dg.asset(group_name="monitoring")
def experiments(
    context: dg.AssetExecutionContext,
    alert_store: AlertStoreResource,
    mlflow_registry: MlflowRegistry,
) -> dg.MaterializeResult:
    """Every experiment, newest first (at most 100): status, configuration (objective, window,
    segment), test days, version, decision and results (baseline and experimental MAE,
    improvement in %, realized days); counts per status. In_progress experiments whose version
    is registered move to shadow_testing first."""
    from forecastops.domain.experiments import ExperimentStatus
    from forecastops.pipeline.experiments import experiments_frame, sync_experiment_versions
    from forecastops.stores.alerts.experiments import ExperimentStore

    store = ExperimentStore(alert_store.store)
    moved = 0
    if store.list(status=ExperimentStatus.IN_PROGRESS, limit=1):
        registry = mlflow_registry.registry
        moved = sync_experiment_versions(store, registry, f"dagster:{context.run_id}")
    listed = store.list(limit=MAX_EXPERIMENTS_LISTED)
    frame = experiments_frame(listed)
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(str(name), _COLUMN_TYPES.get(str(dtype), "string"))
            for name, dtype in frame.dtypes.items()
        ]
    )
    records = [
        dg.TableRecord({str(name): _cell(value) for name, value in row.items()})
        for row in frame.to_dict(orient="records")
    ]
    counts = {status: 0 for status in ExperimentStatus}
    for experiment in listed:
        counts[experiment.status] += 1
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(listed),
            **{f"experiments_{status}": count for status, count in counts.items()},
            "experiments": dg.MetadataValue.table(records, schema),
            "moved_to_shadow_testing": moved,
            "alert_store": store.display_url,
        }
    )


def _cell(value: object) -> "str | int | float | bool | None":
    """A table cell: NaN (not known yet) as None, numpy numbers as Python ones."""
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):
        return _cell(value.item())
    return value if isinstance(value, str | int | bool) else str(value)
