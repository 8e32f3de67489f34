"""A Starlette app that serves one vendor's published snippet per path, behind uvicorn (tests
of vendors' snippets pasted as published: test_catalogue_snippets, test_assembled_loaders).
The fixtures over it (``bare_snippets``, ``guarded_snippets``) are in
tests/browser/conftest.py; the tests visit its pages with ``visit``, whose third-party
requests go to stubs that record them (tests/browser/third_parties.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from tests.browser.site import policy
from tests.harness import UvicornServer

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
