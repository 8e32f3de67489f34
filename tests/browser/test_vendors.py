"""Vendor signals in real Chromium: Google Consent Mode v2, Tag Manager events, UET, Meta Pixel.

The page carries Google's published gtag snippet; Google's hosts are routed to a local stub
gtag.js that records the dataLayer as it finds it and every push after, so the tests see what
Google's tag would see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.site import Extras, build_app
from tests.browser.site import Page as SitePage
from tests.browser.test_banner import documents, ready, violations
from tests.harness import UvicornServer

NONCE = "cg-gtag-nonce-7d1c"
GOOGLE = "https://www.googletagmanager.com"
CSP = f"default-src 'self'; script-src 'self' 'nonce-{NONCE}' {GOOGLE}"

# Google's snippet as published (https://developers.google.com/tag-platform/gtagjs/install),
# with the site's nonce so it runs under a CSP without 'unsafe-inline'.
SHOP = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="/static/fbq.js"></script>
<script async src="{GOOGLE}/gtag/js?id=G-TEST123" nonce="{NONCE}"></script>
<script nonce="{NONCE}">
  window.dataLayer = window.dataLayer || [];
  function gtag(){{dataLayer.push(arguments);}}
  gtag('js', new Date());

  gtag('config', 'G-TEST123');
</script>
</head><body><main><h1>Shop</h1><p>Prints and frames.</p></main></body></html>"""

# Records what gtag.js would read: the queue as found, then every later push.
STUB_GTAG = """
(() => {
  const plain = (entry) => (entry && typeof entry === 'object' && !Array.isArray(entry)
    && typeof entry.length === 'number')
    ? Array.from(entry, (v) => (v instanceof Date ? 'Date' : v)) : entry;
  window.__gtag = {found: Array.from(window.dataLayer || [], plain), later: []};
  const push = window.dataLayer.push.bind(window.dataLayer);
  window.dataLayer.push = (...items) => {
    for (const item of items) window.__gtag.later.push(plain(item));
    return push(...items);
  };
})();
"""

FILES = {
    # A Meta Pixel stand-in a site keeps ungated (data-cookieguard="necessary" in real life).
    "fbq.js": "window.__fbq = []; window.fbq = (...args) => window.__fbq.push(args);",
}


def serve(axe_js: Path, **options: Any) -> Iterator[str]:
    extras = Extras(pages={"shop": SitePage(SHOP, CSP)}, files=FILES)
    with UvicornServer(build_app(axe_js, extras, **options)) as server:
        yield server.url


@pytest.fixture(scope="module")
def advanced(axe_js: Path) -> Iterator[str]:
    yield from serve(axe_js, google_consent_mode="advanced", ads_data_redaction=True)


@pytest.fixture(scope="module")
def basic(axe_js: Path) -> Iterator[str]:
    yield from serve(axe_js, google_consent_mode=True, consent_mode_regions=["DE", "FR"])


def stub_google(context: BrowserContext) -> list[str]:
    seen: list[str] = []

    def answer(route: Route) -> None:
        seen.append(route.request.url)
        if "/gtag/js" in route.request.url:
            route.fulfill(status=200, content_type="text/javascript", body=STUB_GTAG)
        else:
            route.fulfill(status=204, body="")

    context.route(re.compile(r"^https://"), answer)
    return seen


def layer(page: Page) -> list[Any]:
    """The dataLayer with gtag's Arguments objects as lists (Dates as their type name)."""
    entries: list[Any] = page.evaluate(
        """() => window.dataLayer.map((entry) => {
            if (entry && typeof entry === 'object' && !Array.isArray(entry)
                && typeof entry.length === 'number') {
              return Array.from(entry, (v) => (v instanceof Date ? 'Date' : v));
            }
            return entry;
        })"""
    )
    return entries


def commands(entries: list[Any], *head: str) -> list[list[Any]]:
    return [e for e in entries if isinstance(e, list) and e[: len(head)] == list(head)]


def events(entries: list[Any]) -> list[list[str]]:
    return [
        e["cookieguard_categories"]
        for e in entries
        if isinstance(e, dict) and e.get("event") == "cookieguard_consent"
    ]


