"""Repairing what was computed from a gap once the day is delivered (decision 0020).

A day whose landing file broke the contract (or that was not delivered) has no `raw_sales`
partition, so the partitions computed while it was missing read it as unknown: the features,
challenger, backtest and forecasts of every cutoff whose training window covers it, the drift
score of every day whose current window covers it, and the champion's health of every day whose
realized-accuracy span covers it. When the day is re-delivered and passes the contract, those
partitions are *stale*: stored before the day's passing contract record (`checked_at`) and
reading it.

`plan_repair` lists them and says which are worth recomputing:

When no cycle ran from the day or after it (the rejected day was the newest, and the rejection
stopped its own cycle), the day itself counts as a stale cutoff and monitoring day: its cycle is
what the repair runs.

- the retrain cycle (`retrain_job`) of the newest stale cutoff only: it trains the challenger
  that may become champion. Older cutoffs' models and forecasts are history (their forecasts
  are what the champion's health scores, so rewriting them would rewrite what was forecast);
  they stay as they are and are listed as left stale.
- the monitoring (`drift_score`, `model_health`) of the newest `MAX_MONITORING_REPAIRS` stale
  days: the latest ones drive the retrain trigger and the status table, and each is one cheap
  run. Older ones are listed as left stale.

The plan is keyed by the delivery that repaired the day (its checksum), so the repair of one
delivery is requested once, and a later re-delivery is a new repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from forecastops.domain.performance import RECENT_WINDOW_DAYS
from forecastops.domain.runs import REPAIR_TAG
from forecastops.pipeline.cycle import FEATURES_TABLE
from forecastops.pipeline.ingest import CONTRACT_TABLE, RAW_SALES_TABLE
from forecastops.pipeline.monitoring import CURRENT_WINDOW_DAYS, DRIFT_TABLE, PERFORMANCE_TABLE
from forecastops.stores.lake import Lake

if TYPE_CHECKING:
    from forecastops.domain.alerts import Alert
    from forecastops.stores.alerts.store import AlertStore

MAX_MONITORING_REPAIRS = 7
"""Most stale monitoring days (drift score + health) one repair recomputes, newest first: a
week keeps the trigger's recent signals and the week's status true; each is one run."""


@dataclass(frozen=True)
class RepairWindows:
    """How far a day's data reaches downstream, in days (from the policies' settings).

    `training_days`: what a cutoff's features read (training window + feature lookback);
    `drift_days`: the drift score's current window + feature lookback; `health_days`: the span
    of realized accuracy the champion's health reads."""

    training_days: int
    drift_days: int
    health_days: int

    @classmethod
    def from_policy(
        cls, training_window_days: int, lookback_days: int, health_window_days: int
    ) -> RepairWindows:
        return cls(
            training_days=training_window_days + lookback_days,
            drift_days=CURRENT_WINDOW_DAYS + lookback_days,
            health_days=max(health_window_days, 2 * RECENT_WINDOW_DAYS),
        )


@dataclass(frozen=True)
class RepairPlan:
    """What re-delivering `day` makes stale and what the repair recomputes (module docstring).

    `delivery`: the first 12 hex digits of the passing landing file's sha256, which keys the
    repair; `delivered_at`: when its contract passed."""

    day: date
    delivery: str
    delivered_at: datetime
    stale_cutoffs: tuple[date, ...]
    stale_monitoring_days: tuple[date, ...]

    @property
    def retrain_cutoff(self) -> date | None:
        """The one cutoff retrained: the newest stale one, or None."""
        return self.stale_cutoffs[-1] if self.stale_cutoffs else None

    @property
    def monitoring_days(self) -> tuple[date, ...]:
        """The monitoring days recomputed: the newest `MAX_MONITORING_REPAIRS` stale ones."""
        return self.stale_monitoring_days[-MAX_MONITORING_REPAIRS:]

    @property
    def left_stale(self) -> tuple[date, ...]:
        """Stale days nothing recomputes (older cutoffs and monitoring days), oldest first."""
        recomputed = {self.retrain_cutoff, *self.monitoring_days}
        stale = {*self.stale_cutoffs, *self.stale_monitoring_days}
        return tuple(sorted(day for day in stale if day not in recomputed))

    def run_key(self, job: str, partition: date) -> str:
        """The run key of one repair run: unique per repaired day, delivery, job and day."""
        return f"repair:{self.day}:{self.delivery}:{job}:{partition}"

    def summary(self) -> str:
        """One paragraph an operator reads (alert notes, the CLI)."""
        retrain = (
            f"retrain_job for cutoff {self.retrain_cutoff}"
            if self.retrain_cutoff
            else "no retrain (no stored cutoff read the gap)"
        )
        monitoring = (
            f"drift_score and model_health for {_days(self.monitoring_days)}"
            if self.monitoring_days
            else "no monitoring (no stored drift score or health read the gap)"
        )
        left = (
            f"; left stale (history, not recomputed): {_days(self.left_stale)}"
            if self.left_stale
            else ""
        )
        return (
            f"{self.day} re-delivered (sha256 {self.delivery}, contract passed "
            f"{self.delivered_at:%Y-%m-%d %H:%M} UTC); repair: {retrain}; {monitoring}{left}."
        )


