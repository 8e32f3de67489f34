"""Django integration: ``cookieguard.django.ConsentMiddleware``, configured from settings.

.. code-block:: python

    # settings.py
    INSTALLED_APPS = [..., "cookieguard.django"]        # for {% load cookieguard %}
    MIDDLEWARE = ["cookieguard.django.ConsentMiddleware", ...]   # first
    COOKIEGUARD = {"cookies": {"_ga": "analytics", "_ga_*": "analytics"}}

``COOKIEGUARD`` holds the :class:`~cookieguard.Policy` arguments (or is a ``Policy``); without
``secret_keys`` it signs with ``SECRET_KEY`` (salted). Django's own cookies (session, CSRF,
language, messages) are declared necessary unless the policy declares them. Views read
``request.consent``; templates place the banner with ``{% cookieguard_banner %}`` and
``{% cookieguard_assets %}`` when injection is switched off.

Importing this module imports Django; ``import cookieguard`` never does.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from cookieguard.django._middleware import (
    ConfigurationError,
    ConsentMiddleware,
    banner_language,
    consent,
    framework_cookie_names,
    policy_from_settings,
)
from cookieguard.site._site import Site

__all__ = [
    "ConfigurationError",
    "ConsentMiddleware",
    "assets_html",
    "banner_html",
    "consent",
    "framework_cookie_names",
    "policy_from_settings",
]


def _site(request: HttpRequest | None) -> Site | None:
    if request is None:
        return None
    site = request.META.get("cookieguard.site")
    return site if isinstance(site, Site) else None


def banner_html(request: HttpRequest | None) -> SafeString:
    """The banner for this request: the markup for an undecided visitor, empty once they
    chose (or outside the middleware). For Jinja2 templates; Django templates use
    ``{% cookieguard_banner %}``."""
    site = _site(request)
    if site is None or request is None:
        return mark_safe("")
    meta = request.META
    markup = site.banner_markup(
        consent(request),
        banner_language(request),
        request.path,
        str(meta.get("QUERY_STRING", "")),
    )
    return mark_safe(markup)


def assets_html(request: HttpRequest | None) -> SafeString:
    """The stylesheet and ``banner.js`` tags (the same on every page; empty outside the
    middleware)."""
    site = _site(request)
    return mark_safe(site.asset_markup() if site is not None else "")
