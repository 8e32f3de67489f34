"""Header names as both adapters compare them: case-insensitive, surrounding whitespace gone.

Field names are case-insensitive (RFC 9110 section 5.1). The ASGI spec asks for lower-case
names and servers lower-case the request's, but apps do not all obey: Django's
``ASGIHandler`` sends ``b"Set-Cookie"`` and ``b"Content-Type"``, ASGI apps calling each other
may send ``b"Cookie"``, and a WSGI app may send ``"Set-Cookie "`` or ``"Set-Cookie\\t"``,
which waitress forwards as it is. Every name either adapter reads or rewrites goes through
:func:`name` (ASGI, bytes) or :func:`text_name` (WSGI, str), so a name that a server or a
browser could take for ``set-cookie`` is treated as one here too.

This runs for every header of every request and response, so the answers are remembered:
``known(raw) or name(raw)`` costs one dict lookup for a name seen before (the memo is bounded
in entries and name length; request header names come from visitors).
"""

from __future__ import annotations

__all__ = ["known", "known_text", "name", "text_name"]

_MEMO_ENTRIES = 1024
_MEMO_NAME_LENGTH = 64

_names: dict[bytes, bytes] = {}
_text_names: dict[str, str] = {}

#: ``known(raw)``: the normalised ASGI name if ``raw`` was seen before, else ``None``.
known = _names.get
#: ``known_text(raw)``: the same for WSGI names.
known_text = _text_names.get


def name(raw: bytes) -> bytes:
    """``raw`` (an ASGI header name) lower-cased, surrounding whitespace stripped."""
    found = _names.get(raw)
    if found is not None:
        return found
    if raw.islower() and not raw[-1:].isspace() and not raw[:1].isspace():
        found = raw
    else:
        found = raw.strip().lower()
    if len(raw) <= _MEMO_NAME_LENGTH and len(_names) < _MEMO_ENTRIES:
        _names[raw] = found
    return found


def text_name(raw: str) -> str:
    """``raw`` (a WSGI header name) lower-cased, surrounding whitespace stripped.

    ``str.lower`` and ``str.strip`` also fold non-ASCII look-alikes (the Kelvin sign lowers
    to ``k``, U+00A0 is whitespace): such a name may then be gated as ``set-cookie``, which
    fails closed; a server cannot send it as a valid name anyway.
    """
    found = _text_names.get(raw)
    if found is not None:
        return found
    found = raw.strip().lower()
    if len(raw) <= _MEMO_NAME_LENGTH and len(_text_names) < _MEMO_ENTRIES:
        _text_names[raw] = found
    return found


def _learn(*names: str) -> None:
    for lower in names:
        title = "-".join(part.capitalize() for part in lower.split("-"))
        for spelling in (lower, title):
            name(spelling.encode("latin-1"))
            text_name(spelling)


# The names the adapters look for, as servers and frameworks usually spell them.
_learn(
    "cookie",
    "host",
    "sec-gpc",
    "accept-language",
    "accept",
    "accept-encoding",
    "user-agent",
    "connection",
    "set-cookie",
    "content-type",
    "content-length",
    "content-encoding",
    "vary",
    "cache-control",
    "location",
)
