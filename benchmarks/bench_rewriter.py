"""Micro-benchmark of the HTML rewriter (choose the tokenizer by measurement).

    python benchmarks/bench_rewriter.py [--rounds N]

Times, per 20 KB / 100 KB page, in microseconds (best of N rounds): the stdlib
``html.parser`` doing nothing but tokenising (the floor of any parser-based design), the
narrow scanner for each visitor, and the v0.1 ``</body>`` search for reference.

The headline of each visitor is the **cold** cost: every call gets a page it has not seen
(a per-request token in the middle, as a CSRF token makes every real page differ), so the
page memo never hits; what a tracker snippet's tags were judged to be stays remembered, as it
does on a site that serves the same snippet on every page. The memo hit (the same bytes
again) is a separate row, labelled so.
"""

from __future__ import annotations

import argparse
import html.parser
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cookieguard import Policy
from cookieguard.core._consent import UNDECIDED, Consent
from cookieguard.core._guard import Decision
from cookieguard.site._site import Site

HEAD = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
    b'<link rel="stylesheet" href="/static/site.css"><link rel="icon" href="/favicon.ico">'
    b'<script src="/static/app.js" defer></script>'
    b'<script>window.config = {"api": "/api", "items": [1, 2, 3]};</script></head><body>'
)
ITEM = (
    b'<article class="product"><h2>Product %d</h2><img src="/img/%d.jpg" alt="product %d">'
    b'<p>A fine thing, well made, cheap.</p><a href="/p/%d">details</a></article>\n'
)
TRACKERS = (
    b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
    b"<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}"
    b"gtag('js',new Date());gtag('config','G-1');</script>"
    b"<script>!function(f,b,e,v){f.fbq=f.fbq||function(){};var t=b.createElement(e);"
    b"t.src=v;b.head.appendChild(t)}(window,document,'script',"
    b"'https://connect.facebook.net/en_US/fbevents.js');</script>"
    b'<noscript><img height="1" width="1" src="https://www.facebook.com/tr?id=1&ev=PageView"></noscript>'
    b'<iframe width="560" height="315" src="https://www.youtube.com/embed/x"></iframe>'
)
TAIL = b'<script src="/static/late.js"></script></body></html>'


FORM = b'<form method="post" action="/cart"><input type="hidden" name="csrf" value="%020d"></form>'


def page(size: int, trackers: bool, token: int = 0) -> bytes:
    """A shop page of about ``size`` bytes; ``token`` (in a form in the middle) makes it
    differ from every page with another token, as a CSRF token does."""
    body = HEAD + (TRACKERS if trackers else b"")
    items: list[bytes] = []
    used = len(body) + len(FORM) + len(TAIL)
    i = 0
    while used < size:
        items.append(ITEM % (i, i, i, i))
        used += len(items[-1])
        i += 1
    half = len(items) // 2
    return b"".join((body, *items[:half], FORM % token, *items[half:], TAIL))


class Pages:
    """A new page for every call (the token counts up): no call is a page-memo hit."""

    def __init__(self, size: int, trackers: bool) -> None:
        self.pages = [page(size, trackers, token) for token in range(1, 2001)]
        self.next = 0

    def __call__(self) -> bytes:
        self.next = (self.next + 1) % len(self.pages)
        return self.pages[self.next]


class Same:
    """The same page for every call: each call after the first is a page-memo hit."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __call__(self) -> bytes:
        return self.body


def edit(injection: Any, body: Callable[[], bytes]) -> Callable[[], object]:
    """One whole-body edit of ``body()`` under ``injection`` (what the adapters do)."""
    return lambda: injection.injector().feed_last(body())


def best(fn: Callable[[], object], rounds: int, inner: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(inner):
            fn()
        times.append((time.process_time() - start) / inner)
    return min(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    policy = Policy(secret_keys=["x" * 32], receipts=None)
    site = Site(policy, receipts=None)
    decided_all = Decision(
        Consent(True, frozenset({"preferences", "analytics", "marketing"}), "id", 1, 0)
    )
    decided_some = Decision(Consent(True, frozenset({"preferences"}), "id", 1, 0))
    undecided = Decision(UNDECIDED)

    def plan(decision: Decision) -> object:
        return site.injection(
            decision,
            method="GET",
            status=200,
            content_type="text/html; charset=utf-8",
            content_encoding=None,
            path="/",
            query="",
            accept_language="en",
        )

    sys.path.insert(0, "/tmp")
    try:
        import old_inject  # type: ignore[import-not-found]
    except ImportError:
        old_inject = None
    print(f"{'case':90} {'µs':>9}")
    for size in (20 * 1024, 100 * 1024):
        for trackers in (False, True):
            body = page(size, trackers)
            label = f"{size // 1024} KB, {'5 trackers' if trackers else 'no tracker'}"

            def parse(body: bytes = body) -> None:
                p = html.parser.HTMLParser(convert_charrefs=False)
                p.feed(body.decode("utf-8"))
                p.close()

            rows: list[tuple[str, Callable[[], object]]] = [("html.parser, tokenise only", parse)]
            if old_inject is not None:
                rows.append(
                    (
                        "v0.1 </body> search",
                        lambda body=body: old_inject.BodyInjector(b"[X]").feed_last(body),
                    )
                )
            fresh = Pages(size, trackers)
            for name, decision in (
                ("decided, all granted", decided_all),
                ("decided, marketing+analytics refused", decided_some),
                ("undecided (banner)", undecided),
            ):
                injection = plan(decision)
                rows.append((name + ", cold (every page different)", edit(injection, fresh)))
                rows.append(
                    (name + ", page-memo hit (same bytes again)", edit(injection, Same(body)))
                )
            for name, fn in rows:
                inner = 20 if "parser" in name else 200
                print(f"{label + ': ' + name:90} {best(fn, args.rounds, inner):9.1f}")


if __name__ == "__main__":
    main()
