"""Browser-test fixtures: Chromium from ``cookieguard.testing._browser``, the test server, axe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    BrowserType,
    Page,
    Playwright,
    sync_playwright,
)

from cookieguard.testing._browser import launch_args
from tests.browser.site import RECORDER, Server, build_app, fetch_axe

# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Command-line choices (--headed, --slowmo) win over ours.
    return {**launch_args(), **browser_type_launch_args}


# pytest-playwright keeps Playwright for the whole session, and while the sync API lives it
# marks an asyncio loop as running in the main thread: every later asyncio.run() (the ASGI
# tests) would then fail. Package scope stops Playwright when the browser tests are done.


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    chosen: BrowserType = getattr(playwright, browser_name)
    return chosen


@pytest.fixture(scope="package")
def browser(
    browser_type: BrowserType, browser_type_launch_args: dict[str, Any]
) -> Iterator[Browser]:
    launched = browser_type.launch(**browser_type_launch_args)
    yield launched
    launched.close()


@pytest.fixture(scope="package")
def browser_context_args(base_url: str) -> dict[str, Any]:
    return {"base_url": base_url}


@pytest.fixture(scope="session")
def axe_js() -> Path:
    return fetch_axe()


@pytest.fixture(scope="package")
def server(axe_js: Path) -> Iterator[Server]:
    with Server(build_app(axe_js)) as running:
        yield running


@pytest.fixture(scope="package")
def base_url(server: Server) -> str:
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
