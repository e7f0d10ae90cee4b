"""Benchmark: a two-year single-run backfill of 1,000 series through Dagster.

Prints one table: simulating the landing files, then `ingest_job` over the whole range as one run
(raw_sales with its contract checks + sales_quality_report) on a temporary Dagster instance,
with rows/s and peak memory; and the code location's load time (import, and `dg check defs`).

    .venv/bin/python benchmarks/ingest.py [--stores 10] [--products 100] [--days 730]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
START = date(2024, 1, 1)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed_subprocess(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="forecastops-bench-"))
    os.environ.update(
        FORECASTOPS_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        FORECASTOPS_START_DATE=START.isoformat(),
    )
    (home / "dagster").mkdir()

    import dagster as dg

    from forecast_jobs.definitions import defs
    from forecast_jobs.launch import execute_partition_range
    from forecastops.lake import Lake
    from forecastops.simulator import SimulationSpec, write_landing_files

    last = START + timedelta(days=args.days - 1)
    spec = SimulationSpec(start=START, end=last, stores=args.stores, products=args.products, seed=1)
    rows: list[tuple[str, float, str, str]] = []

    started = time.perf_counter()
    files = write_landing_files(spec, home / "landing")
    rows.append(
        ("simulate + write landing csv", time.perf_counter() - started, f"{len(files)} files", "")
    )

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        started = time.perf_counter()
        result = execute_partition_range(defs.resolve_job_def("ingest_job"), START, last, instance)
        elapsed = time.perf_counter() - started
        step_stats = instance.get_run_step_stats(result.run_id)
    lake = Lake(home / "lake")
    [(stored_rows,)] = lake.connect().sql("SELECT count(*) FROM raw_sales").fetchall()
    rows.append(
        (
            f"ingest_job, one run, {args.days} partitions",
            elapsed,
            f"{stored_rows:,} rows",
            f"{stored_rows / elapsed:,.0f} rows/s",
        )
    )
    for step in step_stats:
        rows.append(
            (f"  step {step.step_key}", (step.end_time or 0) - (step.start_time or 0), "", "")
        )

    env = dict(os.environ)
    load = _timed_subprocess([sys.executable, "-c", "import forecast_jobs.definitions"], env)
    rows.append(("code location import", load, "", ""))
    check = _timed_subprocess([str(REPO_ROOT / ".venv" / "bin" / "dg"), "check", "defs"], env)
    rows.append(("dg check defs (CLI wall time)", check, "", ""))

    print(
        f"\nIngest benchmark: {args.stores} stores x {args.products} products x {args.days} days"
        f" ({os.cpu_count()} cores), peak RSS {_peak_rss_mb():,.0f} MB\n"
    )
    print(f"| {'what':<42} | {'seconds':>8} | {'volume':>14} | {'throughput':>16} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 16}|{'-' * 18}|")
    for what, seconds, volume, throughput in rows:
        print(f"| {what:<42} | {seconds:>8.2f} | {volume:>14} | {throughput:>16} |")


if __name__ == "__main__":
    main()
