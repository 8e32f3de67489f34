"""Gated scripts of every type come back as what they were, in Chromium (issue 19).

The gate neutralises an import map or speculation rules that name a tracker's URL the way it
neutralises a script (``type="text/plain"``, its own type kept in ``data-cookieguard-type``).
banner.js's activation (banner-more.js ``run``) put a module's type back, but restored an
import map as a classic script: its JSON was run as JavaScript (a syntax error) and no module
could use the map. Behind uvicorn with the real middleware: nothing reaches the tracker before
a choice; after "Accept all" the import map is an import map again, and a module that imports
its specifier loads the tracker's module (every third-party request goes to a local stub:
tests/browser/third_parties.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from tests.browser.site import policy
from tests.browser.third_parties import Visit
from tests.harness import UvicornServer

TRACKER = "https://connect.facebook.net/en_US/fbevents.js"
PAGE = f"""<!doctype html><html lang="en"><head><title>Map</title>
<script type="importmap">{{"imports": {{"pixel": "{TRACKER}"}}}}</script>
<script type="speculationrules">{{"prefetch": [{{"urls": ["{TRACKER}?rules"]}}]}}</script>
</head><body><h1>Map</h1>
<script type="text/plain" data-cookieguard="marketing" data-cookieguard-type="module">
import "pixel";
window.__imported = true;
</script>
</body></html>"""


def build_app() -> Starlette:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    return Starlette(routes=[AppRoute("/", home)])


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with UvicornServer(ConsentMiddleware(build_app(), policy=policy())) as server:
        yield server.url


def test_a_gated_import_map_is_an_import_map_again_after_accept_all(
    visit: Visit, guarded: str
) -> None:
    page, recorder = visit(guarded + "/")
    tracked = recorder.urls
    page.wait_for_function("window.cookieguard !== undefined")
    page.evaluate("cookieguard.ready")
    page.wait_for_timeout(200)
    gated = page.eval_on_selector_all(
        "script[data-cookieguard-type]",
        "(els) => els.map((el) => [el.type, el.dataset.cookieguardType])",
    )
    assert gated == [
        ["text/plain", "importmap"],
        ["text/plain", "speculationrules"],
        ["text/plain", "module"],
    ]
    assert tracked == []

    page.click("[data-cookieguard-action=accept_all]")
    page.wait_for_function("window.__imported === true && window.__tracked === true")
    # (The restored speculation rules may also prefetch their URL: a tracker request too.)
    assert TRACKER in tracked and all(url.startswith(TRACKER) for url in tracked)
    restored = page.eval_on_selector_all(
        "script[data-cookieguard-type]", "(els) => els.map((el) => el.type)"
    )
    assert restored == ["importmap", "speculationrules", "module"]
    assert page.evaluate("HTMLScriptElement.supports('importmap')")
