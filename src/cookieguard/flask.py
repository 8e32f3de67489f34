"""Flask helpers: read the visitor's consent inside a view or template."""

from __future__ import annotations

from flask import request
from markupsafe import Markup

from cookieguard import Consent, get_consent

__all__ = ["banner", "consent"]


def consent() -> Consent:
    """The consent for the current Flask request (undecided outside the middleware)."""
    return get_consent(request.environ)


def banner() -> Markup:
    """The banner and asset tags for the current request, ready for a Jinja template.

    Register it with ``app.jinja_env.globals["cookieguard_banner"] = banner`` and write
    ``{{ cookieguard_banner() }}`` before ``</body>``.
    """
    from cookieguard.templates import banner_html

    return Markup(banner_html(request.environ))
