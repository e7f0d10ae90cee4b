"""Every name ForecastOps writes into the MLflow registry: the aliases, the model-version tags
and the values a tag may take. The one owner of the registry's vocabulary.

Assets, the CLI and the core write and read the registry through these names only; the
promote / rollback rules (`forecastops.pipeline.operations.promotion_blockers`) read exactly the
tags the assets write. The names are stored in registries that already exist, so changing one
orphans the versions registered before: add a name, never rename one.

| tag | written by | value |
|---|---|---|
| `training_data` | challenger_model | run artifact path of the training snapshot (Parquet) |
| `training_cutoff` | challenger_model | last day of data the model saw, `YYYY-MM-DD` |
| `window_days` | challenger_model | training window in days (setting `training_window_days`) |
| `objective` | challenger_model | LightGBM objective, `tweedie` / `poisson` |
| `feature_set_version` | challenger_model | hash of the feature definitions |
| `data_sha256` | challenger_model | SHA-256 of the training snapshot's contract columns |
| `dagster_run_id`, `partition` | challenger_model | the run and partition that trained it |
| `dagster_root_run_id` | challenger_model | first run of its re-execution chain (found by it) |
| `top_features` | challenger_model | the three features with the most gain, comma-separated |
| `top3_vs_champion` | challenger_model | those three against the champion's at the time |
| `selected_by` | challenger_model | why this family, e.g. `backtest ranking: rank 1 of 4` |
| `horizon_days` | challenger_model | the forecast and backtest horizon it was ranked on |
| `experiment_id` | challenger_model | the experiment whose retrain trained it (only then) |
| `reused_in.<root run id>` | challenger_model | the partition of a retrain that reused it |
| `artifact_sha256` | the registry (`ModelRegistry.register_challenger`) | SHA-256 of the booster |
| `backtest_wape`, `_mae`, `_rmse`, `_bias`, `_mase` | challenger_model | its family's score |
| `promotion_decision` | promotion_decision | `promoted` / `rejected` |
| `champion_backtest_wape`, ... `_mase` | champion_backtest | the champion's weekly score |
| `champion_backtest_cutoff` | champion_backtest | the last day that score saw, `YYYY-MM-DD` |
| `archived` | `forecastops doctor --fix` | why the version was archived (an orphan) |

`window_days` is the tag's name for the setting `training_window_days`: the tag predates the
setting's name and versions in existing registries carry it, so the stored name stays.
`champion_backtest_*` are written on the champion only (its configuration re-scored each week,
six decimals); the `backtest_*` score it was promoted on stays as it was.
Registered-model tags `alias_move.<UTC timestamp>` hold the alias history
(`forecastops.stores.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from forecastops.domain.metric_names import SCORE_METRICS

# -- aliases of the registered model -------------------------------------------------------

CHAMPION = "champion"
"""The version that serves forecasts; moved by the promotion gate, promote and rollback."""
CHALLENGER = "challenger"
"""The newest trained version; moved by every registration."""
ALIASES: tuple[str, ...] = (CHAMPION, CHALLENGER)
"""The aliases `ModelRegistry.move_alias` accepts."""

# -- registered-model tags -----------------------------------------------------------------

HISTORY_TAG_PREFIX = "alias_move."
"""Registered-model tags with this prefix are the alias history (`forecastops.stores.registry`)."""

# -- experiment tags -----------------------------------------------------------------------

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
"""MLflow 3's record of what an experiment is for (its UI reads it to choose between GenAI
and machine-learning views)."""
MODEL_DEVELOPMENT = "custom_model_development"
"""The `EXPERIMENT_KIND_TAG` value of a classic (non-GenAI) model-development experiment."""


def logged_model_name(objective: str, window_days: int) -> str:
    """The name of the logged model of a challenger, e.g. `lightgbm_tweedie_w120`: its family
    and training window, so MLflow's model list tells the configurations apart."""
    return f"lightgbm_{objective}_w{window_days}"


# -- model-version tags written at registration --------------------------------------------

