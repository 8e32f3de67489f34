"""Banner layouts in Chromium (issue 24 part 4): bar, box and modal, chosen in the Policy,
in light and dark, on a desktop window and a phone. Each passes axe (WCAG 2.1 A/AA, contrast
included) with the first layer informing (purposes, third parties, withdrawal), stays within
its share of the window, and has a screenshot in docs/ (``COOKIEGUARD_SCREENSHOTS=1`` writes
them again). The page view asks nothing of ``{prefix}/consent``: the markup carries the state.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.site import build_app
from tests.browser.test_banner import run_axe
from tests.harness import UvicornServer

DOCS = Path(__file__).resolve().parents[2] / "docs" / "layouts"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 640}}
LAYOUTS: dict[str, dict[str, Any]] = {
    "bar": {},
    "box": {"layout": "box"},
    "modal": {"layout": "modal"},
}
# Share of the window the default layout may cover (the budget).
BUDGET = {"desktop": 0.25, "phone": 0.35}
COVERAGE: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="module")
def sites(axe_js: Path) -> Iterator[dict[str, str]]:
    servers = {
        name: UvicornServer(build_app(axe_js, None, **options)) for name, options in LAYOUTS.items()
    }
    servers["top-start-dark"] = UvicornServer(
        build_app(axe_js, layout="box", position="top-start", scheme="dark")
    )
    for server in servers.values():
        server.__enter__()
    try:
        yield {name: server.url for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def coverage(page: Page) -> float:
    """The share of the window the banner covers (its box clipped to the viewport)."""
    share: float = page.evaluate(
        """() => {
            const r = document.getElementById('cookie-consent').getBoundingClientRect();
            const w = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));
            const h = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
            return (w * h) / (innerWidth * innerHeight);
        }"""
    )
    return share


def audit(page: Page) -> list[dict[str, Any]]:
    """axe on the banner; text that a scrolling first layer clips (axe: "partially obscured")
    is scrolled into view and checked again on its own, so every line is checked in view."""
    found = run_axe(page, "#cookie-consent")
    clipped = [
        node.split(": Fix ", 1)[0]
        for v in found
        if v["id"] == "color-contrast"
        for node in v["nodes"]
        if "partially obscured" in node
    ]
    rest = [v for v in found if v["id"] != "color-contrast" or not clipped]
    for target in clipped:
        rest += page.evaluate(
            """async ([target]) => {
                const element = document.querySelector(target);
                element.scrollIntoView({block: 'nearest'});
                const r = await axe.run(element, {runOnly: ['color-contrast']});
                return [...r.violations, ...r.incomplete].map((v) => ({id: v.id, target}));
            }""",
            [target],
        )
    return rest


def informs(page: Page) -> None:
    """The first layer says what it must: purposes, third parties, how to withdraw; a text
    taller than its box scrolls, by keyboard too (axe checks that)."""
    body = page.locator("#cookie-consent .cg-body")
    expect(body).to_contain_text("for these purposes:")
    expect(body).to_contain_text("Analytics")
    expect(body.locator("[data-cookieguard-parties]")).to_contain_text("Google Analytics")
    expect(body.get_by_role("link", name="Cookie settings")).to_be_attached()
    for name in ("Accept all", "Reject all", "Customize"):
        expect(page.get_by_role("button", name=name)).to_be_in_viewport()


def screenshot(page: Page, name: str) -> None:
    path = DOCS / f"{name}.png"
    if os.environ.get("COOKIEGUARD_SCREENSHOTS") != "1":
        assert path.is_file(), f"{path} missing: run with COOKIEGUARD_SCREENSHOTS=1"
        return
    from PIL import Image

    png = page.screenshot(animations="disabled", scale="css")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > 640:  # half size is enough to see a layout
        image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    DOCS.mkdir(exist_ok=True)
    image.quantize(colors=48).save(path, optimize=True)


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout(
    visitor: Any, sites: dict[str, str], layout: str, scheme: str, viewport: str
) -> None:
    page = visitor(viewport=VIEWPORTS[viewport], color_scheme=scheme, reduced_motion="reduce")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/_cookieguard/consent" in r.url else 0)
    page.goto(sites[layout] + "/")
    state = page.evaluate("window.cookieguard.ready")
    assert state["decided"] is False
    assert asked == []  # the page carries its state: no request per page view
    banner = page.locator("#cookie-consent")
    expect(banner).to_have_class(f"cg-banner cg-{layout}")
    informs(page)
    share = coverage(page)
    COVERAGE[(layout, viewport)] = share
    print(f"coverage {layout} {scheme} {viewport}: {share:.1%}")  # for docs/banner.md (-s)
    if layout == "bar":
        assert share <= BUDGET[viewport], f"{layout} covers {share:.0%} of the {viewport}"
    background = banner.evaluate("e => getComputedStyle(e).backgroundColor")
    assert (background == "rgb(255, 255, 255)") == (scheme == "light"), background
    if layout == "bar":
        # The sticky bar rests in the flow at the end of the page, over nothing: axe can
        # compute every contrast there (over page text it reports "needs review").
        page.keyboard.press("End")
        page.wait_for_function(
            "() => scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
        )
    screenshot(page, f"{layout}-{scheme}-{viewport}")
    assert audit(page) == [], (layout, scheme, viewport)
    # The page stays usable beside a box or modal: its own links are not covered.
    if layout != "bar" and viewport == "desktop":
        expect(page.get_by_role("link", name="Gallery")).to_be_in_viewport()
        page.get_by_role("link", name="Gallery").click()
        page.wait_for_url("**/other?x=1")


def test_position_and_forced_scheme(visitor: Any, sites: dict[str, str]) -> None:
    """A box at the top start corner, dark whatever the visitor's preference."""
    page = visitor(viewport=VIEWPORTS["desktop"], color_scheme="light", reduced_motion="reduce")
    page.goto(sites["top-start-dark"] + "/")
    page.evaluate("window.cookieguard.ready")
    box = page.locator("#cookie-consent").bounding_box()
    assert box is not None and box["x"] <= 20 and box["y"] <= 20
    background = page.locator("#cookie-consent").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert background == "rgb(30, 31, 36)"
    assert run_axe(page, "#cookie-consent") == []
    page.get_by_role("button", name="Customize").click()
    dialog = page.locator("#cookie-preferences-dialog")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(30, 31, 36)"
    assert run_axe(page, "#cookie-preferences-dialog") == []


def test_themed_by_custom_properties(visitor: Any, sites: dict[str, str]) -> None:
    """A site's own :root values win over ours (documented in docs/banner.md)."""
    # The test's own <style> is inline: the test site's strict CSP is bypassed for it.
    page = visitor(viewport=VIEWPORTS["desktop"], color_scheme="light", bypass_csp=True)
    page.goto(sites["bar"] + "/")
    page.evaluate("window.cookieguard.ready")
    page.add_style_tag(
        content=":root { --cg-bg: #fdf6e3; --cg-radius: 0; --cg-font: Georgia, serif; }"
    )
    banner = page.locator("#cookie-consent")
    assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(253, 246, 227)"
    assert "Georgia" in banner.evaluate("e => getComputedStyle(e).fontFamily")
    button = page.get_by_role("button", name="Accept all")
    assert button.evaluate("e => getComputedStyle(e).borderRadius") == "0px"
