"""Conditional requests never resurrect another consent state's page, in Chromium (issue 19 item
2): accept, visit, reject, revisit -> no request to a tracker host, on Starlette
(``StaticFiles(html=True)`` under uvicorn), Flask (``send_from_directory`` under waitress) and
Django (``ConditionalGetMiddleware`` after ours, under waitress).

Chromium's HTTP cache must be live for this: Playwright turns it off for a context with any
``route()``, so tracker requests are not routed to stubs here but recorded from the context's
``request`` events (tracker hosts do not resolve in the test sandbox; an attempt is what
counts). Each journey also checks that the revisit really was conditional (it carried an
``If-None-Match``), or the test would prove nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Request

from cookieguard.catalogue._catalogue import load_catalogue
from tests.browser.site import policy
from tests.harness import UvicornServer, eventually, settle

GA = "https://www.googletagmanager.com/gtag/js?id=G-CONDITIONAL"
PIXEL = "https://www.facebook.com/tr?id=1234567890&amp;ev=PageView&amp;noscript=1"
PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Conditional</title>"
    f'<script async src="{GA}"></script></head>'
    f'<body><h1>Home</h1><img src="{PIXEL}" alt="" width="1" height="1"></body></html>'
)
CATALOGUE = load_catalogue()
PREFIX = "/_cookieguard"


@contextmanager
def starlette_site(root: Path) -> Iterator[str]:
    from starlette.staticfiles import StaticFiles

    from cookieguard.asgi import ConsentMiddleware

    app = ConsentMiddleware(StaticFiles(directory=root, html=True), policy=policy())
    with UvicornServer(app) as server:  # uvicorn
        yield server.url


@contextmanager
def flask_site(root: Path) -> Iterator[str]:
    from flask import Flask, send_from_directory

    from cookieguard.wsgi import ConsentMiddleware
    from tests.harness import WaitressServer

    app = Flask(__name__)

    @app.get("/")
    def home() -> Any:
        return send_from_directory(root, "index.html")

    app.wsgi_app = ConsentMiddleware(app.wsgi_app, policy())  # type: ignore[method-assign]
    with WaitressServer(app) as server:
        yield f"http://127.0.0.1:{server.port}"


def django_home(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(PAGE)


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("", django_home)]


urlpatterns: list[Any] = []  # this module is the Django project's URLconf while it runs


@contextmanager
def django_site(root: Path) -> Iterator[str]:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    import tests.django.conftest  # noqa: F401 - configures Django once per process
    from tests.harness import WaitressServer

    urlpatterns[:] = _urlpatterns()
    settings = {
        "MIDDLEWARE": [
            "cookieguard.django.ConsentMiddleware",
            "django.middleware.http.ConditionalGetMiddleware",  # after ours: inside
        ],
        "ROOT_URLCONF": __name__,
        "COOKIEGUARD": {
            "cookies": {"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"},
            "receipts": None,
        },
    }
    with override_settings(**settings), WaitressServer(WSGIHandler()) as server:
        yield f"http://127.0.0.1:{server.port}"


SITES: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "starlette": starlette_site,
    "flask": flask_site,
    "django": django_site,
}


def is_tracker(url: str) -> bool:
    vendor = CATALOGUE.vendor_for_url(url)
    return vendor is not None and vendor.category != "necessary"


@pytest.mark.parametrize("framework", list(SITES))
def test_accept_visit_reject_revisit_loads_no_tracker(
    browser: Browser, tmp_path: Path, framework: str
) -> None:
    (tmp_path / "index.html").write_text(PAGE)
    with SITES[framework](tmp_path) as url:
        context = browser.new_context()
        try:
            trackers: list[str] = []
            documents: list[Request] = []

            def seen(request: Request) -> None:
                if is_tracker(request.url):
                    trackers.append(request.url)
                if request.resource_type == "document":
                    documents.append(request)

            context.on("request", seen)
            page = context.new_page()

            def choose(action: str) -> None:
                answer = context.request.post(
                    f"{url}{PREFIX}/consent",
                    form={"action": action, "next": "/"},
                    max_redirects=0,
                )
                assert answer.status == 303, answer.text()

            choose("accept_all")
            page.goto(url + "/")
            # (the accepted page must load a tracker, or the test proves nothing)
            eventually(page, lambda: trackers, "a tracker request from the accepted page")

            choose("reject_all")
            trackers.clear()
            documents.clear()
            page.goto(url + "/")
            settle(page)
            assert documents, "no document request on the revisit"
            sent = documents[-1].all_headers()
            assert "if-none-match" in sent, f"the revisit was not conditional: {sent}"
            assert trackers == []
            assert 'data-cookieguard="analytics"' in page.content()
        finally:
            context.close()
