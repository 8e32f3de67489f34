"""Cookie grammar the middleware needs beyond werkzeug: names, deletions, clearing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from werkzeug.http import dump_cookie, parse_date

# RFC 6265 section 4.1.1: cookie-name is an RFC 2616 token.
COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$")
_MAX_AGE = re.compile(r"max-age\s*=\s*(-?\d+)", re.IGNORECASE)
_EXPIRES = re.compile(r"expires\s*=\s*([^;]*)", re.IGNORECASE)


def set_cookie_name(value: str) -> str:
    """The cookie name a ``Set-Cookie`` value sets (RFC 6265 section 5.2, step 1-5)."""
    return value.split(";", 1)[0].partition("=")[0].strip()


def is_deletion(value: str, *, now: float | None = None) -> bool:
    """True if a ``Set-Cookie`` value removes its cookie rather than storing one.

    A cookie is removed when ``Max-Age`` is zero or negative (which wins over ``Expires``,
    RFC 6265 section 5.3 step 3), or when ``Expires`` lies in the past.
    """
    _, _, attributes = value.partition(";")
    if not attributes:
        return False
    max_age = _MAX_AGE.search(attributes)
    if max_age is not None:
        return int(max_age.group(1)) <= 0
    expires = _EXPIRES.search(attributes)
    if expires is None:
        return False
    when = parse_date(expires.group(1).strip())
    if when is None:
        return False
    return when.timestamp() <= (time.time() if now is None else now)


def cookie_domains(host: str) -> tuple[str, ...]:
    """Domains a cookie visible to ``host`` may have been set for: the host and its parents.

    ``www.shop.example`` gives ``www.shop.example``, ``shop.example``; an IP address,
    ``localhost`` or anything unusual gives nothing (host-only cookies only).
    """
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return ()
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.rstrip(".")
    if not _HOST.match(host) or "." not in host or host.rsplit(".", 1)[1].isdigit():
        return ()
    labels = host.split(".")
    return tuple(".".join(labels[i:]) for i in range(len(labels) - 1))


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
        if not COOKIE_NAME.match(name):
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
