"""The example sites as real servers (one subprocess per example), and Chromium for them.

Each journey runs once per example: the package-scoped ``example`` fixture starts
``examples/<name>/app.py`` on a free port of 127.0.0.1 with a fresh receipts file, and stops
it when that example's journeys are done.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from cookieguard import Policy

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


class ExampleServer:
    """``python examples/<name>/app.py`` on a free port, its output kept in a log file."""

    def __init__(self, name: str, workdir: Path, argv: list[str] | None = None) -> None:
        self.name = name
        self.workdir = workdir
        self.argv = argv or [sys.executable, str(EXAMPLES[name])]
        self.log = workdir / f"{name}.log"
        self._start()

    def _start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "PORT": str(port),
            "COOKIEGUARD_SECRET": SECRET,
            "COOKIEGUARD_RECEIPTS": str(self.workdir / f"{self.name}-receipts.sqlite3"),
            "PYTHONUNBUFFERED": "1",
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        """Return once the example answers (at once when it starts fast: the bound is for a
        loaded machine). The port was free when probed, but another process may bind it
        before the example does: the example then starts again on another port."""
        for attempt in range(3):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with urllib.request.urlopen(self.url + "/collect/count", timeout=5) as answer:
                        if answer.status == 200 and self.process.poll() is None:
                            return
                except OSError:
                    time.sleep(0.05)
            taken = "address already in use" in self.output().lower()
            if self.process.poll() is None or not taken or attempt == 2:
                break
            self._start()
        self.stop()
        raise RuntimeError(f"the {self.name} example did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


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
