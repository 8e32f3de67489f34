"""The consent-aware CSP in real Chromium: a tracker injected at run time is refused until consent.

A real uvicorn server runs a small Starlette site behind ``ConsentMiddleware`` with
``Policy(csp="enforce")`` (and one with ``"report"``). Its first-party ``inject.js`` adds the
Meta Pixel script (``connect.facebook.net/en_US/fbevents.js``) at run time, as a tag manager
would. ``connect.facebook.net`` is routed by Playwright to a local stub that counts requests:
the policy must stop the browser before any request reaches it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from playwright.sync_api import Error as PlaywrightError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as Path

from cookieguard import Policy
from cookieguard.asgi import ConsentMiddleware
from cookieguard.csp._csp import CspReports
from tests.browser.site import RECORDER
from tests.harness import UvicornServer, eventually, settle

PIXEL = "https://connect.facebook.net/en_US/fbevents.js"
PIXEL_JS = "window.__pixel = (window.__pixel || 0) + 1;"
INJECT_JS = """
(function () {
  var s = document.createElement('script');
  s.async = true;
  s.src = 'https://connect.facebook.net/en_US/fbevents.js';
  var nonce = document.currentScript && document.currentScript.nonce;
  if (nonce) s.nonce = nonce;
  s.addEventListener('error', function () { window.__pixelRefused = true; });
  document.head.appendChild(s);
})();
"""

#: A first-party script adding a Floodlight-style tracking iframe at run time.
FRAME_JS = """
(function () {
  var f = document.createElement('iframe');
  f.src = 'https://fls.doubleclick.net/activityi;src=1';
  f.width = 1; f.height = 1;
  document.body.appendChild(f);
})();
"""
#: A run-time iframe to a Google Ads path on the host the Maps embed shares (red-team K8).
PAGEAD_JS = """
(function () {
  var f = document.createElement('iframe');
  f.src = 'https://www.google.de/pagead/1p-user-list/1/?random=1';
  document.body.appendChild(f);
})();
"""
MAP = (
    '<iframe width="600" height="450" title="Map" '
    'src="https://www.google.de/maps/embed?pb=!1m18!1m12"></iframe>'
)
EMBED = (
    '<iframe width="560" height="315" src="https://www.youtube.com/embed/abc" title="Video">'
    "</iframe>"
)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><main><h1>Shop</h1><p>Hand-made photo prints.</p></main>
{scripts}
</body></html>"""


def build_site(mode: str) -> ConsentMiddleware:
    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(scripts='<script src="/static/inject.js"></script>'))

    async def nonce_page(request: Request) -> HTMLResponse:
        # The app's own strict policy: nonce-based inline scripts, and the hosts it uses.
        nonce = secrets.token_urlsafe(16)
        scripts = (
            f'<script nonce="{nonce}">window.__nonced = true;</script>\n'
            "<script>window.__unnonced = true;</script>\n"
            f'<script nonce="{nonce}" src="/static/inject.js"></script>'
        )
        policy = (
            f"script-src 'self' 'nonce-{nonce}' https://connect.facebook.net; "
            "object-src 'none'; base-uri 'none'"
        )
        return HTMLResponse(
            PAGE.format(scripts=scripts), headers={"content-security-policy": policy}
        )

    async def embeds(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(scripts=EMBED + '<script src="/static/frame.js"></script>'))

    async def maps(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE.format(scripts=MAP + '<script src="/static/pagead.js"></script>'))

    async def pagead(request: Request) -> Response:
        return Response(PAGEAD_JS, media_type="text/javascript")

    async def inject(request: Request) -> Response:
        return Response(INJECT_JS, media_type="text/javascript")

    async def frame(request: Request) -> Response:
        return Response(FRAME_JS, media_type="text/javascript")

    app = Starlette(
        routes=[
            Path("/", home),
            Path("/nonce", nonce_page),
            Path("/embeds", embeds),
            Path("/static/inject.js", inject),
            Path("/static/frame.js", frame),
            Path("/maps", maps),
            Path("/static/pagead.js", pagead),
        ]
    )
    policy = Policy(
        secret_keys=["browser-csp-secret-0123456789"],
        cookies={"_fbp": "marketing"},
        receipts=None,
        csp=mode,  # type: ignore[arg-type]
    )
    return ConsentMiddleware(app, policy=policy)


def reports_of(middleware: ConsentMiddleware) -> CspReports:
    # The route is the endpoints' per-client limit (issue 23) in front of the collector.
    reports = middleware.site.endpoints._csp_reports
    assert isinstance(reports, CspReports)
    return reports


@pytest.fixture(scope="module")
def enforcing() -> Iterator[tuple[UvicornServer, ConsentMiddleware]]:
    middleware = build_site("enforce")
    with UvicornServer(middleware) as running:
        yield running, middleware


