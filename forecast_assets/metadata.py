"""Turning core results into metadata an operator reads in the Dagster UI."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from forecastops.stores.registry import VersionPages

_DAGSTER_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime"}

SIGNIFICANT_DIGITS = 4
"""Digits an operator reads on an asset page: 0.2843 and 1,235 units, not 1.497503256621798."""

Cell = str | int | float | bool | None


def column_schema(frame: pd.DataFrame) -> TableSchema:
    """The `dagster/column_schema` of a frame: column names and coarse types."""
    return TableSchema(
        columns=[
            TableColumn(name=str(name), type=_DAGSTER_TYPES.get(dtype.kind, "string"))
            for name, dtype in frame.dtypes.items()
        ]
    )


def rounded(value: float) -> float:
    """`value` to `SIGNIFICANT_DIGITS` significant digits, but never rounding away whole units
    (12,345.6 -> 12,346, 1.4975 -> 1.498, 0.000123456 -> 0.0001235); 0, NaN and inf unchanged."""
    import math

    if value == 0 or not math.isfinite(value):
        return value
    magnitude = math.floor(math.log10(abs(value)))
    return round(value, max(0, SIGNIFICANT_DIGITS - 1 - magnitude))


def _cell(value: object) -> Cell:
    """A frame value as a table cell: floats rounded, a missing value empty (None, never 0),
    numpy scalars as Python ones, infinities, timestamps and anything else as text."""
    import math

    import numpy as np
    import pandas as pd

    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return rounded(value) if math.isfinite(value) else str(value)  # JSON has no inf
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()  # a day, not midnight of it
    return str(value)


def frame_table(frame: pd.DataFrame, max_rows: int = 20) -> MetadataValue:
    """A frame as a native Dagster table (sortable, not clipped, typed by `column_schema`), its
    first `max_rows` rows with rounded floats; callers state how many rows there are in total
    (e.g. `dagster/row_count`) when the frame can be longer."""
    shown = frame.head(max_rows)
    records = [
        TableRecord(data={str(name): _cell(value) for name, value in row.items()})
        for row in shown.to_dict(orient="records")
    ]
    return MetadataValue.table(records=records, schema=column_schema(frame))


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A frame as a markdown table (for tables inside prose), floats rounded, cut to `max_rows`
    with a note saying how many were left out."""
    if frame.empty:
        return "_(none)_"
    shown = (
        frame.head(max_rows)
        .map(lambda value: rounded(value) if isinstance(value, float) else value)
        .to_markdown(index=False)
    )
    left_out = len(frame) - max_rows
    return shown + (f"\n\n_…and {left_out} more rows._" if left_out > 0 else "")


def overall_table_markdown(overall: pd.DataFrame) -> str:
    """A backtest's overall metrics (one row per candidate: every `METRIC_COLUMNS` metric, the
    ranking's order) as a markdown table, followed by why each unknown metric is unknown (e.g.
    MAPE without a day with demand)."""
    from forecastops.domain.metrics import METRIC_COLUMNS, undefined_notes

    notes = undefined_notes(overall, "candidate")
    table = markdown_table(overall[["candidate", *METRIC_COLUMNS]])
    return table + (f"\n\nUnknown metrics:\n{notes}" if notes else "")


def png_markdown(path: Path, title: str) -> str:
    """A PNG file as a markdown image embedded in the text (a data URI), for `MetadataValue.md`."""
    encoded = base64.b64encode(path.read_bytes()).decode()
    return f"![{title}](data:image/png;base64,{encoded})"


def mlflow_links(pages: VersionPages) -> dict[str, MetadataValue]:
    """A model version's MLflow UI pages as URL metadata: `mlflow_model_version`, `mlflow_run`,
    `mlflow_experiment` and (when it has one) `mlflow_logged_model`."""
    links: dict[str, MetadataValue] = {
        "mlflow_model_version": MetadataValue.url(pages.model_version),
        "mlflow_run": MetadataValue.url(pages.run),
        "mlflow_experiment": MetadataValue.url(pages.experiment),
    }
    if pages.logged_model:
        links["mlflow_logged_model"] = MetadataValue.url(pages.logged_model)
    return links
