"""Resident memory after many distinct visitors on HTML pages.

    python benchmarks/_memory.py [--requests 1000000]   # prints one JSON line

Runs in its own process so the RSS is not polluted by the other benchmarks. Requests go
through the full ``cookieguard.asgi.ConsentMiddleware`` (one event loop, batches of
requests per ``run_until_complete``) in front of a minimal pure ASGI app serving the 20 KB
HTML page, so everything the middleware keeps is exercised: seven visitors in eight are
decided, each with a new validly signed consent cookie (every one misses the decision and
token caches and inserts into them), some on the page with five trackers (the auto-blocker's
memos); the rest are undecided, each on a page of its own (``/p/N``: the banner, which names
the page to come back to, is rendered and cached per path).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
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


_PAGE = PAGES["html"]
_TRACKERS = PAGES["html_t"]
_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", str(len(_PAGE)).encode()),
]


async def app(scope: Any, receive: Any, send: Any) -> None:
    body = _TRACKERS if scope["path"] == "/trackers" else _PAGE
    headers = list(_HEADERS)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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

    sent: list[int] = [0]

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            sent[0] = len(message["body"])

    async def batch(start: int, count: int) -> None:
        for number in range(start, start + count):
            path = "/trackers" if number % 32 == 1 else "/"
            undecided = number % 8 == 3
            if undecided:  # on a page of its own
                path = f"/p/{number}"
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
            if sent[0] <= len(_PAGE):
                raise RuntimeError("the page was not edited (no asset tags)")

    loop = asyncio.new_event_loop()
    loop.run_until_complete(batch(0, args.warmup))
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
    guard = middleware.site.guard
    print(
        json.dumps(
            {
                "requests": args.requests,
                "path": "asgi ConsentMiddleware (full stack, 20 KB HTML pages)",
                "rss_before_mb": round(before, 1),
                "rss_after_mb": round(after, 1),
                "growth_mb": round(after - before, 2),
                "samples": samples,
                "seconds": round(elapsed, 1),
                "decision_cache": len(getattr(guard, "_decisions", ())),
                "token_cache": len(getattr(guard.codec, "_cache", ())),
                "banner_cache": len(getattr(middleware.site, "_banner_bytes", ())),
            }
        )
    )


if __name__ == "__main__":
    main()
