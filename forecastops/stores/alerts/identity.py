"""What names the alert store (its table, its URL variable) and the errors it raises: apart from
the store so that its migrations can use them without importing the store (no import circle)."""

from __future__ import annotations

from forecastops.domain.secrets import mask_url
from forecastops.stores.settings import ENV_PREFIX, SettingsError

URL_VARIABLE = f"{ENV_PREFIX}ALERTS_DB_URL"
"""The environment variable the alert store's URL comes from (named in every URL error)."""
TABLE_NAME = "forecastops_alerts"


class AlertError(Exception):
    """Base of every error the alert store raises."""


class AlertStoreConfigError(SettingsError, AlertError):
    """`FORECASTOPS_ALERTS_DB_URL` is not a URL the store can use; the message says the fix."""


class AlertStoreUnavailableError(AlertError):
    """The database could not be reached or queried (down, missing, or no schema yet)."""


class AlertSchemaError(AlertStoreUnavailableError):
    """The database's alert schema is not the one this code needs (behind the head revision, at a
    revision this code does not know, not made by ForecastOps) or could not be migrated; the
    message says which and the fix (mostly: back up, then `forecastops doctor --fix`)."""


class InvalidAlertError(AlertError, ValueError):
    """An argument (type, severity, title, link, actor, ...) is not valid; the message says why."""


class AlertNotFoundError(AlertError, LookupError):
    """No alert has the id asked for."""

    def __init__(self, alert_id: int, store: str) -> None:
        self.alert_id = alert_id
        super().__init__(f"No alert with id {alert_id} in the alert store at {mask_url(store)}.")
