"""Starlette / FastAPI helpers: read the visitor's consent from a request."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from cookieguard import Consent, get_consent

__all__ = ["banner", "consent"]


def consent(connection: HTTPConnection) -> Consent:
    """The consent for a Starlette request or websocket (undecided outside the middleware).

    Usable as a FastAPI dependency: ``Depends(consent)``.
    """
    return get_consent(connection.scope)


def banner(connection: HTTPConnection) -> str:
    """The banner and asset tags for this request, as escaped HTML for a template.

    In Jinja2Templates: ``{{ cookieguard_banner(request) | safe }}`` after registering
    ``templates.env.globals["cookieguard_banner"] = banner``.
    """
    from cookieguard.templates import banner_html

    return banner_html(connection.scope)
