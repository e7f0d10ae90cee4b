"""Queue `retrain_job` runs for the Dagster daemon: one run per cutoff day, as an operator would
from the UI's backfill dialog.

forecastops never imports Dagster. A retrain request is checked here (`plan_range`,
`plan_partitions`: real days, in order, inside the partitions that exist, at most
`MAX_PARTITIONS`) and then handed to the real `dagster job backfill -w
$FORECASTOPS_HOME/workspace.yaml -j retrain_job --partitions ... --noprompt`, run in a
subprocess against the settings' `DAGSTER_HOME` (`queue_retrain`, through
`forecastops.ops.dagster_bridge`, whose workspace names the installed code location). That
command creates the backfill and submits one run per partition to the instance's run queue; the
daemon (`forecastops up` or `make ui` starts one) starts them. How many run at once is the
instance's business: the project's `dagster.yaml` (written into `DAGSTER_HOME` by `forecastops
doctor --fix` and `make demo`) caps runs tagged `dagster/backfill` at one
(`concurrency.runs.tag_concurrency_limits`), so a long backfill never starves the daily
schedule.

Partitions. `retrain_job` is partitioned by day from `FORECASTOPS_START_DATE`; a day is a
partition once it has ended in `FORECASTOPS_TIMEZONE`, so the latest cutoff is yesterday there.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from forecastops.domain.runs import RETRAIN_JOB
from forecastops.ops.dagster_bridge import (
    DagsterCommandTimeout,
    run_dagster_command,
    write_workspace,
)
from forecastops.stores.settings import Settings

MAX_PARTITIONS = 366
"""Most cutoff days one request may queue (a year): each is a full retrain run."""
BACKFILL_TIMEOUT_S = 600
"""How long `dagster job backfill` may take to load the code location and submit the runs."""
OUTPUT_TAIL_CHARS = 2000
"""How much of a failed `dagster job backfill`'s output an error message quotes."""
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_LAUNCHED = re.compile(r"Launched backfill job `([^`]+)`")


class RetrainRefused(Exception):
    """A retrain request was refused before anything was queued.

    `field`: the input at fault (`from`, `to`, `partitions`) or None; `usage`: True when the
    input itself is wrong (the CLI exits 2 naming the flag), False when the environment is
    (exit 1).
    """

    def __init__(self, message: str, *, field: str | None = None, usage: bool = True) -> None:
        super().__init__(message)
        self.field = field
        self.usage = usage


class RetrainLaunchError(RuntimeError):
    """`dagster job backfill` failed or said something unexpected; the message quotes it."""


@dataclass(frozen=True)
class QueuedRetrain:
    """A backfill of `retrain_job` created in the instance at `dagster_home`."""

    backfill_id: str
    partitions: tuple[date, ...]
    dagster_home: Path
    warning: str | None = None
    """Why the instance may not queue the runs as the project intends (see
    `instance_config_problem`), or None."""

    @property
    def ui_path(self) -> str:
        """The backfill's page in the Dagster UI, relative to its address."""
        return f"/runs/b/{self.backfill_id}"


def latest_partition(settings: Settings, now: datetime | None = None) -> date:
    """The last daily partition that exists: yesterday in `settings.timezone`."""
    zone = ZoneInfo(settings.timezone)
    local_now = now.astimezone(zone) if now is not None else datetime.now(zone)
    return local_now.date() - timedelta(days=1)


def parse_day(value: str, field: str) -> date:
    """A `YYYY-MM-DD` day; `RetrainRefused` (usage, naming `field`) for anything else."""
    text = value.strip()
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise RetrainRefused(
            f"{value!r} is not a day; write it as YYYY-MM-DD, e.g. 2025-03-01.", field=field
        ) from None


def check_days(
    days: Sequence[date], settings: Settings, field: str, now: datetime | None = None
) -> tuple[date, ...]:
    """`days` sorted and de-duplicated, each one an existing partition of `retrain_job`, at most
    `MAX_PARTITIONS` of them; else `RetrainRefused` (usage, naming `field`)."""
    unique = tuple(sorted(set(days)))
    if not unique:
        raise RetrainRefused("no day given; name at least one cutoff day.", field=field)
    first_partition = settings.start_date
    last_partition = latest_partition(settings, now)
    early = [d for d in unique if d < first_partition]
    if early:
        raise RetrainRefused(
            f"{early[0].isoformat()} is before the first partition, "
            f"{first_partition.isoformat()} (FORECASTOPS_START_DATE); choose days from "
            f"{first_partition.isoformat()} on.",
            field=field,
        )
    late = [d for d in unique if d > last_partition]
    if late:
        raise RetrainRefused(
            f"{late[0].isoformat()} is not a partition yet: a day becomes one when it has ended "
            f"in {settings.timezone} (FORECASTOPS_TIMEZONE), so the latest cutoff is "
            f"{last_partition.isoformat()}; choose days up to it.",
            field=field,
        )
    if len(unique) > MAX_PARTITIONS:
        raise RetrainRefused(
            f"{len(unique)} days ({unique[0].isoformat()}..{unique[-1].isoformat()}) is more "
            f"than {MAX_PARTITIONS}, the most one request may queue; split it into several "
            "requests.",
            field=field,
        )
    return unique


