"""Turning core results into metadata an operator reads in the Dagster UI."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from dagster import MetadataValue, TableColumn, TableSchema

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from forecastops.stores.registry import VersionPages

_DAGSTER_TYPES = {"i": "int", "u": "int", "f": "float", "b": "bool", "M": "datetime"}


def column_schema(frame: pd.DataFrame) -> TableSchema:
    """The `dagster/column_schema` of a frame: column names and coarse types."""
    return TableSchema(
        columns=[
            TableColumn(name=str(name), type=_DAGSTER_TYPES.get(dtype.kind, "string"))
            for name, dtype in frame.dtypes.items()
        ]
    )


def markdown_table(frame: pd.DataFrame, max_rows: int = 20) -> str:
    """A frame as a markdown table, cut to `max_rows` with a note saying how many were left out."""
    if frame.empty:
        return "_(none)_"
    shown = frame.head(max_rows).to_markdown(index=False)
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
