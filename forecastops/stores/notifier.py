"""Where alerts reach people: chat, webhook and mail targets through Apprise.

Apprise (a well-kept library with 100+ targets) turns one URL per target into a post: a Slack
incoming-webhook URL (`https://hooks.slack.com/services/T…/B…/…`), `json://host:port/path` for
any HTTP receiver that takes JSON (`{"title", "message", "type"}`), `mattermost://`,
`msteams://`, `mailto://` and the rest of https://github.com/caronc/apprise/wiki. The URLs come
from `FORECASTOPS_ALERT_NOTIFY_URLS`; they carry tokens, so they are only ever shown in Apprise's
privacy form (`json://bob:****@host/hook`, a Slack token as `T...1/B...2/a...c`).

This module only posts; what to post and when (new alerts, resolutions, retry after a failed
post) is `forecastops.pipeline.notifications`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from enum import StrEnum

NOTIFY_URLS_VARIABLE = "FORECASTOPS_ALERT_NOTIFY_URLS"
NOTIFY_TIMEOUT_SECONDS = 10
"""How long one post may take (Apprise's connect and read timeouts are 4 s each per target)."""


class NotifyKind(StrEnum):
    """What a post announces; each maps to Apprise's notification type (colour and icon)."""

    CRITICAL = "critical"
    WARNING = "warning"
    RESOLVED = "resolved"


class NotifyError(RuntimeError):
    """A post did not go through (the receiver is down, refused it or timed out)."""


def split_notify_urls(value: str) -> list[str]:
    """The URLs of `FORECASTOPS_ALERT_NOTIFY_URLS` (separated by spaces or commas)."""
    return [url for url in re.split(r"[\s,]+", value.strip()) if url]


def notify_url_problem(value: str) -> str | None:
    """What is wrong with the notification URLs `value`, or None when Apprise knows each one.
    The message never quotes a URL (they carry tokens); it counts them instead."""
    import apprise

    urls = split_notify_urls(value)
    unknown = [n for n, url in enumerate(urls, 1) if apprise.Apprise.instantiate(url) is None]
    if not urls:
        return "no URL given; unset the variable to keep alerts in the alert store only"
    if unknown:
        which = ", ".join(f"#{n}" for n in unknown)
        return (
            f"Apprise does not recognise URL {which} of {len(urls)} (a typo in the scheme, or a "
            "missing part): use e.g. https://hooks.slack.com/services/T…/B…/… or "
            "json://host:port/path; the schemes are listed at https://github.com/caronc/apprise/wiki"
        )
    return None


class AlertNotifier:
    """Posts to every target of `urls` (the value of `FORECASTOPS_ALERT_NOTIFY_URLS`)."""

    def __init__(self, urls: str) -> None:
        import apprise

        problem = notify_url_problem(urls)
        if problem:
            raise NotifyError(f"{NOTIFY_URLS_VARIABLE}: {problem}")
        self._apprise = apprise.Apprise()
        for url in split_notify_urls(urls):
            self._apprise.add(url)

    @property
    def targets(self) -> list[str]:
        """The targets in Apprise's privacy form: safe to print and log."""
        return [str(target.url(privacy=True)) for target in self._apprise]

    def __repr__(self) -> str:
        return f"AlertNotifier({', '.join(self.targets)})"

    def send(self, title: str, body: str, kind: NotifyKind) -> None:
        """Post `title` and `body` (Markdown) to every target; `NotifyError` if any target
        failed, with what Apprise reported (it names hosts, never tokens)."""
        import apprise

        with apprise.LogCapture(level=logging.WARNING) as log:
            result = self._apprise.notify(
                title=title,
                body=body,
                notify_type=APPRISE_TYPES[kind],
                body_format=apprise.NotifyFormat.MARKDOWN,
                timeout=NOTIFY_TIMEOUT_SECONDS,
            )
        if not result:
            reported = _last_lines(log.getvalue().splitlines(), 3) or "no reason reported"
            raise NotifyError(f"posting to {', '.join(self.targets)} failed: {reported}")


def _last_lines(lines: Sequence[str], count: int) -> str:
    # Apprise's log lines start with a timestamp and level; the message is after the last " - ".
    return "; ".join(line.rsplit(" - ", 1)[-1].strip() for line in lines[-count:] if line)


APPRISE_TYPES = {
    NotifyKind.CRITICAL: "failure",
    NotifyKind.WARNING: "warning",
    NotifyKind.RESOLVED: "success",
}
"""NotifyKind -> Apprise's notification type (`apprise.NotifyType` values: colour and icon)."""
