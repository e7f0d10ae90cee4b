"""How the read commands print: `--format table` for people (rich, rounded numbers, long cells
cut, at most `--limit` rows), `json` and `csv` for scripts (every row, full values).

A table on a terminal fits its width; piped or redirected it is drawn as wide as its content
(no wrapping), so `grep` and `less -S` see one line per row.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


DEFAULT_TABLE_ROWS = 50
MAX_CELL_CHARS = 60
"""Longest cell a table shows; json and csv carry the whole value."""
MISSING = "—"
"""A table cell whose value is not known (None, NaN): never shown as 0 or an empty string."""

FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        help="table (for people: rounded numbers, long cells cut, --limit rows), json or csv "
        "(for scripts: every row, full values).",
    ),
]
LimitOption = Annotated[
    int,
    typer.Option("--limit", min=0, help="Rows a table shows; 0 shows every row."),
]


def number(value: float) -> str:
    """A float as a person reads it: thousands grouped above 1,000, else 4 significant digits
    (0.2803, 1.498, 57.25)."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def cell(value: Any) -> str:
    """One value as a table cell (see `number`, `MISSING`, `MAX_CELL_CHARS`)."""
    import pandas as pd

    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list | tuple):
        text = ", ".join(cell(item) for item in value) or MISSING
    elif isinstance(value, pd.Timestamp):
        text = value.isoformat().removesuffix("T00:00:00")
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def stdout_console() -> Console:
    from rich.console import Console

    tty = sys.stdout.isatty()
    return Console(width=None if tty else 100_000, highlight=False, soft_wrap=not tty)


def print_frame(
    frame: pd.DataFrame,
    output: OutputFormat,
    limit: int = DEFAULT_TABLE_ROWS,
    *,
    title: str | None = None,
) -> None:
    """`frame` in `output`; a table shows its first `limit` rows (0: all) and says how many
    it left out and how to see them."""
    if output is OutputFormat.csv:
        typer.echo(frame.to_csv(index=False, date_format="%Y-%m-%d"), nl=False)
        return
    if output is OutputFormat.json:
        typer.echo(frame.to_json(orient="records", date_format="iso", indent=2))
        return
    from rich import box
    from rich.table import Table

    shown = frame if not limit else frame.head(limit)
    table = Table(
        box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
    )
    for name in frame.columns:
        numeric = frame[name].dtype.kind in "iuf"
        table.add_column(str(name), justify="right" if numeric else "left", overflow="fold")
    for row in shown.itertuples(index=False):
        table.add_row(*(cell(value) for value in row))
    stdout_console().print(table)
    if len(shown) < len(frame):
        typer.echo(f"{len(shown)} of {len(frame)} rows shown; --limit 0 shows all of them.")


def print_record(record: Mapping[str, Any], output: OutputFormat) -> None:
    """A nested record (`forecastops status`): json as it is; a table of one section per
    top-level key with a row per field; csv as `field,value` rows with dotted field names."""
    if output is OutputFormat.json:
        typer.echo(json.dumps(record, indent=2, default=str))
        return
    import pandas as pd

    if output is OutputFormat.csv:
        rows = list(_flatten(record))
        frame = pd.DataFrame(rows, columns=["field", "value"])
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    from rich import box
    from rich.table import Table

    console = stdout_console()
    scalars = {name: value for name, value in record.items() if not isinstance(value, Mapping)}
    sections: list[tuple[str | None, Mapping[str, Any]]] = [(None, scalars)] if scalars else []
    sections += [(name, value) for name, value in record.items() if isinstance(value, Mapping)]
    for position, (title, fields) in enumerate(sections):
        if position:
            console.print()
        table = Table(
            box=box.SIMPLE_HEAD,
            title=title,
            title_justify="left",
            title_style="bold",
            show_header=False,
            show_edge=False,
            pad_edge=False,
        )
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for field, field_value in _flatten(fields):
            table.add_row(field, cell(field_value))
        console.print(table)


def _flatten(record: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in record.items():
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner with `message` on stderr while a slow command works (only on a terminal: a
    script's stderr stays clean)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
