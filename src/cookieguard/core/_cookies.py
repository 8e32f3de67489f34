"""Cookie grammar the middleware needs beyond werkzeug: names, deletions, hosts, clearing."""

from __future__ import annotations

import calendar
import math
import re
import time
from collections.abc import Iterable

from werkzeug.http import dump_cookie

# RFC 6265 section 4.1.1: cookie-name is an RFC 2616 token.
COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

# -- hosts -------------------------------------------------------------------------------

MAX_HOST = 253  # RFC 1035 section 2.3.4 / RFC 1123 section 2.1: a name of at most 253 octets
MAX_PARENT_DOMAINS = 5  # parents of the host a deletion is also sent for
# RFC 1123 section 2.1: labels of letters, digits and inner hyphens, 1-63 octets; the
# Host header may add ":port" (RFC 9110 section 7.2) and a fully qualified name a final dot.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_HEADER = re.compile(rf"({_LABEL}(?:\.{_LABEL})*)\.?(?::[0-9]{{1,5}})?")


def host_name(host: str) -> str | None:
    """The host name of a ``Host`` header value, lower-cased and without port or final dot.

    ``None`` for anything that is not an RFC 1123 host name (too long, bad labels, IP
    literals are accepted as names only in their dotted IPv4 form).
    """
    if len(host) > MAX_HOST + 7:  # name, final dot, ":65535"
        return None
    match = _HOST_HEADER.fullmatch(host.strip().lower())
    if match is None or len(match.group(1)) > MAX_HOST:
        return None
    return match.group(1)


def cookie_domains(host: str) -> tuple[str, ...]:
    """Domains a cookie visible to ``host`` may have been set for: the host and its parents.

    ``www.shop.example`` gives ``www.shop.example``, ``shop.example``. A host that is not a
    valid host name, an IP address or a single label (``localhost``) gives nothing
    (host-only cookies only). Deep hosts are bounded: the host itself and the
    :data:`MAX_PARENT_DOMAINS` parents nearest the top, where registrable domains are.
    """
    name = host_name(host)
    if name is None or "." not in name or name.rsplit(".", 1)[1].isdigit():
        return ()
    labels = name.split(".")
    parents = tuple(".".join(labels[i:]) for i in range(1, len(labels) - 1))
    return (name, *parents[-MAX_PARENT_DOMAINS:])


# -- Set-Cookie values -------------------------------------------------------------------

_WSP = " \t"  # RFC 6265 section 5.2: whitespace trimmed around names and values is WSP only
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_DELTA_SECONDS = re.compile(r"-?[0-9]+")  # RFC 6265 section 5.2.2 (leading '-' allowed)
_MAX_ATTRIBUTE_VALUE = 1024  # RFC 6265bis section 5.6: longer attribute values are ignored
_ALWAYS = -math.inf


def set_cookie_name(value: str) -> str:
    """The name under which the browser will send back the cookie ``Set-Cookie: value`` sets.

    RFC 6265 section 5.2 steps 1-5. A nameless cookie (``=_ga=1``, allowed by RFC 6265bis and
    browsers) comes back as ``Cookie: _ga=1``, so its name is read from its value.
    """
    pair = value.split(";", 1)[0]
    name, eq, rest = pair.partition("=")
    name = name.strip()
    if not name and eq:
        name = rest.partition("=")[0].strip()
    return name


def deletion_time(value: str) -> float | None:
    """From when on ``Set-Cookie: value`` removes its cookie instead of storing it.

    ``-inf`` for a deletion at any time (``Max-Age`` zero or negative), a Unix time for an
    ``Expires`` date, ``None`` when the value never deletes (it stores a cookie, or browsers
    ignore it). Parsed the way RFC 6265 section 5.2 says: attributes split on ``;``, names
    compared case-insensitively, invalid values ignored, the last valid ``Max-Age`` wins over
    the last valid ``Expires`` (section 5.3 step 3).

    Only a value that every reading browsers follow treats as a deletion counts; where the
    readings differ the answer is ``None`` (and the value is gated like any other cookie):

    - RFC 6265bis (section 5.6) ignores a line with a control character (older browsers cut
      it short at NUL, CR or LF), a name and value over 4096 octets, and any attribute value
      over 1024 octets;
    - Chromium and Firefox read only the *last* ``Max-Age`` and fall back to ``Expires`` when
      it is invalid (and to a session cookie when that is too), where RFC 6265 takes the last
      *valid* one.
    """
    if _CONTROL.search(value) is not None:
        return None
    pair, _, attributes = value.partition(";")
    name, eq, rest = pair.partition("=")
    if not eq or not name.strip(_WSP) or len(name.strip(_WSP)) + len(rest.strip(_WSP)) > 4096:
        return None  # RFC 6265 section 5.2 steps 2 and 5; RFC 6265bis section 5.6 step 5
    # (is Max-Age, value) for each Max-Age and Expires attribute, in order.
    lifetimes: list[tuple[bool, str]] = []
    for av in attributes.split(";"):
        key, _, raw = av.partition("=")
        key = key.strip(_WSP)
        if len(key) == 7 and key.isascii() and key.lower() in ("max-age", "expires"):
            lifetimes.append((key.lower() == "max-age", raw.strip(_WSP)))
    if not lifetimes:
        return None  # a session cookie
    short = [(kind, raw) for kind, raw in lifetimes if len(raw) <= _MAX_ATTRIBUTE_VALUE]
    readings = (
        _expiry(lifetimes, last_only=False),  # RFC 6265
        _expiry(short, last_only=False),  # RFC 6265bis
        _expiry(short, last_only=True),  # Chromium, Firefox
    )
    if None in readings:
        return None
    latest = max(r for r in readings if r is not None)
    return None if latest == math.inf else latest


