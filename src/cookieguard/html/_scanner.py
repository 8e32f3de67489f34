"""One streaming pass over an HTML body: banner insertion, tracker neutralising, head tags.

This is a *narrow* scanner, not a parser: it finds only the handful of tags we may edit
(``script``, ``iframe``, ``img``, ``link``, ``source``, ``video``, ``audio``, ``embed``,
``noscript``, ``</head``, ``</body``) and knows just enough of the HTML tokenizer to skip what
is not markup — comments, bogus comments (``<!DOCTYPE``, ``<![CDATA[``, ``<?xml``) and the
raw-text and RCDATA elements (``script``, ``style``, ``textarea``, ``title``, ``xmp``,
``iframe``, ``noembed``, ``noframes``) whose content may look like tags
(https://html.spec.whatwg.org/multipage/parsing.html#tokenization). ``noscript`` content is
scanned as markup, the way a browser with JavaScript off reads it, so pixels in it are gated
too.

Bytes in, bytes out: the body is never decoded (every charset we accept is ASCII-compatible,
so ``<`` is ``<``), bytes we do not edit are copied unchanged, and a chunk boundary may fall
anywhere (a partial tag is held back until its ``>`` arrives, bounded). Work is linear in the
body; anything beyond the bounds below is passed through unchanged with one log line.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple, Protocol

logger = logging.getLogger("cookieguard")

#: A start tag (or an inline script / embed element we must see whole) longer than this is
#: passed through unchanged, and so is the rest of the body.
ELEMENT_LIMIT = 1024 * 1024
#: How far past a ``</body`` we wait for a later one before giving it up as not the last.
BODY_HOLD_LIMIT = 256 * 1024

_WS = rb"\t\n\f\r "
# Tags every pass needs (raw text, comments, the insertion points) ...
_RAW = b"script|style|textarea|title|xmp|iframe|noembed|noframes|plaintext"
# ... and the resource tags auto-blocking edits (found from the blocked URL, backwards).
_TAG_AT = re.compile(rb"<([A-Za-z][A-Za-z0-9:_-]*)(?=[" + _WS + rb"/>])")
_TAG_START = re.compile(rb"<[A-Za-z]")


def _alternation(names: list[bytes]) -> bytes:
    """``names`` as a regex alternation grouped by first letter: a failed try at a ``<``
    costs one comparison, not one per name (the scan stops at every ``<`` of the page)."""
    groups: dict[bytes, list[bytes]] = {}
    for name in names:
        groups.setdefault(name[:1], []).append(name[1:])
    parts = []
    for first, rests in sorted(groups.items()):
        rests.sort(key=len, reverse=True)
        parts.append(first + (rests[0] if len(rests) == 1 else b"(?:" + b"|".join(rests) + b")"))
    return b"|".join(parts)


def _opener(names: bytes) -> re.Pattern[bytes]:
    # Matched against the lower-cased page (tag names are case-insensitive). Groups: 1 a
    # comment, 2 a bogus comment, 3 an end tag's name, 4 a start tag's name. End tags are a
    # branch of their own, not an optional "/": "</p>" then fails once instead of twice (the
    # search stops at every "<" of the page, and this is a fifth of its cost).
    alternatives = _alternation(names.split(b"|"))
    after = rb")(?=[" + _WS + rb"/>])"
    return re.compile(
        rb"<(?:(!--)|([!?])|/(" + alternatives + after + rb"|(" + alternatives + after + rb")"
    )


_OPENER = _opener(_RAW + b"|body|head|html|noscript|svg|math")
#: Where a start tag ends: quotes only open a value right after ``=`` (possessive, so a
#: missing ``>`` costs one linear scan, never backtracking).
_TAG_END = re.compile(rb"(?:[^>=]++|=[" + _WS + rb"]*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])))*+>")
_COMMENT_END = re.compile(rb"--!?>")
# These three are matched against the lower-cased page.
_BODY_END = re.compile(rb"</body(?=[" + _WS + rb"/>])")
_CLOSERS = {
    name: re.compile(rb"</" + name + rb"(?=[" + _WS + rb"/>])") for name in _RAW.split(b"|")
}
_CLOSERS[b"plaintext"] = re.compile(rb"(?!)")  # everything after <plaintext> is text
_SCRIPT_CLOSER = _CLOSERS[b"script"]
_SCRIPT_TOKENS = re.compile(rb"<!--|-->|</?script(?=[" + _WS + rb"/>])")
_ATTR = re.compile(
    rb"([^" + _WS + rb"/>][^" + _WS + rb"/>=]*)"
    rb"(?:[" + _WS + rb"]*=[" + _WS + rb"]*(?:\"([^\"]*)\"|'([^']*)'|([^" + _WS + rb">]*)))?"
)
_LONGEST_NAME = 12  # "</plaintext" plus the character after it
# The end of a well-formed page: "</body>", maybe "</html>", white space. A last "</body"
# followed by nothing else is where the scanner would insert too, unless an unterminated
# comment or raw-text element swallows the end of the page, which hides an insert either way.
_TAIL = re.compile(
    rb"</body[" + _WS + rb"/]*>[" + _WS + rb"]*(?:</html[" + _WS + rb"]*>[" + _WS + rb"]*)?",
    re.IGNORECASE,
)


_HEAD_POINT = re.compile(rb"<script(?=[" + _WS + rb"/>])|</head(?=[" + _WS + rb"/>])")
# What may come before the head tags' place for the scanner to agree without scanning: no
# comment, raw-text element or bogus comment other than the doctype ("<title>" is checked).
_HEAD_HAZARDS = (b"<!--", b"<?", b"<style", b"<textarea", b"<xmp", b"<iframe", b"<noembed",
                 b"<noframes", b"<plaintext")  # fmt: skip


def _head_point(data: bytes) -> int:
    """Where the head tags go (before the first ``<script``, else ``</head``) when the first
    16 KB show it plainly; -1 when only the scanner can tell."""
    low = data[:16384].lower()
    m = _HEAD_POINT.search(low)
    if m is None:
        return -1
    before = low[: m.start()]
    if any(hazard in before for hazard in _HEAD_HAZARDS):
        return -1
    if _enclosing(data, 0, m.start()) >= 0:
        return -1
    if before.count(b"<!") != before.count(b"<!doctype"):
        return -1
    title = before.rfind(b"<title")
    if title >= 0 and before.find(b"</title", title) < 0:
        return -1
    return m.start()


def _last_body(data: bytes) -> int:
    """Where the last ``</body`` starts, any letter case; -1 if none.

    The closing tag sits at the end of a page, so searching backwards finds it at once;
    lowering the whole body is the slow fallback for mixed-case tags.
    """
    at = data.rfind(b"</body")
    if at < 0:
        at = data.rfind(b"</BODY")
        if at < 0:
            at = data.lower().rfind(b"</body")
    return at


class Attribute(NamedTuple):
    """One attribute of a start tag: lower-cased name, raw value, and where it sits.

    (A named tuple: made by the dozen per tracker tag, it costs a third of a frozen
    dataclass.)"""

    name: bytes
    value: bytes
    start: int  # of the name, within the tag bytes
    end: int  # after the value (or the name)


def attributes(tag: bytes, skip: int) -> list[Attribute]:
    """The attributes of a complete start tag, ``skip`` bytes past ``<name``.

    Values are raw (character references are not decoded; URLs we compare are ASCII).
    """
    found = []
    for m in _ATTR.finditer(tag, skip, len(tag) - 1):
        value = m.group(2)
        if value is None:
            value = m.group(3)
            if value is None:
                value = m.group(4) or b""
        found.append(Attribute(m.group(1).lower(), value, m.start(), m.end()))
    return found


@lru_cache(maxsize=512)
def _named_attribute(names: frozenset[bytes]) -> re.Pattern[bytes]:
    """The next attribute named one of ``names``, past any others, in one C-level match.

    Attributes are read as :data:`_ATTR` reads them (the same name, value and separator
    classes), each quantifier possessive: the attributes skipped are read once, and a try
    that finds no such attribute fails after one pass over the rest of the tag.
    """
    ws = _WS
    wanted = b"(?i:" + b"|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + b")"
    boundary = rb"(?:[" + ws + rb"/>=]|\Z)"
    # A name whose first letter starts none of ``names`` is skipped by a character class
    # alone; only the others pay for the look-ahead.
    firsts = re.escape(bytes(sorted({c for n in names for c in n[:1].lower() + n[:1].upper()})))
    first = (
        rb"(?:[^" + ws + rb"/>" + firsts + rb"]|(?!" + wanted + boundary + rb")[" + firsts + rb"])"
    )
    other = first + rb"[^" + ws + rb"/>=]*+"

    def value(group: bytes) -> bytes:  # group: b"(" to capture, b"(?:" not to
        quoted = group + rb"[^\"]*+)\"|'" + group + rb"[^']*+)'|" + group + rb"[^" + ws + rb">]*+)"
        return rb"(?:[" + ws + rb"]*+=[" + ws + rb"]*+(?:\"" + quoted + rb"))?+"

    # One repetition per attribute, its separators first (one per run would double them).
    return re.compile(
        rb"(?:[" + ws + rb"/>]*+" + other + value(b"(?:") + rb")*+"
        rb"[" + ws + rb"/>]*+(" + wanted + rb")(?=" + boundary + rb")" + value(b"(")
    )


def attributes_named(tag: bytes, skip: int, names: frozenset[bytes]) -> list[Attribute]:
    """:func:`attributes`, only the first named each of ``names`` (lower case), in order.

    A browser keeps the first of attributes with the same name and drops the rest, so the
    first is all a verdict reads. The attributes skipped (others, and repeats of a name
    found) cost a regex scan, not a Python object each: a tag of 100,000 attributes, or of
    one attribute 10,000 times, stays cheap."""
    found: list[Attribute] = []
    end = len(tag) - 1
    pos = skip
    while names:
        m = _named_attribute(names).match(tag, pos, end)
        if m is None:
            break
        value = m.group(2)
        if value is None:
            value = m.group(3)
            if value is None:
                value = m.group(4) or b""
        name = m.group(1).lower()
        found.append(Attribute(name, value, m.start(1), m.end()))
        names = names - {name}
        pos = m.end()
    return found


_noted: list[bool] = []


def _fragment_note() -> None:
    if not _noted:
        _noted.append(True)
        logger.info(
            "an HTML response with no <!doctype>, <html>, <head> or <body> is "
            "taken for a fragment (htmx, Turbo...) and gets no banner or asset tags; this is "
            "said once per process"
        )


class Gate(Protocol):
    """The auto-blocking decisions the rewriter asks for (see ``cookieguard.html._inject``)."""

    def positions(self, data: bytes) -> list[int]:
        """Where ``data`` names a host the gate blocks (offsets, ascending)."""

    def needs_content(self, tag: bytes) -> bool:
        """True if the verdict on this ``<script>`` start tag depends on its inline content."""

    def script_tag(self, tag: bytes, content: bytes | None) -> bytes | None:
        """The replacement for a ``<script>`` start tag, or ``None`` to keep it."""

    def style_tag(self, tag: bytes, content: bytes) -> bytes | None:
        """The replacement for a ``<style>`` start tag given its CSS, or ``None`` to keep it."""

    def start_tag(self, name: bytes, tag: bytes, in_noscript: bool) -> bytes | None:
        """The replacement for a start tag naming a blocked URL (``img``, ``link``, a style
        attribute...), or ``None``."""

    def is_embed(self, tag: bytes) -> bool:
        """True if this ``<iframe>`` start tag is a content embed to replace."""

    def embed(self, tag: bytes, element: bytes) -> bytes | None:
        """A placeholder replacing a whole ``<iframe>...</iframe>`` element, or ``None``."""


# Scanner modes.
_DATA = 0
_RAWTEXT = 1  # inside a raw-text / RCDATA element: look for its closer only
_COMMENT = 2
_BOGUS = 3  # <!DOCTYPE ...>, <?xml ...?>, <![CDATA[ ...>: ends at the next ">"
_PASS = 4  # give up: everything from here on passes through


class Rewriter:
    """Streams one HTML body through every pass; see the module docstring.

    ``insert`` goes before the last ``</body`` outside raw text and comments (or at the end
    of the document when there is none); ``head`` before the first ``<script`` (else before
    ``</head``, else with ``insert``); ``gate`` (optional) decides on tracker tags.

    The interface the adapters use: :meth:`feed` for each chunk, then :meth:`finish`; or
    :meth:`feed_last` for the final chunk (or a whole body); :meth:`stop` to pass everything
    from now on unchanged.
    """

    __slots__ = (
        "_closer",
        "_document",
        "_escape",
        "_foreign",
        "_fresh",
        "_gate",
        "_head",
        "_held",
        "_held_size",
        "_holding",
        "_insert",
        "_mode",
        "_noscript",
        "_opener",
        "_out",
        "_pending",
        "_prepare",
        "_refresh",
        "_shadow",
        "_shadowing",
        "_waited",
        "_waiting",
        "failure",
    )

    def __init__(
        self,
        insert: bytes,
        *,
        head: bytes = b"",
        gate: Gate | None = None,
        prepare: Callable[[bytes], Callable[[bytes], bytes] | None] | None = None,
        refresh: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self._insert = insert
        # Called with the insert right before it is placed, once every tag before it has been
        # scanned: the banner can then name the vendors this very page loads (issue 24).
        self._refresh = refresh
        self._head = head
        self._gate = gate
        # Called with the first bytes (>= 1 KB, or the whole body): returns how to encode the
        # inserts in the page's charset, or None to leave the page alone (a charset we
        # cannot write in).
        self._prepare = prepare
        self._opener = _OPENER
        self._mode = _DATA
        self._closer: re.Pattern[bytes] | None = None
        self._pending = b""  # input not yet scanned (a partial tag or element)
        self._waiting: list[bytes] = []  # chunks that cannot end what _pending waits for
        self._waited = 0
        self._out: list[bytes | memoryview] = []
        self._held: list[bytes | memoryview] = []  # output after a candidate </body
        self._held_size = 0
        self._holding = False
        self._shadow: list[bytes | memoryview] = []  # output after a </body in raw text
        self._shadowing = False
        self._noscript = 0
        self._foreign = 0  # depth of <svg>/<math>
        self._escape = 0  # script data escape state: 0 plain, 1 after <!--, 2 double-escaped
        self._document = False  # seen <!doctype>, <html>, <head> or <body>: a whole page
        self._fresh = True  # nothing fed yet
        #: Why the rest of the page passed unchanged (``None``: it did not): the site then
        #: fails closed (cookieguard.html._inject.Uneditable).
        self.failure: str | None = None

    # -- the adapters' interface ------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """Rewrite one chunk; returns what may be sent now (possibly ``b""``)."""
        return self._run(chunk, last=False)

    def feed_last(self, chunk: bytes) -> bytes:
        """Rewrite the final chunk, flushing everything held back."""
        if self._fresh and self._prepare is not None:
            self._prepared(chunk)
        if self._fresh and self._mode == _DATA:
            # A whole body: try the fast path first.
            gate = self._gate
            try:
                hits: list[int] | None = gate.positions(chunk) if gate is not None else []
            except Exception:
                hits = None  # the scan below meets the error again, and passes the page
            if hits == []:
                at = _last_body(chunk)
                if at >= 0 and _TAIL.fullmatch(chunk, at) and _plainly_markup(chunk, 0, at):
                    head = self._head
                    where = _head_point(chunk) if head else 0
                    if 0 <= where <= at:
                        self._fresh = False
                        self._mode = _PASS
                        self._refreshed()
                        view = memoryview(chunk)
                        if not head:
                            return b"".join((view[:at], self._insert, view[at:]))
                        return b"".join(
                            (view[:where], head, view[where:at], self._insert, view[at:])
                        )
            return self._run(chunk, last=True, hits=hits)
        return self._run(chunk, last=True)

    def finish(self) -> bytes:
        """Everything held back, once the body has ended."""
        return self._run(b"", last=True)

    def stop(self) -> None:
        """Pass everything from now on through unchanged (no insert either)."""
        self._mode = _PASS
        self._insert = b""
        self._head = b""
        self._prepare = None
        self._release_held()

    def _prepared(self, head: bytes) -> None:
        """Learn the page's charset from its first bytes; leave the page alone if unusable."""
        prepare, self._prepare = self._prepare, None
        assert prepare is not None
        try:
            encode = prepare(head)
            if encode is not None:
                self._insert = encode(self._insert)
                self._head = encode(self._head)
        except Exception:  # never a 500 for a page's own markup
            logger.exception("cannot tell this page's charset; it passes unchanged")
            encode = None
        if encode is None:
            self.stop()

    # -- the scanner ------------------------------------------------------------------------

    def _run(self, chunk: bytes, *, last: bool, hits: list[int] | None = None) -> bytes:
        self._fresh = False
        if (
            not last
            and 65536 < len(self._pending) + self._waited < ELEMENT_LIMIT
            and self._mode != _PASS
            and b"<" not in chunk
            and b">" not in chunk
        ):
            # Waiting for the end of a long element: a chunk without "<" or ">" cannot
            # finish it, so do not scan it all again (small chunks would make that quadratic).
            self._waiting.append(chunk)
            self._waited += len(chunk)
            return b""
        if self._waiting:
            chunk = b"".join((*self._waiting, chunk))
            self._waiting = []
            self._waited = 0
        data = self._pending + chunk if self._pending else chunk
        self._pending = b""
        if self._prepare is not None:
            if len(data) < 1024 and not last:
                self._pending = data
                return b""
            self._prepared(data)
        if self._mode == _PASS:
            self._emit(data)
        else:
            saved = (list(self._held), self._holding, list(self._shadow), self._shadowing)
            try:
                self._scan(data, last, hits)
            except Exception:  # a page must never break the app: pass the rest through
                logger.exception("could not rewrite this HTML page; the rest passes unchanged")
                self.failure = "error"
                self._out = []
                self._pending = b""
                self._held, self._holding, self._shadow, self._shadowing = saved
                self._held_size = sum(len(p) for p in (*self._held, *self._shadow))
                self._mode = _PASS
                self._document = True  # unknown now: never drop the banner silently
                self._emit(data)
        return b"".join(self._flush(last))

    def _refreshed(self) -> None:
        refresh, self._refresh = self._refresh, None
        if refresh is not None and self._insert:
            self._insert = refresh(self._insert)

    def _release_held(self) -> None:
        """Give up every ``</body`` candidate: what was held goes out."""
        self._end_shadow()
        if self._holding:
            self._out.extend(self._held)
            self._held = []
            self._holding = False

    def _end_shadow(self) -> None:
        """The element holding a shadow candidate closed: that ``</body`` was text."""
        if self._shadowing:
            (self._held if self._holding else self._out).extend(self._shadow)
            self._shadow = []
            self._shadowing = False

    def _flush(self, last: bool) -> list[bytes | memoryview]:
        """Everything produced so far; at the end, with the inserts placed."""
        if not last:
            out, self._out = self._out, []
            return out
        out = self._out
        self._out = []
        pending, self._pending = self._pending, b""
        self._refreshed()
        end = self._head + self._insert
        self._head = self._insert = b""
        if self._shadowing:
            # The page ends inside a comment or raw-text element holding "</body": the
            # insert goes before the last one (where the whole-body fast path puts it).
            out.extend(self._held)
            out.append(end)
            out.extend(self._shadow)
        elif self._holding:
            # A </body candidate survived to the end: the insert goes right before it.
            out.append(end)
            out.extend(self._held)
        elif end and self._document:
            # No </body> (HTML lets authors omit it): the end of the document will do.
            out.append(end)
        elif end:
            _fragment_note()
        self._held, self._shadow = [], []
        self._holding = self._shadowing = False
        if pending:
            out.append(pending)  # a partial tag at the very end (malformed): as it was
        return out

    def _emit(self, part: bytes | memoryview) -> None:
        if self._shadowing:
            self._shadow.append(part)
        elif self._holding:
            self._held.append(part)
        else:
            self._out.append(part)
            return
        self._held_size += len(part)
        if self._held_size > BODY_HOLD_LIMIT:
            # Too far past that </body: it is not the end of the page. Let it go.
            self._release_held()

    def _body_candidate(self) -> None:
        """A ``</body`` in markup: whatever follows is held until a later one or the end."""
        self._release_held()
        self._holding = True
        self._held_size = 0

    def _shadow_candidate(self) -> None:
        """A ``</body`` inside a comment or raw-text element: it counts only if the page
        ends before the element does (a malformed page)."""
        self._end_shadow()
        self._shadowing = True
        self._held_size = sum(len(p) for p in self._held) if self._holding else 0

    def _head_here(self) -> None:
        if self._head:
            self._emit(self._head)
            self._head = b""

    def _scan(self, data: bytes, last: bool, hits: list[int] | None = None) -> None:
        view = memoryview(data)
        n = len(data)
        pos = 0
        full = self._gate
        # The prefilter: where the page names a blocked host. A stretch naming none has
        # nothing to edit; every verdict is taken on a tag or element whole inside ``data``
        # (incomplete ones are held back), so this holds however the body is chunked.
        if hits is None:
            hits = full.positions(data) if full is not None else []
        gate = full if hits else None
        tags = _Tags(data)
        hi = 0
        opener = self._opener
        low = data.lower()  # same offsets; ASCII letters only (bytes.lower)
        floor = 0  # where the markup since the last comment or raw-text element starts
        skip = 0  # where to look for the next tag from (past an <html>, <head>, <body>)
        # The last tag search: the next tag from ``searched`` on is ``next_tag`` (None: there
        # is none). It stays right while the scan moves forward up to that tag, so blocked
        # URLs between two tags (in links, in text) cost no new search each: linear work.
        searched = -1
        next_tag: re.Match[bytes] | None = None
        while pos < n:
            mode = self._mode
            if mode == _DATA:
                while hi < len(hits) and hits[hi] < pos:
                    hi += 1
                if last and hi >= len(hits) and not (self._head or self._holding or skip > pos):
                    # Nothing left to edit but the insert: finish like the fast path does.
                    at = _last_body(data)
                    if (
                        at >= pos
                        and _TAIL.fullmatch(data, at)
                        and _plainly_markup(data, floor, at)
                        and not self._shadowing
                    ):
                        self._emit(view[pos:at])
                        self._body_candidate()
                        self._emit(view[at:])
                        pos = n
                        break
                look = max(pos, skip)
                if 0 <= searched <= look and (next_tag is None or look <= next_tag.start()):
                    m = next_tag
                else:
                    m = opener.search(low, look)
                    while m is not None:
                        # A "<title>" or "<!--" written inside another tag's attribute is text.
                        outer = _enclosing(data, floor, m.start())
                        if outer < 0:
                            break
                        outer_end = _tag_end(data, outer)
                        m = opener.search(low, outer_end) if outer_end >= 0 else None
                    searched, next_tag = look, m
                if gate is not None:
                    while hi < len(hits) and hits[hi] < pos:
                        hi += 1
                    limit = m.start() if m is not None else n
                    if hi < len(hits) and hits[hi] < limit:
                        # A blocked URL in markup: is it in a resource tag (img, link...)?
                        h = hits[hi]
                        hi += 1
                        found = tags.around(pos, h)
                        if found is None:
                            continue
                        tag_start, name, tag_end = found
                        if tag_end < 0:  # the tag goes on in the next chunk
                            if last:
                                continue
                            if tag_start > pos:
                                self._emit(view[pos:tag_start])
                            pos = tag_start
                            break
                        if tag_start > pos:
                            self._emit(view[pos:tag_start])
                        new = gate.start_tag(name, data[tag_start:tag_end], bool(self._noscript))
                        self._emit(view[tag_start:tag_end] if new is None else new)
                        pos = tag_end
                        continue
                if m is None:
                    cut = n
                    if not last:
                        k = data.rfind(b"<", max(pos, n - _LONGEST_NAME))
                        if k >= 0 and _enclosing(data, max(floor, pos), k) < 0:
                            cut = k  # maybe the start of a tag we look for
                        # Hold back a tag that is not finished: a URL or a "<title>" in its
                        # attributes may be cut too.
                        cut = min(cut, _unfinished_tag(data, pos))
                    if cut > pos:
                        self._emit(view[pos:cut])
                    pos = cut
                    break
                start = m.start()
                if start > pos:
                    self._emit(view[pos:start])
                    pos = start
                if m.group(1) is not None:  # <!--
                    after = m.end()
                    if n - after < 2 and not last:
                        break
                    # "<!-->" and "<!--->" are (empty) comments too.
                    if data.startswith(b">", after):
                        self._emit(view[start : after + 1])
                        pos = after + 1
                        continue
                    if data.startswith(b"->", after):
                        self._emit(view[start : after + 2])
                        pos = after + 2
                        continue
                    self._emit(view[start:after])
                    pos = after
                    self._mode = _COMMENT
                    continue
                if m.group(2) is not None:  # <! or <?: a bogus comment up to ">"
                    if n - m.end() < 7 and not last:
                        break  # might still become "<!--" or "<!doctype"
                    if low.startswith(b"doctype", start + 2):
                        self._document = True
                    self._emit(view[start : m.end()])
                    pos = m.end()
                    self._mode = _BOGUS
                    continue
                closing = m.group(3)
                name = closing if closing is not None else m.group(4)  # lower case already
                if name in _DOCUMENT:
                    self._document = True
                if closing is not None:  # an end tag
                    if name == b"body":
                        self._body_candidate()
                    elif name == b"head":
                        self._head_here()
                    elif name == b"noscript" and self._noscript:
                        self._noscript -= 1
                    elif name in _NESTING and self._foreign:
                        self._foreign -= 1
                    self._emit(view[start : m.end()])
                    pos = m.end()
                    continue
                if name in _DOCUMENT:
                    # Not consumed: its attributes (a body background...) are markup too.
                    skip = m.end()
                    continue
                if name in _NESTING:
                    if name == b"noscript":
                        self._noscript += 1
                    else:
                        self._foreign += 1
                    self._emit(view[start : m.end()])
                    pos = m.end()
                    continue
                end = _TAG_END.match(data, m.end()) if data.find(b">", m.end()) >= 0 else None
                if end is None:
                    if not last:
                        if n - start > ELEMENT_LIMIT:
                            self._too_large(name)
                            self._emit(view[start:])
                            pos = n
                        break
                    self._emit(view[start:])  # an unfinished tag at the end: as it was
                    pos = n
                    break
                tag_end = end.end()
                tag = data[start:tag_end] if full is not None else b""
                if name == b"script":
                    self._head_here()
                    if full is not None and full.needs_content(tag):
                        self._escape = 0
                        closer = self._script_close(low, tag_end, n)
                        if closer is None and not last:
                            if n - start <= ELEMENT_LIMIT:
                                break  # wait for the whole inline script
                            self._too_large(name)
                            self._emit(view[start:])
                            pos = n
                            break
                        content_end = closer.start() if closer is not None else n
                        new = (
                            gate.script_tag(tag, data[tag_end:content_end])
                            if gate is not None and _hit_in(hits, start, content_end)
                            else None
                        )
                        self._emit(tag if new is None else new)
                        pos = self._text(low, view, tag_end, content_end, content_end)
                        self._enter_raw(b"script")
                        continue
                    new = (
                        gate.script_tag(tag, None)
                        if gate is not None and _hit_in(hits, start, tag_end)
                        else None
                    )
                    self._emit(view[start:tag_end] if new is None else new)
                    pos = tag_end
                    self._enter_raw(b"script")
                    continue
                if name == b"iframe" and gate is not None and _hit_in(hits, start, tag_end):
                    if not self._noscript and gate.is_embed(tag):
                        closer = _CLOSERS[b"iframe"].search(low, tag_end)
                        if closer is None and not last:
                            if n - start <= ELEMENT_LIMIT:
                                break  # wait for the whole element
                            self._too_large(name)
                            self._emit(view[start:])
                            pos = n
                            break
                        element_end = n
                        if closer is not None:
                            close_tag = _TAG_END.match(data, closer.end())
                            if close_tag is None and not last:
                                break
                            if close_tag is not None:
                                element_end = close_tag.end()
                        new = gate.embed(tag, data[start:element_end])
                        if new is not None:
                            self._emit(new)
                            pos = element_end
                            continue
                    new = gate.start_tag(name, tag, bool(self._noscript))
                    self._emit(view[start:tag_end] if new is None else new)
                    pos = tag_end
                    self._enter_raw(b"iframe")
                    continue
                if name == b"style" and full is not None:
                    # CSS in a <style> element loads what its url() and @import name: the
                    # verdict is on the whole element, so wait for it (as for inline scripts).
                    # In SVG/MathML and <noscript> it applies too, but is read on as markup.
                    closer = _CLOSERS[b"style"].search(low, tag_end)
                    markup = bool(self._noscript or self._foreign)
                    if closer is None and not last:
                        if n - start <= ELEMENT_LIMIT:
                            break
                        if not markup:  # raw text to the end of the page: give up
                            self._too_large(name)
                            self._emit(view[start:])
                            pos = n
                            break
                        # </svg> may end it unclosed: judge on what is here, read on.
                    content_end = closer.start() if closer is not None else n
                    new = (
                        gate.style_tag(tag, data[tag_end:content_end])
                        if gate is not None and _hit_in(hits, start, content_end)
                        else None
                    )
                    self._emit(view[start:tag_end] if new is None else new)
                    if markup:
                        pos = tag_end
                        continue
                    pos = self._text(low, view, tag_end, content_end, content_end)
                    self._enter_raw(b"style")
                    continue
                # A raw-text element (style, textarea, title...) or a tag we keep as is.
                self._emit(view[start:tag_end])
                pos = tag_end
                if name in _CLOSERS:
                    self._enter_raw(name)
                continue
            if mode in (_RAWTEXT, _COMMENT):
                closing = self._closer if mode == _RAWTEXT else _COMMENT_END
                assert closing is not None
                if closing is _SCRIPT_CLOSER:
                    m = self._script_close(low, pos, n if last else n - _LONGEST_NAME)
                else:
                    m = closing.search(low, pos)
                if m is not None:
                    stop = m.start()
                elif last:
                    stop = n
                else:
                    stop = max(pos, n - _LONGEST_NAME)  # a closer or "</body" may be cut
                pos = self._text(low, view, pos, stop, stop if m is not None else n)
                if m is None:
                    break
                self._emit(view[m.start() : m.end()])
                self._end_shadow()
                pos = floor = m.end()
                self._mode = _DATA
                continue
            if mode == _BOGUS:
                k = data.find(b">", pos)
                if k < 0:
                    self._emit(view[pos:])
                    pos = n
                    break
                self._emit(view[pos : k + 1])
                pos = floor = k + 1
                self._mode = _DATA
                continue
            # _PASS
            self._emit(view[pos:])
            pos = n
            break
        if pos < n:
            self._pending = data[pos:]

    def _text(self, low: bytes, view: memoryview, pos: int, stop: int, limit: int) -> int:
        """Emit the text of a comment or raw-text element up to ``stop``, noting any
        ``</body`` that starts before it (and may end before ``limit``); returns where
        the text emitted ends."""
        while True:
            b = _BODY_END.search(low, pos, limit)
            if b is None or b.start() >= stop:
                break
            if b.start() > pos:
                self._emit(view[pos : b.start()])
            self._shadow_candidate()
            self._emit(view[b.start() : b.end()])
            pos = b.end()
        if stop > pos:
            self._emit(view[pos:stop])
            pos = stop
        return pos

    def _enter_raw(self, name: bytes) -> None:
        if self._noscript or (self._foreign and name != b"script"):
            # Inside <noscript> a browser with JavaScript reads raw text up to </noscript>,
            # one without reads markup; in SVG and MathML <style> and the like are markup.
            # Reading on as markup gates what either browser could load.
            return
        self._mode = _RAWTEXT
        self._closer = _CLOSERS[name]
        self._escape = 0

    def _script_close(self, low: bytes, pos: int, limit: int) -> re.Match[bytes] | None:
        """The ``</script`` that really ends a script, looking from ``pos`` (tokens starting
        before ``limit``). Script data has escape states: after ``<!--`` a ``<script`` makes
        the next ``</script`` part of the script, until ``-->``
        (https://html.spec.whatwg.org/multipage/parsing.html#script-data-escaped-state);
        the state carries over to the next chunk."""
        state = self._escape
        for m in _SCRIPT_TOKENS.finditer(low, pos):
            if m.start() >= limit:
                break
            token = m.group()
            if token == b"<!--":
                if state == 0:
                    state = 1
            elif token == b"-->":
                state = 0
            elif token.startswith(b"</"):
                if state == 2:
                    state = 1
                else:
                    self._escape = 0
                    return _SCRIPT_CLOSER.match(low, m.start())
            elif state == 1:
                state = 2  # <script inside <!-- ...
        self._escape = state
        return None

    def _too_large(self, name: bytes) -> None:
        logger.warning(
            "an HTML <%s> over %d bytes; the rest of this page passes unchanged",
            name.decode("ascii", "replace"),
            ELEMENT_LIMIT,
        )
        self.failure = "limit"
        self._mode = _PASS


