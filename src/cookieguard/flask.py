"""Flask helpers: read the visitor's consent inside a view or template."""

from __future__ import annotations

from flask import request

from cookieguard import Consent, get_consent

__all__ = ["consent"]


def consent() -> Consent:
    """The consent for the current Flask request (undecided outside the middleware)."""
    return get_consent(request.environ)
