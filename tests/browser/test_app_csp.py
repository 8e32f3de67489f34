"""Pages with their own nonce-based Content-Security-Policy, in Chromium (issue 20 part 1).

Real stacks: Flask with flask-talisman (a nonce; a nonce with ``'strict-dynamic'``, Google's
"strict CSP"), Django with django-csp 4 (``CONTENT_SECURITY_POLICY`` and ``csp.constants.NONCE``;
its middleware before ours and after ours), and a Starlette app that writes the header itself
(enforced, report-only, and as a ``<meta http-equiv>``). Each page carries a Google tag (an
external script and an inline snippet, both with the app's nonce) that cookieguard gates for
an undecided visitor. Under every policy, ``banner.js`` must run (``window.cookieguard``), "Accept
all" must restore both scripts in place (no reload), and the browser must report no violation
for anything cookieguard wrote. Before cookieguard copied the page's nonce onto its tags, the
browser refused ``banner.js`` under ``'strict-dynamic'`` and under a style-src nonce policy.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Request as PlaywrightRequest

from tests.browser.site import RECORDER, policy
from tests.harness import UvicornServer

GTAG = "https://www.googletagmanager.com/gtag/js?id=G-NONCE1"
GTAG_JS = "window.__gtag = (window.__gtag || 0) + 1;"


def page_html(nonce: str, head: str = "") -> str:
    """The app's page: its tags carry the response's nonce, as each framework's docs show."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Strict</title>"
        f"{head}</head><body><main><h1>Strict shop</h1></main>"
        f'<script nonce="{nonce}" async src="{GTAG}"></script>'
        f'<script nonce="{nonce}">window.dataLayer = window.dataLayer || [];'
        "window.__inline = 'https://www.google-analytics.com/g/collect';</script>"
        f'<script nonce="{nonce}">window.__app = true;</script>'
        "</body></html>"
    )


def strict(nonce: str) -> str:
    """Google's strict CSP: the nonce and 'strict-dynamic' ('self' and https: ignored)."""
    return (
        f"script-src 'nonce-{nonce}' 'strict-dynamic' 'unsafe-inline' https:; "
        f"style-src 'nonce-{nonce}'; object-src 'none'; base-uri 'none'"
    )


def nonce_only(nonce: str) -> str:
    """A nonce policy with hashes beside it ('unsafe-inline' is then ignored)."""
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}' "
        "'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=' https://www.googletagmanager.com; "
        f"style-src 'nonce-{nonce}'; object-src 'none'"
    )


# -- the sites -----------------------------------------------------------------------------


@contextmanager
def starlette_site(
    where: str, make: Callable[[str], str] = strict, **options: Any
) -> Iterator[str]:
    """A Starlette app that writes its policy itself: as a header ``where`` is
    ``enforce``/``report``, or in a ``<meta http-equiv>`` (``meta``); ``options`` for
    cookieguard's ``Policy``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route as Path

    from cookieguard.asgi import ConsentMiddleware

    async def home(request: Request) -> HTMLResponse:
        nonce = secrets.token_urlsafe(16)
        if where == "meta":
            meta = f'<meta http-equiv="Content-Security-Policy" content="{make(nonce)}">'
            return HTMLResponse(page_html(nonce, meta))
        name = "content-security-policy" + ("-report-only" if where == "report" else "")
        return HTMLResponse(page_html(nonce), headers={name: make(nonce)})

    app = ConsentMiddleware(Starlette(routes=[Path("/", home)]), policy=policy(**options))
    with UvicornServer(app) as server:
        yield server.url


@contextmanager
def talisman_site(dynamic: bool) -> Iterator[str]:
    """Flask with flask-talisman's nonce (and 'strict-dynamic'), under waitress."""
    from flask import Flask, render_template_string
    from flask_talisman import Talisman  # type: ignore[import-untyped]

    from cookieguard.wsgi import ConsentMiddleware
    from tests.harness import WaitressServer

    app = Flask(__name__)
    script = ["'strict-dynamic'", "'unsafe-inline'", "https:"] if dynamic else ["'self'"]
    Talisman(
        app,
        force_https=False,
        content_security_policy={
            "default-src": "'self'",
            "script-src": script + ([] if dynamic else ["https://www.googletagmanager.com"]),
            "style-src": [],  # the nonce only: our stylesheet needs it too
            "object-src": "'none'",
        },
        content_security_policy_nonce_in=["script-src", "style-src"],
    )

    @app.get("/")
    def home() -> Any:
        return render_template_string(page_html("{{ csp_nonce() }}"))

    app.wsgi_app = ConsentMiddleware(app.wsgi_app, policy())  # type: ignore[method-assign]
    with WaitressServer(app) as server:
        yield f"http://127.0.0.1:{server.port}"


