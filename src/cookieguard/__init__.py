"""cookieguard: consent middleware for Python web apps.

Wrap a WSGI app with :class:`cookieguard.wsgi.ConsentMiddleware` or an ASGI app with
:class:`cookieguard.asgi.ConsentMiddleware`; configure both with one :class:`Policy`.
This module imports no web framework.
"""

from cookieguard.core._consent import UNDECIDED, Consent, ConsentCodec
from cookieguard.core._policy import (
    DEFAULT_CATEGORIES,
    NECESSARY,
    Category,
    Policy,
    secret_keys_from_env,
)
from cookieguard.core._regions import DEFAULT_REGIONS

__all__ = [
    "DEFAULT_CATEGORIES",
    "DEFAULT_REGIONS",
    "NECESSARY",
    "Category",
    "Consent",
    "ConsentCodec",
    "Policy",
    "get_consent",
    "secret_keys_from_env",
]

__version__ = "0.1.0"


def get_consent(scope_or_environ: object) -> Consent:
    """The visitor's consent from an ASGI scope or a WSGI environ (undecided if absent)."""
    getter = getattr(scope_or_environ, "get", None)
    found = getter("cookieguard.consent") if getter is not None else None
    return found if isinstance(found, Consent) else UNDECIDED
