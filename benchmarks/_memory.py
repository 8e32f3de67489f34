"""Resident memory after many distinct visitors on HTML pages.

    python benchmarks/_memory.py [--requests 1000000]   # prints one JSON line

Runs in its own process so the RSS is not polluted by the other benchmarks. Requests go
through the full ``cookieguard.asgi.ConsentMiddleware`` (one event loop, batches of
requests per ``run_until_complete``) in front of a minimal pure ASGI app serving 20 KB HTML
pages, each a new bytes object per request (as a template renders it), so everything the
middleware keeps is exercised: seven visitors in eight are decided, each with a new validly
signed consent cookie (every one misses the decision and token caches and inserts into
them), some on the page with five trackers (the auto-blocker's memos); the rest are
undecided, each on a page of its own (``/p/N``: the banner, which names the page to come
back to, is rendered and cached per path). A quarter of all requests get a page that differs
from every other (a per-request token in the middle, like a CSRF token), an eighth of those
with the trackers: every one is new content to any cache keyed on the body, so a bound such
a cache lacks shows as RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _apps import HOST, PAGES, make_policy


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


_SIZE = PAGES["html"].size
#: Path -> the page served there (every other path: the plain 20 KB page).
_ROUTES = {
    "/trackers": PAGES["html_t"],
    "/unique": PAGES["html_u"],
    "/unique-trackers": PAGES["html_t_u"],
}
_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(_SIZE).encode()),
]


def route(number: int) -> tuple[str, bool]:
    """(path, undecided) of request ``number``: per 32 requests, 8 on a page that differs
    from every other (one with trackers), one more on the page with trackers, 4 undecided
    visitors on paths of their own, the rest decided on the plain page."""
    if number % 4 == 0:
        return ("/unique-trackers" if number % 32 == 0 else "/unique"), False
    if number % 8 == 3:
        return f"/p/{number}", True
    return ("/trackers" if number % 32 == 1 else "/"), False


MIX = (
    "Per 32 requests through the ASGI middleware: 8 on 20 KB pages that differ from every "
    "other (a per-request token in the middle; 1 of them with the five trackers), 1 on the "
    "page with trackers, 4 undecided visitors each on a path of their own (banner), 19 "
    "decided on the plain 20 KB page; every decided visitor has a consent cookie never seen "
    "before, every page is a new bytes object."
)


_TOKEN = re.compile(rb'name="csrf_token" value="(\d+)"')
#: The token of the page the app rendered last (to check the middleware sent that page).
_rendered: list[bytes] = [b""]


async def app(scope: Any, receive: Any, send: Any) -> None:
    body = _ROUTES.get(scope["path"], PAGES["html"]).render()
    _rendered[0] = body
    headers = list(_HEADERS)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _token(body: bytes) -> bytes:
    match = _TOKEN.search(body)
    return b"" if match is None else match.group(1)


def _caches(root: object, depth: int = 3) -> dict[str, Any]:
    """Every container kept by cookieguard objects reachable from ``root`` (attributes of
    attributes, ``depth`` deep): attribute path -> the object (a dict, a set, a bounded
    cache with ``limit`` and ``budget``...)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()

    def visit(obj: object, where: str, depth: int) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        names = list(getattr(obj, "__dict__", {})) + [
            name for cls in type(obj).__mro__ for name in getattr(cls, "__slots__", ())
        ]
        for name in names:
            value = getattr(obj, name, None)
            path = f"{where}.{name}"
            if hasattr(value, "budget") or isinstance(value, (dict, set, list)):
                found[path] = value
            elif type(value).__module__.startswith("cookieguard") and depth > 0:
                visit(value, path, depth - 1)

    visit(root, type(root).__name__, depth)
    return found


def _sizes(root: object) -> dict[str, int]:
    return {path: len(value) for path, value in _caches(root).items()}


