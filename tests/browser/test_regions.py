"""Regions in real Chromium: the CDN's region header decides, before the first byte, whether a
visitor gets the opt-in banner or the opt-out notice with "Do Not Sell or Share".

The browser context sends the header a CDN would add (``CF-IPCountry``, ``CF-Region-Code``) on
every request, as Cloudflare does in front of a real site. The page's gated scripts record
that they ran (``window.__ran``) and set the cookies their vendors set (``_ga``, ``_fbp``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cookieguard import DEFAULT_REGIONS
from cookieguard.testing import ConsentBanner, region_headers
from tests.browser.site import build_app, policy
from tests.browser.test_banner import run_axe
from tests.harness import UvicornServer

CA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}
DE = {"CF-IPCountry": "DE"}


@pytest.fixture(scope="module")
def site(axe_js: Path) -> Iterator[str]:
    regions = {**DEFAULT_REGIONS, "JP": "notice"}
    with UvicornServer(build_app(axe_js, region_header="cloudflare", regions=regions)) as server:
        yield server.url


@pytest.fixture
def from_region(new_context: Any, site: str) -> Any:
    """A new visitor whose requests carry a CDN's region headers."""

    def make(headers: dict[str, str], **options: Any) -> Page:
        page: Page = new_context(extra_http_headers=headers, **options).new_page()
        page.site = site  # type: ignore[attr-defined]
        return page

    return make


def ran(page: Page) -> list[str]:
    page.evaluate("window.cookieguard.ready")
    found: list[str] = page.evaluate("window.__ran || []")
    return sorted(found)


def cookies(page: Page) -> set[str]:
    return {c["name"] for c in page.context.cookies()}


def settle(page: Page) -> None:
    """Wait until the gated scripts banner.js activated have run (a.js is served slowly)."""
    page.evaluate("window.cookieguard.ready")
    page.wait_for_load_state("networkidle")


def test_an_eu_visitor_sees_the_opt_in_banner_and_no_tracker_runs(from_region: Any) -> None:
    page = from_region(DE)
    page.goto(page.site + "/")
    banner = page.locator("#cookie-consent")
    expect(banner).to_be_visible()
    expect(banner.locator('[data-cookieguard-action="accept_all"]')).to_be_visible()
    expect(banner.locator('[data-cookieguard-action="reject_all"]')).to_be_visible()
    expect(page.locator("[data-cookieguard-dnss]")).to_have_count(0)
    settle(page)
    assert ran(page) == []
    assert not cookies(page) & {"_ga", "_fbp", "likebox"}


def test_a_california_visitor_runs_trackers_until_do_not_sell_stops_them(
    from_region: Any,
) -> None:
    page = from_region(CA)
    page.goto(page.site + "/")
    notice = page.locator('#cookie-consent[data-cookieguard-rule="opt-out"]')
    expect(notice).to_be_visible()
    expect(notice.locator('[data-cookieguard-action="accept_all"]')).to_have_count(0)
    dnss = notice.get_by_role("button", name="Do Not Sell or Share My Personal Information")
    expect(dnss).to_be_visible()
    expect(notice.get_by_role("button", name="Your Privacy Choices")).to_be_visible()
    settle(page)
    assert ran(page) == ["a", "b", "m", "p"]  # analytics, marketing and preferences run
    assert {"_ga", "_fbp"} <= cookies(page)

    dnss.click()
    expect(notice).to_be_hidden()
    state = page.evaluate("window.cookieguard.consent")
    assert state["decided"] and not state["categories"]["marketing"]
    assert state["categories"]["analytics"] and state["categories"]["preferences"]
    assert "_fbp" not in cookies(page)  # expired by the server's answer

    page.goto(page.site + "/other")
    settle(page)
    assert ran(page) == ["a", "b", "p"]  # marketing stays off on the next page
    assert "_fbp" not in cookies(page)
    expect(page.locator("#cookie-consent")).to_have_count(0)  # decided: no notice


def test_gpc_from_california_blocks_marketing_without_a_click(from_region: Any) -> None:
    page = from_region({**CA, "Sec-GPC": "1"})
    page.goto(page.site + "/")
    notice = page.locator('#cookie-consent[data-cookieguard-rule="opt-out"]')
    expect(notice).to_be_visible()
    expect(notice.locator("[data-cookieguard-gpc]")).to_be_visible()  # shown as honoured
    settle(page)
    assert ran(page) == ["a", "b", "p"]
    assert "_fbp" not in cookies(page)
    assert "_ga" in cookies(page)


def test_an_unknown_region_gets_opt_in(from_region: Any) -> None:
    page = from_region({"CF-IPCountry": "XX"})
    page.goto(page.site + "/")
    expect(page.locator('#cookie-consent [data-cookieguard-action="accept_all"]')).to_be_visible()
    settle(page)
    assert ran(page) == []


def test_qa_sees_a_page_from_a_region_with_the_page_object(from_region: Any) -> None:
    """What a QA suite writes: the policy's own headers for a region, the banner page object."""
    geo = policy(region_header="cloudflare")
    assert region_headers(geo, "US-CA") == {"cf-ipcountry": "US", "cf-region-code": "CA"}
    page = from_region(region_headers(geo, "US-CA"))
    page.goto(page.site + "/")
    banner = ConsentBanner(page)
    assert banner.rule == "opt-out"
    assert not banner.is_visible()  # no Accept all / Reject all here
    settle(page)
    banner.do_not_sell()
    assert banner.granted() == {"necessary", "preferences", "analytics"}
    page = from_region(region_headers(geo, "FR"))
    page.goto(page.site + "/")
    assert ConsentBanner(page).rule == "opt-in"


def test_your_privacy_choices_opens_the_preferences(from_region: Any) -> None:
    page = from_region(CA)
    page.goto(page.site + "/")
    settle(page)
    page.get_by_role("button", name="Your Privacy Choices").click()
    dialog = page.locator("dialog#cookie-preferences-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#cg-c-marketing")).to_be_checked()  # granted until opted out
    dialog.locator("#cg-c-analytics").uncheck()
    dialog.locator('button[value="save"]').click()
    expect(dialog).to_be_hidden()
    assert not page.evaluate("window.cookieguard.consent")["categories"]["analytics"]


@pytest.mark.parametrize(
    ("headers", "rule"),
    [(CA, "opt-out"), ({**CA, "Sec-GPC": "1"}, "opt-out"), ({"CF-IPCountry": "JP"}, "notice")],
)
def test_the_opt_out_and_notice_variants_pass_axe_and_work_by_keyboard(
    from_region: Any, headers: dict[str, str], rule: str
) -> None:
    for scheme in ("light", "dark"):
        page = from_region(
            {**headers, "Accept-Language": "de"}, color_scheme=scheme, reduced_motion="reduce"
        )
        page.goto(page.site + "/")
        notice = page.locator(f'#cookie-consent[data-cookieguard-rule="{rule}"]')
        expect(notice).to_be_visible()
        settle(page)
        # At the end of the page the sticky notice rests over nothing: axe can check every
        # contrast (as tests/browser/test_banner.py does for the banner).
        page.keyboard.press("End")
        page.wait_for_function(
            "() => scrollY > 0"
            " && scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
        )
        assert run_axe(page, "#cookie-consent") == [], scheme
    # Keyboard only: the notice's first control is reachable and its choice applies.
    button = notice.locator("button").first
    button.focus()
    page.keyboard.press("Enter")
    expect(notice).to_be_hidden()
    assert page.evaluate("window.cookieguard.consent")["decided"]
