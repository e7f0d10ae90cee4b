"""The per-partition quality report, checked against hand-computed values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from forecastops.domain import quality
from forecastops.domain.contract import CONTRACT_COLUMNS
from forecastops.domain.quality import (
    MAD_TO_SIGMA,
    MIN_HISTORY_POINTS,
    OUTLIER_COLUMNS,
    QualityReport,
    build_quality_report,
    build_quality_reports,
)

DAY = date(2024, 3, 1)


def sales(
    day: date, series: Sequence[tuple[str, str]], units: Sequence[float] | None = None
) -> pd.DataFrame:
    """Validated-looking rows of `day`, one per (store_id, product_id) in `series`."""
    count = len(series)
    return pd.DataFrame(
        {
            "date": pd.Series([pd.Timestamp(day)] * count, dtype="datetime64[ns]"),
            "store_id": [store for store, _ in series],
            "product_id": [product for _, product in series],
            "units_sold": list(units) if units is not None else [1] * count,
            "price": [2.0] * count,
            "on_promotion": [False] * count,
        }
    )


def series_history(store: str, product: str, units: Sequence[float]) -> pd.DataFrame:
    """One series' history: `units[-1]` is the day before `DAY`, `units[0]` the earliest."""
    days = [DAY - timedelta(days=len(units) - offset) for offset in range(len(units))]
    return pd.concat(
        [sales(day, [(store, product)], [value]) for day, value in zip(days, units, strict=True)],
        ignore_index=True,
    )


def empty_history() -> pd.DataFrame:
    return sales(DAY, []).loc[:, list(CONTRACT_COLUMNS)]


# --- volume and cleanliness ------------------------------------------------------------------


def test_column_profile_counts_missing_cells_per_column() -> None:
    day = sales(DAY, [("s1", "p1"), ("s1", "p2"), ("s2", "p1"), ("s2", "p2")])
    day.loc[[0, 2], "price"] = np.nan
    day["channel"] = ["web", None, None, None]

    report = build_quality_report(day, empty_history(), DAY)

    profile = report.columns.set_index("column")
    assert list(profile.index) == [*CONTRACT_COLUMNS, "channel"]
    assert profile.loc["price", "missing_count"] == 2
    assert profile.loc["price", "missing_share"] == pytest.approx(0.5)
    assert profile.loc["channel", "missing_count"] == 3
    assert profile.loc["channel", "missing_share"] == pytest.approx(0.75)
    assert profile.loc["units_sold", "missing_count"] == 0
    assert profile.loc["units_sold", "dtype"] == "int64"
    assert report.summary["missing_cells"] == 5


def test_duplicate_rows_count_the_extra_copies_of_a_series_day() -> None:
    day = sales(DAY, [("s1", "p1"), ("s1", "p1"), ("s1", "p1"), ("s1", "p2"), ("s2", "p2")])

    report = build_quality_report(day, empty_history(), DAY)

    assert report.summary["duplicate_rows"] == 2
    assert report.summary["series_count"] == 3


def test_zero_sales_share_is_the_share_of_rows_selling_nothing() -> None:
    series = [("s1", "p1"), ("s1", "p2"), ("s2", "p1"), ("s2", "p2")]

    report = build_quality_report(sales(DAY, series, [0, 3, 0, 5]), empty_history(), DAY)

    assert report.summary["zero_sales_share"] == pytest.approx(0.5)


def test_row_count_ratio_compares_with_the_history_mean_rows_per_day() -> None:
    six = [(f"s{i}", "p1") for i in range(6)]
    history = pd.concat(
        [sales(DAY - timedelta(days=2), six[:4]), sales(DAY - timedelta(days=1), six[:2])],
        ignore_index=True,
    )

    report = build_quality_report(sales(DAY, six), history, DAY)

    assert report.summary["history_days"] == 2
    assert report.summary["history_mean_row_count"] == pytest.approx(3.0)
    assert report.summary["row_count_ratio"] == pytest.approx(2.0)


@pytest.mark.parametrize("history", [empty_history(), pd.DataFrame()], ids=["typed", "bare"])
def test_empty_history_gives_no_ratio_no_outliers_and_all_series_new(
    history: pd.DataFrame,
) -> None:
    day = sales(DAY, [("s1", "p1"), ("s2", "p1")], [3, 400])

    report = build_quality_report(day, history, DAY)

    assert report.summary["history_days"] == 0
    assert math.isnan(float(report.summary["history_mean_row_count"]))
    assert math.isnan(float(report.summary["row_count_ratio"]))
    assert report.summary["outlier_count"] == 0
    assert report.outliers.empty
    assert tuple(report.outliers.columns) == OUTLIER_COLUMNS
    assert report.new_series.to_dict("records") == [
        {"store_id": "s1", "product_id": "p1"},
        {"store_id": "s2", "product_id": "p1"},
    ]
    assert report.vanished_series.empty


