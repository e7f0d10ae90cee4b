"""The incident report: one operational snapshot an operator reads when something looks wrong,
written as Markdown (to read) and CSV (to parse), from plain records.

Sections, in order (`SECTIONS`):

- `report`: when it was generated (UTC) and for which model.
- `model_health`: champion and challenger versions, the champion's status (serving /
  awaiting_forecasts), its health on the report's day exactly as `forecastops status` and
  `model_health` give it (`forecastops.domain.performance.HEALTH_FIELDS`: the class healthy /
  degrading / drifting or awaiting_actuals / insufficient_data / no_baseline, realized
  MAE/WAPE over the last 7 days, the trend, ...), and whether the promotion gate passes the
  challenger.
- `drift`: the newest stored drift score: overall score, drift share, alarm, top drifted
  features, the Evidently report.
- `open_alert_counts`: open (unread or read) alerts per severity.
- `open_alerts`: those alerts, critical first, then newest first (at most `MAX_ALERTS`).
- `recent_runs`: the newest Dagster runs (`RunRecord`: job, partition, status, start, end, id).
- `promotions`: the newest alias moves of the registry's history, newest first.

CSV format (long, one value per line, so sections of any shape share one file and one
`pandas.read_csv`): columns `section, row, field, value`. `row` numbers the rows of a section
from 0 (record sections have one row); `field` is the column; `value` is text, empty when
unknown. A section with no rows is one line with empty `row`, `field` and `value`, so every
section is listed. `IncidentReport.from_csv` reads it back into frames of strings.

This module gathers nothing from Dagster: the caller passes the run records (the
`incident_report` asset reads them from its instance; `forecastops report` from
`python -m forecast_assets.run_history --json`, see docs/decisions/0006).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecastops.domain.alerts import SEVERITIES_WORST_FIRST, Severity

if TYPE_CHECKING:
    import pandas as pd

    from forecastops.domain.alerts import Alert
    from forecastops.domain.performance import PerformancePolicy
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import ModelRegistry

SECTIONS: dict[str, str] = {
    "report": "Report",
    "model_health": "Model health",
    "drift": "Drift",
    "open_alert_counts": "Open alerts by severity",
    "open_alerts": "Open alerts",
    "recent_runs": "Recent runs",
    "promotions": "Promotions",
}
"""Section name -> Markdown heading, in report order."""
RECORD_SECTIONS = frozenset({"report", "model_health", "drift", "open_alert_counts"})
"""Sections of one row, shown in Markdown as a field | value table."""
CSV_COLUMNS: tuple[str, ...] = ("section", "row", "field", "value")
MAX_ALERTS = 50
MAX_RUNS = 20
MAX_PROMOTIONS = 10
RUN_COLUMNS: tuple[str, ...] = ("job", "partition", "status", "started_at", "ended_at", "run_id")
ALERT_COLUMNS: tuple[str, ...] = (
    "id",
    "severity",
    "type",
    "title",
    "subject",
    "created_at",
    "status",
)
PROMOTION_COLUMNS: tuple[str, ...] = ("moved_at", "alias", "change", "actor", "reason")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


@dataclass(frozen=True)
class RunRecord:
    """One Dagster run as the report shows it. Times are aware UTC datetimes, None while the
    run has not started or ended; `partition` is None for an unpartitioned run."""

    run_id: str
    job: str
    status: str
    partition: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "status": self.status,
            "partition": self.partition,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> RunRecord:
        """The inverse of `to_json`; raises KeyError/ValueError for a malformed record."""
        started, ended = record.get("started_at"), record.get("ended_at")
        return cls(
            run_id=str(record["run_id"]),
            job=str(record["job"]),
            status=str(record["status"]),
            partition=record.get("partition"),
            started_at=datetime.fromisoformat(started) if started else None,
            ended_at=datetime.fromisoformat(ended) if ended else None,
        )


def runs_to_json(runs: Iterable[RunRecord]) -> str:
    return json.dumps([run.to_json() for run in runs])


def runs_from_json(text: str) -> list[RunRecord]:
    """Run records from `runs_to_json` text; raises ValueError when it is not that."""
    try:
        return [RunRecord.from_json(record) for record in json.loads(text)]
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a list of run records: {error!r}") from None


@dataclass(frozen=True)
class IncidentReport:
    """The report's sections (`SECTIONS` order), each a frame of rows x fields."""

    sections: Mapping[str, pd.DataFrame]

    def to_markdown(self) -> str:
        """A `# ForecastOps incident report` with one `## <heading>` per section."""
        parts = ["# ForecastOps incident report"]
        for name, heading in SECTIONS.items():
            frame = self.sections[name]
            parts.append(f"## {heading}\n\n{_markdown_section(frame, name in RECORD_SECTIONS)}")
        return "\n\n".join(parts) + "\n"

    def to_csv(self) -> str:
        """The long CSV described in the module docstring."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for name in SECTIONS:
            frame = self.sections[name]
            if frame.empty:
                writer.writerow([name, "", "", ""])
            for row, values in enumerate(frame.to_dict("records")):
                for field, value in values.items():
                    writer.writerow([name, row, field, _text(value)])
        return buffer.getvalue()

    @classmethod
    def from_csv(cls, path: Path) -> IncidentReport:
        """Read `to_csv` output back: each section a frame of text (missing values NaN)."""
        import pandas as pd

        long = pd.read_csv(path, dtype={"section": str, "field": str, "value": str})
        sections = {}
        for name in SECTIONS:
            rows = long[(long["section"] == name) & long["field"].notna()]
            if rows.empty:
                sections[name] = pd.DataFrame()
                continue
            wide = rows.pivot(index="row", columns="field", values="value")
            fields = list(dict.fromkeys(rows["field"]))  # the written column order
            sections[name] = wide[fields].reset_index(drop=True).rename_axis(columns=None)
        return cls(sections)


def _text(value: Any) -> str:
    """A cell as CSV text: empty for unknown, ISO 8601 for times, `repr`-exact floats."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _cell(value: Any) -> str:
    """A cell as Markdown table text: one line, pipes escaped, floats to 4 significant digits."""
    if isinstance(value, float) and not math.isnan(value):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    return " ".join(_text(value).split()).replace("|", "\\|") or "-"


