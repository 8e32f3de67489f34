"""Browser-test fixtures: Chromium from ``cookieguard.testing._browser``, the test server, axe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from cookieguard.testing._browser import launch_args
from tests.browser.site import RECORDER, build_app, fetch_axe
from tests.harness import UvicornServer

# Playwright stops when this package is done, so later asyncio.run() calls work.
from tests.playwright_scope import (  # noqa: F401 - fixtures
    browser,
    browser_context_args,
    browser_type,
    playwright,
)

if TYPE_CHECKING:
    from tests.browser.third_parties import Visit

# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Command-line choices (--headed, --slowmo) win over ours.
    return {**launch_args(), **browser_type_launch_args}


@pytest.fixture(scope="session")
def axe_js() -> Path:
    return fetch_axe()


@pytest.fixture(scope="package")
def server(axe_js: Path) -> Iterator[UvicornServer]:
    with UvicornServer(build_app(axe_js)) as running:
        yield running


@pytest.fixture(scope="package")
def base_url(server: UvicornServer) -> str:
    return server.url


@pytest.fixture
def context(new_context: Any) -> BrowserContext:
    """A fresh context (a new visitor) that records CSP violations from the first script on."""
    created: BrowserContext = new_context()
    created.add_init_script(script=RECORDER)
    return created


@pytest.fixture
def visitor(new_context: Any) -> Any:
    """Make a context with options (``java_script_enabled=False``, ``locale=...``)."""

    def make(**options: Any) -> Page:
        created: BrowserContext = new_context(**options)
        created.add_init_script(script=RECORDER)
        return created.new_page()

    return make


# -- third parties answered locally and recorded (tests/browser/third_parties.py) --------------


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:  # noqa: F811 - the fixture above
    """``visit(url)``: ``page, recorder``, a page loaded and settled in a new context whose
    requests off 127.0.0.1 go to stubs that record them. A module that needs other context
    options or another pause overrides it (test_host_spellings, test_trackers)."""
    from tests.browser.third_parties import visits

    with visits(browser) as visit:
        yield visit


# -- vendors' snippets pasted as published (tests/browser/snippet_site.py) ----------------------
# A test module names its snippets in a module-level ``SNIPPETS`` (vendor name -> snippet).


@pytest.fixture(scope="module")
def bare_snippets(request: pytest.FixtureRequest) -> Iterator[str]:
    """The module's ``SNIPPETS`` served by the bare snippet app; its URL."""
    from tests.browser.snippet_site import serving

    with serving(request.module.SNIPPETS, guarded=False) as url:
        yield url


@pytest.fixture(scope="module")
def guarded_snippets(request: pytest.FixtureRequest) -> Iterator[str]:
    """The module's ``SNIPPETS`` served behind cookieguard; its URL."""
    from tests.browser.snippet_site import serving

    with serving(request.module.SNIPPETS, guarded=True) as url:
        yield url
