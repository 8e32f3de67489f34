"""cookieguard driven alone: the middleware around a bare ASGI and WSGI callable, no framework.

    python benchmarks/bench_alone.py [--requests 20000]

``make bench`` measures cookieguard inside Starlette and Flask, as sites run it. This script
takes the framework away: the app is a few lines that send a fresh bytes page per request, so
what is left is the middleware's own cost (µs added per request, best of 7 batches, this
thread's CPU time). The decided visitor is the one ``make bench`` uses (marketing refused, so
auto-blocking looks at every page); the page is the same 20 KB page, served identically.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _apps import GRANTED, consent_token, make_policy, page

from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware

RESPONSES = {
    "small text": (b"Hello, world!", "text/plain"),
    "HTML hello": (b"<p>Hello, World!</p>", "text/html; charset=utf-8"),
    "20 KB HTML": (page(20 * 1024, trackers=False), "text/html"),
}


def asgi_app(body: bytes, content_type: str) -> Any:
    parts = bytearray(body)
    kind = content_type.encode()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        fresh = bytes(parts)  # a new object per request, as a template renders one
        headers = [(b"content-length", str(len(fresh)).encode()), (b"content-type", kind)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": fresh})

    return app


def wsgi_app(body: bytes, content_type: str) -> Any:
    parts = bytearray(body)

    def app(environ: Any, start_response: Any) -> list[bytes]:
        fresh = bytes(parts)
        headers = [("Content-Type", content_type), ("Content-Length", str(len(fresh)))]
        start_response("200 OK", headers)
        return [fresh]

    return app


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    pass


async def asgi_time(app: Any, scope: dict[str, Any], n: int) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.thread_time_ns()
        for _ in range(n):
            await app(dict(scope), _receive, _send)
        best = min(best, (time.thread_time_ns() - start) / n / 1000)
    return best


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


def wsgi_time(app: Any, environ: dict[str, Any], n: int) -> float:
    best = float("inf")
    for _ in range(7):
        start = time.thread_time_ns()
        for _ in range(n):
            result = app(dict(environ), _start_response)
            for _chunk in result:
                pass
            close = getattr(result, "close", None)
            if close is not None:
                close()
        best = min(best, (time.thread_time_ns() - start) / n / 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="per batch")
    n = parser.parse_args().requests
    policy = make_policy()
    cookie = "cookie_consent=" + consent_token(policy, granted=GRANTED)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "scheme": "http",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"accept", b"text/html"),
            (b"accept-language", b"en"),
            (b"cookie", cookie.encode()),
        ],
    }
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_ACCEPT_LANGUAGE": "en",
        "HTTP_COOKIE": cookie,
        "wsgi.url_scheme": "http",
    }
    print(
        f"{'response':12s} {'ASGI bare':>10s} {'+ cookieguard':>14s} {'WSGI bare':>10s} "
        f"{'+ cookieguard':>14s}   (µs per request)"
    )
    for label, (body, content_type) in RESPONSES.items():
        bare = asgi_app(body, content_type)
        asgi_bare = asyncio.run(asgi_time(bare, scope, n))
        asgi_cg = asyncio.run(asgi_time(AsgiMiddleware(bare, policy=policy), scope, n))
        plain = wsgi_app(body, content_type)
        wsgi_bare = wsgi_time(plain, environ, n)
        wsgi_cg = wsgi_time(WsgiMiddleware(plain, policy), environ, n)
        print(
            f"{label:12s} {asgi_bare:10.2f} {asgi_cg - asgi_bare:+14.2f} "
            f"{wsgi_bare:10.2f} {wsgi_cg - wsgi_bare:+14.2f}"
        )


if __name__ == "__main__":
    main()
