"""Compressed pages through the real compression middleware of each framework (issue 19 item 1),
and pages the gate cannot edit failing closed in both adapters (item 3).

FastAPI with ``app.add_middleware(GZipMiddleware)`` then ConsentMiddleware added last (the
README's "add it last": ours outside, so it sees gzip), and Flask with
``flask_compress.Compress(app)`` (inside the WSGI app, so ours sees br, gzip, deflate or zstd):
before issue 19 both sent no banner and every tracker live.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from typing import Any

import brotli  # type: ignore[import-untyped]  # brotli ships no type hints
import pytest
import zstandard
from starlette.testclient import TestClient

from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.html import _scanner
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import AsgiDriver, WsgiDriver, make_policy

GA = "https://www.googletagmanager.com/gtag/js?id=G-COMPRESS"
ROWS = "".join(f"<p>row {i * 7919 % 10007}</p>" for i in range(600))
PAGE = (
    "<!doctype html><html><head><title>t</title>"
    f'<script async src="{GA}"></script></head><body>{ROWS}</body></html>'
)
BANNER = b'id="cookie-consent"'
GATED = b'type="text/plain" data-cookieguard="analytics"'


def unpack(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "deflate":
        return zlib.decompress(data)
    if coding == "br":
        return bytes(brotli.decompress(data))
    assert coding == "zstd", coding
    return bytes(zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read())


def edited(body: bytes) -> None:
    assert body.count(BANNER) == 1
    assert GATED in body
    assert ROWS.encode() in body


# -- FastAPI + Starlette's GZipMiddleware ------------------------------------------------------


def fastapi_app(streaming: bool = False) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, StreamingResponse
    from starlette.middleware.gzip import GZipMiddleware

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home() -> Any:
        if streaming:
            half = len(PAGE) // 2

            def parts() -> Iterator[bytes]:
                yield PAGE[:half].encode()
                yield PAGE[half:].encode()

            return StreamingResponse(parts(), media_type="text/html")
        return HTMLResponse(PAGE)

    app.add_middleware(GZipMiddleware, minimum_size=100)
    app.add_middleware(AsgiMiddleware, policy=make_policy())  # added last: the outermost
    return app


@pytest.mark.parametrize("streaming", [False, True])
def test_fastapi_gzip_middleware_inside_ours(streaming: bool) -> None:
    with TestClient(fastapi_app(streaming)) as client:
        response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    edited(response.content)  # httpx decoded it: a valid gzip stream
    if not streaming:
        # The Content-Length is the re-encoded body's.
        assert response.num_bytes_downloaded == int(response.headers["content-length"])


# -- Flask + flask-compress --------------------------------------------------------------------


def flask_app(streaming: bool = False) -> Any:
    from flask import Flask, Response
    from flask_compress import Compress

    app = Flask(__name__)
    app.config["COMPRESS_MIN_SIZE"] = 100

    @app.get("/")
    def home() -> Any:
        if streaming:
            half = len(PAGE) // 2
            return Response(iter([PAGE[:half], PAGE[half:]]), mimetype="text/html")
        return PAGE

    Compress(app)
    app.wsgi_app = WsgiMiddleware(app.wsgi_app, make_policy())  # type: ignore[method-assign]
    return app


@pytest.mark.parametrize(
    ("coding", "streaming"),
    # flask-compress streams zstd, br and deflate (never gzip: COMPRESS_ALGORITHM_STREAMING).
    [(c, False) for c in ("gzip", "br", "deflate", "zstd")]
    + [(c, True) for c in ("br", "deflate", "zstd")],
)
def test_flask_compress_inside_ours(coding: str, streaming: bool) -> None:
    client = flask_app(streaming).test_client()
    response = client.get("/", headers={"Accept-Encoding": coding})
    assert response.headers["Content-Encoding"] == coding
    body = response.get_data()
    edited(unpack(coding, body))
    if not streaming:
        assert int(response.headers["Content-Length"]) == len(body)


# -- fail closed -------------------------------------------------------------------------------


def raw_app(encoding: str, body: bytes, *, length: bool = True) -> tuple[Any, Any]:
    headers = [(b"content-type", b"text/html"), (b"content-encoding", encoding.encode())]
    if length:
        headers.append((b"content-length", str(len(body)).encode()))

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [(k.decode(), v.decode()) for k, v in headers])
        return [body]

    return asgi, wsgi


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
@pytest.mark.parametrize("length", [True, False])
def test_an_unknown_coding_fails_closed(
    protocol: str, length: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Item 3: sent as the app wrote it, with the consent-aware CSP in enforce mode (whatever
    ``csp=`` says: here None), one error line naming the path, counted in the site's stats."""
    body = b"\x1f\x9d\x90" + PAGE.encode()  # "compress" (LZW): no one decodes it
    asgi, wsgi = raw_app("compress", body, length=length)
    middleware = (
        AsgiMiddleware(asgi, policy=make_policy())
        if protocol == "asgi"
        else WsgiMiddleware(wsgi, make_policy())
    )
    driver = AsgiDriver(middleware) if protocol == "asgi" else WsgiDriver(middleware)
    with caplog.at_level(logging.ERROR, logger="cookieguard"):
        first = driver.get("/shop")
        second = driver.get("/shop")
    for response in (first, second):
        assert response.body == body
        csp = response.header("content-security-policy")
        assert csp is not None and "googletagmanager" not in csp
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once per cause
    assert "/shop" in errors[0].getMessage() and "compress" in errors[0].getMessage()
    assert middleware.site.stats()["failed_closed"] == {"coding": 2}


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_a_visitor_who_granted_everything_gets_no_csp(protocol: str) -> None:
    from cookieguard.core._consent import ConsentCodec

    policy = make_policy()
    body = b"\x1f\x9d\x90"
    asgi, wsgi = raw_app("compress", body)
    middleware = AsgiMiddleware(asgi, policy=policy) if protocol == "asgi" else None
    driver = AsgiDriver(middleware) if middleware else WsgiDriver(WsgiMiddleware(wsgi, policy))
    token = ConsentCodec(policy).dumps(policy.optional_categories, "c" * 22)
    response = driver.get("/", cookie=f"cookie_consent={token}")
    assert response.body == body
    assert response.header("content-security-policy") is None


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_an_error_inside_the_rewriter_fails_closed(
    protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_scanner.Rewriter, "_scan", broken)
    monkeypatch.setattr(_scanner.Rewriter, "feed_last", broken)
    body = PAGE.encode()
    asgi, wsgi = raw_app("identity", body)
    middleware = (
        AsgiMiddleware(asgi, policy=make_policy(csp="report"))
        if protocol == "asgi"
        else WsgiMiddleware(wsgi, make_policy(csp="report"))
    )
    driver = AsgiDriver(middleware) if protocol == "asgi" else WsgiDriver(middleware)
    response = driver.get("/")
    assert response.body == body
    assert response.header("content-security-policy-report-only") is not None
    enforced = response.header("content-security-policy")
    assert enforced is not None and "googletagmanager" not in enforced
    assert middleware.site.stats()["failed_closed"] == {"error": 1}


