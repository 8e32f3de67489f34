"""The banner in real Chromium: choices, the dialog, script gating, no-JS, languages, a11y, CSP.

Every page comes from a real uvicorn server with ``Content-Security-Policy: default-src 'self'``
(see conftest.py); every test starts as a new visitor in a fresh browser context.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserType, Locator, Page, expect

from tests.browser.site import CSP, RECORDER

DOCS = Path(__file__).resolve().parents[2] / "docs"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
OPTIONAL = ("preferences", "analytics", "marketing")

Visitor = Callable[..., Page]


# -- helpers -------------------------------------------------------------------------------


def banner(page: Page) -> Locator:
    return page.locator("#cookie-consent")


def dialog(page: Page) -> Locator:
    return page.locator("#cookie-preferences-dialog")


def ready(page: Page) -> dict[str, Any]:
    """Wait until banner.js has read the consent; return it."""
    state: dict[str, Any] = page.evaluate("window.cookieguard.ready")
    return state


def consent(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate("window.cookieguard.consent")
    return state


def granted(state: dict[str, Any]) -> set[str]:
    return {name for name, on in state["categories"].items() if on}


def server_consent(page: Page) -> dict[str, Any]:
    """What the server makes of the browser's cookie jar (no page script involved)."""
    state: dict[str, Any] = page.request.get("/_cookieguard/consent").json()
    return state


def ran(page: Page) -> list[str]:
    scripts: list[str] = page.evaluate("window.__ran || []")
    return scripts


def wait_ran(page: Page, count: int) -> list[str]:
    page.wait_for_function("(n) => (window.__ran || []).length >= n", arg=count)
    return ran(page)


def activated(page: Page) -> int:
    count: int = page.evaluate(
        "document.querySelectorAll('script[data-cookieguard]:not([type])').length"
    )
    return count


def violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.__violations")
    return found


def documents(page: Page) -> list[str]:
    """A live list of the page's top-level document requests (to prove: no reload)."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: (
            seen.append(request.url)
            if request.is_navigation_request() and request.frame == page.main_frame
            else None
        ),
    )
    return seen


def run_axe(page: Page, scope: str) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page (loaded same-origin: CSP allows it).

    Also reported: checks axe could not finish ("needs review") inside ``scope``, so a banner
    that hides its text from the contrast check cannot pass by default.
    """
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(url="/vendor/axe.min.js")
    found: list[dict[str, Any]] = page.evaluate(
        """async ([tags, scope]) => {
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            const ours = (n) => document.querySelector(n.target[0]).closest(scope);
            const contrast = result.passes.find((rule) => rule.id === 'color-contrast');
            if (!contrast || !contrast.nodes.some(ours)) {
                throw new Error('axe checked no text contrast in ' + scope);
            }
            const unfinished = result.incomplete
                .map((v) => ({...v, nodes: v.nodes.filter(ours)}))
                .filter((v) => v.nodes.length);
            return [...result.violations, ...unfinished].map((v) => ({
                id: v.id, impact: v.impact,
                nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.failureSummary),
            }));
        }""",
        [WCAG, scope],
    )
    return found


# -- first layer ---------------------------------------------------------------------------


