"""Issue 24 part 3 in real Chromium: a visitor allows YouTube but not the rest of marketing.

Only the YouTube embed loads (at once, and on the next page from the server), the Vimeo one
stays a placeholder, and the receipt records the choice per vendor. The switches are labelled
and keyboard operable, and axe finds nothing in the dialog with the vendor lists open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.site import Extras, build_app
from tests.browser.site import Page as SitePage
from tests.browser.test_banner import run_axe
from tests.harness import UvicornServer

ARTICLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Videos</title></head>
<body><main><h1>Two videos</h1>
<iframe id="yt" src="https://www.youtube.com/embed/abc123" width="560" height="315"
  title="YouTube video"></iframe>
<iframe id="vimeo" src="https://player.vimeo.com/video/42" width="640" height="360"
  title="Vimeo video"></iframe>
</main></body></html>"""


@pytest.fixture(scope="module")
def videos(axe_js: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    extras = Extras(pages={"videos": SitePage(ARTICLE)})
    receipts = str(tmp_path_factory.mktemp("receipts") / "receipts.db")
    with UvicornServer(build_app(axe_js, extras, receipts=receipts)) as server:
        yield server.url


def record_vendors(context: BrowserContext) -> list[str]:
    hosts: list[str] = []

    def answer(route: Route) -> None:
        hosts.append(re.sub(r"^https://([^/]+)/.*$", r"\1", route.request.url))
        route.fulfill(
            status=200, body="<!doctype html><title>embed</title>", content_type="text/html"
        )

    context.route(re.compile(r"^https://"), answer)
    return hosts


def loaded(page: Page) -> None:
    """The YouTube iframe is in the document with its src; Vimeo's waits in its template."""
    expect(page.locator("iframe#yt")).to_have_attribute(
        "src", "https://www.youtube.com/embed/abc123"
    )
    expect(page.locator("iframe#vimeo")).to_have_count(0)
    expect(page.locator('[data-cookieguard-provider="Vimeo"]')).to_be_visible()
    assert page.locator('[data-cookieguard-provider="YouTube"]').count() == 0


def marketing_vendors(page: Page) -> None:
    """Open the dialog and Marketing's list of vendors."""
    page.get_by_role("button", name="Customize").click()
    box = page.locator("#cookie-preferences-dialog")
    expect(box).to_be_visible()
    box.locator(".cg-category:has(#cg-c-marketing) summary").click()


def test_youtube_allowed_the_rest_of_marketing_refused(
    videos: str, context: BrowserContext
) -> None:
    hosts = record_vendors(context)
    page = context.new_page()
    page.goto(videos + "/page/videos")
    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
    assert hosts == []  # nothing loads before a choice
    marketing_vendors(page)
    box = page.locator("#cookie-preferences-dialog")
    youtube = box.get_by_role("switch", name=re.compile(r"^YouTube"))
    vimeo = box.get_by_role("switch", name=re.compile(r"^Vimeo"))
    expect(youtube).not_to_be_checked()
    expect(vimeo).not_to_be_checked()
    # Keyboard: focus the switch, Space turns it on.
    youtube.focus()
    page.keyboard.press("Space")
    expect(youtube).to_be_checked()
    expect(box.get_by_role("switch", name="Marketing", exact=True)).not_to_be_checked()
    box.get_by_role("button", name="Save choices").click()
    expect(box).to_be_hidden()

    # In place: the YouTube placeholder gave way, Vimeo's did not.
    # (The test site's own CSP, default-src 'self', keeps the frames from reaching the
    # network: what loads is the iframe in the document, with its src.)
    loaded(page)

    # The next page, from the server: YouTube's iframe as written, Vimeo a placeholder.
    page.reload()
    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
    expect(page.locator("#cookie-consent")).to_have_count(0)
    loaded(page)
    # Served as the app wrote it: no placeholder around YouTube at all.
    html = page.content()
    assert 'data-cookieguard-provider="YouTube"' not in html
    state = page.evaluate("window.cookieguard.consent")
    assert state["vendors"] == {"YouTube": True}
    assert state["categories"]["marketing"] is False

    # The receipt says so.
    receipts = json.loads(page.evaluate(
        "async () => (await fetch('/_cookieguard/receipts')).text()"
    ))["receipts"]  # fmt: skip
    assert receipts[-1]["granted"] == ["vendor:YouTube"]
    assert "marketing" in receipts[-1]["denied"]


def test_axe_with_the_vendor_lists_open(videos: str, context: BrowserContext) -> None:
    record_vendors(context)
    page = context.new_page()
    page.goto(videos + "/page/videos")
    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
    marketing_vendors(page)
    for summary in page.locator("#cookie-preferences-dialog .cg-vendors summary").all():
        if not summary.evaluate("(el) => el.parentElement.open"):
            summary.click()
    assert run_axe(page, "#cookie-preferences-dialog") == []
    page.goto(videos + "/_cookieguard/preferences?next=/")
    for summary in page.locator(".cg-vendors summary").all():
        summary.click()
    assert run_axe(page, "#cookie-preferences") == []
