"""In Chromium: a visitor refuses every optional cookie in the banner, then logs in to the
Django admin. Django's session and CSRF cookies are declared necessary for the site, so the
login works; the shop's trackers never arrive."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from cookieguard.testing import ConsentBanner
from tests.django.conftest import ADMIN_PASSWORD

TRACKERS = {"_ga", "_fbp", "likebox", "_ga_js"}


def log_in(page: Page) -> None:
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", ADMIN_PASSWORD)
    page.click('input[type="submit"]')
    # Not "**/admin/": the login page's own URL (?next=/admin/) matches it, so the wait
    # returned before the login had happened. The user tools show once logged in.
    page.wait_for_url(re.compile(r"/admin/$"))
    expect(page.locator("#user-tools")).to_be_visible()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_admin_login_after_reject_all(
    new_context: Callable[..., BrowserContext], javascript: bool
) -> None:
    context = new_context(java_script_enabled=javascript)
    page = context.new_page()
    page.goto("/")
    banner = ConsentBanner(page)
    assert banner.is_visible()
    banner.reject_all()
    log_in(page)
    names = {cookie["name"] for cookie in context.cookies()}
    assert {"sessionid", "csrftoken", "cookie_consent"} <= names
    assert not names & TRACKERS
    page.goto("/photo/harbour")
    assert not ConsentBanner(page).is_visible()
    assert not {cookie["name"] for cookie in context.cookies()} & TRACKERS
