"""Render the banner yourself: for sites that place it in their own templates.

Set ``Policy(banner=False, scripts=False)`` to switch injection off, then put the output of
:func:`banner_html` where the banner belongs (usually just before ``</body>``). The markup is
exactly what the middleware would inject: the banner for undecided visitors, and the stylesheet
and ``banner.js`` tags on every page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cookieguard import get_consent

__all__ = ["banner_html"]


def banner_html(scope_or_environ: Mapping[str, Any]) -> str:
    """The banner and asset tags for the request behind an ASGI scope or WSGI environ.

    Returns an empty string outside cookieguard's middleware. The result is already escaped
    HTML: mark it safe in your template engine (``Markup(...)`` in Jinja).
    """
    from cookieguard._site import Site

    site = scope_or_environ.get("cookieguard.site")
    if not isinstance(site, Site):
        return ""
    consent = get_consent(scope_or_environ)
    if "PATH_INFO" in scope_or_environ or "REQUEST_METHOD" in scope_or_environ:  # WSGI
        path = scope_or_environ.get("PATH_INFO", "")
        query = scope_or_environ.get("QUERY_STRING", "")
        language = scope_or_environ.get("HTTP_ACCEPT_LANGUAGE")
    else:  # ASGI
        path = scope_or_environ.get("path", "")
        query = scope_or_environ.get("query_string", b"").decode("latin-1")
        language = next(
            (
                v.decode("latin-1")
                for k, v in scope_or_environ.get("headers", ())
                if k == b"accept-language"
            ),
            None,
        )
    return site.banner_markup(consent, language, path, query) + site.asset_markup()
