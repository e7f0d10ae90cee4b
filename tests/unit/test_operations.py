"""Operating the registry (forecastops.pipeline.operations) against a real MLflow SQLite store: the
promotion and rollback rules, refusals that change nothing, the history, the status report
(the champion's health on a hand-built lake, as model_health stores it) and the forecast
export."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecastops.domain.forecasters import LightGBMForecaster
from forecastops.domain.performance import (
    AWAITING_ACTUALS,
    DRIFTING,
    HEALTH_FIELDS,
    INSUFFICIENT_DATA,
    NO_BASELINE,
    PerformancePolicy,
)
from forecastops.pipeline.cycle import BACKTEST_TABLE, DECISION_TABLE, TRACE_COLUMNS
from forecastops.pipeline.ingest import RAW_SALES_TABLE
from forecastops.pipeline.monitoring import PERFORMANCE_TABLE, score_performance
from forecastops.pipeline.operations import (
    AWAITING_FORECASTS,
    EXPORT_COLUMNS,
    SERVING,
    OperationRefused,
    apply_plan,
    check_reason,
    due_day,
    history_frame,
    plan_promotion,
    plan_rollback,
    promotion_blockers,
    registry_status,
    reproduce_version,
    stored_forecasts,
    trace_note,
)
from forecastops.stores.lake import Lake
from forecastops.stores.registry import ModelRegistry
from forecastops.stores.registry_tags import CHALLENGER, CHAMPION
from tests.registry_helpers import empty_mlflow_store, write_forecasts

CUTOFFS = {"1": "2025-02-26", "2": "2025-02-27", "3": "2025-02-28", "4": "2025-03-01"}
GATE_TAGS = {
    "1": {"backtest_wape": "0.200000", "promotion_decision": "promoted"},
    "2": {
        "backtest_wape": "0.180000",
        "backtest_mae": "1.500000",
        "promotion_decision": "promoted",
    },
    "3": {"backtest_wape": "0.250000", "promotion_decision": "rejected"},
    "4": {},  # registered, never backtested
}
SERIES = (("S1", "P1"), ("S1", "P2"))


def tiny_sales(days: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    dates = pd.date_range("2025-01-01", periods=days, freq="D")
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "date": dates,
                    "store_id": store,
                    "product_id": product,
                    "units_sold": rng.poisson(6.0, days).astype(np.int64),
                    "price": 3.0,
                    "on_promotion": False,
                }
            )
            for store, product in SERIES
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry folder with four versions: v1 and v2 passed the gate (v2 is champion, after
    v1), v3 was rejected, v4 (the challenger) was never backtested."""
    folder = tmp_path_factory.mktemp("registry")
    shutil.copyfile(empty_mlflow_store(), folder / "mlflow.db")
    registry = ModelRegistry(f"sqlite:///{folder / 'mlflow.db'}")
    model = LightGBMForecaster(params={"num_iterations": 10, "num_leaves": 7}).fit(tiny_sales())
    model.save(folder / "model" / "model.txt")
    for version, cutoff in CUTOFFS.items():
        registered = registry.register_challenger(
            folder / "model",
            params={"num_iterations": 10},
            metrics={"training_rows": 120.0},
            tags={"training_cutoff": cutoff, "objective": "tweedie", **GATE_TAGS[version]},
            actor="dagster:run-train",
        )
        assert registered.version == version
        if version in ("1", "2"):
            registry.move_alias(CHAMPION, version, actor="dagster:run-gate", reason="gate passed")
    return folder


@pytest.fixture
def registry(store: Path, tmp_path: Path) -> ModelRegistry:
    """The module's registry on a private copy of its database (artifacts stay shared)."""
    shutil.copyfile(store / "mlflow.db", tmp_path / "mlflow.db")
    return ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")


def aliases(registry: ModelRegistry) -> dict[str, str | None]:
    return {alias: registry.alias_version(alias) for alias in (CHAMPION, CHALLENGER)}


BEFORE = {CHAMPION: "2", CHALLENGER: "4"}


# -- promote and roll back ------------------------------------------------------------------


