"""Every catalogued vendor, pasted into a page unmarked, is gated for an undecided visitor.

Table-driven over the whole catalogue: a ``<script>``, ``<img>`` and ``<iframe>`` to each
vendor host (and path), and each vendor's published snippet from
``scripts/catalogue_sources/*.toml`` (issue 20: AddThis, ShareThis and Intercom ran before
consent because the catalogue did not know them). Then the three named vendors' real published
snippets through real wrapped Flask and Starlette apps, and the log line their cookies get.
"""

from __future__ import annotations

import importlib.util
import logging
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType
from typing import Any

import flask
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.catalogue import Catalogue, Vendor, load_catalogue
from cookieguard.core._consent import UNDECIDED
from cookieguard.core._guard import Decision
from cookieguard.site._site import Site
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import make_policy

ROOT = Path(__file__).resolve().parents[2]
JS_TYPES = {"", "text/javascript", "application/javascript", "module", "text/ecmascript"}


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_catalogue", ROOT / "scripts" / "build_catalogue.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CATALOGUE = load_catalogue()
VENDORS = {vendor.name: vendor for vendor in CATALOGUE.vendors}
SNIPPETS: dict[str, str] = _build_script().snippets()


class Loads(HTMLParser):
    """What a browser would fetch or run from a page: live ``src`` URLs and inline scripts.

    A ``<script>`` whose type is not JavaScript does not run; an ``<iframe>`` or ``<img>``
    inside a ``<template>`` (a click-to-load placeholder) is inert; ``data-cookieguard-src``
    is not ``src``.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._template = 0
        self._script: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "template":
            self._template += 1
            return
        if self._template:
            return
        if tag == "script":
            if values.get("type", "").strip().lower() not in JS_TYPES:
                return
            if "src" in values:
                self.urls.append(values["src"])
            else:
                self._script = []
        elif tag in ("img", "iframe", "embed", "source", "video", "audio") and "src" in values:
            self.urls.append(values["src"])
        elif tag == "link" and "href" in values:
            self.urls.append(values["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "template" and self._template:
            self._template -= 1
        elif tag == "script" and self._script is not None:
            self.inline.append("".join(self._script))
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)


def live_vendors(page: str, catalogue: Catalogue = CATALOGUE) -> set[str]:
    """Names of the catalogued vendors a browser would reach from ``page``."""
    parser = Loads()
    parser.feed(page)
    parser.close()
    found = {v.name for url in parser.urls if (v := catalogue.vendor_for_url(url)) is not None}
    for text in parser.inline:
        found.update(v.name for v in catalogue.vendors_in_text(text))
    return found


def gated(body: str) -> str:
    """``body`` as cookieguard's rewriter serves it to an undecided visitor."""
    site = Site(make_policy(), receipts=None)
    injection = site.injection(
        Decision(UNDECIDED),
        method="GET",
        status=200,
        content_type="text/html; charset=utf-8",
        content_encoding=None,
        path="/",
        query="",
        accept_language="en",
    )
    assert injection is not None
    return injection.injector().feed_last(body.encode()).decode()


def page(fragment: str) -> str:
    return (
        f"<!doctype html><html><head><title>t</title></head><body><p>Hi</p>{fragment}</body></html>"
    )


def urls_of(vendor: Vendor) -> list[str]:
    """A URL on each of the vendor's hosts (under each path, if the host is shared)."""
    urls = []
    for host in vendor.hosts:
        for path in vendor.paths or ("/x/tag.js",):
            urls.append(
                f"https://{host}{path.rstrip('/')}/x?id=1"
                if vendor.paths
                else f"https://{host}{path}"
            )
    return urls


# --- the whole catalogue, by host ---------------------------------------------------------------


def test_the_catalogue_covers_what_sites_paste() -> None:
    assert len(CATALOGUE.vendors) >= 200
    for name in ("AddThis", "ShareThis", "Intercom"):
        assert VENDORS[name].hosts and VENDORS[name].cookies, name
    # Every family the issue names has vendors (names from the sources' section comments).
    for name in (
        "Google Tag Manager",
        "Tealium iQ",
        "Meta Pixel",
        "Criteo",
        "VWO",
        "AB Tasty",
        "FullStory",
        "LogRocket",
        "Hotjar",
        "Crazy Egg",
        "Drift",
        "Zendesk Web Widget",
        "AddToAny",
        "Disqus",
        "YouTube",
        "Vimeo",
        "Google Maps",
        "Bing Maps",
        "Awin",
        "Impact",
        "Marketo Munchkin",
        "Klaviyo",
        "Plausible Analytics",
        "GoatCounter",
    ):
        assert name in VENDORS, name


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_a_tag_to_any_vendor_host_is_neutralised(name: str) -> None:
    vendor = VENDORS[name]
    fragment = "".join(
        f'<script async src="{url}"></script><img src="{url}" alt=""><iframe src="{url}"></iframe>'
        for url in urls_of(vendor)
    )
    original = page(fragment)
    assert name in live_vendors(original), "the tag must reach the vendor ungated"
    out = gated(original)
    assert live_vendors(out) == set(), out
    if vendor.embed:
        assert "data-cookieguard-embed=" in out  # click-to-load placeholder, not a bare hole
    else:
        assert f'data-cookieguard="{vendor.category}"' in out


def test_every_vendor_has_its_published_snippet() -> None:
    # The build accepts a vendor without one (a beacon host never pasted on its own), but
    # today every catalogued vendor has one, and the next test pastes each.
    assert set(SNIPPETS) == set(VENDORS)


