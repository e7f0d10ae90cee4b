"""Behaviour of the retail sales simulator: determinism, realism, drift, corruption, files."""

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays
import numpy as np
import pandas as pd
import pytest

from forecastops.domain.simulator import (
    CORRUPTION_KINDS,
    CorruptionKind,
    DriftScenario,
    FileFormat,
    SimulationSpec,
    corrupt_day,
    simulate_sales,
    write_landing_files,
)

LANDING_COLUMNS = ("date", "store_id", "product_id", "units_sold", "price", "on_promotion")
SERIES = ["store_id", "product_id"]
ROW_KEY = ["date", *SERIES]

# Two years of a mid-sized retailer: enough days for yearly effects and trends, still fast.
HISTORY_SPEC = SimulationSpec(
    start=date(2023, 1, 2), end=date(2024, 12, 29), stores=4, products=30, seed=11
)
# A few days of a small retailer, for file tests.
SMALL_SPEC = SimulationSpec(
    start=date(2024, 3, 1), end=date(2024, 3, 4), stores=2, products=6, seed=3
)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return simulate_sales(HISTORY_SPEC)


@pytest.fixture(scope="module")
def evergreen(history: pd.DataFrame) -> pd.DataFrame:
    """Rows of the series that sell on every simulated day (no launch, no discontinuation)."""
    days_per_series = history.groupby(SERIES)["date"].transform("size")
    return history[days_per_series == HISTORY_SPEC.n_days]


def _series_ratio(frame: pd.DataFrame, flag: pd.Series, column: str = "units_sold") -> pd.Series:
    """Per series: mean of `column` where `flag` holds over its mean where it does not."""
    means = frame.groupby([*SERIES, flag.rename("flag")])[column].mean().unstack("flag")
    return (means[True] / means[False]).replace([np.inf, -np.inf], np.nan).dropna()


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"store_id": str, "product_id": str})
    return pd.read_parquet(path)


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_frame() -> None:
    pd.testing.assert_frame_equal(simulate_sales(SMALL_SPEC), simulate_sales(SMALL_SPEC))


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_same_seed_gives_identical_files(tmp_path: Path, file_format: FileFormat) -> None:
    spec = replace(SMALL_SPEC, corrupt_days={SMALL_SPEC.start: "duplicates"})
    first = write_landing_files(spec, tmp_path / "a", file_format)
    second = write_landing_files(spec, tmp_path / "b", file_format)
    assert [path.name for path in first] == [path.name for path in second]
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_different_seeds_give_different_histories() -> None:
    other = simulate_sales(replace(SMALL_SPEC, seed=SMALL_SPEC.seed + 1))
    assert not simulate_sales(SMALL_SPEC)["units_sold"].equals(other["units_sold"])


def test_extending_the_end_date_keeps_earlier_days_unchanged() -> None:
    short = simulate_sales(replace(HISTORY_SPEC, end=date(2023, 6, 30)))
    long = simulate_sales(HISTORY_SPEC)
    pd.testing.assert_frame_equal(short, long[long["date"] <= "2023-06-30"])


# --- shape of the history -------------------------------------------------------------------


def test_history_has_contract_columns_dtypes_and_order(history: pd.DataFrame) -> None:
    assert tuple(history.columns) == LANDING_COLUMNS
    assert history.dtypes.astype(str).to_dict() == {
        "date": "datetime64[ns]",
        "store_id": "object",
        "product_id": "object",
        "units_sold": "int64",
        "price": "float64",
        "on_promotion": "bool",
    }
    assert (history["units_sold"] >= 0).all()
    assert (history["price"] > 0).all()
    assert (history["date"] == history["date"].dt.normalize()).all()
    assert history["store_id"].str.fullmatch(r"S\d{3}").all()
    assert history["product_id"].str.fullmatch(r"P\d{4}").all()
    assert not history.duplicated(ROW_KEY).any()
    assert history.equals(history.sort_values(ROW_KEY, ignore_index=True))


def test_every_day_has_rows(history: pd.DataFrame) -> None:
    assert history["date"].nunique() == HISTORY_SPEC.n_days


# --- realism ---------------------------------------------------------------------------------


