"""The retrain cycle on a small simulated retailer, against a real MLflow store."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import mlflow
import pandas as pd
import pytest

from forecast_assets.model import GATE_CHECK
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.features import (
    FeatureSpec,
    categorical_columns,
    feature_columns,
    feature_hashes,
    numeric_feature_columns,
)
from forecastops.domain.forecasters import configuration_hash
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.cycle import (
    BACKTEST_TABLE,
    DECISION_TABLE,
    FEATURES_PART,
    FEATURES_TABLE,
    FORECASTS_TABLE,
)
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import (
    ALIASES,
    BACKTEST_WAPE_TAG,
    DECISION_TAG,
    DECISION_VALUES,
    EXPERIMENT_KIND_TAG,
    FEATURE_SET_VERSION_TAG,
    MODEL_DEVELOPMENT,
    OBJECTIVE_TAG,
    PARTITION_TAG,
    REGISTRATION_TAGS,
    SELECTED_BY_TAG,
    SHA256_TAG,
    VERSION_TAGS,
    WINDOW_DAYS_TAG,
    is_version_tag,
    reused_in_tag,
)
from tests.dagster.pipeline import pipeline_definitions, pipeline_settings

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
DAYS = 150
CUTOFF = START + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def cycle(
    cycle_run: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult],
) -> tuple[Path, dg.Definitions]:
    workdir, defs, _ = cycle_run
    return workdir, defs


@pytest.fixture(scope="module")
def cycle_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dg.Definitions, dg.ExecuteInProcessResult]:
    """Two daily retrains; the folder, the definitions and the second retrain's result."""
    workdir = tmp_path_factory.mktemp("cycle")
    spec = SimulationSpec(start=START, end=CUTOFF, stores=2, products=8, seed=5)
    write_landing_files(spec, workdir / "landing")
    defs = pipeline_definitions(workdir)
    with dg.instance_for_test() as instance:
        assert execute_partition_range(
            defs.resolve_job_def("ingest_job"), START, CUTOFF, instance
        ).success
        first = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance, partition_key=(CUTOFF - timedelta(days=1)).isoformat()
        )
        second = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance, partition_key=CUTOFF.isoformat()
        )
    assert first.success and second.success
    return workdir, defs, second


def test_the_model_assets_link_their_mlflow_pages(
    cycle_run: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult],
) -> None:
    workdir, _, second = cycle_run
    settings = pipeline_settings(workdir)
    registry = ModelRegistry(settings.mlflow_uri)
    client = mlflow.MlflowClient(settings.mlflow_uri)
    experiment = client.get_experiment_by_name(settings.experiment_name)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_DEVELOPMENT
    ml = "?workflowType=machine_learning"
    experiments = f"{settings.mlflow_ui}/#/experiments/{experiment.experiment_id}"
    runs = f"{experiments}/runs"
    champion = registry.alias_version("champion")
    linked = {"challenger_model": "2", "promotion_decision": "2"}
    for node, version in {**linked, "forecasts": champion}.items():
        [materialization] = second.asset_materializations_for_node(node)
        metadata = materialization.metadata
        links = {key: metadata[key] for key in ("mlflow_model_version", "mlflow_run")}
        assert all(isinstance(link, dg.UrlMetadataValue) for link in links.values()), node
        assert links["mlflow_model_version"].value == (
            f"{settings.mlflow_ui}/#/models/{settings.model_name}/versions/{version}{ml}"
        )
        [run_id] = [v["run_id"] for v in registry.versions() if v["version"] == version]
        assert links["mlflow_run"].value == f"{runs}/{run_id}{ml}", node
        assert metadata["mlflow_experiment"].value == f"{experiments}{ml}", node
    # the logged model is named after the configuration the backtest ranked first and carries
    # that family's backtest scores
    [challenger] = second.asset_materializations_for_node("challenger_model")
    logged = challenger.metadata["mlflow_logged_model"].value
    model = client.get_logged_model(logged.split("/models/")[1].removesuffix(ml))
    tags = registry.version_tags("2")
    assert model.name == f"lightgbm_{tags[OBJECTIVE_TAG]}_w{settings.training_window_days}"
    on_model = {metric.key: metric.value for metric in model.metrics}
    assert on_model[BACKTEST_WAPE_TAG] == pytest.approx(float(tags[BACKTEST_WAPE_TAG]), abs=1e-6)


