"""Issue 20: AddThis, ShareThis and Intercom, pasted as their vendors publish them, ran before
consent in every wrapped app. In Chromium, behind uvicorn: the bare app's page reaches each
vendor (the control), the wrapped app's page reaches none for an undecided visitor, and
"Accept all" brings each snippet back to life in place. Every third-party request is routed
to a local stub that records its URL.
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
from tests.catalogue.test_snippets import ADDTHIS, INTERCOM, SHARETHIS
from tests.harness import eventually

CATALOGUE = load_catalogue()
SNIPPETS = {"AddThis": ADDTHIS, "ShareThis": SHARETHIS, "Intercom": INTERCOM}
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
        return {v.name for u in self.urls if (v := CATALOGUE.vendor_for_url(u)) is not None}


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
        page.wait_for_timeout(300)  # Intercom's loader waits for "load"
        return page, recorder

    yield make
    for context in contexts:
        context.close()


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_reaches_its_vendor_without_cookieguard(
    visit: Any, bare: str, name: str
) -> None:
    page, recorder = visit(f"{bare}/{name}")
    assert eventually(page, recorder.vendors, f"a request to {name}") == {name}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_waits_for_consent_and_runs_after_accept_all(
    visit: Any, guarded: str, name: str
) -> None:
    page, recorder = visit(f"{guarded}/{name}")
    assert recorder.urls == []
    assert page.evaluate("window.__tracked") is None
    page.click("[data-cookieguard-action=accept_all]")
    page.wait_for_function("window.__tracked === true")
    assert recorder.vendors() == {name}
