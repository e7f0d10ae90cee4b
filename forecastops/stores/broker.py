"""The Celery broker: whether it answers, for the doctor and for a run before it queues steps."""

from __future__ import annotations

from forecastops.domain.secrets import mask_url, mask_urls_in

PROBE_TIMEOUT_S = 3.0
"""How long a probe waits for the broker: a live broker answers in milliseconds, and a dead one
must not hold a run or the doctor for kombu's default retries (minutes)."""


def broker_problem(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the Celery broker at `url` cannot take work (its URL masked in the message), or None
    when it accepted a connection within `timeout_s` seconds."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=timeout_s, transport_options={"max_retries": 0}) as c:
            c.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as error:  # every transport raises its own kind; all mean "down"
        return f"the Celery broker {mask_url(url)} does not answer: {mask_urls_in(str(error))}"
    return None
