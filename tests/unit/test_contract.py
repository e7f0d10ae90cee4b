"""The landing-file contract: reading files and what breaks (or does not break) the contract."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecastops.domain import contract
from forecastops.domain.contract import (
    CONTRACT_COLUMNS,
    FAILURE_COLUMNS,
    ID_FORMAT_CHECK,
    MAX_ID_CHARS,
    MAX_UNITS_SOLD,
    VALIDATED_DTYPES,
    ContractResult,
    LandingFileError,
    find_landing_file,
    landing_file_day,
    landing_file_name,
    read_landing_file,
    unrecognized_landing_files,
    validate_sales,
    validate_sales_batch,
)

DAY = date(2024, 3, 1)
UNITS_CHECK = "coerce_dtype('whole-number int64')"
PROMOTION_CHECK = "coerce_dtype('0/1 bool')"
DATE_CHECK = "coerce_dtype('ISO date')"


def landing_frame(**overrides: Any) -> pd.DataFrame:
    """Three valid landing rows for `DAY`; keyword arguments replace or add columns."""
    columns: dict[str, Any] = {
        "date": ["2024-03-01"] * 3,
        "store_id": ["s1", "s1", "s2"],
        "product_id": ["p1", "p2", "p1"],
        "units_sold": [4, 0, 7],
        "price": [2.5, 3.0, 2.5],
        "on_promotion": [0, 1, 0],
    }
    return pd.DataFrame({**columns, **overrides})


def failed_checks(result: ContractResult) -> set[tuple[Any, str]]:
    return set(zip(result.failures["column"], result.failures["check"], strict=True))


def cases_of(result: ContractResult, column: str, check: str) -> list[tuple[Any, Any]]:
    """(row, failure_case) of one column's check, in row order."""
    rows = result.failures[
        (result.failures["column"] == column) & (result.failures["check"] == check)
    ]
    return sorted(zip(rows["row"], rows["failure_case"], strict=True), key=lambda pair: pair[0])


# --- passing frames --------------------------------------------------------------------------


def test_valid_frame_passes_with_contract_columns_and_dtypes() -> None:
    result = validate_sales(landing_frame(), DAY)

    assert result.passed is True
    assert tuple(result.validated.columns) == CONTRACT_COLUMNS
    assert {name: str(dtype) for name, dtype in result.validated.dtypes.items()} == VALIDATED_DTYPES
    assert result.failures.empty
    assert tuple(result.failures.columns) == FAILURE_COLUMNS
    assert result.row_count == 3
    assert result.extra_columns == ()


def test_strings_are_coerced_to_contract_types() -> None:
    frame = landing_frame(
        units_sold=["3", "0", "12"],
        price=["2.5", "3", "1.25"],
        on_promotion=["1", "0", "true"],
    )

    result = validate_sales(frame, DAY)

    assert result.passed is True
    validated = result.validated
    assert validated["units_sold"].tolist() == [3, 0, 12]
    assert validated["units_sold"].dtype == np.int64
    assert validated["price"].tolist() == [2.5, 3.0, 1.25]
    assert validated["on_promotion"].tolist() == [True, False, True]
    assert validated["on_promotion"].dtype == bool
    assert validated["date"].dtype == "datetime64[ns]"
    assert (validated["date"] == pd.Timestamp(DAY)).all()


def test_whole_floats_and_bool_flags_are_accepted() -> None:
    frame = landing_frame(units_sold=[4.0, 0.0, 7.0], on_promotion=[False, True, False])

    result = validate_sales(frame, DAY)

    assert result.passed is True
    assert result.validated["units_sold"].tolist() == [4, 0, 7]
    assert result.validated["on_promotion"].tolist() == [False, True, False]


def test_extra_columns_are_reported_but_do_not_break_the_contract() -> None:
    result = validate_sales(landing_frame(channel=["web", "shop", "web"]), DAY)

    assert result.passed is True
    assert result.extra_columns == ("channel",)
    assert "channel" not in result.validated.columns
    assert "`channel`" in result.to_markdown()


