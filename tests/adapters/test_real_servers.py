"""The adapters under real servers: what uvicorn, waitress and granian put on the wire.

Direct-call tests (tests/adapters/test_adapters.py) show what the middleware hands the server; these
show that the server then sends nothing ungated: mixed-case and padded header names, files
sent by path, websocket handshakes and denials, and a middleware order that would leak.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus

from cookieguard import ConsentCodec
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import (
    PAGE,
    ServerProcess,
    UvicornServer,
    WaitressServer,
    make_policy,
    raw_get,
)

ROOT = Path(__file__).resolve().parents[2]
BANNER = b'id="cookie-consent"'


# -- header names (issue 9 item 1, issue 15 item 3) ------------------------------------------


async def django_style(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """What Django's ASGIHandler sends: header names in their original case."""
    headers = [
        (b"Content-Type", b"text/html; charset=utf-8"),
        (b"Content-Length", str(len(PAGE)).encode()),
        (b"Set-Cookie", b"_ga=GA1.1.1; Path=/"),
        (b"Set-Cookie", b"sessionid=abc; Path=/; HttpOnly"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": PAGE})


def test_uvicorn_capitalised_headers_are_gated_and_the_banner_injected() -> None:
    policy = make_policy(cookies={"_ga": "analytics", "sessionid": "necessary"})
    with UvicornServer(AsgiMiddleware(django_style, policy=policy)) as server:
        response = raw_get(server.port)
    assert response.status == 200
    assert response.named(b"set-cookie") == [b"sessionid=abc; Path=/; HttpOnly"]
    assert BANNER in response.body
    # uvicorn (h11) refuses to send more bytes than Content-Length says: the length was fixed.
    assert response.named(b"content-length") == [str(len(response.body)).encode()]


def padded_names_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/html"),
            ("Content-Length", str(len(PAGE))),
            (environ["QUERY_STRING"].replace("SP", " ").replace("TAB", "\t"), "_ga=GA1.1; Path=/"),
        ],
    )
    return [PAGE]


@pytest.mark.parametrize("spelling", ["Set-CookieSP", "Set-CookieTAB", "SET-COOKIE", "set-cookie"])
def test_waitress_padded_set_cookie_is_not_forwarded(spelling: str) -> None:
    with WaitressServer(WsgiMiddleware(padded_names_app, make_policy())) as server:
        response = raw_get(server.port, "/?" + spelling)
    assert response.status == 200
    assert not any(b"_ga" in line for line in response.lines), response.lines
    assert BANNER in response.body


def test_waitress_granted_cookie_in_a_padded_name_still_passes() -> None:
    token = ConsentCodec(make_policy()).dumps({"analytics"}, "g" * 22)
    with WaitressServer(WsgiMiddleware(padded_names_app, make_policy())) as server:
        response = raw_get(server.port, "/?Set-CookieSP", [("Cookie", f"cookie_consent={token}")])
    assert response.named(b"set-cookie") == [b"_ga=GA1.1; Path=/"]
    assert BANNER not in response.body


# -- websocket handshakes and denials (issue 15 item 5) ----------------------------------------


async def websocket_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    cookies = [
        (b"Set-Cookie", b"_ga=GA1.1.1; Path=/"),
        (b"set-cookie", b"likebox=1; Path=/"),
        (b"set-cookie", b"sessionid=abc; Path=/"),
    ]
    if scope["path"] == "/deny":
        await send({"type": "websocket.http.response.start", "status": 403, "headers": cookies})
        await send({"type": "websocket.http.response.body", "body": b"no"})
        return
    await send({"type": "websocket.accept", "headers": cookies})
    await send({"type": "websocket.send", "text": "hi"})
    await send({"type": "websocket.close"})


@pytest.fixture(scope="module")
def websocket_server() -> Iterator[UvicornServer]:
    policy = make_policy(
        cookies={"_ga": "analytics", "likebox": "preferences", "sessionid": "necessary"}
    )
    with UvicornServer(
        AsgiMiddleware(websocket_app, policy=policy), ws="websockets-sansio"
    ) as server:
        yield server


