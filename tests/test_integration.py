"""A Flask app and a Starlette app written with no thought of consent, wrapped unchanged."""

from __future__ import annotations

from typing import Any

import flask
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import cookieguard.flask as cg_flask
import cookieguard.starlette as cg_starlette
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import make_policy

OPTIONAL = ("likebox", "_ga", "_fbp")


def flask_site() -> Any:
    app = flask.Flask("shop")

    @app.route("/")
    def home() -> flask.Response:
        seen = sorted(flask.request.cookies)
        consent = cg_flask.consent()
        body = f"<html><body>seen={seen} decided={consent.decided}</body></html>"
        response = flask.make_response(body)
        response.set_cookie("likebox", "1,2")
        response.set_cookie("_ga", "GA1.2")
        response.set_cookie("_fbp", "fb.1")
        return response

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, make_policy())  # type: ignore[method-assign]
    return app


def starlette_site() -> Starlette:
    async def home(request: Request) -> HTMLResponse:
        consent = cg_starlette.consent(request)
        body = f"<html><body>seen={sorted(request.cookies)} decided={consent.decided}</body></html>"
        response = HTMLResponse(body)
        response.set_cookie("likebox", "1,2")
        response.set_cookie("_ga", "GA1.2")
        response.set_cookie("_fbp", "fb.1")
        return response

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(AsgiMiddleware, policy=make_policy())
    return app


class Site:
    """Both frameworks' own test clients behind one face."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "flask":
            self.client: Any = flask_site().test_client()
        else:
            self.client = TestClient(starlette_site(), base_url="http://shop.example.com")

    def get(self, path: str) -> tuple[list[str], str]:
        response = self.client.get(path)
        if self.kind == "flask":
            return response.headers.getlist("Set-Cookie"), response.get_data(as_text=True)
        return response.headers.get_list("set-cookie"), response.text

    def post(self, path: str, data: dict[str, str]) -> int:
        response = self.client.post(path, data=data)
        return int(response.status_code)

    def jar(self) -> set[str]:
        if self.kind == "flask":
            return {c.key for c in self.client._cookies.values()}
        return set(self.client.cookies.keys())


def stores(set_cookies: list[str], name: str) -> bool:
    return any(c.startswith(name + "=") and "Max-Age=0" not in c for c in set_cookies)


def deletes(set_cookies: list[str], name: str) -> bool:
    return any(c.startswith(name + "=") and "Max-Age=0" in c for c in set_cookies)


@pytest.fixture(params=["flask", "starlette"])
def site(request: pytest.FixtureRequest) -> Site:
    return Site(request.param)


def test_full_visitor_story(site: Site) -> None:
    # Before consent: none of the app's optional cookies leave the server.
    set_cookies, body = site.get("/")
    assert not any(stores(set_cookies, n) for n in OPTIONAL)
    assert "decided=False" in body and 'id="cookie-consent"' in body
    assert site.jar() == set()

    # Accept all (a plain form post, as the banner does without JavaScript).
    assert site.post("/_cookieguard/consent", {"action": "accept_all", "next": "/"}) in (303, 200)
    set_cookies, body = site.get("/")
    assert all(stores(set_cookies, n) for n in OPTIONAL)
    assert "decided=True" in body and 'id="cookie-consent"' not in body
    assert set(OPTIONAL) <= site.jar()
    # The app reads them on the next request.
    _, body = site.get("/")
    assert "'likebox'" in body and "'_ga'" in body

    # Reject all: the cookies the browser still holds are expired.
    site.post("/_cookieguard/consent", {"action": "reject_all", "next": "/"})
    assert site.jar() == {"cookie_consent"}
    set_cookies, body = site.get("/")
    assert not any(stores(set_cookies, n) for n in OPTIONAL)
    assert body.count("'") == 2 and "'cookie_consent'" in body


def test_withdrawal_response_deletes_what_was_held(site: Site) -> None:
    site.post("/_cookieguard/consent", {"action": "accept_all", "next": "/"})
    site.get("/")
    payload = {"action": "save", "categories": ["preferences"]}
    response = site.client.post("/_cookieguard/consent", json=payload)
    headers = (
        response.headers.getlist("Set-Cookie")
        if site.kind == "flask"
        else response.headers.get_list("set-cookie")
    )
    assert deletes(headers, "_ga") and deletes(headers, "_fbp")
    assert not deletes(headers, "likebox")
    assert site.jar() == {"cookie_consent", "likebox"}
