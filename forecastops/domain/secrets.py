"""Secrets never shown: the one owner of masking a password in a URL (`user:***@host`).

Every URL ForecastOps prints, stores (asset metadata, MLflow tags, alert rows and links) or logs
goes through `mask_url`; free text that may quote a URL (an exception's message, a step's
error) goes through `mask_urls_in`. Both are pure functions on strings.

What is masked, in any `scheme://` URL:

- the password of the user part: `postgresql+psycopg2://app:s3cret@db:5432/x` ->
  `postgresql+psycopg2://app:***@db:5432/x` (the user name stays, so an operator can tell which
  role is used). The password runs to the last `@` of the URL, so one with an unescaped `@` or
  `/` (which SQLAlchemy accepts) is masked whole;
- a `password=` query parameter (libpq accepts `?password=...`): `password=***`.

A URL without a password is returned unchanged. In free text a URL ends at whitespace; when
in doubt more is masked rather than less (`a:b@c` inside one whitespace-free run of text is
treated as a password).
"""

from __future__ import annotations

import re

MASK = "***"
"""What a password is replaced with."""

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
_PASSWORD_IN_USER_PART = re.compile(rf"({_SCHEME}[^:/@\s]*):[^\s]*@")
"""A scheme, the user name, then `:password@` up to the last `@` before whitespace."""
_PASSWORD_PARAMETER = re.compile(r"([?&;]password=)[^&;#\s]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """`url` with its password replaced by `***` (`user:***@host`); unchanged without one.

    Input: a URL as configured, e.g. a SQLAlchemy database URL or an MLflow tracking URI.
    Output: the same text, safe to print, store or log.
    """
    return mask_urls_in(url)


def mask_urls_in(text: str) -> str:
    """`text` (a message, an error, a log line) with the password of every URL in it masked as
    `mask_url` masks one URL; the rest of the text is unchanged."""
    masked = _PASSWORD_IN_USER_PART.sub(rf"\1:{MASK}@", text)
    return _PASSWORD_PARAMETER.sub(rf"\1{MASK}", masked)
