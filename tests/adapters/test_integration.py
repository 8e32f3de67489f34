"""A Flask app and a Starlette app written with no thought of consent, wrapped unchanged."""

from __future__ import annotations

import logging
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


# -- middleware order (issue 9 item 3) ----------------------------------------------------------
#
# Starlette's add_middleware puts each new middleware OUTSIDE the ones added before it:
# user_middleware[0] is the outermost. A cookie-setting middleware outside ConsentMiddleware
# would send its cookies ungated, so start-up fails with the fix in the message.


def session_app(
    order: list[str], *, framework: str = "starlette", session_category: str = "preferences"
) -> Any:
    """``order`` lists middleware outermost first, as Starlette(middleware=[...]) does."""
    from fastapi import FastAPI
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.middleware.sessions import SessionMiddleware

    async def home(request: Request) -> HTMLResponse:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return HTMLResponse("<html><body>home</body></html>")

    policy = make_policy(cookies={"session": session_category, "_ga": "analytics"})
    available = {
        "consent": Middleware(AsgiMiddleware, policy=policy),
        "consent-trusting-timing": Middleware(AsgiMiddleware, policy=policy, cookie_free=[Timing]),
        "session": Middleware(SessionMiddleware, secret_key="session-secret-0123456789"),
        "gzip": Middleware(GZipMiddleware),
        "timing": Middleware(Timing),
    }
    stack = [available[name] for name in order]
    if framework == "fastapi":
        api = FastAPI(middleware=stack)
        api.add_route("/", home)
        return api
    return Starlette(routes=[Route("/", home)], middleware=stack)


class Timing:
    """A middleware of the site's own: cookieguard cannot know it sets no cookie."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def added_in_order(*names: str) -> Any:
    """The same stack built with add_middleware calls, in the order given."""
    from starlette.middleware.sessions import SessionMiddleware

    app = Starlette(routes=session_app([]).routes)
    for name in names:
        if name == "consent":
            app.add_middleware(
                AsgiMiddleware, policy=make_policy(cookies={"session": "preferences"})
            )
        else:
            app.add_middleware(SessionMiddleware, secret_key="session-secret-0123456789")
    return app


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_session_middleware_outside_fails_start_up_naming_the_fix(framework: str) -> None:
    app = session_app(["session", "consent"], framework=framework)
    with (
        pytest.raises(ValueError, match="runs inside SessionMiddleware") as failed,
        TestClient(app),
    ):
        pass
    assert "add_middleware(ConsentMiddleware, policy=...) AFTER" in str(failed.value)
    assert "FIRST in Starlette(middleware=[...])" in str(failed.value)


def test_consent_added_first_with_add_middleware_fails_start_up() -> None:
    """The order of the issue: ConsentMiddleware added, then SessionMiddleware."""
    with (
        pytest.raises(ValueError, match="SessionMiddleware"),
        TestClient(added_in_order("consent", "session")),
    ):
        pass


def test_consent_added_last_with_add_middleware_gates_the_session_cookie() -> None:
    with TestClient(added_in_order("session", "consent")) as client:
        assert client.get("/").headers.get_list("set-cookie") == []


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_consent_outermost_gates_the_session_cookie(framework: str) -> None:
    app = session_app(["consent", "session"], framework=framework)
    with TestClient(app, base_url="http://shop.example.com") as client:
        undecided = client.get("/")
        assert undecided.headers.get_list("set-cookie") == []  # a preferences cookie
        client.post("/_cookieguard/consent", data={"action": "accept_all", "next": "/"})
        granted = client.get("/")
        assert any(c.startswith("session=") for c in granted.headers.get_list("set-cookie"))


def test_a_necessary_session_cookie_passes_for_an_undecided_visitor() -> None:
    app = session_app(["consent", "session"], session_category="necessary")
    with TestClient(app) as client:
        set_cookies = client.get("/").headers.get_list("set-cookie")
    assert [c.split("=")[0] for c in set_cookies] == ["session"]


def test_cookie_free_middleware_may_run_outside() -> None:
    with TestClient(session_app(["gzip", "consent", "session"])) as client:
        assert client.get("/").headers.get_list("set-cookie") == []
    with TestClient(session_app(["timing", "consent-trusting-timing", "session"])) as client:
        assert client.get("/").status_code == 200


def test_an_unknown_middleware_outside_fails_start_up() -> None:
    app = session_app(["timing", "consent", "session"])
    with (
        pytest.raises(ValueError, match=r"inside Timing.*cookie_free=\[ThatMiddleware\]"),
        TestClient(app),
    ):
        pass


def test_without_lifespan_the_first_request_logs_the_wrong_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A test client used without ``with`` runs no start-up: the first request checks."""
    client = TestClient(session_app(["session", "consent"]))
    with caplog.at_level(logging.ERROR, logger="cookieguard"):
        assert client.get("/").status_code == 200  # never a 500 for the visitor
        client.get("/")
    assert caplog.text.count("runs inside SessionMiddleware") == 1


