"""What cookieguard edits in an HTML response, and the rewriter that does it in one pass.

:class:`Injection` is the plan for one response (the banner and asset tags, the vendor head
tags, the tracker gate, the page's charset); :meth:`Injection.injector` gives the streaming
rewriter (``cookieguard.html._scanner.Rewriter``) the adapters feed. :class:`Blocker` holds the
auto-blocking decisions for one set of refused categories, built once and shared.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import cast
from urllib.parse import unquote_to_bytes

from cookieguard._cache import Memo
from cookieguard.catalogue._catalogue import Catalogue, Vendor
from cookieguard.catalogue._mentions import folded, folding_references
from cookieguard.core._headers import HTML_TYPES as _HTML_TYPES
from cookieguard.core._policy import NECESSARY
from cookieguard.html._charsets import DEFAULT as DEFAULT_CODEC
from cookieguard.html._charsets import (
    PRESCAN,
    REPLACEMENT,
    TRANSCODED,
    Transcoder,
    choose,
    codec_for,
    prescan,
    python_codec,
    transcode,
)
from cookieguard.html._codings import Decoder, Encoder, Uneditable
from cookieguard.html._embeds import placeholder_parts, size
from cookieguard.html._nonces import Nonces, meta_nonces, with_nonces
from cookieguard.html._scanner import _ATTRS as _TAG_ATTRIBUTES
from cookieguard.html._scanner import _SKIPPED_COMMENT as _COMMENT
from cookieguard.html._scanner import (
    EITHER_SCRIPT,
    HTML_SCRIPT,
    SVG_SCRIPT,
    Attribute,
    Rewriter,
    attribute_starts,
    attributes,
    attributes_named,
    insert_point,
    tag_end,
)
from cookieguard.html._urls import each_url as _each_url
from cookieguard.html._urls import offsets_named as _offsets_named
from cookieguard.html._urls import text_of as _text_of
from cookieguard.html._urls import urls as _attribute_urls
from cookieguard.html._urls import urls_in as _urls_in

logger = logging.getLogger("cookieguard")

#: Bodies with a Content-Length up to this size are buffered so the length stays exact;
#: larger ones pass through untouched.
BUFFER_LIMIT = 2 * 1024 * 1024


def wants_injection(status: int, content_type: str | None, content_encoding: str | None) -> bool:
    """True for a response whose body is HTML we may edit (compressed or not: a coding we
    cannot decode fails closed, see :class:`Uneditable`).

    Responses without a body to show (1xx, 204, 206, 3xx) are left alone.
    """
    if status < 200 or 300 <= status < 400 or status in (204, 206):
        return False
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in _HTML_TYPES


# -- auto-blocking -------------------------------------------------------------------------

# https://mimesniff.spec.whatwg.org/#javascript-mime-type, plus "module" and the empty type.
_JS_TYPES = frozenset(
    {
        b"", b"module", b"application/ecmascript", b"application/javascript",
        b"application/x-ecmascript", b"application/x-javascript", b"text/ecmascript",
        b"text/javascript", b"text/javascript1.0", b"text/javascript1.1", b"text/javascript1.2",
        b"text/javascript1.3", b"text/javascript1.4", b"text/javascript1.5", b"text/jscript",
        b"text/livescript", b"text/x-ecmascript", b"text/x-javascript",
    }
)  # fmt: skip
#: Attributes whose value is a URL (or URLs) that the element fetches, or navigates a frame or
#: the page to, without a click: renamed to ``data-cookieguard-<name>`` while gated, on any
#: element (``href`` of ``<a>`` and ``<area>`` navigates on a click only; ``data`` is a URL on
#: ``<object>`` only). Every one of them is renamed when one names a blocked host, and every
#: copy of a duplicated one (the browser uses the first; no copy may load on consent either).
_URL_ATTRIBUTES = frozenset(
    {
        b"src", b"srcset", b"imagesrcset", b"poster", b"background", b"ping", b"formaction",
        b"codebase", b"archive", b"lowsrc", b"dynsrc", b"manifest", b"href",
        b"xlink:href", b"data", b"srcdoc", b"data-src", b"data-srcset", b"data-lazy-src",
    }
)  # fmt: skip
#: Attributes holding script or CSS text (``style``'s url(), event handlers) or a refresh
#: (``<meta http-equiv=refresh content>``): renamed only when they name a blocked host.
_TEXT_ATTRIBUTES = frozenset({b"style", b"content"})

#: Written first in a gated <style>'s CSS. Chromium's preload scanner fetches a <style>'s
#: leading @import rules whatever its type, and stops reading at the first other rule: this
#: one (it matches no element). banner-more.js takes it off before it restores the style.
STYLE_STOP = b"cookieguard-gated{}"
#: Where a script or an embed takes its URL from (SVG scripts use href; lazy loaders data-src).
_SCRIPT_URLS = (b"src", b"href", b"xlink:href")
#: A script's URL by namespace: an HTML script fetches its ``src`` only, an SVG one its
#: ``href`` (else ``xlink:href``) only; the other names fetch nothing there (fuzz 7001/223).
_HTML_SCRIPT_URLS = (b"src",)
_SVG_SCRIPT_URLS = (b"href", b"xlink:href")
_EMBED_URLS = (b"src", b"data-src", b"data-lazy-src")
#: Google's tags that Consent Mode "advanced" lets load (cookieless pings until consent).
GOOGLE_TAGS = frozenset({"Google Analytics", "Google Tag Manager", "Google Ads"})
_MARK = b"data-cookieguard"
# The attributes each verdict reads (the others of a tag are skipped in C: a tag with
# thousands of attributes costs no Python object for each).
_SCRIPT_NAMES = frozenset({_MARK, b"type", *_SCRIPT_URLS})
_STYLE_NAMES = frozenset({_MARK, b"type"})
#: What a verdict on a start tag reads (an event handler, any ``on*`` name, makes it read all).
#: A renamed URL attribute keeps its name after ``data-cookieguard-`` (``src`` ->
#: ``data-cookieguard-src``), which banner.js gives back on consent; a name the banner
#: contract already uses that way (``data-cookieguard-action`` marks its buttons) takes
#: ``data-cookieguard-url-`` instead, so a gated ``<form action>`` is never a banner button.
_CONTRACT_NAMES = frozenset({b"action"})


def _rename_prefix(name: bytes) -> bytes:
    return b"data-cookieguard-url-" if name in _CONTRACT_NAMES else b"data-cookieguard-"


_START_NAMES = frozenset({_MARK, b"style", b"content", b"http-equiv", *_URL_ATTRIBUTES})
#: An event handler's name, in a lower-cased tag ("on" found first: a class of separators
#: first tried the pattern at every byte of the tag).
_HANDLER = re.compile(rb"on(?<=[\t\n\f\r /\"']on)[a-z]")
_EMBED_NAMES = frozenset({_MARK, b"width", b"height", *_EMBED_URLS})


def _find(attrs: list[Attribute], name: bytes) -> Attribute | None:
    for attr in attrs:
        if attr.name == name:
            return attr
    return None


def _first(attrs: list[Attribute], names: tuple[bytes, ...]) -> Attribute | None:
    """The first attribute, in ``names`` order, that is present with a URL-ish value."""
    for name in names:
        attr = _find(attrs, name)
        if attr is not None and attr.value.strip() and not attr.value.strip().startswith(b"about:"):
            return attr
    return None


#: Script types whose verdict depends on the inline content: the scripts that run, and the
#: import maps and speculation rules that make the browser fetch the URLs they name.
_CONTENT_TYPES = _JS_TYPES | {b"importmap", b"speculationrules"}


def _script_type(attrs: list[Attribute]) -> bytes:
    """A script's type as the browser compares it: the first ``type``, references decoded,
    white space stripped, lower case (https://html.spec.whatwg.org/#prepare-the-script-element)."""
    kind = _find(attrs, b"type")
    return _text_of(kind.value).strip(b"\t\n\f\r ").lower() if kind is not None else b""


def _fetching(tag: bytes, attribute: bytes, refresh: bool, mathml: bool = False) -> str | None:
    """``"url"`` if ``attribute`` of ``tag`` is a URL the element loads on its own, ``"text"``
    if it is script or CSS text or a refresh that may name one, else ``None``. (``mathml``:
    a MathML ``<a>`` or ``<area>`` is no link; its ``href`` is read as any element's.)"""
    if attribute in _URL_ATTRIBUTES:
        if attribute in (b"href", b"xlink:href") and tag in (b"a", b"area") and not mathml:
            return None  # followed on a click only
        if attribute == b"data" and tag not in (b"object", b"embed"):
            return None
        return "url"
    if attribute == b"style" or attribute.startswith(b"on"):
        return "text"
    if attribute == b"content" and refresh:
        return "text"
    return None


def _urls(attr: Attribute) -> list[bytes]:
    """The URLs of an attribute value, references decoded: several in a ``srcset``, those
    written in CSS (``style``) or script (event handlers), the target of a refresh."""
    name = attr.name
    if name.startswith(b"on"):
        return [b"//" + host + path for _, host, path in _urls_in(_text_of(attr.value))]
    if name == b"content":  # "5; url=https://..." (the shared declarative refresh steps)
        m = _REFRESH.match(_text_of(attr.value))
        return [m.group(1)] if m is not None else []
    return _attribute_urls(attr)


_REFRESH = re.compile(
    rb"[\t\n\f\r ]*+[0-9.]*+[\t\n\f\r ]*+[;,]?[\t\n\f\r ]*+"
    rb"(?:url[\t\n\f\r ]*+=[\t\n\f\r ]*+)?[\"']?([^\"']*)",
    re.IGNORECASE,
)


# Character references for the characters that shape a URL (":", "/", "\\").
_URL_REFERENCE = re.compile(
    rb"&(?:colon;|sol;|bsol;|#(?:0*(?:58|47|92)|[xX]0*(?:3[aA]|2[fF]|5[cC]))(?![0-9]))"
)
#: How far a run reaches past its first reference, and before it: a run cut short
#: leaves its next reference to start the next run, which looks back as far for where a URL
#: cut there begins. Every byte is decoded at most once more than once per run, so a
#: reach eight times the look-back keeps that to an eighth (a body of nothing but
#: references, "&#x2F;" 10,000 times, was decoded twice over with the two equal).
_RUN_REACH = 16384
_RUN_BACK = 2048
_URL_RUN = re.compile(rb"[^\"'<>\s]{0,%d}" % _RUN_REACH)


def _reference_runs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, decoded run)`` for each run of URL bytes holding such a reference."""
    run_end = 0
    while (m := _URL_REFERENCE.search(data, run_end)) is not None:
        # (Searched for from the end of the last run, not each reference in it looked at.)
        at = m.start()
        low = max(at - _RUN_BACK, 0)
        start = max(data.rfind(c, low, at) for c in (b'"', b"'", b"<", b">", b" ", b"=")) + 1
        run_end = _URL_RUN.match(data, at).end()  # type: ignore[union-attr]
        yield at, _text_of(data[max(start, low) : run_end])


_SRCDOC = re.compile(
    rb"srcdoc[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"([^\"]*+)\"|'([^']*+)'|([^\t\n\f\r >]*+))", re.I
)


def _srcdocs(data: bytes, low: bytes) -> Iterator[tuple[int, bytes]]:
    """``(offset, value)`` of each ``srcdoc="..."`` (each match ends where the next may start;
    ``low``: ``data`` lower-cased, which the prefilter has already)."""
    if b"srcdoc" not in low:
        return
    for m in _SRCDOC.finditer(data):
        value = m.group(1) if m.group(1) is not None else m.group(2) or m.group(3) or b""
        yield m.start(), value


#: A character reference that may write part of a host or its path (lower case): a numeric
#: one, a named one for a character a host or path is written with (``html.entities``: no
#: other named reference decodes to one), or one for a character the URL parser maps to host
#: characters or to nothing (``&eopf;``, ``&shy;``: ``FOLDING_REFERENCES``). ``&amp;``,
#: ``&nbsp;``, ``&eacute;``, which text is full of, name no host decoded (a script's span may
#: run over a page's text).
_REFERENCE = re.compile(
    rb"&(?:#|(?:period|sol|bsol|colon|lowbar|underbar|percnt);|"
    + folding_references().encode("ascii")
    + rb")"
)


#: Inline scripts one after another whose spans are plain (each ends at its first
#: "</script", with no "<!--" or "<script" before it; between two, no "<script" and at most
#: 64 other "<" or runs of text): where the run ends, the last one's span ends. (Unbounded,
#: the gap read a page's product list tag by tag: 34 -> 100 µs a 20 KB page with a script
#: in its head and one at its end, three times the rest of the prefilter.)
_PLAIN_SCRIPTS = re.compile(
    rb"<script(?=[\t\n\f\r />])(?:[^<]++|<(?![a-z!?/]))*+"
    rb"(?=</script[\t\n\f\r />])(?:</script(?:[^<]++|<(?!script[\t\n\f\r />])){0,64}+"
    rb"<script(?=[\t\n\f\r />])(?:[^<]++|<(?![a-z!?/]))*+"
    rb"(?=</script[\t\n\f\r />]))*+"
)
#: An SVG or MathML ``<script>`` (its start tag, then its text in foreign content, where
#: there is no script data: the tokenizer reads markup) up to the ``</script`` that ends it,
#: when nothing before that end tag can keep it from closing the script (matched up to
#: the ``</script`` that ends script data, this says whether it ends there too): text, comments,
#: bogus comments and CDATA sections (their bytes hide a ``</script``), end tags, and start
#: tags of foreign elements, each read as the tokenizer reads it (``_ATTRS``: a ``</script``
#: in a quoted value is no end tag). It does not match (the text may run to the end) at a
#: nested ``<script``; at an HTML integration point (inside one, HTML's rules may open raw
#: text, make a CDATA section a bogus comment, and ignore a ``</script>``); at a
#: ``<![CDATA[`` in other letter cases (a bogus comment); or at a construct not ended.
#: (Break-out tags end the script before its end tag: a longer text is the fail-closed
#: reading.) Matched against the body as written, letter case ignored but in ``[CDATA[``.
_POINTS = rb"(?:script|foreignobject|desc|title|mi|mo|mn|ms|mtext|annotation-xml)"
_FOREIGN_SCRIPT = re.compile(
    rb"<script" + _TAG_ATTRIBUTES + rb">"
    rb"(?:[^<]++|<(?![a-z!?/])|" + _COMMENT + rb"|(?-i:<!\[CDATA\[)(?:[^\]]++|\](?!\]>))*+\]\]>"
    rb"|<(?:!(?!--|\[cdata\[)|\?|/(?![a-z]))[^>]*+>"
    rb"|</(?!script[\t\n\f\r />])[a-z][^\t\n\f\r />]*+" + _TAG_ATTRIBUTES + rb">"
    rb"|<(?!" + _POINTS + rb"[\t\n\f\r />])[a-z][^\t\n\f\r />]*+" + _TAG_ATTRIBUTES + rb">"
    rb")*+(?=</script[\t\n\f\r />])",
    re.IGNORECASE,
)


def _script_spans(
    low: bytes, quiet: Callable[[int, int], bool] | None = None, data: bytes | None = None
) -> Iterator[tuple[int, int]]:
    """Where, in a lower-cased body, the text of an inline script may be: from a
    ``<script`` to the ``</script`` that ends script data from there (its escapes followed:
    ``<!--<script></script>`` does not end it) if an SVG or MathML script's text would end
    there too (:data:`_FOREIGN_SCRIPT`) and no ``<script`` comes before it; else to the end
    of the body, each ``<script`` in between a start of its own (:meth:`Blocker._script_hits`).

    A superset for the scripts sites paste, and cheap: the start tag is included, and a
    ``<script`` in a comment or an attribute value starts one too (the verdict, on the
    element the scanner reads, decides). Spans do not overlap. Every span is read from its
    own start, whatever comes before it, so the scanner's window that starts at a script
    (or before it) finds what the whole body does in that script's text.

    ``data``: the body as written (``low`` if not given: then a ``<![CDATA[``, which is one
    only in that letter case, ends no span before the end).

    ``quiet(start, end)``: True if no span within ``low[start:end]`` can yield a hit; a run
    of plain spans it says so of is passed over (not yielded) in one regex match, not a
    loop a script (520 -> 85 µs per KB of ``<script></script>``, most of it here). A run
    it does not say so of is not asked about again span by span (linear work)."""
    n = len(low)
    at = _tag(low, b"<script", 0)
    asked = -1  # where the last run asked about ends
    while at != -1:
        if quiet is not None and at >= asked:
            run = _PLAIN_SCRIPTS.match(low, at)
            if run is not None and run.end() > at:
                asked = run.end()
                if quiet(at, asked):
                    at = _tag(low, b"<script", asked + 1)
                    continue
        # The next "<script", searched for once: it is also where the next span starts when
        # it comes after this one's end (a page's first script may be 100 KB from its next,
        # and two searches over that gap cost more than the rest of the prefilter).
        after = _tag(low, b"<script", at + 7)
        stop = _tag(low, b"</script", at + 7)
        if stop == -1:
            stop = n
        escape = low.find(b"<!--", at, stop)
        if escape != -1 and low.find(b"<script", escape, stop) != -1:
            stop = _escaped_end(low, escape)  # (only "<!--" then "<script" can go past it)
        if stop < n and not _ends_there(low, at, stop):
            # Read as an SVG or MathML script too: if its text may run past that end tag,
            # the span runs to the end. (Read no further than that end tag: a script's own
            # bytes, once each.)
            foreign = _FOREIGN_SCRIPT.match(low if data is None else data, at, stop + 9)
            if foreign is None or foreign.end() != stop:
                stop = n
        if stop < n and -1 < after < stop:
            # A <script> in the span: in SVG one nested in this one (its </script> ends
            # only that), or one a comment or a value hides from this reading but not from
            # its own, whose text may run further: the span runs to the end.
            stop = n
        yield at, stop
        if stop >= n or after == -1:
            return
        # (The first "<script" after ``at + 7`` is the first after ``stop`` when it is past it.)
        at = after if after > stop else _tag(low, b"<script", stop + 1)


def _ends_there(low: bytes, at: int, stop: int) -> bool:
    """True if an SVG or MathML script at ``at`` ends at the ``</script`` at ``stop`` (as
    :data:`_FOREIGN_SCRIPT` reads it), told without reading its start tag's attributes (a
    script tag of thousands cost 40 % more): nothing but text after its start tag, which ends
    at a ">" in no quoted value (one would open with the last quote of its kind before it,
    right after "=")."""
    if low.find(b"<", at + 7, stop) != -1:
        return False
    gt = low.rfind(b">", at + 7, stop)
    if gt == -1:
        return False
    for quote in (b'"', b"'"):
        k = low.rfind(quote, at + 7, gt)
        while k > at + 7 and low[k - 1] in _WS_BYTES:
            k -= 1
        if k > at + 7 and low[k - 1] == 0x3D:  # "="
            return False
    return True


_NAME_ENDS = frozenset((b"\t", b"\n", b"\f", b"\r", b" ", b"/", b">"))


def _tag(low: bytes, name: bytes, pos: int) -> int:
    """Where the next ``name`` (``<script``, ``</script``) that a tag name ends after is, at
    or after ``pos``; -1 if none. (``bytes.find``: several times faster than a regex search
    for a literal; a page's first script may be 100 KB from its last.)"""
    size = len(name)
    while (at := low.find(name, pos)) != -1:
        if low[at + size : at + size + 1] in _NAME_ENDS:
            return at
        pos = at + 1
    return -1


# Script data's states (https://html.spec.whatwg.org/multipage/parsing.html#script-data-state)
# and the tokens that move each, as Rewriter._script_close reads them: 0 plain, 1 escaped
# ("<!--"), 2 double escaped ("<!--" then "<script"). One search per change of state.
_DELIM = rb"(?=[\t\n\f\r />])"
_ESCAPE_TOKENS = (
    re.compile(rb"<!--(?:-*+>)?|</script" + _DELIM),
    re.compile(rb"<!---*+>|-->|</?script" + _DELIM),
    re.compile(rb"<!---*+>|-->|</script" + _DELIM),
)


def _escaped_end(low: bytes, pos: int) -> int:
    """Where script data read from ``pos`` (plain) ends, or ``len(low)``."""
    state = 0
    while (m := _ESCAPE_TOKENS[state].search(low, pos)) is not None:
        token = m.group()
        pos = m.end()
        if token.startswith(b"<!--"):
            state = 0 if token.endswith(b">") else 1
        elif token == b"-->":
            state = 0
        elif token.startswith(b"</"):
            if state != 2:
                return m.start()
            state = 1
        else:  # "<script" while escaped
            state = 2
    return len(low)


#: Script spans up to this size have their hits remembered (Blocker._script_hits): a
#: vendor's snippet is a few hundred bytes; a longer script is searched each time.
_SPAN_MEMO = 4096
#: Stretches up to this size have their hits remembered (Blocker.positions).
_SMALL = 2048
#: A host and path as :meth:`Blocker._named` gets them, written with what the URL parser
#: leaves as it is: a lower-case ASCII host and a path with no percent-encoding (see
#: :func:`_as_written` for the rest).
_PLAIN_HOST_PATH = re.compile(rb"([a-z0-9-]++(?:\.[a-z0-9-]++)*+)((?:/[A-Za-z0-9._~-]*+)*+)")
#: An absolute or scheme-relative http(s) URL whose host and path a browser reads as written
#: (https://url.spec.whatwg.org/#concept-basic-url-parser): no white space or control to
#: strip, no user info, port, percent-encoding, backslash or non-ASCII byte before its query
#: or fragment (``[?#]`` or the end); the host's letters only lower-cased. What follows is
#: never read. (:func:`_as_written` sends the rest the long way.)
_PLAIN_URL = re.compile(
    rb"(?:https?:)?//([A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)*+)"
    rb"(/[A-Za-z0-9._~!$'()*+,;=:@/-]*+)?+(?=[?#]|\Z)"
)


def _as_written(host: bytes, path: bytes) -> bool:
    """True if the URL parser reads ``host`` and ``path`` (plain ASCII, as
    :data:`_PLAIN_URL` and :data:`_PLAIN_HOST_PATH` match them) as written, letter case
    aside: a host whose last label starts with a letter (no IPv4 address) and a path with
    no dot segment."""
    return host.rpartition(b".")[2][:1].isalpha() and b"/." not in path


class Blocker:
    """Auto-blocking for one set of refused categories: which vendors, found how.

    Built once per set and shared by every response (thread-safe: memo writes are locked).
    Every verdict depends only on the bytes of the element it is about, so the result is the
    same however the body is chunked; and an element that names no blocked vendor's host
    after ``//`` (:meth:`mentions`), nor an inline script that names one at all
    (:meth:`mentions_in_script`), is never edited, which makes those searches
    (:meth:`positions`) the prefilter: a page naming no blocked host is not parsed at all.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        blocked: frozenset[str],
        *,
        exempt: frozenset[str] = frozenset(),
        labels: Mapping[str, Callable[[str], str]] | None = None,
        prefix: str = "/_cookieguard",
        met: Callable[[Vendor], None] | None = None,
        record_only: bool = False,
        known: Callable[[str], bool] | None = None,
        allowed: frozenset[str] = frozenset(),
        refused_vendors: frozenset[str] = frozenset(),
    ) -> None:
        self.catalogue = catalogue
        # Told of every vendor of ``blocked`` a tag loads from (the site's record of the
        # vendors it serves, issue 24): on a verdict memo miss only, so once per tag shape.
        # ``record_only``: judge and record, but edit nothing (a visitor with nothing to
        # block, on a site whose CSP lists the vendors it uses).
        self._met = met
        self.record_only = record_only
        # record_only: vendors already recorded are no hit at all, so a page that loads only
        # those takes the prefilter's fast path (nothing new to learn from it).
        self._known = known if record_only else None
        self.blocked = blocked
        self.prefix = prefix
        self._labels = labels or {}
        # What this visitor allows (the policy's categories, less the blocked ones): kept by
        # the click-to-load placeholders' allow forms.
        self.granted = tuple(sorted(set(self._labels) - blocked - {NECESSARY}))
        # Choices per vendor (issue 24): ``allowed`` load though their category is refused,
        # ``refused_vendors`` are blocked though theirs is granted.
        self._vendors = frozenset(
            v.name
            for v in catalogue.vendors
            if ((v.category in blocked and v.name not in allowed) or v.name in refused_vendors)
            and v.category != NECESSARY
            and v.name not in exempt
        )
        self.refused_by_name = refused_vendors
        self._hosts: Memo[bytes, Vendor | None] = Memo(4096, 1 << 20)
        self._urls: Memo[bytes, Vendor | None] = Memo(4096, 1 << 20)
        self._mentioned: Memo[bytes, tuple[Vendor, ...]] = Memo(4096, 1 << 20)
        # Script spans' hits by their bytes (offsets from the span's start): _script_hits.
        self._span_hits: Memo[bytes, tuple[int, ...]] = Memo(4096, 1 << 20)
        self._small: Memo[bytes, tuple[int, ...]] = Memo(1024, 1 << 20)  # positions()
        #: What :class:`TrackerGate` decided on a tag or element, by its bytes.
        self.verdicts: Memo[tuple[bytes | None, ...], tuple[object]] = Memo(4096, 1 << 20)

    def remember(self, key: tuple[bytes | None, ...], verdict: tuple[object], size: int) -> None:
        """Keep a verdict of :class:`TrackerGate` (elements over 16 KB are judged each time)."""
        if size <= 16384:
            self.verdicts.put(key, verdict, size)

    @property
    def active(self) -> bool:
        """False when no catalogued vendor falls in the refused categories (or nothing is
        ever edited: ``record_only``)."""
        return bool(self._vendors) and not self.record_only

    @property
    def scans(self) -> bool:
        """True if pages must be scanned: something to block or to record."""
        return bool(self._vendors)

    def met(self, vendors: Iterable[Vendor]) -> None:
        """Tell the site that a tag loads from ``vendors``."""
        if self._met is not None:
            for vendor in vendors:
                self._met(vendor)

    def _found(self, vendor: Vendor | None) -> Vendor | None:
        return vendor if vendor is not None and vendor.name in self._vendors else None

    def _named(self, host: bytes, path: bytes | None) -> Vendor | None:
        key = host + (path or b"")
        hit = self._hosts.get(key)
        if hit is None and key not in self._hosts:
            plain = _PLAIN_HOST_PATH.fullmatch(key)
            if plain is not None and _as_written(plain[1], plain[2]):
                # Read as the URL parser reads it: as written. (Its reading cost more than
                # the rest of a verdict on a tracker tag.)
                vendor = self.catalogue.vendor_at(plain[1].decode(), plain[2].decode() or "/")
            else:
                vendor = self.catalogue.vendor_for_url("https://" + key.decode("utf-8", "replace"))
            hit = self._found(vendor)
            self._hosts.put(key, hit, len(key))
        if hit is not None and self._known is not None and self._known(hit.name):
            return None
        return hit

    def mentions(self, data: bytes) -> bool:
        """True if ``data`` names a blocked vendor's host in a URL (``//host/path``)."""
        if not self._vendors:
            return False
        seen: set[tuple[bytes, bytes]] = set()
        for _, host, path in _each_url(data):
            key = (host.lower(), path[:64])
            if key in seen:
                continue
            seen.add(key)
            if self._named(*key) is not None:
                return True
        return False

    def mentions_in_tag(self, tag: bytes) -> bool:
        """:meth:`mentions` for a start tag, as written or as the browser reads its attributes
        (character references decoded). Either reading counts (a tag looked at for nothing
        costs only time); the written one is tried first, as decoding a tag of thousands of
        "&" costs more than the rest of its verdict."""
        return self.mentions(tag) or (b"&" in tag and self.mentions(_text_of(tag)))

    def positions(
        self, data: bytes, low: bytes | None = None, *, scripts: bool = True
    ) -> list[int]:
        """Offsets of the URLs in ``data`` that name a blocked vendor's host (``low``:
        ``data`` lower-cased, if the caller has it; ``scripts=False``: the caller searched
        ``low`` and it holds no ``<script``, so there is no inline script to search).

        They depend on the bytes alone: those of a short stretch seen before (the markup
        reading of a snippet's ``<noscript>``, which the scanner asks about apart) are
        looked up (bounded memo; not while ``record_only`` leaves out a growing set)."""
        if not self._vendors:
            return []
        if len(data) <= _SMALL and self._known is None:
            hit = self._small.get(data)
            if hit is None:
                hit = tuple(self._positions(data, low, scripts))
                self._small.put(data, hit, len(data))
            return list(hit)
        return self._positions(data, low, scripts)

    def _positions(self, data: bytes, low: bytes | None, scripts: bool = True) -> list[int]:
        found = _offsets_named(
            data, lambda host, path: self._named(host.lower(), path[:64]) is not None
        )
        if low is None:
            low = data.lower() if b"<" in data or b"&" in data else data
        if scripts and b"<" in data:
            # (Without a "<script", _script_hits finds no span: its search is left out.)
            found += self._script_hits(data, low)
        if b"&" in data:
            # The scheme's colon or the slashes spelled as character references
            # ("https&colon;host", "https:&sol;&sol;host"): the run around each is decoded
            # and searched again (linear work: see _reference_runs). This covers every URL
            # each_url's own pass for "&#x2F;&#x2F;host" finds, which is left out above.
            found += [at for at, run in _reference_runs(data) if self.mentions(run)]
            # An iframe's srcdoc is a document of its own: its attribute values are decoded
            # once more (a host written "&amp;period;" there is a "." to the browser).
            found += [at for at, run in _srcdocs(data, low) if self._mentioned_within(run)]
        found.sort()
        return found

    def _script_hits(self, data: bytes, low: bytes) -> list[int]:
        """Hits for hosts of blocked vendors named without ``//`` (a loader URL a script
        assembles: :meth:`vendors_in_script`), where an inline script may be: the offset of
        each ``<script`` that such a host follows before the next ``</script``.

        A hit at the start tag, not at the host: it reaches the script's verdict and nothing
        else (a host in text, a comment or another tag is no URL, and a hit there would
        count as one). Whether a ``<script`` has one depends only on the bytes from it to
        the end of its span (:func:`_script_spans`: that ``</script``, or the end of the
        bytes when an SVG script's text may run past it), and the scanner holds a script
        whole, so a page is edited the same however it is cut. The search for hosts goes on
        from the first ``<script`` after each one found: a script naming a host thousands
        of times costs one regex pass, not a look-up a name.

        A span's hits depend on its bytes alone (every search is bounded by it): those of a
        span seen before (a vendor's snippet, pasted on every page of a site however the
        pages differ) are looked up (bounded memo; not while vendors already recorded are
        left out, ``record_only``, as that set grows)."""
        found: list[int] = []
        memo = self._span_hits if self._known is None else None
        settled: set[bytes] = set()  # windows of hosts no blocked vendor is under
        catalogue = self.catalogue

        def quiet(start: int, end: int) -> bool:  # (what makes _span_hits_in find none)
            return not catalogue.may_mention(low, start, end) and (
                _REFERENCE.search(low, start, end) is None
            )

        for start, end in _script_spans(low, quiet, data):
            if memo is None or end - start > _SPAN_MEMO:
                found += self._span_hits_in(data, low, start, end, settled)
                continue
            key = data[start:end]
            hit = memo.get(key)
            if hit is None:
                span = self._span_hits_in(data, low, start, end, settled)
                hit = tuple(at - start for at in span)
                memo.put(key, hit, len(key))
            found += [start + at for at in hit]
        return found

    def _span_hits_in(
        self, data: bytes, low: bytes, start: int, end: int, settled: set[bytes]
    ) -> list[int]:
        """:meth:`_script_hits` for the script span ``low[start:end]``."""
        found = []
        reach = -1  # the last blocked host found in the span
        at = start if self.catalogue.may_mention(low, start, end) else -1
        while at != -1:
            hit = self._first_named(low, at, end, settled)
            if hit == -1:
                break
            reach = hit
            at = low.find(b"<script", hit, end)
        if _REFERENCE.search(low, start, end) is not None:
            reach = max(reach, self._decoded_reach(data, low, start, end))
        at = start if reach != -1 else -1
        while at != -1:
            found.append(at)
            at = low.find(b"<script", at + 7, reach + 7)
        return found

    def _decoded_reach(self, data: bytes, low: bytes, start: int, end: int) -> int:
        """Where, in the span ``low[start:end]``, the last ``<script`` is whose text up to
        the next one names a blocked host once decoded (``cdn&#46;cxense&#46;com``: an SVG
        script's text is markup, decoded before it runs) and mapped as the URL parser maps a
        host (``cdn.cx&eopf;nse.com``: a double-struck "e" is "e"), or -1. Each such piece of
        the span is decoded whole, once, from the last: a piece holding a thousand short
        runs of references is one decoding and one search, not a thousand (a script of
        ``a&#46;b`` repeated cost ~350 us/KB that way)."""
        piece_end = end
        while piece_end > start:
            piece = max(low.rfind(b"<script", start, piece_end), start)
            if _REFERENCE.search(low, piece, piece_end) is not None and self._names_blocked(
                folded(_text_of(data[piece:piece_end])).lower()
            ):
                return piece
            piece_end = piece
        return -1

    def _names_blocked(self, low: bytes) -> bool:
        return self._first_named(low, 0, len(low), set()) != -1

    def _first_named(self, low: bytes, start: int, end: int, settled: set[bytes]) -> int:
        """Where in ``low[start:end]`` the first host named that loads a blocked vendor is
        (:meth:`_mentioned_vendors`), or -1. A window whose key no blocked vendor is under
        goes into ``settled``, and its later hits are passed over unread."""
        for window, key, at, host, path in self.catalogue.mentions_keyed(low, start, end, settled):
            if self._mentioned_vendors(host, path):
                return at
            if window and not self._blocked_by_key(key):
                settled.add(window)
        return -1

    def _blocked_by_key(self, key: bytes) -> tuple[Vendor, ...]:
        """The blocked vendors a host found by ``key`` may name (``Catalogue.vendors_by_key``)."""
        known = self._known
        return tuple(
            vendor
            for vendor in self.catalogue.vendors_by_key(key)
            if vendor.name in self._vendors and (known is None or not known(vendor.name))
        )

    def _mentioned_within(self, document: bytes) -> bool:
        """True if a srcdoc document (or one nested in it, three deep) names a blocked host."""
        for _ in range(3):
            document = _text_of(document)
            if self.mentions(document):
                return True
            if b"&" not in document:
                return False
        return False

    def vendor_for_url(self, url: bytes) -> Vendor | None:
        """The blocked vendor ``url`` (an attribute value) loads from, or ``None``.

        A plain URL (:data:`_PLAIN_URL`) is looked up by what comes before its query: the
        rest cannot change the host or path a browser fetches, and a tracker's URLs differ
        mostly there (ids, events, cache-busters), so the memo answers for all of them."""
        plain = _PLAIN_URL.match(url)
        if plain is not None:
            host, path = plain.group(1, 2)
            # The key of _named's memo: the prefilter judged this host and path a moment ago
            # (a new tracker tag is looked up in the catalogue once, not twice).
            key = host.lower() + (path or b"")
            hit = self._hosts.get(key)
            if hit is None and key not in self._hosts:
                path = path or b"/"
                if _as_written(host, path):
                    vendor = self.catalogue.vendor_at(host.lower().decode(), path.decode())
                else:  # (an IPv4 address, dot segments: the URL parser's own reading)
                    vendor = self.catalogue.vendor_for_url(plain.group().decode())
                hit = self._found(vendor)
                self._hosts.put(key, hit, len(key))
        else:
            hit = self._urls.get(url)
            if hit is None and url not in self._urls:
                url_text = url.decode("utf-8", "surrogateescape")
                hit = self._found(self.catalogue.vendor_for_url(url_text))
                self._urls.put(url, hit, len(url))
        if hit is not None and self._known is not None and self._known(hit.name):
            return None
        return hit

    def vendors_in_text(self, content: bytes) -> tuple[Vendor, ...]:
        """Blocked vendors CSS, an import map or a ``data:`` document loads from (named in a
        ``//host/path`` URL: in those a host without one is a relative path)."""
        found: dict[str, Vendor] = {}
        for _, host, path in _each_url(content):
            vendor = self._named(host.lower(), path[:64])
            if vendor is not None:
                found.setdefault(vendor.name, vendor)
        return tuple(found.values())

    def mentions_in_script(self, content: bytes) -> bool:
        """True if a script names a blocked vendor's host, in a URL or not
        (:meth:`vendors_in_script`)."""
        if self.mentions(content):
            return True
        low = content.lower()
        return self._names_blocked(low) or (
            b"&" in low and self._names_blocked(folded(_text_of(content)).lower())
        )

    def vendors_in_script(self, content: bytes) -> tuple[Vendor, ...]:
        """Blocked vendors an inline script loads from: named in a ``//host/path`` URL, or
        by a host written anywhere in its text (``Catalogue.mentions``): scripts assemble
        their loader's URL (``'https://secure' + '.quantserve.com/quant.js'``, ``beacon:
        'bam.nr-data.net'``), and a script that names a tracker's host is one to hold."""
        found = {vendor.name: vendor for vendor in self.vendors_in_text(content)}
        low = content.lower()
        # An SVG script's text is markup: read with its character references decoded too.
        for text in (low, folded(_text_of(content)).lower()) if b"&" in low else (low,):
            # A window is settled once every blocked vendor its key may name is found: a
            # script naming one host 50,000 times reads it once, not 50,000 times.
            settled: set[bytes] = set()
            for window, key, _, host, path in self.catalogue.mentions_keyed(text, 0, None, settled):
                for vendor in self._mentioned_vendors(host, path):
                    found.setdefault(vendor.name, vendor)
                if window and all(v.name in found for v in self._blocked_by_key(key)):
                    settled.add(window)
        return tuple(found.values())

    def _mentioned_vendors(self, host: bytes, path: bytes) -> tuple[Vendor, ...]:
        """The blocked vendors a host named in script text loads from (memo by bytes)."""
        key = host + b" " + path
        hit = self._mentioned.get(key)
        if hit is None:
            named = self.catalogue.vendors_named(host.decode("ascii"), path.decode("ascii"))
            hit = tuple(vendor for vendor in named if self._found(vendor) is not None)
            self._mentioned.put(key, hit, len(key))
        if hit and self._known is not None:
            return tuple(vendor for vendor in hit if not self._known(vendor.name))
        return hit

    def grantable(self, category: str) -> bool:
        """True if the visitor can grant ``category`` (the policy has it)."""
        return category in self._labels

    def label(self, category: str, language: str) -> str:
        """The visitor-facing name of a category."""
        labeller = self._labels.get(category)
        return labeller(language) if labeller is not None else category


def _categories(vendors: tuple[Vendor, ...] | list[Vendor], by_name: frozenset[str]) -> bytes:
    names = {v.category for v in vendors}
    if any(v.name in by_name for v in vendors):
        # Refused by name in a granted category: a token no category has keeps banner.js
        # from starting it on this page (a new choice reloads the page).
        names.add(VENDOR_CHOICE)
    return " ".join(sorted(names)).encode()


#: In ``data-cookieguard`` beside the categories: blocked by a choice per vendor.
VENDOR_CHOICE = "vendor-choice"


@dataclass(slots=True)
class TrackerGate:
    """The per-response side of a :class:`Blocker`: language, page and charset."""

    blocker: Blocker
    language: str = "en"
    next_path: str = "/"
    codec: str = "utf-8"
    #: The last <script> tag whose attributes were read, and them: needs_content and then
    #: script_tag ask about the same tag (a tag of thousands of attributes is read once).
    _script: tuple[bytes, list[Attribute]] | None = field(default=None, repr=False)
    #: The last body :meth:`positions` lower-cased, and the copy.
    _low: tuple[bytes, bytes] | None = field(default=None, repr=False)

    def positions(self, data: bytes) -> list[int]:
        blocker = self.blocker
        if len(data) > _SMALL and blocker.scans:
            low = data.lower()
            self._low = (data, low)  # (the scanner reads the same copy: lowered)
            return blocker.positions(data, low)
        return blocker.positions(data)

    def lowered(self, data: bytes) -> bytes | None:
        """``data`` lower-cased, if :meth:`positions` made that copy (29 µs per 100 KB)."""
        kept = self._low
        return kept[1] if kept is not None and kept[0] is data else None

    def _script_attributes(self, tag: bytes) -> list[Attribute]:
        last = self._script
        if last is not None and last[0] == tag:
            return last[1]
        attrs = attributes_named(tag, 7, _SCRIPT_NAMES, every=True)
        self._script = (tag, attrs)
        return attrs

    # Every verdict below depends only on the blocker and the bytes it is given (not on the
    # page's language or charset, which only embed() uses): the same snippet pasted on every
    # page of a site is judged once per blocker (bounded memo), however the pages differ.

    def needs_content(self, tag: bytes, namespace: bytes = HTML_SCRIPT) -> bool:
        key = (b"n" + namespace, tag)
        hit = self.blocker.verdicts.get(key)
        if hit is None:
            hit = (self._needs_content(tag, namespace),)
            self.blocker.remember(key, hit, len(tag))
        return cast(bool, hit[0])

    def script_tag(
        self, tag: bytes, content: bytes | None, namespace: bytes = HTML_SCRIPT
    ) -> bytes | None:
        key = (b"s" + namespace, tag, content)
        hit = self.blocker.verdicts.get(key)
        if hit is None:
            new = self._with_handlers(tag, self._script_tag(tag, content, namespace), 7)
            hit = (new,)
            self.blocker.remember(key, hit, len(tag) + len(content or b"") + len(new or b""))
        return cast("bytes | None", hit[0])

    def style_tag(self, tag: bytes, content: bytes) -> bytes | None:
        key = (b"c", tag, content)
        hit = self.blocker.verdicts.get(key)
        if hit is None:
            new = self._with_handlers(tag, self._style_tag(tag, content), 6)
            hit = (new,)
            self.blocker.remember(key, hit, len(tag) + len(content) + len(new or b""))
        return cast("bytes | None", hit[0])

    def start_tag(
        self, name: bytes, tag: bytes, in_noscript: bool, mathml: bool = False
    ) -> bytes | None:
        key = (b"t" if not mathml else b"m", name, tag)
        hit = self.blocker.verdicts.get(key)
        if hit is None:
            new = self._start_tag(name, tag, mathml)
            self.blocker.remember(key, (new,), len(tag) + len(new or b""))
            return new
        return hit[0]  # type: ignore[return-value]  # (a call to cast: 5 % of a pixel's cost)

    def is_embed(self, tag: bytes) -> bool:
        key = (b"e", tag)
        hit = self.blocker.verdicts.get(key)
        if hit is None:
            hit = (self._is_embed(tag),)
            self.blocker.remember(key, hit, len(tag))
        return cast(bool, hit[0])

    def _with_handlers(self, tag: bytes, new: bytes | None, skip: int) -> bytes | None:
        """``new`` (or ``tag`` if ``None``), a ``<script>`` or ``<style>`` start tag, with
        its event handlers and its ``style`` attribute renamed where they name a blocked
        host, every copy of their names: a style's ``onload`` runs as any element's does
        (fuzz 9712/9361), and a page's CSS can show a style or a script, whose ``style``
        attribute then fetches its ``url()`` (checked in Chromium). Its own verdict reads
        its URL and text only."""
        blocker = self.blocker
        if blocker.record_only:
            return new
        low = tag.lower()
        if _HANDLER.search(low, skip) is None and low.find(b"style", skip) < 0:
            return new
        if not blocker.mentions_in_tag(tag):
            return new
        base = new if new is not None else tag
        attrs = attributes(base, skip)
        if _find(attrs if new is None else attributes(tag, skip), _MARK) is not None:
            return new  # the site marked it itself
        vendors: list[Vendor] = []
        names: set[bytes] = set()
        for attr in attrs:
            name = attr.name
            if (name == b"style" or (name.startswith(b"on") and len(name) > 2)) and (
                name not in names
            ):
                found = [v for url in _urls(attr) if (v := blocker.vendor_for_url(url))]
                if found:
                    vendors += found
                    names.add(attr.name)
        if not vendors:
            return new
        blocker.met(vendors)
        parts: list[bytes] = []
        cut = 0
        for attr in attrs:
            if attr.name in names:
                parts += (base[cut : attr.start], _rename_prefix(attr.name))
                cut = attr.start
        parts.append(base[cut:])
        return b"".join(parts)

    def _needs_content(self, tag: bytes, namespace: bytes) -> bool:
        attrs = self._script_attributes(tag)  # (every copy: script_tag reads them next)
        if _find(attrs, _MARK) is not None or _script_type(attrs) not in _CONTENT_TYPES:
            return False
        # The text runs where the script has no URL of its namespace (either: in one of them).
        html = namespace != SVG_SCRIPT and _first(attrs, _HTML_SCRIPT_URLS) is None
        svg = namespace != HTML_SCRIPT and _first(attrs, _SVG_SCRIPT_URLS) is None
        return html or svg

    def _script_tag(
        self, tag: bytes, content: bytes | None, namespace: bytes = HTML_SCRIPT
    ) -> bytes | None:
        blocker = self.blocker
        if not (
            blocker.mentions_in_tag(tag)
            or (content is not None and blocker.mentions_in_script(content))
        ):
            return None
        attrs = self._script_attributes(tag)
        if _find(attrs, _MARK) is not None:
            return None  # the site marked it itself (data-cookieguard="necessary" opts out)
        kind_value = _script_type(attrs)
        found: dict[str, Vendor] = {}
        href = None  # an SVG script's URL that loads a blocked vendor: renamed
        for reading, names in ((HTML_SCRIPT, _HTML_SCRIPT_URLS), (SVG_SCRIPT, _SVG_SCRIPT_URLS)):
            if namespace not in (reading, EITHER_SCRIPT):
                continue
            src = _first(attrs, names)
            if src is not None:
                if reading == HTML_SCRIPT and kind_value not in _JS_TYPES:
                    continue  # an HTML script of another type fetches nothing
                vendor = blocker.vendor_for_url(_urls(src)[0])
                if vendor is not None:
                    found.setdefault(vendor.name, vendor)
                    if reading == SVG_SCRIPT:
                        href = src  # Chromium fetches it whatever the type
            elif content is not None and kind_value in _CONTENT_TYPES:
                for vendor in (
                    blocker.vendors_in_script(content)
                    if kind_value in _JS_TYPES
                    else blocker.vendors_in_text(content)  # JSON: import map, rules
                ):
                    found.setdefault(vendor.name, vendor)
        if not found:
            return None
        vendors = tuple(found.values())
        self.blocker.met(vendors)
        if self.blocker.record_only:
            return None
        marks = (
            b' type="text/plain" data-cookieguard="'
            + _categories(vendors, self.blocker.refused_by_name)
            + b'"'
        )
        if kind_value in (b"module", b"importmap", b"speculationrules"):
            marks += b' data-cookieguard-type="' + kind_value + b'"'
        # Every type attribute goes (the first decides; none may be left to decide after ours).
        cuts = [(a.start, a.end, b"") for a in attrs if a.name == b"type"]
        if href is not None:
            # An SVG script: Chromium fetches its href whatever the type; rename it, and an
            # xlink:href it would fall back on, every copy.
            cuts += [
                (a.start, a.start, _rename_prefix(a.name))
                for a in attrs
                if a.name in _SVG_SCRIPT_URLS
            ]
        rest, at = [], 7
        for start, end, put in sorted(cuts):
            rest += [tag[at:start], put]
            at = end
        rest.append(tag[at:])
        return tag[:7] + marks + b"".join(rest)

    def _style_tag(self, tag: bytes, content: bytes) -> bytes | None:
        # A <style> whose type is not CSS is inert (HTML "update a style block"); one that
        # loads from a blocked host (url(), @import) is made so: type="text/plain", the
        # categories in data-cookieguard, the CSS untouched. banner.js puts a copy without
        # the type in its place once every category is granted.
        if not self.blocker.mentions(content):
            return None
        attrs = attributes_named(tag, 6, _STYLE_NAMES, every=True)
        if _find(attrs, _MARK) is not None:
            return None
        kind = _find(attrs, b"type")
        if kind is not None and _text_of(kind.value).strip().lower() not in (b"", b"text/css"):
            return None
        vendors = self.blocker.vendors_in_text(content)
        if not vendors:
            return None
        self.blocker.met(vendors)
        if self.blocker.record_only:
            return None
        rest = [tag[6:]]
        types = [a for a in attrs if a.name == b"type"]
        if types:
            rest, at = [], 6
            for a in types:
                rest += [tag[at : a.start].rstrip()]
                at = a.end
            rest.append(tag[at:])
        return (
            tag[:6]
            + b' type="text/plain" data-cookieguard="'
            + _categories(vendors, self.blocker.refused_by_name)
            + b'"'
            + b"".join(rest)
            + STYLE_STOP
        )

    def _start_tag(self, name: bytes, tag: bytes, mathml: bool = False) -> bytes | None:
        if not self.blocker.mentions_in_tag(tag):
            return None
        skip = len(name) + 1
        handlers = _HANDLER.search(tag.lower(), skip) is not None
        # The first of each name decides (a <meta>'s every http-equiv is read, as before);
        # the copies of the URL attributes are read only once the tag is to be edited (a tag
        # of one attribute written 5,000 times that loads nothing costs no object for each).
        every = handlers or name == b"meta"
        attrs = (
            attributes(tag, skip)
            if handlers
            else attributes_named(tag, skip, _START_NAMES, every=every)
        )
        if _find(attrs, _MARK) is not None:
            return None
        vendors: list[Vendor] = []
        renamed: list[Attribute] = []
        refresh = name == b"meta" and any(
            a.name == b"http-equiv" and _text_of(a.value).strip().lower() == b"refresh"
            for a in attrs
        )
        seen: dict[bytes, str | None] = {}  # each name read so far: how it fetches
        named: set[bytes] = set()  # the text attributes renamed (CSS, handlers, a refresh)
        for attr in attrs:
            if attr.name in seen:
                # A copy: the browser reads the first only, so only the first can load; a
                # copy of a renamed one is renamed too (once the first is, the copy would
                # be the one read: a refresh's second content, fuzz 7101/3307). Reading
                # every copy's URL made a tag of one attribute written 5,000 times cost
                # 135 µs a KB.
                if seen[attr.name] == "url" or attr.name in named:
                    renamed.append(attr)
                continue
            kind = seen[attr.name] = _fetching(name, attr.name, refresh, mathml)
            if kind is None:
                continue
            found: list[Vendor] = []
            for url in _urls(attr):
                vendor = self.blocker.vendor_for_url(url)
                if vendor is not None:
                    found.append(vendor)
                elif url.lstrip()[:5].lower() == b"data:":
                    # A data: document (an iframe's) that loads a tracker itself.
                    found += self.blocker.vendors_in_text(unquote_to_bytes(url))
            vendors += found
            if found or kind == "url":
                renamed.append(attr)
                if kind != "url":
                    named.add(attr.name)
        if not vendors:
            return None
        self.blocker.met(vendors)
        if self.blocker.record_only:
            return None
        starts = [(a.start, a.name) for a in renamed]
        if not every:
            urls = frozenset(n for n, kind in seen.items() if kind == "url") | named
            low = tag.lower()
            if any(low.count(n) > 1 for n in urls):  # (a copy's name is in the tag again)
                # Every copy of them too (each at its own offset: one entry each), read
                # from the first of them (a copy comes after it).
                first = min(start for start, attribute in starts if attribute in urls)
                starts = sorted(dict((*starts, *attribute_starts(tag, first, urls))).items())
        # Rename every URL attribute of the tag (and every text one naming a blocked host),
        # so nothing of it loads.
        cut = len(name) + 1
        parts = [
            tag[:cut],
            b' data-cookieguard="',
            _categories(vendors, self.blocker.refused_by_name),
            b'"',
        ]
        for start, attribute in starts:  # (in the tag's order)
            parts += (tag[cut:start], _rename_prefix(attribute))
            cut = start
        parts.append(tag[cut:])
        return b"".join(parts)

    def _is_embed(self, tag: bytes) -> bool:
        if self.blocker.record_only or not self.blocker.mentions(tag):
            return False
        src = _first(attributes_named(tag, 7, _EMBED_NAMES), _EMBED_URLS)
        if src is None:
            return False
        vendor = self.blocker.vendor_for_url(_urls(src)[0])
        return vendor is not None and vendor.embed

    def embed(self, tag: bytes, element: bytes) -> bytes | None:
        attrs = attributes_named(tag, 7, _EMBED_NAMES)
        if _find(attrs, _MARK) is not None:
            return None
        src = _first(attrs, _EMBED_URLS)
        vendor = self.blocker.vendor_for_url(_urls(src)[0]) if src is not None else None
        if vendor is None or not vendor.embed:
            return None
        self.blocker.met((vendor,))
        width = _find(attrs, b"width")
        height = _find(attrs, b"height")
        language = self.language
        before, after = placeholder_parts(
            # A category the policy lacks cannot be granted: "Load once" only.
            allow=self.blocker.grantable(vendor.category),
            provider=vendor.name,
            categories=(vendor.category,),
            labels=(self.blocker.label(vendor.category, language),),
            width=size(width.value.decode("latin-1")) if width is not None else "",
            height=size(height.value.decode("latin-1")) if height is not None else "",
            language=language,
            prefix=self.blocker.prefix,
            next_path=self.next_path,
            url=_urls(src)[0].decode("latin-1") if src is not None else "",
            granted=self.blocker.granted,
        )
        codec = self.codec
        return b"".join(
            (
                before.encode(codec, "xmlcharrefreplace"),
                element,
                after.encode(codec, "xmlcharrefreplace"),
            )
        )


# -- the plan for one response -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Injection:
    """What to edit in one HTML response, and the headers that go with it.

    ``insert`` (UTF-8) goes before the real ``</body>`` (or at the end of a page without
    one); ``head`` before the first ``<script`` (else before ``</head>``, else with
    ``insert``); ``blocker`` neutralises trackers of refused categories. ``charset`` is the
    Content-Type's label (``None``: none; the page's charset is chosen from its first bytes the
    way a browser does, :func:`cookieguard.html._charsets.choose`). ``codings`` are the body's
    content codings, undone before the edit and applied again after. ``failure`` says why the
    body cannot be edited at all (the adapters then fail closed before sending anything).
    ``memo`` (shared by every plan of a site) keeps the edits of bodies seen before.
    """

    insert: bytes
    vary: tuple[str, ...] = ()  # header names the body now depends on
    head: bytes = b""
    blocker: Blocker | None = None
    charset: str | None = None
    language: str = "en"
    next_path: str = field(default="/")
    memo: Memo[tuple[object, ...], tuple[bytes, bytes]] | None = field(default=None, compare=False)
    codings: tuple[str, ...] = ()
    failure: Uneditable | None = field(default=None, compare=False)
    #: Called once the page's tags before the insert were scanned: a newer ``insert`` (the
    #: banner naming vendors this page was the first to load), or ``None`` to keep it.
    refresh: Callable[[], bytes | None] | None = field(default=None, compare=False)
    #: The page's own CSP nonces, once :meth:`nonced` put them on our tags (``None``: not
    #: yet; a ``<meta>`` policy in the page is then looked for when the body is edited).
    nonces: Nonces | None = field(default=None, compare=False)
    # Everything besides the body that the edited body depends on: the memo's key.
    context: tuple[object, ...] = field(init=False, compare=False)
    #: ``vary`` as ASGI and as WSGI header fields, made once per plan.
    vary_fields: tuple[tuple[bytes, bytes], ...] = field(init=False, compare=False)
    vary_pairs: tuple[tuple[str, str], ...] = field(init=False, compare=False)
    #: The plan adds its insert and nothing else (no head tags, no tracker gate, no banner
    #: to refresh): a visitor with nothing to block. See :meth:`_plain`.
    plain: bool = field(init=False, compare=False)
    #: The codec ``charset`` names (``None``: none, or a label the WHATWG does not know).
    declared: str | None = field(init=False, compare=False)

    def __post_init__(self) -> None:
        fields = tuple((b"vary", name.encode("latin-1")) for name in self.vary)
        object.__setattr__(self, "vary_fields", fields)
        object.__setattr__(self, "vary_pairs", tuple(("Vary", name) for name in self.vary))
        plain = (
            not self.head
            and self.blocker is None
            and self.refresh is None
            and self.failure is None
            and self.insert.isascii()
        )
        object.__setattr__(self, "plain", plain)
        declared = codec_for(self.charset) if self.charset is not None else None
        object.__setattr__(self, "declared", declared)
        context: tuple[object, ...] = (
            self.insert,
            self.head,
            self.blocker,
            self.charset,
            self.codings,
        )
        if self.blocker is not None:
            context += (self.language, self.next_path)  # in click-to-load placeholders
        object.__setattr__(self, "context", context)

    def injector(self) -> Editor:
        """A fresh editor for this response's body."""
        return Editor(self)

    def nonced(self, nonces: Nonces | None) -> Injection:
        """This plan for a response whose CSP declares ``nonces``: our tags carry them.

        The nonce differs on every response, and so does the body of a page that writes it
        into its own tags: the nonced plan keeps no edited body (``memo=None``), and the
        plan memo keeps only the plan without nonces."""
        if nonces is None:
            return self
        refresh = self.refresh
        late = None
        if refresh is not None:

            def late() -> bytes | None:
                newer = refresh()
                return None if newer is None else with_nonces(newer, nonces)

        return replace(
            self,
            insert=with_nonces(self.insert, nonces),
            head=with_nonces(self.head, nonces),
            memo=None,
            refresh=late,
            nonces=nonces,
        )

    def _for_page(self, text: bytes) -> Injection:
        """This plan, nonced if the page's head holds a ``<meta>`` policy with nonces (a
        page with the nonce in its bytes may be kept in the memo: its key is the body)."""
        if self.nonces is not None:
            return self
        return self.nonced(meta_nonces(text))

    def rewriter(self, codec: str = "utf-8") -> Rewriter:
        """A fresh streaming rewriter for a body in ``codec`` (as ``choose`` names it; a
        transcoded page is edited as UTF-8)."""
        if codec in TRANSCODED:
            codec = "utf-8"
        gate = (
            TrackerGate(self.blocker, self.language, self.next_path, python_codec(codec))
            if self.blocker is not None
            else None
        )
        refresh = self.refresh
        late = None
        if refresh is not None:

            def late(insert: bytes) -> bytes:
                newer = refresh()
                return insert if newer is None else transcode(newer, codec)

        return Rewriter(
            transcode(self.insert, codec),
            head=transcode(self.head, codec),
            gate=gate,
            refresh=late,
        )

    def rewrite(self, body: bytes, *, clear: bool = False) -> bytes:
        """A whole body, edited (:class:`Uneditable` if it cannot be).

        A site serves the same bytes to many visitors (a page not personalised, a cached
        view): the edit of a body seen before under the same plan is looked up instead of
        done again. The key holds the body's length and ends, not a hash of it (hashing 20 KB
        costs more than comparing it); a hit is compared byte for byte with the body it was
        made from, so two bodies that share a key only ever cost a miss. Bodies that differ
        on every request (a CSRF token) share one slot per key and so do not crowd out the rest.
        ``clear``: the tracker gate's prefilter, run on the body piece by piece as it
        streamed (:class:`_Unscanned`), found no blocked host in it (it is not run again).
        """
        memo = self.memo
        if memo is None or type(body) is not bytes or len(body) * 8 > memo.budget:
            return self._whole(body, clear)  # (the memo keeps nothing over an eighth)
        key = (self.context, len(body), body[:_SAMPLE], body[-_SAMPLE:])
        hit = memo.get(key)
        if hit is not None and hit[0] == body:
            return hit[1]
        out = self._whole(body, clear)
        memo.put(key, (body, out), len(body) + (0 if out is body else len(out)))
        return out

    def _whole(self, body: bytes, clear: bool = False) -> bytes:
        if self.failure is not None:
            raise self.failure
        try:
            if not self.codings:
                return (self._plain(body) if self.plain else None) or self._text(body, clear)
            text = Decoder(self.codings).whole(body)
            edited = (self._plain(text) if self.plain else None) or self._text(text, clear)
            return body if edited == text else Encoder(self.codings).whole(edited)
        except Uneditable:
            raise
        except Exception as exc:  # a page must never break the app: fail closed instead
            raise Uneditable("error", f"the rewriter failed ({exc!r})") from exc

    def _text(self, body: bytes, clear: bool = False) -> bytes:
        codec = self.codec(body)
        if codec in TRANSCODED:
            transcoder = Transcoder(codec)
            text = transcoder.decode(body, final=True)
            rewriter = self._for_page(text).rewriter(codec)
            out = rewriter.feed_last(text, clear=clear)
            _check(rewriter)
            return transcoder.encode(out, final=True)
        rewriter = self._for_page(body).rewriter(codec)
        out = rewriter.feed_last(body, clear=clear)
        _check(rewriter)
        return out

    def _plain(self, body: bytes) -> bytes | None:
        """The edit of a plain plan (:attr:`plain`), from a look at the few places that
        decide it, or ``None`` if the rewriter must read the page (:meth:`_text`).

        The same bytes as :meth:`_text` by construction: the page's charset is one whose
        bytes are markup as written (no BOM, nothing transcoded: the ASCII insert is the same
        bytes in it), its head names no ``<meta>`` policy (no nonces for our tags), and its
        end says where the insert goes (:func:`insert_point`, the rewriter's own test
        before its scan: it then adds the insert there and nothing else)."""
        at = self._plain_at(body)
        if at < 0:
            return None
        view = memoryview(body)
        return b"".join((view[:at], self.insert, view[at:]))

    def _plain_at(self, body: bytes) -> int:
        """Where :meth:`_plain` puts the insert in ``body``, or -1 if it cannot say."""
        if body[:1] in _BOM_LEADS:  # (and an empty body)
            return -1
        codec = self.declared or prescan(body) or DEFAULT_CODEC
        if codec in TRANSCODED or codec == REPLACEMENT:
            return -1
        if self.nonces is None and meta_nonces(body) is not None:
            return -1
        return insert_point(body)

    def codec(self, head: bytes) -> str:
        """The codec of a body starting with ``head`` (:class:`Uneditable` if it is one a
        browser shows nothing of)."""
        codec = choose(self.charset, head)
        if codec == REPLACEMENT:
            raise Uneditable("charset", "the page's charset shows nothing (WHATWG replacement)")
        return codec


_SAMPLE = 64
#: A body's first byte if it may start a byte order mark (see :func:`choose`).
_BOM_LEADS = b"\xef\xfe\xff"


def _check(rewriter: Rewriter) -> None:
    if rewriter.failure is not None:
        raise Uneditable(rewriter.failure, f"the rewriter gave up ({rewriter.failure})")


class Editor:
    """What the adapters feed one response's body to.

    A body that arrives whole (what most frameworks send: :meth:`feed_last` first) goes
    through :meth:`Injection.rewrite` and its memo; a streamed one is decoded (content
    codings), its charset chosen from its first bytes, then edited chunk by chunk and encoded
    back. A plan that edits nothing but its insert (no tracker gate, no head tags: a visitor
    with nothing to block) streams the body through unscanned (:class:`_Unscanned`) and edits
    it whole at the end, as :meth:`Injection.rewrite` would; any other plan feeds a
    :class:`~cookieguard.html._scanner.Rewriter`. Every method raises :class:`Uneditable`
    when the body cannot be edited: the adapter then fails closed.
    """

    __slots__ = (
        "_decoder",
        "_encoder",
        "_head",
        "_plan",
        "_rewriter",
        "_sent",
        "_transcoder",
        "_unscanned",
        "_whole",
    )

    def __init__(self, plan: Injection) -> None:
        self._plan = plan
        self._rewriter: Rewriter | None = None
        self._whole = False  # a whole body went through rewrite()
        self._decoder: Decoder | None = None
        self._encoder: Encoder | None = None
        self._transcoder: Transcoder | None = None
        self._head = b""  # the first bytes, held until the charset is known
        self._unscanned: _Unscanned | None = None  # the body so far, while not scanned
        # Bytes sent while unscanned that the rewriter taking over will give again.
        self._sent: memoryview | None = None

    def feed(self, chunk: bytes) -> bytes:
        """Edit one chunk; returns what may be sent now (possibly ``b""``)."""
        unscanned = self._unscanned
        if (
            unscanned is not None
            and self._decoder is None
            and unscanned.size + len(chunk) <= UNSCANNED_LIMIT
        ):
            out = unscanned.feed(chunk)  # (what _step comes to for such a chunk)
            if not unscanned.found:
                return out
            return out + self._take_over(unscanned)
        return self._step(chunk, last=False)

    def feed_last(self, chunk: bytes) -> bytes:
        """Edit the final chunk (or the whole body), flushing everything held back."""
        if (
            self._rewriter is None
            and self._unscanned is None
            and not self._whole
            and not self._head
            and not self._decoder
        ):
            self._whole = True
            return self._plan.rewrite(chunk)
        return self._step(chunk, last=True)

    def finish(self) -> bytes:
        """Everything held back, once the body has ended."""
        return self._step(b"", last=True)

    def stop(self) -> None:
        """Pass everything from now on through unchanged (no insert either)."""
        unscanned, self._unscanned = self._unscanned, None
        if unscanned is not None:
            self._head = unscanned.held()  # kept back at a "</body": it goes out as it is
        self._streaming(self._head).stop()

    def _streaming(self, head: bytes) -> Rewriter:
        rewriter = self._rewriter
        if rewriter is None:
            plan = self._plan
            codec = plan.codec(head)
            # A <meta> policy is looked for in the first chunk (its head, mostly), as the
            # rewriter reads it (a transcoded page as UTF-8).
            if codec in TRANSCODED:
                self._transcoder = Transcoder(codec)
                plan = plan._for_page(Transcoder(codec).decode(head))
            else:
                plan = plan._for_page(head)
            rewriter = self._rewriter = plan.rewriter(codec)
            if self._whole:
                rewriter.stop()  # the body has ended: anything more passes unchanged
        return rewriter

    def _step(self, chunk: bytes, *, last: bool) -> bytes:
        plan = self._plan
        if plan.failure is not None:
            raise plan.failure
        try:
            if plan.codings and self._decoder is None and not self._whole:
                self._decoder = Decoder(plan.codings)
                self._encoder = Encoder(plan.codings)
            if self._decoder is not None:
                chunk = self._decoder.feed(chunk)
                if last:
                    chunk += self._decoder.finish()
            out = self._text(chunk, last)
            if self._encoder is not None:
                out = self._encoder.feed(out)
                if last:
                    out += self._encoder.finish()
            return out
        except Uneditable:
            raise
        except Exception as exc:  # a page must never break the app: fail closed instead
            raise Uneditable("error", f"the rewriter failed ({exc!r})") from exc

    def _text(self, data: bytes, last: bool) -> bytes:
        if self._head:
            data = self._head + data
            self._head = b""
        if self._rewriter is None:
            unscanned = self._unscanned
            if unscanned is None:
                if len(data) < PRESCAN and not last:
                    self._head = data  # the charset is chosen from the first 1024 bytes
                    return b""
                if self._unscanned_plan(data):
                    blocker = self._plan.blocker
                    unscanned = self._unscanned = _Unscanned(
                        blocker if blocker is not None and blocker.scans else None
                    )
            if unscanned is not None:
                return self._unscanned_text(unscanned, data, last)
        rewriter = self._streaming(data)
        transcoder = self._transcoder
        if transcoder is not None:
            data = transcoder.decode(data, final=last)
        out = rewriter.feed_last(data) if last else rewriter.feed(data)
        _check(rewriter)
        if transcoder is not None:
            out = transcoder.encode(out, final=last)
        if self._sent is not None:
            out = self._not_sent(out, last)
        return out

    def _unscanned_plan(self, head: bytes) -> bool:
        """True if this plan may pass a page starting with ``head`` through unscanned: it
        adds no head tags, and the page's charset writes markup as ASCII does. One with no
        tracker gate (or one with no vendor to look for) edits nothing but its insert; one
        with a gate is watched by :class:`_Unscanned` until the prefilter finds a blocked
        host, and only then scanned."""
        plan = self._plan
        return not self._whole and not plan.head and plan.codec(head) not in TRANSCODED

    def _unscanned_text(self, unscanned: _Unscanned, data: bytes, last: bool) -> bytes:
        if not last:
            out = unscanned.feed(data)
            if unscanned.size <= UNSCANNED_LIMIT and not unscanned.found:
                return out
            return out + self._take_over(unscanned)
        self._unscanned = None
        body = unscanned.body(data)
        plan = self._plan
        sent = unscanned.sent
        if plan.plain:
            # Edited as Injection._plain edits it whole: the insert at or after the first
            # "</body", where sending stopped, so what went out is what the edit begins
            # with; only the rest is joined.
            at = plan._plain_at(body)
            if at >= sent:
                view = memoryview(body)
                return b"".join((view[sent:at], plan.insert, view[at:]))
        # Edited whole, as Injection.rewrite edits a body sent in one piece (and through its
        # memo: a page streamed again is looked up), so the bytes are the same however the
        # body was cut: the insert goes at a "</body" (never before the first one, which is
        # where sending stopped) or at the end; a gated page's trackers where their
        # elements are, none of them sent (a page the prefilter found nothing in, piece by
        # piece, is not searched again).
        clear = unscanned.clear(data)
        edited = plan._text(body, clear) if plan.codings else plan.rewrite(body, clear=clear)
        if not edited.startswith(memoryview(body)[:sent]):
            raise Uneditable("error", "the edit of a streamed page changed bytes already sent")
        return edited[sent:]

    def _take_over(self, unscanned: _Unscanned) -> bytes:
        """The rewriter reads what was kept and carries on: the body grew too long to keep,
        or the prefilter found a blocked host in it. (The bytes already sent are what it
        gives first: :meth:`_not_sent` checks them.)"""
        self._unscanned = None
        body = unscanned.body(b"")
        self._sent = memoryview(body)[: unscanned.sent]
        self._streaming(body)
        return self._text(body, False)

    def _not_sent(self, out: bytes, last: bool) -> bytes:
        """``out`` less what was sent before the rewriter took over (it must be the same)."""
        sent = self._sent
        assert sent is not None
        n = min(len(sent), len(out))
        if not out.startswith(sent[:n]):
            raise Uneditable("error", "the edit of a streamed page changed bytes already sent")
        rest = sent[n:]
        self._sent = rest if len(rest) else None
        if last and self._sent is not None:
            raise Uneditable("error", "a streamed page ended before the bytes already sent")
        return out[n:] if n else out


#: A streamed body passed through unscanned is kept (to be edited whole at the end) up to
#: this size; past it the rewriter reads it and takes over (one scan, as if never kept).
UNSCANNED_LIMIT = 256 * 1024
# Where sending stops: the first "</body" in any letter case (the insert is never placed
# before it).
_BODY_CLOSE = re.compile(rb"</body", re.IGNORECASE)  # (ASCII letters only, as bytes)
# What a watched stretch (see _Unscanned) is searched for, lower-cased: the first "</body";
# the elements whose verdict is on their content (an inline script, a <style>: the edit
# lands on their start tag, which must not leave before their end is known); and the
# elements a later hit can change the edit of after they closed: a second reading (the
# markup in <noscript> without JavaScript, raw text in <select>, foreign content and its
# CDATA) left open at their end is closed there only if a blocked host follows
# (Rewriter._other_reading). At those the rewriter takes over.
_WATCHED = re.compile(rb"<(?:/body|s(?:cript|tyle|elect|vg)|noscript|math)")
#: How much a held stretch must grow before it is searched again (linear work for a long
#: inline script arriving in many chunks).
_REWATCH = 4096
_WS_BYTES = frozenset(b"\t\n\f\r ")


class _Unscanned:
    """A streamed body kept whole while it passes through unscanned: every byte before its
    first ``</body`` (any letter case) goes out as it arrives; the rest waits for the end,
    where the body is edited whole (:meth:`Injection.rewrite`).

    The plans that stream this way (:meth:`Editor._unscanned_plan`) change nothing but the
    place of their insert, which is at a ``</body`` or at the end of the page, so what went
    out is what the edit of the whole body begins with (checked at the end all the same);
    unless they gate trackers (``blocker``). Then a stretch goes out only once the
    prefilter (:meth:`Blocker.positions`) has found no blocked host in it and no element an
    edit could still land on is open at its end (:meth:`_sendable`); a blocked host found
    sets :attr:`found`, and the rewriter takes over from the first byte kept (its output
    must begin with what was sent). A page with nothing to block is then never tokenized,
    as when it arrives whole.
    """

    __slots__ = ("blocker", "found", "hold", "parts", "pending", "rest", "sent", "size", "watch")

    def __init__(self, blocker: Blocker | None = None) -> None:
        self.parts: list[bytes] = []
        self.size = 0  # bytes kept
        self.sent = 0  # bytes sent
        self.hold = -1  # where the first "</body" starts (-1: not seen yet)
        self.pending = b""  # the kept bytes not sent (a "</body" may begin there)
        self.blocker = blocker
        self.found = False  # the prefilter found a blocked host: the rewriter must scan
        self.rest: list[bytes] = []  # (with a blocker) what was kept and not sent
        self.watch = 0  # (with a blocker) search the rest again once it is this long

    def feed(self, data: bytes) -> bytes:
        """Keep ``data``; return what may be sent now."""
        if self.blocker is not None:
            return self._watched(data)
        self.parts.append(data)
        self.size += len(data)
        if self.hold >= 0:
            return b""  # past the first "</body": nothing more goes out before the end
        # What was held back (``pending``, from the last chunks) and ``data`` are read as one
        # window, starting at ``sent``, without joining them: a "</body" cut by a chunk
        # boundary starts in ``pending`` (its "<" is why that was held back), so it ends
        # in the next five bytes.
        pending = self.pending
        if pending:
            head = pending + data[:5]
            m = _BODY_CLOSE.search(head)
            if m is not None:
                return self._hold(head[: m.start()])
        m = _BODY_CLOSE.search(data)
        if m is not None:
            return self._hold(pending + data[: m.start()] if pending else data[: m.start()])
        # A "<" in the window's last five bytes may begin a "</body" a later chunk finishes:
        # it waits, and everything after it.
        if len(data) >= 5:
            lt = data.rfind(b"<", len(data) - 5)
            if lt < 0:
                if not pending:
                    self.sent = self.size
                    return data  # the common case: the whole chunk, not copied
                out = pending + data
            else:
                out = pending + data[:lt] if pending else data[:lt]
                self.pending = data[lt:]
        else:
            window = pending + data  # (at most nine bytes)
            lt = window.rfind(b"<", max(len(window) - 5, 0))
            out = window if lt < 0 else window[:lt]
            self.pending = b"" if lt < 0 else window[lt:]
        if lt < 0:
            self.pending = b""
        self.sent = self.size - len(self.pending)
        return out

    def _hold(self, out: bytes) -> bytes:
        """The first "</body" starts right after ``out``, the rest of the window: send
        ``out``, keep everything from there to the end."""
        self.sent += len(out)
        self.hold = self.sent
        self.pending = b""
        return out

    def _watched(self, data: bytes) -> bytes:
        self.parts.append(data)
        self.size += len(data)
        if self.found:
            return b""
        self.rest.append(data)  # (prefiltered at the end if not before: see clear())
        if self.hold >= 0:
            return b""  # past the first "</body": nothing more goes out before the end
        held = self.size - self.sent
        if held < self.watch:
            return b""
        stretch = self.rest[0] if len(self.rest) == 1 else b"".join(self.rest)
        blocker = self.blocker
        assert blocker is not None
        send, low, scripts = self._sendable(stretch)
        if send < 0 or blocker.positions(stretch, low, scripts=scripts):
            self.found = True
            return b""
        left = len(stretch) - send
        self.rest = [stretch[send:]] if left else []
        self.watch = left * 3 // 2 if left > _REWATCH else 0
        self.sent += send
        if send == len(stretch):
            return stretch
        return stretch[:send]

    def clear(self, last: bytes) -> bool:
        """True if the prefilter finds no blocked host in the body ending with ``last``,
        searched piece by piece: every piece sent, then what is left (``False`` without a
        blocker: nothing was searched)."""
        if self.blocker is None or self.found:
            return False
        self.rest.append(last)
        return not self.blocker.positions(b"".join(self.rest))

    def body(self, last: bytes) -> bytes:
        """The whole body: what was kept, then ``last``."""
        return b"".join((*self.parts, last))

    def held(self) -> bytes:
        """What was kept and not sent."""
        return b"".join(self.parts)[self.sent :]

    def _sendable(self, data: bytes) -> tuple[int, bytes | None, bool]:
        """How much of ``data`` (what was kept and not sent) may go out, or -1 if the
        rewriter must read it (see ``_WATCHED``); ``data`` lower-cased if it was; and False
        if that copy holds no ``<script`` (the prefilter then has no script to look for:
        the search here saw every one, and a second costs 0.45 ns a byte).

        Sent bytes can no longer be edited: none may belong to an element that a blocked
        host arriving later would edit. Such an element starts with a "<" and is still open
        at the end of ``data``: a start tag (the edit renames its attributes) or an inline
        script or ``<style>`` (the edit is on its start tag). Every "<" counts, whatever
        the tokenizer state (one in a comment or a value holds back needlessly, never the
        other way round); elements closed before are judged by the prefilter, which finds
        every blocked host they hold. By induction no open element starts before ``data``.
        """
        n = len(data)
        send = n
        # A start tag open at the end: after the last ">" (every "<" there may start one),
        # or before it if that ">" is inside a quoted value. Such a value opens with the
        # last quote of its kind before the ">" (it holds none), right after "=" and white
        # space; if either quote could, hold everything (rare: a ">" in a value).
        gt = data.rfind(b">")
        if gt >= 0:
            for quote in (b'"', b"'"):
                k = data.rfind(quote, 0, gt)
                while k > 0 and data[k - 1] in _WS_BYTES:
                    k -= 1
                if k > 0 and data[k - 1] == 0x3D:  # "=": it may open a value holding gt
                    return 0, None, True
            lt = data.find(b"<", gt + 1)
        else:
            lt = data.find(b"<")
        if lt >= 0:
            send = lt
        low = data.lower()
        pos = 0
        scripts = False
        while (m := _WATCHED.search(low, pos, send)) is not None:
            at = m.start()
            name = m.group()
            if name == b"</body":  # the insert may go there
                self.hold = self.sent + at
                return at, low, True
            if name == b"<script":
                scripts = True
            elif name != b"<style":
                return -1, low, True  # a second reading: the rewriter reads the page
            pos = m.end()
            if low[pos : pos + 1] not in _NAME_ENDS:
                continue  # not that tag ("<scripts>"; at the very end: after the last ">")
            end = _element_end(low, name[1:], pos)
            if end < 0:
                return at, low, True  # open: it waits, and everything after it
        # Every "<script" before ``send`` was matched above (one starting before it ends
        # before the last ">", which is before ``send``); the rest is a tag cut short.
        return send, low, scripts or low.find(b"<script", send) != -1


def _element_end(low: bytes, name: bytes, name_end: int) -> int:
    """Where the content of the script or style element whose name ends at ``name_end``
    ends (its end tag), in a lower-cased stretch; -1 if it does not end in it."""
    content = tag_end(low, name_end)
    if content < 0:
        return -1
    if name == b"style":
        return _tag(low, b"</style", content)
    end = _escaped_end(low, content)
    return -1 if end == len(low) else end


#: The adapters' name for what edits a body.
BodyInjector = Editor
