"""Lumen Stock on Flask: a small stock-photo site written without consent in mind.

It sets a ``likebox`` cookie on every like, ``_ga`` and ``_fbp`` on every page, and its pages
carry Google's gtag.js snippet exactly as Google publishes it (not marked up for consent:
cookieguard's auto-blocking holds it until the visitor allows analytics). The tests route
``www.googletagmanager.com`` to ``static/analytics.js``, a stand-in that sets ``_ga_js`` and sends
a beacon to ``/collect``. The cookieguard part is the block at the bottom: the app above it is
unchanged. What the three examples share (photos, pages, cookies, consent settings) is in
``examples/site/lumen.py``.

Run: ``PORT=8000 python examples/flask_app/app.py`` (waitress on 127.0.0.1).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from flask import Flask, Response, abort, jsonify, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as ResponseBase

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "site"))  # the shop (lumen.py)
from lumen import ONE_YEAR, PHOTOS, SITE, after_like, page_context, tracking_cookies

app = Flask(
    __name__,
    template_folder=str(SITE / "templates"),
    static_folder=str(SITE / "static"),
    static_url_path="/static",
)
_beacons = 0
_beacons_lock = threading.Lock()


def render(template: str, **context: object) -> Response:
    shown = page_context(
        liked=request.args.get("liked"),
        likebox=request.cookies.get("likebox", ""),
        here=request.path,
    )
    response = make_response(render_template(template, **shown, **context))
    for name, value, max_age in tracking_cookies():
        response.set_cookie(name, value, max_age=max_age)
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
    back, box = after_like(
        slug, likebox=request.cookies.get("likebox", ""), back=request.form.get("next", "/")
    )
    response = redirect(back, code=303)
    response.set_cookie("likebox", box, max_age=ONE_YEAR, samesite="Lax")
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
# The settings the three examples share (the cookie declaration, regions, the secret) are
# lumen.policy_settings, in examples/site/lumen.py.

from lumen import policy_settings  # noqa: E402
from markupsafe import Markup  # noqa: E402

from cookieguard import Policy  # noqa: E402
from cookieguard.flask import consent  # noqa: E402
from cookieguard.templates import declaration_html  # noqa: E402
from cookieguard.wsgi import ConsentMiddleware  # noqa: E402

policy = Policy(**policy_settings("flask"))
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
