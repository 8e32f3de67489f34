"""The shop, written without consent in mind: ``_ga`` and ``_fbp`` on every page, a
``likebox`` cookie on every like."""

from __future__ import annotations

import threading
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render as render_page
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from lumen import ONE_YEAR, PHOTOS, after_like, page_context, tracking_cookies  # settings.SITE

_beacons = 0
_beacons_lock = threading.Lock()


def render(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    shown = page_context(
        liked=request.GET.get("liked"),
        likebox=request.COOKIES.get("likebox", ""),
        here=request.path,
    )
    response = render_page(request, template, {**shown, **context})
    for name, value, max_age in tracking_cookies():
        response.set_cookie(name, value, max_age=max_age)
    return response


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


@require_GET
def photo(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in PHOTOS:
        raise Http404(slug)
    return render(request, "photo.html", slug=slug, photo=PHOTOS[slug])


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy.html")


@csrf_exempt  # the shared like form carries no CSRF token (the other examples have none)
@require_POST
def like(request: HttpRequest, slug: str) -> HttpResponse:
    if slug not in PHOTOS:
        raise Http404(slug)
    back, box = after_like(
        slug, likebox=request.COOKIES.get("likebox", ""), back=request.POST.get("next", "/")
    )
    response = HttpResponseRedirect(back, status=303)
    response.set_cookie("likebox", box, max_age=ONE_YEAR, samesite="Lax")
    return response


@csrf_exempt  # analytics.js posts beacons without a token
@require_POST
def collect(request: HttpRequest) -> HttpResponse:
    global _beacons
    with _beacons_lock:
        _beacons += 1
    return HttpResponse(status=204)


@require_GET
def collect_count(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"count": _beacons})
