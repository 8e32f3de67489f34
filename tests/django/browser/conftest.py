"""The Django example under uvicorn, with an admin user, for Chromium.

A package of its own: Playwright stops when it is done, so the other Django tests may call
``asyncio.run()`` afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.django.conftest import ADMIN_PASSWORD
from tests.e2e.conftest import ExampleServer

# Playwright stops when this package is done, so later asyncio.run() calls work.
from tests.playwright_scope import (  # noqa: F401 - fixtures
    browser,
    browser_context_args,
    browser_type,
    playwright,
)


@pytest.fixture(scope="package")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    """``python examples/django_app/app.py`` (uvicorn), its admin user ``admin``."""
    os.environ["LUMEN_ADMIN_PASSWORD"] = ADMIN_PASSWORD  # ExampleServer copies os.environ
    try:
        server = ExampleServer("django", tmp_path_factory.mktemp("django-browser"))
    finally:
        del os.environ["LUMEN_ADMIN_PASSWORD"]
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def base_url(example: ExampleServer) -> str:
    return example.url
