"""`forecastops status` as one record: the champion's health on a day, the challenger, the newest
drift score and the open alerts; printed by the CLI and at the end of `make demo`."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecastops.domain.performance import PerformancePolicy
    from forecastops.pipeline.cycle import CyclePolicy
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.lake import Lake
    from forecastops.stores.registry import ModelRegistry


def status_report(
    registry: ModelRegistry,
    lake: Lake,
    alert_store: AlertStore | None,
    as_of: date,
    policy: PerformancePolicy,
    cycle: CyclePolicy | None = None,
) -> dict[str, Any]:
    """`champion`, `challenger` (`registry_status`; its `promotion_eligible` judged by `cycle`'s
    gate on `as_of` when given), `drift` (`latest_drift`) and `open_alerts` per severity;
    numbers not known yet are None."""
    from forecastops.pipeline.incident_report import open_alert_counts
    from forecastops.pipeline.monitoring import latest_drift
    from forecastops.pipeline.operations import registry_status

    report = registry_status(registry, lake, as_of, policy, cycle=cycle)
    return report | {"drift": latest_drift(lake), "open_alerts": open_alert_counts(alert_store)}
