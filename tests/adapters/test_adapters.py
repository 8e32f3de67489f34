"""Protocol details each adapter must keep (PEP 3333, ASGI 3)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import PAGE, AsgiDriver, WsgiDriver, asgi_app, make_policy, run

# -- ASGI ----------------------------------------------------------------------------------


def test_lifespan_passes_through() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    run(middleware({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_websocket_handshake_cookies_filtered() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    token = ConsentCodec(make_policy()).dumps({"preferences"}, "w" * 22)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    cookie = f"cookie_consent={token}; likebox=1; _ga=2".encode()
    scope: dict[str, Any] = {
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

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
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

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    assert seen == [f"cookie_consent={token}; _ga=1".encode()]


def test_asgi_large_buffered_body_is_still_edited_and_streams_without_a_length() -> None:
    from cookieguard.html import _inject

    big = b"<html><body>" + b"x" * (_inject.BUFFER_LIMIT + 10) + b"</body></html>"

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(big)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = len(big) // 2
        await send({"type": "http.response.body", "body": big[:half], "more_body": True})
        await send({"type": "http.response.body", "body": big[half:], "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    from tests.harness import AsgiDriver

    response = AsgiDriver(AsgiMiddleware(app, policy=make_policy())).get("/")
    # Past the buffer the length can no longer be corrected, but the page is still edited
    # (red-team K6: unedited, its trackers would load and the banner would be missing).
    assert response.header("content-length") is None
    assert b'id="cookie-consent"' in response.body
    assert response.body.startswith(big[: -len(b"</body></html>")])
    assert response.body.endswith(b"</body></html>")


def test_asgi_client_disconnect_during_body_read() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
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
    sent: list[MutableMapping[str, Any]] = []
    chunks = [{"type": "http.request", "body": b"a" * 600, "more_body": True}] * 3

    async def receive() -> dict[str, Any]:
        return chunks.pop()

    async def send(message: MutableMapping[str, Any]) -> None:
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
    assert middleware(environ, lambda *a: lambda data: None) is body


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


# -- header names: any case, surrounding whitespace (issue 9 item 1, issue 15 item 3) ----------

DJANGO_STYLE = [(b"Content-Type", b"text/html"), (b"Set-Cookie", b"_ga=GA1.1.1; Path=/")]


def asgi_page(headers: list[tuple[bytes, bytes]], body: bytes = PAGE) -> Any:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})

    return app


def test_asgi_capitalised_response_headers_are_gated_and_the_banner_injected() -> None:
    """Django's ASGIHandler sends header names with their original case."""
    response = AsgiDriver(AsgiMiddleware(asgi_page(DJANGO_STYLE), policy=make_policy())).get("/")
    assert not response.sets("_ga"), response.set_cookies
    assert b'id="cookie-consent"' in response.body


@pytest.mark.parametrize(
    "spelling", [b"Content-Length", b"CONTENT-LENGTH", b"content-length ", b" Content-Length"]
)
def test_asgi_any_spelling_of_content_length_is_corrected(spelling: bytes) -> None:
    headers = [(b"Content-Type", b"text/html"), (spelling, str(len(PAGE)).encode())]
    response = AsgiDriver(AsgiMiddleware(asgi_page(headers), policy=make_policy())).get("/")
    assert b'id="cookie-consent"' in response.body
    lengths = [v for k, v in response.headers if k.strip().lower() == "content-length"]
    assert lengths == [str(len(response.body))]


@pytest.mark.parametrize(
    "spelling", [b"Set-Cookie", b"SET-COOKIE", b"set-cookie ", b"set-cookie\t", b" Set-Cookie"]
)
def test_asgi_every_spelling_of_set_cookie_is_gated(spelling: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (spelling, b"_ga=GA1.1.1; Path=/")]
    response = AsgiDriver(AsgiMiddleware(asgi_page(headers), policy=make_policy())).get("/")
    assert response.set_cookies == []


@pytest.mark.parametrize(
    "spelling", [b"Content-Encoding", b"content-encoding\t", b"CONTENT-ENCODING"]
)
def test_asgi_compressed_html_in_any_spelling_is_left_alone(spelling: bytes) -> None:
    headers = [(b"Content-Type", b"text/html"), (spelling, b"gzip")]
    body = b"\x1f\x8b\x08</body>"
    response = AsgiDriver(AsgiMiddleware(asgi_page(headers, body), policy=make_policy())).get("/")
    assert response.body == body


