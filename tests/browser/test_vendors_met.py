"""Issue 24 part 1 in real Chromium: the first layer names every vendor the page loads, from the
very first page view of a fresh server, though the policy declares none of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Route, expect

from tests.browser.site import Extras, build_app
from tests.browser.site import Page as SitePage
from tests.harness import UvicornServer

# Five vendors, all only in the HTML: two scripts in <head>, one at the end of <body>, two
# embeds. The policy declares no cookie or tracker of any of them.
ARTICLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Article</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST123"></script>
<script src="https://connect.facebook.net/en_US/fbevents.js"></script>
</head><body><main><h1>Harbour walk</h1><p>Twenty kilobytes of prose, in spirit.</p>
<iframe src="https://www.youtube.com/embed/abc123" width="560" height="315"
  title="Video"></iframe>
<iframe src="https://www.google.com/maps/embed?pb=!1m18!1m12" width="600" height="450"
  title="Map"></iframe>
<p><a href="https://www.linkedin.com/company/photo-club">Follow us</a></p>
</main>
<script src="https://static.hotjar.com/c/hotjar-123.js?sv=6"></script>
</body></html>"""
FIVE = {
    "Analytics": ("Google Analytics", "Hotjar"),
    "Marketing": ("Meta Pixel", "YouTube", "Google Maps"),
}


@pytest.fixture(scope="module")
def fresh(axe_js: Path) -> Iterator[str]:
    extras = Extras(pages={"article": SitePage(ARTICLE)})
    app = build_app(axe_js, extras, cookies={"likebox": "preferences"})
    with UvicornServer(app) as server:
        yield server.url


def test_the_first_page_view_names_all_five_vendors(fresh: str, context: BrowserContext) -> None:
    tracker_requests: list[str] = []

    def answer(route: Route) -> None:
        tracker_requests.append(route.request.url)
        route.fulfill(status=204, body="")

    context.route(re.compile(r"^https://"), answer)
    page = context.new_page()
    page.goto(fresh + "/page/article")  # the server's first page view of all
    parties = page.locator("#cookie-consent [data-cookieguard-parties]")
    expect(parties).to_be_visible()
    text = parties.inner_text()
    for label, names in FIVE.items():
        for name in names:
            assert name in text, (name, text)
        # Grouped by category.
        assert re.search(rf"{label}: [^;]*{re.escape(names[0])}", text), text
    assert "LinkedIn" not in text  # a link to a vendor's page is not its code
    assert tracker_requests == []  # named, and still nothing loaded before a choice