def test_weekends_sell_more_with_a_product_specific_uplift(evergreen: pd.DataFrame) -> None:
    weekend = evergreen["date"].dt.dayofweek >= 5
    by_product = evergreen.groupby(["product_id", weekend.rename("weekend")])["units_sold"].mean()
    uplift = (by_product.xs(True, level="weekend") / by_product.xs(False, level="weekend")).dropna()
    assert (
        evergreen.loc[weekend, "units_sold"].mean() > evergreen.loc[~weekend, "units_sold"].mean()
    )
    assert uplift.median() > 1.1
    assert uplift.quantile(0.9) - uplift.quantile(0.1) > 0.2


def test_monthly_means_follow_an_annual_cycle(evergreen: pd.DataFrame) -> None:
    monthly = evergreen.groupby(evergreen["date"].dt.month)["units_sold"].mean()
    assert monthly.max() / monthly.min() > 1.2
    # A smooth cycle: the peak month and the trough month are far apart in the calendar.
    months_apart = abs(int(monthly.to_numpy().argmax()) - int(monthly.to_numpy().argmin()))
    assert min(months_apart, 12 - months_apart) >= 4


def test_series_have_their_own_trends(evergreen: pd.DataFrame) -> None:
    year = evergreen["date"].dt.year.rename("year")
    yearly = evergreen.groupby([*SERIES, year])["units_sold"].mean().unstack("year")
    busy = yearly[yearly.min(axis=1) > 5]
    growth = busy[2024] / busy[2023]
    assert (growth > 1.1).any()
    assert (growth < 0.9).any()


def test_series_levels_span_orders_of_magnitude_with_intermittent_series(
    history: pd.DataFrame,
) -> None:
    per_series = history.groupby(SERIES)["units_sold"]
    means = per_series.mean()
    zero_share = per_series.apply(lambda units: (units == 0).mean())
    assert means.max() / means[means > 0].min() > 100
    assert (history["units_sold"] == 0).mean() > 0.1
    assert (zero_share > 0.5).sum() >= 5


def test_larger_stores_sell_more(history: pd.DataFrame) -> None:
    # Same products in every store: the store means differ by store size.
    store_means = history.groupby("store_id")["units_sold"].mean()
    assert store_means.max() / store_means.min() > 1.3


def test_promotions_discount_the_price_and_lift_units(history: pd.DataFrame) -> None:
    promoted = history["on_promotion"]
    assert 0.02 < promoted.mean() < 0.1
    assert (_series_ratio(history, promoted, column="price") < 1).all()
    assert _series_ratio(history, promoted).median() > 1.3


def test_list_prices_change_now_and_then(history: pd.DataFrame) -> None:
    regular = history[~history["on_promotion"]]
    changes = regular.groupby(SERIES)["price"].agg(lambda price: (price.diff().abs() > 0).sum())
    assert (changes > 0).mean() > 0.5
    # Piecewise constant: a change is kept for weeks, not redrawn daily.
    assert changes.median() < HISTORY_SPEC.n_days / 30


def test_lower_prices_sell_more(evergreen: pd.DataFrame) -> None:
    regular = evergreen[~evergreen["on_promotion"]]
    median_price = regular.groupby(SERIES)["price"].transform("median")
    ratio = _series_ratio(regular, regular["price"] < median_price)
    assert ratio.median() > 1.05


def test_holidays_lift_units(evergreen: pd.DataFrame) -> None:
    years = range(HISTORY_SPEC.start.year, HISTORY_SPEC.end.year + 1)
    holiday_days = pd.to_datetime(sorted(holidays.country_holidays("US", years=years)))
    same_weekday_nearby = (holiday_days - pd.Timedelta(weeks=1)).union(
        holiday_days + pd.Timedelta(weeks=1)
    )
    daily = evergreen.groupby("date")["units_sold"].mean()
    on_holidays = daily.reindex(holiday_days).dropna()
    nearby = daily.reindex(same_weekday_nearby.difference(holiday_days)).dropna()
    assert on_holidays.mean() > 1.2 * nearby.mean()


