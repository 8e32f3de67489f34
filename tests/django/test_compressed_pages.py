"""Django's GZipMiddleware listed after ours (so it compresses first): pages are decoded, edited
and compressed again (issue 19 item 1; this order used to be refused at start-up)."""

from __future__ import annotations

import gzip
import logging
from typing import Any

import pytest
from django.test import AsyncClient, Client, override_settings

from tests.django.conftest import MIDDLEWARE
from tests.django.test_client import BANNER, abody, body, run

INSIDE = [MIDDLEWARE[0], "django.middleware.gzip.GZipMiddleware", *MIDDLEWARE[1:]]


@pytest.mark.parametrize("path", ["/streaming", "/file"])
def test_gzip_after_ours_gets_the_banner(path: str) -> None:
    with override_settings(MIDDLEWARE=INSIDE):
        response = Client().get(path, HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    page = gzip.decompress(body(response)).decode()
    assert page.count(BANNER) == 1
    if not response.streaming:
        assert int(response["Content-Length"]) == len(response.content)


def test_gzip_after_ours_under_the_async_handler() -> None:
    async def fetch() -> bytes:
        response = await AsyncClient().get("/async-streaming", headers={"accept-encoding": "gzip"})
        assert response["Content-Encoding"] == "gzip"
        return await abody(response)

    with override_settings(MIDDLEWARE=INSIDE):
        page = gzip.decompress(run(fetch())).decode()
    assert page.count(BANNER) == 1


def test_a_page_in_a_coding_nobody_decodes_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    """Item 3: the app's bytes, the enforcing CSP, one error line naming the path."""
    from django.http import HttpResponse

    from cookieguard.django._middleware import ConsentMiddleware

    def view(request: object) -> HttpResponse:
        response = HttpResponse(b"\x1f\x9d\x90 lzw", content_type="text/html")
        response["Content-Encoding"] = "compress"
        return response

    with override_settings(MIDDLEWARE=MIDDLEWARE):
        middleware = ConsentMiddleware(view)
        from django.test import RequestFactory

        with caplog.at_level(logging.ERROR, logger="cookieguard"):
            response = middleware(RequestFactory().get("/lzw"))
    assert response.content == b"\x1f\x9d\x90 lzw"
    assert "Content-Security-Policy" in response.headers
    assert "/lzw" in caplog.text
    coding = middleware.site.stats()["failed_closed"].get("coding", 0)
    assert isinstance(coding, int) and coding >= 1


def test_a_streamed_page_that_fails_on_its_first_chunk_fails_closed() -> None:
    """Its first chunk is edited before the headers leave: the page goes out as written,
    under the enforcing CSP, rather than cut off or live."""
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from cookieguard.django._middleware import ConsentMiddleware

    def view(request: object) -> StreamingHttpResponse:
        response = StreamingHttpResponse(iter([b"\x1f\x8b\x08 damaged", b" rest"]))
        response["Content-Type"] = "text/html"
        response["Content-Encoding"] = "gzip"
        return response

    with override_settings(MIDDLEWARE=MIDDLEWARE):
        middleware = ConsentMiddleware(view)
        response = middleware(RequestFactory().get("/damaged"))
    assert "Content-Security-Policy" in response.headers
    assert body(response) == b"\x1f\x8b\x08 damaged rest"


def test_an_async_stream_that_fails_on_its_first_chunk_fails_closed() -> None:
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from cookieguard.django._middleware import ConsentMiddleware

    async def parts() -> Any:
        yield b"\x1f\x8b\x08 damaged"
        yield b" rest"

    async def view(request: object) -> StreamingHttpResponse:
        response = StreamingHttpResponse(parts())
        response["Content-Type"] = "text/html"
        response["Content-Encoding"] = "gzip"
        return response

    async def fetch() -> tuple[Any, bytes]:
        middleware = ConsentMiddleware(view)
        response = await middleware(RequestFactory().get("/damaged"))
        return response, await abody(response)

    with override_settings(MIDDLEWARE=MIDDLEWARE):
        response, content = run(fetch())
    assert "Content-Security-Policy" in response.headers
    assert content == b"\x1f\x8b\x08 damaged rest"


def test_an_async_gzip_stream_is_edited() -> None:
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from cookieguard.django._middleware import ConsentMiddleware

    page = b"<!doctype html><html><body>" + b"<p>x</p>" * 300 + b"</body></html>"
    packed = gzip.compress(page)

    async def parts() -> Any:
        yield packed[:100]
        yield packed[100:]

    async def view(request: object) -> StreamingHttpResponse:
        response = StreamingHttpResponse(parts(), content_type="text/html")
        response["Content-Encoding"] = "gzip"
        return response

    async def fetch() -> bytes:
        middleware = ConsentMiddleware(view)
        return await abody(await middleware(RequestFactory().get("/")))

    with override_settings(MIDDLEWARE=MIDDLEWARE):
        content = run(fetch())
    assert gzip.decompress(content).count(BANNER.encode()) == 1


LATE = [
    b"<!doctype html><html><head>",
    b"<meta charset='iso-2022-kr'>" + b" " * 1100,
    b"</head><body><p>x</p></body></html>",
]


def test_a_stream_failing_after_a_small_first_chunk_fails_closed() -> None:
    from django.http import StreamingHttpResponse
    from django.test import RequestFactory

    from cookieguard.django._middleware import ConsentMiddleware

    def view(request: object) -> StreamingHttpResponse:
        return StreamingHttpResponse(iter(LATE), content_type="text/html")

    async def parts() -> Any:
        for part in LATE:
            yield part

    async def async_view(request: object) -> StreamingHttpResponse:
        return StreamingHttpResponse(parts(), content_type="text/html")

    async def fetch() -> tuple[Any, bytes]:
        middleware = ConsentMiddleware(async_view)
        response = await middleware(RequestFactory().get("/late"))
        return response, await abody(response)

    with override_settings(MIDDLEWARE=MIDDLEWARE):
        response = ConsentMiddleware(view)(RequestFactory().get("/late"))
        assert "Content-Security-Policy" in response.headers
        assert body(response) == b"".join(LATE)
        response, content = run(fetch())
        assert "Content-Security-Policy" in response.headers
        assert content == b"".join(LATE)
