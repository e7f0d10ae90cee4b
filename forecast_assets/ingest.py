"""Data plane assets: landing files -> `raw_sales` (with its contract checks) -> quality report."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time. pandas and the core's ingest module (pandera) load inside the bodies, keeping the code
# location fast to load.
import warnings
from datetime import date
from typing import TYPE_CHECKING, Any

import dagster as dg

from forecast_assets.alerting import record_alerts, run_links
from forecast_assets.metadata import column_schema, frame_table, markdown_table, rounded
from forecast_assets.partitions import daily_partitions, partition_days
from forecastops.stores.settings import load_settings
from resources.alerts import AlertStoreResource
from resources.storage import LakeStorage, LandingSalesSource

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from forecastops.pipeline.ingest import DayIngest

# The single-run backfill policy below is what makes a range of days one run; Dagster marks the
# parameter beta and warns on every load of the code location.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

CONTRACT_CHECK = "sales_contract"
EXTRA_COLUMNS_CHECK = "no_unexpected_columns"
LANDING_NAMES_CHECK = "landing_files_named_for_a_day"
ROW_COUNT_CHECK = "row_count_near_history"
ROW_COUNT_RATIO_BOUNDS = (0.5, 2.0)
MAX_DAYS_LISTED = 31
"""Most days a check's report lists (a check is evaluated once per run)."""
MAX_NOTABLE_DAYS_LISTED = 10
"""Most notable days (rejected, or off the row-count bounds) a materialization's day table lists
besides the run's first and last day. Dagster copies a range run's metadata onto the event of
every partition in it, so that metadata stays a summary; the lake holds every day."""
SUMMARY_COLUMNS_LISTED = (
    "date",
    "row_count",
    "row_count_ratio",
    "duplicate_rows",
    "zero_sales_share",
    "outlier_count",
    "new_series_count",
    "vanished_series_count",
    "missing_cells",
)
"""The quality summary columns of the day table (`outlier_rule` is in each day's report)."""


class RawSalesConfig(dg.Config):
    """How a day that passes the contract with far fewer rows than usual is treated."""

    min_delivery_share: float = load_settings().min_delivery_share
    accept_partial_delivery: bool = False
    """True: the operator confirms that the days of this run really had that few series."""


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="ingest",
    kinds={"pandas", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset="raw_sales",
            blocking=True,
            description="The landing file meets the sales contract; nothing downstream runs "
            "from a day that breaks it.",
        ),
        dg.AssetCheckSpec(
            EXTRA_COLUMNS_CHECK,
            asset="raw_sales",
            description="The landing file carries no columns beyond the contract (a warning).",
        ),
        dg.AssetCheckSpec(
            LANDING_NAMES_CHECK,
            asset="raw_sales",
            description="Every sales_* file in the landing folder is named for a real day "
            "(sales_YYYY-MM-DD.csv|parquet); a misnamed one is read by no partition (a warning).",
        ),
    ],
)
def raw_sales(
    context: dg.AssetExecutionContext,
    config: RawSalesConfig,
    landing: LandingSalesSource,
    storage: LakeStorage,
    alert_store: AlertStoreResource,
) -> dg.MaterializeResult:
    """Each day's landing file, validated against the contract and stored in the lake. Each
    rejected day raises a critical contract_break alert."""
    from forecastops.domain.contract import LandingFileError
    from forecastops.pipeline.alerts import contract_break_alerts
    from forecastops.pipeline.ingest import ingest_days

    try:
        outcomes = ingest_days(
            storage.lake,
            landing.path,
            partition_days(context),
            config.min_delivery_share,
            config.accept_partial_delivery,
        )
    except (FileNotFoundError, LandingFileError) as error:  # nothing was written
        raise dg.Failure(description=str(error)) from error
    alerts = record_alerts(
        context,
        alert_store,
        contract_break_alerts(outcomes, run_links(context, alert_store, "raw_sales")),
    )
    stored_rows = sum(o.contract.row_count for o in outcomes if o.passed)
    first = next((o.contract.validated for o in outcomes if o.passed), None)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stored_rows,
            "days": len(outcomes),
            "days_rejected": sum(not o.passed for o in outcomes),
            "lake_table": dg.MetadataValue.path(str(storage.lake.table_path("raw_sales"))),
            "landing_files": dg.MetadataValue.md(_landing_table(outcomes)),
            **({"dagster/column_schema": column_schema(first)} if first is not None else {}),
        },
        check_results=[
            _contract_check(outcomes, alerts),
            _extra_columns_check(outcomes),
            _landing_names_check(landing.path),
        ],
    )


def _landing_table(outcomes: "list[DayIngest]") -> str:
    """Day, rows, verdict, file and checksum of the rejected days and the first and last day;
    every day's is in the lake's `sales_contract` table."""
    import pandas as pd

    rows = pd.DataFrame(
        {
            "day": [o.day.isoformat() for o in outcomes],
            "rows": [o.contract.row_count for o in outcomes],
            "contract": ["pass" if o.passed else "FAIL" for o in outcomes],
            "source": [o.source.name for o in outcomes],
            "sha256": [o.source_sha256[:12] for o in outcomes],
        }
    )
    return _day_table(
        rows,
        rows["contract"] == "FAIL",
        'every day\'s file and checksum: `forecastops sql "SELECT * FROM sales_contract"`',
    )


