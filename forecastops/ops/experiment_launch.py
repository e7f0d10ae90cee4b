"""Launch the retrain of an approved experiment: one `retrain_job` run for a cutoff day, queued
for the daemon like `forecastops retrain` (`forecastops.ops.retrain_queue`), tagged with the
experiment's id and configuration (`forecastops.pipeline.experiments.experiment_run_tags`), so
the run trains that objective and window and tags the version it registers with the
experiment's id. The experiment then moves approved -> in_progress, with the backfill in its
history; `sync_experiment_versions` moves it on to shadow_testing once the version is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from forecastops.domain.experiments import Experiment
from forecastops.ops.retrain_queue import QueuedRetrain, check_days, latest_partition
from forecastops.pipeline.experiments import experiment_run_tags
from forecastops.stores.alerts.experiments import ExperimentStore
from forecastops.stores.settings import Settings


@dataclass(frozen=True)
class LaunchedExperiment:
    """The experiment (now in_progress) and the backfill its retrain was queued in."""

    experiment: Experiment
    queued: QueuedRetrain


def start_experiment(
    store: ExperimentStore,
    experiment_id: int,
    settings: Settings,
    *,
    actor: str,
    day: date | None = None,
) -> LaunchedExperiment:
    """Queue the retrain of approved experiment `experiment_id` for cutoff `day` (default: the
    latest partition, yesterday in FORECASTOPS_TIMEZONE) and move it to in_progress.

    Checked before anything is queued: the experiment is approved (`ExperimentTransitionError`)
    and the day is a partition (`RetrainRefused`). The run is queued before the move, so a
    failed launch (`RetrainLaunchError`) leaves the experiment approved to start again; if
    another operator started it meanwhile, the move is refused and at most one extra run
    trains the same configuration (the registry reuses its version: decision 0019).
    """
    from forecastops.ops import retrain_queue

    tags = experiment_run_tags(store.get(experiment_id))
    cutoff = check_days([day or latest_partition(settings)], settings, "date")[0]
    queued = retrain_queue.queue_retrain([cutoff], settings, tags)
    experiment = store.start(
        experiment_id,
        actor,
        notes=f"retrain_job of {cutoff} queued as backfill {queued.backfill_id}",
    )
    return LaunchedExperiment(experiment, queued)
