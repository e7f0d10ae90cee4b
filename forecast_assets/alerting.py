"""Raising an asset's alerts and showing them on the asset's check results.

A store that cannot be reached does not fail the asset: the result (a drift score, a contract
verdict) is already in the lake and is worth more than its alert, and the retrain sensor reads
the lake, not the alerts. The run logs the failure as an error and the check result's metadata
says "alert not recorded" with the store's message, so the operator sees it on the asset page.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg

from resources.alerts import AlertStoreResource

if TYPE_CHECKING:
    from forecastops.domain.alerts import AlertLink
    from forecastops.pipeline.alerts import AlertDraft


def run_links(
    context: dg.AssetExecutionContext, alert_store: AlertStoreResource, asset: str
) -> "list[AlertLink]":
    """The run that produced the signal and the asset's page (at the run's partition) in the
    Dagster UI, as absolute URLs under the alert store's `dagster_ui`."""
    from forecastops.pipeline.alerts import dagster_asset_link, dagster_run_link

    partition = context.partition_key if context.has_partition_key else None
    return [
        dagster_run_link(context.run_id, alert_store.dagster_ui),
        dagster_asset_link(asset, alert_store.dagster_ui, partition),
    ]


def record_alerts(
    context: dg.AssetExecutionContext,
    alert_store: AlertStoreResource,
    drafts: "Sequence[AlertDraft | None]",
) -> dict[str, Any]:
    """Raise the drafts (None entries are skipped) and return check-result metadata naming the
    alerts: `alert_ids` and `alerts` (how to show each), or `alert_not_recorded` with the
    store's error. Empty when there is nothing to raise."""
    from forecastops.stores.alerts.identity import AlertStoreConfigError, AlertStoreUnavailableError

    wanted = [draft for draft in drafts if draft is not None]
    if not wanted:
        return {}
    try:
        alerts = [draft.raise_in(alert_store.store) for draft in wanted]
    except (AlertStoreUnavailableError, AlertStoreConfigError) as error:
        keys = ", ".join(draft.dedup_key for draft in wanted)
        context.log.error(f"Alert(s) {keys} not recorded; the materialization stands: {error}")
        return {"alert_not_recorded": f"{keys}: {error}"}
    for alert in alerts:
        context.log.info(f"Alert {alert.id} ({alert.severity}, {alert.status}): {alert.title}")
    return {
        "alert_ids": [alert.id for alert in alerts],
        "alerts": dg.MetadataValue.md(
            "\n".join(
                f"- {alert.id} ({alert.severity}, {alert.status}): {alert.title} — "
                f"`forecastops alerts show {alert.id}`"
                for alert in alerts
            )
        ),
    }
