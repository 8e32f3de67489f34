"""Third parties answered locally and recorded: a Chromium visit whose every request off
127.0.0.1 is routed to a stub, so no request leaves the machine and a test can say which
trackers a page reached (test_evasion, test_host_spellings, test_trackers, test_script_types,
and the vendors' snippets of snippet_site).

``Recorder`` is the route handler; ``visits(browser)`` opens contexts that use one and closes
them all at the end (the ``visit`` fixture of tests/browser/conftest.py is one)::

    with visits(browser) as visit:
        page, recorder = visit(url)       # loaded and settled
        assert recorder.trackers == []
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Route

from cookieguard.catalogue import load_catalogue
from tests.harness import settle

CATALOGUE = load_catalogue()
#: Hosts counted as trackers whatever the path: the catalogue names www.google.de for Google
#: Maps embeds only, and its other paths (pagead) are Google Ads.
UNLISTED = frozenset({"www.google.de"})

#: What a stub script does when it runs: a test asks the page whether any tracker ran.
TRACKED = "window.__tracked = true;"
#: A 1x1 transparent GIF, for what loads as an image (pixels).
GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
#: What a frame (or anything else but a script or an image) gets.
STUB_PAGE = "<!doctype html><title>stub</title>"


class Recorder:
    """Routes every request off 127.0.0.1 to a stub and remembers its URL.

    The answer follows the request's resource type: a script gets ``script`` (a text, or a
    function of the host that gives it: a stub per vendor), an image a GIF, anything else a
    small HTML page.
    """

    def __init__(self, *, script: str | Callable[[str], str] = TRACKED) -> None:
        self.urls: list[str] = []
        self.script = script

    def __call__(self, route: Route) -> None:
        request = route.request
        host = urlsplit(request.url).hostname or ""
        if host == "127.0.0.1":
            route.continue_()
            return
        self.urls.append(request.url)
        kind = request.resource_type
        if kind == "script":
            body = self.script if isinstance(self.script, str) else self.script(host)
            route.fulfill(body=body, content_type="text/javascript")
        elif kind == "image":
            route.fulfill(body=GIF, content_type="image/gif")
        else:
            route.fulfill(body=STUB_PAGE, content_type="text/html")

    @property
    def hosts(self) -> list[str]:
        """The hosts of the recorded URLs, in order, repeated as requested."""
        return [urlsplit(url).hostname or "" for url in self.urls]

    @property
    def trackers(self) -> list[str]:
        """The recorded URLs that load from a catalogued vendor (or an ``UNLISTED`` host)."""
        return [
            url
            for url in self.urls
            if CATALOGUE.vendor_for_url(url) is not None or urlsplit(url).hostname in UNLISTED
        ]

    def vendors(self) -> set[str]:
        """The vendors the recorded URLs name (SnapEngage's loader is on a shared host, under
        a path that names its own)."""
        return {v.name for url in self.urls for v in CATALOGUE.vendors_in_text(url)}


class Visit(Protocol):
    """``visit(url, **context_options)``: a page in a new context, and its recorder."""

    def __call__(self, url: str | None = None, /, **options: Any) -> tuple[Page, Recorder]: ...


@contextmanager
def visits(
    browser: Browser,
    *,
    pause: float = 0.3,
    script: str | Callable[[str], str] = TRACKED,
    **context_options: Any,
) -> Iterator[Visit]:
    """``visit(url)``: a new context (``context_options``, then the visit's own) whose
    requests off 127.0.0.1 a new :class:`Recorder` answers (with ``script`` for scripts), the
    page loaded and settled (``settle(page, pause)``: loaders that wait for "load", and time
    for a leak to show before a test says nothing arrived; what must arrive is waited for with
    ``eventually``). ``visit()`` without a URL gives the page before it goes anywhere (the test
    navigates, and settles where it asserts). Every context is closed on the way out.
    """
    contexts: list[BrowserContext] = []

    def visit(url: str | None = None, /, **options: Any) -> tuple[Page, Recorder]:
        context = browser.new_context(**{**context_options, **options})
        contexts.append(context)
        recorder = Recorder(script=script)
        context.route("**/*", recorder)
        page = context.new_page()
        if url is not None:
            page.goto(url)
            settle(page, pause)
        return page, recorder

    try:
        yield visit
    finally:
        for context in contexts:
            context.close()
