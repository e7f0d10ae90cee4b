"""`dagster-daemon` on a simulated clock: a test moves the daemon's time, the daemon stays real.

    python simulated_clock_daemon.py CLOCK_FILE run -w workspace.yaml

runs the real `dagster-daemon` command line (scheduler, sensors, run queue, retries, ...) in
this process, with Dagster's clock (`dagster._time`, the one Dagster's own tests freeze with
`dagster._core.test_utils.freeze_time`) reading the POSIX timestamp in CLOCK_FILE. The clock
stands still at that instant until the test writes the next one (`SimulatedClock.set`), so the
scheduler fires every cron time the test steps over, at that cron time, as it would when the
day comes. Only this process is on the simulated clock: the code server and the run workers it
starts keep the real one (a run executes now, for the partition its tick asked for).

It is started by file path, not as a module, so it needs nothing of the test package.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path


class SimulatedClock:
    """The instant in `path`: written by the test, read by the daemon at every clock reading."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, instant: datetime) -> None:
        """Move the daemon's clock to `instant` (timezone-aware); atomic for the reader."""
        staging = self.path.with_suffix(".next")
        staging.write_text(repr(instant.timestamp()))
        staging.replace(self.path)

    def timestamp(self) -> float:
        return float(self.path.read_text())


def main() -> int:
    import dagster._time as dagster_clock
    from dagster._daemon.cli import main as daemon_cli

    clock = SimulatedClock(Path(sys.argv[1]))
    clock.timestamp()  # fail now, not in a daemon thread, if the test wrote no instant
    hooks = ("_mockable_get_current_timestamp", "_mockable_get_current_datetime")
    missing = [name for name in hooks if not hasattr(dagster_clock, name)]
    if missing:  # a Dagster upgrade renamed them: setting them would change nothing
        raise SystemExit(f"dagster._time has no {', '.join(missing)}: update this helper")
    dagster_clock._mockable_get_current_timestamp = clock.timestamp  # type: ignore[assignment]
    dagster_clock._mockable_get_current_datetime = lambda: datetime.fromtimestamp(  # type: ignore[assignment]
        clock.timestamp(), UTC
    )
    sys.argv = ["dagster-daemon", *sys.argv[2:]]
    daemon_cli()
    return 0


if __name__ == "__main__":
    sys.exit(main())