def test_asgi_capitalised_request_cookie_header_is_filtered() -> None:
    """Servers lower-case request headers; apps calling each other may not."""
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.append([(k, v) for k, v in scope["headers"] if k.lower().strip() == b"cookie"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    token = ConsentCodec(make_policy()).dumps({"preferences"}, "m" * 22)
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [
            (b"Cookie", f"cookie_consent={token}; likebox=1; _ga=2".encode()),
            (b"Host", b"shop.example.com"),
        ],
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    assert seen == [[(b"cookie", f"cookie_consent={token}; likebox=1".encode())]]
    assert scope["cookieguard.consent"].allows("preferences")
    # The refused cookie the browser holds is expired for the host (read from "Host").
    deleted = [v for k, v in sent[0]["headers"] if k == b"set-cookie"]
    assert any(b"Domain=shop.example.com" in v and v.startswith(b"_ga=") for v in deleted)


def test_asgi_capitalised_cookie_header_is_lower_cased_even_when_nothing_is_refused() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.append(list(scope["headers"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [(b"Cookie", b"theme=dark"), (b"accept", b"*/*")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    run(AsgiMiddleware(app, policy=make_policy(undeclared="allow"))(scope, receive, send))
    assert seen == [[(b"accept", b"*/*"), (b"cookie", b"theme=dark")]]


@pytest.mark.parametrize("spelling", ["Set-Cookie ", "Set-Cookie\t", "SET-COOKIE", " set-cookie"])
def test_wsgi_every_spelling_of_set_cookie_is_gated(spelling: str) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), (spelling, "_ga=GA1.1; Path=/")])
        return [b"ok"]

    response = WsgiDriver(WsgiMiddleware(app, make_policy())).get("/")
    assert response.set_cookies == [] and response.headers == [("Content-Type", "text/plain")]


@pytest.mark.parametrize("spelling", ["content-length ", "CONTENT-LENGTH", "Content-Length\t"])
def test_wsgi_any_spelling_of_content_length_is_corrected(spelling: str) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", " text/html"), (spelling, str(len(PAGE)))])
        return [PAGE]

    response = WsgiDriver(WsgiMiddleware(app, make_policy())).get("/")
    assert b'id="cookie-consent"' in response.body
    lengths = [v for k, v in response.headers if k.strip().lower() == "content-length"]
    assert lengths == [str(len(response.body))]


# -- ASGI file extensions: http.response.pathsend, http.response.zerocopysend -----------------


def file_app(extension: dict[str, Any], *, length: bool, before: bytes = b"") -> Any:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if length:
            headers.append((b"content-length", str(len(before) + len(PAGE)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if before:
            await send({"type": "http.response.body", "body": before, "more_body": True})
        await send(dict(extension))

    return app


def send_all(app: Any) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": [(b"host", b"shop.example.com")],
        "extensions": {"http.response.pathsend": {}, "http.response.zerocopysend": {}},
    }
    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    return sent


PATHSEND = {"type": "http.response.pathsend", "path": "/srv/www/index.html"}
ZEROCOPY = {"type": "http.response.zerocopysend", "file": 7, "offset": 0, "count": len(PAGE)}


@pytest.mark.parametrize("extension", [PATHSEND, ZEROCOPY], ids=["pathsend", "zerocopysend"])
@pytest.mark.parametrize("length", [True, False], ids=["held", "streamed"])
def test_asgi_file_messages_follow_their_start_untouched(
    extension: dict[str, Any], length: bool
) -> None:
    sent = send_all(file_app(extension, length=length))
    assert [m["type"] for m in sent] == ["http.response.start", extension["type"]]
    assert sent[1] == extension
    if length:  # the file is not edited: the length the app declared stays
        assert (b"content-length", str(len(PAGE)).encode()) in sent[0]["headers"]


@pytest.mark.parametrize("length", [True, False], ids=["held", "streamed"])
def test_asgi_bytes_held_before_a_file_message_go_out_first(length: bool) -> None:
    before = b"<!doctype html><p>intro</bo"  # ends like a split </body>: the injector holds it
    sent = send_all(file_app(PATHSEND, length=length, before=before))
    assert sent[0]["type"] == "http.response.start"
    assert sent[-1] == PATHSEND
    bodies = [m for m in sent[1:-1]]
    assert all(m["type"] == "http.response.body" and m["more_body"] for m in bodies)
    assert b"".join(m["body"] for m in bodies) == before


# -- websocket responses (issue 15 item 5) ---------------------------------------------------


def run_websocket(message: dict[str, Any], cookie: bytes = b"") -> list[MutableMapping[str, Any]]:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send(message)

    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(out: MutableMapping[str, Any]) -> None:
        sent.append(out)

    headers = [(b"host", b"shop.example.com")] + ([(b"cookie", cookie)] if cookie else [])
    scope = {"type": "websocket", "path": "/ws", "headers": headers, "scheme": "ws"}
    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    return sent


WS_COOKIES = [
    (b"Set-Cookie", b"_ga=GA1.1.1; Path=/"),
    (b"set-cookie", b"likebox=1; Path=/"),
    (b"set-cookie", b"cookie_consent=forged; Path=/"),
    (b"set-cookie", b"_fbp=; Max-Age=0; Path=/"),
    (b"x-other", b"1"),
]


@pytest.mark.parametrize("kind", ["websocket.accept", "websocket.http.response.start"])
def test_websocket_response_cookies_are_gated(kind: str) -> None:
    message: dict[str, Any] = {"type": kind, "headers": list(WS_COOKIES)}
    if kind == "websocket.http.response.start":
        message["status"] = 403
    (sent,) = run_websocket(message)
    assert sent["headers"] == [
        (b"set-cookie", b"cookie_consent=forged; Path=/"),  # necessary: the app's own business
        (b"set-cookie", b"_fbp=; Max-Age=0; Path=/"),  # deletions always pass
        (b"x-other", b"1"),
    ]


def test_websocket_granted_cookies_pass() -> None:
    token = ConsentCodec(make_policy()).dumps({"analytics"}, "w" * 22)
    (sent,) = run_websocket(
        {"type": "websocket.accept", "headers": list(WS_COOKIES)},
        cookie=f"cookie_consent={token}".encode(),
    )
    assert (b"Set-Cookie", b"_ga=GA1.1.1; Path=/") in sent["headers"]
    assert (b"set-cookie", b"likebox=1; Path=/") not in sent["headers"]


def test_websocket_accept_without_headers_is_untouched() -> None:
    assert run_websocket({"type": "websocket.accept"}) == [{"type": "websocket.accept"}]


def _http_set_cookies(cookie: bytes) -> list[bytes]:
    """The Set-Cookie fields an HTTP response to the same visitor gets from cookieguard."""
    sent: list[MutableMapping[str, Any]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(out: MutableMapping[str, Any]) -> None:
        sent.append(out)

    headers = [(b"host", b"shop.example.com"), (b"cookie", cookie)]
    scope = {"type": "http", "method": "GET", "path": "/ws", "headers": headers, "scheme": "http"}
    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    return [v for k, v in sent[0]["headers"] if k.lower() == b"set-cookie"]


@pytest.mark.parametrize("kind", ["websocket.accept", "websocket.http.response.start"])
def test_websocket_handshake_answer_gets_the_same_head_as_http(kind: str) -> None:
    """Issue 25: one response head for every adapter. A visitor who never chose still sends
    an analytics cookie: the handshake answer expires it as an HTTP response would."""
    cookie = b"_ga=GA1.1.1; likebox=1"
    expected = _http_set_cookies(cookie)
    assert expected  # the HTTP response does expire them
    message: dict[str, Any] = {"type": kind, "headers": [(b"x-other", b"1")]}
    if kind == "websocket.http.response.start":
        message["status"] = 403
    (sent,) = run_websocket(message, cookie=cookie)
    assert [v for k, v in sent["headers"] if k == b"set-cookie"] == expected
    assert (b"x-other", b"1") in sent["headers"]


def test_websocket_denial_page_is_not_edited() -> None:
    message = {
        "type": "websocket.http.response.start",
        "status": 403,
        "headers": [(b"content-type", b"text/html")],
    }
    body = {"type": "websocket.http.response.body", "body": b"<html><body>no</body></html>"}
    sent: list[MutableMapping[str, Any]] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send(message)
        await send(dict(body))

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(out: MutableMapping[str, Any]) -> None:
        sent.append(out)

    scope = {"type": "websocket", "path": "/ws", "headers": [(b"host", b"a.example")]}
    run(AsgiMiddleware(app, policy=make_policy())(scope, receive, send))
    assert sent[1] == body


# -- the page-headers seam: Site.page_headers on every HTML response -------------------------


PAGE_HEADER = ("Content-Security-Policy-Report-Only", "default-src 'self'")


@pytest.fixture
def page_headers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str | None, bool]]:
    from cookieguard.site._site import Site

    calls: list[tuple[int, str | None, bool]] = []

    def fake(
        self: Site, decision: Any, *, status: int, content_type: str | None
    ) -> tuple[tuple[str, str], ...]:
        calls.append((status, content_type, decision.consent.decided))
        return (PAGE_HEADER,)

    monkeypatch.setattr(Site, "page_headers", fake)
    return calls


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
@pytest.mark.parametrize(
    ("path", "decided", "edited"),
    [
        ("/html", False, True),
        ("/html", True, False),
        ("/stream", False, True),
        ("/gzip", False, False),
    ],
)
def test_page_headers_go_on_every_html_response(
    page_headers: list[tuple[int, str | None, bool]],
    kind: str,
    path: str,
    decided: bool,
    edited: bool,
) -> None:
    from tests.harness import drivers

    cookie = None
    if decided:
        cookie = "cookie_consent=" + ConsentCodec(make_policy()).dumps(set(), "p" * 22)
    response = drivers(make_policy())[kind].get(path, cookie=cookie)
    assert response.headers_named(PAGE_HEADER[0]) == [PAGE_HEADER[1]]
    assert (b'id="cookie-consent"' in response.body) is edited
    content_type = page_headers[0][1]
    assert page_headers[0][0] == 200 and content_type is not None
    assert content_type.startswith("text/html")
    assert page_headers[0][2] is decided
    if edited:  # Injection.vary still goes with an edited body
        assert "Cookie" in response.headers_named("vary")


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_page_headers_also_on_head_and_not_on_other_types(
    page_headers: list[tuple[int, str | None, bool]], kind: str
) -> None:
    from tests.harness import drivers

    driver = drivers(make_policy())[kind]
    assert driver.request("HEAD", "/html").headers_named(PAGE_HEADER[0]) == [PAGE_HEADER[1]]
    assert driver.get("/echo").headers_named(PAGE_HEADER[0]) == []
    assert driver.get("/").headers_named(PAGE_HEADER[0]) == []


# -- the header-name helper both adapters use -------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"set-cookie", b"set-cookie"),
        (b"Set-Cookie", b"set-cookie"),
        (b"Set-Cookie ", b"set-cookie"),
        (b"\tSET-COOKIE\t", b"set-cookie"),
        (b"set-cookie\r", b"set-cookie"),
        (b"x-1", b"x-1"),
        (b"123", b"123"),
        (b"", b""),
    ],
)
def test_header_names_normalised(raw: bytes, expected: bytes) -> None:
    from cookieguard.core._headers import name, text_name

    assert name(raw) == expected
    assert text_name(raw.decode("latin-1")) == expected.decode("latin-1")


def test_non_ascii_look_alikes_fail_closed() -> None:
    from cookieguard.core._headers import text_name

    assert text_name("Set-Coo\u212aie") == "set-cookie"  # KELVIN SIGN lowers to k
    assert text_name("Set-Cookie\u00a0") == "set-cookie"


def test_the_header_name_memo_is_bounded() -> None:
    """Request header names come from visitors: a flood of new ones must not grow memory."""
    from cookieguard.core import _headers

    for i in range(5000):
        _headers.name(f"X-Flood-{i}".encode())
        _headers.text_name(f"X-Flood-{i}")
    _headers.name(b"X-" + b"a" * 500)
    assert len(_headers._names) <= _headers._MEMO_ENTRIES
    assert len(_headers._text_names) <= _headers._MEMO_ENTRIES
    assert all(len(k) <= _headers._MEMO_NAME_LENGTH for k in _headers._names)
    # Still right once the memo is full.
    assert _headers.name(b"Set-Cookie\t") == b"set-cookie"
    assert _headers.text_name("Never-Seen-Before ") == "never-seen-before"


def test_asgi_clean_request_headers_are_not_copied() -> None:
    """The common case (lower-case names, nothing refused) leaves the scope's list alone."""
    seen: list[Any] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["headers"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    headers = [(b"host", b"shop.example.com"), (b"cookie", b"theme=dark")]
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": headers}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    run(AsgiMiddleware(app, policy=make_policy(undeclared="allow"))(scope, receive, send))
    assert seen[0] is headers
