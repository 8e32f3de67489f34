"""Protocol details each adapter must keep (PEP 3333, ASGI 3)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import PAGE, WsgiDriver, asgi_app, make_policy, run

# -- ASGI ----------------------------------------------------------------------------------


def test_lifespan_passes_through() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    run(middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_websocket_handshake_cookies_filtered() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    token = ConsentCodec(make_policy()).dumps({"preferences"}, "w" * 22)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    cookie = f"cookie_consent={token}; likebox=1; _ga=2".encode()
    scope = {
        "type": "websocket",
        "path": "/ws",
        "headers": [(b"cookie", cookie), (b"host", b"shop.example.com")],
        "scheme": "ws",
    }
    run(middleware(scope, receive, send))
    text = next(m["text"] for m in sent if m["type"] == "websocket.send")
    assert "likebox=1" in text and "_ga" not in text
    assert scope["cookieguard.consent"].allows("preferences")


def test_asgi_split_cookie_headers_are_joined() -> None:
    """HTTP/2 clients may send Cookie as several fields."""
    seen: list[bytes] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.extend(v for k, v in scope["headers"] if k == b"cookie")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    token = ConsentCodec(make_policy()).dumps({"analytics"}, "h" * 22)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [(b"cookie", f"cookie_consent={token}".encode()), (b"cookie", b"_ga=1; _fbp=2")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        pass

    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    assert seen == [f"cookie_consent={token}; _ga=1".encode()]


def test_asgi_large_buffered_body_falls_back_to_passthrough() -> None:
    from cookieguard import _inject

    big = b"<html><body>" + b"x" * (_inject.BUFFER_LIMIT + 10) + b"</body></html>"

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(big)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = len(big) // 2
        await send({"type": "http.response.body", "body": big[:half], "more_body": True})
        await send({"type": "http.response.body", "body": big[half:], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    from tests.harness import AsgiDriver

    response = AsgiDriver(AsgiMiddleware(app, policy=make_policy())).get("/")
    assert response.body == big
    assert response.header("content-length") == str(len(big))


def test_asgi_client_disconnect_during_body_read() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_cookieguard/consent",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    run(middleware(scope, receive, send))
    assert sent == []


def test_asgi_body_over_limit_without_length() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy(max_body=1024))
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": b"a" * 600, "more_body": True}] * 3

    async def receive() -> dict[str, Any]:
        return chunks.pop()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_cookieguard/consent",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    run(middleware(scope, receive, send))
    assert sent[0]["status"] == 413


# -- WSGI ----------------------------------------------------------------------------------


class ClosingBody:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("path", ["/text", "/html"])
def test_wsgi_close_is_called(path: str) -> None:
    bodies: list[ClosingBody] = []

    def app(environ: dict[str, Any], start_response: Any) -> ClosingBody:
        html = environ["PATH_INFO"] == "/html"
        kind = "text/html" if html else "text/plain"
        start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(PAGE)))])
        bodies.append(ClosingBody([PAGE]))
        return bodies[-1]

    response = WsgiDriver(WsgiMiddleware(app, make_policy())).get(path)
    assert bodies[0].closed
    assert response.status == 200


def test_wsgi_returns_the_apps_own_iterable_when_untouched() -> None:
    body = ClosingBody([b"x"])

    def app(environ: dict[str, Any], start_response: Any) -> ClosingBody:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    middleware = WsgiMiddleware(app, make_policy())
    environ = {"PATH_INFO": "/", "REQUEST_METHOD": "GET", "wsgi.url_scheme": "http"}
    assert middleware(environ, lambda *a: None) is body


def test_wsgi_generator_app_that_starts_late() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        yield PAGE[:20]
        yield PAGE[20:]

    response = WsgiDriver(WsgiMiddleware(app, make_policy())).get("/")
    assert b'id="cookie-consent"' in response.body


def test_wsgi_write_callable_and_exc_info_are_forwarded() -> None:
    calls: list[tuple[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            raise ValueError("late failure")
        except ValueError:
            write = start_response("500 Error", [("Content-Type", "text/plain")], sys.exc_info())
        write(b"written")
        return []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        calls.append((status, exc_info))
        return lambda data: calls.append(("write", data))

    environ = {
        "PATH_INFO": "/",
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
    }
    list(WsgiMiddleware(app, make_policy())(environ, start_response))
    assert calls[0][0] == "500 Error" and calls[0][1][0] is ValueError
    assert calls[1] == ("write", b"written")


def test_wsgi_write_with_held_html_headers() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(PAGE)))]
        )
        write(PAGE)
        return []

    out: list[bytes] = []
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return out.append

    environ = {"PATH_INFO": "/", "REQUEST_METHOD": "GET", "wsgi.url_scheme": "http"}
    body = WsgiMiddleware(app, make_policy())(environ, start_response)
    rest = list(body)
    assert statuses == ["200 OK"]
    assert b"".join(out) + b"".join(rest) == PAGE


def test_wsgi_post_without_content_length_over_limit() -> None:
    driver = WsgiDriver(WsgiMiddleware(lambda e, s: [], make_policy(max_body=1024)))
    response = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=[("Content-Type", "application/x-www-form-urlencoded")],
        body=b"a" * 5000,
    )
    assert response.status == 413


def test_wsgi_clears_cookie_header_when_all_refused() -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_COOKIE"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    WsgiDriver(WsgiMiddleware(app, make_policy())).get("/", cookie="_ga=1")
    assert seen == [None]


def test_bad_policy_type() -> None:
    with pytest.raises(TypeError, match=r"cookieguard\.Policy"):
        WsgiMiddleware(lambda e, s: [], {"secret_keys": ["x"]})  # type: ignore[arg-type]
