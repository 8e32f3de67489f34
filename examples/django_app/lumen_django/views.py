"""The shop, written without consent in mind: ``_ga`` and ``_fbp`` on every page, a
``likebox`` cookie on every like."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render as render_page
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from lumen_django.settings import SITE

PHOTOS: dict[str, dict[str, str]] = json.loads((SITE / "photos.json").read_text("utf-8"))
ONE_YEAR = 365 * 24 * 3600
_beacons = 0
_beacons_lock = threading.Lock()


def likebox(request: HttpRequest) -> list[str]:
    """The photos this visitor liked, from the ``likebox`` cookie (``harbour.dunes``)."""
    return [slug for slug in request.COOKIES.get("likebox", "").split(".") if slug in PHOTOS]


def render(request: HttpRequest, template: str, **context: Any) -> HttpResponse:
    liked = request.GET.get("liked")
    liked = liked if liked in PHOTOS else None
    box = likebox(request)
    if liked and liked not in box:
        box.append(liked)  # the like just made shows on this page, cookie or not
    response = render_page(
        request,
        template,
        {"photos": PHOTOS, "likebox": box, "liked": liked, "here": request.path, **context},
    )
    # Analytics and marketing, the way many sites do it: on every page, unconditionally.
    response.set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=2 * ONE_YEAR)
    response.set_cookie("_fbp", f"fb.1.{secrets.randbelow(10**9)}", max_age=90 * 24 * 3600)
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
    box = likebox(request)
    if slug not in box:
        box.append(slug)
    back = request.POST.get("next", "/")
    if not back.startswith("/") or back.startswith(("//", "/\\")):
        back = "/"
    response = HttpResponseRedirect(f"{back}?liked={slug}", status=303)
    response.set_cookie("likebox", ".".join(box), max_age=ONE_YEAR, samesite="Lax")
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
