"""The template helpers render exactly what injection would insert."""

from __future__ import annotations

import flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import cookieguard.flask as cg_flask
import cookieguard.starlette as cg_starlette
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.templates import banner_html
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import make_policy

TEMPLATE = "<html><body><main>shop</main>{{ cookieguard_banner() }}</body></html>"


def test_flask_jinja_placement() -> None:
    app = flask.Flask("placed")
    app.jinja_env.globals["cookieguard_banner"] = cg_flask.banner

    @app.route("/shop")
    def shop() -> str:
        return flask.render_template_string(TEMPLATE)

    app.wsgi_app = WsgiMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, make_policy(banner=False, scripts=False)
    )
    client = app.test_client()
    html = client.get("/shop?x=1", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert html.count('id="cookie-consent"') == 1
    assert html.index('id="cookie-consent"') > html.index("</main>")
    assert 'value="/shop?x=1"' in html and "Tout accepter" in html
    assert html.count("banner.js?v=") == 1
    client.post("/_cookieguard/consent", data={"action": "reject_all"})
    decided = client.get("/shop").get_data(as_text=True)
    assert 'id="cookie-consent"' not in decided and "banner.js?v=" in decided


def test_starlette_placement() -> None:
    async def shop(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<html><body>{cg_starlette.banner(request)}</body></html>")

    app = Starlette(routes=[Route("/shop", shop)])
    app.add_middleware(AsgiMiddleware, policy=make_policy(banner=False, scripts=False))
    html = TestClient(app).get("/shop", headers={"Accept-Language": "de"}).text
    assert html.count('id="cookie-consent"') == 1 and "Alle akzeptieren" in html


def test_outside_the_middleware_renders_nothing() -> None:
    assert banner_html({}) == ""
    assert banner_html({"type": "http", "path": "/"}) == ""
