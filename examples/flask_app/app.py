"""Lumen Stock on Flask: a small stock-photo site written without consent in mind.

It sets a ``likebox`` cookie on every like, ``_ga`` and ``_fbp`` on every page, and its pages
carry Google's gtag.js snippet exactly as Google publishes it (not marked up for consent:
cookieguard's auto-blocking holds it until the visitor allows analytics). The tests route
``www.googletagmanager.com`` to ``static/analytics.js``, a stand-in that sets ``_ga_js`` and sends
a beacon to ``/collect``. The cookieguard part is the block at the bottom: the app above it is
unchanged.

Run: ``PORT=8000 python examples/flask_app/app.py`` (waitress on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path

from flask import Flask, Response, abort, jsonify, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as ResponseBase

SITE = Path(__file__).resolve().parent.parent / "site"
PHOTOS: dict[str, dict[str, str]] = json.loads((SITE / "photos.json").read_text("utf-8"))
ONE_YEAR = 365 * 24 * 3600

app = Flask(
    __name__,
    template_folder=str(SITE / "templates"),
    static_folder=str(SITE / "static"),
    static_url_path="/static",
)
_beacons = 0
_beacons_lock = threading.Lock()


def likebox() -> list[str]:
    """The photos this visitor liked, from the ``likebox`` cookie (``harbour.dunes``)."""
    return [slug for slug in request.cookies.get("likebox", "").split(".") if slug in PHOTOS]


def render(template: str, **context: object) -> Response:
    liked = request.args.get("liked")
    liked = liked if liked in PHOTOS else None
    box = likebox()
    if liked and liked not in box:
        box.append(liked)  # the like just made shows on this page, cookie or not
    here = request.path
    response = make_response(
        render_template(
            template,
            photos=PHOTOS,
            likebox=box,
            liked=liked,
            here=here,
            **context,
        )
    )
    # Analytics and marketing, the way many sites do it: on every page, unconditionally.
    response.set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=2 * ONE_YEAR)
    response.set_cookie("_fbp", f"fb.1.{secrets.randbelow(10**9)}", max_age=90 * 24 * 3600)
    return response


@app.get("/")
def home() -> Response:
    return render("home.html")


@app.get("/photo/<slug>")
def photo(slug: str) -> Response:
    if slug not in PHOTOS:
        abort(404)
    return render("photo.html", slug=slug, photo=PHOTOS[slug])


@app.get("/privacy")
def privacy() -> Response:
    return render("privacy.html")


@app.post("/like/<slug>")
def like(slug: str) -> ResponseBase:
    if slug not in PHOTOS:
        abort(404)
    box = likebox()
    if slug not in box:
        box.append(slug)
    back = request.form.get("next", "/")
    if not back.startswith("/") or back.startswith(("//", "/\\")):
        back = "/"
    response = redirect(f"{back}?liked={slug}", code=303)
    response.set_cookie("likebox", ".".join(box), max_age=ONE_YEAR, samesite="Lax")
    return response


@app.post("/collect")
def collect() -> tuple[str, int]:
    global _beacons
    with _beacons_lock:
        _beacons += 1
    return "", 204


@app.get("/collect/count")
def collect_count() -> Response:
    return jsonify(count=_beacons)


# -- cookieguard: everything the site needs for consent ------------------------------------

from markupsafe import Markup  # noqa: E402

from cookieguard import DEFAULT_REGIONS, Policy  # noqa: E402
from cookieguard.flask import consent  # noqa: E402
from cookieguard.templates import declaration_html  # noqa: E402
from cookieguard.wsgi import ConsentMiddleware  # noqa: E402

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
    or str(Path(tempfile.gettempdir()) / "lumen-stock-flask-receipts.sqlite3"),
)
app.wsgi_app = ConsentMiddleware(app.wsgi_app, policy)  # type: ignore[method-assign]
# Templates may ask about consent (the like notice does): {{ cookie_consent().allows(...) }}.
app.jinja_env.globals["cookie_consent"] = consent
# The cookie declaration, in the visitor's language: {{ cookie_declaration() }} (privacy.html).
app.jinja_env.globals["cookie_declaration"] = lambda: Markup(
    declaration_html(request.environ, heading_level=4)
)


if __name__ == "__main__":
    from waitress import serve  # type: ignore[import-untyped]

    port = int(os.environ.get("PORT", "8000"))
    print(f"Lumen Stock (Flask) on http://127.0.0.1:{port}/", flush=True)
    serve(app, host="127.0.0.1", port=port)
