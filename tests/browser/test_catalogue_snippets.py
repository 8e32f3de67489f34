"""Issue 20: AddThis, ShareThis and Intercom, pasted as their vendors publish them, ran before
consent in every wrapped app. In Chromium, behind uvicorn: the bare app's page reaches each
vendor (the control), the wrapped app's page reaches none for an undecided visitor, and
"Accept all" brings each snippet back to life in place. Every third-party request is routed
to a local stub that records its URL.
"""

from __future__ import annotations

import pytest

from tests.browser.third_parties import Visit
from tests.catalogue.test_snippets import ADDTHIS, INTERCOM, SHARETHIS
from tests.harness import eventually

SNIPPETS = {"AddThis": ADDTHIS, "ShareThis": SHARETHIS, "Intercom": INTERCOM}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_reaches_its_vendor_without_cookieguard(
    visit: Visit, bare_snippets: str, name: str
) -> None:
    page, recorder = visit(f"{bare_snippets}/{name}")
    assert eventually(page, recorder.vendors, f"a request to {name}") == {name}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_the_snippet_waits_for_consent_and_runs_after_accept_all(
    visit: Visit, guarded_snippets: str, name: str
) -> None:
    page, recorder = visit(f"{guarded_snippets}/{name}")
    assert recorder.urls == []
    assert page.evaluate("window.__tracked") is None
    page.click("[data-cookieguard-action=accept_all]")
    page.wait_for_function("window.__tracked === true")
    assert recorder.vendors() == {name}