def django_home(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(page_html(str(request.csp_nonce)))


urlpatterns: list[Any] = []  # this module is the Django project's URLconf while it runs


@contextmanager
def django_site(csp_first: bool) -> Iterator[str]:
    """Django with django-csp 4 (its dict setting and NONCE), its middleware listed before
    ours (``csp_first``: it writes the header after we run) or after ours."""
    from csp.constants import NONCE, SELF, STRICT_DYNAMIC
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings
    from django.urls import path

    import tests.django.conftest  # noqa: F401 - configures Django once per process
    from tests.harness import WaitressServer

    urlpatterns[:] = [path("", django_home)]
    ours, theirs = "cookieguard.django.ConsentMiddleware", "csp.middleware.CSPMiddleware"
    settings = {
        "MIDDLEWARE": [theirs, ours] if csp_first else [ours, theirs],
        "ROOT_URLCONF": __name__,
        "CONTENT_SECURITY_POLICY": {
            "DIRECTIVES": {
                "default-src": [SELF],
                "script-src": [NONCE, STRICT_DYNAMIC],
                "style-src": [NONCE],
                "object-src": ["'none'"],
            }
        },
        "COOKIEGUARD": {
            "cookies": {"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"},
            "receipts": None,
            "reload_on_withdrawal": False,
        },
    }
    with override_settings(**settings), WaitressServer(WSGIHandler()) as server:
        yield f"http://127.0.0.1:{server.port}"


SITES: dict[str, Callable[[], AbstractContextManager[str]]] = {
    "talisman-nonce": lambda: talisman_site(dynamic=False),
    "talisman-strict-dynamic": lambda: talisman_site(dynamic=True),
    "django-csp-before-ours": lambda: django_site(csp_first=True),
    "django-csp-after-ours": lambda: django_site(csp_first=False),
    "starlette-header": lambda: starlette_site("enforce"),
    "starlette-header-hashes": lambda: starlette_site("enforce", nonce_only),
    "starlette-report-only": lambda: starlette_site("report"),
    "starlette-meta": lambda: starlette_site("meta"),
    # The Consent Mode script, before the page's first script, carries the nonce too.
    "starlette-consent-mode": lambda: starlette_site("enforce", google_consent_mode=True),
    # Our consent-aware CSP beside the app's, report-only (enforced: see the test below).
    "starlette-and-ours-reporting": lambda: starlette_site("enforce", csp="report"),
}


# -- the journey ---------------------------------------------------------------------------


def until(page: Page, expression: str, timeout: float = 30.0) -> None:
    """Wait until ``expression`` is truthy. Polled through ``page.evaluate`` (the DevTools
    protocol): ``wait_for_function`` evaluates with ``new Function``, which these policies
    (no 'unsafe-eval') refuse."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expression):
                return
        except PlaywrightError:  # navigating: the context went away
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} s: {expression}")
        page.wait_for_timeout(50)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    created = browser.new_context()
    created.add_init_script(script=RECORDER)

    def gtag(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=GTAG_JS)

    created.route("https://www.googletagmanager.com/**", gtag)
    created.route("https://www.google-analytics.com/**", lambda route: route.abort())
    yield created
    created.close()


@pytest.mark.parametrize("stack", list(SITES))
def test_accept_all_restores_gated_scripts_in_place_under_the_apps_nonce_policy(
    context: BrowserContext, stack: str
) -> None:
    with SITES[stack]() as url:
        page = context.new_page()
        documents: list[str] = []

        def navigation(request: PlaywrightRequest) -> None:
            if request.is_navigation_request():
                documents.append(request.url)

        page.on("request", navigation)
        page.goto(url + "/")
        until(page, "window.__app === true")  # the app's own nonced script ran
        # The page's nonce is on the gated copies; cookieguard's tags carry it too.
        until(page, "typeof window.cookieguard === 'object'")
        assert page.evaluate("window.__gtag || 0") == 0  # gated for an undecided visitor
        assert page.evaluate("window.__inline === undefined")
        if stack == "starlette-consent-mode":  # its default ran first (it is synchronous)
            assert page.evaluate("[...window.dataLayer].some((a) => a[0] === 'consent')")
        page.locator("#cookie-consent").get_by_role("button", name="Accept all").click()
        until(page, "(window.__gtag || 0) === 1 && typeof window.__inline === 'string'")
        assert len(documents) == 1, documents  # restored in place: no reload, no POST
        # The stylesheet applied (a nonce-only style-src refuses a <link> without the nonce).
        assert page.evaluate(
            "[...document.styleSheets].some((s) => (s.href || '').includes('/banner.css'))"
            " && getComputedStyle(document.getElementById('cookie-consent')).position !== ''"
        )
        ours = [v for v in page.evaluate("window.__violations") if "inline" in v or "/_" in v]
        assert ours == [], ours


def test_with_our_enforced_csp_beside_the_apps_both_allow_what_the_page_needs(
    context: BrowserContext,
) -> None:
    """Both policies apply (CSP3 section 8.1). Ours enforced: the choice reloads the page (a
    policy cannot widen in place), and the reloaded page runs the Google tag under both: the
    app's nonce and ours, which lists the granted hosts and keeps the page's inline code."""
    with starlette_site("enforce", csp="enforce") as url:
        page = context.new_page()
        page.goto(url + "/")
        until(page, "window.__app === true && typeof window.cookieguard === 'object'")
        assert page.evaluate("window.__violations") == []
        with page.expect_navigation():
            page.locator("#cookie-consent").get_by_role("button", name="Accept all").click()
        until(page, "(window.__gtag || 0) === 1 && window.__app === true")
        until(page, "typeof window.__inline === 'string' && typeof window.cookieguard === 'object'")
        assert page.evaluate("window.__violations") == []
