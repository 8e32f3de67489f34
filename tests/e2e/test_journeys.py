"""Visitor journeys on both example sites, in Chromium, written with ``cookieguard.testing``.

Every test is a new visitor (a fresh browser context) on a real server. Beacon counts are per
server and shared by the tests of one example, so tests compare before and after (deltas).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, BrowserType, Page, expect

from cookieguard import Policy
from cookieguard.testing import (
    ConsentBanner,
    assert_no_cookies,
    cookies_by_category,
)
from tests.harness import EVENTUALLY, eventually

OPTIONAL = ("preferences", "analytics", "marketing")
TRACKERS = {"likebox", "_ga", "_fbp", "_ga_js"}

NewContext = Callable[..., BrowserContext]
SeedConsent = Callable[[BrowserContext, str, list[str]], str]


# -- helpers -------------------------------------------------------------------------------


def names(context: BrowserContext) -> set[str]:
    return {cookie["name"] for cookie in context.cookies()}


def beacons(page: Page, base_url: str) -> int:
    count: int = page.request.get(base_url + "/collect/count").json()["count"]
    return count


def settle(page: Page) -> None:
    """Let banner.js read the consent and any activated script send its beacon."""
    page.wait_for_load_state("networkidle")


def wait_for_beacons(page: Page, base_url: str, above: int, timeout: float = EVENTUALLY) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = beacons(page, base_url)
        if count > above or time.monotonic() > deadline:
            return count
        page.wait_for_timeout(50)


def like(page: Page, slug: str) -> None:
    page.locator(f'form[action="/like/{slug}"] button').click()
    page.wait_for_url(f"**liked={slug}")


def expect_likebox(page: Page, count: int) -> None:
    expect(page.locator("#likebox")).to_have_text(f"Your likebox ({count})")


def assert_nothing_optional(context: BrowserContext, policy: Policy) -> None:
    for category in OPTIONAL:
        assert_no_cookies(context, policy, category)
    assert not names(context) & TRACKERS


# -- journeys ------------------------------------------------------------------------------


def test_first_visit_shows_banner_and_tracks_nothing(
    page: Page, base_url: str, cookieguard_policy: Policy
) -> None:
    before = beacons(page, base_url)
    banner = ConsentBanner(page)
    for path in ("/", "/photo/harbour"):
        response = page.goto(path)
        assert response is not None and response.status == 200
        settle(page)
        assert banner.is_visible()
    assert_nothing_optional(page.context, cookieguard_policy)
    assert names(page.context) == set()  # not even the consent cookie before a choice
    assert beacons(page, base_url) == before
    assert banner.state()["decided"] is False


def test_reject_all_keeps_it_that_way_and_likes_degrade(
    page: Page, base_url: str, cookieguard_policy: Policy
) -> None:
    before = beacons(page, base_url)
    banner = ConsentBanner(page)
    page.goto("/")
    banner.reject_all()
    assert not banner.is_visible()
    assert banner.granted() == {"necessary"}
    page.reload()
    settle(page)
    assert not banner.is_visible()

    like(page, "forest")
    expect_likebox(page, 1)  # the like shows on the page being viewed...
    notice = page.locator("#likes-not-remembered")
    expect(notice).to_be_visible()  # ...which says politely that it is not remembered
    expect(notice.get_by_role("link", name="cookie settings")).to_have_attribute(
        "href", "/_cookieguard/preferences?next=/"
    )
    page.goto("/")
    expect_likebox(page, 0)
    settle(page)
    assert_nothing_optional(page.context, cookieguard_policy)
    assert beacons(page, base_url) == before


def test_accept_all_remembers_likes_and_allows_tracking(page: Page, base_url: str) -> None:
    before = beacons(page, base_url)
    banner = ConsentBanner(page)
    page.goto("/")
    banner.accept_all()
    after_choice = wait_for_beacons(page, base_url, before)
    assert after_choice > before  # the gated analytics script ran without a reload
    assert banner.granted() == {"necessary", *OPTIONAL}

    like(page, "harbour")
    expect(page.locator("#likes-not-remembered")).to_have_count(0)
    page.goto("/photo/forest")
    like(page, "forest")
    page.goto("/")
    expect_likebox(page, 2)
    page.reload()
    expect_likebox(page, 2)
    assert not banner.is_visible()
    # Pages left quickly may not have sent theirs; this one, left alone, does.
    assert wait_for_beacons(page, base_url, after_choice) > after_choice
    eventually(page, lambda: {"likebox", "_ga", "_fbp", "_ga_js"} <= names(page.context), "cookies")


def test_customize_preferences_only(page: Page, base_url: str, cookieguard_policy: Policy) -> None:
    before = beacons(page, base_url)
    banner = ConsentBanner(page)
    page.goto("/")
    banner.customize({"preferences": True})
    assert not banner.is_visible()
    assert banner.granted() == {"necessary", "preferences"}
    like(page, "market")
    page.reload()
    settle(page)
    expect_likebox(page, 1)
    grouped = cookies_by_category(page.context, cookieguard_policy)
    assert [c["name"] for c in grouped["preferences"]] == ["likebox"]
    assert_no_cookies(page.context, cookieguard_policy, "analytics")
    assert_no_cookies(page.context, cookieguard_policy, "marketing")
    assert beacons(page, base_url) == before


def test_withdraw_after_accepting_deletes_cookies_and_stops_beacons(
    page: Page, base_url: str, cookieguard_policy: Policy
) -> None:
    banner = ConsentBanner(page)
    page.goto("/")
    banner.accept_all()
    like(page, "dunes")  # a page load with consent: server-set and JS-set cookies
    eventually(page, lambda: names(page.context) >= TRACKERS, "every tracking cookie")

    banner.open_preferences().reject_all()
    assert banner.granted() == {"necessary"}
    assert not names(page.context) & TRACKERS  # server-set and JS-set, all deleted

    settle(page)
    stopped = beacons(page, base_url)
    page.goto("/photo/bridge")
    page.reload()
    settle(page)
    assert beacons(page, base_url) == stopped
    assert_nothing_optional(page.context, cookieguard_policy)
    assert not banner.is_visible()  # withdrawing is a choice too: no banner


def test_tampered_consent_cookie_means_undecided(
    page: Page, base_url: str, cookieguard_policy: Policy, seed_consent: SeedConsent
) -> None:
    seed_consent(page.context, base_url, list(OPTIONAL))
    banner = ConsentBanner(page)
    page.goto("/")
    settle(page)
    assert not banner.is_visible()
    eventually(page, lambda: names(page.context) >= {"_ga", "_fbp", "_ga_js"}, "the cookies")

    # Flip one character of the signature: the server must not trust the cookie. (Not the
    # last character: its low bits are base64 padding, so changing it may change nothing.)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == cookieguard_policy.cookie_name]
    value = cookie["value"]
    at = value.rindex(".") + 1
    forged = value[:at] + ("A" if value[at] != "A" else "B") + value[at + 1 :]
    page.context.add_cookies(
        [{"name": cookie["name"], "value": forged, "domain": cookie["domain"], "path": "/"}]
    )

    page.reload()
    settle(page)
    before = beacons(page, base_url)
    assert banner.is_visible()
    assert banner.state()["decided"] is False
    page.reload()
    settle(page)
    # The cookies the browser still had were expired by the server, JS-set ones included.
    assert_nothing_optional(page.context, cookieguard_policy)
    assert beacons(page, base_url) == before


def test_without_javascript_the_forms_work_and_return_to_the_page(
    new_context: NewContext, base_url: str, cookieguard_policy: Policy
) -> None:
    context = new_context(java_script_enabled=False)
    page = context.new_page()
    before = beacons(page, base_url)
    banner = ConsentBanner(page)
    page.goto("/photo/tulips")
    assert banner.is_visible()
    banner.customize({"preferences": True})  # the preferences page, then back
    assert page.url == base_url + "/photo/tulips"
    assert not banner.is_visible()
    like(page, "tulips")
    page.reload()
    expect_likebox(page, 1)
    assert_no_cookies(context, cookieguard_policy, "analytics")

    banner.open_preferences().accept_all()  # the footer link, then back
    assert page.url == base_url + "/photo/tulips"
    page.reload()
    assert {"likebox", "_ga", "_fbp"} <= names(context)
    assert "_ga_js" not in names(context)  # no JavaScript: the analytics script never ran
    assert beacons(page, base_url) == before

    # Reject all from the first layer, on another page: back to that page too.
    other = new_context(java_script_enabled=False).new_page()
    other.goto("/photo/market")
    ConsentBanner(other).reject_all()
    assert other.url == base_url + "/photo/market"
    assert ConsentBanner(other).granted() == {"necessary"}


def test_cookies_blocked_by_the_browser(
    browser_type: BrowserType,
    browser_type_launch_args: dict[str, Any],
    base_url: str,
    tmp_path: Path,
) -> None:
    # A real Chromium profile whose content setting blocks all cookies (as a visitor's
    # "Block all cookies" does): the browser drops every cookie, the consent cookie too.
    (tmp_path / "Default").mkdir()
    (tmp_path / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"default_content_setting_values": {"cookies": 2}}})
    )
    context = browser_type.launch_persistent_context(
        tmp_path, base_url=base_url, **browser_type_launch_args
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        loads: list[str] = []
        page.on(
            "request",
            lambda r: (
                loads.append(r.url)
                if r.is_navigation_request() and r.frame == page.main_frame
                else None
            ),
        )
        banner = ConsentBanner(page)
        page.goto("/")
        settle(page)
        assert banner.is_visible()
        banner.accept_all()
        expect(banner.note).to_be_visible()  # says why the choice cannot be kept
        page.wait_for_timeout(300)
        assert len(loads) == 1  # no reload, no loop
        assert context.cookies() == []

        # Every page still works; likes show on the page with the polite notice.
        like(page, "bridge")
        expect_likebox(page, 1)
        expect(page.locator("#likes-not-remembered")).to_be_visible()
        for path in ("/photo/dunes", "/", "/_cookieguard/preferences?next=/"):
            response = page.goto(path)
            assert response is not None and response.status == 200, path
        settle(page)
        # The next page cannot know the choice: it asks once, without reloading itself.
        page.goto("/photo/forest")
        banner.reject_all()
        expect(banner.note).to_be_visible()
        page.wait_for_timeout(300)
        assert len(loads) == 7  # exactly the navigations above: nothing looped
        assert context.cookies() == []
    finally:
        context.close()


def describe_focus(page: Page) -> str:
    described: str = page.evaluate(
        """() => {
            const el = document.activeElement;
            const where = el.closest('#cookie-consent') ? 'banner'
                : el.closest('dialog') ? 'dialog' : 'page';
            const name = el.labels && el.labels.length ? el.labels[0].textContent
                : el.textContent.trim();
            return where + ':' + name.replace(/\\s+/g, ' ').trim();
        }"""
    )
    return described


def tab_to(page: Page, wanted: str, limit: int = 40) -> list[str]:
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(describe_focus(page))
        if seen[-1] == wanted:
            return seen
    raise AssertionError(f"never reached {wanted!r} by Tab; focus went {seen}")


def test_keyboard_only(page: Page, base_url: str) -> None:
    banner = ConsentBanner(page)
    page.goto("/")
    settle(page)
    tab_to(page, "banner:Customize")
    page.keyboard.press("Enter")
    dialog = page.locator("#cookie-preferences-dialog")
    expect(dialog).to_be_visible()
    assert describe_focus(page) == "dialog:Preferences"
    page.keyboard.press("Space")
    expect(dialog.get_by_role("switch", name="Preferences")).to_be_checked()
    tab_to(page, "dialog:Save choices", limit=6)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(banner.root).to_be_hidden()
    assert banner.granted() == {"necessary", "preferences"}

    # Like a photo with the keyboard; the like is remembered.
    page.locator('form[action="/like/harbour"] button').focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**liked=harbour")
    page.reload()
    expect_likebox(page, 1)

    # Change of mind: the footer link, by keyboard, opens the preferences again.
    settle(page)
    tab_to(page, "page:Cookie settings")
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    tab_to(page, "dialog:Reject all", limit=8)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    assert banner.granted() == {"necessary"}


def test_german_visitor_gets_a_german_banner(new_context: NewContext) -> None:
    page = new_context(locale="de-DE").new_page()
    banner = ConsentBanner(page)
    page.goto("/")
    expect(banner.root).to_have_attribute("lang", "de")
    expect(banner.root.get_by_role("heading")).to_have_text("Cookies auf dieser Seite")
    expect(banner.button("accept_all")).to_have_text("Alle akzeptieren")
    expect(banner.button("reject_all")).to_have_text("Alle ablehnen")
    expect(banner.button("customize")).to_have_text("Anpassen")
    banner.customize({"analytics": True})  # the page object needs no English
    assert banner.granted() == {"necessary", "analytics"}