def test_history_on_or_after_the_partition_is_ignored() -> None:
    series = [("s1", "p1")]
    history = pd.concat(
        [sales(DAY - timedelta(days=1), series), sales(DAY, series * 5)], ignore_index=True
    )

    report = build_quality_report(sales(DAY, series), history, DAY)

    assert report.summary["history_days"] == 1
    assert report.summary["row_count_ratio"] == pytest.approx(1.0)


# --- robust outliers -------------------------------------------------------------------------

# median 10; |deviations| sorted: six 0s, four 1s, four 2s -> MAD = 1
STEADY = [10, 11, 9, 10, 12, 8, 10, 10, 11, 9, 10, 10, 12, 8]


def test_spike_is_flagged_with_the_modified_z_score() -> None:
    history = pd.concat(
        [series_history("s1", "p1", STEADY), series_history("s1", "p2", STEADY)],
        ignore_index=True,
    )
    day = sales(DAY, [("s1", "p1"), ("s1", "p2")], [20, 11])

    report = build_quality_report(day, history, DAY)

    assert report.summary["outlier_count"] == 1
    [outlier] = report.outliers.to_dict("records")
    assert (outlier["store_id"], outlier["product_id"], outlier["units_sold"]) == ("s1", "p1", 20)
    assert outlier["history_median"] == pytest.approx(10.0)
    assert outlier["history_mad"] == pytest.approx(1.0)
    assert outlier["robust_z"] == pytest.approx(10 / MAD_TO_SIGMA)  # 6.74


def test_drop_is_flagged_with_a_negative_robust_z() -> None:
    day = sales(DAY, [("s1", "p1")], [0])

    report = build_quality_report(day, series_history("s1", "p1", STEADY), DAY)

    assert report.outliers["robust_z"].tolist() == pytest.approx([-10 / MAD_TO_SIGMA])


@pytest.mark.parametrize(("today", "flagged"), [(9, True), (8, False)])
def test_constant_history_falls_back_to_the_mean_deviation_with_a_one_unit_floor(
    today: int, flagged: bool
) -> None:
    # MAD = 0; mean |units - 5| = 4 / 14 -> 1.253314 * 0.286 = 0.36, floored to 1 unit:
    # 9 is 4.0 units above the median (flagged), 8 is 3.0 (not flagged)
    history = series_history("s1", "p1", [5] * 13 + [9])

    report = build_quality_report(sales(DAY, [("s1", "p1")], [today]), history, DAY)

    assert (report.summary["outlier_count"] == 1) is flagged
    if flagged:
        assert report.outliers["robust_z"].tolist() == pytest.approx([4.0])
        assert report.outliers["history_mad"].tolist() == [0.0]
    assert "MAD = 0" in str(report.summary["outlier_rule"])


def test_series_with_short_history_are_not_scored() -> None:
    history = series_history("s1", "p1", STEADY[: MIN_HISTORY_POINTS - 1])

    report = build_quality_report(sales(DAY, [("s1", "p1")], [500]), history, DAY)

    assert report.outliers.empty


# --- series churn ----------------------------------------------------------------------------


def test_new_and_vanished_series_against_the_last_seven_days() -> None:
    recent_days = [DAY - timedelta(days=offset) for offset in range(1, 11)]  # D-1 .. D-10
    history = pd.concat(
        [sales(day, [("s1", "p1"), ("s1", "p2")]) for day in recent_days]  # both seen daily
        + [sales(DAY - timedelta(days=8), [("s2", "p1")])]  # last seen 8 days ago: stale
        + [sales(DAY - timedelta(days=7), [("s2", "p2")])],  # last seen 7 days ago: in window
        ignore_index=True,
    )
    day = sales(DAY, [("s1", "p1"), ("s3", "p9")])

    report = build_quality_report(day, history, DAY)

    assert report.new_series.to_dict("records") == [{"store_id": "s3", "product_id": "p9"}]
    assert report.vanished_series.to_dict("records") == [
        {"store_id": "s1", "product_id": "p2"},
        {"store_id": "s2", "product_id": "p2"},
    ]
    assert report.summary["new_series_count"] == 1
    assert report.summary["vanished_series_count"] == 2


# --- shape and rendering ---------------------------------------------------------------------


def test_summary_frame_is_one_flat_row() -> None:
    report = build_quality_report(sales(DAY, [("s1", "p1")]), empty_history(), DAY)

    frame = report.summary_frame()

    assert len(frame) == 1
    assert list(frame.columns) == list(report.summary)
    assert frame.loc[0, "date"] == "2024-03-01"


def test_markdown_shows_summary_columns_outliers_and_churn() -> None:
    history = series_history("s1", "p1", STEADY)
    day = sales(DAY, [("s1", "p1"), ("s9", "p9")], [20, 1])

    markdown = build_quality_report(day, history, DAY).to_markdown()

    assert "### Data quality 2024-03-01" in markdown
    assert "| row_count_ratio" in markdown
    assert "#### Columns" in markdown
    assert "| s1 " in markdown  # the outlier row
    assert "- new: 1 (`s9/p9`)" in markdown


def test_frame_without_contract_columns_is_rejected_with_the_missing_names() -> None:
    day = sales(DAY, [("s1", "p1")]).drop(columns="units_sold")

    with pytest.raises(ValueError, match="units_sold"):
        build_quality_report(day, empty_history(), DAY)