def test_a_session_middleware_wrapped_by_hand_outside_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Plain ASGI composition, no Starlette stack to read: scope["session"] gives it away."""
    from starlette.middleware.sessions import SessionMiddleware

    inner = Starlette(routes=session_app([]).routes)
    app = SessionMiddleware(
        AsgiMiddleware(inner, policy=make_policy()), secret_key="session-secret-0123456789"
    )
    with caplog.at_level(logging.ERROR, logger="cookieguard"):
        TestClient(app).get("/")
    assert "a session middleware runs outside cookieguard" in caplog.text


def test_a_consent_wrapped_app_mounted_under_a_session_stack_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The parent's stack does not list this ConsentMiddleware; its session still leaks."""
    from starlette.middleware import Middleware
    from starlette.middleware.sessions import SessionMiddleware
    from starlette.routing import Mount

    shop = AsgiMiddleware(Starlette(routes=session_app([]).routes), policy=make_policy())
    parent = Starlette(
        routes=[Mount("/shop", app=shop)],
        middleware=[Middleware(SessionMiddleware, secret_key="session-secret-0123456789")],
    )
    with caplog.at_level(logging.ERROR, logger="cookieguard"), TestClient(parent) as client:
        assert client.get("/shop/").status_code == 200
    assert "a session middleware runs outside cookieguard" in caplog.text


# -- install(): framework cookies declared for you (issue 9, framework integrations) ----------


def installed_app(framework: str, policy_cookies: dict[str, str], *, more: bool = False) -> Any:
    from fastapi import FastAPI
    from starlette.middleware.sessions import SessionMiddleware

    async def home(request: Request) -> HTMLResponse:
        request.session["user"] = "ada"
        response = HTMLResponse("<html><body>home</body></html>")
        response.set_cookie("_ga", "GA1.2")
        return response

    app: Starlette = FastAPI() if framework == "fastapi" else Starlette()
    app.add_route("/", home)
    app.add_middleware(
        SessionMiddleware, secret_key="session-secret-0123456789", session_cookie="sid"
    )
    cg_starlette.install(app, make_policy(cookies=policy_cookies))
    if more:  # added after install: outside cookieguard
        app.add_middleware(SessionMiddleware, secret_key="another-secret-0123456789")
    return app


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_install_declares_the_session_cookie_necessary(
    framework: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="cookieguard"):
        app = installed_app(framework, {"_ga": "analytics"})
    assert "Starlette" in caplog.text and "sid" in caplog.text and "necessary" in caplog.text
    with TestClient(app) as client:
        set_cookies = client.get("/").headers.get_list("set-cookie")
    assert [c.split("=")[0] for c in set_cookies] == ["sid"]  # the login survives, _ga does not


def test_install_leaves_a_declared_session_cookie_alone() -> None:
    with TestClient(installed_app("starlette", {"_ga": "analytics", "sid": "preferences"})) as c:
        assert c.get("/").headers.get_list("set-cookie") == []


def test_middleware_added_after_install_fails_start_up() -> None:
    app = installed_app("starlette", {}, more=True)
    with pytest.raises(ValueError, match="runs inside SessionMiddleware"), TestClient(app):
        pass


def test_install_twice_is_refused() -> None:
    app = installed_app("starlette", {})
    with pytest.raises(ValueError, match="already installed"):
        cg_starlette.install(app, make_policy())


def test_csrf_middleware_cookie_is_found_by_its_settings() -> None:
    from starlette.middleware.sessions import SessionMiddleware

    class CSRFMiddleware:
        def __init__(self, app: Any, cookie_name: str = "csrftoken") -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await self.app(scope, receive, send)

    app = Starlette()
    app.add_middleware(CSRFMiddleware, cookie_name="xsrf")
    app.add_middleware(SessionMiddleware, "session-secret-0123456789", "sess")
    assert cg_starlette.starlette_cookie_names(app) == ("sess", "xsrf")
