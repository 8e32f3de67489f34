"""Header names as both adapters compare them: case-insensitive, surrounding whitespace gone.

Field names are case-insensitive (RFC 9110 section 5.1). The ASGI spec asks for lower-case
names and servers lower-case the request's, but apps do not all obey: Django's
``ASGIHandler`` sends ``b"Set-Cookie"`` and ``b"Content-Type"``, ASGI apps calling each other
may send ``b"Cookie"``, and a WSGI app may send ``"Set-Cookie "`` or ``"Set-Cookie\\t"``,
which waitress forwards as it is. Every name either adapter reads or rewrites goes through
:func:`name` (ASGI, bytes) or :func:`text_name` (WSGI, str), so a name that a server or a
browser could take for ``set-cookie`` is treated as one here too.

This runs for every header of every request and response, so the answers are remembered:
the adapters ask for a field's *role* (:func:`role`, :func:`text_role`: which of the few
fields they act on it is, if any), and ``known_role(raw)`` answers with one dict lookup for
a name seen before (the memos are bounded in entries and name length; request header names
come from visitors, and a name the full memo cannot keep is worked out again each time).
"""

from __future__ import annotations

import enum

__all__ = [
    "ACCEPT_LANGUAGE",
    "CONTENT_ENCODING",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "COOKIE",
    "COOKIE_RESPELLED",
    "ETAG",
    "HOST",
    "IF_MODIFIED_SINCE",
    "IF_NONE_MATCH",
    "LAST_MODIFIED",
    "OTHER",
    "REGION",
    "SEC_GPC",
    "SET_COOKIE",
    "Role",
    "acted_on",
    "html_type",
    "known_html_type",
    "known_role",
    "known_text_role",
    "maybe_html",
    "name",
    "role",
    "text_name",
    "text_role",
]

#: The media types of the pages cookieguard edits.
HTML_TYPES = ("text/html", "application/xhtml+xml")


def maybe_html(content_type: str) -> bool:
    """A cheap first look at a Content-Type: could this body be HTML we edit?"""
    return content_type[:24].lower().startswith(HTML_TYPES)


_MEMO_ENTRIES = 1024
_MEMO_NAME_LENGTH = 64

_names: dict[bytes, bytes] = {}
_text_names: dict[str, str] = {}


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


# -- roles: what an adapter does with a field, in one lookup ----------------------------------
#
# The adapters' loops over request and response headers ask one question per field: "is
# this one of the few I act on, and which?". A role answers it with a single dict lookup of
# the raw name (``known_role(raw)``), and ``OTHER`` lets every other field go by with one
# test. Roles are compared by identity (``what is COOKIE``): the memo holds these very
# objects, and ``is`` costs less than ``==`` on ints in the interpreter's loop.


class Role(enum.Enum):
    """Which of the few header fields the adapters act on a field is (``OTHER``: none).

    Members are compared by identity (``what is Role.COOKIE``), as fast as a bare int and
    named in a debugger. Every member is truthy, so ``known_role(raw) or role(raw)`` calls
    :func:`role` only on a miss.
    """

    OTHER = "other"
    COOKIE = "cookie"  # request Cookie, spelled b"cookie"
    COOKIE_RESPELLED = "cookie (respelled)"  # b"Cookie", b" cookie"
    HOST = "host"
    SEC_GPC = "sec-gpc"
    ACCEPT_LANGUAGE = "accept-language"
    SET_COOKIE = "set-cookie"
    CONTENT_TYPE = "content-type"
    CONTENT_ENCODING = "content-encoding"
    CONTENT_LENGTH = "content-length"
    # Validators (cookieguard.core._validators): request conditions, response validators.
    IF_NONE_MATCH = "if-none-match"
    IF_MODIFIED_SINCE = "if-modified-since"
    ETAG = "etag"
    LAST_MODIFIED = "last-modified"
    # The app's own policy, enforced or reported (its nonces go on our tags: html/_nonces).
    CONTENT_SECURITY_POLICY = "content-security-policy"
    # A request header carrying the visitor's region (a policy's region_header, see
    # cookieguard.core._regions): only names a policy asked for (learn_region).
    REGION = "region"


OTHER = Role.OTHER
COOKIE = Role.COOKIE
COOKIE_RESPELLED = Role.COOKIE_RESPELLED
HOST = Role.HOST
SEC_GPC = Role.SEC_GPC
ACCEPT_LANGUAGE = Role.ACCEPT_LANGUAGE
SET_COOKIE = Role.SET_COOKIE
CONTENT_TYPE = Role.CONTENT_TYPE
CONTENT_ENCODING = Role.CONTENT_ENCODING
CONTENT_LENGTH = Role.CONTENT_LENGTH
IF_NONE_MATCH = Role.IF_NONE_MATCH
IF_MODIFIED_SINCE = Role.IF_MODIFIED_SINCE
ETAG = Role.ETAG
LAST_MODIFIED = Role.LAST_MODIFIED
CONTENT_SECURITY_POLICY = Role.CONTENT_SECURITY_POLICY
REGION = Role.REGION