def test_launched_and_discontinued_products_sell_only_while_active(history: pd.DataFrame) -> None:
    span = history.groupby("product_id")["date"].agg(["min", "max"])
    assert (span["min"] > pd.Timestamp(HISTORY_SPEC.start)).any()
    assert (span["max"] < pd.Timestamp(HISTORY_SPEC.end)).any()
    per_series = history.groupby(SERIES)["date"].agg(["min", "max", "size"])
    days_in_span = (per_series["max"] - per_series["min"]).dt.days + 1
    assert (per_series["size"] == days_in_span).all()  # no gaps while a product is active


# --- drift -----------------------------------------------------------------------------------


def test_drift_scales_demand_from_its_start_only() -> None:
    drift = DriftScenario(start=date(2023, 9, 1), demand_factor=1.6)
    base = simulate_sales(HISTORY_SPEC)
    drifted = simulate_sales(replace(HISTORY_SPEC, drift=drift))
    before = base["date"] < pd.Timestamp(drift.start)
    pd.testing.assert_frame_equal(base[before], drifted[before])
    ratio = drifted.loc[~before, "units_sold"].sum() / base.loc[~before, "units_sold"].sum()
    assert ratio == pytest.approx(1.6, rel=0.05)


def test_drift_shifts_prices_and_promotion_rate() -> None:
    drift = DriftScenario(
        start=date(2024, 1, 1), demand_factor=1.0, price_factor=1.25, promo_rate=0.3
    )
    base = simulate_sales(HISTORY_SPEC)
    drifted = simulate_sales(replace(HISTORY_SPEC, drift=drift))
    after = base["date"] >= pd.Timestamp(drift.start)
    regular = ~base["on_promotion"] & ~drifted["on_promotion"] & after
    price_ratio = drifted.loc[regular, "price"] / base.loc[regular, "price"]
    assert price_ratio.median() == pytest.approx(1.25, abs=0.01)
    assert drifted.loc[after, "on_promotion"].mean() == pytest.approx(0.3, abs=0.01)
    # Higher regular prices sell fewer units (price elasticity > 1).
    assert drifted.loc[regular, "units_sold"].sum() < 0.8 * base.loc[regular, "units_sold"].sum()


# --- corruption and files --------------------------------------------------------------------


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_written_files_hold_the_simulated_history(tmp_path: Path, file_format: FileFormat) -> None:
    paths = write_landing_files(SMALL_SPEC, tmp_path / "landing", file_format)
    expected_names = [
        f"sales_{(SMALL_SPEC.start + timedelta(days=offset)).isoformat()}.{file_format}"
        for offset in range(SMALL_SPEC.n_days)
    ]
    assert [path.name for path in paths] == expected_names
    assert sorted(path.name for path in (tmp_path / "landing").iterdir()) == expected_names
    frames = [_read(path) for path in paths]
    assert all(tuple(frame.columns) == LANDING_COLUMNS for frame in frames)
    assert all(
        frame["date"].astype(str).eq(path.stem[-10:]).all()
        for frame, path in zip(frames, paths, strict=True)
    )
    landed = pd.concat(frames, ignore_index=True)
    landed["date"] = pd.to_datetime(landed["date"])
    landed["on_promotion"] = landed["on_promotion"].astype(bool)
    pd.testing.assert_frame_equal(landed, simulate_sales(SMALL_SPEC))


def test_csv_promotion_flag_is_zero_or_one(tmp_path: Path) -> None:
    path = write_landing_files(SMALL_SPEC, tmp_path, "csv")[0]
    assert set(pd.read_csv(path)["on_promotion"].unique()) <= {0, 1}


def test_rewriting_replaces_files_without_leaving_temp_files(tmp_path: Path) -> None:
    write_landing_files(replace(SMALL_SPEC, seed=99), tmp_path / "landing")
    paths = write_landing_files(SMALL_SPEC, tmp_path / "landing")
    fresh = write_landing_files(SMALL_SPEC, tmp_path / "fresh")
    assert sorted((tmp_path / "landing").iterdir()) == paths
    assert [path.read_bytes() for path in paths] == [path.read_bytes() for path in fresh]
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in paths)


