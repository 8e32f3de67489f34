"""The example sites as real servers (one subprocess per example), and Chromium for them.

Each journey runs once per example: the package-scoped ``example`` fixture starts
``examples/<name>/app.py`` on a free port of 127.0.0.1 with a fresh receipts file, and stops
it when that example's journeys are done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from cookieguard import Policy
from tests.harness import ServerProcess

# Playwright stops when this package is done, so later asyncio.run() calls work.
from tests.playwright_scope import (  # noqa: F401 - fixtures
    browser,
    browser_context_args,
    browser_type,
    playwright,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "flask": ROOT / "examples" / "flask_app" / "app.py",
    "starlette": ROOT / "examples" / "starlette_app" / "app.py",
    "django": ROOT / "examples" / "django_app" / "app.py",  # uvicorn serving Django's ASGI app
}
SECRET = "e2e-journeys-secret-0123456789abcdef"
COOKIES = {"likebox": "preferences", "_ga": "analytics", "_ga_js": "analytics", "_fbp": "marketing"}


class ExampleServer(ServerProcess):
    """``python examples/<name>/app.py`` on a free port ($PORT), its output kept in a log file;
    ready once it answers ``/collect/count`` (started again on another port when the one it
    was given was taken: tests.harness.ServerProcess)."""

    def __init__(self, name: str, workdir: Path, argv: list[str] | None = None) -> None:
        env = {
            **os.environ,
            "PORT": "{port}",
            "COOKIEGUARD_SECRET": SECRET,
            "COOKIEGUARD_RECEIPTS": str(workdir / f"{name}-receipts.sqlite3"),
            "PYTHONUNBUFFERED": "1",
        }
        super().__init__(
            name,
            argv or [sys.executable, str(EXAMPLES[name])],
            log=workdir / f"{name}.log",
            env=env,
            cwd=ROOT,
            ready_path="/collect/count",
        )


@pytest.fixture(scope="package", params=sorted(EXAMPLES))
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleServer]:
    name: str = request.param
    server = ExampleServer(name, tmp_path_factory.mktemp(f"e2e-{name}"))
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def base_url(example: ExampleServer) -> str:
    return example.url


#: The examples carry Google's gtag.js snippet; the browser gets the site's stand-in for it.
GTAG_STAND_IN = (ROOT / "examples" / "site" / "static" / "analytics.js").read_text("utf-8")


@pytest.fixture
def new_context(new_context: Callable[..., BrowserContext]) -> Callable[..., BrowserContext]:
    """Every context routes Google's tag host to the stand-in (third parties are offline)."""

    def make(**options: Any) -> BrowserContext:
        context = new_context(**options)
        context.route(
            "https://www.googletagmanager.com/**",
            lambda route: route.fulfill(body=GTAG_STAND_IN, content_type="text/javascript"),
        )
        return context

    return make


@pytest.fixture(scope="session")
def cookieguard_policy() -> Policy:
    """The examples' policy, as the plugin's fixtures need it (same secret, same cookies)."""
    return Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None)
