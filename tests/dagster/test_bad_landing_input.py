"""Bad landing input, class by class, through the real `raw_sales` asset (docs/landing-contract.md
lists each class with its verdict).

Each case delivers one broken (or odd but valid) file for `DAY` into a landing folder whose
other days are already in the lake, materializes `raw_sales` for `DAY` and checks: the verdict;
for a refused file, a message naming the file, the column and the rule, and the failing rows in
the quarantine; and that every other day's lake files are byte-identical before and after.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from forecast_assets.ingest import CONTRACT_CHECK, EXTRA_COLUMNS_CHECK, raw_sales
from forecast_jobs.launch import execute_partition_range
from forecastops.domain.contract import (
    COMPLETE_DELIVERY_CHECK,
    ID_FORMAT_CHECK,
    MAX_ID_CHARS,
    MAX_UNITS_SOLD,
    PARTITION_DATE_CHECK,
    READABLE_CHECK,
    landing_file_name,
)
from forecastops.domain.simulator import SimulationSpec, write_landing_files
from forecastops.pipeline.ingest import QUARANTINE_TABLE, RAW_SALES_TABLE
from forecastops.stores.lake import Lake
from resources.alerts import AlertStoreResource
from resources.storage import LakeStorage, LandingSalesSource

FIRST = date(2025, 3, 1)
DAY = FIRST + timedelta(days=4)
"""The day every case delivers; the days before it are ingested once, up front."""
LAST_GOOD = DAY - timedelta(days=1)

Writer = Callable[[Path, pd.DataFrame], None]
"""Writes the case's file(s) for `DAY` into the landing folder, given the day's good rows."""


@dataclass(frozen=True)
class Case:
    name: str
    write: Writer
    column: str | None = None
    """The column the refusal names (None: the file as a whole)."""
    rule: str | None = None
    """The check (pandera's or ours) that refuses it; None: the file is accepted."""
    message: str | None = None
    """Text the refusal must contain (for file-level refusals)."""
    row: int | None = None
    """A row the quarantine must name."""


def _csv(path_dir: Path) -> Path:
    return path_dir / landing_file_name(DAY, "csv")


def _parquet(path_dir: Path) -> Path:
    return path_dir / landing_file_name(DAY, "parquet")


def write_csv(transform: Callable[[pd.DataFrame], pd.DataFrame]) -> Writer:
    return lambda folder, good: transform(good.copy()).to_csv(_csv(folder), index=False)


def write_parquet(transform: Callable[[pd.DataFrame], pd.DataFrame]) -> Writer:
    return lambda folder, good: transform(good.copy()).to_parquet(_parquet(folder), index=False)


def write_bytes(make: Callable[[str], bytes]) -> Writer:
    return lambda folder, good: _csv(folder).write_bytes(make(good.to_csv(index=False)))


def set_cell(column: str, value: object, row: int = 1) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return transform


def _symlink_outside(folder: Path, good: pd.DataFrame) -> None:
    outside = folder.parent / "elsewhere.csv"
    good.to_csv(outside, index=False)
    os.symlink(outside, _csv(folder))


def _both_formats(folder: Path, good: pd.DataFrame) -> None:
    good.to_csv(_csv(folder), index=False)
    good.to_parquet(_parquet(folder), index=False)


CASES = [
    # -- accepted: odd but valid --
    Case("reordered_columns", write_csv(lambda f: f[list(reversed(f.columns))])),
    Case("extra_column", write_csv(lambda f: f.assign(channel="web"))),
    Case("units_1e3", write_csv(set_cell("units_sold", "1e3"))),
    Case("utf8_bom", write_bytes(lambda text: b"\xef\xbb\xbf" + text.encode())),
    Case("crlf_line_ends", write_bytes(lambda text: text.replace("\n", "\r\n").encode())),
    Case("parquet", write_parquet(lambda f: f)),
    # -- refused: columns --
    Case(
        "missing_column",
        write_csv(lambda f: f.drop(columns="price")),
        "price",
        "column_in_dataframe",
    ),
    Case(
        "renamed_column",
        write_csv(lambda f: f.rename(columns={"units_sold": "units"})),
        "units_sold",
        "column_in_dataframe",
    ),
    # -- refused: units --
    Case(
        "text_units",
        write_csv(set_cell("units_sold", "three")),
        "units_sold",
        "coerce_dtype('whole-number int64')",
        row=1,
    ),
    Case(
        "float_units",
        write_csv(set_cell("units_sold", 3.5)),
        "units_sold",
        "coerce_dtype('whole-number int64')",
        row=1,
    ),
    Case(
        "negative_units",
        write_csv(set_cell("units_sold", -2)),
        "units_sold",
        "greater_than_or_equal_to(0)",
        row=1,
    ),
    Case(
        "nan_units",
        write_csv(set_cell("units_sold", float("nan"))),
        "units_sold",
        "not_nullable",
        row=1,
    ),
    Case("empty_units", write_csv(set_cell("units_sold", "")), "units_sold", "not_nullable", row=1),
    Case(
        "inf_units",
        write_csv(set_cell("units_sold", "inf")),
        "units_sold",
        "coerce_dtype('whole-number int64')",
        row=1,
    ),
    Case(
        "absurd_units",
        write_csv(set_cell("units_sold", 10**12)),
        "units_sold",
        f"less_than_or_equal_to({MAX_UNITS_SOLD})",
        row=1,
    ),
    # -- refused: price and promotion --
    Case("zero_price", write_csv(set_cell("price", 0.0)), "price", "greater_than(0)", row=1),
    Case("negative_price", write_csv(set_cell("price", -1.5)), "price", "greater_than(0)", row=1),
    Case("nan_price", write_csv(set_cell("price", float("nan"))), "price", "not_nullable", row=1),
    Case("inf_price", write_csv(set_cell("price", "inf")), "price", "finite", row=1),
    Case(
        "promotion_text",
        write_csv(set_cell("on_promotion", "yes")),
        "on_promotion",
        "coerce_dtype('0/1 bool')",
        row=1,
    ),
    Case(
        "promotion_two",
        write_csv(set_cell("on_promotion", 2)),
        "on_promotion",
        "coerce_dtype('0/1 bool')",
        row=1,
    ),
    # -- refused: dates --
    Case(
        "other_date",
        write_csv(set_cell("date", (DAY + timedelta(days=1)).isoformat())),
        "date",
        PARTITION_DATE_CHECK,
        row=1,
    ),
    Case(
        "future_date",
        write_csv(set_cell("date", "2099-01-01")),
        "date",
        PARTITION_DATE_CHECK,
        row=1,
    ),
    Case(
        "mixed_date_formats",
        write_csv(set_cell("date", DAY.strftime("%d/%m/%Y"))),
        "date",
        "coerce_dtype('ISO date')",
        row=1,
    ),
    # -- refused: keys --
    Case(
        "duplicate_key",
        write_csv(lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True)),
        "date, store_id, product_id",
        "multiple_fields_uniqueness",
    ),
    Case(
        "id_with_path_separator",
        write_csv(set_cell("store_id", "../x")),
        "store_id",
        ID_FORMAT_CHECK,
        row=1,
    ),
    Case(
        "id_too_long",
        write_csv(set_cell("product_id", "p" * (MAX_ID_CHARS + 1))),
        "product_id",
        f"str_length(1, {MAX_ID_CHARS})",
        row=1,
    ),
    Case(
        "id_with_control_character",
        write_csv(set_cell("product_id", "P\x1b[31m")),
        "product_id",
        ID_FORMAT_CHECK,
        row=1,
    ),
    Case(
        "id_with_surrounding_spaces",
        write_csv(set_cell("store_id", " S001 ")),
        "store_id",
        ID_FORMAT_CHECK,
        row=1,
    ),
    Case(
        "integer_ids_in_parquet",
        write_parquet(lambda f: f.assign(store_id=range(len(f)))),
        "store_id",
        "coerce_dtype('text')",
        row=1,
    ),
    Case(
        "parquet_wrong_types",
        write_parquet(lambda f: f.assign(price=["free"] * len(f))),
        "price",
        "coerce_dtype('float64')",
        row=1,
    ),
    # -- refused: the file as a whole --
    Case("header_only", write_csv(lambda f: f.iloc[0:0]), None, "not_empty"),
    Case(
        "truncated_last_line",
        write_bytes(lambda text: text[: text.rstrip().rfind(",")].encode()),
        "on_promotion",
        "not_nullable",
    ),
    Case("empty_file", write_bytes(lambda text: b""), None, READABLE_CHECK, "empty (0 bytes)"),
    Case(
        "utf16",
        write_bytes(lambda text: text.encode("utf-16")),
        None,
        READABLE_CHECK,
        "save it as UTF-8",
    ),
    Case(
        "semicolons",
        write_bytes(lambda text: text.replace(",", ";").encode()),
        None,
        READABLE_CHECK,
        "with ',' as the delimiter",
    ),
    Case(
        "gzip_behind_csv_name",
        write_bytes(lambda text: gzip.compress(text.encode())),
        None,
        READABLE_CHECK,
        "gzip-compressed",
    ),
    Case(
        "corrupt_parquet",
        lambda folder, good: _parquet(folder).write_bytes(b"PAR1 not really"),
        None,
        READABLE_CHECK,
        "cannot be read as PARQUET",
    ),
    Case(
        "partial_delivery",
        write_csv(lambda f: f.iloc[: len(f) // 3]),
        None,
        COMPLETE_DELIVERY_CHECK,
        "taken for a partial delivery",
    ),
    Case(
        "symlink_outside_landing",
        _symlink_outside,
        None,
        READABLE_CHECK,
        "outside the landing folder",
    ),
]


@pytest.fixture(scope="module")
def landing_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, pd.DataFrame]]:
    """A home whose lake holds FIRST..LAST_GOOD, and the good rows of DAY (not delivered)."""
    home = tmp_path_factory.mktemp("bad-input")
    spec = SimulationSpec(start=FIRST, end=DAY, stores=2, products=3, seed=5)
    write_landing_files(spec, home / "landing")
    good_file = home / "landing" / landing_file_name(DAY)
    good = pd.read_csv(good_file, dtype={"store_id": str, "product_id": str})
    good_file.unlink()
    (home / "lake").mkdir()
    job = dg.Definitions(
        assets=[raw_sales], resources=_resources(home)
    ).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        assert execute_partition_range(job, FIRST, LAST_GOOD, instance).success
    yield home, good


