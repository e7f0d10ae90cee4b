"""Benchmark: one landing day of 1,000,000 rows, ingested by the core, beside a bare floor.

A large retailer's day (e.g. 1,000 stores x 1,000 products) must pass the contract like any
other day. This writes one such CSV and measures, each in a fresh subprocess (so peak memory is
that step's alone):

- floor: `pandas.read_csv` of the file and `DataFrame.to_parquet`, no checks (what any
  ingest has to pay);
- ours: `forecastops.pipeline.ingest.ingest_days` for that day: read, the pandera contract with
  its strict coercions and id/date rules, the lake write with its contract record.

Wall and CPU seconds and the peak RSS are printed side by side, with the load average before and
after (wall time swings with the host's load; CPU time much less).

    .venv/bin/python benchmarks/big_day.py [--stores 1000] [--products 1000]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2025, 3, 1)

FLOOR = """
import sys, pandas as pd
frame = pd.read_csv(sys.argv[1], dtype={"store_id": str, "product_id": str})
frame.to_parquet(sys.argv[2])
"""

OURS = """
import sys
from datetime import date
from pathlib import Path
from forecastops.pipeline.ingest import ingest_days
from forecastops.stores.lake import Lake
landing, lake = Path(sys.argv[1]).parent, Lake(Path(sys.argv[2]))
[outcome] = ingest_days(lake, landing, [date.fromisoformat(sys.argv[3])])
assert outcome.passed, outcome.contract.failure_summary()
"""


def _load() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


REPORT_PEAK = """
import re
print(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
"""
"""Appended to each measured script: the process prints its own peak RSS (KiB) last. VmHWM, not
ru_maxrss: Linux keeps ru_maxrss across fork + exec, so a child would report its parent's."""


def _measure(code: str, *args: str) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of `python -c code args` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT_PEAK, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--products", type=int, default=1000)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd

    from forecastops.domain.contract import landing_file_name

    rows = args.stores * args.products
    folder = Path(tempfile.mkdtemp(prefix="forecastops-big-day-"))
    landing = folder / "landing"
    landing.mkdir()
    path = landing / landing_file_name(DAY)
    generator = np.random.default_rng(1)
    pd.DataFrame(
        {
            "date": DAY.isoformat(),
            "store_id": np.repeat([f"S{i:05d}" for i in range(args.stores)], args.products),
            "product_id": np.tile([f"P{i:05d}" for i in range(args.products)], args.stores),
            "units_sold": generator.poisson(3.0, rows),
            "price": generator.uniform(0.5, 50.0, rows).round(2),
            "on_promotion": generator.integers(0, 2, rows),
        }
    ).to_csv(path, index=False)
    load_before = _load()
    floor = _measure(FLOOR, str(path), str(folder / "floor.parquet"))
    ours = _measure(OURS, str(path), str(folder / "lake"), DAY.isoformat())

    print(
        f"\nOne landing day of {rows:,} rows ({path.stat().st_size / 1e6:,.0f} MB CSV), "
        f"{os.cpu_count()} cores, load average (1/5/15 min) {load_before} before, "
        f"{_load()} after\n"
    )
    print(f"| {'what':<52} | {'wall s':>7} | {'CPU s':>7} | {'peak RSS MB':>11} | {'rows/s':>10} |")
    print(f"|{'-' * 54}|{'-' * 9}|{'-' * 9}|{'-' * 13}|{'-' * 12}|")
    for what, (wall, cpu, rss) in (
        ("floor: pandas read_csv + to_parquet, no checks", floor),
        ("ours: ingest_days (contract + lake + record)", ours),
    ):
        print(
            f"| {what:<52} | {wall:>7.2f} | {cpu:>7.2f} | {rss:>11,.0f} | {rows / wall:>10,.0f} |"
        )


if __name__ == "__main__":
    main()
