"""The model registry against a real MLflow store (SQLite + local artifacts under tmp_path):
registration, aliases and their history, failures that must leave the aliases alone, and the
pyfunc model loaded by a fresh Python process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from forecastops.domain.features import build_training_frame, feature_columns
from forecastops.domain.forecasters import LightGBMForecaster
from forecastops.stores.registry import (
    DEFAULT_UI,
    HISTORY_TAG_MAX_CHARS,
    TRUNCATED,
    AliasMove,
    ModelRegistry,
    RegistryError,
    file_sha256,
    find_booster,
)
from forecastops.stores.registry_tags import (
    CHALLENGER,
    CHAMPION,
    EXPERIMENT_KIND_TAG,
    HISTORY_TAG_PREFIX,
    SHA256_TAG,
)

SERIES = (("S1", "P1"), ("S1", "P2"), ("S2", "P1"))
DAYS = 100
TAGS = {"training_cutoff": "2024-04-09", "candidate": "lightgbm_tweedie"}


def tiny_sales() -> pd.DataFrame:
    """Long daily sales of three series with a weekly pattern and Poisson noise."""
    rng = np.random.default_rng(11)
    dates = pd.date_range("2024-01-01", periods=DAYS, freq="D")
    weekly = np.array([0.7, 0.8, 0.9, 1.0, 1.2, 1.6, 1.4])[dates.dayofweek]
    frames = [
        pd.DataFrame(
            {
                "date": dates,
                "store_id": store,
                "product_id": product,
                "units_sold": rng.poisson((5.0 + 4.0 * index) * weekly).astype(np.int64),
                "price": 4.0,
                "on_promotion": False,
            }
        )
        for index, (store, product) in enumerate(SERIES)
    ]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def trained() -> tuple[LightGBMForecaster, pd.DataFrame]:
    """A small fitted forecaster and a features table (last 30 training rows, categoricals)."""
    sales = tiny_sales()
    forecaster = LightGBMForecaster(params={"num_iterations": 25, "num_leaves": 7}).fit(sales)
    features = build_training_frame(sales, forecaster.spec).tail(30).reset_index(drop=True)
    return forecaster, features


@pytest.fixture
def model_dir(trained: tuple[LightGBMForecaster, pd.DataFrame], tmp_path: Path) -> Path:
    forecaster, _ = trained
    forecaster.save(tmp_path / "model" / "model.txt")
    return tmp_path / "model"


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database, created once: creating its tables takes seconds, copying
    the file takes milliseconds."""
    database = tmp_path_factory.mktemp("template") / "mlflow.db"
    ModelRegistry(f"sqlite:///{database}").alias_version(CHAMPION)
    return database


@pytest.fixture
def registry(empty_store: Path, tmp_path: Path) -> Iterator[ModelRegistry]:
    """A registry on a fresh SQLite store of its own, artifacts beside it under tmp_path."""
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    yield ModelRegistry(f"sqlite:///{tmp_path}/mlflow.db")
    assert mlflow.active_run() is None, "the registry left an MLflow run active"


def register(registry: ModelRegistry, model_dir: Path) -> str:
    """Register `model_dir` as the challenger; returns the new version."""
    registered = registry.register_challenger(
        model_dir,
        params={"num_iterations": 25, "objective": "tweedie"},
        metrics={"train_wape": 0.21},
        tags=TAGS,
        actor="test",
    )
    return registered.version


def aliases(registry: ModelRegistry) -> dict[str, str | None]:
    return {alias: registry.alias_version(alias) for alias in (CHAMPION, CHALLENGER)}


def test_a_run_finds_the_version_it_registered_even_after_another_run_moved_the_alias(
    registry: ModelRegistry, model_dir: Path
) -> None:
    def register_in(root_run_id: str) -> str:
        return registry.register_challenger(
            model_dir,
            params={"num_iterations": 25},
            metrics={"train_wape": 0.21},
            tags={**TAGS, "dagster_root_run_id": root_run_id},
            actor=f"dagster:{root_run_id}",
        ).version

    ours = register_in("run-a")
    theirs = register_in("run-b")  # a concurrent retrain: the challenger alias now names it

    assert registry.alias_version(CHALLENGER) == theirs
    assert registry.version_registered_in("run-a") == ours
    assert registry.version_registered_in("run-b") == theirs
    assert registry.version_registered_in("run-c") is None
    rerun = register_in("run-a")  # a re-execution of run-a retrained: its newest version counts
    assert registry.version_registered_in("run-a") == rerun
    with pytest.raises(ValueError, match="not a Dagster run id"):
        registry.version_registered_in("x' or name = 'y")