def _resources(home: Path) -> dict[str, object]:
    return {
        "landing": LandingSalesSource(landing_dir=str(home / "landing")),
        "storage": LakeStorage(root=str(home / "lake")),
        "alert_store": AlertStoreResource(url=f"sqlite:///{home / 'alerts.db'}"),
    }


def _other_days_bytes(lake_root: Path) -> dict[str, str]:
    """sha256 of every lake file that does not belong to DAY."""
    return {
        str(path.relative_to(lake_root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(lake_root.rglob("*"))
        if path.is_file() and f"day={DAY.isoformat()}" not in path.parts
    }


def _deliver_and_ingest(
    home: Path, good: pd.DataFrame, write: Writer, config: dict[str, object] | None = None
) -> tuple[dict[str, str], dg.ExecuteInProcessResult]:
    """Replace DAY's landing file(s) by what `write` delivers, then materialize raw_sales for
    DAY: (the other days' lake bytes before, the run's result)."""
    landing = home / "landing"
    for stale in landing.glob(f"sales_{DAY.isoformat()}.*"):
        stale.unlink()
    write(landing, good)
    before = _other_days_bytes(home / "lake")
    result = dg.materialize(
        [raw_sales],
        partition_key=DAY.isoformat(),
        resources=_resources(home),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"ops": {"raw_sales": {"config": config}}} if config else None,
    )
    return before, result


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_landing_input_is_refused_by_name_and_loses_nothing(
    case: Case, landing_home: tuple[Path, pd.DataFrame]
) -> None:
    home, good = landing_home
    before, result = _deliver_and_ingest(home, good, case.write)
    assert len(before) == 8  # raw_sales and sales_contract of the 4 other days

    assert _other_days_bytes(home / "lake") == before
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    lake = Lake(home / "lake")
    if case.rule is None:
        assert result.success, case.name
        assert checks[CONTRACT_CHECK].passed
        assert lake.read_partition(RAW_SALES_TABLE, DAY)["units_sold"].sum() >= 0
        assert checks[EXTRA_COLUMNS_CHECK].passed == (case.name != "extra_column")
        return
    assert not result.success
    contract = checks[CONTRACT_CHECK]
    assert contract.passed is False
    report = str(contract.metadata["failure_cases"].value)
    assert landing_file_name(DAY)[: -len(".csv")] in report  # names the file
    assert case.rule in report
    if case.column is not None:
        assert case.column in report
    if case.message is not None:
        assert case.message in report
    assert not lake.partition_path(RAW_SALES_TABLE, DAY).exists()
    quarantine = lake.read_partition(QUARANTINE_TABLE, DAY)
    named = quarantine[quarantine["check"] == case.rule]
    assert not named.empty
    if case.column is not None:
        assert set(named["column"]) == {case.column}
    if case.row is not None:
        assert case.row in set(pd.to_numeric(named["row"], errors="coerce"))


def test_a_csv_and_a_parquet_for_the_same_day_fail_the_run_naming_both(
    landing_home: tuple[Path, pd.DataFrame],
) -> None:
    home, good = landing_home
    before, result = _deliver_and_ingest(home, good, _both_formats)

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = str(
        failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    )
    assert "Ambiguous landing files" in message
    assert landing_file_name(DAY, "csv") in message and landing_file_name(DAY, "parquet") in message
    assert _other_days_bytes(home / "lake") == before


def test_an_operator_confirms_a_partial_delivery_and_it_is_ingested(
    landing_home: tuple[Path, pd.DataFrame],
) -> None:
    home, good = landing_home
    partial = write_csv(lambda f: f.iloc[: len(f) // 3])
    refused_before, refused = _deliver_and_ingest(home, good, partial)
    assert not refused.success

    before, confirmed = _deliver_and_ingest(home, good, partial, {"accept_partial_delivery": True})

    assert confirmed.success
    assert _other_days_bytes(home / "lake") == before == refused_before
    lake = Lake(home / "lake")
    assert len(lake.read_partition(RAW_SALES_TABLE, DAY)) == len(good) // 3
    assert not lake.has_partition(QUARANTINE_TABLE, DAY)
