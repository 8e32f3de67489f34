"""URLs in a page: where an attribute value or a script names a host, and which host it is.

Two halves. :func:`each_url` finds candidate URLs in raw bytes (an element, a script, a whole
body: the gate's prefilter) in linear time; :func:`host_of` says which host a browser fetches
for one attribute value, following the WHATWG URL Standard (it lives in the catalogue layer,
``cookieguard.catalogue._hosts``, so that the catalogue's own lookups read URLs the same way;
it is re-exported here for the HTML side). Every candidate's host is read by that same
parser, so a spelling the browser normalises (``www.f%61cebook.com``, full-width letters and
dots, ``WWW.FACEBOOK.COM.``, ``//user@host``, character references) is the catalogued host.
"""

from __future__ import annotations

import html
import html.entities
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING

from cookieguard.catalogue._hosts import host_of, split_url

if TYPE_CHECKING:
    from cookieguard.html._scanner import Attribute

__all__ = ["each_url", "host_of", "offsets_named", "text_of", "urls", "urls_in"]


def text_of(value: bytes) -> bytes:
    """An attribute value as the browser has it: character references decoded.

    Bytes stay bytes (UTF-8 in and out; a byte that is not UTF-8 survives as it was). The
    decoding is ``html.unescape``'s, made cheaper for what pages hold most (see
    :func:`_unescaped`); values up to 2 KB are remembered (a bounded memo)."""
    if b"&" not in value:
        return value
    if len(value) <= 2048:
        return _text_of_short(value)
    return _unescaped(value)


@lru_cache(maxsize=4096)
def _text_of_short(value: bytes) -> bytes:
    return _unescaped(value)


def _unescaped(value: bytes) -> bytes:
    # A reference starts at an "&" and holds none, so each piece of the value between two
    # "&" decodes on its own (html.unescape's pattern, anchored at the piece's start): a
    # split at b"&" is a memchr loop, and a piece seen before (a page full of "&#x2F;", the
    # "amp;" of every query) is looked up. A regex split made two strings a reference (a
    # body of nothing but "&#x2F;" cost three times a normal page a byte).
    first, *pieces = value.split(b"&")
    known = _PIECES
    try:
        return first + b"".join([known[piece] for piece in pieces])
    except KeyError:  # one not seen yet: work out this value's (and remember short ones)
        pass
    own = {}
    for piece in set(pieces):
        text = known.get(piece)  # (another thread may clear it: no "in" before a look-up)
        own[piece] = _piece(piece) if text is None else text
    short = {piece: text for piece, text in own.items() if len(piece) <= _PIECE_MAX}
    if len(known) + len(short) > _PIECES_MAX:
        known.clear()  # (bounded: a page of many different pieces starts it over)
    if len(short) <= _PIECES_MAX:
        known.update(short)
    return first + b"".join([own[piece] for piece in pieces])


def _piece(piece: bytes) -> bytes:
    """``b"&" + piece`` decoded, ``piece`` holding no "&"."""
    text = piece.decode("utf-8", "surrogateescape")
    m = _REFERENCE.match(text)
    if m is None:
        return b"&" + piece
    s = m.group()
    return (_decoded_reference(s, "&" + s) + text[m.end() :]).encode("utf-8", "surrogateescape")


# html.unescape's own pattern (Lib/html/__init__.py), without its "&" (a piece's start).
_REFERENCE = re.compile(r"#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?")
_ENTITIES = html.entities.html5
#: The longest name a reference without ";" may have (the legacy ones: "frac34", "middot").
_LEGACY = max(len(name) for name in _ENTITIES if not name.endswith(";"))


#: Each piece's decoding (the bytes from one "&" to the next), once worked out: a page
#: full of "&#x2F;" looks one up instead of working it out again. Bounded: up to
#: _PIECES_MAX pieces of up to _PIECE_MAX bytes.
_PIECES: dict[bytes, bytes] = {}
_PIECES_MAX = 4096
_PIECE_MAX = 64