def test_the_first_model_becomes_champion_and_forecasts_carry_lineage(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, _ = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    history = registry.history()
    champion_moves = [move.to_version for move in history if move.alias == "champion"]
    assert champion_moves[0] == "1"
    lake = Lake(workdir / "lake")
    table = lake.read_partition(FORECASTS_TABLE, CUTOFF)
    assert set(table.columns) >= {
        "date",
        "store_id",
        "product_id",
        "p10",
        "p50",
        "p90",
        "model_version",
        "feature_set_version",
        "data_sha256",
        "dagster_run_id",
    }
    assert (table["p10"] <= table["p90"]).all()
    assert table["date"].min() == pd.Timestamp(CUTOFF + timedelta(days=1))
    assert table["date"].max() == pd.Timestamp(CUTOFF + timedelta(days=14))
    champion = registry.alias_version("champion")
    assert set(table["model_version"]) == {champion}
    tags = registry.version_tags(champion or "")
    assert set(table["data_sha256"]) == {tags["data_sha256"]}
    assert lake.has_partition(FEATURES_TABLE, CUTOFF)


def test_every_forecast_row_traces_its_configuration_and_feature_values(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, _ = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    champion = registry.alias_version("champion") or ""
    tags = registry.version_tags(champion)
    lake = Lake(workdir / "lake")
    rows = lake.read_partition(FORECASTS_TABLE, CUTOFF)
    features = lake.read_partition(FORECASTS_TABLE, CUTOFF, FEATURES_PART)

    configuration = {
        "objective": tags[OBJECTIVE_TAG],
        "window_days": int(tags[WINDOW_DAYS_TAG]),
        "feature_set_version": tags[FEATURE_SET_VERSION_TAG],
    }
    assert set(rows["objective"]) == {configuration["objective"]}
    assert set(rows["window_days"]) == {configuration["window_days"]}
    assert set(rows["feature_set_version"]) == {configuration["feature_set_version"]}
    assert set(rows["config_hash"]) == {configuration_hash(configuration)}
    # every active series has history: the model forecast every row (14 series x 14 days)
    assert rows["feature_hash"].notna().all() and len(features) == len(rows) == 14 * 14
    key = ["date", "store_id", "product_id"]
    joined = rows[[*key, "p50", "feature_hash"]].merge(features, on=key, suffixes=("", "_stored"))
    assert (joined["feature_hash"] == joined["feature_hash_stored"]).all()
    # recomputed from the stored feature values, a row's hash is the one served with it ...
    spec = FeatureSpec()
    row = joined.iloc[[37]]
    assert feature_hashes(row, spec).iloc[0] == row["feature_hash"].iloc[0]
    # ... and a changed feature value changes it
    changed = row.assign(price=row["price"] + 0.01)
    assert feature_hashes(changed, spec).iloc[0] != row["feature_hash"].iloc[0]
    # the stored values are what the served P50 was computed from
    booster = registry.load_forecaster(champion).booster
    assert booster is not None
    frame = joined[numeric_feature_columns(spec)].copy()
    for name, categories in zip(categorical_columns(spec), booster.pandas_categorical, strict=True):
        frame[name] = pd.Categorical(joined[name], categories=categories)
    predicted = booster.predict(frame[feature_columns(spec)]).clip(min=0.0)
    assert predicted == pytest.approx(joined["p50"].to_numpy(), rel=1e-12)


def test_every_version_carries_its_lineage_tags(cycle: tuple[Path, dg.Definitions]) -> None:
    workdir, _ = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    versions = registry.versions()
    assert len(versions) == 2
    assert registry.alias_version("challenger") == "2"
    for version in versions:
        tags = version["tags"]
        for name in (
            "training_cutoff",
            "window_days",
            "feature_set_version",
            "data_sha256",
            "artifact_sha256",
            "dagster_run_id",
            "dagster_root_run_id",
            "partition",
            "backtest_wape",
            "top3_vs_champion",
            "promotion_decision",
        ):
            assert tags.get(name), (version["version"], name)
    assert "champion v1 top 3" in versions[1]["tags"]["top3_vs_champion"]
    for version in versions:  # each run's backtest and gate judged the version it registered
        assert version["tags"]["dagster_root_run_id"] == version["tags"]["dagster_run_id"]


def test_the_registered_version_is_the_best_ranked_lightgbm_family(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, _ = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    lake = Lake(workdir / "lake")
    for version in registry.versions():
        tags = version["tags"]
        day = date.fromisoformat(tags[PARTITION_TAG])
        ranking = lake.read_partition(BACKTEST_TABLE, day, "ranking")
        lightgbm = ranking[ranking["candidate"].str.startswith("lightgbm_")]
        best = lightgbm.sort_values("rank").iloc[0]
        assert tags[OBJECTIVE_TAG] == best["candidate"].removeprefix("lightgbm_")
        assert tags[SELECTED_BY_TAG].startswith(
            f"backtest ranking: rank {best['rank']} of {len(ranking)}"
        )
        assert float(tags[BACKTEST_WAPE_TAG]) == pytest.approx(best["wape"], abs=1e-6)
        assert set(ranking["status"]) == {"ok"}


def test_the_assets_write_only_tags_and_aliases_the_registry_tags_module_defines(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, _ = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    for version in registry.versions():
        tags = version["tags"]
        assert all(is_version_tag(name) for name in tags), set(tags) - VERSION_TAGS
        assert set(tags) >= {*REGISTRATION_TAGS, SHA256_TAG, BACKTEST_WAPE_TAG, DECISION_TAG}
        assert tags[DECISION_TAG] in DECISION_VALUES
        assert set(version["aliases"]) <= set(ALIASES)
    assert {move.alias for move in registry.history()} <= set(ALIASES)


def test_the_gate_decision_is_recorded_with_its_reasons(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, _ = cycle
    lake = Lake(workdir / "lake")
    decision = lake.read_partition(DECISION_TABLE, CUTOFF)
    rules = lake.read_partition(DECISION_TABLE, CUTOFF, "rules")
    assert decision["challenger_version"].item() == "2"
    assert "seasonal" in decision["reasons"].item().lower()
    assert set(rules["rule"]) >= {"beats_seasonal_naive", "cutoff_not_older"}


def test_a_backfilled_older_cutoff_never_moves_the_champion(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, defs = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    champion_before = registry.alias_version("champion")
    older = CUTOFF - timedelta(days=10)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance, partition_key=older.isoformat()
        )
    assert result.success
    [gate] = [e for e in result.get_asset_check_evaluations() if e.check_name == GATE_CHECK]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    assert champion_before is not None
    assert registry.alias_version("champion") == champion_before
    lake = Lake(workdir / "lake")
    assert not lake.read_partition(DECISION_TABLE, older)["promote"].item()
    rules = lake.read_partition(DECISION_TABLE, older, "rules").set_index("rule")["passed"]
    assert not rules["cutoff_not_older"]


def test_a_retrain_on_the_same_data_reuses_the_version_instead_of_a_twin(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, defs = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    before = registry.versions()
    [original] = [row for row in before if row["tags"][PARTITION_TAG] == CUTOFF.isoformat()]
    version = original["version"]
    champion = registry.alias_version("champion")
    # The same cutoff again (as a drift-triggered retrain does): same data, same ranking.
    with dg.instance_for_test() as instance:
        again = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance,
            partition_key=CUTOFF.isoformat(),
            asset_selection=[dg.AssetKey("challenger_model"), dg.AssetKey("promotion_decision")],
        )
    assert again.success
    assert [row["version"] for row in registry.versions()] == [row["version"] for row in before]
    [trained] = again.asset_materializations_for_node("challenger_model")
    assert trained.metadata["model_version"].value == version
    reused = str(trained.metadata["reused"].value)
    assert reused.startswith(f"reused v{version}: same training data")
    tags = registry.version_tags(version)
    assert tags[reused_in_tag(again.run_id)] == CUTOFF.isoformat()
    assert registry.version_registered_in(again.run_id) == version
    assert registry.alias_version("challenger") == version
    assert registry.history()[-1].reason.startswith(f"reused v{version} for partition")
    [decided] = again.asset_materializations_for_node("promotion_decision")
    assert decided.metadata["challenger_version"].value == version
    if champion == version:  # the serving version itself: nothing to decide, its verdict kept
        assert "is the champion already" in str(decided.metadata["decision"].value)
    assert tags[DECISION_TAG] == original["tags"][DECISION_TAG]
    assert registry.alias_version("champion") == champion


def test_a_retrain_that_reuses_the_champion_has_nothing_to_decide(
    cycle: tuple[Path, dg.Definitions],
) -> None:
    workdir, defs = cycle
    registry = ModelRegistry(f"sqlite:///{workdir / 'mlflow.db'}")
    [row] = [row for row in registry.versions() if row["tags"][PARTITION_TAG] == CUTOFF.isoformat()]
    version, champion = row["version"], registry.alias_version("champion")
    assert champion is not None
    registry.move_alias("champion", version, actor="test", reason="serve the cutoff's version")
    try:
        with dg.instance_for_test() as instance:
            again = defs.resolve_job_def("retrain_job").execute_in_process(
                instance=instance,
                partition_key=CUTOFF.isoformat(),
                asset_selection=[
                    dg.AssetKey("challenger_model"),
                    dg.AssetKey("promotion_decision"),
                ],
            )
        assert again.success
        [decided] = again.asset_materializations_for_node("promotion_decision")
        assert f"v{version} is the champion already" in str(decided.metadata["decision"].value)
        [gate] = [e for e in again.get_asset_check_evaluations() if e.check_name == GATE_CHECK]
        assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
        assert registry.alias_version("champion") == version
        assert registry.version_tags(version)[DECISION_TAG] == row["tags"][DECISION_TAG]
    finally:
        registry.move_alias("champion", champion, actor="test", reason="put it back")


def test_a_backtest_rerun_on_unchanged_data_reuses_every_fold_fit_with_equal_scores(
    cycle_run: tuple[Path, dg.Definitions, dg.ExecuteInProcessResult],
) -> None:
    workdir, defs, second = cycle_run
    [first_backtest] = second.asset_materializations_for_node("backtest")
    lake = Lake(workdir / "lake")
    before = lake.read_partition(BACKTEST_TABLE, CUTOFF, "metrics")
    with dg.instance_for_test() as instance:
        again = defs.resolve_job_def("retrain_job").execute_in_process(
            instance=instance,
            partition_key=CUTOFF.isoformat(),
            asset_selection=[dg.AssetKey("backtest")],
        )
    assert again.success
    [rerun] = again.asset_materializations_for_node("backtest")
    fits = rerun.metadata["fold_fits"].value
    assert fits == first_backtest.metadata["fold_fits"].value == 12  # 3 folds x 4 families
    assert first_backtest.metadata["fold_fits_reused"].value == 0
    assert rerun.metadata["fold_fits_reused"].value == fits
    pd.testing.assert_frame_equal(lake.read_partition(BACKTEST_TABLE, CUTOFF, "metrics"), before)