TRAINING_DATA_TAG = "training_data"
"""Names the run artifact that holds the training snapshot (a Parquet file)."""
TRAINING_CUTOFF_TAG = "training_cutoff"
WINDOW_DAYS_TAG = "window_days"
"""The `training_window_days` setting the version was trained with (stored name, see above)."""
OBJECTIVE_TAG = "objective"
FEATURE_SET_VERSION_TAG = "feature_set_version"
DATA_SHA256_TAG = "data_sha256"
DAGSTER_RUN_ID_TAG = "dagster_run_id"
DAGSTER_ROOT_RUN_ID_TAG = "dagster_root_run_id"
PARTITION_TAG = "partition"
TOP_FEATURES_TAG = "top_features"
TOP3_VS_CHAMPION_TAG = "top3_vs_champion"
SELECTED_BY_TAG = "selected_by"
"""Why the version's LightGBM family was trained: its rank in the cutoff's backtest ranking
(`forecastops.pipeline.cycle.choose_challenger`), or the setting when there was no ranking."""
HORIZON_DAYS_TAG = "horizon_days"
"""The horizon (setting `horizon_days`) the version's family was backtested and chosen on."""
EXPERIMENT_ID_TAG = "experiment_id"
"""The experiment (`forecastops experiments`) whose retrain trained the version: its id, copied
from the run tag `forecastops.domain.runs.EXPERIMENT_RUN_TAG`; written only on those versions."""
SHA256_TAG = "artifact_sha256"
"""Hex SHA-256 of the booster file, computed by the registry when the version is registered."""

CONFIGURATION_TAGS: tuple[str, ...] = (OBJECTIVE_TAG, WINDOW_DAYS_TAG, FEATURE_SET_VERSION_TAG)
"""Tags that together are a model's configuration: two versions that agree on all of them are
scored as the same backtest family (`forecastops.pipeline.cycle.same_configuration`)."""

TWIN_TAGS: tuple[str, ...] = (
    DATA_SHA256_TAG,
    OBJECTIVE_TAG,
    WINDOW_DAYS_TAG,
    FEATURE_SET_VERSION_TAG,
    HORIZON_DAYS_TAG,
)
"""Training data and configuration: a retrain whose values of these equal an existing
version's trains the same model (training is deterministic), so it reuses that version instead
of registering a twin (decision 0019). Versions registered before `horizon_days` existed never
match, so they are never reused."""
REUSED_IN_TAG_PREFIX = "reused_in."
"""`reused_in.<dagster root run id>` = partition: a retrain run that reused the version; the
run's later steps find their challenger by it (`ModelRegistry.version_registered_in`)."""


def reused_in_tag(root_run_id: str) -> str:
    """The version tag recording that the run chain `root_run_id` reused the version."""
    return f"{REUSED_IN_TAG_PREFIX}{root_run_id}"


# -- model-version tags written later in the cycle -----------------------------------------

BACKTEST_TAG_PREFIX = "backtest_"
BACKTEST_METRICS: tuple[str, ...] = SCORE_METRICS
"""The backtest scores tagged on a version, each as `backtest_<metric>` (defined in
`forecastops.domain.metrics`). Versions tagged before MAPE and the stockout-miss and overstock
rates existed lack those three tags: `forecastops status` shows them as unknown (null)."""
DECISION_TAG = "promotion_decision"
"""The promotion gate's verdict on the version: `PROMOTED` or `REJECTED`."""
PROMOTED = "promoted"
REJECTED = "rejected"
DECISION_VALUES: tuple[str, ...] = (PROMOTED, REJECTED)
ARCHIVED_TAG = "archived"
"""Set on an orphan version (never judged by the gate, no alias, no forecasts) by `forecastops
doctor --fix`: why and when it was archived. MLflow 3 has no archived state for a version
(stages are deprecated), so the mark is a tag; the version and its run stay."""


def _score_tag(prefix: str, metric: str) -> str:
    if metric not in BACKTEST_METRICS:
        raise KeyError(f"{metric!r} is not a tagged backtest score; those are {BACKTEST_METRICS}.")
    return f"{prefix}{metric}"


def backtest_tag(metric: str) -> str:
    """The version tag of backtest score `metric` (one of `BACKTEST_METRICS`)."""
    return _score_tag(BACKTEST_TAG_PREFIX, metric)


BACKTEST_WAPE_TAG = backtest_tag("wape")
"""A version was backtested when it carries this tag (a promote-by-hand rule)."""

CHAMPION_BACKTEST_TAG_PREFIX = "champion_backtest_"
CHAMPION_BACKTEST_CUTOFF_TAG = f"{CHAMPION_BACKTEST_TAG_PREFIX}cutoff"
"""The last day of data the champion's latest weekly backtest scored on."""


def champion_backtest_tag(metric: str) -> str:
    """The version tag of the champion backtest's score `metric` (one of `BACKTEST_METRICS`):
    the champion's own configuration re-scored on newer data, kept apart from the `backtest_*`
    score it was promoted on."""
    return _score_tag(CHAMPION_BACKTEST_TAG_PREFIX, metric)


