"""Benchmark: a two-year single-run backfill of 1,000 series through Dagster.

Prints one table: simulating the landing files; the core alone (`ingest_days` +
`build_quality_reports` into a fresh lake, no Dagster); then `ingest_job` over the whole range as
one run (raw_sales with its contract checks + sales_quality_report) on a temporary Dagster
instance, with rows/s, the events the run stored and peak memory; and the code location's load
time (import, and `dg check defs`).

A range run stores one planned and one materialization event per partition and asset (SQLite:
two transactions each, on the run's and the asset index's database), so on the default SQLite
instance the event log, not our code, sets the floor. `--dagster-floor` adds a row that measures
it: the same run shape with assets that do nothing.

Wall and CPU seconds are both shown: on a shared host wall time swings with the load (the load
average before and after is printed), CPU time much less; wall well above CPU means waiting for
the cores or the disk.

    .venv/bin/python benchmarks/ingest.py [--stores 10] [--products 100] [--days 730]
                                          [--dagster-floor]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[1]
START = date(2024, 1, 1)
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    what: str
    wall: float
    cpu: float | None = None
    volume: str = ""
    throughput: str = ""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """`call()`, its wall seconds and this process's CPU seconds (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _timed_subprocess(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _noop_job(days: int) -> dg.JobDefinition:
    """`ingest_job`'s shape with nothing inside: two daily single-run assets, a blocking check."""
    partitions = dg.DailyPartitionsDefinition(start_date=START.isoformat())

    @dg.asset(
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[dg.AssetCheckSpec("contract", asset="noop_raw", blocking=True)],
    )
    def noop_raw() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            metadata={"days": days},
            check_results=[dg.AssetCheckResult(check_name="contract", passed=True)],
        )

    @dg.asset(
        partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run(), deps=[noop_raw]
    )
    def noop_report() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"days": days})

    job = dg.define_asset_job("noop_ingest_job", selection=[noop_raw, noop_report])
    return dg.Definitions(assets=[noop_raw, noop_report], jobs=[job]).resolve_job_def(job.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument(
        "--dagster-floor",
        action="store_true",
        help="also time the same run with no-op assets (what Dagster's event log alone costs)",
    )
    args = parser.parse_args()
    load_before = _load()

    home = Path(tempfile.mkdtemp(prefix="forecastops-bench-"))
    os.environ.update(
        FORECASTOPS_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        FORECASTOPS_START_DATE=START.isoformat(),
    )
    (home / "dagster").mkdir()

    from forecast_jobs.definitions import defs
    from forecast_jobs.launch import execute_partition_range
    from forecastops.domain.simulator import SimulationSpec, write_landing_files
    from forecastops.pipeline.ingest import build_quality_reports, ingest_days
    from forecastops.stores.lake import Lake
    from forecastops.stores.settings import load_settings

    last = START + timedelta(days=args.days - 1)
    days = [START + timedelta(days=offset) for offset in range(args.days)]
    spec = SimulationSpec(start=START, end=last, stores=args.stores, products=args.products, seed=1)
    rows: list[Row] = []

    files, wall, cpu = _timed(lambda: write_landing_files(spec, home / "landing"))
    rows.append(Row("simulate + write landing csv", wall, cpu, f"{len(files)} files"))

    core_lake = Lake(home / "core-lake")
    history_days = load_settings().quality_history_days
    _, wall, cpu = _timed(
        lambda: (
            ingest_days(core_lake, home / "landing", days),
            build_quality_reports(core_lake, days, history_days),
        )
    )
    rows.append(Row("core alone (no Dagster), same range", wall, cpu))

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        job = defs.resolve_job_def("ingest_job")
        result, wall, cpu = _timed(lambda: execute_partition_range(job, START, last, instance))
        step_stats = instance.get_run_step_stats(result.run_id)
        events = len(instance.all_logs(result.run_id))
        lake = Lake(home / "lake")
        [(stored_rows,)] = lake.connect().sql("SELECT count(*) FROM raw_sales").fetchall()
        rows.append(
            Row(
                f"ingest_job, one run, {args.days} partitions",
                wall,
                cpu,
                f"{stored_rows:,} rows",
                f"{stored_rows / wall:,.0f} rows/s",
            )
        )
        rows.extend(
            Row(f"  step {step.step_key}", (step.end_time or 0) - (step.start_time or 0))
            for step in step_stats
        )
        rows.append(Row("  events the run stored", 0.0, None, f"{events:,} events"))
        if args.dagster_floor:
            noop = _noop_job(args.days)
            floor, wall, cpu = _timed(lambda: execute_partition_range(noop, START, last, instance))
            floor_events = len(instance.all_logs(floor.run_id))
            rows.append(Row("same run, no-op assets", wall, cpu, f"{floor_events:,} events"))

    env = dict(os.environ)
    wall, cpu = _timed_subprocess([sys.executable, "-c", "import forecast_jobs.definitions"], env)
    rows.append(Row("code location import", wall, cpu))
    wall, cpu = _timed_subprocess([str(REPO_ROOT / ".venv" / "bin" / "dg"), "check", "defs"], env)
    rows.append(Row("dg check defs (CLI wall time)", wall, cpu))

    print(
        f"\nIngest benchmark: {args.stores} stores x {args.products} products x {args.days} days"
        f" ({os.cpu_count()} cores), peak RSS {_peak_rss_mb():,.0f} MB, load average (1/5/15 min)"
        f" {load_before} before, {_load()} after\n"
    )
    print(f"| {'what':<42} | {'wall s':>8} | {'CPU s':>8} | {'volume':>14} | {'throughput':>16} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 10}|{'-' * 16}|{'-' * 18}|")
    for row in rows:
        wall_text = f"{row.wall:>8.2f}" if row.wall else f"{'':>8}"
        cpu_text = f"{row.cpu:>8.2f}" if row.cpu is not None else f"{'':>8}"
        print(
            f"| {row.what:<42} | {wall_text} | {cpu_text} | {row.volume:>14} "
            f"| {row.throughput:>16} |"
        )


if __name__ == "__main__":
    main()
