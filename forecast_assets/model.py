"""Model plane assets, partitioned on the training cutoff day:
features -> backtest -> challenger -> promotion decision -> forecasts (the backtest ranks the
families first, so the challenger is the best-ranked LightGBM family; decision 0019)."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. The core (pandas, LightGBM, MLflow) loads inside the bodies.
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from forecast_assets.alerting import record_alerts, run_links
from forecast_assets.ingest import raw_sales
from forecast_assets.metadata import (
    column_schema,
    frame_table,
    markdown_table,
    mlflow_links,
    overall_table_markdown,
    png_markdown,
    rounded,
)
from forecast_assets.partitions import daily_partitions, trailing_window
from forecastops.stores.registry_tags import (
    CHALLENGER,
    CHAMPION,
    DATA_SHA256_TAG,
    OBJECTIVE_TAG,
    TOP_FEATURES_TAG,
    backtest_tag,
    backtest_tags,
    logged_model_name,
    registration_tags,
    twin_tags,
)
from resources.alerts import AlertStoreResource
from resources.mlflow_registry import MlflowRegistry
from resources.policies import RetrainPolicy
from resources.storage import LakeStorage

if TYPE_CHECKING:
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.stores.registry import ModelRegistry

GATE_CHECK = "promotion_gate"
TRAINING_WINDOW_CHECK = "training_window_delivered"
LAG_WINDOW_CHECK = "lag_window_delivered"
TOP_FEATURES = 10
TRAINING_LOOKBACK_PARTITIONS = 180
MODEL_PLANE_POOL = "model_plane"
"""The Dagster pool of the assets that write the registry or read what a cycle just wrote
(challenger, backtest, promotion decision, forecasts). The instance's dagster.yaml limits it to
one run at a time (`concurrency.pools`, run granularity, enforced by the run queue), so two
cycles never interleave registry writes; see docs/decisions/0017."""


def _cutoff(context: dg.AssetExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _run_policy(context: dg.AssetExecutionContext, retrain: RetrainPolicy) -> "CyclePolicy":
    """The `retrain` resource's policy, with the objective and window of the experiment the
    run trains when it was launched for one (`forecastops experiments start` run tags)."""
    from forecastops.domain.experiments import InvalidExperimentError
    from forecastops.pipeline.experiments import policy_for_run

    try:
        return policy_for_run(retrain.policy, context.run.tags)
    except InvalidExperimentError as error:
        raise dg.Failure(str(error), allow_retries=False) from None


def _require_reachable(registry: "ModelRegistry") -> None:
    """Fail at once when MLflow does not answer: its client would retry a dead server for
    minutes, and only after the model was trained."""
    from forecastops.stores.registry import RegistryUnreachable

    try:
        registry.check_reachable()
    except RegistryUnreachable as error:
        raise dg.Failure(str(error)) from None


def _own_challenger(context: dg.AssetExecutionContext, registry: "ModelRegistry") -> str | None:
    """The version `challenger_model` registered in this run (or in the run it re-executes):
    carried by the version's `dagster_root_run_id` tag, never read from the challenger alias,
    which a concurrent retrain may have moved."""
    return registry.version_registered_in(context.run.root_run_id or context.run_id)


@dg.asset(
    partitions_def=daily_partitions,
    deps=[trailing_window(raw_sales, TRAINING_LOOKBACK_PARTITIONS)],
    group_name="model",
    kinds={"pandas", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            TRAINING_WINDOW_CHECK,
            asset="sales_features",
            description="Warns when a day of the training window has had no data for longer "
            "than FORECASTOPS_MISSING_DAYS_ALERT_AFTER days (raises a missing_data alert).",
        )
    ],
)
def sales_features(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    alert_store: AlertStoreResource,
) -> dg.MaterializeResult:
    """The modelling table of the training window ending at the cutoff: lags, rolling stats,
    calendar, price and promotion features (only contract-valid days feed it; a day without
    data is unknown, never 0 sold). A day missing for longer than the setting raises a
    missing_data alert recommending its delivery."""
    from forecastops.pipeline.alerts import missing_data_alerts
    from forecastops.pipeline.cycle import build_features, overdue_missing_days
    from forecastops.pipeline.ingest import missing_days

    cutoff, policy = _cutoff(context), retrain.policy
    table, version, sha = build_features(storage.lake, cutoff, policy)
    first = cutoff - timedelta(days=policy.training_window_days - 1)
    missing = missing_days(storage.lake, first, cutoff)
    overdue = overdue_missing_days(storage.lake, cutoff, policy)
    alert = record_alerts(
        context,
        alert_store,
        missing_data_alerts(
            cutoff,
            overdue,
            policy.missing_days_alert_after,
            run_links(context, alert_store, "raw_sales"),
        ),
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": column_schema(table),
            "feature_set_version": version,
            "data_sha256": sha,
            "series": int(table[["store_id", "product_id"]].drop_duplicates().shape[0]),
            "missing_days_in_training_window": [day.isoformat() for day in missing],
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=TRAINING_WINDOW_CHECK,
                passed=not overdue,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "overdue_missing_days": [day.isoformat() for day in overdue],
                    "alert_after_days": policy.missing_days_alert_after,
                    **alert,
                },
            )
        ],
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[sales_features],
    group_name="model",
    pool=MODEL_PLANE_POOL,
    kinds={"pandas"},
)
def backtest(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    mlflow_registry: MlflowRegistry,
) -> dg.MaterializeResult:
    """Rolling-origin backtest of every candidate family (seasonal naive, moving average,
    LightGBM tweedie and poisson): WAPE, MAE, RMSE, bias, MASE, MAPE, stockout-miss and
    overstock rates per series, store, product and overall, a ranking with why the winner won
    (a candidate that failed is listed as failed with its error), interval coverage and a
    plot. The challenger is the LightGBM family it
    ranks best (decision 0019)."""
    from forecastops.domain.backtest import plot_backtest
    from forecastops.pipeline.cycle import (
        NoRankedModelError,
        choose_challenger,
        overall_scores,
        run_cycle_backtest,
    )

    # the cycle ends in MLflow: a dead server is found before minutes of fitting, not after
    _require_reachable(mlflow_registry.registry)
    cutoff, policy = _cutoff(context), _run_policy(context, retrain)
    result, ranking = run_cycle_backtest(storage.lake, cutoff, policy)
    plot = plot_backtest(result, storage.lake.partition_path("backtest", cutoff) / "backtest.png")
    explained = result.ranking()
    try:
        choice = choose_challenger(ranking, policy, cutoff)
        family, selected = choice.candidate, choice.selected_by
    except NoRankedModelError as error:  # challenger_model will refuse with the same words
        family, selected = str(explained.winner), str(error)
    overall = result.metrics[result.metrics["level"] == "overall"]
    scored = family in result.candidates  # not when no candidate has a finite WAPE
    scores = overall_scores(result.metrics, family) if scored else {}
    return dg.MaterializeResult(
        metadata={
            "ranking": dg.MetadataValue.md(explained.to_markdown()),
            "overall": dg.MetadataValue.md(overall_table_markdown(overall)),
            "interval_coverage": dg.MetadataValue.md(
                result.coverage(family).to_markdown() if scored else "no candidate scored"
            ),
            "plot": dg.MetadataValue.md(png_markdown(plot, "backtest")),
            "fold_cutoffs": [c.isoformat() for c in result.cutoffs],
            "fold_fits": result.fold_fits,
            "fold_fits_reused": result.reused_fits,
            **{backtest_tag(k): dg.MetadataValue.float(v) for k, v in scores.items()},
            "winner": str(ranking.iloc[0]["candidate"]),
            "challenger_family": family,
            "selected_by": selected,
            "failed_candidates": dict(result.failures),
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[backtest],
    group_name="model",
    pool=MODEL_PLANE_POOL,
    kinds={"lightgbm", "mlflow"},
)
def challenger_model(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    mlflow_registry: MlflowRegistry,
) -> dg.MaterializeResult:
    """The LightGBM family that ranked best in the cutoff's backtest (a baseline that ranks
    first is never registered), trained on the window ending at the cutoff and registered as a
    new version with the alias `challenger`, tagged `selected_by` and with its family's
    backtest scores. The run also keeps the exact training snapshot (Parquet), the in-sample
    `train_wape` and the backtest plot, so `forecastops reproduce --version N` can refit the
    version and check it."""
    from forecastops.domain.features import feature_set_version
    from forecastops.domain.forecasters import LightGBMForecaster
    from forecastops.pipeline.cycle import (
        BACKTEST_TABLE,
        NoRankedModelError,
        choose_challenger,
        data_sha256,
        history_until,
        overall_scores,
        stored_ranking,
    )
    from forecastops.pipeline.operations import (
        TRAIN_WAPE_METRIC,
        TRAINING_DATA_ARTIFACT,
        TRAINING_DATA_FILE,
        TRAINING_ROWS_METRIC,
        in_sample_wape,
    )

    registry = mlflow_registry.registry
    _require_reachable(registry)
    from forecastops.pipeline.experiments import experiment_choice, experiment_version_tags

    cutoff, policy, lake = _cutoff(context), _run_policy(context, retrain), storage.lake
    ranking = stored_ranking(lake, cutoff)
    try:
        choice = experiment_choice(choose_challenger(ranking, policy, cutoff), context.run.tags)
    except NoRankedModelError as error:
        raise dg.Failure(str(error)) from error
    experiment_tags = experiment_version_tags(context.run.tags)
    scores = (
        overall_scores(lake.read_partition(BACKTEST_TABLE, cutoff, "metrics"), choice.candidate)
        if ranking is not None
        else {}
    )
    plot = lake.partition_path(BACKTEST_TABLE, cutoff) / "backtest.png"
    sales = history_until(
        lake, cutoff, policy.training_window_days + policy.feature_spec.lookback_days
    )
    ranking_md = (
        dg.MetadataValue.md(markdown_table(ranking))
        if ranking is not None
        else "no backtest ranking stored for this cutoff"
    )
    sha, features_version = data_sha256(sales), feature_set_version(policy.feature_spec)
    twin = registry.find_version(
        twin_tags(
            data_sha256=sha,
            objective=choice.objective,
            window_days=policy.training_window_days,
            feature_set_version=features_version,
            horizon_days=policy.horizon_days,
        )
    )
    if twin is not None:  # training is deterministic: the same model exists, reuse it
        if experiment_tags:  # the experiment tests that version
            registry.set_version_tags(twin, experiment_tags)
        registry.reuse_version(
            twin,
            root_run_id=context.run.root_run_id or context.run_id,
            partition=context.partition_key,
            actor=f"dagster:{context.run_id}",
        )
        return dg.MaterializeResult(
            metadata={
                "model_version": twin,
                **mlflow_links(registry.version_pages(twin)),
                "reused": f"reused v{twin}: same training data (data_sha256 {sha[:12]}...) "
                "and configuration, so no new version was registered",
                "objective": choice.objective,
                "selected_by": choice.selected_by,
                "ranking": ranking_md,
            }
        )
    model = LightGBMForecaster(
        objective=choice.objective,  # type: ignore[arg-type]
        spec=policy.feature_spec,
        window_days=policy.training_window_days,
    ).fit(sales)
    importance = model.feature_importance(TOP_FEATURES)
    champion = registry.alias_version(CHAMPION)
    champion_top = registry.version_tags(champion).get(TOP_FEATURES_TAG, "") if champion else ""
    top = ",".join(importance["feature"].head(3))
    changed = sorted(set(top.split(",")) ^ set(champion_top.split(","))) if champion_top else []
    top_vs_champion = (
        f"champion v{champion} top 3: {champion_top}; changed: {', '.join(changed) or 'none'}"
        if champion
        else "no champion yet"
    )
    with tempfile.TemporaryDirectory() as folder:
        model.save(Path(folder) / "model" / "model.txt")
        snapshot = Path(folder) / TRAINING_DATA_FILE
        sales.to_parquet(snapshot, index=False)
        importance_file = Path(folder) / "feature_importance.csv"
        importance.to_csv(importance_file, index=False)
        registered = registry.register_challenger(
            Path(folder) / "model",
            params={**model.lightgbm_params, "window_days": policy.training_window_days},
            metrics={
                TRAINING_ROWS_METRIC: float(len(sales)),
                TRAIN_WAPE_METRIC: in_sample_wape(model, sales),
                **{backtest_tag(name): value for name, value in scores.items()},
            },
            artifacts={
                TRAINING_DATA_ARTIFACT: snapshot,
                "feature_importance": importance_file,
                **({"backtest": plot} if plot.is_file() else {}),
            },
            tags=registration_tags(
                training_data=f"{TRAINING_DATA_ARTIFACT}/{TRAINING_DATA_FILE}",
                training_cutoff=cutoff,
                window_days=policy.training_window_days,
                objective=choice.objective,
                feature_set_version=features_version,
                data_sha256=sha,
                dagster_run_id=context.run_id,
                dagster_root_run_id=context.run.root_run_id or context.run_id,
                partition=context.partition_key,
                top_features=top,
                top3_vs_champion=top_vs_champion,
                selected_by=choice.selected_by,
                horizon_days=policy.horizon_days,
            )
            | backtest_tags(scores)
            | experiment_tags,
            actor=f"dagster:{context.run_id}",
            logged_model_name=logged_model_name(choice.objective, policy.training_window_days),
        )
    return dg.MaterializeResult(
        metadata={
            "model_version": registered.version,
            **mlflow_links(registered.pages),
            "model_uri": registered.model_uri,
            "top_features": frame_table(importance),
            "top3_vs_champion": top_vs_champion,
            "objective": choice.objective,
            "selected_by": choice.selected_by,
            "ranking": ranking_md,
        }
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[challenger_model],
    group_name="model",
    pool=MODEL_PLANE_POOL,
    kinds={"mlflow"},
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset="promotion_decision",
            description="Warns when the challenger did not pass the promotion gate.",
        )
    ],
)
def promotion_decision(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    mlflow_registry: MlflowRegistry,
    alert_store: AlertStoreResource,
) -> dg.MaterializeResult:
    """The gate: the backtest admits the challenger (beats seasonal naive, no store degrades)
    and it becomes champion only when its configuration stream, forecasting in shadow, has
    been at least 5 % better than the champion on the same realized rows for
    `FORECASTOPS_MIN_SHADOW_DAYS` days (decision 0022, docs/promotion.md). A failed gate is a
    warning, not a failure.
    A promotion raises an info alert; a drift-triggered retrain that the gate refuses raises a
    warning."""
    from forecastops.domain.runs import TRIGGER_TAG
    from forecastops.pipeline.alerts import mlflow_version_link, promotion_alert
    from forecastops.pipeline.promotion import decide_and_apply_promotion

    registry = mlflow_registry.registry
    challenger = _own_challenger(context, registry)
    if challenger is None:
        raise dg.Failure(
            "This run registered no challenger: promotion_decision judges the version its own "
            "run trained, so run it with challenger_model (retrain_job), not alone."
        )
    outcome = decide_and_apply_promotion(
        storage.lake,
        registry,
        _cutoff(context),
        retrain.policy,
        challenger,
        actor=f"dagster:{context.run_id}",
    )
    decision = outcome.decision
    links = run_links(context, alert_store, "promotion_decision")
    links.append(mlflow_version_link(challenger, registry.version_url(challenger)))
    alert = record_alerts(
        context,
        alert_store,
        [
            promotion_alert(
                _cutoff(context),
                decision,
                challenger,
                outcome.champion_before,
                context.run.tags.get(TRIGGER_TAG),
                links,
            )
        ],
    )
    return dg.MaterializeResult(
        metadata={
            "promoted": decision.promote,
            "challenger_version": challenger,
            **mlflow_links(registry.version_pages(challenger)),
            "champion_version": outcome.champion_after or "none",
            "decision": dg.MetadataValue.md(decision.to_markdown()),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=GATE_CHECK,
                passed=decision.promote,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"reasons": dg.MetadataValue.md(decision.to_markdown()), **alert},
            )
        ],
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=[promotion_decision],
    group_name="model",
    pool=MODEL_PLANE_POOL,
    kinds={"pandas", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            LAG_WINDOW_CHECK,
            asset="forecasts",
            description="Warns when days the forecast reads as lags were never delivered "
            "(the model estimated them).",
        )
    ],
)
def forecasts(
    context: dg.AssetExecutionContext,
    storage: LakeStorage,
    retrain: RetrainPolicy,
    mlflow_registry: MlflowRegistry,
) -> dg.MaterializeResult:
    """The champion's P10/P50/P90 forecast for every series over the next horizon; each row
    names its model version, configuration (objective, window, feature set, config hash),
    training data hash, Dagster run and the hash of the feature values it was computed from
    (the vectors are stored beside the rows). The challenger (when it is not the champion)
    forecasts from the same origin into `shadow_forecasts`, never served, so monitoring can
    score it on the champion's rows (decision 0022). Days of the lag
    window without data (no raw_sales partition) are listed and warned about: the forecast
    read the model's estimate of them, not actuals."""
    from forecastops.pipeline.cycle import (
        forecast_history,
        lag_window_missing_days,
        make_forecasts,
    )

    cutoff, policy = _cutoff(context), retrain.policy
    registry = mlflow_registry.registry
    champion = registry.alias_version(CHAMPION)
    if champion is None:
        raise dg.Failure(
            "No champion in the registry yet: no challenger has passed the gate. Forecasts "
            "need a champion (see the promotion_decision asset, or `forecastops promote`)."
        )
    history = forecast_history(storage.lake, cutoff, policy)

    def lineage(version: str) -> tuple[str, dict[str, str]]:
        """The version's backtest family and the lineage stamped on its forecast rows."""
        tags = registry.version_tags(version)
        return f"lightgbm_{tags.get(OBJECTIVE_TAG, policy.objective)}", {
            "model_version": version,
            "data_sha256": tags.get(DATA_SHA256_TAG, ""),
            "dagster_run_id": context.run_id,
        }

    family, stamp = lineage(champion)
    table = make_forecasts(
        storage.lake, cutoff, policy, registry.load_forecaster(champion), family, stamp, history
    )
    # the challenger forecasts from the same origin, stored beside, never served (decision 0022)
    challenger = registry.alias_version(CHALLENGER)
    shadow_note = "no challenger besides the champion: nothing to shadow"
    if challenger is not None and challenger != champion:
        shadow_family, shadow_stamp = lineage(challenger)
        shadow = make_forecasts(
            storage.lake,
            cutoff,
            policy,
            registry.load_forecaster(challenger),
            shadow_family,
            shadow_stamp,
            history,
            shadow_beside=champion,
        )
        shadow_note = (
            f"challenger v{challenger} forecast {len(shadow)} rows in shadow "
            f"(total P50 {shadow['p50'].sum():.1f}), stored in shadow_forecasts, not served"
        )
    missing = [day.isoformat() for day in lag_window_missing_days(storage.lake, cutoff, policy)]
    missing_note = (
        f"{len(missing)} day(s) of the {policy.feature_spec.lookback_days}-day lag window have "
        f"no raw_sales partition: {', '.join(missing)}. The model estimated them and the "
        "forecast read the estimates. Deliver the landing file(s) and re-materialize raw_sales "
        "for those days, then this partition's forecasts."
        if missing
        else "Every day of the lag window was delivered."
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(table),
            "dagster/column_schema": column_schema(table),
            "model_version": champion,
            **mlflow_links(registry.version_pages(champion)),
            "horizon_days": policy.horizon_days,
            "total_p50": rounded(float(table["p50"].sum())),
            "shadow": shadow_note,
            "missing_days_in_lag_window": missing,
            "preview": frame_table(table, max_rows=10),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=LAG_WINDOW_CHECK,
                passed=not missing,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"missing_days": missing, "note": missing_note},
            )
        ],
    )


RETRAIN_POOL_ASSETS = (challenger_model, backtest, promotion_decision, forecasts)
"""The assets in `MODEL_PLANE_POOL`."""