def test_new_visitor_sees_banner_with_three_equal_buttons(page: Page) -> None:
    page.set_viewport_size({"width": 1000, "height": 640})
    page.goto("/")
    root = banner(page)
    expect(root).to_be_visible()
    expect(root.get_by_role("heading", name="Cookies on this site")).to_be_visible()
    for label in ("Preferences", "Analytics", "Marketing"):
        expect(root.get_by_role("listitem").filter(has_text=label)).to_have_count(1)
    expect(root.get_by_role("link", name="Cookie settings")).to_have_attribute(
        "href", "/_cookieguard/preferences?next=/"
    )
    expect(root.locator("form")).to_have_attribute("action", "/_cookieguard/consent")
    buttons = root.locator(".cg-actions button")
    expect(buttons).to_have_count(3)
    actions = [b.get_attribute("data-cookieguard-action") for b in buttons.all()]
    assert actions == ["accept_all", "reject_all", "customize"]
    assert [b.inner_text() for b in buttons.all()] == ["Accept all", "Reject all", "Customize"]

    def looks(page: Page) -> list[Any]:
        """Size of each button, then its font weight, size and colours: all must be equal."""
        sizes: list[Any] = [
            (round(box["width"]), round(box["height"]))
            for box in (b.bounding_box() for b in buttons.all())
            if box is not None
        ]
        styles: list[Any] = page.eval_on_selector_all(
            "#cookie-consent .cg-actions button",
            "(els) => els.map((el) => { const s = getComputedStyle(el);"
            " return [s.fontWeight, s.fontSize, s.color, s.backgroundColor].join(); })",
        )
        return sizes + styles

    wide = looks(page)
    assert len(set(wide[:3])) == 1 and len(set(wide[3:])) == 1, wide
    # The docs' picture is taken on request only (a test run leaves the tree as it was).
    if os.environ.get("COOKIEGUARD_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / "banner.png"), animations="disabled")
    assert (DOCS / "banner.png").is_file()

    # No cookie wall: the page under the banner still works and scrolls.
    page.get_by_role("button", name="Like this week's photos").click()
    page.locator("footer").get_by_role("link", name="Cookie settings").scroll_into_view_if_needed()
    assert page.evaluate("window.__liked") == 1

    page.set_viewport_size({"width": 360, "height": 640})
    narrow = looks(page)
    assert len(set(narrow[:3])) == 1 and len(set(narrow[3:])) == 1, narrow
    # On a phone the text scrolls inside the banner: every choice stays in view and the page
    # keeps over half of the screen.
    box = root.bounding_box()
    assert box is not None and box["height"] < 0.5 * 640
    assert all(b["y"] + b["height"] <= 640 for b in map(Locator.bounding_box, buttons.all()) if b)
    # Capped, so whatever does not fit scrolls inside the banner instead of spilling over.
    assert root.evaluate("(el) => getComputedStyle(el).overflowY") == "auto"
    assert violations(page) == []


def test_accept_all_applies_without_reload(page: Page) -> None:
    loads = documents(page)
    page.goto("/")
    ready(page)
    page.evaluate("window.__marker = 'same document'")
    page.get_by_role("button", name="Accept all").click()
    expect(banner(page)).to_be_hidden()
    # Granted scripts run in document order; a.js is served slowly and still runs first.
    assert wait_ran(page, 4) == ["a", "m", "b", "p"]
    assert page.evaluate("window.__marker") == "same document"
    assert len(loads) == 1
    assert granted(consent(page)) == {"necessary", *OPTIONAL}
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["cookie_consent"]["httpOnly"]
    assert "_ga" in cookies  # written by the analytics script once it was allowed

    page.reload()
    expect(banner(page)).to_have_count(0)
    ready(page)
    assert wait_ran(page, 4) == ["a", "m", "b", "p"]
    assert violations(page) == []


def test_reject_all_applies_without_reload(page: Page) -> None:
    loads = documents(page)
    page.goto("/")
    assert granted(ready(page)) == {"necessary"}
    page.get_by_role("button", name="Reject all").click()
    expect(banner(page)).to_be_hidden()
    state = consent(page)
    assert state["decided"] and granted(state) == {"necessary"}
    assert len(loads) == 1
    assert activated(page) == 0 and ran(page) == []
    assert server_consent(page)["decided"]

    page.reload()
    expect(banner(page)).to_have_count(0)
    assert granted(ready(page)) == {"necessary"}
    assert activated(page) == 0
    assert not {"_ga", "_fbp"} & {c["name"] for c in page.context.cookies()}


def test_gated_scripts_run_only_once_granted_in_document_order(page: Page) -> None:
    page.goto("/")
    ready(page)
    assert activated(page) == 0
    page.evaluate("cookieguard.update(['analytics'])")
    assert wait_ran(page, 2) == ["a", "b"]
    expect(page.locator('script[type="text/plain"][data-cookieguard]')).to_have_count(2)
    page.evaluate("cookieguard.update('accept_all')")
    # Each script runs once; the newly granted ones follow in their own document order.
    assert wait_ran(page, 4) == ["a", "b", "m", "p"]
    page.evaluate("cookieguard.update('accept_all')")
    page.wait_for_timeout(100)
    assert ran(page) == ["a", "b", "m", "p"]


# -- the preferences dialog ----------------------------------------------------------------


def test_customize_opens_dialog_and_saves_only_preferences(page: Page) -> None:
    loads = documents(page)
    page.goto("/")
    ready(page)
    customize = page.get_by_role("button", name="Customize")
    customize.click()
    box = dialog(page)
    expect(box).to_be_visible()
    assert box.evaluate("(el) => el.matches(':modal')")
    necessary = box.get_by_role("switch", name="Strictly necessary (Always on)")
    expect(necessary).to_be_checked()
    expect(necessary).to_be_disabled()
    preferences = box.get_by_role("switch", name="Preferences")
    expect(preferences).to_be_focused()
    for name in ("Preferences", "Analytics", "Marketing"):
        expect(box.get_by_role("switch", name=name)).not_to_be_checked()
    preferences.check()
    box.get_by_role("button", name="Save choices").click()
    expect(box).to_be_hidden()
    expect(banner(page)).to_be_hidden()
    assert granted(consent(page)) == {"necessary", "preferences"}
    assert wait_ran(page, 1) == ["p"]
    assert granted(server_consent(page)) == {"necessary", "preferences"}
    assert len(loads) == 1
    assert violations(page) == []


def test_reopen_from_footer_link_and_open_button(page: Page) -> None:
    dialogs: list[str] = []
    page.on("request", lambda r: dialogs.append(r.url) if "/dialog" in r.url else None)
    page.goto("/")
    ready(page)
    page.evaluate("cookieguard.update('accept_all')")
    expect(banner(page)).to_be_hidden()
    wait_ran(page, 4)

    link = page.locator("footer").get_by_role("link", name="Cookie settings")
    link.click()
    box = dialog(page)
    expect(box).to_be_visible()
    assert page.url.endswith("/") and "/preferences" not in page.url
    for name in ("Preferences", "Analytics", "Marketing"):
        expect(box.get_by_role("switch", name=name)).to_be_checked()
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    expect(link).to_be_focused()

    opener = page.get_by_role("button", name="Privacy choices")
    opener.click()
    expect(box).to_be_visible()
    box.get_by_role("switch", name="Analytics").uncheck()
    box.get_by_role("button", name="Save choices").click()
    expect(box).to_be_hidden()
    expect(opener).to_be_focused()
    assert granted(consent(page)) == {"necessary", "preferences", "marketing"}
    assert granted(server_consent(page)) == {"necessary", "preferences", "marketing"}
    # Withdrawing analytics expired the cookie its script had written.
    assert "_ga" not in {c["name"] for c in page.context.cookies()}
    assert len(dialogs) == 1  # fetched once, reused


def test_change_event_and_javascript_api(page: Page) -> None:
    page.goto("/")
    ready(page)
    page.evaluate(
        "window.__events = [];"
        "document.addEventListener('cookieguard:change', (e) => window.__events.push(e.detail));"
    )
    state = page.evaluate("cookieguard.update({analytics: true, marketing: false})")
    events = page.evaluate("window.__events")
    assert events == [state]
    assert granted(state) == {"necessary", "analytics"}
    assert consent(page) == state
    assert set(state) >= {"decided", "categories", "revision", "consent_id", "expires", "gpc"}
    page.evaluate("cookieguard.update('reject_all')")
    assert granted(page.evaluate("window.__events[1]")) == {"necessary"}
    page.evaluate("cookieguard.open()")
    expect(dialog(page)).to_be_visible()
    expect(dialog(page).get_by_role("switch", name="Analytics")).not_to_be_checked()


# -- without JavaScript, other languages, blocked cookies ----------------------------------


def test_without_javascript_the_form_posts_and_returns_to_the_page(
    visitor: Visitor, base_url: str
) -> None:
    page = visitor(java_script_enabled=False)
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if r.url.endswith("/_cookieguard/consent") else None,
    )
    page.goto("/other?x=1")
    expect(banner(page)).to_be_visible()
    expect(banner(page).locator("[data-cookieguard-note]")).to_be_hidden()
    # The post returns to the page it was made on: wait_for_url() would return at once.
    with page.expect_navigation(url=base_url + "/other?x=1"):
        page.get_by_role("button", name="Reject all").click()
    assert statuses == [303]
    expect(banner(page)).to_have_count(0)
    assert server_consent(page)["decided"]

    # Customize without JavaScript: the preferences page, then back to where the visitor was.
    page = visitor(java_script_enabled=False)
    page.goto("/other?x=1")
    page.get_by_role("button", name="Customize").click()
    page.wait_for_url("**/_cookieguard/preferences?*")
    assert "next=%2Fother%3Fx%3D1" in page.url
    page.get_by_role("switch", name="Analytics").check()
    page.get_by_role("button", name="Save choices").click()
    page.wait_for_url(base_url + "/other?x=1")
    assert granted(server_consent(page)) == {"necessary", "analytics"}