DENIED = {
    "ad_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "analytics_storage": "denied",
    "functionality_storage": "denied",
    "personalization_storage": "denied",
    "security_storage": "denied",
}
GRANTED = dict.fromkeys(DENIED, "granted")


def test_default_precedes_gtag_and_a_choice_updates_without_reload(
    page: Page, advanced: str
) -> None:
    seen = stub_google(page.context)
    loads = documents(page)
    page.goto(advanced + "/page/shop")
    ready(page)
    page.wait_for_function("() => window.__gtag")
    # Advanced mode: Google's tag loads before consent, and found the default first in line.
    assert any(url.startswith(GOOGLE + "/gtag/js") for url in seen)
    found = page.evaluate("window.__gtag.found")
    assert found[0] == ["consent", "default", {**DENIED, "wait_for_update": 500}]
    assert found[1] == ["set", "ads_data_redaction", True]
    entries = layer(page)
    first_js = entries.index(["js", "Date"])
    assert entries.index(found[0]) < first_js
    assert events(entries) == [["necessary"]]
    assert page.evaluate("window.uetq") == ["consent", "default", {"ad_storage": "denied"}]
    assert page.evaluate("window.__fbq") == [["consent", "revoke"]]
    assert not [c for c in page.context.cookies() if c["name"].startswith("_g")]

    page.get_by_role("button", name="Accept all").click()
    expect(page.locator("#cookie-consent")).to_be_hidden()
    page.wait_for_function("() => window.__gtag.later.some((e) => e[1] === 'update')")
    assert commands(page.evaluate("window.__gtag.later"), "consent", "update") == [
        ["consent", "update", GRANTED]
    ]
    entries = layer(page)
    assert events(entries) == [
        ["necessary"],
        ["necessary", "preferences", "analytics", "marketing"],
    ]
    assert page.evaluate("window.uetq")[3:] == ["consent", "update", {"ad_storage": "granted"}]
    assert page.evaluate("window.__fbq") == [["consent", "revoke"], ["consent", "grant"]]
    assert len(loads) == 1
    assert violations(page) == []


def test_returning_visitor_gets_their_choice_as_the_default(page: Page, advanced: str) -> None:
    stub_google(page.context)
    page.goto(advanced + "/page/shop")
    ready(page)
    page.evaluate("cookieguard.update(['analytics'])")
    page.reload()
    ready(page)
    (default,) = commands(layer(page), "consent", "default")
    assert default[2] == {
        **DENIED,
        "analytics_storage": "granted",
        "security_storage": "granted",
    }
    assert commands(layer(page), "consent", "update") == []
    assert events(layer(page)) == [["necessary", "analytics"]]


def test_gpc_denies_the_ad_types_in_every_signal(visitor: Any, advanced: str) -> None:
    page = visitor(extra_http_headers={"Sec-GPC": "1"})
    stub_google(page.context)
    page.goto(advanced + "/page/shop")
    ready(page)
    page.get_by_role("button", name="Accept all").click()
    page.wait_for_function(
        "() => window.dataLayer.some((e) => e[0] === 'consent' && e[1] === 'update')"
    )
    (update,) = commands(layer(page), "consent", "update")
    assert update[2] == {
        **GRANTED,
        "ad_storage": "denied",
        "ad_user_data": "denied",
        "ad_personalization": "denied",
    }
    assert page.evaluate("window.uetq")[3:] == ["consent", "update", {"ad_storage": "denied"}]
    assert page.evaluate("window.__fbq")[-1] == ["consent", "revoke"]


def test_basic_mode_loads_no_google_tag_before_consent(page: Page, basic: str) -> None:
    seen = stub_google(page.context)
    loads = documents(page)
    page.goto(basic + "/page/shop")
    ready(page)
    page.wait_for_timeout(200)
    assert seen == []
    (default,) = commands(layer(page), "consent", "default")
    assert default[2] == {**DENIED, "wait_for_update": 500, "region": ["DE", "FR"]}
    page.get_by_role("button", name="Accept all").click()
    # The tag runs once allowed, without a reload, and finds the update already queued.
    page.wait_for_function("() => window.__gtag")
    found = page.evaluate("window.__gtag.found")
    assert ["consent", "update", GRANTED] in found
    assert len(loads) == 1
    assert violations(page) == []
