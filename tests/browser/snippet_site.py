"""A Starlette app that serves one vendor's published snippet per path, behind uvicorn, and a
Chromium visit that routes every third-party request to a local stub script and records it
(tests of vendors' snippets pasted as published: test_catalogue_snippets, test_assembled_loaders).
The fixtures over it (``bare_snippets``, ``guarded_snippets``, ``snippet_visit``) are in
tests/browser/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Route
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from cookieguard.catalogue import load_catalogue
from tests.browser.site import policy
from tests.harness import UvicornServer, settle

CATALOGUE = load_catalogue()
PAGE = "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>{}</body></html>"


def snippet_app(snippets: Mapping[str, str]) -> Starlette:
    """``/{name}``: a page holding the snippet of the vendor ``name``."""

    async def vendor(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(snippets[request.path_params["name"]]))

    return Starlette(routes=[AppRoute("/{name}", vendor)])


@contextmanager
def serving(snippets: Mapping[str, str], *, guarded: bool) -> Iterator[str]:
    """The snippet app behind uvicorn, bare or wrapped (the default browser-test policy)."""
    app = snippet_app(snippets)
    with UvicornServer(ConsentMiddleware(app, policy=policy()) if guarded else app) as server:
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
        """The vendors the recorded URLs name (SnapEngage's loader is on a shared host, under
        a path that names its own)."""
        return {v.name for url in self.urls for v in CATALOGUE.vendors_in_text(url)}


@contextmanager
def visits(browser: Browser) -> Iterator[Callable[[str], tuple[Page, Recorder]]]:
    """``visit(url)``: a new context, the page loaded and settled (loaders that wait for
    "load", and time for a leak to show before a test says nothing arrived; the controls wait
    for their request instead)."""
    contexts: list[BrowserContext] = []

    def visit(url: str) -> tuple[Page, Recorder]:
        context = browser.new_context()
        contexts.append(context)
        recorder = Recorder()
        context.route("**/*", recorder)
        page = context.new_page()
        page.goto(url)
        settle(page)
        return page, recorder

    try:
        yield visit
    finally:
        for context in contexts:
            context.close()