def test_metrics_logged_to_a_version_are_its_logged_models_and_files_get_ui_pages(
    registry: ModelRegistry, model_dir: Path, tmp_path: Path
) -> None:
    registered = registry.register_challenger(
        model_dir, params={}, metrics={}, tags=TAGS, logged_model_name="lightgbm_tweedie_w120"
    )
    report = tmp_path / "drift_2024-04-09.html"
    report.write_text("<html></html>")

    pages = registry.log_to_version_run(
        "1", metrics={"backtest_wape": 0.25}, artifacts={"drift": report}
    )

    client = mlflow.MlflowClient(registry.tracking_uri)
    model_id = registered.pages.logged_model.split("/models/")[1].split("?")[0]
    on_model = {metric.key: metric.value for metric in client.get_logged_model(model_id).metrics}
    assert on_model["backtest_wape"] == pytest.approx(0.25)
    assert client.get_run(registered.run_id).data.metrics["backtest_wape"] == pytest.approx(0.25)
    assert pages["drift"] == registered.pages.run.replace(
        "?", "/artifacts/drift/drift_2024-04-09.html?"
    )
    downloaded = client.download_artifacts(registered.run_id, "drift", str(tmp_path / "got"))
    assert (Path(downloaded) / report.name).read_text() == "<html></html>"


