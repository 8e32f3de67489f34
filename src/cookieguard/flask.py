"""Flask helpers: install the middleware in one call, read the visitor's consent inside a view
or template.

``install(app, policy)`` wraps ``app.wsgi_app`` and declares Flask's own cookies necessary, so
sessions and logins keep working for visitors who refuse everything::

    from cookieguard.flask import install

    install(app, Policy(secret_keys=secret_keys_from_env(), cookies={"_ga": "analytics"}))
"""

from __future__ import annotations

from flask import Flask, request
from markupsafe import Markup

from cookieguard import Consent, get_consent
from cookieguard.core._frameworks import declare_necessary
from cookieguard.core._policy import Policy
from cookieguard.receipts import ReceiptStore
from cookieguard.site._site import _DEFAULT
from cookieguard.wsgi import ConsentMiddleware

__all__ = ["banner", "consent", "flask_cookie_names", "install", "with_flask_cookies"]

#: Flask-Login's remember-me cookie when ``REMEMBER_COOKIE_NAME`` is not configured.
REMEMBER_COOKIE_DEFAULT = "remember_token"


def consent() -> Consent:
    """The consent for the current Flask request (undecided outside the middleware)."""
    return get_consent(request.environ)


def banner() -> Markup:
    """The banner and asset tags for the current request, ready for a Jinja template.

    Register it with ``app.jinja_env.globals["cookieguard_banner"] = banner`` and write
    ``{{ cookieguard_banner() }}`` before ``</body>``.
    """
    from cookieguard.templates import banner_html

    return Markup(banner_html(request.environ))


def flask_cookie_names(app: Flask) -> tuple[str, ...]:
    """The cookies Flask and its common extensions set, from the app's configuration: the
    session cookie (``SESSION_COOKIE_NAME``; Flask-WTF keeps its CSRF token in the session)
    and Flask-Login's remember-me cookie (``REMEMBER_COOKIE_NAME``)."""
    config = app.config
    names = (
        config.get("SESSION_COOKIE_NAME") or "session",
        config.get("REMEMBER_COOKIE_NAME") or REMEMBER_COOKIE_DEFAULT,
    )
    return tuple(str(name) for name in names)


def with_flask_cookies(app: Flask, policy: Policy) -> Policy:
    """``policy`` with :func:`flask_cookie_names` declared ``necessary``, unless the policy
    already declares them; logs the names it declared, once."""
    return declare_necessary(policy, flask_cookie_names(app), framework="Flask")


def install(
    app: Flask,
    policy: Policy,
    *,
    receipts: ReceiptStore | object | None = _DEFAULT,
) -> ConsentMiddleware:
    """Put cookieguard in front of a Flask app and return the middleware.

    Wraps ``app.wsgi_app`` (so the test client and every server go through it), declares the
    session and remember-me cookies necessary (see :func:`with_flask_cookies`), and registers
    the template globals ``cookie_consent()`` and ``cookieguard_banner()``. Call it after the
    app's configuration is loaded (the cookie names are read from ``app.config``).
    """
    if "cookieguard" in app.extensions:
        raise ValueError(
            f"cookieguard is already installed on the Flask app {app.name!r}; call install() once."
        )
    middleware = ConsentMiddleware(app.wsgi_app, with_flask_cookies(app, policy), receipts=receipts)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    app.extensions["cookieguard"] = middleware
    app.jinja_env.globals.setdefault("cookie_consent", consent)
    app.jinja_env.globals.setdefault("cookieguard_banner", banner)
    return middleware