# --- the published snippets -----------------------------------------------------------------


# Eight of them write their loader's host without "//" before it (Cxense, FullStory, New
# Relic Browser, Quantcast, Olark, Raptive, Salesforce Account Engagement, SnapEngage:
# 'https://secure' + '.quantserve.com/quant.js', beacon: 'bam.nr-data.net', the host as the
# path of another): the gate reads hosts in inline scripts wherever they are written
# (Catalogue.mentions), and so does live_vendors here. tests/catalogue/test_mentions.py
# checks that search against the rule written the slow way.
@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_a_published_snippet_pasted_unmarked_is_gated(name: str) -> None:
    snippet = SNIPPETS[name]
    original = page(snippet)
    reached = live_vendors(original)
    assert name in reached, f"{name}'s own snippet reaches {reached}, not {name}"
    out = gated(original)
    assert live_vendors(out) == set(), out


# --- the three vendors of issue 20, through real wrapped apps -------------------------------

# As each vendor's install page publishes them (IDs replaced).
ADDTHIS = (
    "<!-- Go to www.addthis.com/dashboard to customize your tools -->\n"
    '<script type="text/javascript" '
    'src="//s7.addthis.com/js/300/addthis_widget.js#pubid=ra-5a1b2c3d4e5f6a7b"></script>\n'
    '<div class="addthis_inline_share_toolbox"></div>'
)
SHARETHIS = (
    "<script type='text/javascript' src='https://platform-api.sharethis.com/js/sharethis.js"
    "#property=5f0000000000000000000000&product=inline-share-buttons&source=platform' "
    "async='async'></script>\n"
    '<div class="sharethis-inline-share-buttons"></div>'
)
INTERCOM = (
    "<script>\n"
    "  window.intercomSettings = {\n"
    '    api_base: "https://api-iam.intercom.io",\n'
    '    app_id: "abc12345",\n'
    "  };\n"
    "</script>\n"
    "<script>\n"
    "  // We pre-filled your app ID in the widget URL: "
    "'https://widget.intercom.io/widget/abc12345'\n"
    '  (function(){var w=window;var ic=w.Intercom;if(typeof ic==="function")'
    "{ic('reattach_activator');ic('update',w.intercomSettings);}else{var d=document;"
    "var i=function(){i.c(arguments);};i.q=[];i.c=function(args){i.q.push(args);};"
    "w.Intercom=i;var l=function(){var s=d.createElement('script');s.type='text/javascript';"
    "s.async=true;s.src='https://widget.intercom.io/widget/abc12345';"
    "var x=d.getElementsByTagName('script')[0];x.parentNode.insertBefore(s,x);};"
    "if(document.readyState==='complete'){l();}else if(w.attachEvent)"
    "{w.attachEvent('onload',l);}else{w.addEventListener('load',l,false);}}})();\n"
    "</script>"
)
NAMED = {
    "AddThis": (ADDTHIS, "__atuvc"),
    "ShareThis": (SHARETHIS, "__stid"),
    "Intercom": (INTERCOM, "intercom-id-abc12345"),
}
SHOP = "<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>{}</body></html>"


def flask_app(snippet: str, cookie: str) -> Any:
    app = flask.Flask("shop")

    @app.route("/")
    def home() -> flask.Response:
        response = flask.make_response(SHOP.format(snippet))
        response.set_cookie(cookie, "1")  # as if the vendor's script had run on a past visit
        return response

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, make_policy())  # type: ignore[method-assign]
    return app.test_client()


def starlette_app(snippet: str, cookie: str) -> TestClient:
    async def home(request: Request) -> HTMLResponse:
        response = HTMLResponse(SHOP.format(snippet))
        response.set_cookie(cookie, "1")
        return response

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(AsgiMiddleware, policy=make_policy())
    return TestClient(app, base_url="http://shop.example.com")


@pytest.mark.parametrize("kind", ["flask", "starlette"])
@pytest.mark.parametrize("name", sorted(NAMED))
def test_the_named_vendors_snippets_are_gated_in_wrapped_apps(
    name: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    snippet, cookie = NAMED[name]
    assert name in live_vendors(SHOP.format(snippet))
    if kind == "flask":
        client = flask_app(snippet, cookie)
        client.set_cookie(cookie, "old")  # werkzeug's client writes the Cookie header itself
    else:
        client = starlette_app(snippet, cookie)
        client.cookies.set(cookie, "old")
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        response = client.get("/")
    body = response.get_data(as_text=True) if kind == "flask" else response.text
    set_cookies = (
        response.headers.getlist("Set-Cookie")
        if kind == "flask"
        else response.headers.get_list("set-cookie")
    )
    assert 'id="cookie-consent"' in body
    assert live_vendors(body) == set(), body
    category = VENDORS[name].category
    assert f'data-cookieguard="{category}"' in body
    # The vendor's cookie is not set, and the one the browser still holds is expired.
    assert not any(c.startswith(f"{cookie}=1") for c in set_cookies), set_cookies
    assert any(c.startswith(f"{cookie}=") and "Max-Age=0" in c for c in set_cookies)
    # The log names the catalogue's category, reads correctly and never advises "necessary".
    (said,) = [r.getMessage() for r in caplog.records if repr(cookie) in r.getMessage()]
    article = "an" if category[0] in "aeiou" else "a"
    assert f"knows it as {article} {category} cookie of {name}" in said
    assert "'necessary'})" not in said
    assert f": {category!r}}})" in said