def test_uvicorn_websocket_accept_cookies_are_gated(websocket_server: UvicornServer) -> None:
    with websockets.sync.client.connect(f"ws://127.0.0.1:{websocket_server.port}/ws") as ws:
        assert ws.recv(timeout=10) == "hi"
        assert ws.response is not None
        assert ws.response.headers.get_all("Set-Cookie") == ["sessionid=abc; Path=/"]


def test_uvicorn_websocket_accept_passes_granted_cookies(websocket_server: UvicornServer) -> None:
    token = ConsentCodec(make_policy()).dumps({"preferences"}, "s" * 22)
    url = f"ws://127.0.0.1:{websocket_server.port}/ws"
    with websockets.sync.client.connect(
        url, additional_headers={"Cookie": f"cookie_consent={token}"}
    ) as ws:
        assert ws.response is not None
        assert ws.response.headers.get_all("Set-Cookie") == [
            "likebox=1; Path=/",
            "sessionid=abc; Path=/",
        ]


def test_uvicorn_websocket_denial_cookies_are_gated(websocket_server: UvicornServer) -> None:
    with pytest.raises(InvalidStatus) as denied:
        websockets.sync.client.connect(f"ws://127.0.0.1:{websocket_server.port}/deny")
    response = denied.value.response
    assert response.status_code == 403
    assert response.headers.get_all("Set-Cookie") == ["sessionid=abc; Path=/"]


# -- files sent by path (issue 15 item 4) ------------------------------------------------------


@pytest.fixture(scope="module")
def granian(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, bytes]]:
    """granian (which offers http.response.pathsend) serving tests.harness:file_site."""
    page = tmp_path_factory.mktemp("pathsend") / "page.html"
    content = b"<!doctype html><html><body><h1>A file</h1></body></html>\n"
    page.write_bytes(content)
    env = {
        **os.environ,
        "COOKIEGUARD_TEST_FILE": str(page),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    argv = [
        *(sys.executable, "-m", "granian", "--interface", "asgi", "--factory"),
        *("--host", "127.0.0.1", "--port", "{port}", "--workers", "1", "--no-ws"),
        "tests.harness:file_site",
    ]
    log = page.with_suffix(".log")
    with ServerProcess("granian", argv, log=log, env=env, cwd=ROOT) as server:
        yield server.port, content


def test_granian_html_file_sent_by_path_arrives_whole(granian: tuple[int, bytes]) -> None:
    port, content = granian
    response = raw_get(port, "/page.html")
    assert response.status == 200
    assert response.body == content  # a file is not edited: no banner, length as declared
    assert response.named(b"content-length") == [str(len(content)).encode()]


# -- middleware order (issue 9 item 3) ---------------------------------------------------------


def session_site(consent_first: bool) -> Any:
    from starlette.applications import Starlette
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def home(request: Request) -> HTMLResponse:
        request.session["seen"] = True
        return HTMLResponse("<html><body>home</body></html>")

    app = Starlette(routes=[Route("/", home)])
    if consent_first:  # the mistake: the session middleware added after ends up outside
        app.add_middleware(AsgiMiddleware, policy=make_policy())
        app.add_middleware(SessionMiddleware, secret_key="session-secret")
    else:
        app.add_middleware(SessionMiddleware, secret_key="session-secret")
        app.add_middleware(AsgiMiddleware, policy=make_policy())
    return app


def test_uvicorn_refuses_to_start_with_a_session_middleware_outside(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = UvicornServer(session_site(True), lifespan="on", must_start=False)
    with caplog.at_level(logging.ERROR), refused as server:
        server.thread.join(10)
        assert not server.started and server.exit_code == 3
    assert "ConsentMiddleware runs inside SessionMiddleware" in caplog.text
    assert "add_middleware(ConsentMiddleware" in caplog.text


def test_uvicorn_with_consent_outermost_gates_the_session_cookie() -> None:
    with UvicornServer(session_site(False), lifespan="on") as server:
        assert server.started
        response = raw_get(server.port)
    assert response.status == 200
    assert response.named(b"set-cookie") == []  # "session" is not declared: blocked
    assert BANNER in response.body