@pytest.fixture(scope="module")
def reporting() -> Iterator[tuple[UvicornServer, ConsentMiddleware]]:
    middleware = build_site("report")
    with UvicornServer(middleware) as running:
        yield running, middleware


class Stub:
    """``connect.facebook.net`` answered locally; every request that reaches it is counted."""

    def __init__(self, body: str = PIXEL_JS, content_type: str = "text/javascript") -> None:
        self.hits: list[str] = []
        self.body = body
        self.content_type = content_type

    def __call__(self, route: Route) -> None:
        self.hits.append(route.request.url)
        route.fulfill(status=200, content_type=self.content_type, body=self.body)


Visit = Callable[[str], tuple[Page, Stub]]


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    contexts: list[BrowserContext] = []

    def make(base_url: str) -> tuple[Page, Stub]:
        context = browser.new_context(base_url=base_url)
        contexts.append(context)
        context.add_init_script(script=RECORDER)
        stub = Stub()
        context.route("https://connect.facebook.net/**", stub)
        return context.new_page(), stub

    yield make
    for context in contexts:
        context.close()


def violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__violations")
    return found


def pixel_ran(page: Page) -> int:
    count: int = page.evaluate("window.__pixel || 0")
    return count


def until(page: Page, expression: str) -> None:
    """Wait until ``expression`` is truthy in the page, across reloads.

    ``page.wait_for_function`` polls with ``new Function`` inside the page, which a strict
    app policy without 'unsafe-eval' refuses; ``page.evaluate`` goes through the DevTools
    protocol, which no page policy governs.
    """

    def holds() -> bool:
        try:
            return bool(page.evaluate(expression))
        except PlaywrightError:  # the page is navigating: its context went away
            return False

    eventually(page, holds, expression)


def wait_refused(page: Page) -> None:
    until(page, "window.__pixelRefused === true")


def wait_loaded(page: Page) -> None:
    until(page, "(window.__pixel || 0) >= 1")


