"""What an undecided visitor's first page costs: the three numbers of issue 24 part 5.

1. Assets downloaded before a choice: ``banner.js`` + ``banner.css``, gzip (budget 4 KB).
   ``banner-more.js``/``banner-more.css`` (choices, scripts put back, embeds, the dialog)
   are loaded when first needed, and ``consent-mode.js`` only by Consent Mode sites: listed,
   not in the budget.
2. Requests to ``{prefix}/consent`` per page view: 0 when the page's script tag carries the
   state it was rendered for (``data-cookieguard-granted``), which banner.js then reads
   instead of asking (checked here on a page served through the ASGI middleware; Chromium
   checks the wire in tests/browser/test_layouts.py).
3. HTML added to an undecided visitor's page: the banner and the asset tags, raw bytes, on a
   page through the middleware, with a policy naming five vendors (Google Analytics, Meta
   Pixel, Hotjar, YouTube, Google Maps) and the default categories (budget 2 KB).

Exits 1 when a number is over its budget, so CI catches growth. The files ship readable,
unminified (comments included).
Usage: python scripts/size_report.py [--budget BYTES] [--html-budget BYTES]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import sys
from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parents[1] / "static"
FILES = ("banner.js", "banner.css")
LATER = ("banner-more.js", "banner-more.css")
OPTIONAL = ("consent-mode.js",)
BUDGET = 4096
HTML_BUDGET = 2048
VENDORS = ("Google Analytics", "Meta Pixel", "Hotjar", "YouTube", "Google Maps")
PAGE = (
    b"<!doctype html><html lang='en'><head><title>Article</title></head><body>"
    + (b"<p>" + b"Lorem ipsum dolor sit amet. " * 40 + b"</p>") * 16
    + b"</body></html>"
)


def measure(folder: Path = STATIC, names: Sequence[str] = FILES) -> list[tuple[str, int, int]]:
    """``(name, raw bytes, gzip bytes)`` per file; gzip at level 9, as servers precompress."""
    sizes = []
    for name in names:
        data = (folder / name).read_bytes()
        sizes.append((name, len(data), len(gzip.compress(data, compresslevel=9, mtime=0))))
    return sizes


def served(cookie: str = "") -> bytes:
    """:data:`PAGE` as an undecided visitor gets it through the ASGI middleware."""
    from cookieguard import Policy
    from cookieguard.asgi import ConsentMiddleware

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    policy = Policy(
        secret_keys=["size-report-secret-key-0123456789"],
        cookies={"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"},
        trackers=[{"name": name} for name in VENDORS],
    )
    middleware = ConsentMiddleware(app, policy=policy)
    body = bytearray()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/article",
        "raw_path": b"/article",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com"), (b"accept-language", b"en")],
        "client": ("127.0.0.1", 1),
        "server": ("example.com", 80),
    }
    asyncio.run(middleware(scope, receive, send))
    return bytes(body)


def page_numbers() -> tuple[int, int]:
    """``(HTML bytes added to an undecided visitor's page, /consent requests per view)``."""
    page = served()
    script = re.search(rb"<script[^>]*/banner\.js[^>]*>", page)
    requests = 0 if script is not None and b"data-cookieguard-granted=" in script.group() else 1
    return len(page) - len(PAGE), requests


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=BUDGET, help="first-paint gzip bytes")
    parser.add_argument("--html-budget", type=int, default=HTML_BUDGET, help="added HTML bytes")
    args = parser.parse_args(argv)
    sizes = measure()
    total_raw = sum(raw for _, raw, _ in sizes)
    total_gz = sum(gz for _, _, gz in sizes)
    print(f"{'file':<18}{'raw':>8}{'gzip':>8}")
    for name, raw, gz in sizes:
        print(f"{name:<18}{raw:>8}{gz:>8}")
    print(f"{'first paint':<18}{total_raw:>8}{total_gz:>8}  (budget {args.budget} gzip)")
    for name, raw, gz in measure(names=LATER):
        print(f"{name:<18}{raw:>8}{gz:>8}  (when first needed)")
    for name, raw, gz in measure(names=OPTIONAL):
        print(f"{name:<18}{raw:>8}{gz:>8}  (Google Consent Mode sites only)")
    added, requests = page_numbers()
    print(f"consent requests per page view: {requests}  (budget 0)")
    print(f"HTML added, undecided visitor: {added} bytes  (budget {args.html_budget})")
    over = []
    if total_gz > args.budget:
        over.append(f"first paint over budget by {total_gz - args.budget} bytes")
    if requests:
        over.append("banner.js asks {prefix}/consent on every page view")
    if added > args.html_budget:
        over.append(f"added HTML over budget by {added - args.html_budget} bytes")
    for line in over:
        print(line, file=sys.stderr)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