def test_an_experiment_made_before_the_kind_tag_gets_it_on_first_use(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("forecastops")
    assert EXPERIMENT_KIND_TAG not in client.get_experiment(experiment_id).tags

    assert ModelRegistry(uri)._experiment_id(client) == experiment_id

    kind = client.get_experiment(experiment_id).tags[EXPERIMENT_KIND_TAG]
    assert kind == "custom_model_development"


def test_importing_the_registry_does_not_import_mlflow() -> None:
    code = "import sys, forecastops.stores.registry; print('mlflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_register_sets_challenger_and_version_tags(
    registry: ModelRegistry, model_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "backtest.csv").write_text("store_id,wape\nS1,0.2\n")
    uri_before = mlflow.get_tracking_uri()
    env_before = os.environ.get("MLFLOW_TRACKING_URI")

    registered = registry.register_challenger(
        model_dir,
        params={"num_iterations": 25},
        metrics={"train_wape": 0.21},
        tags=TAGS,
        artifacts={"reports": tmp_path / "backtest.csv"},
        actor="dagster:run-1",
        logged_model_name="lightgbm_tweedie_w120",
    )

    assert registered.version == "1"
    assert registered.model_uri == "models:/demand_forecaster/1"
    client = mlflow.MlflowClient(registry.tracking_uri)
    experiment = client.get_experiment_by_name(registry.experiment)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    model_id = client.get_model_version("demand_forecaster", "1").source.removeprefix("models:/")
    assert client.get_logged_model(model_id).name == "lightgbm_tweedie_w120"
    ml = "?workflowType=machine_learning"
    base = f"{DEFAULT_UI}/#/experiments/{experiment.experiment_id}"
    assert registered.pages == registry.version_pages("1")
    assert registered.pages.run == f"{base}/runs/{registered.run_id}{ml}"
    assert registered.pages.experiment == f"{base}{ml}"
    assert registered.pages.logged_model == f"{base}/models/{model_id}{ml}"
    assert (
        registered.pages.model_version == f"{DEFAULT_UI}/#/models/demand_forecaster/versions/1{ml}"
    )
    assert aliases(registry) == {CHAMPION: None, CHALLENGER: "1"}
    tags = registry.version_tags("1")
    assert tags == {**TAGS, SHA256_TAG: file_sha256(model_dir / "model.txt")}
    run = mlflow.MlflowClient(registry.tracking_uri).get_run(registered.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["num_iterations"] == "25"
    assert run.data.metrics["train_wape"] == pytest.approx(0.21)
    assert run.data.tags["candidate"] == "lightgbm_tweedie"
    stored = registry.download(CHALLENGER, tmp_path / "download")
    assert file_sha256(find_booster(stored / "artifacts" / "model")) == tags[SHA256_TAG]
    assert (Path(run.info.artifact_uri.removeprefix("file://")) / "reports/backtest.csv").is_file()
    assert str(tmp_path) in run.info.artifact_uri, "artifacts belong beside the SQLite file"
    (move,) = registry.history()
    assert (move.alias, move.from_version, move.to_version) == (CHALLENGER, None, "1")
    assert move.actor == "dagster:run-1" and registered.run_id in move.reason
    assert mlflow.active_run() is None
    assert mlflow.get_tracking_uri() == uri_before
    assert os.environ.get("MLFLOW_TRACKING_URI") == env_before


def test_champion_moves_are_recorded_with_actor_and_reason(
    registry: ModelRegistry, model_dir: Path
) -> None:
    first = register(registry, model_dir)
    registry.move_alias(CHAMPION, first, actor="alice", reason="first model beats naive")
    second = register(registry, model_dir)
    move = registry.move_alias(CHAMPION, second, actor="dagster:run-2", reason="WAPE -8 %")

    assert (move.from_version, move.to_version) == (first, second)
    assert aliases(registry) == {CHAMPION: second, CHALLENGER: second}
    assert [(m.alias, m.from_version, m.to_version) for m in registry.history()] == [
        (CHALLENGER, None, first),
        (CHAMPION, None, first),
        (CHALLENGER, first, second),
        (CHAMPION, first, second),
    ]
    assert [(m.actor, m.reason) for m in registry.history() if m.alias == CHAMPION] == [
        ("alice", "first model beats naive"),
        ("dagster:run-2", "WAPE -8 %"),
    ]
    assert registry.previous_champion() == first
    assert [(v["version"], v["aliases"]) for v in registry.versions()] == [
        (first, []),
        (second, [CHALLENGER, CHAMPION]),
    ]
    assert registry.versions()[0]["tags"][SHA256_TAG]


def test_previous_champion_after_a_rollback_is_the_rolled_back_version(
    registry: ModelRegistry, model_dir: Path
) -> None:
    assert registry.previous_champion() is None
    first, second = register(registry, model_dir), register(registry, model_dir)
    registry.move_alias(CHAMPION, first, actor="a", reason="promote")
    assert registry.previous_champion() is None
    registry.move_alias(CHAMPION, second, actor="a", reason="promote")
    registry.move_alias(CHAMPION, first, actor="b", reason="rollback: bad forecasts")

    assert registry.alias_version(CHAMPION) == first
    assert registry.previous_champion() == second


def test_moving_to_an_unknown_version_raises_and_leaves_aliases(
    registry: ModelRegistry, model_dir: Path
) -> None:
    version = register(registry, model_dir)
    registry.move_alias(CHAMPION, version, actor="a", reason="promote")
    before, history = aliases(registry), registry.history()

    with pytest.raises(RegistryError, match=r"version 99: that version does not exist.*unchanged"):
        registry.move_alias(CHAMPION, "99", actor="a", reason="typo")
    with pytest.raises(RegistryError, match="Unknown alias 'champoin'"):
        registry.move_alias("champoin", version, actor="a", reason="typo")

    assert aliases(registry) == before
    assert registry.history() == history


def test_a_failed_history_record_puts_the_alias_back(
    registry: ModelRegistry, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = register(registry, model_dir), register(registry, model_dir)
    registry.move_alias(CHAMPION, first, actor="a", reason="promote")
    history = registry.history()

    def failing_record(*args: object) -> None:
        raise OSError("store is read-only")

    monkeypatch.setattr(ModelRegistry, "_record", failing_record)
    with pytest.raises(RegistryError, match=r"put back \('champion' -> 1\)"):
        registry.move_alias(CHAMPION, second, actor="a", reason="promote")
    with pytest.raises(RegistryError, match=r"put back \('challenger' -> 2\)"):
        registry.move_alias(CHALLENGER, first, actor="a", reason="re-test")

    assert aliases(registry) == {CHAMPION: first, CHALLENGER: second}
    assert registry.history() == history


def test_a_failed_record_of_a_first_move_removes_the_alias_again(
    registry: ModelRegistry, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = register(registry, model_dir)

    def failing_record(*args: object) -> None:
        raise OSError("store is read-only")

    monkeypatch.setattr(ModelRegistry, "_record", failing_record)
    with pytest.raises(RegistryError, match=r"put back \('champion' -> None\)"):
        registry.move_alias(CHAMPION, version, actor="a", reason="promote")

    assert registry.alias_version(CHAMPION) is None


def test_registration_without_a_booster_leaves_aliases(
    registry: ModelRegistry, model_dir: Path, tmp_path: Path
) -> None:
    version = register(registry, model_dir)
    registry.move_alias(CHAMPION, version, actor="a", reason="promote")
    before = aliases(registry)
    spec_only = tmp_path / "spec_only"
    spec_only.mkdir()
    (spec_only / "model.spec.json").write_text((model_dir / "model.spec.json").read_text())

    with pytest.raises(RegistryError, match=r"no booster file.*Aliases were left unchanged"):
        register(registry, spec_only)
    with pytest.raises(RegistryError, match="does not exist"):
        register(registry, tmp_path / "missing")

    assert aliases(registry) == before
    assert [v["version"] for v in registry.versions()] == [version]
    assert mlflow.active_run() is None


def test_a_failure_inside_the_run_marks_it_failed_and_leaves_aliases(
    registry: ModelRegistry, model_dir: Path
) -> None:
    version = register(registry, model_dir)
    before, history = aliases(registry), registry.history()

    with pytest.raises(RegistryError, match=r"Aliases were left unchanged.*run \w+ is marked"):
        registry.register_challenger(
            model_dir,
            params={"k" * 300: 1},  # MLflow rejects param keys over 250 characters
            metrics={},
            tags=TAGS,
        )

    assert mlflow.active_run() is None
    assert aliases(registry) == before and registry.history() == history
    assert [v["version"] for v in registry.versions()] == [version]
    client = mlflow.MlflowClient(registry.tracking_uri)
    experiment = client.get_experiment_by_name(registry.experiment)
    assert experiment is not None
    statuses = [r.info.status for r in client.search_runs([experiment.experiment_id])]
    assert sorted(statuses) == ["FAILED", "FINISHED"]


def test_an_unreachable_tracking_server_fails_fast_without_an_active_run(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    registry = ModelRegistry("http://127.0.0.1:9")

    with pytest.raises(RegistryError, match="Aliases were left unchanged"):
        register(registry, model_dir)

    assert mlflow.active_run() is None
    with pytest.raises(RegistryError):
        registry.alias_version(CHAMPION)


def test_version_tags_can_be_added_later(registry: ModelRegistry, model_dir: Path) -> None:
    version = register(registry, model_dir)

    registry.set_version_tags(version, {"backtest_wape": "0.187", "candidate": "overwritten"})

    tags = registry.version_tags(version)
    assert tags["backtest_wape"] == "0.187" and tags["candidate"] == "overwritten"
    assert tags[SHA256_TAG] == file_sha256(model_dir / "model.txt")
    with pytest.raises(RegistryError, match="version 7"):
        registry.set_version_tags("7", {"a": "b"})


def test_history_records_fit_the_tag_value_limit(registry: ModelRegistry, model_dir: Path) -> None:
    move = AliasMove(CHAMPION, "1", "2", "a" * 500, "é\n" * 6000, "2025-01-01T00:00:00+00:00")
    text = move.to_json()
    assert len(text) <= HISTORY_TAG_MAX_CHARS
    restored = AliasMove.from_json(text)
    assert restored.reason.endswith(TRUNCATED) and restored.actor.endswith(TRUNCATED)

    version = register(registry, model_dir)
    registry.move_alias(CHAMPION, version, actor="a", reason="x" * 20_000)
    model = mlflow.MlflowClient(registry.tracking_uri).get_registered_model(registry.model_name)
    records = {k: v for k, v in model.tags.items() if k.startswith(HISTORY_TAG_PREFIX)}
    assert len(records) == 2 and all(len(v) <= HISTORY_TAG_MAX_CHARS for v in records.values())
    assert registry.history()[-1].reason.endswith(TRUNCATED)


def test_load_forecaster_returns_the_registered_booster(
    registry: ModelRegistry, model_dir: Path, trained: tuple[LightGBMForecaster, pd.DataFrame]
) -> None:
    forecaster, features = trained
    version = register(registry, model_dir)

    loaded = registry.load_forecaster(CHALLENGER)

    assert loaded.spec == forecaster.spec
    assert loaded.booster is not None and forecaster.booster is not None
    columns = feature_columns(forecaster.spec)
    np.testing.assert_array_equal(
        loaded.booster.predict(features[columns]), forecaster.booster.predict(features[columns])
    )
    assert registry.load_forecaster(version).booster is not None
    with pytest.raises(RegistryError, match=r"'champion' .* is not set"):
        registry.load_forecaster(CHAMPION)


@pytest.mark.slow
def test_a_fresh_process_loads_the_champion_and_predicts_like_the_booster(
    registry: ModelRegistry,
    model_dir: Path,
    trained: tuple[LightGBMForecaster, pd.DataFrame],
    tmp_path: Path,
) -> None:
    forecaster, features = trained
    version = register(registry, model_dir)
    registry.move_alias(CHAMPION, version, actor="test", reason="serve it")
    features.to_parquet(tmp_path / "features.parquet")
    script = textwrap.dedent(
        """
        import sys
        import mlflow, numpy as np, pandas as pd
        model = mlflow.pyfunc.load_model("models:/demand_forecaster@champion")
        features = pd.read_parquet(sys.argv[1])
        np.save(sys.argv[2], model.predict(features))
        as_strings = features.astype({"store_id": str, "product_id": str})
        np.save(sys.argv[3], model.predict(as_strings))
        """
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry.tracking_uri}
    env.pop("MLFLOW_REGISTRY_URI", None)

    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(tmp_path / "features.parquet"),
            str(tmp_path / "a.npy"),
            str(tmp_path / "b.npy"),
        ],
        env=env,
        cwd=tmp_path,
        check=True,
        timeout=120,
    )

    assert forecaster.booster is not None
    expected = forecaster.booster.predict(features[feature_columns(forecaster.spec)])
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), expected)
