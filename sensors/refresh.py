"""Keep the monitoring pages about now: `champion_health_refresh` re-scores model_health when the
champion changes (a promotion by the gate, a manual promote or a rollback), and
`open_alerts_refresh` re-materializes open_alerts and experiments whenever an alert is raised or
closed, an experiment changes status, or, while an experiment waits for its version, the
challenger alias moves.

Without them the UI kept describing a retired champion (the gate promotes in retrain_job, which
has no model_health) and an alert table that was only as new as its last
manual materialization (issue 13).
"""

# No `from __future__ import annotations`: Dagster reads the resource annotations at definition
# time. MLflow and the alert store load inside the bodies.
import dagster as dg

from forecastops.domain.runs import HEALTH_REFRESH_JOB, OPEN_ALERTS_JOB
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.storage import LakeStorage

CHAMPION_HEALTH_SENSOR = "champion_health_refresh"
OPEN_ALERTS_SENSOR = "open_alerts_refresh"
REFRESH_INTERVAL_SECONDS = 60


@dg.sensor(
    name=CHAMPION_HEALTH_SENSOR,
    job_name=HEALTH_REFRESH_JOB,
    minimum_interval_seconds=REFRESH_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When the champion alias moves, re-materializes model_health for the newest "
    "day it was scored, so the health shown is the serving champion's.",
)
def champion_health_refresh(
    context: dg.SensorEvaluationContext, mlflow_registry: MlflowRegistry, storage: LakeStorage
) -> dg.SensorResult | dg.SkipReason:
    from forecastops.pipeline.monitoring import PERFORMANCE_TABLE
    from forecastops.stores.registry_tags import CHAMPION

    champion = mlflow_registry.registry.alias_version(CHAMPION)
    if champion is None:
        return dg.SkipReason("No champion in the registry yet.")
    if champion == context.cursor:
        return dg.SkipReason(f"The champion is still v{champion}.")
    scored = storage.lake.partition_days(PERFORMANCE_TABLE)
    if not scored:
        return dg.SensorResult(
            skip_reason=f"The champion is v{champion}; model_health has scored no day yet.",
            cursor=champion,
        )
    day = scored[-1].isoformat()
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"champion_v{champion}:{day}",
                partition_key=day,
                tags={"forecastops/reason": f"champion moved to v{champion}"},
            )
        ],
        cursor=champion,
    )


@dg.sensor(
    name=OPEN_ALERTS_SENSOR,
    job_name=OPEN_ALERTS_JOB,
    minimum_interval_seconds=REFRESH_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-materializes open_alerts and experiments whenever an alert is raised, "
    "actioned or dismissed, an experiment changes status, or (while an experiment is "
    "in_progress) a new version takes the challenger alias, so their pages and the "
    "no_critical_alerts check are current.",
)
def open_alerts_refresh(
    context: dg.SensorEvaluationContext,
    alert_store: AlertStoreResource,
    mlflow_registry: MlflowRegistry,
) -> dg.SensorResult | dg.SkipReason:
    from forecastops.domain.experiments import ExperimentStatus
    from forecastops.stores.alerts.experiments import ExperimentStore
    from forecastops.stores.alerts.identity import AlertStoreConfigError, AlertStoreUnavailableError
    from forecastops.stores.registry import RegistryError
    from forecastops.stores.registry_tags import CHALLENGER

    try:
        store = alert_store.store
        resolved = store.newest_resolution()
        experiments = ExperimentStore(store)
        state = (
            f"raised #{store.newest_id()}, "
            + (f"closed #{resolved[1]} at {resolved[0].isoformat()}" if resolved else "none closed")
            + f", experiment change #{experiments.newest_event_id()}"
        )
        waiting = experiments.list(status=ExperimentStatus.IN_PROGRESS, limit=1)
    except (AlertStoreUnavailableError, AlertStoreConfigError) as error:
        return dg.SkipReason(f"The alert store cannot be read: {error}")
    if waiting:  # an experiment's version may have been registered: it takes the challenger
        try:
            state += f", challenger v{mlflow_registry.registry.alias_version(CHALLENGER)}"
        except RegistryError as error:
            context.log.warning(f"The registry cannot be read ({error}); refreshing without it.")
    if state == context.cursor:
        return dg.SkipReason(
            f"No alert raised or closed, no experiment moved since the last refresh ({state})."
        )
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=state)], cursor=state)
