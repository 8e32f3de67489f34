"""Compressed pages in Chromium (issue 19 item 1): FastAPI with ``GZipMiddleware`` inside
cookieguard (``install`` added last), Flask with ``flask_compress.Compress(app)``, Django with
``GZipMiddleware`` listed after ours. Before issue 19 these pages went out unedited: no
banner, every tracker live. Now an undecided visitor gets the banner and no tracker request.

Tracker requests are recorded from the context's ``request`` events (tracker hosts do not
resolve in the test sandbox; an attempt is what counts); each page is first served without
cookieguard to show it really reaches for its trackers and really arrives compressed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Request

from cookieguard.catalogue._catalogue import load_catalogue
from tests.browser.site import policy
from tests.harness import UvicornServer, eventually, settle

GA = "https://www.googletagmanager.com/gtag/js?id=G-COMPRESSED"
PIXEL = "https://www.facebook.com/tr?id=1234567890&amp;ev=PageView&amp;noscript=1"
ROWS = "".join(f"<p>row {i}</p>" for i in range(200))  # past every minimum size
PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Compressed</title>"
    f'<script async src="{GA}"></script></head>'
    f'<body><h1>Home</h1>{ROWS}<img src="{PIXEL}" alt="" width="1" height="1"></body></html>'
)
CATALOGUE = load_catalogue()


@contextmanager
def fastapi_site(guarded: bool) -> Iterator[str]:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from starlette.middleware.gzip import GZipMiddleware

    from cookieguard.asgi import ConsentMiddleware

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return PAGE

    app.add_middleware(GZipMiddleware)
    if guarded:
        app.add_middleware(ConsentMiddleware, policy=policy())  # last: the outermost
    with UvicornServer(app) as server:
        yield server.url


@contextmanager
def flask_site(guarded: bool) -> Iterator[str]:
    from flask import Flask
    from flask_compress import Compress

    from cookieguard.wsgi import ConsentMiddleware
    from tests.harness import WaitressServer

    app = Flask(__name__)

    @app.get("/")
    def home() -> str:
        return PAGE

    Compress(app)
    if guarded:
        app.wsgi_app = ConsentMiddleware(app.wsgi_app, policy())  # type: ignore[method-assign]
    with WaitressServer(app) as server:
        yield f"http://127.0.0.1:{server.port}"


def django_home(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(PAGE)


urlpatterns: list[Any] = []  # this module is the Django project's URLconf while it runs


@contextmanager
def django_site(guarded: bool) -> Iterator[str]:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings
    from django.urls import path

    import tests.django.conftest  # noqa: F401 - configures Django once per process
    from tests.harness import WaitressServer

    urlpatterns[:] = [path("", django_home)]
    middleware = ["django.middleware.gzip.GZipMiddleware"]  # after ours: it compresses first
    if guarded:
        middleware.insert(0, "cookieguard.django.ConsentMiddleware")
    settings = {
        "MIDDLEWARE": middleware,
        "ROOT_URLCONF": __name__,
        "COOKIEGUARD": {
            "cookies": {"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"},
            "receipts": None,
        },
    }
    with override_settings(**settings), WaitressServer(WSGIHandler()) as server:
        yield f"http://127.0.0.1:{server.port}"


SITES: dict[str, Callable[[bool], AbstractContextManager[str]]] = {
    "fastapi": fastapi_site,
    "flask": flask_site,
    "django": django_site,
}


def visit(browser: Browser, url: str, *, guarded: bool) -> tuple[list[str], dict[str, str], int]:
    """Tracker URLs requested, the page's response headers, and banners on the page. A bare
    page is watched until it reaches a tracker; a guarded one long enough for a leak to show.
    """
    context = browser.new_context()
    try:
        trackers: list[str] = []

        def seen(request: Request) -> None:
            vendor = CATALOGUE.vendor_for_url(request.url)
            if vendor is not None and vendor.category != "necessary":
                trackers.append(request.url)

        context.on("request", seen)
        page = context.new_page()
        response = page.goto(url + "/")
        assert response is not None and response.status == 200
        if guarded:
            settle(page)
        else:
            eventually(page, lambda: trackers, "a request to a tracker")
        return trackers, response.headers, page.locator("#cookie-consent").count()
    finally:
        context.close()


@pytest.mark.parametrize("framework", list(SITES))
def test_a_compressed_page_gets_the_banner_and_reaches_no_tracker(
    browser: Browser, framework: str
) -> None:
    with SITES[framework](False) as url:
        loaded, headers, _ = visit(browser, url, guarded=False)
    assert headers.get("content-encoding") in ("gzip", "br", "zstd", "deflate")
    assert loaded, "without cookieguard the page reached no tracker: the test proves nothing"
    with SITES[framework](True) as url:
        trackers, headers, banners = visit(browser, url, guarded=True)
    assert headers.get("content-encoding") in ("gzip", "br", "zstd", "deflate")
    assert banners == 1
    assert trackers == []