def test_german_browser_gets_german_banner_and_dialog(visitor: Visitor) -> None:
    page = visitor(locale="de-DE")
    page.goto("/")
    root = banner(page)
    expect(root).to_have_attribute("lang", "de")
    expect(root.get_by_role("heading")).to_have_text("Cookies auf dieser Seite")
    for label in ("Präferenzen", "Statistik", "Marketing"):
        expect(root.get_by_role("listitem").filter(has_text=label)).to_have_count(1)
    names = [b.inner_text() for b in root.locator(".cg-actions button").all()]
    assert names == ["Alle akzeptieren", "Alle ablehnen", "Anpassen"]
    root.get_by_role("button", name="Anpassen").click()
    expect(dialog(page).get_by_role("heading", level=2)).to_have_text("Cookie-Einstellungen")
    expect(dialog(page).get_by_role("switch", name="Statistik")).to_be_visible()
    expect(dialog(page).get_by_role("button", name="Auswahl speichern")).to_be_visible()


def test_cookies_blocked_by_the_browser(
    browser_type: BrowserType,
    browser_type_launch_args: dict[str, Any],
    base_url: str,
    tmp_path: Path,
) -> None:
    # A real Chromium profile whose content setting blocks all cookies: the browser drops the
    # consent cookie (and any other) for real. Chromium still reports navigator.cookieEnabled
    # as true here, so banner.js must notice on its own that the choice was not kept.
    (tmp_path / "Default").mkdir()
    (tmp_path / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"default_content_setting_values": {"cookies": 2}}})
    )
    context = browser_type.launch_persistent_context(
        tmp_path, base_url=base_url, **browser_type_launch_args
    )
    try:
        context.add_init_script(script=RECORDER)
        page = context.pages[0] if context.pages else context.new_page()
        loads = documents(page)
        page.goto("/")
        ready(page)
        note = banner(page).locator("[data-cookieguard-note]")
        expect(note).to_be_hidden()
        page.get_by_role("button", name="Accept all").click()
        expect(note).to_be_visible()
        expect(note).to_contain_text("applies to this page only")
        expect(banner(page).locator("form")).to_be_hidden()
        assert wait_ran(page, 4) == ["a", "m", "b", "p"]  # the choice holds for this page
        assert context.cookies() == []
        page.wait_for_timeout(500)
        assert len(loads) == 1  # no reload, no loop

        # The next page cannot know the choice; it asks once, without reloading itself.
        page.reload()
        expect(banner(page).get_by_role("button", name="Accept all")).to_be_visible()
        page.wait_for_timeout(500)
        assert len(loads) == 2
        assert violations(page) == []
    finally:
        context.close()