def documents(page: Page) -> list[str]:
    """Top-level document requests from now on (a reload shows up here)."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request.url)
            if request.resource_type == "document" and request.frame == page.main_frame
            else None
        ),
    )
    return seen


# -- enforce ------------------------------------------------------------------------------


def test_injected_pixel_is_refused_before_consent(
    enforcing: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    server, _ = enforcing
    page, stub = visit(server.url)
    response = page.goto("/")
    assert response is not None
    assert "content-security-policy" in response.headers
    wait_refused(page)
    assert stub.hits == []
    assert pixel_ran(page) == 0
    assert any("connect.facebook.net" in v for v in violations(page)), violations(page)


def test_reject_all_keeps_refusing(
    enforcing: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    server, _ = enforcing
    page, stub = visit(server.url)
    page.goto("/")
    page.get_by_role("button", name="Reject all").click()
    until(page, "window.cookieguard && window.cookieguard.consent.decided")
    page.reload()
    wait_refused(page)
    assert stub.hits == []


def test_accept_all_loads_the_pixel_with_banner_js_reloading_once(
    enforcing: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    # banner.js sees data-cookieguard-csp="enforce" and reloads after a choice that grants a
    # category: the new page carries a policy that allows the newly granted hosts.
    server, _ = enforcing
    page, stub = visit(server.url)
    page.goto("/")
    wait_refused(page)
    loads = documents(page)
    page.get_by_role("button", name="Accept all").click()
    wait_loaded(page)
    assert len(loads) == 1, loads  # exactly one reload, done by banner.js
    assert stub.hits == [PIXEL]
    assert not any("connect.facebook.net" in v for v in violations(page))


def test_accept_all_without_javascript_loads_the_pixel_on_the_next_page(
    enforcing: tuple[UvicornServer, ConsentMiddleware], browser: Browser
) -> None:
    # The server-rendered form works without banner.js: its 303 lands on a page whose policy
    # allows the granted hosts (here JavaScript runs, but banner.js is never fetched).
    server, _ = enforcing
    context = browser.new_context(base_url=server.url)
    context.add_init_script(script=RECORDER)
    context.route("**/_cookieguard/banner.js*", lambda route: route.abort())
    stub = Stub()
    context.route("https://connect.facebook.net/**", stub)
    try:
        page = context.new_page()
        page.goto("/")
        wait_refused(page)
        with page.expect_navigation():
            page.get_by_role("button", name="Accept all").click()
        wait_loaded(page)
        assert stub.hits == [PIXEL]
    finally:
        context.close()


def test_the_apps_nonce_policy_keeps_working_beside_ours(
    enforcing: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    server, _ = enforcing
    page, stub = visit(server.url)
    response = page.goto("/nonce")
    assert response is not None
    both = response.headers_array()
    policies = [h["value"] for h in both if h["name"].lower() == "content-security-policy"]
    assert len(policies) == 2, policies  # the app's, untouched, and ours
    assert any("'nonce-" in p for p in policies)
    wait_refused(page)
    assert page.evaluate("window.__nonced === true")  # ours does not break nonced inline code
    assert page.evaluate("window.__unnonced === undefined")  # the app's policy still holds
    assert any("inline" in v for v in violations(page))
    assert stub.hits == []
    page.get_by_role("button", name="Accept all").click()
    wait_loaded(page)
    assert stub.hits == [PIXEL]
    assert page.evaluate("window.__nonced === true")
    assert page.evaluate("window.__unnonced === undefined")


def test_click_to_load_embed_loads_once_under_the_enforced_policy(
    enforcing: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    # The placeholder's "Load once" puts the YouTube iframe back without granting marketing; a
    # policy cannot change after the page loaded, so frame-src allows embed hosts up front.
    # A tracking iframe a script adds at run time stays refused.
    server, _ = enforcing
    page, _stub = visit(server.url)
    embeds = Stub("<!doctype html><title>video</title><p>video</p>", "text/html")
    ads = Stub("<!doctype html><title>ad</title>", "text/html")
    page.context.route("https://www.youtube.com/**", embeds)
    page.context.route("https://fls.doubleclick.net/**", ads)
    page.goto("/embeds")
    until(page, "window.cookieguard && window.cookieguard.ready")
    until(page, "window.__violations.some((v) => v.includes('fls.doubleclick.net'))")
    assert embeds.hits == [] and ads.hits == []
    page.get_by_role("button", name="Load once").click()
    until(page, "() => window.frames.length >= 2")
    page.frame_locator("iframe[src*='youtube.com']").get_by_text("video").wait_for()
    assert embeds.hits == ["https://www.youtube.com/embed/abc"]
    assert ads.hits == []
    assert not any("youtube" in v for v in violations(page)), violations(page)
    assert page.evaluate("window.cookieguard.consent.categories.marketing") is False


def test_a_map_on_a_shared_host_loads_once_by_its_path_and_nothing_else_there_loads(
    enforcing: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    """Red-team K8/K4: frame-src allows www.google.de/maps/ (a CSP path source), not the whole
    host, so "Load once" shows the map while an ads iframe on the same host stays refused."""
    server, _ = enforcing
    page, _stub = visit(server.url)
    google = Stub("<!doctype html><title>map</title><p>map</p>", "text/html")
    page.context.route("https://www.google.de/**", google)
    page.goto("/maps")
    until(page, "window.cookieguard && window.cookieguard.ready")
    until(page, "window.__violations.some((v) => v.includes('www.google.de'))")
    assert google.hits == []
    page.get_by_role("button", name="Load once").click()
    page.frame_locator("iframe[src*='/maps/embed']").get_by_text("map").wait_for()
    assert google.hits == ["https://www.google.de/maps/embed?pb=!1m18!1m12"]
    assert not any("/maps" in v for v in violations(page)), violations(page)
    assert page.evaluate("window.cookieguard.consent.categories.marketing") is False


def test_flask_under_waitress_refuses_then_loads_the_pixel(browser: Browser) -> None:
    # The same journey through the WSGI adapter: Flask behind ConsentMiddleware, real waitress.
    from flask import Flask

    from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
    from tests.harness import WaitressServer

    flask_app = Flask(__name__)

    @flask_app.get("/")
    def home() -> str:
        return PAGE.format(scripts='<script src="/static/inject.js"></script>')

    @flask_app.get("/static/inject.js")
    def inject() -> tuple[str, int, dict[str, str]]:
        return INJECT_JS, 200, {"content-type": "text/javascript"}

    # The pixel is injected at run time, where the HTML gate cannot meet it: the CSP lists only
    # the vendors a site uses (met in its pages or declared, issue 24), so it is declared.
    policy = Policy(
        secret_keys=["browser-csp-secret-0123456789"],
        cookies={"_fbp": "marketing"},
        receipts=None,
        csp="enforce",
    )
    flask_app.wsgi_app = WsgiMiddleware(flask_app.wsgi_app, policy)  # type: ignore[method-assign]
    with WaitressServer(flask_app) as server:
        context = browser.new_context(base_url=f"http://127.0.0.1:{server.port}")
        context.add_init_script(script=RECORDER)
        stub = Stub()
        context.route("https://connect.facebook.net/**", stub)
        try:
            page = context.new_page()
            response = page.goto("/")
            assert response is not None and "content-security-policy" in response.headers
            wait_refused(page)
            assert stub.hits == []
            page.get_by_role("button", name="Accept all").click()
            wait_loaded(page)
            assert stub.hits == [PIXEL]
        finally:
            context.close()


# -- other ways a run-time tracker could load (fetch directives beyond the five gated) ------

#: A tracker URL the HTML rewriter cannot see (built at run time).
TRACKER = "'https://connect.face'+'book.net/x'"
RUNTIME: dict[str, str] = {
    "<link rel=prefetch>": "var l=document.createElement('link');l.rel='prefetch';"
    f"l.href={TRACKER};document.head.append(l)",
    "<link rel=preload as=font>": "var l=document.createElement('link');l.rel='preload';"
    f"l.as='font';l.crossOrigin='anonymous';l.href={TRACKER}+'.woff2';document.head.append(l)",
    "sendBeacon": f"navigator.sendBeacon({TRACKER},'x')",
    "EventSource": f"new EventSource({TRACKER})",
    "<embed src>": "var e=document.createElement('embed');e.type='image/gif';"
    f"e.src={TRACKER};document.body.append(e)",
    "@import in a <style>": "var s=document.createElement('style');"
    f"s.textContent='@import url('+{TRACKER}+'.css);';document.head.append(s)",
    "<video poster>": f"var v=document.createElement('video');v.poster={TRACKER};"
    "document.body.append(v)",
    "<video src>": f"var v=document.createElement('video');v.src={TRACKER}+'.mp4';"
    "v.preload='auto';document.body.append(v)",
}
RUNTIME_KEYS = {name: str(i) for i, name in enumerate(RUNTIME)}


def runtime_app() -> Starlette:
    async def case(request: Request) -> HTMLResponse:
        name = list(RUNTIME)[int(request.path_params["key"])]
        script = f"<script>{RUNTIME[name]};window.__ran=1</script>"
        return HTMLResponse(PAGE.format(scripts=script))

    return Starlette(routes=[Path("/runtime/{key}", case)])


@pytest.fixture(scope="module")
def runtime_sites() -> Iterator[tuple[str, str]]:
    policy = Policy(secret_keys=["browser-csp-secret-0123456789"], receipts=None, csp="enforce")
    with (
        UvicornServer(runtime_app()) as bare,
        UvicornServer(ConsentMiddleware(runtime_app(), policy)) as ours,
    ):
        yield bare.url, ours.url


@pytest.mark.parametrize("name", list(RUNTIME))
def test_other_fetch_kinds_reach_the_tracker_without_a_csp(
    runtime_sites: tuple[str, str], visit: Visit, name: str
) -> None:
    """Control: each injection really loads from the tracker host in Chromium."""
    page, stub = visit(runtime_sites[0])
    page.goto(f"/runtime/{RUNTIME_KEYS[name]}")
    until(page, "window.__ran === 1")
    eventually(page, lambda: stub.hits, f"a request to the tracker ({name})")


@pytest.mark.parametrize("name", list(RUNTIME))
def test_the_enforced_csp_refuses_other_fetch_kinds(
    runtime_sites: tuple[str, str], visit: Visit, name: str
) -> None:
    """Red-team K8 and beyond: fonts, media, objects, prefetches, beacons and imports fall
    back to default-src, so none reaches the tracker before consent. (An injected
    <link rel=manifest> is not fetched by Chromium at all, so it is no case here.)"""
    page, stub = visit(runtime_sites[1])
    page.goto(f"/runtime/{RUNTIME_KEYS[name]}")
    until(page, "window.__ran === 1")
    until(page, "window.__violations.some((v) => v.includes('connect.facebook.net'))")
    settle(page)
    assert stub.hits == [], name


# -- report -------------------------------------------------------------------------------


def test_report_mode_loads_everything_and_reports_the_pixel(
    reporting: tuple[UvicornServer, ConsentMiddleware], visit: Visit
) -> None:
    server, middleware = reporting
    page, stub = visit(server.url)
    response = page.goto("/")
    assert response is not None
    assert "content-security-policy-report-only" in response.headers
    assert "content-security-policy" not in response.headers
    wait_loaded(page)  # report-only: nothing is blocked
    assert stub.hits == [PIXEL]
    reports = reports_of(middleware)

    def pixel_rows() -> list[dict[str, Any]]:
        return [r for r in reports.summary() if r["blocked"] == "connect.facebook.net"]

    # The browser posts the report on its own schedule.
    rows = eventually(page, pixel_rows, "the pixel's CSP report")
    assert rows[0]["vendor"] == "Meta Pixel"
    assert rows[0]["category"] == "marketing"
    assert rows[0]["disposition"] == "report"
    assert rows[0]["page"] == "/"