def plan_range(
    first: str, last: str, settings: Settings, now: datetime | None = None
) -> tuple[date, ...]:
    """Every day from `first` to `last` (inclusive, `YYYY-MM-DD`), checked by `check_days`."""
    start, end = parse_day(first, "from"), parse_day(last, "to")
    if start > end:
        raise RetrainRefused(
            f"the range ends ({end.isoformat()}) before it starts ({start.isoformat()}); give a "
            "last day on or after the first.",
            field="to",
        )
    check_days([start], settings, "from", now)
    check_days([end], settings, "to", now)
    count = (end - start).days + 1
    if count > MAX_PARTITIONS:  # before building a list of a possibly huge range
        raise RetrainRefused(
            f"{start.isoformat()}..{end.isoformat()} is {count} days, more than "
            f"{MAX_PARTITIONS}, the most one request may queue; split the range.",
            field="to",
        )
    return check_days([start + timedelta(days=n) for n in range(count)], settings, "to", now)


def plan_partitions(
    partitions: str, settings: Settings, now: datetime | None = None
) -> tuple[date, ...]:
    """The comma-separated days of `partitions` (`2025-03-01,2025-03-08`), checked by
    `check_days`; duplicates are queued once."""
    items = [item.strip() for item in partitions.split(",")]
    if any(not item for item in items):
        raise RetrainRefused(
            f"{partitions!r} has an empty item; list days separated by single commas, "
            "e.g. 2025-03-01,2025-03-08.",
            field="partitions",
        )
    return check_days(
        [parse_day(item, "partitions") for item in items], settings, "partitions", now
    )


def instance_config_problem(settings: Settings) -> str | None:
    """Why the instance at `DAGSTER_HOME` would not queue runs the way the project intends, or
    None. Raises `RetrainRefused` (not usage) when it would queue them in the wrong instance."""
    config = settings.dagster_home_path / "dagster.yaml"
    if config.is_file():
        return None
    if settings.instance == "postgres":
        raise RetrainRefused(
            f"DAGSTER_HOME={settings.dagster_home_path} has no dagster.yaml, so the runs would be "
            "queued in a local SQLite instance there instead of the PostgreSQL one the daemon "
            "reads (FORECASTOPS_INSTANCE=postgres). Run `forecastops doctor --fix` (it writes "
            f"the PostgreSQL dagster.yaml to {config}), then retry.",
            usage=False,
        )
    return (
        f"DAGSTER_HOME={settings.dagster_home_path} has no dagster.yaml: Dagster's defaults "
        "apply, with no limit on concurrent backfill runs. Run `forecastops doctor --fix` to "
        "write the project's dagster.yaml there, with its limits."
    )


def backfill_command(
    days: Sequence[date],
    workspace: Path,
    tags: Mapping[str, str] | None = None,
    job: str = RETRAIN_JOB,
) -> list[str]:
    """The `dagster job backfill` command that queues one `job` run (`retrain_job` unless said)
    per day in the code location of `workspace` (`forecastops.ops.dagster_bridge.write_workspace`),
    each run carrying `tags` (if any) besides Dagster's own."""
    return [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "backfill",
        "-w",
        str(workspace),
        "-j",
        job,
        "--partitions",
        ",".join(day.isoformat() for day in days),
        *(["--tags", json.dumps(dict(tags), sort_keys=True)] if tags else []),
        "--noprompt",
    ]


def queue_retrain(
    days: Sequence[date],
    settings: Settings,
    tags: Mapping[str, str] | None = None,
    job: str = RETRAIN_JOB,
) -> QueuedRetrain:
    """Queue one `retrain_job` run per day (already checked by `check_days`) in the instance at
    `settings.dagster_home_path` with the real `dagster job backfill`, each run tagged with
    `tags` (e.g. `forecastops.domain.triggers.approval_tags`); returns the backfill. `job`:
    another daily-partitioned job to queue instead (`forecastops repair` queues
    `monitoring_job` so).

    Raises `SettingsError` when the state folders cannot be created, `RetrainRefused` when the
    instance is misconfigured (`instance_config_problem`) and `RetrainLaunchError` when the
    command fails (it loads the code location and checks the partitions before it submits any
    run, so a failure there queues nothing).
    """
    settings.ensure_folders()
    warning = instance_config_problem(settings)
    workspace = write_workspace(settings)
    try:
        result = run_dagster_command(
            backfill_command(days, workspace, tags, job), settings, BACKFILL_TIMEOUT_S
        )
    except DagsterCommandTimeout:
        raise RetrainLaunchError(
            f"`dagster job backfill` did not finish within {BACKFILL_TIMEOUT_S} s; check in the "
            f"UI (Overview > Backfills) whether the backfill was created before retrying."
        ) from None
    launched = _LAUNCHED.search(result.output)
    if result.returncode != 0 or launched is None:
        raise RetrainLaunchError(
            f"`dagster job backfill` exited with {result.returncode} without launching the "
            f"backfill (DAGSTER_HOME={settings.dagster_home_path}). Its output ends with:\n"
            f"{result.output_tail(OUTPUT_TAIL_CHARS)}"
        )
    return QueuedRetrain(launched.group(1), tuple(days), settings.dagster_home_path, warning)