def _decoded_reference(s: str, whole: str) -> str:
    """A plain code point is taken as it is; a name ``html.unescape`` does not know is tried
    as a legacy name (no ";") followed by text, longest first: unescape tries every length
    up to 32, but only a legacy name can match there, and none is longer than six letters
    (a URL's "&ev=PageView" cost ten dictionary misses and as many string copies)."""
    if s[0] == "#":
        # A code point a browser takes as it is (the others: html.unescape's own rules).
        number = int(s[2:].rstrip(";"), 16) if s[1] in "xX" else int(s[1:].rstrip(";"))
        if 0x20 <= number < 0x7F or 0xA0 <= number < 0xD800:
            return chr(number)
        return html.unescape(whole)
    found = _ENTITIES.get(s)
    if found is not None:
        return found
    for x in range(min(len(s) - 1, _LEGACY), 1, -1):
        found = _ENTITIES.get(s[:x])
        if found is not None:
            return found + s[x:]
    return "&" + s


def urls(attr: Attribute) -> list[bytes]:
    """The URLs of an attribute value (several in a ``srcset``), references decoded."""
    value = text_of(attr.value)
    if attr.name in (b"srcdoc", b"style"):
        return [b"//" + host + path for _, host, path in urls_in(value)]
    if attr.name.endswith(b"srcset"):
        return [part.strip().split(None, 1)[0] for part in value.split(b",") if part.strip()]
    return [value]


# A host named in an absolute or scheme-relative URL, as written in HTML or in a script: the
# only way a tag or snippet reaches a third party. Found the way the WHATWG URL parser reads
# URLs (https://url.spec.whatwg.org/#concept-basic-url-parser), not the way they usually
# look: tab, CR and LF anywhere are dropped; "\" is "/" in http(s) URLs (and JSON writes "/"
# as "\/"); "https:host" and "https:/host" need no second slash when the page's scheme
# differs (we cannot know it here, so it always counts); the host may be percent-encoded
# ("www.%66acebook.com", "www%2Egoogletagmanager%2Ecom"), written with character references
# ("www&period;...", "f&#97;cebook") or in other scripts (full-width letters and dots, in
# UTF-8: any byte over 0x7f). These are candidates only: each host is read by ``host_of``
# (:func:`_read_host`), and every verdict is the catalogue's, on the whole URL.
#
# Linear work on any body (issue 19 part 3): every quantifier is possessive ("*+"), and each
# one's characters differ from whatever may follow it, so a possessive run gives back
# nothing a backtracking one could have used: the same matches, but a failed try reads each
# run once. (Two greedy "[\t\n\r]*" side by side split a run of n newlines n*n ways: a
# comment holding "see /" and 32 KB of newlines cost 20 s.) Each pattern starts at a byte
# that no later part of it matches, so the runs one try reads end where the next try starts.
_GAP = rb"[\t\n\r]*+"


# A host has a ".", a "%", a character reference or a non-ASCII byte after its first run of
# letters ("//comment" and "//" + "a" * n are no candidates). After slashes, the candidate
# takes in user info and a port ("//user:pass@host:443"): a colon cannot start such a
# pattern, so the runs of one try still end where the next try starts.
def _host(colon: bytes) -> bytes:
    return (
        rb"(?P<host>(?:[A-Za-z0-9@_" + colon + rb"-][A-Za-z0-9@_" + colon + rb"\t\n\r-]*+"
        rb"[.%&\x80-\xff]|[%&\x80-\xff])"
        rb"[A-Za-z0-9%.@&#;_" + colon + rb"\x80-\xff\t\n\r-]*+)"
        rb"(?::[0-9\t\n\r]*+)?(?P<path>[/\\][A-Za-z0-9._~%/\\\t\n\r-]*+)?"
    )


