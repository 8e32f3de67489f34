"""Starlette / FastAPI helpers: install the middleware in one call, read the visitor's consent.

``install(app, policy)`` adds :class:`~cookieguard.asgi.ConsentMiddleware` as the outermost
middleware and declares the cookies of the app's own session and CSRF middleware necessary,
so logins keep working for visitors who refuse everything::

    from cookieguard.starlette import install

    app = FastAPI()
    app.add_middleware(SessionMiddleware, secret_key=...)
    install(app, Policy(secret_keys=secret_keys_from_env(), cookies={"_ga": "analytics"}))

Call it after every other ``add_middleware``: Starlette runs the last added first, and a
cookie-setting middleware added later would run outside cookieguard (start-up then fails with
a message saying so).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from cookieguard import Consent, get_consent
from cookieguard.asgi import ConsentMiddleware
from cookieguard.core._frameworks import declare_necessary
from cookieguard.core._policy import Policy
from cookieguard.receipts import ReceiptStore
from cookieguard.site._site import _DEFAULT

__all__ = ["banner", "consent", "install", "starlette_cookie_names", "with_starlette_cookies"]

#: The CSRF cookie of starlette-csrf and asgi-csrf when ``cookie_name`` is not given.
CSRF_COOKIE_DEFAULT = "csrftoken"


def consent(connection: HTTPConnection) -> Consent:
    """The consent for a Starlette request or websocket (undecided outside the middleware).

    Usable as a FastAPI dependency: ``Depends(consent)``.
    """
    return get_consent(connection.scope)


def banner(connection: HTTPConnection) -> str:
    """The banner and asset tags for this request, as escaped HTML for a template.

    In Jinja2Templates: ``{{ cookieguard_banner(request) | safe }}`` after registering
    ``templates.env.globals["cookieguard_banner"] = banner``.
    """
    from cookieguard.templates import banner_html

    return banner_html(connection.scope)


def starlette_cookie_names(app: Starlette) -> tuple[str, ...]:
    """The cookies the app's own middleware set, from how it was added: Starlette's
    ``SessionMiddleware`` (``session_cookie``, default ``session``) and CSRF middleware such
    as starlette-csrf's or asgi-csrf's (``cookie_name``, default ``csrftoken``)."""
    from starlette.middleware.sessions import SessionMiddleware

    names: list[str] = []
    for entry in app.user_middleware:
        cls: Any = entry.cls
        args: tuple[Any, ...] = tuple(entry.args)
        kwargs: dict[str, Any] = dict(entry.kwargs)
        if isinstance(cls, type) and issubclass(cls, SessionMiddleware):
            # SessionMiddleware(app, secret_key, session_cookie="session", ...)
            names.append(str(kwargs.get("session_cookie", args[1] if len(args) > 1 else "session")))
        elif "csrf" in getattr(cls, "__name__", "").lower():
            names.append(str(kwargs.get("cookie_name", CSRF_COOKIE_DEFAULT)))
    return tuple(names)


def with_starlette_cookies(app: Starlette, policy: Policy) -> Policy:
    """``policy`` with :func:`starlette_cookie_names` declared ``necessary``, unless the
    policy already declares them; logs the names it declared, once."""
    return declare_necessary(policy, starlette_cookie_names(app), framework="Starlette")


def install(
    app: Starlette,
    policy: Policy,
    *,
    receipts: ReceiptStore | object | None = _DEFAULT,
    cookie_free: Iterable[type] = (),
) -> Policy:
    """Add cookieguard to a Starlette or FastAPI app as its outermost middleware.

    Declares the session and CSRF cookies of the middleware added so far necessary (see
    :func:`with_starlette_cookies`) and returns the policy in force. Call it after the app's
    other ``add_middleware`` calls.
    """
    if any(
        isinstance(entry.cls, type) and issubclass(entry.cls, ConsentMiddleware)
        for entry in app.user_middleware
    ):
        raise ValueError("cookieguard is already installed on this app; call install() once.")
    in_force = with_starlette_cookies(app, policy)
    app.add_middleware(
        ConsentMiddleware, policy=in_force, receipts=receipts, cookie_free=tuple(cookie_free)
    )
    return in_force
