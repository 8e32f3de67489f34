"""Which host a URL written in a page makes the browser fetch, read as the browser reads it.

A page can spell a tracker's host many ways that a browser's URL parser turns into the same
host: ``www.f%61cebook.com``, full-width letters and dots (``\\uff57\\uff57\\uff57\\uff0e...``),
``WWW.FACEBOOK.COM.``, ``https:\\\\www.facebook.com``, ``//user@www.facebook.com:443``. The
catalogue must see the host the browser sees, so this module follows the WHATWG URL Standard
(https://url.spec.whatwg.org/) for the parts that decide it:

- the basic URL parser's input clean-up (leading and trailing C0 controls and spaces
  stripped, ASCII tab and newline removed anywhere), its scheme state (a scheme is letters,
  digits, ``+ - .`` before a ``:``), the special-scheme slash states (any run of ``/`` and
  ``\\`` before the authority) and the authority state (the host is after the last ``@``,
  before ``:port``; ``/ \\ ? #`` end it);
- the host parser: percent-decoding, then UTS #46 ToASCII (https://www.unicode.org/reports/tr46/,
  non-transitional, ``UseSTD3ASCIIRules=false``, as the URL Standard asks): full-width
  letters and the ideographic and full-width full stops (U+3002, U+FF0E, U+FF61) become
  ASCII, letters are case-folded, soft hyphens and other ignored code points vanish; the
  forbidden domain code points; and the IPv4 parser (``0x7f.1`` is ``127.0.0.1``).

UTS #46 mapping comes from the ``idna`` package (``uts46_remap``): Python's own
``encodings.idna`` is IDNA 2003 on Unicode 3.2, which refuses code points assigned since
(``💩.www.facebook.com`` would be no host to it, a subdomain of facebook.com to a browser)
and maps ``ß`` to ``ss`` where browsers keep it.

Where a browser would reject a URL only for a reason that cannot hide a host (a port that is
not a number, a label that fails the Bidi rule), the host still counts: gating a URL that
loads nothing costs nothing, missing one that loads is a leak.

Plain data in and out: this module is in the catalogue layer, under everything that reads
pages (``cookieguard.html`` reaches it through the catalogue's lookups and ``html._urls``).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import idna

__all__ = ["host_of", "normalise_host", "split_url"]

#: Schemes whose URLs have a host and read "\\" as "/" (https://url.spec.whatwg.org/#special-scheme).
SPECIAL = frozenset({"ftp", "file", "http", "https", "ws", "wss"})
#: Schemes a page element fetches over the network.
FETCHED = frozenset({"http", "https"})

_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_OR_NEWLINE = {9: None, 10: None, 13: None}
_SCHEME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_REST = _SCHEME_FIRST | frozenset("0123456789+-.")
_SLASHES = "/\\"
# https://url.spec.whatwg.org/#forbidden-domain-code-point
_FORBIDDEN = frozenset(
    [chr(c) for c in range(0x20)] + list(" #%/:<>?@[\\]^|") + ["\x7f"]
)  # fmt: skip
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def _clean(value: str) -> str:
    """The basic URL parser's first steps: trim C0 controls and spaces, drop tab/newline."""
    return value.strip(_C0_OR_SPACE).translate(_TAB_OR_NEWLINE)


def _scheme(url: str) -> tuple[str, str] | None:
    """``(scheme, rest)`` if ``url`` starts with a scheme (https://url.spec.whatwg.org/#scheme-state)."""
    if not url or url[0] not in _SCHEME_FIRST:
        return None
    for i, char in enumerate(url):
        if char == ":":
            return url[:i].lower(), url[i + 1 :]
        if char not in _SCHEME_REST:
            return None
    return None


def _authority_and_path(rest: str) -> tuple[str, str]:
    """Split what follows the slashes of a special URL into authority and path (``/ \\ ? #``
    end the authority; the path keeps its query and fragment cut off, ``\\`` read as ``/``)."""
    end = len(rest)
    for stop in "/\\?#":
        at = rest.find(stop, 0, end)
        if at != -1:
            end = at
    path = rest[end:]
    for stop in "?#":
        at = path.find(stop)
        if at != -1:
            path = path[:at]
    return rest[:end], _path(path.replace("\\", "/"))


def _path(path: str) -> str:
    """A path as the server reads it: dot segments resolved (``%2e`` is a dot to the URL
    parser), unreserved characters percent-decoded (servers treat ``%65`` as ``e``)."""
    if not path:
        return "/"
    if "%" in path:
        path = "".join(_unreserved(part) for part in _split_escapes(path))
    if "/." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        elif segment == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def _split_escapes(path: str) -> list[str]:
    parts = path.split("%")
    return [parts[0], *("%" + part for part in parts[1:])]


_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")


def _unreserved(part: str) -> str:
    """``part`` (``%XX...``) with an escaped unreserved character decoded (RFC 3986 2.3)."""
    if part.startswith("%") and len(part) >= 3:
        try:
            char = chr(int(part[1:3], 16))
        except ValueError:
            return part
        if char in _UNRESERVED:
            return char + part[3:]
    return part


def _host_port(authority: str) -> str | None:
    """The host of an authority: after the last ``@`` (user info), before ``:port``.

    ``None`` when there is none (a special URL without a host is not a URL)."""
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1] if end != -1 else None  # IPv6: never a catalogued host
    host = host.partition(":")[0]  # the port, valid or not, does not change the host
    return host or None