def test_a_gzip_bomb_fails_closed() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * (1 << 20)
    bomb = b"".join(packer.compress(block) for _ in range(64)) + packer.flush()
    asgi, _ = raw_app("gzip", bomb)
    middleware = AsgiMiddleware(asgi, policy=make_policy())
    response = AsgiDriver(middleware).get("/")
    assert response.body == bomb
    assert response.header("content-security-policy") is not None
    assert middleware.site.stats()["failed_closed"] == {"limit": 1}


# -- charsets through the frameworks -----------------------------------------------------------

WIDE = PAGE.replace("<title>t</title>", "<title>日本語</title>")


@pytest.mark.parametrize(
    ("charset", "codec"),
    [("utf-16", "utf-16"), ("utf-16be", "utf-16-be"), ("iso-2022-jp", "iso2022_jp")],
)
def test_starlette_pages_in_charsets_whose_bytes_are_not_markup(charset: str, codec: str) -> None:
    """K5 through Starlette: such pages went out unedited (no banner, trackers live)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def home(request: Any) -> Response:
        return Response(WIDE.encode(codec), media_type=f"text/html; charset={charset}")

    app = AsgiMiddleware(Starlette(routes=[Route("/", home)]), policy=make_policy())
    with TestClient(app) as client:
        response = client.get("/")
    edited(response.content.decode(codec).encode())
    assert int(response.headers["content-length"]) == len(response.content)


def test_flask_compress_over_a_utf_16_page() -> None:
    """Two layers at once: br over UTF-16, both undone and done again."""
    from flask import Flask, Response
    from flask_compress import Compress

    app = Flask(__name__)
    app.config["COMPRESS_MIN_SIZE"] = 100

    @app.get("/")
    def home() -> Any:
        return Response(WIDE.encode("utf-16"), content_type="text/html; charset=utf-16")

    Compress(app)
    app.wsgi_app = WsgiMiddleware(app.wsgi_app, make_policy())  # type: ignore[method-assign]
    response = app.test_client().get("/", headers={"Accept-Encoding": "br"})
    assert response.headers["Content-Encoding"] == "br"
    edited(unpack("br", response.get_data()).decode("utf-16").encode())


def test_a_wsgi_page_written_with_write_fails_closed() -> None:
    """A legacy app that writes its HTML through write() bypasses the editor: CSP, not live."""

    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/html")])
        write(PAGE.encode())
        return []

    middleware = WsgiMiddleware(app, make_policy())
    response = WsgiDriver(middleware).get("/")
    assert response.header("content-security-policy") is not None
    assert middleware.site.stats()["failed_closed"] == {"error": 1}


# The charset is chosen after 1024 bytes: a "replacement" one named there fails the page after
# a small first chunk, and its headers must still be waiting.
LATE = [
    b"<!doctype html><html><head>",
    b"<meta charset='iso-2022-kr'>" + b" " * 1100 + f'<script src="{GA}"></script>'.encode(),
    b"</head><body><p>x</p></body></html>",
]


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_a_stream_failing_after_a_small_first_chunk_still_fails_closed(protocol: str) -> None:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, part in enumerate(LATE):
            await send({"type": "http.response.body", "body": part, "more_body": i < 2})

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return list(LATE)

    middleware = (
        AsgiMiddleware(asgi, policy=make_policy())
        if protocol == "asgi"
        else WsgiMiddleware(wsgi, make_policy())
    )
    driver = AsgiDriver(middleware) if protocol == "asgi" else WsgiDriver(middleware)
    response = driver.get("/")
    assert response.body == b"".join(LATE)
    assert response.header("content-security-policy") is not None
    assert middleware.site.stats()["failed_closed"] == {"charset": 1}


@pytest.mark.parametrize("protocol", ["asgi", "wsgi"])
def test_a_stream_of_small_chunks_is_still_edited_and_streams(protocol: str) -> None:
    parts = [PAGE[i : i + 100].encode() for i in range(0, len(PAGE), 100)]

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, part in enumerate(parts):
            await send(
                {"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1}
            )

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return list(parts)

    middleware = (
        AsgiMiddleware(asgi, policy=make_policy())
        if protocol == "asgi"
        else WsgiMiddleware(wsgi, make_policy())
    )
    driver = AsgiDriver(middleware) if protocol == "asgi" else WsgiDriver(middleware)
    response = driver.get("/")
    edited(response.body)
    assert len([c for c in response.chunks if c]) > 10  # still streamed in pieces