def test_a_version_the_gate_passed_is_promoted_with_actor_and_reason(
    registry: ModelRegistry,
) -> None:
    plan = plan_promotion(registry, "1")
    move = apply_plan(registry, plan, actor="alice", reason="v2 over-forecasts the holidays")

    assert move is not None and (move.from_version, move.to_version) == ("2", "1")
    assert aliases(registry) == {CHAMPION: "1", CHALLENGER: "4"}
    last = registry.history()[-1]
    assert (last.alias, last.actor, last.reason) == (
        CHAMPION,
        "alice",
        "v2 over-forecasts the holidays",
    )
    assert "v2 (cutoff 2025-02-27" in plan.summary and "v1 (cutoff 2025-02-26" in plan.summary


@pytest.mark.parametrize("version", ["9", "abc", "0", "-1", ""])
def test_an_unknown_or_malformed_version_is_a_usage_refusal(
    registry: ModelRegistry, version: str
) -> None:
    with pytest.raises(OperationRefused) as refused:
        plan_promotion(registry, version, force=True)

    assert refused.value.usage and refused.value.field == "version"
    assert "versions: 1, 2, 3, 4" in str(refused.value) or "whole number" in str(refused.value)
    assert aliases(registry) == BEFORE


def test_a_version_the_gate_rejected_needs_force_and_the_override_is_recorded(
    registry: ModelRegistry,
) -> None:
    with pytest.raises(OperationRefused) as refused:
        plan_promotion(registry, "3")
    assert not refused.value.usage and refused.value.field == "force"
    assert "promotion gate rejected it" in str(refused.value) and "force" in str(refused.value)
    assert aliases(registry) == BEFORE

    plan = plan_promotion(registry, "3", force=True)
    apply_plan(registry, plan, actor="bob", reason="incident 42")

    assert aliases(registry)[CHAMPION] == "3"
    recorded = registry.history()[-1].reason
    assert recorded.startswith("incident 42 [forced past: the promotion gate rejected it")


def test_a_version_never_backtested_needs_force(registry: ModelRegistry) -> None:
    with pytest.raises(OperationRefused) as refused:
        plan_promotion(registry, "4")

    message = str(refused.value)
    assert "no backtest (tag backtest_wape missing" in message
    assert "never went through the promotion gate" in message
    assert "the retrain run of cutoff 2025-03-01 stopped before `backtest`" in message
    assert aliases(registry) == BEFORE


def test_promoting_the_current_champion_changes_nothing(registry: ModelRegistry) -> None:
    moves = len(registry.history())
    plan = plan_promotion(registry, "2")

    assert plan.changes_nothing
    assert apply_plan(registry, plan, actor="alice", reason="again") is None
    assert len(registry.history()) == moves and aliases(registry) == BEFORE


def test_rollback_returns_to_the_previous_champion(registry: ModelRegistry) -> None:
    plan = plan_rollback(registry)
    apply_plan(registry, plan, actor="dagster:run-9", reason="v2 forecasts drifted")

    assert aliases(registry) == {CHAMPION: "1", CHALLENGER: "4"}
    last = registry.history()[-1]
    assert (last.from_version, last.to_version, last.actor) == ("2", "1", "dagster:run-9")


def test_rollback_without_a_previous_champion_is_refused(tmp_path: Path) -> None:
    shutil.copyfile(empty_mlflow_store(), tmp_path / "mlflow.db")
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")

    with pytest.raises(OperationRefused, match="No previous champion") as refused:
        plan_rollback(registry)
    assert not refused.value.usage
    assert registry.history() == [] and registry.alias_version(CHAMPION) is None


def test_a_plan_is_refused_when_the_alias_moved_before_it_was_applied(
    registry: ModelRegistry,
) -> None:
    plan = plan_promotion(registry, "1")
    registry.move_alias(CHAMPION, "3", actor="carol", reason="meanwhile")

    with pytest.raises(OperationRefused, match="moved from 2 to 3"):
        apply_plan(registry, plan, actor="alice", reason="late")
    assert registry.alias_version(CHAMPION) == "3"


