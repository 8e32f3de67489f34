"""Views a real Django site has: sync and async pages, streaming, JSON, the admin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from django.contrib import admin, messages
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import path
from django.views.i18n import set_language

from cookieguard.django import consent

PAGE = "<!doctype html><html><head><title>t</title></head><body><p>Hello</p></body></html>"


def _with_cookies(response: HttpResponse | StreamingHttpResponse) -> None:
    response.set_cookie("_ga", "GA1.1.42", max_age=3600)
    response.set_cookie("likebox", "harbour", max_age=3600)
    response.set_cookie("_fbp", "fb.1.7")


def page(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PAGE)
    _with_cookies(response)
    return response


VIDEO = (
    "<!doctype html><html><head><title>Video</title></head><body>"
    '<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>'
    "</body></html>"
)


def video(request: HttpRequest) -> HttpResponse:
    return HttpResponse(VIDEO)


async def async_page(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    response = HttpResponse(PAGE)
    _with_cookies(response)
    return response


def _chunks() -> Iterator[bytes]:
    yield b"<!doctype html><html><body><p>Streamed</p></bo"
    yield b"dy></html>"


async def _async_chunks() -> AsyncIterator[bytes]:
    for chunk in _chunks():
        await asyncio.sleep(0)
        yield chunk


def streaming(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_chunks(), content_type="text/html; charset=utf-8")
    _with_cookies(response)
    return response


async def async_streaming(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_async_chunks(), content_type="text/html; charset=utf-8")
    _with_cookies(response)
    return response


def html_file(request: HttpRequest) -> FileResponse:
    return FileResponse(open(Path(__file__).with_name("page.html"), "rb"))


def by_hand(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PAGE)
    response["Set-Cookie"] = "_ga=GA1.1.9; Path=/"
    return response


def json_view(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"ok": True})
    response.set_cookie("_ga", "GA1.1.1")
    response.set_cookie("necessary_undeclared", "1")
    return response


def echo(request: HttpRequest) -> JsonResponse:
    """What the app can see: its cookies and the consent."""
    seen = consent(request)
    return JsonResponse(
        {
            "cookies": sorted(request.COOKIES),
            "header": request.META.get("HTTP_COOKIE", ""),
            "decided": seen.decided,
            "analytics": seen.allows("analytics"),
        }
    )


def tags(request: HttpRequest) -> HttpResponse:
    return render(request, "tags.html")


_renders = 0


def counted(request: HttpRequest) -> HttpResponse:
    """A page without cookies (cacheable) that says how often it was rendered."""
    global _renders
    _renders += 1
    return HttpResponse(PAGE.replace("Hello", f"Render {_renders}"))


def flash(request: HttpRequest) -> HttpResponseRedirect:
    messages.info(request, "Saved.")
    return HttpResponseRedirect("/page")


urlpatterns = [
    path("page", page),
    path("video", video),
    path("async-page", async_page),
    path("streaming", streaming),
    path("async-streaming", async_streaming),
    path("file", html_file),
    path("by-hand", by_hand),
    path("json", json_view),
    path("echo", echo),
    path("tags", tags),
    path("flash", flash),
    path("counted", counted),
    path("i18n/setlang/", set_language),
    path("admin/", admin.site.urls),
]
