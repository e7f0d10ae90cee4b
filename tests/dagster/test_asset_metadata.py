"""What an operator reads on an asset page: native tables with rounded numbers, and a missing
value shown empty, never as 0."""

from __future__ import annotations

import math

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from forecast_assets.metadata import frame_table, markdown_table, rounded


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.497503256621798, 1.498),
        (0.28431, 0.2843),
        (12345.678, 12346.0),
        (0.000123456, 0.0001235),
        (-2.50001, -2.5),
        (0.0, 0.0),
    ],
)
def test_numbers_keep_four_significant_digits_but_never_lose_whole_units(
    value: float, expected: float
) -> None:
    assert rounded(value) == expected


def test_nan_and_infinity_are_not_rounded_into_numbers() -> None:
    assert math.isnan(rounded(math.nan))
    assert rounded(math.inf) == math.inf


def test_a_frame_becomes_a_typed_table_with_rounded_cells_and_empty_missing_values() -> None:
    frame = pd.DataFrame(
        {
            "store": ["S1", "S2", None],
            "wape": [0.28431234, np.nan, np.inf],
            "units": np.array([3, 0, 7], dtype="int64"),
            "day": pd.to_datetime(["2025-03-01", None, "2025-03-03"]),
            "alarm": [True, False, True],
        }
    )

    table = frame_table(frame)

    assert isinstance(table, dg.TableMetadataValue) and table.schema is not None
    assert [(c.name, c.type) for c in table.schema.columns] == [
        ("store", "string"),
        ("wape", "float"),
        ("units", "int"),
        ("day", "datetime"),
        ("alarm", "bool"),
    ]
    assert [row.data for row in table.records] == [
        {"store": "S1", "wape": 0.2843, "units": 3, "day": "2025-03-01", "alarm": True},
        {"store": "S2", "wape": None, "units": 0, "day": None, "alarm": False},
        {"store": None, "wape": "inf", "units": 7, "day": "2025-03-03", "alarm": True},
    ]
    assert all(type(row.data["units"]) is int for row in table.records)  # not numpy scalars


def test_a_table_shows_its_first_rows_only() -> None:
    frame = pd.DataFrame({"n": range(30)})
    assert [row.data["n"] for row in frame_table(frame, max_rows=3).records] == [0, 1, 2]


def test_markdown_tables_round_floats_too_and_say_what_was_left_out() -> None:
    text = markdown_table(pd.DataFrame({"mae": [1.497503256621798, 2.0, 3.0]}), max_rows=2)
    assert "1.498" in text and "1.4975" not in text
    assert text.endswith("_…and 1 more rows._")
