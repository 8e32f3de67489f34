"""Regions on every example site, in Chromium (issue 21's done-when).

The examples read the region from Cloudflare's headers (``region_header="cloudflare"``); each
visitor here is a browser context that sends the headers Cloudflare would add for its region.
The sites set ``_ga`` and ``_fbp`` on every page from the server and carry Google's tag.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from cookieguard.testing import ConsentBanner

NewContext = Callable[..., BrowserContext]
CA = {"CF-IPCountry": "US", "CF-Region-Code": "CA"}


def visit(new_context: NewContext, headers: dict[str, str], path: str = "/") -> Page:
    page = new_context(extra_http_headers=headers).new_page()
    page.goto(path)
    page.wait_for_load_state("networkidle")
    return page


def names(page: Page) -> set[str]:
    return {cookie["name"] for cookie in page.context.cookies()}


def test_a_german_visitor_gets_the_opt_in_banner_and_nothing_optional(
    new_context: NewContext,
) -> None:
    page = visit(new_context, {"CF-IPCountry": "DE"})
    banner = ConsentBanner(page)
    assert banner.rule == "opt-in" and banner.is_visible()
    assert not names(page) & {"_ga", "_fbp", "_ga_js", "likebox"}


def test_a_californian_opts_out_with_do_not_sell_and_marketing_stops(
    new_context: NewContext,
) -> None:
    page = visit(new_context, CA)
    banner = ConsentBanner(page)
    assert banner.rule == "opt-out" and not banner.is_visible()  # no Accept/Reject banner
    expect(page.get_by_text("Do Not Sell or Share My Personal Information")).to_be_visible()
    assert {"_ga", "_fbp"} <= names(page)  # analytics and marketing without a banner
    banner.do_not_sell()
    assert "_fbp" not in names(page)  # expired by the choice
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert "_fbp" not in names(page) and "_ga" in names(page)  # not set again next page
    assert banner.granted() == {"necessary", "preferences", "analytics"}
    expect(page.locator("#cookie-consent")).to_have_count(0)


def test_a_californian_with_gpc_has_marketing_refused_from_the_first_request(
    new_context: NewContext,
) -> None:
    page = visit(new_context, {**CA, "Sec-GPC": "1"})
    assert "_fbp" not in names(page) and "_ga" in names(page)
    expect(page.locator("#cookie-consent [data-cookieguard-gpc]")).to_be_visible()


def test_an_unknown_region_gets_opt_in(new_context: NewContext, base_url: Any) -> None:
    page = visit(new_context, {})
    assert ConsentBanner(page).rule == "opt-in"
    assert not names(page) & {"_ga", "_fbp"}