def test_a_blank_reason_is_a_usage_refusal() -> None:
    with pytest.raises(OperationRefused) as refused:
        check_reason("   ", "default")
    assert refused.value.usage and refused.value.field == "reason"
    assert check_reason(None, "default") == "default"
    assert check_reason(" why ", "default") == "why"


def test_history_lists_every_alias_move_in_order(registry: ModelRegistry) -> None:
    history = history_frame(registry)

    assert list(history.columns) == ["moved_at", "alias", "change", "actor", "reason"]
    assert [(row.alias, row.change) for row in history.itertuples()] == [
        (CHALLENGER, "none -> 1"),
        (CHAMPION, "none -> 1"),
        (CHALLENGER, "1 -> 2"),
        (CHAMPION, "1 -> 2"),
        (CHALLENGER, "2 -> 3"),
        (CHALLENGER, "3 -> 4"),
    ]
    assert set(history["actor"]) == {"dagster:run-train", "dagster:run-gate"}


def test_promotion_rules() -> None:
    assert promotion_blockers({"backtest_wape": "0.2", "promotion_decision": "promoted"}) == []
    assert len(promotion_blockers({"backtest_wape": "0.2", "promotion_decision": "rejected"})) == 1
    assert len(promotion_blockers({"promotion_decision": "promoted"})) == 1
    assert len(promotion_blockers({})) == 2


# -- realized accuracy and status -------------------------------------------------------------

DAY0 = date(2025, 3, 1)


def _write_sales(lake: Lake, days: int) -> None:
    for offset in range(days):
        day = DAY0 + timedelta(days=offset)
        # S1/P2 sold nothing on the last day: it has no row, which counts as 0 units.
        series = SERIES if offset < days - 1 else SERIES[:1]
        lake.write_partition(
            RAW_SALES_TABLE,
            day,
            {
                "data": pd.DataFrame(
                    {
                        "date": pd.Timestamp(day),
                        "store_id": [s for s, _ in series],
                        "product_id": [p for _, p in series],
                        "units_sold": 10,
                        "price": 3.0,
                        "on_promotion": False,
                    }
                )
            },
        )


def _write_forecasts(lake: Lake, cutoff: date, days: int, version: str, p50: float) -> None:
    dates = [pd.Timestamp(cutoff + timedelta(days=step)) for step in range(1, days + 1)]
    rows = pd.DataFrame(
        [(day, store, product) for day in dates for store, product in SERIES],
        columns=["date", "store_id", "product_id"],
    )
    write_forecasts(lake, rows, cutoff, version, p50)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """14 days of actuals (10 units per series-day) and forecasts: version 2 from an old cutoff
    (superseded), from 02-28 (P50 12 for the first week) and 03-07 (P50 11 for the second);
    version 1 from the newest cutoff 03-10 (P50 50, must not count for version 2)."""
    lake = Lake(tmp_path / "lake")
    _write_sales(lake, 14)
    _write_forecasts(lake, DAY0 - timedelta(days=2), 7, "2", 99.0)
    _write_forecasts(lake, DAY0 - timedelta(days=1), 7, "2", 12.0)
    _write_forecasts(lake, DAY0 + timedelta(days=6), 7, "2", 11.0)
    _write_forecasts(lake, DAY0 + timedelta(days=9), 4, "1", 50.0)
    return lake


LAST = DAY0 + timedelta(days=13)
"""The last day of the fixture's actuals (2025-03-14)."""


def test_status_scores_the_forecast_in_force_on_each_delivered_day(
    registry: ModelRegistry, lake: Lake
) -> None:
    champion = registry_status(registry, lake, LAST, PerformancePolicy())["champion"]

    # last week: 13 rows off by 1 and one (no sales row on a delivered day = 0 units) off by
    # 11; the week before: every row off by 2 (the superseded cutoff's 99 never counts).
    assert champion["as_of"] == LAST.isoformat() and champion["last_scored_day"] == "2025-03-14"
    assert champion["days_scored_7d"] == 7 and champion["previous_days_scored_7d"] == 7
    assert champion["wape_7d"] == pytest.approx(24 / 130)
    assert champion["mae_7d"] == pytest.approx(24 / 14)
    assert champion["previous_wape_7d"] == pytest.approx(0.2)
    assert champion["trend"] == "improving"  # -7.7 % beyond the 5 % threshold
    assert champion["model_status"] == NO_BASELINE  # v2's cutoff was never backtested


