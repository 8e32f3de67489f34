"""Issue 19: vendors' snippets that assemble their loader's URL at run time, in Chromium.

Eight published snippets never write their loader as ``//host/...``: ``'http' + ('https:' ===
location.protocol ? 's://s' : '://') + 'cdn.cxense.com/cx.js'`` (Cxense), ``'https://' + l``
with ``l = 'edge.fullstory.com/s/fs.js'`` (FullStory), ``'https://secure' ... +
'.quantserve.com/quant.js'`` (Quantcast), ``y.src = '//' + a`` (Olark), ``'https://' +
w.adthrive.host`` (Raptive), ``'https://pi' ... + '.pardot.com/pd.js'`` (Salesforce Account
Engagement), the host as the path of another (SnapEngage), New Relic's inline configuration.
They ran before consent through the gate. Behind uvicorn, every third-party request routed to a
local stub that records it: the bare app's page reaches each vendor (the control); the wrapped
app's page reaches none for an undecided visitor; after "Accept all" every gated script of the
snippet is back, and the loader reaches its vendor.
"""

from __future__ import annotations

import pytest

from tests.browser.third_parties import Visit
from tests.catalogue.test_snippets import SNIPPETS as PUBLISHED
from tests.harness import eventually

ASSEMBLED = [
    "Cxense",
    "FullStory",
    "New Relic Browser",
    "Olark",
    "Quantcast",
    "Raptive",
    "Salesforce Account Engagement",
    "SnapEngage",
]
#: Its loader waits for the window's "load" event, which has fired when consent comes: after
#: "Accept all" the script is back but loads nothing until the next page.
ON_LOAD = {"Salesforce Account Engagement"}
SNIPPETS = {name: PUBLISHED[name] for name in ASSEMBLED}  # what the snippet app serves


@pytest.mark.parametrize("name", ASSEMBLED)
def test_the_snippet_reaches_its_vendor_without_cookieguard(
    visit: Visit, bare_snippets: str, name: str
) -> None:
    page, recorder = visit()  # (not settled: the request is waited for)
    page.goto(f"{bare_snippets}/{name}")
    assert name in eventually(page, recorder.vendors, f"a request to {name}")


@pytest.mark.parametrize("name", ASSEMBLED)
def test_the_snippet_waits_for_consent_and_is_back_after_accept_all(
    visit: Visit, guarded_snippets: str, name: str
) -> None:
    page, recorder = visit(f"{guarded_snippets}/{name}")
    assert recorder.urls == []
    assert page.evaluate("window.__tracked") is None
    gated = page.locator('script[type="text/plain"][data-cookieguard]')
    assert gated.count() >= 1
    page.click("[data-cookieguard-action=accept_all]")
    page.wait_for_function(
        "document.querySelectorAll('script[type=\"text/plain\"][data-cookieguard]').length === 0"
    )
    if name not in ON_LOAD:
        assert name in eventually(page, recorder.vendors, f"a request to {name}")
