"""Resident memory after many requests, each with a distinct, validly signed consent cookie.

    python benchmarks/_memory.py [--requests 1000000]   # prints one JSON line

Runs in its own process so the RSS is not polluted by the other benchmarks. Requests go
through the full ``cookieguard.asgi.ConsentMiddleware`` (one event loop, batches of
requests per ``run_until_complete``) in front of a minimal pure ASGI app, so everything the
middleware keeps (decision cache, verified-token cache, name caches) is exercised; every token
is new, so every request misses both caches and inserts into them.
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

from _apps import HOST, make_policy


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


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

    async def send(message: Any) -> None:
        pass

    async def batch(start: int, count: int) -> None:
        for number in range(start, start + count):
            # Distinct 22-character consent ids, cheap to make and never repeated.
            token = codec.dumps(granted, f"bench{number:017d}")
            headers = [*common, (b"cookie", f"cookie_consent={token}{rest}".encode())]
            scope: dict[str, Any] = {
                "type": "http",
                "method": "GET",
                "path": "/",
                "headers": headers,
            }
            await middleware(scope, receive, send)
            consent = scope.get("cookieguard.consent")
            if consent is None or not consent.decided:
                raise RuntimeError("consent cookie was not accepted")

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
                "path": "asgi ConsentMiddleware (full stack, minimal app)",
                "rss_before_mb": round(before, 1),
                "rss_after_mb": round(after, 1),
                "growth_mb": round(after - before, 2),
                "samples": samples,
                "seconds": round(elapsed, 1),
                "decision_cache": len(getattr(guard, "_decisions", ())),
                "token_cache": len(getattr(guard.codec, "_cache", ())),
            }
        )
    )


if __name__ == "__main__":
    main()