def _expiry(lifetimes: list[tuple[bool, str]], *, last_only: bool) -> float | None:
    """When a cookie with these ``Max-Age`` / ``Expires`` attributes expires (``None``:
    at the end of the session). ``last_only``: only the last attribute of each name counts."""
    for want_max_age in (True, False):
        for is_max_age, raw in reversed(lifetimes):
            if is_max_age is not want_max_age:
                continue
            if is_max_age:
                if _DELTA_SECONDS.fullmatch(raw):
                    return _ALWAYS if int(raw) <= 0 else math.inf
            elif (when := cookie_date(raw)) is not None:
                return when
            if last_only:
                break
    return None


def is_deletion(value: str, *, now: float | None = None) -> bool:
    """True if every browser removes the cookie of ``Set-Cookie: value`` rather than storing it
    (see :func:`deletion_time`)."""
    when = deletion_time(value)
    if when is None:
        return False
    return when == _ALWAYS or when <= (time.time() if now is None else now)


# RFC 6265 section 5.1.1: the cookie-date grammar and algorithm.
_DATE_DELIMITERS = re.compile(r"[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[^0-9]|\Z)", re.DOTALL)
_DAY = re.compile(r"([0-9]{1,2})(?:[^0-9]|\Z)", re.DOTALL)
_YEAR = re.compile(r"([0-9]{2,4})(?:[^0-9]|\Z)", re.DOTALL)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def cookie_date(text: str) -> float | None:
    """Parse a cookie date (RFC 6265 section 5.1.1) into a Unix time; ``None`` if it fails."""
    clock: tuple[int, int, int] | None = None
    day = month = year = None
    for token in _DATE_DELIMITERS.split(text):
        if not token:
            continue
        if clock is None and (found := _TIME.match(token)) is not None:
            clock = (int(found[1]), int(found[2]), int(found[3]))
        elif day is None and (found := _DAY.match(token)) is not None:
            day = int(found[1])
        elif month is None and token[:3].isascii() and token[:3].lower() in _MONTHS:
            month = _MONTHS[token[:3].lower()]
        elif year is None and (found := _YEAR.match(token)) is not None:
            year = int(found[1])
    if clock is None or day is None or month is None or year is None:
        return None
    if 70 <= year <= 99:
        year += 1900
    elif 0 <= year <= 69:
        year += 2000
    hour, minute, second = clock
    if year < 1601 or hour > 23 or minute > 59 or second > 59:
        return None
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None  # section 5.1.1 steps 5-6: no such date (31 Apr, 29 Feb 2100)
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


# -- clearing ----------------------------------------------------------------------------


def deletion_headers(
    names: Iterable[str], *, domains: tuple[str, ...], paths: Iterable[str], secure: bool
) -> list[str]:
    """``Set-Cookie`` values that expire ``names`` everywhere they can be.

    A browser keys cookies by (name, domain, path), so one deletion per variant is needed:
    host-only plus each parent domain, times each declared path. Prefixed cookies follow
    their prefix rules (``__Host-``: host-only, ``Path=/``, ``Secure``).
    """
    paths = tuple(paths)
    out: list[str] = []
    for name in names:
        if not COOKIE_NAME.fullmatch(name):
            continue  # not a name a Set-Cookie could express
        host_prefixed = name.startswith("__Host-")
        needs_secure = secure or host_prefixed or name.startswith("__Secure-")
        variants: tuple[str | None, ...] = (None,) if host_prefixed else (None, *domains)
        for path in ("/",) if host_prefixed else paths:
            for domain in variants:
                out.append(
                    dump_cookie(
                        name,
                        "",
                        max_age=0,
                        expires=0,
                        path=path,
                        domain=domain,
                        secure=needs_secure,
                        samesite=None,
                    )
                )
    return out