_DOCUMENT = frozenset({b"html", b"head", b"body"})
_NESTING = frozenset({b"noscript", b"svg", b"math"})


def _hit_in(hits: list[int], start: int, end: int) -> bool:
    """True if a blocked URL starts in ``data[start:end]``: only then can the gate edit the
    element there. (A URL never spans a "<" or ">", so none found by the page-wide search
    starts outside an element and runs into it: searching the element alone finds no more.)"""
    i = bisect_left(hits, start)
    return i < len(hits) and hits[i] < end


def _unfinished_tag(data: bytes, pos: int) -> int:
    """Where the earliest tag still open at the end of ``data`` starts (``len(data)`` if none).

    Looks back a bounded way: over the last 16 ``<`` within 4 KB.
    """
    n = len(data)
    cut = n
    k = n
    floor = max(pos, n - 4096)
    for _ in range(16):
        k = data.rfind(b"<", floor, k)
        if k < 0:
            break
        if not data[k + 1 : k + 2].isalpha() and k + 1 < n:
            continue
        if data.find(b">", k) < 0 or _TAG_END.match(data, k + 1) is None:
            cut = k
    return cut


def _enclosing(data: bytes, floor: int, at: int, *, quick: bool = True) -> int:
    """The start of the tag whose attributes hold offset ``at`` (``"<title>"`` written in an
    attribute value is text), or -1. Looks back over at most 8 tags within 4 KB.

    ``quick``: first a cheap test that is right unless a ``>`` in an attribute value comes
    between the tag and ``at`` (used for every tag the scanner stops at)."""
    floor = max(floor, at - 4096)
    last_open = data.rfind(b"<", floor, at)
    if last_open < 0 or (quick and data.rfind(b">", floor, at) > last_open):
        return -1  # the usual case: the previous tag closed before ``at``
    found = -1
    k = at
    for _ in range(8):
        k = data.rfind(b"<", floor, k)
        if k < 0:
            break
        if not data[k + 1 : k + 2].isalpha():
            continue
        # Only whether the tag ends before ``at`` matters: read no further (a tag without
        # an end would otherwise be read to the end of the body, once per call).
        if _TAG_END.match(data, k + 1, at) is None:
            found = k  # the earliest such tag is the one ``at`` is really in
    return found


