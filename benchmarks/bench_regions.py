"""What reading the visitor's region costs on the decided HTML path (issue 21).

    python benchmarks/bench_regions.py [--rounds N]

A decided visitor's request for a 20 KB page, through the ASGI and the WSGI middleware, with
``region_header=None`` (no geo) and ``region_header="cloudflare"`` (the request carries
``CF-IPCountry`` and ``CF-Region-Code`` among a browser's usual headers). Rounds alternate
between the two so a busy machine disturbs both alike; the best round of each is reported
(CPU time of this thread, microseconds per request), and the region lookup alone.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cookieguard import ConsentCodec, Policy  # noqa: E402
from cookieguard.asgi import ConsentMiddleware as Asgi  # noqa: E402
from cookieguard.wsgi import ConsentMiddleware as Wsgi  # noqa: E402

SECRET = "bench-regions-secret-0123456789"
PAGE = b"<!doctype html><html><head><title>t</title></head><body>" + b"<p>photo</p>" * 1700
PAGE += b"</body></html>"
HEADERS = [
    ("host", "shop.example.com"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-US,en;q=0.7"),
    ("accept-encoding", "gzip, deflate, br"),
    ("cf-ipcountry", "US"),
    ("cf-region-code", "CA"),
    ("sec-fetch-site", "none"),
    ("sec-fetch-mode", "navigate"),
    ("upgrade-insecure-requests", "1"),
]
START = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", b"%d" % len(PAGE))]


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(START)})
    await send({"type": "http.response.body", "body": PAGE})


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [(k.decode(), v.decode()) for k, v in START])
    return [PAGE]


def policy(region_header: str | None) -> Policy:
    return Policy(
        secret_keys=[SECRET],
        cookies={"_ga": "analytics"},
        receipts=None,
        region_header=region_header,
    )


def asgi_case(region_header: str | None, inner: int) -> Any:
    p = policy(region_header)
    cookie = f"cookie_consent={ConsentCodec(p).dumps({'analytics'}, 'c' * 22)}; _ga=1"
    headers = [(k.encode(), v.encode()) for k, v in [*HEADERS, ("cookie", cookie)]]
    middleware = Asgi(asgi_app, policy=p)
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "scheme": "https"}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    async def batch() -> None:
        for _ in range(inner):
            await middleware({**scope, "headers": list(headers)}, receive, send)

    return lambda: asyncio.run(batch())


def wsgi_case(region_header: str | None, inner: int) -> Any:
    p = policy(region_header)
    cookie = f"cookie_consent={ConsentCodec(p).dumps({'analytics'}, 'c' * 22)}; _ga=1"
    environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in HEADERS}
    environ.update(
        {"HTTP_COOKIE": cookie, "REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
    )
    environ["wsgi.url_scheme"] = "https"
    middleware = Wsgi(wsgi_app, p)

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    def batch() -> None:
        for _ in range(inner):
            b"".join(middleware(dict(environ), start_response))

    return batch


def best_of(cases: dict[str, Any], rounds: int, inner: int) -> dict[str, float]:
    best = dict.fromkeys(cases, float("inf"))
    for run in cases.values():
        run()  # warm the memos
    for _ in range(rounds):
        for name, run in cases.items():
            start = time.thread_time_ns()
            run()
            best[name] = min(best[name], (time.thread_time_ns() - start) / inner / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    inner = 2000
    for api, make in (("ASGI", asgi_case), ("WSGI", wsgi_case)):
        cases = {"no geo": make(None, inner), "cloudflare": make("cloudflare", inner)}
        best = best_of(cases, args.rounds, inner)
        cost = best["cloudflare"] - best["no geo"]
        print(
            f"{api}: decided visitor, 20 KB page: no geo {best['no geo']:.2f} us,"
            f" region read {best['cloudflare']:.2f} us ({cost:+.2f} us)"
        )
    lookup = policy("cloudflare").region_lookup
    pairs = [(k.encode(), v.encode()) for k, v in HEADERS]
    lookup.from_pairs(pairs)
    n = 200_000
    start = time.thread_time_ns()
    for _ in range(n):
        lookup.from_pairs(pairs)
    print(
        f"region lookup alone ({len(pairs)} headers): {(time.thread_time_ns() - start) / n:.0f} ns"
    )


if __name__ == "__main__":
    main()
