"""The banner on pages whose last ``</body`` is no end tag (issue 19, "read as the browser
reads"): in ``... </bo</BODY>`` the tokenizer reads ``</bo<`` as an end tag's name and
``BODY`` as an attribute, so the banner goes at the end of the page, not inside that tag (nor
inside a quoted value that never closes: before an earlier ``</body>`` then; nor inside a
``<select>``, nor inside a comment that a ``<noscript>`` read without JavaScript opens).
Served whole and streamed in small chunks, Chromium shows the banner and runs banner.js;
without JavaScript the banner's form shows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from cookieguard.asgi import ConsentMiddleware
from tests.browser.site import policy
from tests.harness import UvicornServer

HEAD = "<!doctype html><html><head><title>t</title></head><body><main><p>Text</p></main>"
PAGES = {
    "bo-BODY": HEAD + "</bo</BODY>",
    "b-body": HEAD + "</b</body>\n</html>\n",
    "body-body": HEAD + "</body</body>",
    "quoted-gt": HEAD + '<b x=">" </body>',
    "newline": HEAD + "</bo\n</BODY>",
    # The last "</body" in a quoted value never closed: the tag is dropped, and the first
    # "</body>" is the end tag (gate fuzz, seed 2030 case 3988).
    "open-value": HEAD + '</body><b x="<p></body></html>',
    # A "</body" inside a <select> closes nothing; a later <select> closes the select
    # (gate fuzz, seed 2030 case 111436).
    "in-select": HEAD + "<select><option>o</option></body><select>",
    # Without JavaScript a comment in a <noscript> runs past its end over the "</body>"
    # (gate fuzz, seed 2030 case 214100, the same shape in SVG).
    "noscript-comment": HEAD + "<noscript><!--</noscript></body>x-->",
}


def _app() -> Any:
    async def whole(request: Request) -> Response:
        return HTMLResponse(PAGES[request.path_params["name"]])

    async def streamed(request: Request) -> Response:
        body = PAGES[request.path_params["name"]].encode()

        async def chunks() -> AsyncIterator[bytes]:
            for at in range(0, len(body), 3):
                yield body[at : at + 3]

        return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")

    site = Starlette(routes=[Route("/whole/{name}", whole), Route("/streamed/{name}", streamed)])
    return ConsentMiddleware(site, policy=policy())


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with UvicornServer(_app()) as server:
        yield server.url


@pytest.mark.parametrize("how", ["whole", "streamed"])
@pytest.mark.parametrize("name", list(PAGES))
def test_the_banner_shows_and_its_script_runs(visitor: Any, site: str, name: str, how: str) -> None:
    page = visitor()
    page.goto(f"{site}/{how}/{name}")
    expect(page.locator("#cookie-consent")).to_be_visible()
    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
    assert "cookie-consent" not in (page.locator("main").text_content() or "")


@pytest.mark.parametrize("name", list(PAGES))
def test_without_javascript_the_banner_form_shows(visitor: Any, site: str, name: str) -> None:
    page = visitor(java_script_enabled=False)
    page.goto(f"{site}/streamed/{name}")
    expect(page.locator("#cookie-consent form")).to_be_visible()
