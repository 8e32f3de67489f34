"""Informed consent in real Chromium: the first layer on a phone, right-to-left layouts, axe in
every shipped language with the cookie declaration open, GPC shown as honoured, and the example
sites' privacy pages and declarations.

Pages come from real servers: the browser tests' uvicorn site (``Content-Security-Policy:
default-src 'self'``) and the example apps as subprocesses (tests/e2e's ``ExampleServer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from cookieguard.core._i18n import SHIPPED
from tests.browser.site import RECORDER, build_app
from tests.browser.test_banner import run_axe
from tests.e2e.conftest import GTAG_STAND_IN, ExampleServer
from tests.harness import UvicornServer

PHONE: ViewportSize = {"width": 360, "height": 640}


@pytest.fixture(scope="module")
def informed(axe_js: Path) -> Iterator[UvicornServer]:
    """The browser tests' site with a privacy policy and third parties to name."""
    app = build_app(
        axe_js,
        privacy_url="/page/privacy",
        cookies={
            "likebox": {"category": "preferences", "max_age": 31536000, "provider": "this site"},
            "_ga": "analytics",
            "_fbp": "marketing",
        },
    )
    with UvicornServer(app) as running:
        yield running


def visit(browser: Browser, server: UvicornServer, path: str, **options: Any) -> Page:
    context: BrowserContext = browser.new_context(base_url=server.url, **options)
    context.add_init_script(script=RECORDER)
    page = context.new_page()
    page.goto(path)
    return page


def banner_ready(page: Page) -> None:
    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
    # The banner slides in (.25 s animation): measure where it rests.
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")


# -- the first layer on a phone --------------------------------------------------------------------


def measure(page: Page) -> dict[str, float]:
    box: dict[str, float] = page.evaluate(
        """() => {
            const banner = document.getElementById('cookie-consent').getBoundingClientRect();
            const buttons = [...document.querySelectorAll('#cookie-consent .cg-actions button')]
                .map((b) => b.getBoundingClientRect());
            return {
                height: banner.height,
                top: banner.top,
                buttonsBottom: Math.max(...buttons.map((b) => b.bottom)),
                buttonsTop: Math.min(...buttons.map((b) => b.top)),
                viewport: innerHeight,
            };
        }"""
    )
    return box


def test_the_first_layer_informs_in_the_browser(browser: Browser, informed: UvicornServer) -> None:
    page = visit(browser, informed, "/", viewport=PHONE)
    banner_ready(page)
    root = page.locator("#cookie-consent")
    for text in (
        "Preferences: Remember your settings",
        "Analytics: Help us understand",
        "Marketing: Used by advertising partners",
        "Third parties involved: Analytics: Google Analytics",
        "Marketing: Meta Pixel",
        "We keep your choice for 6 months, then ask again.",
    ):
        expect(root).to_contain_text(text)
    expect(root.get_by_role("link", name="Cookie settings")).to_be_visible()
    expect(root.get_by_role("link", name="Privacy policy")).to_have_attribute(
        "href", "/page/privacy"
    )
    assert page.context.cookies() == []  # informing sets nothing


def test_on_a_phone_the_banner_leaves_most_of_the_page_usable(
    browser: Browser, informed: UvicornServer
) -> None:
    for language in ("en", "de", "ga", "ar"):
        page = visit(browser, informed, "/", viewport=PHONE, locale=language)
        banner_ready(page)
        box = measure(page)
        # Every choice is in view, and the banner takes under half of a 640 px phone screen.
        assert box["buttonsBottom"] <= box["viewport"], (language, box)
        assert box["height"] < 0.5 * box["viewport"], (language, box)
        # The page behind stays usable: its own button can be clicked without closing the banner.
        page.locator("#like").click()
        assert page.evaluate("window.__liked") == 1
        page.context.close()