def _markdown_section(frame: pd.DataFrame, record: bool) -> str:
    if frame.empty:
        return "_(none)_"
    if record:
        rows = [(field, _cell(value)) for field, value in frame.iloc[0].items()]
        lines = ["| field | value |", "|---|---|", *(f"| {f} | {v} |" for f, v in rows)]
    else:
        header = [str(column) for column in frame.columns]
        lines = [f"| {' | '.join(header)} |", "|" + "---|" * len(header)]
        lines += [
            f"| {' | '.join(_cell(value) for value in values)} |"
            for values in frame.itertuples(index=False)
        ]
    return "\n".join(lines)


def _frame(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows as a frame of Python objects (no dtype conversion: None stays None)."""
    import pandas as pd

    return pd.DataFrame(list(rows), columns=list(columns) if columns else None, dtype=object)


def _record(values: Mapping[str, Any]) -> pd.DataFrame:
    return _frame([values])


def open_alert_counts(store: AlertStore | None) -> dict[str, int]:
    """Open alerts per severity (`critical`, `warning`, `info`) and their `total`; zeros when
    there is no store yet (no alert was ever raised)."""
    counts = store.open_counts() if store is not None else dict.fromkeys(Severity, 0)
    ordered = {severity.value: counts[severity] for severity in SEVERITIES_WORST_FIRST}
    return {**ordered, "total": sum(ordered.values())}


def _model_health(
    registry: ModelRegistry | None, lake: Lake, as_of: date, policy: PerformancePolicy
) -> dict[str, Any]:
    from forecastops.domain.performance import HEALTH_FIELDS
    from forecastops.pipeline.operations import registry_status

    if registry is None:
        return {"champion_version": None, "note": "no model registry yet: run the retrain cycle"}
    status = registry_status(registry, lake, as_of, policy)
    champion = status["champion"] or {}
    challenger = status["challenger"] or {}
    return {
        "champion_version": champion.get("version"),
        "champion_status": champion.get("status"),
        "champion_training_cutoff": champion.get("training_cutoff"),
        **{name: champion.get(name) for name in HEALTH_FIELDS},
        "challenger_version": challenger.get("version"),
        "challenger_training_cutoff": challenger.get("training_cutoff"),
        "challenger_backtest_wape": (challenger.get("backtest") or {}).get("wape"),
        "challenger_promotion_eligible": challenger.get("promotion_eligible"),
    }


def _alerts_frame(alerts: Sequence[Alert]) -> pd.DataFrame:
    return _frame(
        [
            {
                "id": alert.id,
                "severity": alert.severity.value,
                "type": alert.type.value,
                "title": alert.title,
                "subject": alert.subject,
                "created_at": alert.created_at,
                "status": alert.status.value,
            }
            for alert in alerts
        ],
        ALERT_COLUMNS,
    )


def _runs_frame(runs: Sequence[RunRecord]) -> pd.DataFrame:
    return _frame(
        [{column: getattr(run, column) for column in RUN_COLUMNS} for run in runs], RUN_COLUMNS
    )


def _promotions_frame(registry: ModelRegistry | None) -> pd.DataFrame:
    from forecastops.pipeline.operations import history_frame

    if registry is None:
        return _frame([], PROMOTION_COLUMNS)
    moves = history_frame(registry)
    return moves.iloc[::-1].head(MAX_PROMOTIONS).reset_index(drop=True)


def build_incident_report(
    *,
    generated_at: datetime,
    as_of: date,
    lake: Lake,
    registry: ModelRegistry | None,
    alert_store: AlertStore | None,
    runs: Sequence[RunRecord],
    runs_source: str,
    health_policy: PerformancePolicy,
) -> IncidentReport:
    """Gather the report from the lake (drift, forecasts and actuals), the registry (None when
    there is none yet), the alert store (None when no alert was ever raised) and the newest
    runs (newest first; at most `MAX_RUNS` are shown) with where they came from (or why there
    are none). The champion's health is the one of `forecastops status` on `as_of` (the day
    the report speaks for; `operations.due_day` by default), the drift score the newest one.

    Raises the registry's `RegistryError` and the store's errors as they come.
    """
    from forecastops.pipeline.monitoring import latest_drift

    drift = latest_drift(lake)
    alerts = alert_store.open_worst_first(MAX_ALERTS) if alert_store is not None else []
    model = registry.model_name if registry is not None else None
    return IncidentReport(
        {
            "report": _record(
                {"generated_at": generated_at, "model": model, "runs_source": runs_source}
            ),
            "model_health": _record(_model_health(registry, lake, as_of, health_policy)),
            "drift": _record(drift) if drift is not None else _frame([]),
            "open_alert_counts": _record(open_alert_counts(alert_store)),
            "open_alerts": _alerts_frame(alerts),
            "recent_runs": _runs_frame(runs[:MAX_RUNS]),
            "promotions": _promotions_frame(registry),
        }
    )


def write_atomically(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder and an atomic
    rename: a reader sees the old file or the whole new one, and a failed write leaves no
    partial file. Raises OSError when the folder cannot be created or written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def report_stem(generated_at: datetime) -> str:
    """The file name stem of a report generated at `generated_at` (UTC), e.g.
    `incident_report_20250301T060000Z`."""
    return f"incident_report_{generated_at.strftime('%Y%m%dT%H%M%SZ')}"
