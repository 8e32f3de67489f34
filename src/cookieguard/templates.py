"""Render cookieguard's markup yourself: for sites that place it in their own templates.

Set ``Policy(banner=False, scripts=False)`` to switch injection off, then put the output of
:func:`banner_html` where the banner belongs (usually just before ``</body>``). The markup is
exactly what the middleware would inject: the banner for undecided visitors, and the stylesheet
and ``banner.js`` tags on every page.

:func:`declaration_html` renders the cookie declaration (every cookie and storage key the policy
declares, with provider, purpose and retention, one ``<details>`` per category) for the site's
own privacy page, in the visitor's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cookieguard import get_consent
from cookieguard.core._policy import Policy

__all__ = ["banner_html", "declaration_html"]


def _request(scope_or_environ: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """Path, query string and ``Accept-Language`` of an ASGI scope or WSGI environ."""
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
    return path, query, language


def banner_html(scope_or_environ: Mapping[str, Any]) -> str:
    """The banner and asset tags for the request behind an ASGI scope or WSGI environ.

    Returns an empty string outside cookieguard's middleware. The result is already escaped
    HTML: mark it safe in your template engine (``Markup(...)`` in Jinja).
    """
    from cookieguard.site._site import Site

    site = scope_or_environ.get("cookieguard.site")
    if not isinstance(site, Site):
        return ""
    consent = get_consent(scope_or_environ)
    path, query, language = _request(scope_or_environ)
    return site.banner_markup(consent, language, path, query) + site.asset_markup()


def declaration_html(
    source: Mapping[str, Any] | Policy,
    *,
    language: str | None = None,
    heading_level: int = 2,
    open_categories: bool = False,
) -> str:
    """The cookie declaration as escaped HTML, for a privacy page.

    ``source`` is the request's ASGI scope or WSGI environ (the language then follows the
    visitor's ``Accept-Language``; empty outside cookieguard's middleware), or a
    :class:`~cookieguard.Policy` with an explicit ``language`` (default English), e.g. for a
    static page. ``heading_level`` is the level of its heading (``2`` gives ``<h2>``);
    ``open_categories=True`` shows every category expanded.
    """
    from cookieguard.core._i18n import negotiate
    from cookieguard.site._site import Site
    from cookieguard.ui._declaration import render_declaration

    if isinstance(source, Policy):
        policy = source
        chosen = language if language is not None and language in policy.languages else "en"
    else:
        site = source.get("cookieguard.site")
        if not isinstance(site, Site):
            return ""
        policy = site.policy
        if language is not None and language in policy.languages:
            chosen = language
        else:
            chosen = negotiate(_request(source)[2], policy.languages)
    return render_declaration(
        policy, chosen, heading_level=heading_level, open_categories=open_categories
    )