def test_validated_frame_keeps_the_input_index() -> None:
    frame = landing_frame().set_axis([10, 20, 30])

    result = validate_sales(frame, DAY)

    assert result.validated.index.tolist() == [10, 20, 30]


# --- breaking frames -------------------------------------------------------------------------


@pytest.mark.parametrize("column", CONTRACT_COLUMNS)
def test_missing_column_breaks_the_contract(column: str) -> None:
    result = validate_sales(landing_frame().drop(columns=column), DAY)

    assert result.passed is False
    assert (column, "column_in_dataframe") in failed_checks(result)


def test_renamed_column_breaks_the_contract_and_shows_as_extra() -> None:
    result = validate_sales(landing_frame().rename(columns={"units_sold": "units"}), DAY)

    assert result.passed is False
    assert failed_checks(result) == {("units_sold", "column_in_dataframe")}
    assert result.extra_columns == ("units",)


def test_missing_key_column_does_not_report_false_duplicates() -> None:
    # without store_id, rows 0 and 2 share (date, product_id) but are different series
    result = validate_sales(landing_frame().drop(columns="store_id"), DAY)

    assert failed_checks(result) == {("store_id", "column_in_dataframe")}


def test_uncoercible_units_break_the_contract() -> None:
    result = validate_sales(landing_frame(units_sold=["4", "n/a", "7"]), DAY)

    assert result.passed is False
    assert cases_of(result, "units_sold", UNITS_CHECK) == [(1, "n/a")]


def test_fractional_units_break_the_contract() -> None:
    result = validate_sales(landing_frame(units_sold=[4, 3.5, 7]), DAY)

    assert result.passed is False
    assert cases_of(result, "units_sold", UNITS_CHECK) == [(1, 3.5)]


def test_negative_units_break_the_contract() -> None:
    result = validate_sales(landing_frame(units_sold=[4, -2, 7]), DAY)

    assert result.passed is False
    assert failed_checks(result) == {("units_sold", "greater_than_or_equal_to(0)")}
    assert cases_of(result, "units_sold", "greater_than_or_equal_to(0)") == [(1, -2)]


def test_non_finite_units_break_the_contract() -> None:
    result = validate_sales(landing_frame(units_sold=[np.inf, np.nan, 7]), DAY)

    assert result.passed is False
    assert cases_of(result, "units_sold", UNITS_CHECK) == [(0, np.inf)]
    assert [row for row, _ in cases_of(result, "units_sold", "not_nullable")] == [1]


def test_non_positive_price_breaks_the_contract() -> None:
    result = validate_sales(landing_frame(price=[0.0, -1.5, 2.0]), DAY)

    assert result.passed is False
    assert cases_of(result, "price", "greater_than(0)") == [(0, 0.0), (1, -1.5)]


def test_non_finite_price_breaks_the_contract() -> None:
    result = validate_sales(landing_frame(price=[np.inf, np.nan, 2.0]), DAY)

    assert result.passed is False
    assert cases_of(result, "price", "finite") == [(0, np.inf)]
    assert [row for row, _ in cases_of(result, "price", "not_nullable")] == [1]


def test_uncoercible_price_breaks_the_contract() -> None:
    result = validate_sales(landing_frame(price=["2.5", "free", "1"]), DAY)

    assert result.passed is False
    assert cases_of(result, "price", "coerce_dtype('float64')") == [(1, "free")]


@pytest.mark.parametrize("bad_flag", [2, "yes", -1, 0.5])
def test_promotion_flag_outside_0_1_true_false_breaks_the_contract(bad_flag: Any) -> None:
    result = validate_sales(landing_frame(on_promotion=[0, bad_flag, 1]), DAY)

    assert result.passed is False
    assert cases_of(result, "on_promotion", PROMOTION_CHECK) == [(1, bad_flag)]


def test_promotion_string_false_is_false_not_truthy() -> None:
    result = validate_sales(landing_frame(on_promotion=["false", "TRUE", "0"]), DAY)

    assert result.validated["on_promotion"].tolist() == [False, True, False]


