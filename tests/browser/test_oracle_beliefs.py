"""What the fuzz oracle (``fuzz/oracle.py``) believes fetches nothing, checked in Chromium.

The oracle counts every fetching attribute on every element (it may see more fetches than a
browser, never fewer) except where Chromium was seen to fetch nothing: those pages are here,
each loaded in a real Chromium whose requests off the page go to a stub that records them
(tests/browser/third_parties.py). ``INERT`` must fetch no tracker and the oracle must count
none; ``FETCHING`` are their controls, the nearest shapes that do fetch, which the oracle
must keep counting. A belief the browser stops sharing turns a test red.
"""

from __future__ import annotations

import pytest

from cookieguard.catalogue import load_catalogue
from fuzz import oracle
from tests.browser.third_parties import Visit
from tests.harness import eventually, settle

CATALOGUE = load_catalogue()
#: The page's own URL (one of the oracle's), answered by a route: no server needed.
PAGE = "http://site.example/dir/page"
PIXEL = "https://www.facebook.com/tr?id=1"
SHOWN = f"background:url({PIXEL})"


def blocked(host: str, path: str) -> bool:
    """Every catalogued vendor is refused (the oracle's view of an undecided visitor)."""
    return CATALOGUE.vendor_for_url(f"https://{host}{path}") is not None


def document(body: str) -> str:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"


def every_url_attribute(tag: str) -> str:
    """A start tag with every name the oracle reads as a URL, each its own tracker URL (the
    request says which one fetched)."""
    names = sorted(oracle.FETCHING | {"href", "xlink:href", "data"})
    return f"<{tag} " + " ".join(f'{name}="{PIXEL}&attr={name}"' for name in names) + ">"


#: Pages Chromium loads nothing from a tracker for, which the oracle once counted.
INERT: dict[str, str] = {
    "a plaintext's URL attributes (fuzz 2030/673709, 840904)": document(
        every_url_attribute("plaintext") + "x"
    ),
    "a style element's URL attributes (fuzz 9711/10015, 2030/2952)": document(
        every_url_attribute("style") + "p{}</style>"
    ),
    "a style element's style attribute (fuzz 2030/529439, 689713)": document(
        f'<style style="{SHOWN}">p{{}}</style>'
    ),
    "a script's style attribute": document(f'<script style="{SHOWN}"></script>'),
    # The run's pages as generated (their edit is the page itself).
    "fuzz 2030/673709": (
        "<!DOCTYPE html><head><meta charset=utf-8></head><option><annotation-xml encoding="
        "'APPLICATION/XHTML+XML'><table><mtext><tr><plaintext / sr=\t \"\x0cbackgroun==a=b=c>"
        '<IMG/alt="" Src="https:www.facebook.com/tr?id=1&ev=PageView"\r==dat=\n1>'
    ),
    "fuzz 2030/529439": (
        "<!DOCTYPE html><head><meta charset=utf-8></head></div></span><button><td><mi><style\n"
        "src=\n x=y== = x='y><div b/a ' / href=\n`x` "
        'style="background:url(https://www.google-analytics.com/collect?v=1)"></div></style>'
        "<br>"
    ),
}

#: The controls: pages next to those that do load from a tracker in Chromium.
FETCHING: dict[str, str] = {
    "an img's src": document(f"<img src={PIXEL}>"),
    "a plaintext's style attribute (it renders)": document(f'<plaintext style="{SHOWN}">x'),
    "a style element shown by its own style": document(
        f'<style style="display:block;{SHOWN}">p{{}}</style>'
    ),
    "a style element reset by all:unset": document(
        f'<style style="all:unset;{SHOWN}">p{{}}</style>'
    ),
    "a style element shown by a style sheet": document(
        f'<style>style{{display:block}}</style><style style="{SHOWN}">p{{}}</style>'
    ),
    "a noscript's style attribute (not hidden, scripting on)": document(
        f'<noscript style="{SHOWN}">x</noscript>'
    ),
    "a script shown by its own style": document(f'<script style="display:block;{SHOWN}"></script>'),
}


@pytest.mark.parametrize("name", list(INERT))
def test_what_the_oracle_counts_as_fetching_nothing_fetches_nothing(
    visit: Visit, name: str
) -> None:
    assert oracle.leaks(INERT[name].encode(), blocked) == []
    page, recorder = visit()
    page.route(PAGE, lambda route: route.fulfill(body=INERT[name], content_type="text/html"))
    page.goto(PAGE)
    settle(page)
    assert recorder.trackers == []


@pytest.mark.parametrize("name", list(FETCHING))
def test_what_the_oracle_counts_as_fetching_fetches(visit: Visit, name: str) -> None:
    assert oracle.leaks(FETCHING[name].encode(), blocked)
    page, recorder = visit()
    page.route(PAGE, lambda route: route.fulfill(body=FETCHING[name], content_type="text/html"))
    page.goto(PAGE)
    eventually(page, lambda: recorder.trackers, f"{name}: a request to a tracker host")
