"""The apps and request fixtures every benchmark shares.

Each factory returns a fresh callable; the same Cookie header (a typical 10-cookie header of a
decided visitor, whose ``session`` cookie is also valid for the peer) is sent to every variant
so that only the middleware differs.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# BENCH_SRC=/path/to/src benchmarks another checkout (A/B of a proposed change).
sys.path.insert(0, os.environ.get("BENCH_SRC") or str(Path(__file__).resolve().parents[1] / "src"))

from cookieguard import ConsentCodec, Policy
from cookieguard._consent import new_consent_id

SECRET = "x" * 32
COOKIES = {
    "likebox": "preferences",
    "_ga": "analytics",
    "_ga_*": "analytics",
    "_fbp": "marketing",
    "session": "necessary",
}
HOST = "127.0.0.1"

# ~20 KB of HTML with the </body> at the end, as a server-rendered page would have.
HTML = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title></head><body>"
    + b"".join(
        b'<article class="product"><h2>Product %d</h2><p>A fine thing, well made, cheap.</p>'
        b'<a href="/p/%d">details</a></article>\n' % (i, i)
        for i in range(160)
    )
)
HTML = HTML + b" " * (20 * 1024 - len(HTML) - len(b"</body></html>")) + b"</body></html>"
assert len(HTML) == 20 * 1024
TEXT = b"Hello, world!"
PATHS = {"text": "/", "cookies": "/cookies", "html": "/page"}


def make_policy(**extra: Any) -> Policy:
    return Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None, **extra)


def consent_token(policy: Policy, consent_id: str | None = None) -> str:
    return ConsentCodec(policy).dumps({"analytics", "preferences"}, consent_id or new_consent_id())


def starlette_session_value() -> str:
    """A valid cookie for Starlette's ``SessionMiddleware(secret_key=SECRET)``."""
    from itsdangerous import TimestampSigner

    data = base64.b64encode(json.dumps({"user": "ada", "cart": [1, 2, 3]}).encode())
    return TimestampSigner(SECRET).sign(data).decode()


def flask_session_value() -> str:
    """A valid cookie for Flask's session with ``secret_key=SECRET``."""
    import flask

    app = flask.Flask("sign")
    app.secret_key = SECRET
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps({"user": "ada", "cart": [1, 2, 3]}))


def cookie_header(policy: Policy, session: str, *, consent: bool = True) -> str:
    """A decided visitor's steady-state header: 10 declared cookies, all of them allowed.

    Without ``consent``: an undecided visitor in the steady state, who has no consent cookie
    and (after the first response deleted the rest) sends only the necessary ``session``.
    """
    if not consent:
        return f"session={session}"
    pairs = [
        ("_ga", "GA1.1.1234567890.1700000000"),
        ("_ga_ABC123XYZ", "GS1.1.1700000000.4.1.1700000300.0.0.0"),
        ("_ga_DEF456UVW", "GS1.1.1700000000.2.0.1700000100.0.0.0"),
        ("likebox", "1"),
        ("session", session),
        ("_ga_GHI789RST", "GS1.1.1700000000.1.1.1700000050.0.0.0"),
        ("_ga_JKL012OPQ", "GS1.1.1700000000.7.1.1700000700.0.0.0"),
        ("_ga_MNO345LMN", "GS1.1.1700000000.3.0.1700000200.0.0.0"),
        ("_ga_PQR678IJK", "GS1.1.1700000000.5.1.1700000500.0.0.0"),
    ]
    if consent:
        pairs.insert(3, ("cookie_consent", consent_token(policy)))
    return "; ".join(f"{k}={v}" for k, v in pairs)


# -- ASGI ---------------------------------------------------------------------------------


def starlette_app() -> Callable[..., Any]:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    async def text(request: Any) -> Response:
        return PlainTextResponse(TEXT)

    async def cookies(request: Any) -> Response:
        response = PlainTextResponse(TEXT)
        response.set_cookie("_ga", "GA1.1.99.1700000000", max_age=3600)
        response.set_cookie("_fbp", "fb.1.1700000000.42", max_age=3600)  # marketing: refused
        return response

    async def page(request: Any) -> Response:
        return Response(HTML, media_type="text/html")

    return Starlette(
        routes=[
            Route(PATHS["text"], text),
            Route(PATHS["cookies"], cookies),
            Route(PATHS["html"], page),
        ]
    )


class NoopASGI:
    """The floor: a pure ASGI middleware that wraps ``send`` and does nothing else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Any) -> None:
            await send(message)

        await self.app(scope, receive, send_wrapper)


def asgi_variant(name: str, policy: Policy | None = None) -> Callable[..., Any]:
    app = starlette_app()
    if name == "bare":
        return app
    if name == "noop":
        return NoopASGI(app)
    if name in ("cg_decided", "cg_undecided"):
        from cookieguard.asgi import ConsentMiddleware

        return ConsentMiddleware(app, policy=policy or make_policy())
    if name == "session":
        from starlette.middleware.sessions import SessionMiddleware

        return SessionMiddleware(app, secret_key=SECRET)
    raise ValueError(name)


# -- WSGI ---------------------------------------------------------------------------------


def flask_app(*, with_session: bool) -> Any:  # flask.Flask, imported lazily
    import flask

    app = flask.Flask("bench")
    if with_session:
        app.secret_key = SECRET

    @app.get(PATHS["text"])
    def text() -> Any:
        if with_session:
            flask.session.get("user")
        return flask.Response(TEXT, mimetype="text/plain")

    @app.get(PATHS["cookies"])
    def cookies() -> Any:
        if with_session:
            flask.session.get("user")
        response = flask.Response(TEXT, mimetype="text/plain")
        response.set_cookie("_ga", "GA1.1.99.1700000000", max_age=3600)
        response.set_cookie("_fbp", "fb.1.1700000000.42", max_age=3600)
        return response

    @app.get(PATHS["html"])
    def page() -> Any:
        if with_session:
            flask.session.get("user")
        return flask.Response(HTML, mimetype="text/html")

    return app


class NoopWSGI:
    """The floor: a WSGI wrapper that wraps ``start_response`` and does nothing else."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        def wrapped(status: str, headers: Any, exc_info: Any = None) -> Any:
            return start_response(status, headers, exc_info)

        return self.app(environ, wrapped)


def wsgi_variant(name: str, policy: Policy | None = None) -> Callable[..., Any]:
    if name == "session":
        session_app: Callable[..., Any] = flask_app(with_session=True).wsgi_app
        return session_app
    app: Callable[..., Any] = flask_app(with_session=False).wsgi_app
    if name == "bare":
        return app
    if name == "noop":
        return NoopWSGI(app)
    if name in ("cg_decided", "cg_undecided"):
        from cookieguard.wsgi import ConsentMiddleware

        return ConsentMiddleware(app, policy or make_policy())
    raise ValueError(name)