def test_note_shown_up_front_when_the_browser_says_cookies_are_off(context: Any) -> None:
    # Simulated: only navigator.cookieEnabled is overridden (browsers that block cookies report
    # false there); the real blocking is covered by the test above.
    context.add_init_script(
        script="Object.defineProperty(Navigator.prototype, 'cookieEnabled', {get: () => false});"
    )
    page = context.new_page()
    page.goto("/")
    root = banner(page)
    expect(root.locator("[data-cookieguard-note]")).to_be_visible()
    expect(root.get_by_role("button", name="Reject all")).to_be_visible()
    page.get_by_role("button", name="Reject all").click()
    expect(root).to_be_hidden()
    page.wait_for_timeout(200)
    expect(root).to_be_hidden()  # the cookie was kept after all: nothing more to say


# -- accessibility, keyboard, CSP ----------------------------------------------------------


def test_axe_finds_no_wcag_violations(visitor: Visitor) -> None:
    for scheme in ("light", "dark"):
        page = visitor(color_scheme=scheme, reduced_motion="reduce")
        page.goto("/")
        ready(page)
        # At the end of the page the sticky banner rests in the flow, over nothing: axe can
        # then compute every contrast (over page text it reports "needs review" instead).
        # Chromium scrolls smoothly on End: wait for the bottom, not for the first pixel (a
        # check mid-scroll saw the banner over the page's text).
        page.keyboard.press("End")
        page.wait_for_function(
            "() => scrollY > 0"
            " && scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
        )
        assert run_axe(page, "#cookie-consent") == [], scheme
        page.get_by_role("button", name="Customize").click()
        expect(dialog(page)).to_be_visible()
        assert run_axe(page, "#cookie-preferences-dialog") == [], scheme
    page.goto("/_cookieguard/preferences?next=/")
    assert run_axe(page, "#cookie-preferences") == []