_ROLE_OF_NAME = {
    "cookie": COOKIE,
    "host": HOST,
    "sec-gpc": SEC_GPC,
    "accept-language": ACCEPT_LANGUAGE,
    "set-cookie": SET_COOKIE,
    "content-type": CONTENT_TYPE,
    "content-encoding": CONTENT_ENCODING,
    "content-length": CONTENT_LENGTH,
    "if-none-match": IF_NONE_MATCH,
    "if-modified-since": IF_MODIFIED_SINCE,
    "etag": ETAG,
    "last-modified": LAST_MODIFIED,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "content-security-policy-report-only": CONTENT_SECURITY_POLICY,
}
_ROLE_OF_BYTES = {key.encode("latin-1"): value for key, value in _ROLE_OF_NAME.items()}

_roles: dict[bytes, Role] = {}
_text_roles: dict[str, Role] = {}

#: ``known_role(raw)``: the role of an ASGI header name seen before, else ``None``
#: (then ask :func:`role`, which is always right).
known_role = _roles.get
#: ``known_text_role(raw)``: the same for WSGI names.
known_text_role = _text_roles.get


def role(raw: bytes) -> Role:
    """What the adapters do with the ASGI header named ``raw`` (see :func:`name`)."""
    found = _roles.get(raw)
    if found is not None:
        return found
    normal = name(raw)
    found = _ROLE_OF_BYTES.get(normal, OTHER)
    if found is COOKIE and normal != raw:
        found = COOKIE_RESPELLED
    if len(raw) <= _MEMO_NAME_LENGTH and len(_roles) < _MEMO_ENTRIES:
        _roles[raw] = found
    return found


def text_role(raw: str) -> Role:
    """What the adapters do with the WSGI header named ``raw`` (see :func:`text_name`)."""
    found = _text_roles.get(raw)
    if found is not None:
        return found
    found = _ROLE_OF_NAME.get(text_name(raw), OTHER)
    if len(raw) <= _MEMO_NAME_LENGTH and len(_text_roles) < _MEMO_ENTRIES:
        _text_roles[raw] = found
    return found


# -- Content-Type: could this body be HTML? -------------------------------------------------

_MAX_TYPES = 256
_html_types: dict[str | bytes, str] = {}

#: ``known_html_type(value)``: what :func:`html_type` said about this Content-Type value
#: before, else ``None``.
known_html_type = _html_types.get


def html_type(value: str | bytes) -> str:
    """A response's Content-Type as text (leading whitespace gone) if its body may be HTML
    we edit (:func:`maybe_html`), else ``""``.

    A site sends the same few Content-Types over and over, so verdicts are remembered (a
    bounded memo: one lookup instead of decoding, lower-casing and comparing each time).
    """
    found = _html_types.get(value)
    if found is not None:
        return found
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).lstrip()
    found = text if maybe_html(text) else ""
    if len(value) <= _MEMO_NAME_LENGTH and len(_html_types) < _MAX_TYPES:
        _html_types[value] = found
    return found


def acted_on(lower: str) -> bool:
    """True if the adapters act on the header ``lower`` for another purpose (Cookie, Host...):
    such a header can carry no region."""
    return _ROLE_OF_NAME.get(lower, REGION) is not REGION


def learn_region(names: tuple[str, ...]) -> None:
    """Give the request headers ``names`` (lower-case) the role ``REGION``, so the adapters'
    one loop over a request's headers also finds its region (called once per policy that
    reads one; a name another policy asked for is passed on and ignored by the others)."""
    if all(_ROLE_OF_NAME.get(lower) is REGION for lower in names):
        return
    for lower in names:
        if acted_on(lower):
            continue  # never take a role the adapters act on (Policy refuses such names)
        _ROLE_OF_NAME[lower] = REGION
        _ROLE_OF_BYTES[lower.encode("latin-1")] = REGION
    # Spellings already judged OTHER are judged again.
    for raw in [raw for raw, found in _roles.items() if found is OTHER]:
        if name(raw).decode("latin-1") in names:
            del _roles[raw]
    for text in [text for text, found in _text_roles.items() if found is OTHER]:
        if text_name(text) in names:
            del _text_roles[text]
    _learn(*names)


def _learn(*names: str) -> None:
    for lower in names:
        title = "-".join(part.capitalize() for part in lower.split("-"))
        for spelling in (lower, title):
            name(spelling.encode("latin-1"))
            text_name(spelling)
            role(spelling.encode("latin-1"))
            text_role(spelling)


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
    # Other fields browsers and servers commonly send: known, they cost one lookup each.
    "referer",
    "origin",
    "dnt",
    "priority",
    "pragma",
    "upgrade-insecure-requests",
    "if-none-match",
    "if-modified-since",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-dest",
    "sec-fetch-user",
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-request-id",
    "date",
    "server",
    "etag",
    "last-modified",
    "expires",
    "content-security-policy",
    "strict-transport-security",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)