#: "//host", "/\\host", "/<tab>/host"... (the usual case first: "/" starts the search, the
#: fastest there is; one pattern for all of them costs a third more than "//" alone, where
#: a search of its own for each form would cost a whole pass over the body each). At the "/"
#: of every end tag and relative path (a thousand on a 20 KB page) the try fails at the
#: second byte.
#:
#: A run of slashes, tab, CR or LF (``run``: the "/" that starts it and three or more of
#: them) is taken whole, host or not: a try that failed there would be tried again at each
#: "/" of the run (``"/" * 65536`` cost a try a byte, three times what a normal page costs
#: a byte). :func:`_in_text` finds where in the run the URL starts as written (or that it
#: has none: then the search goes on at the host).
_URL_IN_TEXT = re.compile(
    rb"/[/\\\t\n\r](?:(?P<run>[/\\\t\n\r]{2}[/\\\t\n\r]*+)|"
    + _GAP
    + rb"[/\\]?"
    + _GAP
    + rb")(?:"
    + _host(b":")
    + rb"|(?(run)|(?!)))"
)


def _in_text(
    data: bytes, first: re.Match[bytes] | None = None
) -> Iterator[tuple[int, re.Match[bytes]]]:
    """``(offset, match)`` of each URL :data:`_URL_IN_TEXT` finds in ``data`` (from the
    match ``first`` on, if given), the offset where the URL starts as written: a "/"
    followed by the host, or by one more "/" or "\\", with tab, CR or LF anywhere between
    (as a try at each "/" of a run would find it)."""
    return _runs_taken_whole(_URL_IN_TEXT, _run_url, data, first)


def _runs_taken_whole(
    pattern: re.Pattern[bytes],
    url_in_run: Callable[[bytes, int, int], int],
    data: bytes,
    first: re.Match[bytes] | None,
) -> Iterator[tuple[int, re.Match[bytes]]]:
    """``(offset, match)`` of each match of ``pattern`` (which takes a run of slashes
    whole, its group ``run``) in ``data``, from ``first`` on if given (a caller that found
    it: the run is not read again): after a run, the offset is where ``url_in_run`` says
    the URL starts in it."""
    matches: Iterator[re.Match[bytes]] = (
        pattern.finditer(data)
        if first is None
        else chain((first,), pattern.finditer(data, first.end()))
    )
    while True:
        for m in matches:
            if m.start("run") == -1:
                yield m.start(), m
                continue
            host = m.start("host")
            if host == -1:
                continue  # a run that no host follows
            at = url_in_run(data, m.start(), host)
            if at != -1:
                yield at, m
                continue
            # Slashes too many: the host and path may hold a URL of their own.
            matches = pattern.finditer(data, host)
            break
        else:
            return


def _run_url(data: bytes, start: int, host: int) -> int:
    """Where in the run ``data[start:host]`` a URL to the host starts, or -1: the first "/"
    after which there is at least one byte of the run, and at most one "/" or "\\" after
    that byte."""
    last = max(data.rfind(b"/", start, host), data.rfind(b"\\", start, host))
    second = max(data.rfind(b"/", start, last), data.rfind(b"\\", start, last))
    return data.find(b"/", max(start, second - 1), host - 1)


#: "\\host", "\\/host" (JSON's "\/\/host"), with tab, CR or LF between: only searched for
#: in a body holding a backslash. A run of slashes, tab, CR or LF after the backslash
#: (two or more) is taken whole, as in :data:`_URL_IN_TEXT` (:func:`_after_backslashes`).
_URL_BACKSLASH = re.compile(
    rb"\\(?:(?P<run>[/\\\t\n\r]{2}[/\\\t\n\r]*+)|[/\\])(?:" + _host(b":") + rb"|(?(run)|(?!)))"
)


def _after_backslashes(data: bytes) -> Iterator[tuple[int, re.Match[bytes]]]:
    """:func:`_in_text` for :data:`_URL_BACKSLASH`: a "\\" followed by one more "/" or
    "\\" and the host, with tab, CR or LF anywhere between."""
    return _runs_taken_whole(_URL_BACKSLASH, _run_url_after_backslash, data, None)