# -- right to left -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ar", "he"])
def test_arabic_and_hebrew_are_laid_out_right_to_left(
    browser: Browser, informed: UvicornServer, language: str
) -> None:
    page = visit(browser, informed, "/", locale=language, viewport={"width": 1024, "height": 768})
    banner_ready(page)
    root = page.locator("#cookie-consent")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", language)
    assert root.evaluate("(el) => getComputedStyle(el).direction") == "rtl"
    # Mirrored: the first choice (Accept all) sits at the right (in a row), or the choices
    # stand in a column at the left of the text (a wide bar); the heading hugs the right edge.
    buttons = root.locator(".cg-actions button")
    first, second = buttons.nth(0).bounding_box(), buttons.nth(1).bounding_box()
    actions, text = (
        root.locator(".cg-actions").bounding_box(),
        root.locator(".cg-body").bounding_box(),
    )
    assert first is not None and second is not None and actions is not None and text is not None
    in_a_row = first["x"] > second["x"]
    in_a_column = first["y"] < second["y"] and actions["x"] + actions["width"] <= text["x"]
    assert in_a_row or in_a_column
    heading = root.get_by_role("heading", level=2).evaluate(
        "(h) => { const r = document.createRange(); r.selectNodeContents(h);"
        " const t = r.getBoundingClientRect(), b = h.getBoundingClientRect();"
        " return {left: t.left - b.left, right: b.right - t.right}; }"
    )
    assert heading["right"] < heading["left"]
    # The dialog and the preferences page too.
    root.locator('[data-cookieguard-action="customize"]').click()
    dialog = page.locator("#cookie-preferences-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("dir", "rtl")
    page.goto("/_cookieguard/preferences?next=/")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"


# -- axe in every language, with the declaration open ----------------------------------------------


def test_preferences_page_with_the_declaration_has_no_wcag_violations_in_any_language(
    browser: Browser, informed: UvicornServer
) -> None:
    context = browser.new_context(base_url=informed.url)
    page = context.new_page()
    failures = {}
    for language in SHIPPED:
        context.set_extra_http_headers({"Accept-Language": language})
        page.goto("/_cookieguard/preferences?next=/")
        assert page.evaluate("document.documentElement.lang") == language
        details = page.locator("#cookie-preferences details.cg-declared")
        expect(details).to_have_count(4)
        # The vendor lists under the switches (issue 24) are opened too.
        for vendors in page.locator("#cookie-preferences details.cg-vendors summary").all():
            vendors.click()
        for index in range(4):
            details.nth(index).locator("summary").click()
        expect(page.locator("#cookie-preferences table")).to_have_count(4)
        found = run_axe(page, "#cookie-preferences")
        if found:
            failures[language] = found
    assert failures == {}
    context.close()


def test_banner_and_dialog_have_no_wcag_violations_in_any_language(
    browser: Browser, informed: UvicornServer
) -> None:
    # One undecided visitor who switches languages: the banner shows on every page load.
    context = browser.new_context(base_url=informed.url, reduced_motion="reduce")
    page = context.new_page()
    failures = {}
    for language in SHIPPED:
        context.set_extra_http_headers({"Accept-Language": language})
        page.goto("/")
        banner_ready(page)
        assert page.locator("#cookie-consent").get_attribute("lang") == language
        page.keyboard.press("End")
        page.wait_for_function(
            "() => scrollY > 0"
            " && scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
        )
        found = run_axe(page, "#cookie-consent")
        page.locator('#cookie-consent [data-cookieguard-action="customize"]').click()
        dialog = page.locator("#cookie-preferences-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator("details.cg-declared")).to_have_count(4)
        # (The vendor lists, issue 24, folded: tests/browser/test_vendor_choices.py opens them.)
        found += run_axe(page, "#cookie-preferences-dialog")
        if found:
            failures[language] = found
    context.close()
    assert failures == {}


# -- GPC shown as honoured ----------------------------------------------------------------------


def test_gpc_shows_the_honoured_notice_and_locked_switches(
    browser: Browser, informed: UvicornServer
) -> None:
    page = visit(browser, informed, "/", extra_http_headers={"Sec-GPC": "1"})
    banner_ready(page)
    page.locator('#cookie-consent [data-cookieguard-action="customize"]').click()
    dialog = page.locator("#cookie-preferences-dialog")
    expect(dialog).to_contain_text("Opt-out preference signal honoured")
    marketing = dialog.get_by_role("switch", name="Marketing")
    expect(marketing).to_be_disabled()
    expect(marketing).not_to_be_checked()
    expect(dialog.get_by_role("switch", name="Analytics")).to_be_enabled()
    # Accept all still cannot turn it on for this browser.
    dialog.get_by_role("button", name="Accept all").click()
    expect(dialog).to_be_hidden()
    state = page.request.get("/_cookieguard/consent").json()
    assert state["gpc"] is True and state["categories"]["marketing"] is False
    page.goto("/_cookieguard/preferences?next=/")
    main = page.locator("#cookie-preferences")
    expect(main).to_contain_text("Opt-out preference signal honoured")
    expect(main).to_contain_text("so Marketing stay off")
    switch = main.get_by_role("switch", name="Marketing")
    expect(switch).to_be_disabled()
    expect(switch).not_to_be_checked()
    assert run_axe(page, "#cookie-preferences") == []
    # Without the signal: no notice, the switch is the visitor's to set.
    plain = visit(browser, informed, "/_cookieguard/preferences?next=/")
    expect(plain.locator("#cookie-preferences")).not_to_contain_text("Global Privacy Control")
    expect(plain.get_by_role("switch", name="Marketing")).to_be_enabled()


# -- the example sites ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["flask", "starlette", "django"])
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleServer]:
    server = ExampleServer(request.param, tmp_path_factory.mktemp(f"informed-{request.param}"))
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


def declared_names(page: Page) -> set[str]:
    names: list[str] = page.locator(".cg-declaration tbody th code").all_text_contents()
    return set(names)


def test_example_sites_inform_link_their_privacy_page_and_declare_what_they_set(
    browser: Browser, example: ExampleServer
) -> None:
    context = browser.new_context(base_url=example.url)
    # The examples carry Google's gtag.js snippet; third parties are offline: the stand-in.
    context.route(
        "https://www.googletagmanager.com/**",
        lambda route: route.fulfill(body=GTAG_STAND_IN, content_type="text/javascript"),
    )
    page = context.new_page()
    for path in ("/", "/photo/harbour", "/privacy"):
        page.goto(path)
        expect(page.locator("footer").get_by_role("link", name="Privacy policy")).to_have_attribute(
            "href", "/privacy"
        )
        root = page.locator("#cookie-consent")
        expect(root).to_contain_text("Preferences: Remember your settings")
        expect(root).to_contain_text("Analytics: Google Analytics")
        expect(root).to_contain_text("Marketing: Meta Pixel")
        expect(root).to_contain_text("We keep your choice for 6 months")
        expect(root.get_by_role("link", name="Cookie settings")).to_be_visible()
        expect(root.get_by_role("link", name="Privacy policy")).to_have_attribute(
            "href", "/privacy"
        )
    assert context.cookies() == []  # nothing is set before consent
    # The privacy page: periods stated, the purge named, the declaration embedded.
    page.goto("/privacy")
    policy = page.locator("#privacy-policy")
    expect(policy).to_contain_text("13 months")
    expect(policy).to_contain_text("cookieguard receipts purge --older-than 13mo")
    expect(policy).not_to_contain_text("indefinitely\u201d")
    expect(policy.get_by_role("link", name="Cookie settings").first).to_be_visible()
    declared = declared_names(page)
    likebox = policy.locator(".cg-declaration tr", has=page.locator("code", has_text="likebox"))
    expect(likebox).to_contain_text("This site")
    expect(likebox).to_contain_text("1 year")
    expect(likebox).to_contain_text("Remembers the photos you liked.")
    # Everything the site sets once allowed is declared; nothing declared is never set.
    page.locator('#cookie-consent [name="action"][value="accept_all"]').click()
    # banner.js posts the choice and hides the banner once the server has answered.
    expect(page.locator("#cookie-consent")).to_be_hidden()
    assert page.request.get("/_cookieguard/consent").json()["decided"] is True
    page.goto("/photo/harbour")
    page.locator('form[action="/like/harbour"] button').click()
    page.wait_for_url("**liked=harbour")
    page.goto("/")
    page.wait_for_load_state("networkidle")
    # The analytics stand-in (in place of gtag.js) sets _ga_js once banner.js activates it.
    page.wait_for_function("() => document.cookie.includes('_ga_js=')")
    seen = {cookie["name"] for cookie in context.cookies()}
    assert seen <= declared, seen - declared
    framework = {"sessionid", "csrftoken", "messages", "django_language"}  # the admin's only
    assert declared - seen <= (framework if example.name == "django" else set())
    context.close()


def test_the_declaration_fits_a_phone_in_every_language(
    browser: Browser, informed: UvicornServer
) -> None:
    context = browser.new_context(base_url=informed.url, viewport=PHONE)
    page = context.new_page()
    too_wide = {}
    for language in SHIPPED:
        context.set_extra_http_headers({"Accept-Language": language})
        page.goto("/_cookieguard/preferences?next=/")
        for summary in page.locator("#cookie-preferences summary").all():
            summary.click()
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[language] = width
    context.close()
    assert too_wide == {}