def test_duplicate_series_day_breaks_the_contract() -> None:
    frame = landing_frame(store_id=["s1", "s1", "s2"], product_id=["p1", "p1", "p1"])

    result = validate_sales(frame, DAY)

    assert result.passed is False
    assert failed_checks(result) == {("date, store_id, product_id", "multiple_fields_uniqueness")}
    assert sorted(result.failures["row"]) == [0, 1]


def test_date_other_than_the_partition_breaks_the_contract() -> None:
    result = validate_sales(landing_frame(date=["2024-03-01", "2024-03-02", "2024-03-01"]), DAY)

    assert result.passed is False
    assert failed_checks(result) == {("date", "matches_partition_date")}
    assert [row for row, _ in cases_of(result, "date", "matches_partition_date")] == [1]


def test_unparseable_date_breaks_without_flagging_good_dates() -> None:
    result = validate_sales(landing_frame(date=["2024-03-01", "yesterday", "2024-03-01"]), DAY)

    assert result.passed is False
    assert failed_checks(result) == {("date", DATE_CHECK)}
    assert cases_of(result, "date", DATE_CHECK) == [(1, "yesterday")]


@pytest.mark.parametrize("text", ["03/01/2024", "01.03.2024", "1 March 2024", "20240301x"])
def test_dates_that_are_not_iso_break_the_contract_on_their_own_row(text: str) -> None:
    result = validate_sales(landing_frame(date=["2024-03-01", text, "2024-03-01"]), DAY)

    assert result.passed is False
    assert cases_of(result, "date", DATE_CHECK) == [(1, text)]


def test_empty_frame_breaks_the_contract() -> None:
    result = validate_sales(landing_frame().iloc[0:0], DAY)

    assert result.passed is False
    assert failed_checks(result) == {(None, "not_empty")}
    assert result.row_count == 0


def test_null_or_empty_keys_break_the_contract() -> None:
    frame = landing_frame(store_id=["s1", None, "s2"], product_id=["p1", "p2", ""])

    result = validate_sales(frame, DAY)

    assert result.passed is False
    assert [row for row, _ in cases_of(result, "store_id", "not_nullable")] == [1]
    assert [row for row, _ in cases_of(result, "product_id", f"str_length(1, {MAX_ID_CHARS})")] == [
        2
    ]


def test_absurdly_large_units_break_the_contract() -> None:
    result = validate_sales(landing_frame(units_sold=[4, MAX_UNITS_SOLD, 10**12]), DAY)

    assert result.passed is False
    assert cases_of(result, "units_sold", f"less_than_or_equal_to({MAX_UNITS_SOLD})") == [
        (2, 10**12)
    ]


@pytest.mark.parametrize(
    "bad_id",
    [" s1", "s1 ", "s1\t", "../x", "a/b", "a\\b", "s\x00", "s\x1b[31m", "x" * (MAX_ID_CHARS + 1)],
    ids=["leading", "trailing", "tab", "dotdot", "slash", "backslash", "nul", "escape", "long"],
)
def test_ids_with_spaces_separators_control_characters_or_too_long_break_the_contract(
    bad_id: str,
) -> None:
    result = validate_sales(landing_frame(product_id=["p1", bad_id, "p1"]), DAY)

    assert result.passed is False
    assert [
        row
        for row, case in result.failures[["row", "failure_case"]].itertuples(index=False)
        if case == bad_id
    ] == [1]
    assert set(result.failures["column"]) == {"product_id"}
    assert set(result.failures["check"]) <= {ID_FORMAT_CHECK, f"str_length(1, {MAX_ID_CHARS})"}


def test_an_id_of_the_longest_allowed_length_with_inner_spaces_passes() -> None:
    longest = "s " + "x" * (MAX_ID_CHARS - 2)

    assert validate_sales(landing_frame(store_id=["s1", longest, "s2"]), DAY).passed


