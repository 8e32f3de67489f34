"""Test support for QA teams: a pytest plugin with Playwright fixtures and page objects.

The plugin (``cookieguard.testing.plugin``, loaded by entry point) gives the fixtures
``cookieguard_policy`` (override it), ``seed_consent`` and ``consent_banner``. It changes
nothing of pytest-playwright's until the project opts in to its browser choice (a system
Chromium): ``cookieguard = true`` or ``cookieguard_browser = PATH`` in the pytest ini options,
``--cookieguard`` / ``--cookieguard-chromium=PATH``, or ``$COOKIEGUARD_CHROMIUM``. The helpers
below work on any Playwright ``BrowserContext``. Nothing here imports Playwright at import time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from cookieguard.core._consent import ConsentCodec, new_consent_id
from cookieguard.testing.pages import ConsentBanner, PreferencesPanel

if TYPE_CHECKING:
    from cookieguard import Policy

__all__ = [
    "UNDECLARED",
    "ConsentBanner",
    "PreferencesPanel",
    "assert_no_cookies",
    "consent_cookie",
    "cookies_by_category",
    "region_headers",
    "seed_consent_cookie",
]

#: The key :func:`cookies_by_category` files cookies under when the policy does not declare them.
UNDECLARED = "undeclared"


class _CookieJar(Protocol):
    """What the helpers need of a Playwright ``BrowserContext``."""

    def cookies(self, urls: Any = ...) -> Any: ...

    def add_cookies(self, cookies: Any) -> None: ...


def consent_cookie(
    policy: Policy,
    base_url: str,
    categories: Iterable[str],
    *,
    consent_id: str | None = None,
) -> dict[str, Any]:
    """A valid signed consent cookie for ``base_url``, in Playwright's ``add_cookies`` form.

    ``categories`` are the granted optional categories (``necessary`` is implied); unknown
    names raise ``ValueError`` so a typo cannot silently seed less than meant.
    """
    granted = set(categories) - {"necessary"}
    unknown = granted - policy.optional_categories
    if unknown:
        raise ValueError(
            f"unknown categories {sorted(unknown)}: the policy has "
            f"{sorted(policy.optional_categories)}"
        )
    url = urlsplit(base_url)
    if not url.hostname:
        raise ValueError(f"base_url must be absolute (http://host:port), not {base_url!r}")
    value = ConsentCodec(policy).dumps(granted, consent_id or new_consent_id())
    return {
        "name": policy.cookie_name,
        "value": value,
        "domain": policy.cookie_domain or url.hostname,
        "path": "/",
        "expires": int(time.time()) + policy.max_age,
        "httpOnly": True,
        "secure": url.scheme == "https",
        "sameSite": policy.same_site,
    }


def region_headers(policy: Policy, region: str) -> dict[str, str]:
    """The headers the policy's CDN or proxy (``Policy.region_header``) would send for a
    visitor from ``region`` (``"US-CA"``, ``"DE"``), to be seen from there::

        context = browser.new_context(extra_http_headers=region_headers(policy, "US-CA"))

    ``ValueError`` when the policy reads no region (its pages would ignore the headers).
    """
    return policy.region_lookup.headers_for(region)


def seed_consent_cookie(
    context: _CookieJar, policy: Policy, base_url: str, categories: Iterable[str]
) -> str:
    """Add a valid signed consent cookie to a browser context; return its consent id.

    A fast start for tests that are not about the banner: the first page already has consent.
    """
    consent_id = new_consent_id()
    context.add_cookies([consent_cookie(policy, base_url, categories, consent_id=consent_id)])
    return consent_id


def cookies_by_category(
    context: _CookieJar, policy: Policy, urls: str | Sequence[str] | None = None
) -> dict[str, list[Mapping[str, Any]]]:
    """The context's cookies (for ``urls`` if given) grouped by the policy's categories.

    Every category of the policy is a key (with an empty list when it has no cookie);
    cookies the policy does not declare are under :data:`UNDECLARED`.
    """
    grouped: dict[str, list[Mapping[str, Any]]] = {c.name: [] for c in policy.categories}
    grouped[UNDECLARED] = []
    found = context.cookies(urls) if urls is not None else context.cookies()
    for cookie in found:
        category = policy.category_of(cookie["name"]) or UNDECLARED
        grouped.setdefault(category, []).append(cookie)
    return grouped


def assert_no_cookies(
    context: _CookieJar, policy: Policy, category: str, urls: str | Sequence[str] | None = None
) -> None:
    """Fail (``AssertionError``) if the context holds any cookie of ``category``."""
    if category != UNDECLARED:
        policy.category(category)  # KeyError for a typo, not a test that passes by accident
    present = cookies_by_category(context, policy, urls)[category]
    if present:
        listed = ", ".join(f"{c['name']} ({c['domain']}{c['path']})" for c in present)
        raise AssertionError(f"expected no {category} cookies, found: {listed}")
