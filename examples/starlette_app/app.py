"""Lumen Stock on Starlette: the same stock-photo site as the Flask example, on ASGI.

It sets a ``likebox`` cookie on every like, ``_ga`` and ``_fbp`` on every page, and its pages
carry Google's gtag.js snippet exactly as Google publishes it (not marked up for consent:
cookieguard's auto-blocking holds it until the visitor allows analytics). The tests route
``www.googletagmanager.com`` to ``static/analytics.js``, a stand-in that sets ``_ga_js`` and sends
a beacon to ``/collect``. The cookieguard part is the block at the bottom: the app above it is
unchanged.

Run: ``PORT=8001 python examples/starlette_app/app.py`` (uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

SITE = Path(__file__).resolve().parent.parent / "site"
PHOTOS: dict[str, dict[str, str]] = json.loads((SITE / "photos.json").read_text("utf-8"))
ONE_YEAR = 365 * 24 * 3600

templates = Jinja2Templates(directory=SITE / "templates")
beacons = 0  # one event loop: no lock needed


def likebox(request: Request) -> list[str]:
    """The photos this visitor liked, from the ``likebox`` cookie (``harbour.dunes``)."""
    return [slug for slug in request.cookies.get("likebox", "").split(".") if slug in PHOTOS]


def render(request: Request, template: str, **context: Any) -> Response:
    liked = request.query_params.get("liked")
    liked = liked if liked in PHOTOS else None
    box = likebox(request)
    if liked and liked not in box:
        box.append(liked)  # the like just made shows on this page, cookie or not
    response = templates.TemplateResponse(
        request,
        template,
        {"photos": PHOTOS, "likebox": box, "liked": liked, "here": request.url.path, **context},
    )
    # Analytics and marketing, the way many sites do it: on every page, unconditionally.
    response.set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=2 * ONE_YEAR)
    response.set_cookie("_fbp", f"fb.1.{secrets.randbelow(10**9)}", max_age=90 * 24 * 3600)
    return response


async def home(request: Request) -> Response:
    return render(request, "home.html")


async def photo(request: Request) -> Response:
    slug = request.path_params["slug"]
    if slug not in PHOTOS:
        raise HTTPException(404)
    return render(request, "photo.html", slug=slug, photo=PHOTOS[slug])


async def privacy(request: Request) -> Response:
    return render(request, "privacy.html")


async def like(request: Request) -> Response:
    slug = request.path_params["slug"]
    if slug not in PHOTOS:
        raise HTTPException(404)
    box = likebox(request)
    if slug not in box:
        box.append(slug)
    # A plain urlencoded form; parsed here so the example needs no python-multipart.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    back = form.get("next", ["/"])[0]
    if not back.startswith("/") or back.startswith(("//", "/\\")):
        back = "/"
    response = RedirectResponse(f"{back}?liked={slug}", status_code=303)
    response.set_cookie("likebox", ".".join(box), max_age=ONE_YEAR, samesite="lax")
    return response


async def collect(request: Request) -> Response:
    global beacons
    await request.body()
    beacons += 1
    return Response(status_code=204)


async def collect_count(request: Request) -> Response:
    return JSONResponse({"count": beacons})


app = Starlette(
    routes=[
        Route("/", home),
        Route("/photo/{slug}", photo),
        Route("/privacy", privacy),
        Route("/like/{slug}", like, methods=["POST"]),
        Route("/collect", collect, methods=["POST"]),
        Route("/collect/count", collect_count),
        Mount("/static", StaticFiles(directory=SITE / "static"), name="static"),
    ]
)


# -- cookieguard: everything the site needs for consent ------------------------------------

from jinja2 import pass_context  # noqa: E402
from jinja2.runtime import Context  # noqa: E402
from markupsafe import Markup  # noqa: E402

from cookieguard import DEFAULT_REGIONS, Consent, Policy  # noqa: E402
from cookieguard.asgi import ConsentMiddleware  # noqa: E402
from cookieguard.starlette import consent  # noqa: E402
from cookieguard.templates import declaration_html  # noqa: E402

DEV_SECRET = "dev-only-insecure-secret-do-not-deploy"
#: Every cookie the site sets, with what the cookie declaration on /privacy says about it.
COOKIES: dict[str, str | dict[str, object]] = {
    "likebox": {
        "category": "preferences",
        "provider": "this site",
        "max_age": ONE_YEAR,
        "purpose": {
            "en": "Remembers the photos you liked.",
            "de": "Speichert die Fotos, die Ihnen gefallen.",
            "fr": "Retient les photos que vous avez aimées.",
        },
    },
    "_ga": "analytics",
    "_ga_js": "analytics",
    "_fbp": "marketing",
}


def secret() -> str:
    configured = os.environ.get("COOKIEGUARD_SECRET")
    if configured:
        return configured
    print(
        "\n" + "!" * 78 + "\n!! COOKIEGUARD_SECRET is not set: signing consent with a PUBLIC"
        " development\n!! secret. Anyone can forge consent. Set COOKIEGUARD_SECRET before"
        " deploying.\n" + "!" * 78 + "\n",
        file=sys.stderr,
        flush=True,
    )
    return DEV_SECRET


policy = Policy(
    secret_keys=[secret()],
    cookies=COOKIES,
    privacy_url="/privacy",
    # Regions (docs/regions.md): the visitor's region, from the header Cloudflare sets, picks
    # the rule: opt-in banner in the EEA, UK and Switzerland, "Do Not Sell or Share" in the US
    # states with privacy laws, opt-in anywhere else. Only name a header your CDN sets (and
    # overwrites); locally, send CF-IPCountry / CF-Region-Code yourself to try a region.
    region_header="cloudflare",
    regions={**DEFAULT_REGIONS, "JP": "notice"},
    unknown_region="opt-in",
    receipts=os.environ.get("COOKIEGUARD_RECEIPTS")
    or str(Path(tempfile.gettempdir()) / "lumen-stock-starlette-receipts.sqlite3"),
)
app.add_middleware(ConsentMiddleware, policy=policy)


@pass_context
def cookie_consent(context: Context) -> Consent:
    """Templates may ask about consent (the like notice does): ``cookie_consent().allows(...)``."""
    return consent(context["request"])


@pass_context
def cookie_declaration(context: Context) -> Markup:
    """The cookie declaration in the visitor's language: ``{{ cookie_declaration() }}``."""
    return Markup(declaration_html(context["request"].scope, heading_level=4))


templates.env.globals["cookie_consent"] = cookie_consent
templates.env.globals["cookie_declaration"] = cookie_declaration


if __name__ == "__main__":
    import uvicorn

    port = int(os.environ.get("PORT", "8001"))
    print(f"Lumen Stock (Starlette) on http://127.0.0.1:{port}/", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
