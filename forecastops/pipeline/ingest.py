"""Landing files -> the validated `raw_sales` lake table, and the per-day quality report.

Every day is handled whole: its landing file is read, checked against the contract and then
either written to the lake (contract columns coerced, extra columns kept as delivered) or, when
the contract breaks, kept out of the lake (any earlier partition of that day is removed, so a
broken delivery can never feed training) with its failure cases stored in the quarantine table.
A contract record per day says which happened; the landing file itself is never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from forecastops.domain.contract import (
    RECENT_DAYS,
    SAME_WEEKDAY_WEEKS,
    SERIES_KEY,
    ContractResult,
    LandingFileError,
    expected_row_count,
    find_landing_file,
    read_landing_file,
    refuse_partial_delivery,
    validate_sales_batch,
)
from forecastops.domain.quality import OUTLIER_COLUMNS, QualityReport
from forecastops.domain.quality import build_quality_reports as build_reports
from forecastops.stores.lake import Lake

RAW_SALES_TABLE = "raw_sales"
CONTRACT_TABLE = "sales_contract"
QUARANTINE_TABLE = "raw_sales_quarantine"
QUALITY_TABLE = "sales_quality_report"
QUALITY_PARTS = ("summary", "columns", "series")
"""The stored parts of a day's quality report: the summary row, the column profile, and the
series findings (`SERIES_FINDINGS`), one row per series and finding."""
REPORT_PARTS = ("summary", "columns", "outliers", "new_series", "vanished_series")
"""The parts `load_quality_report` returns (the `QualityReport` fields)."""
FINDING_COLUMN = "finding"
SERIES_FINDINGS = {"outliers": "outlier", "new_series": "new", "vanished_series": "vanished"}
"""Report part -> its `finding` in the `series` part. Its other columns are `OUTLIER_COLUMNS`;
the outlier statistics are null on the rows of new and vanished series."""
OUTLIER_STATISTICS = tuple(name for name in OUTLIER_COLUMNS if name not in SERIES_KEY)
MAX_MISSING_LISTED = 5


@dataclass(frozen=True)
class DayIngest:
    """What ingesting one day did: the source file, its checksum and the contract verdict."""

    day: date
    source: Path
    source_sha256: str
    contract: ContractResult

    @property
    def passed(self) -> bool:
        return self.contract.passed


def delivered_days(lake: Lake, first: date, last: date) -> list[date]:
    """The delivered days among `first`..`last`, oldest first: the days with a `raw_sales`
    partition, i.e. whose landing file passed the contract.

    The one definition of a delivered day (decisions 0013 and 0016). Every other day of the
    range is *missing*: rejected, not delivered yet or deleted, unknown for every series and
    never 0 sold. The sales read from the lake have a row on exactly the delivered days (the
    contract refuses a file without rows), which is how the features tell them apart.
    """
    return [day for day in lake.partition_days(RAW_SALES_TABLE) if first <= day <= last]


def missing_days(lake: Lake, first: date, last: date) -> list[date]:
    """The days among `first`..`last` without a `raw_sales` partition, oldest first (see
    `delivered_days`)."""
    delivered = set(delivered_days(lake, first, last))
    span = (last - first).days + 1
    every = (first + timedelta(days=offset) for offset in range(max(span, 0)))
    return [day for day in every if day not in delivered]


def locate_landing_files(landing_dir: Path, days: Sequence[date]) -> dict[date, Path]:
    """Find every day's landing file before anything is written.

    Raises `FileNotFoundError` naming every missing expected path, so a range run either has all
    its inputs or writes nothing.
    """
    found: dict[date, Path] = {}
    missing: list[str] = []
    for day in days:
        try:
            found[day] = find_landing_file(landing_dir, day)
        except FileNotFoundError as error:
            missing.append(str(error))
    if missing:
        shown = missing[:MAX_MISSING_LISTED]
        more = len(missing) - len(shown)
        raise FileNotFoundError(
            "\n".join(shown) + (f"\n…and {more} more days without a landing file." if more else "")
        )
    return found


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _contract_record(outcome: DayIngest) -> pd.DataFrame:
    contract = outcome.contract
    return pd.DataFrame(
        {
            "partition_date": [outcome.day.isoformat()],
            "passed": [contract.passed],
            "row_count": [contract.row_count],
            "failure_count": [len(contract.failures)],
            "failed_checks": [", ".join(sorted(set(contract.failures["check"].astype(str))))],
            "extra_columns": [", ".join(contract.extra_columns)],
            "source_path": [str(outcome.source)],
            "source_sha256": [outcome.source_sha256],
            "checked_at": [datetime.now(UTC).isoformat()],
        }
    )


def _read(source: Path) -> pd.DataFrame | LandingFileError:
    try:
        return read_landing_file(source)
    except LandingFileError as error:
        return error


def _store(
    lake: Lake,
    outcomes: Sequence[DayIngest],
    frames: Mapping[date, pd.DataFrame | LandingFileError],
) -> None:
    """Write every day's verdict to the lake (see the module docstring), each table in one go.

    A rejected day's earlier `raw_sales` partition goes first, so a broken delivery is out of
    the lake before anything else is written.
    """
    stored: dict[date, pd.DataFrame] = {}
    rejected: dict[date, pd.DataFrame] = {}
    for outcome in outcomes:
        frame, contract = frames[outcome.day], outcome.contract
        if contract.passed and isinstance(frame, pd.DataFrame):
            extra = list(contract.extra_columns)
            stored[outcome.day] = (
                contract.validated.join(frame[extra]) if extra else contract.validated
            )
        else:
            rejected[outcome.day] = contract.failures.astype({"failure_case": str})
    for day in rejected:
        lake.delete_partition(RAW_SALES_TABLE, day)
    lake.write_partitions(QUARANTINE_TABLE, {day: {"data": f} for day, f in rejected.items()})
    lake.write_partitions(RAW_SALES_TABLE, {day: {"data": f} for day, f in stored.items()})
    for day in stored:
        lake.delete_partition(QUARANTINE_TABLE, day)
    lake.write_partitions(
        CONTRACT_TABLE, {outcome.day: {"data": _contract_record(outcome)} for outcome in outcomes}
    )


def ingest_days(
    lake: Lake,
    landing_dir: Path,
    days: Sequence[date],
    min_delivery_share: float = 0.0,
    accept_partial_delivery: bool = False,
) -> list[DayIngest]:
    """Read, validate and store each day's landing file (see the module docstring).

    All landing files must exist before any day is written. The contract runs over all
    readable days at once (`validate_sales_batch`), with the same verdicts as day by day, and
    each lake table is written for all the days at once (`Lake.write_partitions`). A day that
    passes with fewer than `min_delivery_share` of its expected rows is refused as a partial
    delivery (`refuse_partial_delivery`) unless `accept_partial_delivery`.
    """
    sources = locate_landing_files(landing_dir, days)
    frames = {day: _read(sources[day]) for day in days}
    readable = {day: f for day, f in frames.items() if isinstance(f, pd.DataFrame)}
    verdicts = validate_sales_batch(readable)
    if min_delivery_share > 0 and not accept_partial_delivery:
        verdicts = _refuse_partial_deliveries(lake, verdicts, min_delivery_share)
    outcomes = [
        DayIngest(
            day=day,
            source=sources[day],
            source_sha256=_sha256(sources[day]),
            contract=verdicts[day]
            if isinstance(frames[day], pd.DataFrame)
            else ContractResult.unreadable(str(frames[day])),
        )
        for day in days
    ]
    _store(lake, outcomes, frames)
    return outcomes


def _refuse_partial_deliveries(
    lake: Lake, verdicts: Mapping[date, ContractResult], min_share: float
) -> dict[date, ContractResult]:
    """`verdicts` with each passing day that is a partial delivery refused, judged in day order
    against the days delivered before it: those in the lake (`CONTRACT_TABLE` records of days
    whose `raw_sales` partition exists) as updated by the earlier days of this batch."""
    if not verdicts:
        return {}
    lookback = max(7 * SAME_WEEKDAY_WEEKS, RECENT_DAYS)
    first, last = min(verdicts), max(verdicts)
    window = [first + timedelta(days=offset) for offset in range(-lookback, (last - first).days)]
    records = lake.read_days(
        CONTRACT_TABLE, window, columns=["partition_date", "passed", "row_count"]
    )
    delivered_rows = {
        day: int(rows)
        for day_text, passed, rows in zip(
            records["partition_date"], records["passed"], records["row_count"], strict=True
        )
        if passed and lake.has_partition(RAW_SALES_TABLE, day := date.fromisoformat(day_text))
    }
    judged: dict[date, ContractResult] = {}
    for day in sorted(verdicts):
        verdict = refuse_partial_delivery(
            verdicts[day], expected_row_count(day, delivered_rows), min_share
        )
        if verdict.passed:
            delivered_rows[day] = verdict.row_count
        else:
            delivered_rows.pop(day, None)
        judged[day] = verdict
    return {day: judged[day] for day in verdicts}


def build_quality_reports(
    lake: Lake, days: Sequence[date], history_days: int
) -> list[QualityReport]:
    """Build and store the quality report of each day from the validated lake.

    The lake is read once for the whole range plus `history_days` of lead-in and the reports
    are computed together (`forecastops.domain.quality.build_quality_reports`).
    """
    if not days:
        return []
    first, last = min(days), max(days)
    missing = [day for day in days if not lake.has_partition(RAW_SALES_TABLE, day)]
    if missing:
        raise FileNotFoundError(
            f"The lake has no validated raw_sales partition for {', '.join(map(str, missing[:5]))}"
            f"{' …' if len(missing) > 5 else ''} (expected e.g. "
            f"{lake.partition_path(RAW_SALES_TABLE, missing[0])}). Its contract check failed or "
            "it was never ingested; fix the landing file and re-materialize raw_sales for it."
        )
    window = [first - timedelta(days=offset) for offset in range(history_days, 0, -1)]
    window += [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    sales = lake.read_days(RAW_SALES_TABLE, window)
    reports = build_reports(sales, days, history_days)
    lake.write_partitions(
        QUALITY_TABLE,
        {
            report.partition_date: {
                "summary": report.summary_frame(),
                "columns": report.columns,
                "series": _series_part(report),
            }
            for report in reports
        },
    )
    return reports


def _series_part(report: QualityReport) -> pd.DataFrame:
    """The report's outliers, new and vanished series as one frame (see `SERIES_FINDINGS`).

    The outliers come first, with their statistics; the new and vanished series leave those
    null. An integer `units_sold` becomes nullable `Int64` rather than float, so it reads back
    as the same whole numbers (`load_quality_report` returns it as `int64`).
    """
    outliers = report.outliers
    churn = [report.new_series, report.vanished_series]
    counts = [len(outliers), *map(len, churn)]
    findings = np.array(list(SERIES_FINDINGS.values()), dtype=object)
    columns: dict[str, object] = {FINDING_COLUMN: np.repeat(findings, counts)}
    for name in SERIES_KEY:
        columns[name] = np.concatenate(
            [frame[name].to_numpy(dtype=object) for frame in [outliers, *churn]]
        )
    absent = sum(counts[1:])
    for name in OUTLIER_STATISTICS:
        values = outliers[name]
        if pd.api.types.is_integer_dtype(values.dtype):
            columns[name] = pd.arrays.IntegerArray(
                np.concatenate([values.to_numpy(dtype=np.int64), np.zeros(absent, np.int64)]),
                np.arange(len(values) + absent) >= len(values),
            )
        else:
            columns[name] = np.concatenate(
                [values.to_numpy(dtype=np.float64), np.full(absent, np.nan)]
            )
    return pd.DataFrame(columns)


def load_quality_report(lake: Lake, day: date) -> dict[str, pd.DataFrame]:
    """The stored quality report of `day`, part name (`REPORT_PARTS`) -> frame.

    Reads the `series` part of `QUALITY_PARTS`, and also reports stored before it existed (one
    file per report part).
    """
    if not lake.part_path(QUALITY_TABLE, day, "series").exists() and all(
        lake.part_path(QUALITY_TABLE, day, part).exists() for part in SERIES_FINDINGS
    ):
        return {part: lake.read_partition(QUALITY_TABLE, day, part) for part in REPORT_PARTS}
    series = lake.read_partition(QUALITY_TABLE, day, "series")
    report = {
        part: lake.read_partition(QUALITY_TABLE, day, part) for part in ("summary", "columns")
    }
    for part, finding in SERIES_FINDINGS.items():
        rows = series[series[FINDING_COLUMN] == finding]
        names = list(OUTLIER_COLUMNS) if part == "outliers" else list(SERIES_KEY)
        frame = rows.loc[:, names].reset_index(drop=True)
        report[part] = frame.astype(
            {n: "int64" for n in names if isinstance(frame[n].dtype, pd.Int64Dtype)}
        )
    return {part: report[part] for part in REPORT_PARTS}
