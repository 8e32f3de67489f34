"""Micro-benchmark of the HTML rewriter (choose the tokenizer by measurement).

    python benchmarks/bench_rewriter.py [--rounds N]

Times, per 20 KB / 100 KB page, in microseconds (best of N rounds): the stdlib
``html.parser`` doing nothing but tokenising (the floor of any parser-based design), the
narrow scanner in each mode, and the v0.1 ``</body>`` search for reference.
"""

from __future__ import annotations

import argparse
import html.parser
import sys
import time
from collections.abc import Callable
from pathlib import Path

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


def page(size: int, trackers: bool) -> bytes:
    body = HEAD + (TRACKERS if trackers else b"")
    i = 0
    while len(body) + len(TAIL) < size:
        body += ITEM % (i, i, i, i)
        i += 1
    return (body + TAIL)[: max(size, len(body + TAIL))]


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
    print(f"{'case':44} {'µs':>9}")
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
            for name, decision in (
                ("decided, all granted", decided_all),
                ("decided, marketing+analytics refused", decided_some),
                ("undecided (banner)", undecided),
            ):
                injection = plan(decision)
                rows.append(
                    (
                        name,
                        lambda injection=injection, body=body: injection.injector().feed_last(body),  # type: ignore[attr-defined]
                    )
                )
            for name, fn in rows:
                inner = 20 if "parser" in name else 200
                print(f"{label + ': ' + name:60} {best(fn, args.rounds, inner):9.1f}")


if __name__ == "__main__":
    main()
