"""Issue 19: vendors' snippets that assemble their loader's URL at run time, in Chromium.

Eight published snippets never write their loader as ``//host/...``: ``'http' + ('https:' ===
location.protocol ? 's://s' : '://') + 'cdn.cxense.com/cx.js'`` (Cxense), ``'https://' + l``
with ``l = 'edge.fullstory.com/s/fs.js'`` (FullStory), ``'https://secure' ... +
'.quantserve.com/quant.js'`` (Quantcast), ``y.src = '//' + a`` (Olark), ``'https://' +
w.adthrive.host`` (Raptive), ``'https://pi' ... + '.pardot.com/pd.js'`` (Salesforce Account
Engagement), the host as the path of another (SnapEngage), New Relic's inline configuration.
They ran before consent through the gate. Behind uvicorn, every third-party request routed to a
local stub that records it: the bare app's page reaches each vendor (the control); the wrapped
app's page reaches none for an undecided visitor; after "Accept all" every gated script of the
snippet is back, and the loader reaches its vendor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from cookieguard.catalogue import load_catalogue
from tests.browser.site import Server, policy
from tests.catalogue.test_snippets import SNIPPETS
from tests.harness import eventually

CATALOGUE = load_catalogue()
ASSEMBLED = [
    "Cxense",
    "FullStory",
    "New Relic Browser",
    "Olark",
    "Quantcast",
    "Raptive",
    "Salesforce Account Engagement",
    "SnapEngage",
]
#: Its loader waits for the window's "load" event, which has fired when consent comes: after
#: "Accept all" the script is back but loads nothing until the next page.
ON_LOAD = {"Salesforce Account Engagement"}
PAGE = "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>{}</body></html>"


def build_app() -> Starlette:
    async def vendor(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(SNIPPETS[request.path_params["name"]]))

    return Starlette(routes=[AppRoute("/{name}", vendor)])


@pytest.fixture(scope="module")
def bare() -> Iterator[str]:
    with Server(build_app()) as server:
        yield server.url


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with Server(ConsentMiddleware(build_app(), policy=policy())) as server:
        yield server.url


class Recorder:
    """Routes every third-party request to a stub script and remembers its URL."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
            return
        self.urls.append(route.request.url)
        route.fulfill(body="window.__tracked = true;", content_type="text/javascript")

    def vendors(self) -> set[str]:
        """The vendors the recorded URLs reach (SnapEngage's loader is on a shared host,
        under a path that names its own)."""
        return {v.name for url in self.urls for v in CATALOGUE.vendors_in_text(url)}


@pytest.fixture
def visit(browser: Browser) -> Iterator[Any]:
    contexts: list[BrowserContext] = []

    def make(url: str) -> tuple[Page, Recorder]:
        context = browser.new_context()
        contexts.append(context)
        recorder = Recorder()
        context.route("**/*", recorder)
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        return page, recorder

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("name", ASSEMBLED)
def test_the_snippet_reaches_its_vendor_without_cookieguard(
    visit: Any, bare: str, name: str
) -> None:
    page, recorder = visit(f"{bare}/{name}")
    assert name in eventually(page, recorder.vendors, f"a request to {name}")


@pytest.mark.parametrize("name", ASSEMBLED)
def test_the_snippet_waits_for_consent_and_is_back_after_accept_all(
    visit: Any, guarded: str, name: str
) -> None:
    page, recorder = visit(f"{guarded}/{name}")
    assert recorder.urls == []
    assert page.evaluate("window.__tracked") is None
    gated = page.locator('script[type="text/plain"][data-cookieguard]')
    assert gated.count() >= 1
    page.click("[data-cookieguard-action=accept_all]")
    page.wait_for_function(
        "document.querySelectorAll('script[type=\"text/plain\"][data-cookieguard]').length === 0"
    )
    if name not in ON_LOAD:
        assert name in eventually(page, recorder.vendors, f"a request to {name}")