def _parse_host(host: str) -> str | None:
    """The host parser (https://url.spec.whatwg.org/#concept-host-parser) for a special
    URL: the ASCII host a browser connects to, ``None`` where it would refuse the URL.
    The final dot goes (``www.facebook.com.`` is the same DNS name)."""
    if host.startswith("["):
        return host.lower()
    if "%" in host:
        # (A body cut inside a UTF-8 sequence arrives with surrogate escapes: keep the bytes.)
        host = unquote_to_bytes(host.encode("utf-8", "surrogateescape")).decode("utf-8", "replace")
    if host.isascii():
        host = host.lower()  # UTS 46 maps ASCII to itself, upper case to lower
        if not _PLAIN.issuperset(host) and not _FORBIDDEN.isdisjoint(host):
            return None
    else:
        try:
            mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        except idna.IDNAError:
            return None  # a disallowed code point: the browser refuses the URL
        labels = []
        for label in mapped.split("."):
            if not label.isascii():
                try:
                    label = "xn--" + label.encode("punycode").decode("ascii")
                except UnicodeError:
                    return None
            labels.append(label)
        host = ".".join(labels)
        if not _FORBIDDEN.isdisjoint(host):
            return None
    if _ends_in_a_number(host):
        return _ipv4(host)
    host = host.rstrip(".")
    return host or None


def _ends_in_a_number(host: str) -> bool:
    """https://url.spec.whatwg.org/#ends-in-a-number-checker"""
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and last.isdigit() and last.isascii():
        return True
    return _ipv4_number(last) is not None


_RADIX_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}


def _ipv4_number(part: str) -> int | None:
    """https://url.spec.whatwg.org/#ipv4-number-parser"""
    if not part:
        return None
    base = 10
    if part[:2] in ("0x", "0X"):
        part, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        part, base = part[1:], 8
    if not part:
        return 0
    if not all(char in _RADIX_DIGITS[base] for char in part):
        return None
    return int(part, base)


def _ipv4(host: str) -> str | None:
    """https://url.spec.whatwg.org/#concept-ipv4-parser, serialised dotted-decimal."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        return None
    address = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        address += n * 256 ** (3 - i)
    return ".".join(str((address >> shift) & 255) for shift in (24, 16, 8, 0))


def host_of(value: str, base: str | None = None) -> tuple[str, str] | None:
    """``(host, path)`` of the http(s) fetch a URL attribute value makes, or ``None``.

    ``value`` is the attribute as the browser has it (character references decoded);
    ``base`` the document's base URL. A relative reference (``js/app.js``, ``?q``) fetches
    from the base's host: with ``base=None`` (a page on the site itself) it gives ``None``,
    like a URL of another scheme (``data:``, ``javascript:``), one without a host, or one the
    browser refuses. ``https:host`` without slashes reaches ``host`` unless the base has the
    same scheme; with ``base=None`` the scheme is taken to differ (the reading that finds a
    host, so nothing that might load is missed).
    """
    url = _clean(value)
    found = _scheme(url)
    if found is None:
        return _relative(url, base)
    scheme, rest = found
    if scheme not in SPECIAL:
        return None
    if base is not None and not rest.startswith("//"):
        base_scheme = _scheme(_clean(base))
        if base_scheme is not None and base_scheme[0] == scheme:
            # "special relative or authority state": relative unless "//" follows.
            return _relative(rest, base)
    if scheme not in FETCHED:
        return None
    # "special authority slashes state", then "... ignore slashes": any run of "/" and "\".
    return _authority(rest.lstrip(_SLASHES))


def _authority(rest: str) -> tuple[str, str] | None:
    """``(host, path)`` of what follows the slashes of a special URL."""
    authority, path = _authority_and_path(rest)
    host = _host_port(authority)
    if host is None:
        return None
    parsed = _parse_host(host)
    return (parsed, path) if parsed else None


def _relative(url: str, base: str | None) -> tuple[str, str] | None:
    """A reference without a scheme, against a web page's base ("relative state").

    Two slashes (``/`` or ``\\``, the base being special) start an authority; anything else
    is a path on the base's host (``None`` without a base: the site's own)."""
    if url[:1] in _SLASHES and url[1:2] in _SLASHES:
        if base is not None:
            base_scheme = _scheme(_clean(base))
            if base_scheme is None or base_scheme[0] not in FETCHED:
                return None  # a page that is not http(s) fetches no http(s) host this way
        return _authority(url.lstrip(_SLASHES))
    if base is None:
        return None
    found = host_of(base)
    if found is None:
        return None
    host, base_path = found
    if url[:1] in _SLASHES:
        path = url
    elif url[:1] in ("?", "#", ""):
        path = base_path
    else:
        path = base_path.rpartition("/")[0] + "/" + url
    return host, _authority_and_path("x" + path)[1]


def split_url(url: str) -> tuple[str, str] | None:
    """``(host, path)`` of an absolute or scheme-relative http(s) URL, else ``None``.

    :func:`host_of` without a base: a relative URL is the site's own (first party)."""
    return host_of(url)


def normalise_host(host: str) -> str:
    """A host name as a browser would connect to it (lower case, IDNA, no port, user info or
    final dot); ``""`` when it is no host a browser would accept."""
    found = _host_port(_clean(host))
    if found is None:
        return ""
    if found.startswith("["):
        return ""  # IPv6 literal: never a catalogued host
    return _parse_host(found) or ""