# --- many days at once -----------------------------------------------------------------------

SPIKE_DAYS, DROP_DAY, LAUNCH_DAY, LAST_DAY_OF_P2, EMPTY_DAY = (30, 35), 33, 15, 24, 38


def six_weeks() -> tuple[pd.DataFrame, list[date]]:
    """42 days of sales ending on DAY + 21: s1/p1 steady with spikes and a drop, s1/p2 flat,
    s2/p1 launched, s2/p2 discontinued, s3/p9 on odd days only, no rows at all on one day,
    and an extra `channel` column with gaps."""
    days = [DAY - timedelta(days=20) + timedelta(days=offset) for offset in range(42)]
    frames = []
    for index, day in enumerate(days):
        if index == EMPTY_DAY:
            continue
        series = [("s1", "p1"), ("s1", "p2")]
        units = [60 if index in SPIKE_DAYS else 0 if index == DROP_DAY else STEADY[index % 14], 5]
        if index >= LAUNCH_DAY:
            series.append(("s2", "p1"))
            units.append(3 + index % 4)
        if index <= LAST_DAY_OF_P2:
            series.append(("s2", "p2"))
            units.append(7)
        if index % 2:
            series.append(("s3", "p9"))
            units.append(1)
        frame = sales(day, series, units)
        frame["channel"] = ["web" if (index + row) % 3 else None for row in range(len(frame))]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), days


def history_window(frame: pd.DataFrame, day: date, history_days: int) -> pd.DataFrame:
    start, end = pd.Timestamp(day - timedelta(days=history_days)), pd.Timestamp(day)
    return frame[(frame["date"] >= start) & (frame["date"] < end)]


def assert_same_report(batch: QualityReport, alone: QualityReport) -> None:
    assert batch.partition_date == alone.partition_date
    pd.testing.assert_frame_equal(batch.summary_frame(), alone.summary_frame(), check_exact=True)
    for part in ("columns", "outliers", "new_series", "vanished_series"):
        pd.testing.assert_frame_equal(
            getattr(batch, part), getattr(alone, part), check_exact=True, obj=part
        )


@pytest.mark.parametrize("history_days", [1, 5, 14, 28])
def test_batch_reports_equal_single_day_reports(history_days: int) -> None:
    data, days = six_weeks()

    reports = build_quality_reports(data, days, history_days)

    assert [report.partition_date for report in reports] == days
    for day, report in zip(days, reports, strict=True):
        day_frame = data[data["date"] == pd.Timestamp(day)]
        alone = build_quality_report(day_frame, history_window(data, day, history_days), day)
        assert_same_report(report, alone)


@pytest.mark.parametrize("cell_budget", [1, 300])
def test_batch_reports_do_not_depend_on_how_days_are_chunked(
    cell_budget: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, days = six_weeks()
    whole = build_quality_reports(data, days, history_days=14)
    monkeypatch.setattr(quality, "WINDOW_CELL_BUDGET", cell_budget)  # 1 day, or 4 days a chunk

    chunked = build_quality_reports(data, days, history_days=14)

    for batch, alone in zip(chunked, whole, strict=True):
        assert_same_report(batch, alone)


def test_batch_reports_flag_spikes_drops_launches_vanishings_and_empty_days() -> None:
    data, days = six_weeks()

    reports = build_quality_reports(data, days, history_days=28)

    first = reports[0]
    assert first.summary["history_days"] == 0
    assert first.summary["new_series_count"] == first.summary["series_count"] == 3
    flagged = {
        (index, row["store_id"], row["product_id"])
        for index, report in enumerate(reports)
        for row in report.outliers.to_dict("records")
    }
    assert {(index, "s1", "p1") for index in (*SPIKE_DAYS, DROP_DAY)} <= flagged
    assert reports[LAUNCH_DAY].new_series.to_dict("records") == [
        {"store_id": "s2", "product_id": "p1"}
    ]
    assert {"store_id": "s2", "product_id": "p2"} in reports[
        LAST_DAY_OF_P2 + 1
    ].vanished_series.to_dict("records")
    empty = reports[EMPTY_DAY]
    assert empty.summary["row_count"] == 0
    assert empty.summary["vanished_series_count"] == 4
    assert reports[EMPTY_DAY + 1].summary["history_days"] == 28 - 1
    channel = reports[1].columns.set_index("column").loc["channel"]
    assert channel["missing_count"] > 0


def test_batch_returns_reports_in_the_order_asked() -> None:
    data, days = six_weeks()
    asked = [days[30], days[2], days[17]]

    reports = build_quality_reports(data, asked, history_days=7)

    assert [report.partition_date for report in reports] == asked


def test_batch_rejects_frames_without_contract_columns_and_negative_history() -> None:
    data, days = six_weeks()

    with pytest.raises(ValueError, match="units_sold"):
        build_quality_reports(data.drop(columns="units_sold"), days, history_days=7)
    with pytest.raises(ValueError, match="history_days"):
        build_quality_reports(data, days, history_days=-1)
