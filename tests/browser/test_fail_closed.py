"""A page the gate cannot edit reaches no tracker in Chromium (issue 19 item 1, "what still
cannot be edited never goes out live"): it is sent as the app wrote it, under the consent-aware
CSP in enforce mode, although the policy has ``csp=None``.

Three causes, each served by uvicorn: a coding no one decodes here (brotli made unavailable, as
on an install without ``cookieguard[compression]``), an error inside the rewriter, and a gzip
body that decodes past the limit. Tracker requests are recorded from the context's ``request``
events (tracker hosts do not resolve in the test sandbox; an attempt is what counts), and the
bare app is visited first to show each page really reaches for its trackers. A load the CSP
refuses shows up as a request that failed with "csp"; it never left the browser.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import brotli  # type: ignore[import-untyped]  # brotli ships no type hints
import pytest
from playwright.sync_api import Browser, Request
from starlette.applications import Starlette
from starlette.requests import Request as AppRequest
from starlette.responses import Response
from starlette.routing import Route

from cookieguard.asgi import ConsentMiddleware
from cookieguard.catalogue._catalogue import load_catalogue
from cookieguard.html import _codings, _scanner
from tests.browser.site import policy
from tests.harness import UvicornServer, eventually, settle

GA = "https://www.googletagmanager.com/gtag/js?id=G-FAILCLOSED"
PIXEL = "https://www.facebook.com/tr?id=1234567890&amp;ev=PageView&amp;noscript=1"
PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>t</title>"
    f'<script async src="{GA}"></script></head>'
    f'<body><p>x</p><img src="{PIXEL}" alt="" width="1" height="1"></body></html>'
).encode()
CATALOGUE = load_catalogue()


def app() -> Starlette:
    async def brotli_page(request: AppRequest) -> Response:
        return Response(
            bytes(brotli.compress(PAGE)),
            media_type="text/html",
            headers={"content-encoding": "br"},
        )

    async def plain(request: AppRequest) -> Response:
        return Response(PAGE, media_type="text/html")

    async def big(request: AppRequest) -> Response:
        # Past the decoded limit once padded out with a comment (gzip makes it small).
        padding = b"<!--" + b" " * (_codings.DECODED_LIMIT + 1) + b"-->"
        body = PAGE.replace(b"<p>x</p>", b"<p>x</p>" + padding)
        return Response(
            gzip.compress(body, 1), media_type="text/html", headers={"content-encoding": "gzip"}
        )

    return Starlette(routes=[Route("/br", brotli_page), Route("/plain", plain), Route("/big", big)])


@pytest.fixture(scope="module")
def bare() -> Iterator[str]:
    with UvicornServer(app()) as server:
        yield server.url


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with UvicornServer(ConsentMiddleware(app(), policy=policy())) as server:  # csp=None
        yield server.url


def trackers_of(browser: Browser, url: str, *, guarded: bool) -> tuple[list[str], dict[str, str]]:
    """Tracker requests that left the browser, and the page's headers. A bare page is watched
    until it reaches a tracker; a guarded one long enough for a leak to show."""
    context = browser.new_context()
    try:
        seen: list[str] = []

        def record(request: Request) -> None:
            vendor = CATALOGUE.vendor_for_url(request.url)
            if vendor is not None and vendor.category != "necessary":
                seen.append(request.url)

        context.on("request", record)
        failed: dict[str, str] = {}
        context.on("requestfailed", lambda r: failed.__setitem__(r.url, r.failure or ""))
        page = context.new_page()
        response = page.goto(url)
        assert response is not None and response.status == 200
        if guarded:
            settle(page)
        else:
            eventually(page, lambda: seen, "a request to a tracker")
        # Chromium reports a load its CSP refused as a request that failed with "csp": it
        # never left the browser.
        return [u for u in seen if failed.get(u) != "csp"], response.headers
    finally:
        context.close()


@pytest.fixture
def broken_rewriter(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_scanner.Rewriter, "_scan", broken)
    monkeypatch.setattr(_scanner.Rewriter, "feed_last", broken)


@pytest.fixture
def no_brotli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_codings._loaded, "brotli", None)


@pytest.mark.parametrize(
    ("path", "fixture"), [("/br", "no_brotli"), ("/plain", "broken_rewriter"), ("/big", None)]
)
def test_a_page_that_cannot_be_edited_reaches_no_tracker(
    browser: Browser,
    bare: str,
    guarded: str,
    path: str,
    fixture: str | None,
    request: pytest.FixtureRequest,
) -> None:
    loaded, _ = trackers_of(browser, bare + path, guarded=False)
    assert loaded, f"{path}: the bare page reached no tracker, the test proves nothing"
    if fixture is not None:
        request.getfixturevalue(fixture)
    blocked, headers = trackers_of(browser, guarded + path, guarded=True)
    assert "content-security-policy" in headers
    assert blocked == []
