"""Page objects for the cookieguard banner and preferences, for Playwright's sync API.

They find elements by the banner contract (``#cookie-consent``, ``data-cookieguard-action``,
``input[name=category]``), never by text, so they work in every language, with JavaScript on
(in-page dialog) or off (plain form posts and the server-rendered preferences page).

Playwright is imported only inside the methods: importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

__all__ = ["ConsentBanner", "PreferencesPanel"]

#: How long a choice may take to apply (a fetch, or a form post and a redirect), in ms: the
#: ceiling of each wait, which returns as soon as its condition holds. Playwright's own default
#: for actions; a CI machine under load can be ten times slower than an idle one (issue 20).
DEFAULT_TIMEOUT = 30_000


class PreferencesPanel:
    """The preferences form: the ``<dialog>`` banner.js opens, or the preferences page."""

    def __init__(self, root: Locator, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.root = root
        self.timeout = timeout

    def switch(self, category: str) -> Locator:
        """The on/off switch of one category."""
        return self.root.locator(f'input[name="category"][value="{category}"]')

    def set(self, choices: Mapping[str, bool]) -> None:
        """Turn categories on or off; categories not named keep their current state."""
        for category, on in choices.items():
            switch = self.switch(category)
            if switch.count() == 0:
                raise ValueError(f"the preferences have no category {category!r}")
            switch.set_checked(on, timeout=self.timeout)

    def save(self, choices: Mapping[str, bool] | None = None) -> None:
        """Set ``choices`` (if given), press "Save choices" and wait until the choice applied."""
        if choices:
            self.set(choices)
        self._press("save")

    def accept_all(self) -> None:
        self._press("accept_all")

    def reject_all(self) -> None:
        """Refuse every optional category: this is how a visitor withdraws consent."""
        self._press("reject_all")

    def _press(self, action: str) -> None:
        button = self.root.locator(f'[data-cookieguard-action="{action}"]')
        button.click(timeout=self.timeout)
        # With JavaScript the dialog closes; without, the post redirects away from the page.
        button.wait_for(state="hidden", timeout=self.timeout)


class ConsentBanner:
    """The first-layer banner of one page.

    >>> banner = ConsentBanner(page)
    >>> page.goto("/")
    >>> assert banner.is_visible()
    >>> banner.customize({"preferences": True})
    """

    def __init__(
        self, page: Page, *, prefix: str = "/_cookieguard", timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.page = page
        self.prefix = prefix
        self.timeout = timeout
        self.root = page.locator("#cookie-consent")
        self.note = self.root.locator("[data-cookieguard-note]")

    # -- first layer -------------------------------------------------------------------

    def is_visible(self) -> bool:
        """Whether the banner's choices are on screen now (no waiting)."""
        return self.button("accept_all").is_visible()

    def button(self, action: str) -> Locator:
        """``accept_all``, ``reject_all`` or ``customize`` in the banner."""
        return self.root.locator(f'[data-cookieguard-action="{action}"]')

    def accept_all(self) -> None:
        """Press "Accept all" and wait until the choice applied (in page, or form post)."""
        self._choose("accept_all")

    def reject_all(self) -> None:
        """Press "Reject all" and wait until the choice applied (in page, or form post)."""
        self._choose("reject_all")

    @property
    def rule(self) -> str:
        """What the visitor's region asks for, as the page shows it: ``"opt-in"`` (the
        banner), ``"opt-out"`` (the Do Not Sell or Share notice) or ``"notice"``."""
        found = self.root.get_attribute("data-cookieguard-rule", timeout=self.timeout)
        return found or "opt-in"

    def do_not_sell(self) -> None:
        """Press "Do Not Sell or Share My Personal Information" (an opt-out region's notice)
        and wait until the choice applied: everything stays granted but the sale/sharing
        categories."""
        button = self.root.locator("[data-cookieguard-dnss]")
        button.click(timeout=self.timeout)
        button.wait_for(state="hidden", timeout=self.timeout)

    def dismiss(self) -> None:
        """Press OK on a notice region's notice (keeps what the region grants)."""
        self._choose("dismiss")

    def customize(self, choices: Mapping[str, bool]) -> None:
        """Press "Customize", set ``choices`` (``{"analytics": True, ...}``) and save them.

        Categories not named keep their current state (off for a new visitor).
        """
        self.button("customize").click(timeout=self.timeout)
        self.preferences().save(choices)

    def _choose(self, action: str) -> None:
        button = self.button(action)
        button.click(timeout=self.timeout)
        # banner.js hides the banner (or, with cookies blocked, its form); without
        # JavaScript the form posts and the next page has no banner.
        button.wait_for(state="hidden", timeout=self.timeout)

    # -- preferences -------------------------------------------------------------------

    def preferences(self) -> PreferencesPanel:
        """The preferences form once it is open (the dialog, or the no-JS page)."""
        root = self.page.locator(
            "dialog#cookie-preferences-dialog[open], main#cookie-preferences"
        ).first
        root.wait_for(timeout=self.timeout)
        return PreferencesPanel(root, timeout=self.timeout)

    def open_preferences(self) -> PreferencesPanel:
        """Reopen the preferences from the page (a "Cookie settings" link or an open button).

        With JavaScript banner.js opens them as a dialog; without, the link leads to the
        preferences page, whose form returns to this page.
        """
        opener = (
            self.page.locator(
                f'[data-cookieguard-action="open"], a[href^="{self.prefix}/preferences"]'
            )
            .filter(visible=True)
            .first
        )
        opener.click(timeout=self.timeout)
        return self.preferences()

    # -- what the server knows ---------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """``GET {prefix}/consent`` with the page's cookies: what the server makes of them."""
        response = self.page.request.get(urljoin(self.page.url, f"{self.prefix}/consent"))
        state: dict[str, Any] = response.json()
        return state

    def granted(self) -> set[str]:
        """The categories the server sees as granted (``necessary`` included)."""
        return {name for name, on in self.state()["categories"].items() if on}