def _day_table(days: "pd.DataFrame", notable: "pd.Series", more: str) -> str:
    """Markdown of the `notable` days of `days` (one row per day, in day order): the first
    `MAX_NOTABLE_DAYS_LISTED` of them, then the first and the last day, and a note on the rest
    ending with `more` (where to find every day)."""
    import numpy as np

    flagged = np.flatnonzero(notable.to_numpy())
    positions = list(dict.fromkeys([*flagged[:MAX_NOTABLE_DAYS_LISTED], 0, len(days) - 1]))
    table = markdown_table(days.iloc[positions], len(positions))
    left_out = len(days) - len(positions)
    if not left_out:
        return table
    unlisted = len(flagged) - min(len(flagged), MAX_NOTABLE_DAYS_LISTED)
    notable_note = f", {unlisted} of them notable" if unlisted else ""
    return f"{table}\n\n_…and {left_out} more days{notable_note}; {more}._"


def _contract_check(outcomes: "list[DayIngest]", alerts: dict[str, Any]) -> dg.AssetCheckResult:
    rejected = [o for o in outcomes if not o.passed]
    report = "\n\n".join(
        f"### {o.day.isoformat()} — `{o.source}`\n\n{o.contract.to_markdown()}"
        for o in rejected[:MAX_DAYS_LISTED]
    )
    return dg.AssetCheckResult(
        check_name=CONTRACT_CHECK,
        passed=not rejected,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(rejected)} of {len(outcomes)} day(s) break the contract; fix the landing "
            "file(s) and re-materialize those partitions."
            if rejected
            else f"All {len(outcomes)} day(s) meet the contract."
        ),
        metadata={
            "rejected_days": [o.day.isoformat() for o in rejected],
            "failure_cases": dg.MetadataValue.md(report or "No failures."),
            "failure_count": sum(len(o.contract.failures) for o in rejected),
            **alerts,
        },
    )


def _extra_columns_check(outcomes: "list[DayIngest]") -> dg.AssetCheckResult:
    extras = {o.day.isoformat(): list(o.contract.extra_columns) for o in outcomes}
    with_extras = {day: columns for day, columns in extras.items() if columns}
    return dg.AssetCheckResult(
        check_name=EXTRA_COLUMNS_CHECK,
        passed=not with_extras,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(with_extras)} day(s) carry columns beyond the contract; they are kept in the "
            "lake but not used by the model."
            if with_extras
            else "No unexpected columns."
        ),
        metadata={"extra_columns_by_day": with_extras},
    )


def _landing_names_check(landing_dir: "Path") -> dg.AssetCheckResult:
    from forecastops.domain.contract import landing_file_name, unrecognized_landing_files

    misnamed = unrecognized_landing_files(landing_dir)
    example = landing_file_name(date(2025, 3, 1))
    return dg.AssetCheckResult(
        check_name=LANDING_NAMES_CHECK,
        passed=not misnamed,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(misnamed)} file(s) in {landing_dir} are named for no day, so no partition "
            f"reads them: rename each to its day ({example}) or move it out of the folder."
            if misnamed
            else "Every sales_* landing file is named for a day."
        ),
        metadata={"misnamed_files": [path.name for path in misnamed[:MAX_DAYS_LISTED]]},
    )


class QualityReportConfig(dg.Config):
    """How much validated history each day's quality report is compared with."""

    history_days: int = load_settings().quality_history_days


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[raw_sales],
    group_name="ingest",
    kinds={"pandas", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            ROW_COUNT_CHECK,
            asset="sales_quality_report",
            description="Each day's row count is within "
            f"{ROW_COUNT_RATIO_BOUNDS[0]}x..{ROW_COUNT_RATIO_BOUNDS[1]}x of its history's mean.",
        )
    ],
)
def sales_quality_report(
    context: dg.AssetExecutionContext, config: QualityReportConfig, storage: LakeStorage
) -> dg.MaterializeResult:
    """Per day: missingness, duplicates, robust outliers, row count vs history, zero share,
    new and vanished series; stored in the lake (`forecastops quality --date D` prints it)."""
    import pandas as pd

    from forecastops.pipeline.ingest import build_quality_reports

    try:
        reports = build_quality_reports(storage.lake, partition_days(context), config.history_days)
    except FileNotFoundError as error:
        raise dg.Failure(description=str(error)) from error
    summaries = pd.DataFrame([report.summary for report in reports])
    latest = reports[-1]
    ratio = pd.to_numeric(summaries["row_count_ratio"], errors="coerce")
    is_off = (ratio < ROW_COUNT_RATIO_BOUNDS[0]) | (ratio > ROW_COUNT_RATIO_BOUNDS[1])
    off = summaries[is_off]
    # a range run's metadata lands on every partition's event: one day's report only for one day
    one_day = (
        {"latest_report": dg.MetadataValue.md(latest.to_markdown())} if len(reports) == 1 else {}
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(summaries),
            "dagster/column_schema": column_schema(summaries),
            "latest_day": latest.partition_date.isoformat(),
            **one_day,
            "days": dg.MetadataValue.md(
                _day_table(
                    summaries.loc[:, list(SUMMARY_COLUMNS_LISTED)],
                    is_off,
                    "each day's full report: `forecastops quality --date YYYY-MM-DD`",
                )
            ),
            "zero_sales_share": rounded(float(latest.summary["zero_sales_share"])),
            "outlier_count": int(latest.summary["outlier_count"]),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=ROW_COUNT_CHECK,
                passed=off.empty,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "days_off": frame_table(off, MAX_DAYS_LISTED),
                    "days_off_count": len(off),
                },
            )
        ],
    )