def _run_url_after_backslash(data: bytes, start: int, host: int) -> int:
    """Where in the run ``data[start:host]`` a URL to the host starts, or -1: the
    last "\\" but one of the run's "/" and "\\", if it is a "\\"."""
    last = max(data.rfind(b"/", start, host), data.rfind(b"\\", start, host))
    second = max(data.rfind(b"/", start, last), data.rfind(b"\\", start, last))
    return second if second != -1 and data[second] == 0x5C else -1


#: "https:host" and "https:/host" (or "https:\\host"): a colon, then at most one slash,
#: which the URL parser's special authority slashes state passes over when the page's
#: scheme differs (Chromium fetches "https:/host" on an http page); the scheme before it
#: is checked in ``each_url``. Only after "s", "p" or a dropped tab/CR/LF can a colon end
#: "http(s)": the lookbehind drops the CSS and JavaScript colons ("display:none", "a?b:c")
#: without a call each. (It comes after the colon: a pattern that starts with one is tried
#: at every byte.)
_URL_NO_SLASH = re.compile(
    rb":(?<=[sSpP\t\n\r]:)" + _GAP + rb"(?:[/\\]" + _GAP + rb")?" + _host(b"")
)
_SCHEME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _http_scheme_before(data: bytes, colon: int) -> bool:
    """True if the scheme ending at ``colon`` is ``http`` or ``https`` (tab, CR and LF may be
    written within it; a browser drops them)."""
    bare = data[max(0, colon - 24) : colon].translate(None, b"\t\n\r").lower()
    for scheme in (b"https", b"http"):
        if bare.endswith(scheme):
            # The whole scheme, not the end of a longer one ("xhttp:").
            return len(bare) == len(scheme) or bare[-len(scheme) - 1] not in _SCHEME_CHARS
    return False


# Templates that escape "/" (Mustache: "&#x2F;") write URLs a browser decodes before it
# loads them; rare enough on ordinary pages that a cheap search gates the slow one.
_ENTITY_SLASH = re.compile(rb"&(?:#(?:[xX]0*+2[fF]|0*+47);?|sol;)")
_S = rb"(?:/|&#[xX]0*+2[fF];?|&#0*+47;?|&sol;)"
_URL_ENCODED = re.compile(
    _S + _S + rb"([A-Za-z0-9-]++(?:(?:\.|&#[xX]0*+2[eE];?|&#0*+46;?|&period;)[A-Za-z0-9-]++)++)"
    rb"((?:" + _S + rb"[A-Za-z0-9._~%-]*+)*+)"
)
#: Bytes of a host that needs no reading: letters, digits, "." and "-".
_PLAIN = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"


def _read_host(written: bytes) -> bytes | None:
    """A candidate host as the browser reads it (ASCII, lower case as far as it matters),
    or ``None`` when it is none. Plain hosts, nearly all of them, are taken as written."""
    if not written.translate(None, _PLAIN):
        return written
    found = split_url("//" + text_of(written).decode("utf-8", "surrogateescape"))
    return found[0].encode("ascii") if found is not None else None


def _path(written: bytes | None) -> bytes:
    """A path as the URL parser reads it: tab, CR and LF dropped, ``\\`` read as ``/``."""
    if not written:
        return b""
    if b"\\" in written:
        written = written.replace(b"\\/", b"/").replace(b"\\", b"/")  # JSON "\/" too
    return written.translate(None, b"\t\n\r")


