"""Auto-blocking end to end: vendors' published snippets, real Chromium, every request recorded.

The page (``trackers/page.html``) carries the snippets as GA4, Google Tag Manager, Meta Pixel,
Hotjar, Microsoft Clarity, TikTok and LinkedIn publish them, a YouTube and a Google Maps
embed, Stripe.js and a jsDelivr script. The app never marks a tag: the middleware's rewriter
does. Every third-party host is routed to a local stub that records the request and answers
like the vendor would (a script that sets the vendor's first-party cookie, a pixel, a frame:
tests/browser/third_parties.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from tests.browser.site import policy
from tests.browser.third_parties import Recorder, Visit, visits
from tests.harness import UvicornServer, eventually, settle

PAGE = (Path(__file__).parent / "trackers" / "page.html").read_text("utf-8")

#: Host -> (vendor, category); what each stub script does when it runs.
TRACKERS = {
    "www.googletagmanager.com": ("google", "analytics"),
    "static.hotjar.com": ("hotjar", "analytics"),
    "www.clarity.ms": ("clarity", "analytics"),
    "connect.facebook.net": ("meta", "marketing"),
    "www.facebook.com": ("meta", "marketing"),
    "analytics.tiktok.com": ("tiktok", "marketing"),
    "snap.licdn.com": ("linkedin", "marketing"),
    "px.ads.linkedin.com": ("linkedin", "marketing"),
    "www.youtube.com": ("youtube", "marketing"),
    "www.google.com": ("maps", "marketing"),
}
FRIENDS = {"js.stripe.com": "stripe", "cdn.jsdelivr.net": "jsdelivr"}
#: The first-party cookie each vendor's script sets (as the real ones do).
COOKIES = {
    "google": "_ga",
    "hotjar": "_hjSessionUser_1234567",
    "clarity": "_clck",
    "meta": "_fbp",
    "tiktok": "_ttp",
    "linkedin": "li_fat_id",
}
ANALYTICS = {"www.googletagmanager.com", "static.hotjar.com", "www.clarity.ms"}
# Hosts only a script would reach (with JavaScript on, <noscript> pixels never load).
SCRIPTED = {
    "www.googletagmanager.com",
    "static.hotjar.com",
    "www.clarity.ms",
    "connect.facebook.net",
    "analytics.tiktok.com",
    "snap.licdn.com",
    "www.youtube.com",
    "www.google.com",
}


def stub_script(name: str) -> str:
    cookie = COOKIES.get(name)
    set_cookie = f"document.cookie = '{cookie}=stub; path=/; max-age=3600';" if cookie else ""
    return f"(window.__loaded = window.__loaded || []).push('{name}'); {set_cookie}"


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    app = Starlette(routes=[AppRoute("/", home)])
    wrapped = ConsentMiddleware(app, policy=policy())
    with UvicornServer(wrapped) as server:
        yield server.url


def vendor_script(host: str) -> str:
    """The stub script a host answers with: its vendor's (a friend's, or "unknown")."""
    return stub_script(TRACKERS.get(host, (FRIENDS.get(host, "unknown"), ""))[0])


@pytest.fixture
def visit(browser: Browser, site: str) -> Iterator[Visit]:
    with visits(browser, base_url=site, script=vendor_script) as visit:
        yield visit


def trackers(recorder: Recorder) -> set[str]:
    """The tracker hosts (``TRACKERS``) the page reached."""
    return {h for h in recorder.hosts if h in TRACKERS}


def consent_cookie(page: Page) -> bool:
    return any(c["name"] == "cookie_consent" for c in page.context.cookies())


def tracker_cookies(page: Page) -> set[str]:
    names = {c["name"] for c in page.context.cookies()}
    return names & set(COOKIES.values())


def test_nothing_reaches_a_tracker_before_consent_while_stripe_and_jsdelivr_load(
    visit: Any,
) -> None:
    page, recorder = visit()
    page.goto("/")
    settle(page, 0.4)
    assert trackers(recorder) == set()
    assert set(FRIENDS) <= set(recorder.hosts)
    assert page.evaluate("window.__loaded") == ["stripe", "jsdelivr"]
    assert tracker_cookies(page) == set()
    assert page.locator(".cg-embed").count() == 2


def test_reject_all_loads_no_tracker(visit: Any) -> None:
    page, recorder = visit()
    page.goto("/")
    page.click('[data-cookieguard-action="reject_all"]')
    eventually(page, lambda: consent_cookie(page), "the consent cookie")
    settle(page, 0.4)
    page.reload()
    settle(page, 0.4)
    assert trackers(recorder) == set()
    assert tracker_cookies(page) == set()
    assert sorted(page.evaluate("window.__loaded")) == ["jsdelivr", "stripe"]


def test_accept_all_loads_every_tracker_without_a_reload(visit: Any) -> None:
    page, recorder = visit()
    page.goto("/")
    settle(page, 0.4)
    page.evaluate("window.__same_page = true")
    page.click('[data-cookieguard-action="accept_all"]')
    page.wait_for_function(
        "(names) => names.every((name) => (window.__loaded || []).includes(name))",
        arg=["google", "hotjar", "clarity", "meta", "tiktok", "linkedin", "stripe", "jsdelivr"],
    )
    eventually(page, lambda: trackers(recorder) >= SCRIPTED, "every scripted tracker host")
    eventually(page, lambda: tracker_cookies(page) == set(COOKIES.values()), "every cookie")
    expect(page.locator(".cg-embed")).to_have_count(0)
    expect(page.locator('iframe[src^="https://www.youtube.com/embed/"]')).to_have_count(1)
    assert page.evaluate("window.__same_page") is True  # no reload


def test_analytics_only_loads_exactly_the_analytics_vendors(visit: Any) -> None:
    page, recorder = visit()
    page.goto("/")
    settle(page, 0.4)
    page.evaluate("cookieguard.update(['analytics'])")
    analytics_cookies = {"_ga", "_hjSessionUser_1234567", "_clck"}
    eventually(page, lambda: trackers(recorder) >= ANALYTICS, "the analytics vendors")
    eventually(page, lambda: tracker_cookies(page) >= analytics_cookies, "their cookies")
    settle(page, 0.4)
    assert trackers(recorder) == ANALYTICS
    eventually(page, lambda: consent_cookie(page), "the consent cookie")
    page.reload()  # and the server-rendered page of the same visitor agrees
    settle(page, 0.4)
    assert trackers(recorder) == ANALYTICS
    expect(page.locator(".cg-embed")).to_have_count(2)
    assert tracker_cookies(page) == analytics_cookies


def test_javascript_off_loads_no_pixel(visit: Any) -> None:
    page, recorder = visit(java_script_enabled=False)
    page.goto("/")
    settle(page)
    assert trackers(recorder) == set()
    assert tracker_cookies(page) == set()
    # The pixels are there, inert: their URL attribute was renamed.
    html = page.content()
    assert 'data-cookieguard-src="https://www.facebook.com/tr' in html
    assert set(recorder.hosts) <= set(FRIENDS)  # Chromium fetches no script with JS off


STYLES = {
    "url()": "body{background:url(https://www.facebook.com/tr?id=1&ev=PageView)}",
    # K6: Chromium's preload scanner fetched this even from a style made inert (text/plain);
    # after Accept all, the restored sheet must still import it (the gate's first rule gone).
    "@import": "@import url(https://connect.facebook.net/en_US/fbevents.css);p{color:red}",
}


@pytest.mark.parametrize("css", list(STYLES), ids=list(STYLES))
@pytest.mark.parametrize("guarded", [False, True], ids=["bare", "guarded"])
def test_a_style_element_naming_a_pixel_loads_it_only_without_cookieguard(
    browser: Browser, guarded: bool, css: str
) -> None:
    """Red team K2: CSS url() in a <style> element loaded the pixel before consent."""
    styled = (
        f"<!doctype html><html><head><title>t</title><style>{STYLES[css]}</style></head>"
        "<body><p>styled</p></body></html>"
    )

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(styled)

    app = Starlette(routes=[AppRoute("/", page)])

    def sheets(recorder: Recorder) -> list[str]:
        return [u for u in recorder.urls if "facebook." in u]

    with (
        UvicornServer(ConsentMiddleware(app, policy=policy()) if guarded else app) as server,
        visits(browser) as visit,
    ):
        tab, recorder = visit(server.url + "/")  # loaded and settled: nothing more arrives
        assert tab.locator("p").first.inner_text() == "styled"
        if guarded:
            assert not sheets(recorder)
        else:
            eventually(tab, lambda: sheets(recorder), "the sheet")
        if guarded:  # banner.js applies the sheet once marketing is granted, no reload
            tab.evaluate("window.__same_page = true")
            tab.click('[data-cookieguard-action="accept_all"]')
            eventually(tab, lambda: sheets(recorder), "the sheet")
            assert tab.evaluate("window.__same_page") is True
