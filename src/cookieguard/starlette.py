"""Starlette / FastAPI helpers: read the visitor's consent from a request."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cookieguard import Consent, get_consent

__all__ = ["consent"]


def consent(connection: HTTPConnection) -> Consent:
    """The consent for a Starlette request or websocket (undecided outside the middleware).

    Usable as a FastAPI dependency: ``Depends(consent)``.
    """
    return get_consent(connection.scope)