def census(root: Any, grown: dict[str, int]) -> str:
    """What the middleware keeps, largest first: ``Site.cache_stats()`` (entries and estimated
    bytes of every memo, when the site has it; else every bounded cache found on the way) and
    any other container that grew since ``grown`` was taken (a growing plain dict or set is
    where an unbounded cache would hide)."""
    rows: list[tuple[int, str]] = []
    stats = getattr(getattr(root, "site", None), "cache_stats", None)
    if stats is not None:
        for name, (entries, size) in stats().items():
            if entries:
                rows.append((entries, f"{name} {entries:,} (~{size / 1048576:.1f} MB)"))
    for path, value in _caches(root).items():
        bounded = hasattr(value, "budget")
        if not value or (bounded and stats is not None):
            continue
        if not bounded and len(value) <= grown.get(path, 0):
            continue
        text = f"{path.split('.', 1)[-1]} {len(value):,}"
        if bounded:
            size, budget = getattr(value, "size", 0), value.budget
            text += f" (~{size / 1048576:.1f} of {budget / 1048576:.1f} MB)"
        rows.append((len(value), text))
    return ", ".join(text for _, text in sorted(rows, reverse=True)) or "none"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    args = parser.parse_args()

    from cookieguard import ConsentCodec
    from cookieguard.asgi import ConsentMiddleware

    policy = make_policy()
    middleware = ConsentMiddleware(app, policy=policy)
    codec = ConsentCodec(policy)  # a separate codec to sign, so its cache is not the one measured
    granted = {"analytics", "preferences"}
    rest = "; _ga=GA1.1.1234567890.1700000000; likebox=1; session=abc123"
    common = [(b"host", HOST.encode()), (b"accept", b"text/html")]

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[bytes] = [b""]

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            sent[0] = message["body"]

    async def batch(start: int, count: int) -> None:
        for number in range(start, start + count):
            path, undecided = route(number)
            if undecided:  # on a page of its own
                headers = [*common, (b"cookie", b"session=abc123")]
            else:
                # Distinct 22-character consent ids, cheap to make and never repeated.
                token = codec.dumps(granted, f"bench{number:017d}")
                headers = [*common, (b"cookie", f"cookie_consent={token}{rest}".encode())]
            scope: dict[str, Any] = {
                "type": "http",
                "method": "GET",
                "path": path,
                "query_string": b"",
                "headers": headers,
            }
            await middleware(scope, receive, send)
            consent = scope.get("cookieguard.consent")
            if consent is None or consent.decided == undecided:
                raise RuntimeError("consent cookie was not read as sent")
            if len(sent[0]) <= _SIZE:
                raise RuntimeError("the page was not edited (no asset tags)")
            if _token(sent[0]) != _token(_rendered[0]):
                raise RuntimeError("the middleware sent another page than the app rendered")

    loop = asyncio.new_event_loop()
    loop.run_until_complete(batch(0, args.warmup))
    warm = _sizes(middleware)
    gc.collect()
    before = rss_mb()
    samples: list[tuple[int, float]] = []
    chunk = max(1, args.requests // 10)
    done = 0
    started = time.perf_counter()
    while done < args.requests:
        count = min(chunk, args.requests - done)
        loop.run_until_complete(batch(args.warmup + done, count))
        done += count
        samples.append((done, round(rss_mb() - before, 2)))
    elapsed = time.perf_counter() - started
    loop.close()
    gc.collect()
    after = rss_mb()
    print(
        json.dumps(
            {
                "requests": args.requests,
                "path": "asgi ConsentMiddleware (full stack, 20 KB HTML pages)",
                "mix": MIX,
                "rss_before_mb": round(before, 1),
                "rss_after_mb": round(after, 1),
                "growth_mb": round(after - before, 2),
                "samples": samples,
                "seconds": round(elapsed, 1),
                "caches": census(middleware, grown=warm),
            }
        )
    )


if __name__ == "__main__":
    main()
