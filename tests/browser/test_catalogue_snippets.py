"""Issue 20: AddThis, ShareThis and Intercom, pasted as their vendors publish them, ran before
consent in every wrapped app. In Chromium, behind uvicorn: the bare app's page reaches each
vendor (the control), the wrapped app's page reaches none for an undecided visitor, and
"Accept all" brings each snippet back to life in place. Every third-party request is routed
to a local stub that records its URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.snippet_site import serving, visits
from tests.catalogue.test_snippets import ADDTHIS, INTERCOM, SHARETHIS
from tests.harness import eventually

SNIPPETS = {"AddThis": ADDTHIS, "ShareThis": SHARETHIS, "Intercom": INTERCOM}


@pytest.fixture(scope="module")
def bare() -> Iterator[str]:
    with serving(SNIPPETS, guarded=False) as url:
        yield url


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with serving(SNIPPETS, guarded=True) as url:
        yield url


@pytest.fixture
def visit(browser: Browser) -> Iterator[Any]:
    with visits(browser) as visit:
        yield visit


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_reaches_its_vendor_without_cookieguard(
    visit: Any, bare: str, name: str
) -> None:
    page, recorder = visit(f"{bare}/{name}")
    assert eventually(page, recorder.vendors, f"a request to {name}") == {name}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_waits_for_consent_and_runs_after_accept_all(
    visit: Any, guarded: str, name: str
) -> None:
    page, recorder = visit(f"{guarded}/{name}")
    assert recorder.urls == []
    assert page.evaluate("window.__tracked") is None
    page.click("[data-cookieguard-action=accept_all]")
    page.wait_for_function("window.__tracked === true")
    assert recorder.vendors() == {name}