def _plainly_markup(data: bytes, floor: int, at: int) -> bool:
    """True when the tag at ``at`` is neither inside another tag nor inside a bogus comment
    (``<!x`` or ``<?x`` with no ``>`` before it), as far as the fast paths need to know."""
    if _enclosing(data, floor, at) >= 0:
        return False
    gt = max(data.rfind(b">", floor, at), floor)
    return data.find(b"<!", gt, at) < 0 and data.find(b"<?", gt, at) < 0


def _tag_end(data: bytes, start: int) -> int:
    """Where the start tag at ``start`` ends; -1 if it is not finished in ``data``."""
    if data.find(b">", start) < 0:
        return -1
    end = _TAG_END.match(data, start + 1)
    return -1 if end is None else end.end()


class _Tags:
    """The start tags of one stretch of markup, walked forward once per scan.

    Answers "which start tag holds this blocked URL?" for URLs in ascending order. Each
    tag's end is found once and the walk never goes back, so all the answers of one scan
    cost one pass over the body, however many URLs there are, however long a tag is and
    whether or not it ever ends (a search back from each URL re-read the tags before it:
    tracker URLs with no ``>`` after them cost quadratic time, 60 KB took 5 s).
    """

    __slots__ = ("_at", "_data", "_end", "_start")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0  # every tag starting before this has been passed
        self._start = -1  # the next tag from ``_at`` (len(data): none) ...
        self._end = -1  # ... and where it ends (-1: not in ``data``)

    def around(self, pos: int, hit: int) -> tuple[int, bytes, int] | None:
        """The start tag (``img``, ``link``, a ``div`` with a style...) holding offset
        ``hit``, looking from ``pos`` (in markup, not in a tag), as ``(start, name, end)``;
        ``end`` is -1 when the tag is not finished in the data. ``None`` when ``hit`` is in
        text. The gate decides what in the tag loads (an ``<a href>`` loads nothing)."""
        data = self._data
        if pos > self._at:
            self._at = pos
        while True:
            if self._start < self._at:
                found = _TAG_START.search(data, self._at)
                self._start = found.start() if found is not None else len(data)
                self._end = _tag_end(data, self._start) if found is not None else -1
            start = self._start
            if start >= hit:
                return None
            end = self._end
            if end < 0 or end > hit:
                tag = _TAG_AT.match(data, start)
                return (start, tag.group(1).lower(), end) if tag is not None else None
            self._at = end
