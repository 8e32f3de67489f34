"""Package-scoped Playwright fixtures, shared by the browser and end-to-end suites.

pytest-playwright keeps Playwright for the whole session, and while the sync API lives it
marks an asyncio loop as running in the main thread: every later ``asyncio.run()`` would then
fail. Package scope stops Playwright when a browser package is done. Import these names into
a package's ``conftest.py`` to use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, expect, sync_playwright

from tests.harness import EVENTUALLY

# expect() retries until its condition holds, for 5 s by default: too short on a loaded
# machine (issue 20 part 4). It returns as soon as the condition holds.
expect.set_options(timeout=EVENTUALLY * 1000)


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