CHAMPION_BACKTEST_TAGS: tuple[str, ...] = (
    *(champion_backtest_tag(metric) for metric in BACKTEST_METRICS),
    CHAMPION_BACKTEST_CUTOFF_TAG,
)
"""The tags `champion_backtest` writes on the champion (and only those)."""

REGISTRATION_TAGS: tuple[str, ...] = (
    TRAINING_DATA_TAG,
    TRAINING_CUTOFF_TAG,
    WINDOW_DAYS_TAG,
    OBJECTIVE_TAG,
    FEATURE_SET_VERSION_TAG,
    DATA_SHA256_TAG,
    DAGSTER_RUN_ID_TAG,
    DAGSTER_ROOT_RUN_ID_TAG,
    PARTITION_TAG,
    TOP_FEATURES_TAG,
    TOP3_VS_CHAMPION_TAG,
    SELECTED_BY_TAG,
    HORIZON_DAYS_TAG,
)
"""The tags `registration_tags` gives a new version (the registry adds `SHA256_TAG`)."""
VERSION_TAGS: frozenset[str] = frozenset(
    {
        *REGISTRATION_TAGS,
        SHA256_TAG,
        EXPERIMENT_ID_TAG,
        *(backtest_tag(metric) for metric in BACKTEST_METRICS),
        DECISION_TAG,
        *CHAMPION_BACKTEST_TAGS,
        ARCHIVED_TAG,
    }
)
"""Every model-version tag ForecastOps writes, but the `reused_in.<run>` ones
(`is_version_tag`)."""


def is_version_tag(name: str) -> bool:
    """Whether ForecastOps writes model-version tag `name` (one of `VERSION_TAGS`, or a
    `reused_in.<root run id>` record)."""
    return name in VERSION_TAGS or name.startswith(REUSED_IN_TAG_PREFIX)


def registration_tags(
    *,
    training_data: str,
    training_cutoff: date,
    window_days: int,
    objective: str,
    feature_set_version: str,
    data_sha256: str,
    dagster_run_id: str,
    dagster_root_run_id: str,
    partition: str,
    top_features: str,
    top3_vs_champion: str,
    selected_by: str,
    horizon_days: int,
) -> dict[str, str]:
    """The version tags of a newly trained challenger (see the module's table), as text."""
    return {
        TRAINING_DATA_TAG: training_data,
        TRAINING_CUTOFF_TAG: training_cutoff.isoformat(),
        WINDOW_DAYS_TAG: str(window_days),
        OBJECTIVE_TAG: objective,
        FEATURE_SET_VERSION_TAG: feature_set_version,
        DATA_SHA256_TAG: data_sha256,
        DAGSTER_RUN_ID_TAG: dagster_run_id,
        DAGSTER_ROOT_RUN_ID_TAG: dagster_root_run_id,
        PARTITION_TAG: partition,
        TOP_FEATURES_TAG: top_features,
        TOP3_VS_CHAMPION_TAG: top3_vs_champion,
        SELECTED_BY_TAG: selected_by,
        HORIZON_DAYS_TAG: str(horizon_days),
    }


def twin_tags(
    *,
    data_sha256: str,
    objective: str,
    window_days: int,
    feature_set_version: str,
    horizon_days: int,
) -> dict[str, str]:
    """The `TWIN_TAGS` of a model about to be trained, as text (as `registration_tags` writes
    them), to look for a version that already is that model."""
    return {
        DATA_SHA256_TAG: data_sha256,
        OBJECTIVE_TAG: objective,
        WINDOW_DAYS_TAG: str(window_days),
        FEATURE_SET_VERSION_TAG: feature_set_version,
        HORIZON_DAYS_TAG: str(horizon_days),
    }


def backtest_tags(scores: Mapping[str, float]) -> dict[str, str]:
    """The version tags of backtest `scores` (metric name -> value), six decimals each."""
    return {backtest_tag(metric): f"{value:.6f}" for metric, value in scores.items()}


def champion_backtest_tags(scores: Mapping[str, float], cutoff: date) -> dict[str, str]:
    """The champion backtest's tags: its `scores` (metric name -> value, six decimals each) and
    the `cutoff` they were scored at."""
    return {
        **{champion_backtest_tag(metric): f"{value:.6f}" for metric, value in scores.items()},
        CHAMPION_BACKTEST_CUTOFF_TAG: cutoff.isoformat(),
    }


def decision_tags(promote: bool) -> dict[str, str]:
    """The version tag of the promotion gate's verdict."""
    return {DECISION_TAG: PROMOTED if promote else REJECTED}
