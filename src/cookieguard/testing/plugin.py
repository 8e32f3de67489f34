"""pytest plugin entry point (registered as ``cookieguard`` in the ``pytest11`` group).

Loaded in every pytest run of a project that installs cookieguard, so it imports nothing heavy
and changes nothing of pytest-playwright's (browser, launch arguments, fixtures) until the
project opts in:

- ``cookieguard_policy``: the site's :class:`~cookieguard.Policy`; override it in a conftest.
- ``seed_consent(context, base_url, categories)``: add a valid signed consent cookie.
- ``consent_banner``: a :class:`~cookieguard.testing.ConsentBanner` on pytest-playwright's
  ``page`` (only when pytest-playwright is installed).

These three only add names; using them is the choice. Running a system Chromium instead of
Playwright's own browser (pytest-playwright's ``browser_type_launch_args`` extended) is an
opt-in, by any one of:

- ``cookieguard = true`` in the pytest ini options (a system Chromium is then found by itself:
  ``$COOKIEGUARD_CHROMIUM``, ``/usr/bin/chromium``, ``chromium`` on PATH);
- ``cookieguard_browser = PATH`` (or ``playwright``) in the ini options;
- ``--cookieguard`` or ``--cookieguard-chromium=PATH`` (or ``=playwright``) on the command line;
- the environment variable ``COOKIEGUARD_CHROMIUM=PATH``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from cookieguard import Policy
    from cookieguard.scan import ScanReport
    from cookieguard.testing.pages import ConsentBanner

SeedConsent = Callable[["BrowserContext", str, Iterable[str]], str]

OVERRIDE_POLICY = """\
cookieguard_policy is not configured: override the fixture in your conftest.py with your
site's policy (the same secret keys and cookies as the site under test), for example:

    import pytest
    from cookieguard import Policy

    @pytest.fixture(scope="session")
    def cookieguard_policy() -> Policy:
        return Policy(secret_keys=[os.environ["COOKIEGUARD_SECRET"]],
                      cookies={"_ga": "analytics", "_fbp": "marketing"}, receipts=None)
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cookieguard", "cookieguard consent testing")
    group.addoption(
        "--cookieguard",
        action="store_true",
        default=False,
        help="Run Playwright's tests in a system Chromium ($COOKIEGUARD_CHROMIUM, "
        "/usr/bin/chromium or chromium on PATH, else Playwright's own browser).",
    )
    group.addoption(
        "--cookieguard-chromium",
        metavar="PATH",
        default=None,
        help="Run Playwright's tests in this Chromium binary; 'playwright' means "
        "Playwright's own browser. Implies --cookieguard.",
    )
    parser.addini(
        "cookieguard",
        type="bool",
        default=False,
        help="Opt in to cookieguard's browser choice (as --cookieguard).",
    )
    parser.addini(
        "cookieguard_browser",
        default="",
        help="Chromium binary for Playwright, or 'playwright' (as --cookieguard-chromium).",
    )


def opted_in(config: pytest.Config) -> bool:
    """Whether the project asked cookieguard to choose the browser (see the module doc)."""
    return bool(
        config.getoption("--cookieguard", default=False)
        or config.getoption("--cookieguard-chromium", default=None)
        or config.getini("cookieguard")
        or config.getini("cookieguard_browser")
        or os.environ.get("COOKIEGUARD_CHROMIUM")
    )


def chosen_chromium(config: pytest.Config) -> str | None:
    """The system Chromium to run, or ``None`` for Playwright's own browser."""
    from cookieguard.testing._browser import chromium_executable

    option: str | None = (
        config.getoption("--cookieguard-chromium", default=None)
        or config.getini("cookieguard_browser")
        or os.environ.get("COOKIEGUARD_CHROMIUM")
        or None
    )
    if option == "playwright":
        return None
    if option is not None:
        if not os.access(option, os.X_OK):
            raise pytest.UsageError(
                f"cookieguard: Chromium {option!r} is not an executable (from "
                "--cookieguard-chromium, the cookieguard_browser ini option or "
                "$COOKIEGUARD_CHROMIUM); name a binary, or 'playwright' for Playwright's own."
            )
        return option
    return chromium_executable()


