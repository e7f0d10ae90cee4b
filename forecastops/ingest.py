"""Landing files -> the validated `raw_sales` lake table, and the per-day quality report.

Every day is handled whole: its landing file is read, checked against the contract and then
either written to the lake (contract columns coerced, extra columns kept as delivered) or, when
the contract breaks, kept out of the lake (any earlier partition of that day is removed, so a
broken delivery can never feed training) with its failure cases stored in the quarantine table.
A contract record per day says which happened; the landing file itself is never touched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from forecastops.contract import (
    ContractResult,
    LandingFileError,
    find_landing_file,
    read_landing_file,
    validate_sales_batch,
)
from forecastops.lake import Lake
from forecastops.quality import QualityReport
from forecastops.quality import build_quality_reports as build_reports

RAW_SALES_TABLE = "raw_sales"
CONTRACT_TABLE = "sales_contract"
QUARANTINE_TABLE = "raw_sales_quarantine"
QUALITY_TABLE = "sales_quality_report"
QUALITY_PARTS = ("summary", "columns", "outliers", "new_series", "vanished_series")
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


def _store(lake: Lake, outcome: DayIngest, frame: pd.DataFrame | LandingFileError) -> None:
    contract = outcome.contract
    if contract.passed and isinstance(frame, pd.DataFrame):
        stored = contract.validated.join(frame[list(contract.extra_columns)])
        lake.write_partition(RAW_SALES_TABLE, outcome.day, {"data": stored})
        lake.delete_partition(QUARANTINE_TABLE, outcome.day)
    else:
        lake.delete_partition(RAW_SALES_TABLE, outcome.day)
        lake.write_partition(
            QUARANTINE_TABLE, outcome.day, {"data": contract.failures.astype({"failure_case": str})}
        )
    lake.write_partition(CONTRACT_TABLE, outcome.day, {"data": _contract_record(outcome)})


def ingest_days(lake: Lake, landing_dir: Path, days: Sequence[date]) -> list[DayIngest]:
    """Read, validate and store each day's landing file (see the module docstring).

    All landing files must exist before any day is written. The contract runs over all
    readable days at once (`validate_sales_batch`), with the same verdicts as day by day.
    """
    sources = locate_landing_files(landing_dir, days)
    frames = {day: _read(sources[day]) for day in days}
    readable = {day: f for day, f in frames.items() if isinstance(f, pd.DataFrame)}
    verdicts = validate_sales_batch(readable)
    outcomes = []
    for day in days:
        frame = frames[day]
        contract = (
            verdicts[day]
            if isinstance(frame, pd.DataFrame)
            else ContractResult.unreadable(str(frame))
        )
        outcome = DayIngest(
            day=day, source=sources[day], source_sha256=_sha256(sources[day]), contract=contract
        )
        _store(lake, outcome, frame)
        outcomes.append(outcome)
    return outcomes


def build_quality_reports(
    lake: Lake, days: Sequence[date], history_days: int
) -> list[QualityReport]:
    """Build and store the quality report of each day from the validated lake.

    The lake is read once for the whole range plus `history_days` of lead-in and the reports
    are computed together (`forecastops.quality.build_quality_reports`).
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
    for report in reports:
        lake.write_partition(
            QUALITY_TABLE,
            report.partition_date,
            {part: _quality_part(report, part) for part in QUALITY_PARTS},
        )
    return reports


def _quality_part(report: QualityReport, part: str) -> pd.DataFrame:
    if part == "summary":
        return report.summary_frame()
    frame: pd.DataFrame = getattr(report, part)
    return frame


def load_quality_report(lake: Lake, day: date) -> dict[str, pd.DataFrame]:
    """The stored quality report of `day`, part name -> frame."""
    return {part: lake.read_partition(QUALITY_TABLE, day, part) for part in QUALITY_PARTS}