def test_integer_ids_are_not_ids(tmp_path: Path) -> None:
    path = tmp_path / landing_file_name(DAY, "parquet")
    landing_frame(store_id=[1, 1, 2]).to_parquet(path)

    result = validate_sales(read_landing_file(path), DAY)

    assert result.passed is False
    assert cases_of(result, "store_id", "coerce_dtype('text')") == [(0, 1), (1, 1), (2, 2)]


def test_every_failure_is_reported_at_once() -> None:
    frame = landing_frame(
        date=["2024-03-01", "2024-03-01", "2024-02-29"],
        units_sold=[-1, 3.5, 7],
        price=[0.0, 3.0, 2.5],
        on_promotion=[0, 1, "maybe"],
    ).drop(columns="store_id")

    result = validate_sales(frame, DAY)

    assert failed_checks(result) == {
        ("store_id", "column_in_dataframe"),
        ("date", "matches_partition_date"),
        ("units_sold", UNITS_CHECK),
        ("units_sold", "greater_than_or_equal_to(0)"),
        ("price", "greater_than(0)"),
        ("on_promotion", PROMOTION_CHECK),
    }


def test_failed_result_has_an_empty_validated_frame_with_contract_dtypes() -> None:
    result = validate_sales(landing_frame(units_sold=[4, -2, 7]), DAY)

    assert result.validated.empty
    assert {name: str(dtype) for name, dtype in result.validated.dtypes.items()} == VALIDATED_DTYPES


def test_failure_summary_counts_cases_and_keeps_five_samples() -> None:
    frame = pd.concat([landing_frame()] * 3, ignore_index=True)
    frame["store_id"] = [f"s{i}" for i in range(len(frame))]
    frame["units_sold"] = [-1, -2, -3, -4, -5, -6, -7, 1, 2]

    summary = validate_sales(frame, DAY).failure_summary()

    assert summary.to_dict("records") == [
        {
            "column": "units_sold",
            "check": "greater_than_or_equal_to(0)",
            "count": 7,
            "samples": "-1, -2, -3, -4, -5",
        }
    ]


def test_failure_markdown_names_the_verdict_column_and_check() -> None:
    markdown = validate_sales(landing_frame(price=[0.0, 3.0, 2.5]), DAY).to_markdown()

    assert "FAILED" in markdown
    assert "| price" in markdown
    assert "greater_than(0)" in markdown


def test_unreadable_result_is_a_failure_with_the_reason() -> None:
    result = ContractResult.unreadable("file.csv is empty")

    assert result.passed is False
    assert result.failures.to_dict("records") == [
        {"column": None, "check": "readable_file", "failure_case": "file.csv is empty", "row": None}
    ]


# --- landing files ---------------------------------------------------------------------------


