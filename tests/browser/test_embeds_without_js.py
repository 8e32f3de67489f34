"""Click-to-load placeholders in Chromium without JavaScript (issue 24 part 6): the link opens
the content on the vendor's site, the allow form grants the category and comes back to the
page, where the embed now loads; with JavaScript the same button grants in place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.browser.site import Extras, build_app
from tests.browser.site import Page as SitePage
from tests.harness import UvicornServer, eventually

VIDEO = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Video</title></head>
<body><main><h1>Video</h1>
<iframe width="560" height="315" src="https://www.youtube.com/embed/abc" title="Video"></iframe>
</main></body></html>"""


@pytest.fixture(scope="module")
def site(axe_js: Path) -> Iterator[str]:
    csp = "default-src 'self'; frame-src https://www.youtube.com"
    extras = Extras(pages={"video": SitePage(VIDEO, csp)})
    with UvicornServer(build_app(axe_js, extras)) as server:
        yield server.url


def stub_youtube(context: Any) -> list[str]:
    hits: list[str] = []

    def answer(route: Route) -> None:
        hits.append(route.request.url)
        route.fulfill(
            body="<!doctype html><title>video</title><p>video</p>", content_type="text/html"
        )

    context.route("https://www.youtube.com/**", answer)
    return hits


def test_without_javascript_the_placeholder_links_out_and_its_form_grants(
    visitor: Any, site: str
) -> None:
    page = visitor(java_script_enabled=False)
    hits = stub_youtube(page.context)
    page.goto(site + "/page/video?part=2")
    embed = page.locator(".cg-embed")
    expect(embed).to_contain_text("YouTube")
    assert hits == []
    expect(embed.get_by_role("button", name="Load once")).to_be_hidden()  # needs the script
    link = embed.get_by_role("link", name="Open on YouTube")
    assert link.get_attribute("href") == "https://www.youtube.com/embed/abc"
    embed.get_by_role("button", name="Always allow Marketing").click()
    page.wait_for_url(site + "/page/video?part=2")
    expect(page.locator(".cg-embed")).to_have_count(0)
    expect(page.locator('iframe[title="Video"]')).to_be_visible()
    eventually(page, lambda: hits, "the embed's request")
    page.wait_for_timeout(300)  # and no second one
    assert hits == ["https://www.youtube.com/embed/abc"]
    state = page.request.get(site + "/_cookieguard/consent").json()
    assert state["categories"]["marketing"] is True
    assert state["categories"]["analytics"] is False  # only what the form granted


def test_with_javascript_the_same_button_grants_in_place(visitor: Any, site: str) -> None:
    page = visitor()
    hits = stub_youtube(page.context)
    page.goto(site + "/page/video")
    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
    page.evaluate("window.__same_page = true")
    embed = page.locator(".cg-embed")
    expect(embed.get_by_role("button", name="Load once")).to_be_visible()
    embed.get_by_role("button", name="Always allow Marketing").click()
    expect(page.locator('iframe[title="Video"]')).to_be_visible()
    assert page.evaluate("window.__same_page === true")  # no form post, no reload
    eventually(page, lambda: hits, "the embed's request")
    page.wait_for_timeout(300)  # and no second one
    assert hits == ["https://www.youtube.com/embed/abc"]