def pytest_configure(config: pytest.Config) -> None:
    # Registered now, after every entry-point plugin: our browser_type_launch_args then
    # overrides pytest-playwright's (and can build on it). Without pytest-playwright,
    # nothing browser-related is added at all; without an opt-in, only consent_banner.
    manager = config.pluginmanager
    if not manager.has_plugin("playwright"):
        return
    if not manager.has_plugin("cookieguard-playwright"):
        manager.register(PageObjects(), "cookieguard-playwright")
    if opted_in(config) and not manager.has_plugin("cookieguard-browser"):
        chosen_chromium(config)  # a bad path is a usage error now, not in the first test
        manager.register(BrowserChoice(), "cookieguard-browser")


def pytest_report_header(config: pytest.Config) -> str | None:
    if not config.pluginmanager.has_plugin("cookieguard-browser"):
        return None
    found = chosen_chromium(config)
    return "cookieguard: browser " + (found or "Playwright's own chromium")


# -- fixtures that need no browser -------------------------------------------------------


@pytest.fixture(scope="session")
def cookieguard_policy() -> Policy:
    """The policy of the site under test. Override it: there is no sensible default."""
    pytest.fail(OVERRIDE_POLICY, pytrace=False)


@pytest.fixture
def seed_consent(cookieguard_policy: Policy) -> SeedConsent:
    """``seed_consent(context, base_url, ["analytics"])``: a valid signed consent cookie.

    Adds it to a Playwright ``BrowserContext`` and returns the consent id. Pass ``[]`` for a
    visitor who rejected everything.
    """
    from cookieguard.testing import seed_consent_cookie

    def seed(context: BrowserContext, base_url: str, categories: Iterable[str]) -> str:
        return seed_consent_cookie(context, cookieguard_policy, base_url, categories)

    return seed


@pytest.fixture
def cookieguard_scan(request: pytest.FixtureRequest) -> Callable[..., ScanReport]:
    """``cookieguard_scan(url, pages=10)``: scan the site under test in a real Chromium
    (before a choice, after Reject all, after Accept all) and fail the test with the scan's
    table when anything optional is stored or loaded before a choice or after Reject all.

    Without a URL it scans pytest-playwright's ``base_url``. Options are those of
    :func:`cookieguard.scan.scan`; the report is returned for further checks.
    """
    from cookieguard.scan import assert_clean, scan

    def run(*urls: str, **options: Any) -> ScanReport:
        if not urls:
            urls = (str(request.getfixturevalue("base_url")),)
        report = scan(list(urls), **options)
        assert_clean(report)
        return report

    return run


# -- fixtures on top of pytest-playwright ------------------------------------------------


class PageObjects:
    """Registered when pytest-playwright is (see :func:`pytest_configure`): a new fixture
    name, nothing of pytest-playwright's changed."""

    @pytest.fixture
    def consent_banner(self, page: Page) -> ConsentBanner:
        """The banner page object on pytest-playwright's ``page``."""
        from cookieguard.testing.pages import ConsentBanner

        return ConsentBanner(page)


class BrowserChoice:
    """Registered only when the project opted in (see :func:`opted_in`): overrides
    pytest-playwright's ``browser_type_launch_args``."""

    @pytest.fixture(scope="session")
    @classmethod
    def cookieguard_chromium(cls, pytestconfig: pytest.Config) -> str | None:
        """The system Chromium in use, or ``None`` when Playwright runs its own browser."""
        return chosen_chromium(pytestconfig)

    @pytest.fixture(scope="session")
    @classmethod
    def browser_type_launch_args(
        cls,
        browser_type_launch_args: dict[str, Any],
        cookieguard_chromium: str | None,
        browser_name: str,
    ) -> dict[str, Any]:
        """pytest-playwright's launch arguments, plus a system Chromium when there is one.

        Command-line choices (``--headed``, ``--slowmo``) win; ``--browser-channel`` means
        the user picked a browser, so it is left alone.
        """
        if (
            cookieguard_chromium is None
            or browser_name != "chromium"
            or "channel" in browser_type_launch_args
        ):
            return browser_type_launch_args
        from cookieguard.testing._browser import launch_args

        ours = launch_args()
        ours["executable_path"] = cookieguard_chromium
        return {**ours, **browser_type_launch_args}
