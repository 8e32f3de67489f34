"""``cookieguard.flask.install``: Flask's own cookies (session, Flask-Login's remember-me)
declared necessary from the app's configuration, so logins survive "Reject all"."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, Response, session
from werkzeug.test import TestResponse

from cookieguard import Policy
from cookieguard.flask import install
from cookieguard.wsgi import ConsentMiddleware

SECRET = "flask-install-secret-0123456789abcdef"


def make_app(**config: str) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="flask-secret", **config)

    @app.get("/login")
    def login() -> Response:
        # What flaskr and Flask-Login do: user id in the session, remember-me cookie.
        session["user_id"] = 1
        response = Response("<html><body>in</body></html>", mimetype="text/html")
        remember = app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
        response.set_cookie(remember, "1|digest", max_age=3600)
        response.set_cookie("_ga", "GA1.1.1", max_age=3600)
        return response

    @app.get("/me")
    def me() -> dict[str, object]:
        return {"user_id": session.get("user_id")}

    return app


def policy(**cookies: str) -> Policy:
    return Policy(secret_keys=[SECRET], cookies={"_ga": "analytics", **cookies}, receipts=None)


def stored(response: TestResponse) -> set[str]:
    return {
        line.split("=", 1)[0]
        for line in response.headers.getlist("Set-Cookie")
        if "max-age=0" not in line.lower()
    }


def test_plain_middleware_blocks_the_session_so_logins_break() -> None:
    # The first hour of a newcomer: nothing declared, every login is lost.
    app = make_app()
    app.wsgi_app = ConsentMiddleware(app.wsgi_app, policy())  # type: ignore[method-assign]
    client = app.test_client()
    assert "session" not in stored(client.get("/login"))


def test_install_declares_session_and_remember_cookie_necessary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app()
    with caplog.at_level(logging.INFO, logger="cookieguard"):
        install(app, policy())
    lines = [r.getMessage() for r in caplog.records if "declared necessary" in r.getMessage()]
    assert len(lines) == 1 and "session, remember_token" in lines[0]
    client = app.test_client()
    response = client.get("/login")
    assert {"session", "remember_token"} <= stored(response)
    assert "_ga" not in stored(response)
    assert client.get("/me").get_json() == {"user_id": 1}


def test_install_reads_configured_names() -> None:
    app = make_app(SESSION_COOKIE_NAME="shop_session", REMEMBER_COOKIE_NAME="shop_remember")
    install(app, policy())
    response = app.test_client().get("/login")
    assert {"shop_session", "shop_remember"} <= stored(response)


def test_the_policy_may_say_otherwise() -> None:
    app = make_app()
    install(app, policy(remember_token="preferences"))
    response = app.test_client().get("/login")
    assert "session" in stored(response)
    assert "remember_token" not in stored(response)


def test_install_registers_template_helpers_and_refuses_a_second_install() -> None:
    app = make_app()
    middleware = install(app, policy())
    assert app.wsgi_app is middleware
    assert {"cookie_consent", "cookieguard_banner"} <= set(app.jinja_env.globals)
    with pytest.raises(ValueError, match="already installed"):
        install(app, policy())
