"""The alert store (`forecastops.stores.alerts.store`) as a Dagster resource, for assets and
sensors."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from forecastops.stores.alerts.store import AlertStore
    from forecastops.stores.notifier import AlertNotifier

_STORES: dict[tuple[int, str], AlertStore] = {}
_STORES_LOCK = threading.Lock()


class AlertStoreResource(dg.ConfigurableResource):
    """Alerts in the SQL database at `url` (`FORECASTOPS_ALERTS_DB_URL`; default SQLite at
    `$FORECASTOPS_HOME/alerts.db`)."""

    url: str
    dagster_ui: str = Field(
        "",
        description="The Dagster UI's base URL (FORECASTOPS_DAGSTER_UI_URL): alerts link their "
        "run and asset pages under it; empty: relative links.",
    )

    @property
    def store(self) -> AlertStore:
        """The store at `url`, with its schema created (`AlertStore.create_schema`: an empty
        database is created at the head revision; one that is behind raises
        `AlertSchemaError` naming `forecastops doctor --fix`, since a run or sensor never
        migrates by itself). One store (engine and connection pool) per URL and process: the
        schema is checked on first use only, and a forked process builds its own store rather
        than sharing its parent's connections."""
        key = (os.getpid(), self.url)
        with _STORES_LOCK:
            store = _STORES.get(key)
            if store is None:
                from forecastops.stores.alerts.store import AlertStore

                store = AlertStore(self.url)
                store.create_schema()
                _STORES[key] = store
            return store


class AlertNotifierResource(dg.ConfigurableResource):
    """Where new alerts are posted (`FORECASTOPS_ALERT_NOTIFY_URLS`, Apprise URLs; empty: none)
    and the least severe one posted (`FORECASTOPS_ALERT_NOTIFY_MIN_SEVERITY`). The URLs carry
    tokens: set from the environment, the UI shows the variable's name only."""

    urls: str = ""
    min_severity: str = "warning"
    dagster_ui: str = Field(description="The Dagster UI's base URL (relative alert links).")

    def open(self) -> AlertNotifier | None:
        """The notifier for `urls`, None when no URL is set."""
        if not self.urls.strip():
            return None
        from forecastops.stores.notifier import AlertNotifier

        return AlertNotifier(self.urls)
