"""Lumen Stock on Starlette: the same stock-photo site as the Flask example, on ASGI.

It sets a ``likebox`` cookie on every like, ``_ga`` and ``_fbp`` on every page, and its pages
carry Google's gtag.js snippet exactly as Google publishes it (not marked up for consent:
cookieguard's auto-blocking holds it until the visitor allows analytics). The tests route
``www.googletagmanager.com`` to ``static/analytics.js``, a stand-in that sets ``_ga_js`` and sends
a beacon to ``/collect``. The cookieguard part is the block at the bottom: the app above it is
unchanged. What the three examples share (photos, pages, cookies, consent settings) is in
``examples/site/lumen.py``.

Run: ``PORT=8001 python examples/starlette_app/app.py`` (uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import sys
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "site"))  # the shop (lumen.py)
from lumen import ONE_YEAR, PHOTOS, SITE, after_like, page_context, tracking_cookies

templates = Jinja2Templates(directory=SITE / "templates")
beacons = 0  # one event loop: no lock needed


def render(request: Request, template: str, **context: Any) -> Response:
    shown = page_context(
        liked=request.query_params.get("liked"),
        likebox=request.cookies.get("likebox", ""),
        here=request.url.path,
    )
    response = templates.TemplateResponse(request, template, {**shown, **context})
    for name, value, max_age in tracking_cookies():
        response.set_cookie(name, value, max_age=max_age)
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
    # A plain urlencoded form; parsed here so the example needs no python-multipart.
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    back, box = after_like(
        slug, likebox=request.cookies.get("likebox", ""), back=form.get("next", ["/"])[0]
    )
    response = RedirectResponse(back, status_code=303)
    response.set_cookie("likebox", box, max_age=ONE_YEAR, samesite="lax")
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
# The settings the three examples share (the cookie declaration, regions, the secret) are
# lumen.policy_settings, in examples/site/lumen.py.

from jinja2 import pass_context  # noqa: E402
from jinja2.runtime import Context  # noqa: E402
from lumen import policy_settings  # noqa: E402
from markupsafe import Markup  # noqa: E402

from cookieguard import Consent, Policy  # noqa: E402
from cookieguard.asgi import ConsentMiddleware  # noqa: E402
from cookieguard.starlette import consent  # noqa: E402
from cookieguard.templates import declaration_html  # noqa: E402

policy = Policy(**policy_settings("starlette"))
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
    import os

    import uvicorn

    port = int(os.environ.get("PORT", "8001"))
    print(f"Lumen Stock (Starlette) on http://127.0.0.1:{port}/", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