def test_a_day_without_raw_sales_is_skipped_not_scored_as_zero(
    registry: ModelRegistry, lake: Lake
) -> None:
    lake.delete_partition(RAW_SALES_TABLE, LAST - timedelta(days=4))  # e.g. a rejected day

    champion = registry_status(registry, lake, LAST, PerformancePolicy())["champion"]
    assert champion["days_scored_7d"] == 6
    assert champion["wape_7d"] == pytest.approx(22 / 110)  # as zeros it would be 42 / 110


def test_status_does_not_slide_back_when_actuals_stop(registry: ModelRegistry, lake: Lake) -> None:
    later = registry_status(registry, lake, LAST + timedelta(days=6), PerformancePolicy())[
        "champion"
    ]
    assert later["days_scored_7d"] == 1 and later["last_scored_day"] == LAST.isoformat()
    assert later["wape_7d"] == pytest.approx(12 / 10)  # 2025-03-14 alone
    assert later["model_status"] == NO_BASELINE

    week_later = registry_status(registry, lake, LAST + timedelta(days=7), PerformancePolicy())[
        "champion"
    ]
    assert week_later["model_status"] == AWAITING_ACTUALS
    assert week_later["days_scored_7d"] == 0 and week_later["wape_7d"] is None
    assert week_later["last_scored_day"] == LAST.isoformat() and week_later["trend"] is None