def test_days_arriving_later_continue_the_files_already_landed(tmp_path: Path) -> None:
    later = SMALL_SPEC.start + timedelta(days=2)
    earlier = write_landing_files(replace(SMALL_SPEC, end=later - timedelta(days=1)), tmp_path)
    drifted = replace(SMALL_SPEC, drift=DriftScenario(start=later, demand_factor=3.0))
    arrived = write_landing_files(drifted, tmp_path, since=later)
    assert [path.name for path in arrived] == ["sales_2024-03-03.csv", "sales_2024-03-04.csv"]
    everything = write_landing_files(drifted, tmp_path / "at-once")
    assert [path.read_bytes() for path in [*earlier, *arrived]] == [
        path.read_bytes() for path in everything
    ]


def _breakage(frame: pd.DataFrame, kind: str) -> bool:
    """Whether a read-back landing frame shows the breakage of `kind`."""
    if kind == "missing_column":
        return "price" not in frame.columns
    if kind == "bad_dtype":  # pandas reads the "n/a" text of a CSV as a missing value
        units = frame["units_sold"]
        text = units.astype(str)
        return not pd.api.types.is_integer_dtype(units) and bool(
            (units.isna() | text.eq("n/a")).any()
        )
    if kind == "negative_units":
        return bool((frame["units_sold"] < 0).any())
    if kind == "duplicates":
        return bool(frame.duplicated(ROW_KEY).any())
    raise AssertionError(kind)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_corrupt_day_breaks_only_that_file(
    tmp_path: Path, kind: CorruptionKind, file_format: FileFormat
) -> None:
    bad_day = SMALL_SPEC.start + timedelta(days=1)
    spec = replace(SMALL_SPEC, corrupt_days={bad_day: kind})
    clean_paths = write_landing_files(SMALL_SPEC, tmp_path / "clean", file_format)
    paths = write_landing_files(spec, tmp_path / "corrupt", file_format)
    for clean_path, path in zip(clean_paths, paths, strict=True):
        if path.name != f"sales_{bad_day.isoformat()}.{file_format}":
            assert path.read_bytes() == clean_path.read_bytes()
        elif kind == "empty_file":
            assert path.stat().st_size == 0
        else:
            assert _breakage(_read(path), kind)
            assert not _breakage(_read(clean_path), kind)


def test_corrupt_day_leaves_its_input_unchanged() -> None:
    day = simulate_sales(SMALL_SPEC).head(8)
    before = day.copy()
    for kind in CORRUPTION_KINDS:
        corrupt_day(day, kind, np.random.default_rng(0))
    pd.testing.assert_frame_equal(day, before)


def test_unknown_corruption_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="corruption kind"):
        corrupt_day(simulate_sales(SMALL_SPEC), "typo", np.random.default_rng(0))  # type: ignore[arg-type]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"end": date(2024, 2, 1)}, "end"),
        ({"stores": 0}, "stores"),
        ({"products": 0}, "products"),
        ({"seed": -1}, "seed"),
        ({"drift": DriftScenario(start=date(2025, 1, 1))}, "drift.start"),
        ({"corrupt_days": {date(2025, 1, 1): "duplicates"}}, "corrupt_days"),
        ({"corrupt_days": {date(2024, 3, 2): "gremlins"}}, "corrupt_days"),
    ],
)
def test_invalid_spec_names_the_field(changes: dict[str, Any], field_name: str) -> None:
    with pytest.raises(ValueError, match=rf"SimulationSpec\.{field_name}"):
        replace(SMALL_SPEC, **changes)


@pytest.mark.parametrize(
    ("changes", "field_name"),
    [
        ({"demand_factor": 0.0}, "demand_factor"),
        ({"price_factor": -1.0}, "price_factor"),
        ({"promo_rate": 1.5}, "promo_rate"),
    ],
)
def test_invalid_drift_names_the_field(changes: dict[str, float], field_name: str) -> None:
    with pytest.raises(ValueError, match=rf"DriftScenario\.{field_name}"):
        DriftScenario(start=date(2024, 3, 2), **changes)


def test_unknown_file_format_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_format"):
        write_landing_files(SMALL_SPEC, tmp_path, "xlsx")  # type: ignore[arg-type]
