"""Header names as both adapters compare them: case-insensitive, surrounding whitespace gone.

Field names are case-insensitive (RFC 9110 section 5.1). The ASGI spec asks for lower-case
names and servers lower-case the request's, but apps do not all obey: Django's
``ASGIHandler`` sends ``b"Set-Cookie"`` and ``b"Content-Type"``, ASGI apps calling each other
may send ``b"Cookie"``, and a WSGI app may send ``"Set-Cookie "`` or ``"Set-Cookie\\t"``,
which waitress forwards as it is. Every name either adapter reads or rewrites goes through
:func:`name` (ASGI, bytes) or :func:`text_name` (WSGI, str), so a name that a server or a
browser could take for ``set-cookie`` is treated as one here too.

The common case, a name that is already lower-case, costs one ``islower()`` and two
one-byte checks.
"""

from __future__ import annotations

__all__ = ["name", "text_name"]


def name(raw: bytes) -> bytes:
    """``raw`` (an ASGI header name) lower-cased, surrounding whitespace stripped."""
    if raw.islower() and not raw[-1:].isspace() and not raw[:1].isspace():
        return raw
    return raw.strip().lower()


def text_name(raw: str) -> str:
    """``raw`` (a WSGI header name) lower-cased, surrounding whitespace stripped.

    ``str.lower`` and ``str.strip`` also fold non-ASCII look-alikes (the Kelvin sign lowers
    to ``k``, U+00A0 is whitespace): such a name may then be gated as ``set-cookie``, which
    fails closed; a server cannot send it as a valid name anyway.
    """
    if raw.islower() and raw.isascii() and not raw[-1:].isspace() and not raw[:1].isspace():
        return raw
    return raw.strip().lower()