def test_status_awaits_actuals_without_any_and_trend_needs_two_weeks(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    _write_forecasts(lake, DAY0, 7, "2", 10.0)
    champion = registry_status(registry, lake, DAY0 + timedelta(days=4), PerformancePolicy())[
        "champion"
    ]
    assert champion["model_status"] == AWAITING_ACTUALS and champion["wape_7d"] is None

    _write_sales(lake, 5)
    champion = registry_status(registry, lake, DAY0 + timedelta(days=4), PerformancePolicy())[
        "champion"
    ]
    assert champion["days_scored_7d"] == 4 and champion["wape_7d"] is not None
    assert champion["trend"] is None
    assert champion["model_status"] == INSUFFICIENT_DATA  # 4 scored days, fewer than 7


def _backtest(lake: Lake, cutoff: date, series_mae: float) -> None:
    rows = [
        {"candidate": "lightgbm_tweedie", "level": "series", "store_id": s, "product_id": p}
        for s, p in SERIES
    ] + [
        {"candidate": "lightgbm_tweedie", "level": "overall", "store_id": None, "product_id": None}
    ]
    metrics = pd.DataFrame(rows).assign(mae=series_mae, wape=0.1)
    lake.write_partition(BACKTEST_TABLE, cutoff, {"metrics": metrics})


def _comparable(value: object) -> object:
    """A stored value as `Health.summary()` gives it: None for NaN, plain Python numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def test_status_prints_what_model_health_stores_for_the_same_day(
    registry: ModelRegistry, lake: Lake
) -> None:
    _backtest(lake, date(2025, 2, 27), series_mae=1.0)  # v2's training cutoff
    tags = registry.version_tags("2")

    score_performance(lake, LAST, "2", tags, PerformancePolicy())
    stored = lake.read_partition(PERFORMANCE_TABLE, LAST).iloc[0]
    champion = registry_status(registry, lake, LAST, PerformancePolicy())["champion"]

    assert {name: _comparable(stored[name]) for name in HEALTH_FIELDS} == {
        name: champion[name] for name in HEALTH_FIELDS
    }
    assert champion["model_status"] == DRIFTING  # MAE 52 / 28 = 1.86 against 1.0


def test_the_due_day_is_yesterday_in_the_partitions_timezone() -> None:
    late_evening = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    assert due_day("UTC", late_evening) == date(2025, 2, 28)
    assert due_day("Europe/Berlin", late_evening) == date(2025, 3, 1)  # 00:30 on 03-02 there


def test_status_reports_the_champion_and_the_challenger(
    registry: ModelRegistry, lake: Lake
) -> None:
    status = registry_status(registry, lake, LAST, PerformancePolicy())

    champion = status["champion"]
    assert champion["version"] == "2" and champion["training_cutoff"] == "2025-02-27"
    assert champion["status"] == AWAITING_FORECASTS  # the newest forecasts are version 1's
    assert champion["wape_7d"] == pytest.approx(24 / 130) and champion["trend"] == "improving"
    challenger = status["challenger"]
    assert challenger["version"] == "4" and challenger["promotion_eligible"] is None
    assert "not decided yet" in challenger["decision_source"]
    # untagged (registered before a backtest, or before the newer metrics existed): unknown
    assert challenger["backtest"] == dict.fromkeys(
        ("wape", "mae", "rmse", "bias", "mase", "mape", "stockout_miss_rate", "overstock_rate")
    )

    lake.write_partition(
        DECISION_TABLE,
        date(2025, 3, 1),
        {
            "data": pd.DataFrame(
                {"promote": [False], "challenger_version": ["4"], "reasons": ["worse than v2"]}
            )
        },
    )
    apply_plan(registry, plan_promotion(registry, "1"), actor="a", reason="r")
    status = registry_status(registry, lake, LAST, PerformancePolicy())
    assert status["champion"]["status"] == SERVING
    assert status["challenger"]["promotion_eligible"] is False
    assert status["challenger"]["promotion_reasons"] == "worse than v2"


def test_status_takes_backtest_and_gate_verdict_from_the_tags(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    registry.move_alias(CHALLENGER, "2", actor="a", reason="r")

    challenger = registry_status(registry, Lake(tmp_path / "empty"), LAST, PerformancePolicy())[
        "challenger"
    ]
    assert challenger["backtest"]["wape"] == pytest.approx(0.18)
    assert challenger["backtest"]["mae"] == pytest.approx(1.5)
    assert challenger["promotion_eligible"] is True and challenger["is_champion"] is True


# -- forecasts and reproduce ------------------------------------------------------------------


def test_stored_forecasts_lead_with_the_export_columns(lake: Lake) -> None:
    table = stored_forecasts(lake, DAY0 + timedelta(days=6))

    assert tuple(table.columns[: len(EXPORT_COLUMNS)]) == EXPORT_COLUMNS
    assert {"feature_set_version", "data_sha256", "dagster_run_id", "training_cutoff"} <= set(
        table.columns
    )
    assert len(table) == 14


def test_forecasts_stored_before_traceability_still_read_with_empty_trace_columns(
    lake: Lake,
) -> None:
    cutoff = DAY0 + timedelta(days=6)  # written without the trace columns, as before them
    plain = stored_forecasts(lake, cutoff)
    traced = stored_forecasts(lake, cutoff, trace=True)

    assert not set(TRACE_COLUMNS) & set(plain.columns)
    assert list(traced.columns) == [*plain.columns, *TRACE_COLUMNS]
    assert traced[list(TRACE_COLUMNS)].isna().all().all() and len(traced) == 14
    note = trace_note(traced)
    assert note is not None and note.startswith("These 14 forecasts were stored before")
    served = traced.assign(config_hash="abc", feature_hash="0" * 16)
    assert trace_note(served) is None
    served.loc[[0, 1], "feature_hash"] = None  # fallback rows of a traced partition
    assert trace_note(served) == (
        "2 of 14 rows have no feature_hash: the seasonal-naive fallback forecast them (a "
        "series with too short a history), not the model's features."
    )


def test_a_cutoff_without_forecasts_names_how_to_produce_them(lake: Lake) -> None:
    with pytest.raises(OperationRefused) as refused:
        stored_forecasts(lake, date(2025, 4, 1))

    assert refused.value.field == "date"
    assert "dg launch --job retrain_job --partition 2025-04-01" in str(refused.value)
    assert "Stored cutoffs: 2025-02-27..2025-03-10 (4)" in str(refused.value)


def test_a_version_without_a_training_snapshot_cannot_be_reproduced(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    with pytest.raises(OperationRefused, match="recorded no training snapshot"):
        reproduce_version(registry, "2", tmp_path / "work")