def test_landing_file_name_follows_the_landing_format() -> None:
    assert landing_file_name(DAY) == "sales_2024-03-01.csv"
    assert landing_file_name(DAY, "parquet") == "sales_2024-03-01.parquet"
    with pytest.raises(ValueError, match="xlsx"):
        landing_file_name(DAY, "xlsx")


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_find_landing_file_returns_the_days_file(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / landing_file_name(DAY, file_format)
    path.touch()

    assert find_landing_file(tmp_path, DAY) == path


def test_csv_and_parquet_for_the_same_day_are_ambiguous(tmp_path: Path) -> None:
    for file_format in ("csv", "parquet"):
        (tmp_path / landing_file_name(DAY, file_format)).touch()

    with pytest.raises(LandingFileError, match="Ambiguous") as error:
        find_landing_file(tmp_path, DAY)

    assert "sales_2024-03-01.csv" in str(error.value)
    assert "sales_2024-03-01.parquet" in str(error.value)


def test_missing_landing_file_names_the_expected_paths_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        find_landing_file(tmp_path, DAY)

    message = str(error.value)
    assert str(tmp_path / "sales_2024-03-01.csv") in message
    assert str(tmp_path / "sales_2024-03-01.parquet") in message
    assert "forecastops simulate" in message


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_zero_byte_landing_file_is_a_landing_file_error(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / landing_file_name(DAY, file_format)
    path.touch()

    with pytest.raises(LandingFileError, match="0 bytes") as error:
        read_landing_file(path)

    assert str(path) in str(error.value)


def test_unparseable_parquet_is_a_landing_file_error(tmp_path: Path) -> None:
    path = tmp_path / landing_file_name(DAY, "parquet")
    path.write_text("date,store_id\n2024-03-01,s1\n")

    with pytest.raises(LandingFileError, match="cannot be read as PARQUET") as error:
        read_landing_file(path)

    assert str(path) in str(error.value)


def test_csv_landing_file_reads_ids_as_strings_and_passes(tmp_path: Path) -> None:
    path = tmp_path / landing_file_name(DAY)
    landing_frame(store_id=["007", "007", "010"]).to_csv(path, index=False)

    frame = read_landing_file(path)
    result = validate_sales(frame, DAY)

    assert frame["store_id"].tolist() == ["007", "007", "010"]
    assert frame["date"].tolist() == ["2024-03-01"] * 3  # read as delivered, not coerced
    assert result.passed is True


def test_parquet_landing_file_round_trips_and_passes(tmp_path: Path) -> None:
    path = tmp_path / landing_file_name(DAY, "parquet")
    landing_frame(on_promotion=[False, True, False]).to_parquet(path, index=False)

    result = validate_sales(read_landing_file(path), DAY)

    assert result.passed is True
    assert result.validated["on_promotion"].tolist() == [False, True, False]


# --- many days at once -----------------------------------------------------------------------


def filed_on(day: date, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with every `date` set to `day` in the frame's own representation."""
    if pd.api.types.is_datetime64_dtype(frame["date"]):
        return frame.assign(date=pd.Timestamp(day))
    return frame.assign(date=day.isoformat())


CLEAN_DAYS: dict[str, Callable[[date], pd.DataFrame]] = {
    "plain": lambda day: filed_on(day, landing_frame()),
    "extra_column": lambda day: filed_on(day, landing_frame(channel=["web", None, "shop"])),
    "own_index": lambda day: filed_on(day, landing_frame()).set_axis([10, 20, 30]),
    "text_numbers": lambda day: filed_on(
        day, landing_frame(units_sold=["3", "0", "12"], on_promotion=["true", "0", "1"])
    ),
    "text_units": lambda day: filed_on(day, landing_frame(units_sold=["3", "0", "12"])),
    "datetime_dates": lambda day: landing_frame(date=[pd.Timestamp(day)] * 3),
    "date_objects": lambda day: landing_frame(date=[day] * 3),
}
BROKEN_DAYS: dict[str, Callable[[date], pd.DataFrame]] = {
    "missing_column": lambda day: filed_on(day, landing_frame()).drop(columns="price"),
    "renamed_column": lambda day: filed_on(day, landing_frame()).rename(
        columns={"units_sold": "units"}
    ),
    "uncoercible_units": lambda day: filed_on(day, landing_frame(units_sold=["4", "n/a", "7"])),
    "fractional_units": lambda day: filed_on(day, landing_frame(units_sold=[4, 3.5, 7])),
    "negative_units": lambda day: filed_on(day, landing_frame(units_sold=[4, -2, 7])),
    # stacked with "uncoercible_units", whose failed coercion hides the >= 0 check
    "negative_text_units": lambda day: filed_on(day, landing_frame(units_sold=["4", "-2", "7"])),
    "non_finite_units": lambda day: filed_on(day, landing_frame(units_sold=[np.inf, np.nan, 7])),
    "non_positive_price": lambda day: filed_on(day, landing_frame(price=[0.0, -1.5, 2.0])),
    "non_finite_price": lambda day: filed_on(day, landing_frame(price=[np.inf, np.nan, 2.0])),
    "uncoercible_price": lambda day: filed_on(day, landing_frame(price=["2.5", "free", "1"])),
    "bad_promotion_flag": lambda day: filed_on(day, landing_frame(on_promotion=[0, "yes", 1])),
    "duplicate_key": lambda day: filed_on(
        day, landing_frame(store_id=["s1", "s1", "s2"], product_id=["p1", "p1", "p1"])
    ),
    "other_date": lambda day: landing_frame(
        date=[day.isoformat(), (day + timedelta(days=1)).isoformat(), day.isoformat()]
    ),
    "unparseable_date": lambda day: landing_frame(
        date=[day.isoformat(), "yesterday", day.isoformat()]
    ),
    "null_and_empty_keys": lambda day: filed_on(
        day, landing_frame(store_id=["s1", None, "s2"], product_id=["p1", "p2", ""])
    ),
    "empty": lambda day: filed_on(day, landing_frame()).iloc[0:0],
    "whole_file_of_another_day": lambda day: filed_on(day - timedelta(days=1), landing_frame()),
    # not ISO: "03/01/2024" is 1 March or 3 January depending on who reads it
    "us_dates": lambda day: landing_frame(date=[day.strftime("%m/%d/%Y")] * 3),
    "mixed_date_formats": lambda day: landing_frame(
        date=[day.isoformat(), day.strftime("%d.%m.%Y"), day.isoformat()]
    ),
}


def assert_same_results(batch: ContractResult, alone: ContractResult) -> None:
    assert batch.passed == alone.passed
    assert batch.extra_columns == alone.extra_columns
    assert batch.row_count == alone.row_count
    pd.testing.assert_frame_equal(batch.validated, alone.validated, check_exact=True)
    pd.testing.assert_frame_equal(batch.failures, alone.failures, check_exact=True)


def test_batch_results_equal_one_by_one_results_for_clean_and_broken_days() -> None:
    clean = list(CLEAN_DAYS.values())
    # each broken kind between clean days; every clean kind appears several times
    makers = [
        maker
        for index, broken in enumerate(BROKEN_DAYS.values())
        for maker in (clean[index % len(clean)], broken)
    ]
    days = [DAY + timedelta(days=offset) for offset in range(len(makers))]
    frames = {day: make(day) for day, make in zip(days, makers, strict=True)}

    results = validate_sales_batch(frames)

    assert list(results) == days
    for day, frame in frames.items():
        assert_same_results(results[day], validate_sales(frame, day))
    assert sum(result.passed for result in results.values()) == len(BROKEN_DAYS)


def test_batch_never_blames_a_clean_day_for_another_days_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    today, tomorrow = DAY, DAY + timedelta(days=1)
    # tomorrow's file was also delivered as today's: every row repeats one of tomorrow's
    stray = filed_on(tomorrow, landing_frame())
    frames = {today: stray, tomorrow: stray.copy()}
    validated_alone: list[date] = []

    def recording(frame: pd.DataFrame, partition_date: date) -> ContractResult:
        validated_alone.append(partition_date)
        return validate_sales(frame, partition_date)

    monkeypatch.setattr(contract, "validate_sales", recording)
    results = validate_sales_batch(frames)

    assert validated_alone == [today]
    assert results[tomorrow].passed is True
    assert failed_checks(results[today]) == {("date", "matches_partition_date")}
    assert_same_results(results[today], validate_sales(stray, today))


@pytest.mark.filterwarnings("ignore:Parsing dates in %d/%m/%Y format")
def test_batch_refuses_day_first_and_month_first_dates_alike() -> None:
    # alone or batched, neither "13/03/2024" nor the ambiguous "01/02/2024" is an ISO date
    march_13, feb_1 = date(2024, 3, 13), date(2024, 2, 1)
    frames = {
        march_13: landing_frame(date=["13/03/2024"] * 3),
        feb_1: landing_frame(date=["01/02/2024"] * 3),
    }

    results = validate_sales_batch(frames)

    for day, frame in frames.items():
        assert results[day].passed is False
        assert_same_results(results[day], validate_sales(frame, day))


def test_batch_of_clean_days_is_validated_without_any_per_day_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def per_day_call(frame: pd.DataFrame, partition_date: date) -> ContractResult:
        raise AssertionError(f"{partition_date} was validated on its own")

    frames = {
        DAY + timedelta(days=offset): filed_on(DAY + timedelta(days=offset), landing_frame())
        for offset in range(30)
    }
    monkeypatch.setattr(contract, "validate_sales", per_day_call)

    results = validate_sales_batch(frames)

    assert all(result.passed for result in results.values())


def test_batch_of_no_days_is_empty() -> None:
    assert validate_sales_batch({}) == {}


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("sales_2025-03-01.csv", date(2025, 3, 1)),
        ("sales_2024-02-29.parquet", date(2024, 2, 29)),
        ("sales_2025-02-30.csv", None),
        ("sales_2025-3-1.csv", None),
        ("sales_20250301.csv", None),
        ("sales_2025-03-01.csv.gz", None),
        ("sales_2025-03-01.xlsx", None),
        ("orders_2025-03-01.csv", None),
    ],
)
def test_landing_file_day_is_the_real_day_a_name_stands_for(name: str, day: date | None) -> None:
    assert landing_file_day(name) == day


def test_misnamed_deliveries_are_listed_and_other_files_are_not(tmp_path: Path) -> None:
    for name in [
        "sales_2025-03-01.csv",
        "sales_2025-02-30.csv",
        "sales_2025-3-2.parquet",
        "README.txt",
        ".sales_2025-02-31.csv",
    ]:
        (tmp_path / name).write_text("x")

    assert [p.name for p in unrecognized_landing_files(tmp_path)] == [
        "sales_2025-02-30.csv",
        "sales_2025-3-2.parquet",
    ]
    assert unrecognized_landing_files(tmp_path / "absent") == []


# -- a partial delivery ---------------------------------------------------------------------

SUNDAY = date(2025, 3, 30)


def _weeks_of_rows(weekday_rows: int, sunday_rows: int, weeks: int = 4) -> dict[date, int]:
    """Delivered row counts of the `weeks` weeks before SUNDAY: a store closed on Sundays."""
    first = SUNDAY - timedelta(days=7 * weeks)
    days = [first + timedelta(days=offset) for offset in range(7 * weeks)]
    return {day: sunday_rows if day.weekday() == 6 else weekday_rows for day in days}


def test_expected_rows_follow_the_same_weekday_so_a_quiet_sunday_is_no_partial_delivery() -> None:
    delivered = _weeks_of_rows(weekday_rows=100, sunday_rows=30)

    assert contract.expected_row_count(SUNDAY, delivered) == 30
    assert contract.expected_row_count(SUNDAY + timedelta(days=1), delivered) == 100


def test_expected_rows_fall_back_to_recent_days_and_to_none_for_a_new_feed() -> None:
    recent = {SUNDAY - timedelta(days=offset): 90 + offset for offset in (1, 2, 3)}

    assert contract.expected_row_count(SUNDAY, recent) == 92
    assert contract.expected_row_count(SUNDAY, {SUNDAY - timedelta(days=1): 90}) is None


def test_a_passing_day_with_a_third_of_its_rows_is_refused_naming_the_counts_and_the_fix() -> None:
    frame = pd.DataFrame(
        {
            "date": ["2025-03-30"] * 3,
            "store_id": ["S1"] * 3,
            "product_id": ["P1", "P2", "P3"],
            "units_sold": [1, 2, 3],
            "price": [1.0, 1.0, 1.0],
            "on_promotion": [0, 0, 1],
        }
    )
    passed = contract.validate_sales(frame, SUNDAY)
    assert passed.passed

    refused = contract.refuse_partial_delivery(passed, expected_rows=9, min_share=0.5)
    kept = contract.refuse_partial_delivery(passed, expected_rows=6, min_share=0.5)
    unjudged = contract.refuse_partial_delivery(passed, expected_rows=None, min_share=0.5)

    assert not refused.passed and refused.validated.empty
    [message] = refused.failures["failure_case"]
    assert list(refused.failures["check"]) == [contract.COMPLETE_DELIVERY_CHECK]
    assert "3 rows where about 9 are expected" in message
    assert "accept_partial_delivery: true" in message
    assert kept is passed and unjudged is passed
