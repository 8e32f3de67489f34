"""Host spellings that URL parsing normalises, in a real Chromium (issue 19 part 4, URL side).

Each spelling is a pixel and a script on a page served twice by uvicorn: by the bare app,
where Chromium must really fetch the tracker (or the case proves nothing), and behind
``ConsentMiddleware`` for an undecided visitor, where nothing may reach a catalogued host.
Every third-party request is routed to a local stub that records its URL
(tests/browser/third_parties.py), so no request leaves the machine. The same spellings are
unit-tested in ``tests/html_editing/test_url_spellings.py`` and ``tests/catalogue/test_hosts.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from tests.browser.site import policy
from tests.browser.third_parties import Visit, visits
from tests.harness import UvicornServer, eventually

#: Spellings of https://www.facebook.com/tr as written in the page (UTF-8; the test pages
#: are http:, so "https:host" without slashes names another scheme's host).
SPELLINGS = {
    "percent-encoded letter": "https://www.f%61cebook.com/tr",
    "percent-encoded dots": "//www%2Efacebook%2Ecom/tr",
    "full-width letters and dots": "https://ｗｗｗ．ｆａｃｅｂｏｏｋ．ｃｏｍ/tr",  # noqa: RUF001
    "ideographic full stops": "//www\u3002facebook\u3002com/tr",
    "halfwidth ideographic full stops": "//www\uff61facebook\uff61com/tr",
    "upper case and a final dot": "https://WWW.FACEBOOK.COM./tr",
    "backslashes": "https:\\\\www.facebook.com/tr",
    "slash and backslash": "/\\www.facebook.com/tr",
    "many slashes": "https:////www.facebook.com/tr",
    "no slashes, other scheme": "https:www.facebook.com/tr",
    "one slash, other scheme": "https:/www.facebook.com/tr",
    "one backslash, other scheme": "https:\\www.facebook.com/tr",
    "a port": "https://www.facebook.com:443/tr",
    "soft hyphen": "https://www.face\u00adbook.com/tr",
    "soft hyphen reference": "https://www.face&shy;book.com/tr",
    "character reference letter": "https://www.f&#97;cebook.com/tr",
    "character reference dots": "//www&period;facebook&period;com/tr",
    "tab and newline": "//www.face\tbook.c\nom/tr",
    "kelvin sign": "https://www.faceboo\u212a.com/tr",
}
#: Spellings of cdn.cxense.com written without "//" in an SVG script, whose text has its
#: character references decoded before it runs; the URL parser then maps the host (UTS 46).
SVG_SCRIPT_HOSTS = {
    "named reference to a double-struck letter": "cdn.cx&eopf;nse.com",
    "numeric reference to a double-struck letter": "cdn.cx&#x1D556;nse.com",
    "Fraktur capital reference and a full-width dot": "cdn.cx&Efr;nse&#xFF0E;com",
    # (names of their own: KEYS is one table for both dicts, and a name shared with
    # SPELLINGS served this page for that spelling's cases too)
    "a soft hyphen reference in the script": "cdn.cx&shy;ense.com",
    "a soft hyphen reference without its semicolon": "cdn.cx&shyense.com",
}
assert not set(SPELLINGS) & set(SVG_SCRIPT_HOSTS)  # one KEYS table for both
KEYS = {
    name: hashlib.sha1(name.encode()).hexdigest()[:12] for name in [*SPELLINGS, *SVG_SCRIPT_HOSTS]
}


def markup(src: str) -> str:
    return f'<img src="{src}" alt="" width="1" height="1"><script async src="{src}"></script>'


def svg_script(host: str) -> str:
    return f"<svg><script>new Image().src = 'https://' + '{host}' + '/cx.gif';</script></svg>"


def build_app() -> Starlette:
    by_key = {KEYS[name]: markup(src) for name, src in SPELLINGS.items()}
    by_key |= {KEYS[name]: svg_script(host) for name, host in SVG_SCRIPT_HOSTS.items()}

    async def case_page(request: Request) -> Response:
        body = (
            "<!doctype html><html><head><meta charset=utf-8><title>t</title></head>"
            f"<body>{by_key[request.path_params['key']]}</body></html>"
        )
        return Response(body.encode(), media_type="text/html; charset=utf-8")

    return Starlette(routes=[AppRoute("/case/{key}", case_page)])


@pytest.fixture(scope="module")
def bare() -> Iterator[str]:
    with UvicornServer(build_app()) as server:
        yield server.url


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with UvicornServer(ConsentMiddleware(build_app(), policy=policy())) as server:
        yield server.url


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    # settle's pause: time for a leak to show (async scripts and their stubs) before a test
    # says nothing arrived; the control waits for its request instead.
    with visits(browser, pause=0.2) as visit:
        yield visit


#: Each case's tracker host: www.facebook.com for the URL spellings, cdn.cxense.com for
#: the hosts an SVG script spells with references (decoded, then mapped by the URL parser).
REACHES = {name: "www.facebook.com" for name in SPELLINGS} | {
    name: "cdn.cxense.com" for name in SVG_SCRIPT_HOSTS
}


@pytest.mark.parametrize("name", list(REACHES))
def test_chromium_reaches_the_tracker_without_cookieguard(visit: Any, bare: str, name: str) -> None:
    """Control: the spelling really reaches its tracker's host in Chromium."""
    page, recorder = visit()  # (not settled: the request is waited for)
    page.goto(f"{bare}/case/{KEYS[name]}")
    eventually(page, lambda: recorder.trackers, f"{name}: a request to a tracker host")
    hosts = {url.split("/")[2].rstrip(".").lower() for url in recorder.trackers}
    assert hosts == {REACHES[name]}, recorder.urls


@pytest.mark.parametrize("name", list(SPELLINGS))
def test_the_spelling_is_gated_for_an_undecided_visitor(
    visit: Any, guarded: str, name: str
) -> None:
    page, recorder = visit(f"{guarded}/case/{KEYS[name]}")
    assert recorder.trackers == []
    assert page.evaluate("window.__tracked") is None


@pytest.mark.parametrize("name", list(SVG_SCRIPT_HOSTS))
def test_an_svg_script_spelling_a_host_with_references_is_gated(
    visit: Any, guarded: str, name: str
) -> None:
    page, recorder = visit(f"{guarded}/case/{KEYS[name]}")
    assert recorder.trackers == []
    assert page.locator('script[type="text/plain"][data-cookieguard]').count() == 1