def urls_in(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """``(offset, host, path)`` of every URL in ``data``: ``//host/path`` as written, with
    backslashes, tab/CR/LF or no slashes as a browser still reads it, as JSON writes it
    (``\\/\\/``) and with character references for "/" and "."."""
    return list(each_url(data))


def each_url(data: bytes, *, encoded: bool = True) -> Iterator[tuple[int, bytes, bytes]]:
    """:func:`urls_in`, one at a time (a caller looking for one blocked host stops early).

    Each pass runs only when the byte it cannot match without is in ``data``: a one-byte
    test is a ``memchr``, far cheaper than a regex pass that fails at every "/" of a page.
    ``encoded=False`` leaves out the slashes written as character references (a caller
    that decodes every run of references itself: the pass tries at every "&").
    """
    if b"/" in data:
        # The loop every URL of a page goes through: plain hosts and paths (nearly all)
        # cost no call each.
        plain = _PLAIN
        for m in _URL_IN_TEXT.finditer(data):
            run, host, path = m.group("run", "host", "path")
            if run is not None:
                # A run of slashes (none in most pages: the loop costs nothing more for
                # them): the rest of the body goes through _in_text.
                for at, url in _in_text(data, m):
                    host = _read_host(url.group("host"))
                    if host is not None:
                        yield at, host, _path(url.group("path"))
                break
            if host.translate(None, plain):
                host = _read_host(host)
                if host is None:
                    continue
            yield m.start(), host, _path(path) if path else b""
    yield from _other_urls(data, encoded)


def offsets_named(data: bytes, named: Callable[[bytes, bytes], bool]) -> list[int]:
    """Offsets of the URLs of ``data`` (as :func:`each_url` with ``encoded=False`` finds
    them) whose host and path ``named`` says yes to, in no particular order.

    The prefilter's loop over every URL of a page: a URL written the same way again (a
    page names its CDN, its own links, a tracker's endpoint over and over) is looked up in
    this call's own table, not read and asked about again."""
    found: list[int] = []
    if b"/" in data:
        plain = _PLAIN
        seen: dict[bytes, bool] = {}
        for m in _URL_IN_TEXT.finditer(data):
            written = m.group()
            hit = seen.get(written)
            if hit is None:
                if m.start("run") != -1:
                    # A run of slashes (none in most pages: the loop above costs nothing
                    # more for them): the rest of the body goes through _in_text.
                    found += _offsets_named_from(data, m, named, seen)
                    break
                host, path = m.group("host", "path")
                if host.translate(None, plain):
                    host = _read_host(host)
                hit = seen[written] = host is not None and named(host, _path(path))
            if hit:
                found.append(m.start())
    found += [at for at, host, path in _other_urls(data, False) if named(host, path)]
    return found


def _offsets_named_from(
    data: bytes,
    first: re.Match[bytes],
    named: Callable[[bytes, bytes], bool],
    seen: dict[bytes, bool],
) -> Iterator[int]:
    """:func:`offsets_named`'s loop from the match ``first`` on, a run of slashes."""
    for at, m in _in_text(data, first):
        written = m.group()
        hit = seen.get(written)
        if hit is None:
            host, path = m.group("host", "path")
            if host.translate(None, _PLAIN):
                host = _read_host(host)
            hit = seen[written] = host is not None and named(host, _path(path))
        if hit:
            yield at


def _other_urls(data: bytes, encoded: bool) -> Iterator[tuple[int, bytes, bytes]]:
    """:func:`each_url`'s passes for the spellings that are not "//host" (or a variant of
    it with tab, CR or LF)."""
    if b"\\" in data:
        for at, m in _after_backslashes(data):
            host = _read_host(m.group("host"))
            if host is not None:
                yield at, host, _path(m.group("path"))
    if b":" in data:
        for m in _URL_NO_SLASH.finditer(data):
            if _http_scheme_before(data, m.start()):
                host = _read_host(m.group("host"))
                if host is not None:
                    yield m.start(), host, _path(m.group("path"))
    if encoded and b"&" in data and _ENTITY_SLASH.search(data):
        for m in _URL_ENCODED.finditer(data):
            if b"&" in m.group():
                host = _read_host(text_of(m.group(1)))
                if host is not None:
                    yield m.start(), host, text_of(m.group(2) or b"")