def _days(days: Sequence[date]) -> str:
    if len(days) <= 3:
        return ", ".join(day.isoformat() for day in days)
    return f"{days[0]}..{days[-1]} ({len(days)} days)"


def repaired_delivery(lake: Lake, day: date) -> tuple[str, datetime] | None:
    """(sha256 prefix, checked_at) of `day`'s passing delivery, or None while the day has no
    `raw_sales` partition (still rejected or not delivered)."""
    if not lake.has_partition(RAW_SALES_TABLE, day) or not lake.has_partition(CONTRACT_TABLE, day):
        return None
    record = lake.read_partition(CONTRACT_TABLE, day)
    if record.empty or not bool(record["passed"].iloc[-1]):
        return None
    checked_at = datetime.fromisoformat(str(record["checked_at"].iloc[-1]))
    return str(record["source_sha256"].iloc[-1])[:12], checked_at.astimezone(UTC)


def _written_at(lake: Lake, table: str, day: date) -> datetime:
    """When the partition was last written (its newest file)."""
    folder = lake.partition_path(table, day)
    newest = max((path.stat().st_mtime for path in folder.iterdir()), default=0.0)
    return datetime.fromtimestamp(newest, UTC)


def _stale(lake: Lake, table: str, day: date, reach: int, before: datetime) -> list[date]:
    """The days of `table` whose window of `reach` days ends at them and covers `day`, written
    before `before`, oldest first."""
    last = day + timedelta(days=reach - 1)
    return [
        stored
        for stored in lake.partition_days(table)
        if day <= stored <= last and _written_at(lake, table, stored) < before
    ]


def plan_repair(lake: Lake, day: date, windows: RepairWindows) -> RepairPlan | None:
    """The repair of `day` (module docstring), or None when it has no passing delivery yet."""
    delivery = repaired_delivery(lake, day)
    if delivery is None:
        return None
    sha, delivered_at = delivery
    cutoffs = _stale(lake, FEATURES_TABLE, day, windows.training_days, delivered_at)
    drift = _stale(lake, DRIFT_TABLE, day, windows.drift_days, delivered_at)
    health = _stale(lake, PERFORMANCE_TABLE, day, windows.health_days, delivered_at)
    if not any(stored >= day for stored in lake.partition_days(FEATURES_TABLE)):
        # The day's own cycle, which the rejection stopped, and no later one ran: its cycle
        # and monitoring are the newest ones, so they are the repair.
        cutoffs, drift = [*cutoffs, day], [*drift, day]
    return RepairPlan(
        day=day,
        delivery=sha,
        delivered_at=delivered_at,
        stale_cutoffs=tuple(cutoffs),
        stale_monitoring_days=tuple(sorted({*drift, *health})),
    )


def repair_runs_path(day: date) -> str:
    """The Dagster UI's run list filtered to the runs repairing `day` (relative to the UI)."""
    from urllib.parse import quote

    return f"/runs?q%5B0%5D={quote(f'tag:{REPAIR_TAG}={day.isoformat()}', safe='')}"


def open_gap_alerts(store: AlertStore, day: date) -> list[Alert]:
    """The open contract_break and missing_data alerts of `day`: what its repair answers."""
    from forecastops.pipeline.alerts import contract_break_key, missing_data_key

    found = (store.open_alert(key) for key in (contract_break_key(day), missing_data_key(day)))
    return [alert for alert in found if alert is not None]