def describe_focus(page: Page) -> str:
    described: str = page.evaluate(
        """() => {
            const el = document.activeElement;
            const where = el.closest('#cookie-consent') ? 'banner'
                : el.closest('dialog') ? 'dialog' : 'page';
            const name = el.labels && el.labels.length ? el.labels[0].textContent
                : el.textContent.trim();
            return where + ':' + name;
        }"""
    )
    return described


def test_keyboard_only(page: Page) -> None:
    page.goto("/")
    ready(page)
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(describe_focus(page))
        if seen[-1] == "banner:Customize":
            break
    assert seen == [
        "page:Home",
        "page:Gallery",
        "page:Like this week's photos",
        "page:Cookie settings",
        "page:Privacy choices",
        "banner:Cookie settings",
        "banner:Accept all",
        "banner:Reject all",
        "banner:Customize",
    ]
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] != "none" and outline[1] >= 2

    customize = page.get_by_role("button", name="Customize")
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_visible()
    assert describe_focus(page) == "dialog:Preferences"
    inside = []
    for _ in range(12):
        page.keyboard.press("Tab")
        inside.append(describe_focus(page))
    assert inside == [
        "dialog:Analytics",
        "dialog:Vendors (1)",  # its vendors, each with a switch (issue 24), folded
        "dialog:Marketing",
        "dialog:Vendors (1)",
        "dialog:Save choices",
        "dialog:Accept all",
        "dialog:Reject all",
        # The cookie declaration, one disclosure per category.
        "dialog:Strictly necessary (1)",
        "dialog:Preferences (1)",
        "dialog:Analytics (1)",
        "dialog:Marketing (1)",
        "dialog:Close",
    ]
    page.keyboard.press("Escape")
    expect(dialog(page)).to_be_hidden()
    expect(customize).to_be_focused()

    page.keyboard.press("Space")
    expect(dialog(page)).to_be_visible()
    page.keyboard.press("Space")  # switch Preferences on
    expect(dialog(page).get_by_role("switch", name="Preferences")).to_be_checked()
    for _ in range(5):  # Analytics, its vendors, Marketing, its vendors
        page.keyboard.press("Tab")
    assert describe_focus(page) == "dialog:Save choices"
    page.keyboard.press("Enter")
    expect(dialog(page)).to_be_hidden()
    expect(banner(page)).to_be_hidden()
    assert granted(consent(page)) == {"necessary", "preferences"}


def test_keyboard_reject_with_space(page: Page) -> None:
    page.goto("/")
    ready(page)
    page.get_by_role("button", name="Reject all").focus()
    page.keyboard.press("Space")
    expect(banner(page)).to_be_hidden()
    assert granted(consent(page)) == {"necessary"}


def test_strict_csp_banner_works_with_no_violation(page: Page) -> None:
    response = page.goto("/")
    assert response is not None and response.headers["content-security-policy"] == CSP
    ready(page)
    page.get_by_role("button", name="Customize").click()
    expect(dialog(page)).to_be_visible()
    dialog(page).get_by_role("button", name="Accept all").click()
    expect(banner(page)).to_be_hidden()
    assert wait_ran(page, 4) == ["a", "m", "b", "p"]
    page.locator("footer").get_by_role("link", name="Cookie settings").click()
    expect(dialog(page)).to_be_visible()
    assert violations(page) == []

    # The recorder is live: an inline script is refused by the same policy and reported.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.body.append(s); }"
    )
    page.wait_for_function("() => window.__violations.length > 0")
    assert page.evaluate("window.__inline") is None


def test_right_to_left_switches_and_note(visitor: Visitor) -> None:
    page = visitor(locale="he-IL")
    page.goto("/_cookieguard/preferences?next=/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")

    def knob(name: str) -> str:
        position: str = page.eval_on_selector(
            f"#cg-c-{name}", "(el) => getComputedStyle(el).backgroundPositionX"
        )
        return position

    # The knob starts at the inline start (the right in RTL) and moves to the end when on.
    assert knob("analytics") == "100%"
    assert knob("necessary") == "0%"
    page.goto("/")
    note = banner(page).locator("[data-cookieguard-note]")
    border = note.evaluate("(el) => getComputedStyle(el).borderRightStyle")
    assert border == "solid"
