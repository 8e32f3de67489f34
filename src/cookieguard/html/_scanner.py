"""One streaming pass over an HTML body: banner insertion, tracker neutralising, head tags.

The scanner reads markup the way the WHATWG tokenizer does
(https://html.spec.whatwg.org/multipage/parsing.html#tokenization), one method per state:
data, tags (attribute names and values, quoted and unquoted, exactly where a quote opens a
value and where it does not), comments (``<!-->``, ``<!--->``, ``--!>``), bogus comments
(``<!x>``, ``<?x>``, ``</3>``), CDATA sections in foreign content, raw text and RCDATA
(``style``, ``textarea``, ``title``, ``xmp``, ``iframe``, ``noembed``, ``noframes``,
``plaintext``) and script data with its escaped and double-escaped states. It keeps just
enough of the tree builder's state to know which of those states a tag opens: SVG and MathML
(foreign content, its break-out tags and integration points) and ``<select>``.

Where two real browsers tokenize the same bytes differently, both readings are gated: the
content of ``<noscript>`` is raw text for a visitor with JavaScript and markup for one
without; a raw-text element inside ``<select>`` is raw text in Chromium and an ignored tag in
parsers that follow the older select rules. The raw-text reading is the scanner's own; the
markup reading of the same bytes is a second scan of that span (:meth:`Rewriter._markup_span`),
which gates what it finds, and when that reading would still be inside a construct
(a comment, a quoted value...) where the raw text ends, the scanner closes it there, so both
readings continue from the same byte.

Bytes in, bytes out: the body is never decoded (every charset we accept is ASCII-compatible,
so ``<`` is ``<``), bytes we do not edit are copied unchanged, and a chunk boundary may fall
anywhere (a partial tag is held back until its ``>`` arrives, bounded). Work is linear in the
body: the data state skips text and ordinary tags with one possessive regex, stopping only at
the tags that change state and at the tags holding a blocked URL; anything beyond the bounds
below is passed through unchanged with one log line.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from collections.abc import Callable
from enum import StrEnum
from functools import lru_cache
from html import unescape
from typing import NamedTuple, Protocol

from cookieguard.html import _foreign
from cookieguard.html._foreign import HTML_ONLY, Candidates, Space, Stack

logger = logging.getLogger("cookieguard")

#: Which script a verdict is about (the scanner knows, the gate's verdicts read it): HTML,
#: SVG, or either (a start tag the scanner's two readings of a page take for one and the other).
HTML_SCRIPT, SVG_SCRIPT, EITHER_SCRIPT = b"h", b"v", b"?"

#: A start tag (or an inline script / embed element we must see whole) longer than this is
#: passed through unchanged, and so is the rest of the body.
ELEMENT_LIMIT = 1024 * 1024
#: How far past a ``</body`` we wait for a later one before giving it up as not the last.
BODY_HOLD_LIMIT = 256 * 1024

_WS = rb"\t\n\f\r "
_DELIM = rb"(?=[" + _WS + rb"/>])"  # what ends a tag name
# The attributes of a tag, as the tokenizer reads them: a name may start with "=" and holds
# quotes; a value is quoted only when a quote is its first character after "="; an unquoted
# value runs to white space or ">" and may hold "=" and quotes. Possessive throughout, and an
# "=" after a name commits to a value (an unterminated quoted value never matches as an
# unquoted one): a missing ">" costs one linear scan, never backtracking.
# (One repetition per attribute, the separators before it included, and the separators
# after the last: a repetition of its own for each run of separators doubled the work on a
# tag of many short attributes.)
_ATTRS = (
    rb"(?:[" + _WS + rb"/]*+[^" + _WS + rb"/>][^" + _WS + rb"/>=]*+"
    rb"(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^" + _WS + rb">]*+)"
    rb"|(?![" + _WS + rb"]*+=)))*+[" + _WS + rb"/]*+"
)
_TAG_REST = re.compile(_ATTRS + rb">")
# The same, with the last unquoted value captured (where it ends says whether a "/" after it
# is part of it).
_ATTRS_UNQUOTED = re.compile(
    _ATTRS.replace(rb"(?![\"'])[^" + _WS + rb">]*+", rb"(?![\"'])([^" + _WS + rb">]*+)")
)
_ATTRS_SO_FAR = re.compile(_ATTRS)
_OPEN_QUOTE = re.compile(
    rb"[^" + _WS + rb"/>][^" + _WS + rb"/>=]*+[" + _WS + rb"]*+=[" + _WS + rb"]*+([\"'])"
)
_TAG_NAME = re.compile(rb"[a-z][^" + _WS + rb"/>]*+")  # matched against the lower-cased page
_RAW = b"style|textarea|title|xmp|iframe|noembed|noframes|noscript"
#: Tags the data state stops at (matched against the lower-cased page): they change the
#: tokenizer's state, the tree state the scanner keeps, or where the inserts go.
_SPECIAL_START = b"script|plaintext|svg|math|html|head|body|select|" + _RAW
_SPECIAL_END = b"body|head|html|noscript|select"
# One call skips text, every ordinary tag and every whole comment up to the next special
# tag, the next blocked URL (the match's end position) or a tag or comment not finished in
# the window. A comment ends at the first "-->" or "--!>" after "<!--", or at once as "<!-->"
# or "<!--->" (the comment states, read as _declaration and _in_comment read them; each
# comment through those cost a dozen calls: 500 µs per KB of "<!---->").
_SKIPPED_COMMENT = rb"<!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>)"
_SKIPPED = (
    rb"[^<]++|<(?=[^a-z!?/])|"
    + _SKIPPED_COMMENT
    # Bogus comments (to the next ">"): "<!x>" (not a doctype, which makes the page a
    # document), "<?x>", "</3>"; and "</>", which is nothing at all.
    + rb"|<(?:!(?!--|doctype)|\?|/(?![a-z]))[^>]*+>"
    rb"|<(?!(?:" + _SPECIAL_START + rb")" + _DELIM + rb")[a-z][^" + _WS + rb"/>]*+" + _ATTRS + rb">"
    rb"|</(?!(?:" + _SPECIAL_END + rb")" + _DELIM + rb")[a-z][^" + _WS + rb"/>]*+" + _ATTRS + rb">"
)


# Small elements the data state passes whole when the scanner's model is at its plainest
# (in HTML, outside <select>, one reading), as reading them token by token would edit
# nothing and leave every part of the model as it was: an element skipped holds no
# blocked URL (the skip never passes a hit), and each piece below is one whose tokens, read
# by the scanner's own states, change nothing but the foreign-content stack, which is back
# where it was after the element's end tag. (Each through the scanner's states cost one
# to two dozen calls: 500-700 µs per KB of "<svg></svg>", "<noscript></noscript>",
# "<title></title>".)
#
# - An SVG or MathML subtree: "<svg>" or "<math>" (or "<svg/>") to its own end tag, holding
#   text, comments, "<?x>" and "</3>" bogus comments, and elements whose names are none
#   the tree builder or the scanner treats apart in foreign content: no break-out ("<p>",
#   "<img>", "<font>" whatever its attributes), no HTML or MathML text integration point
#   (foreignObject, desc, title, mi..., annotation-xml), no script or style, no raw-text
#   or document names (an <svg> or <math> inside is an element of the outer space); each
#   self-closing ("/>" with no unquoted value the "/" could belong to), closed by its own
#   end tag (nested at most _FOREIGN_DEPTH deep), or left open for an end tag of an
#   element around it to close. Every tag inside is then read by the foreign rules (the
#   current node is never an integration point), nothing is raw text or CDATA, and each
#   end tag pops exactly the elements the skip takes it to close: in foreign content an
#   end tag closes the nearest open element of its name and every element inside it
#   ("any other end tag"); "</p>" and "</br>", which break out, are never taken.
# - An RCDATA or raw-text element ("<title>", "<textarea>", "<style>", "<xmp>", "<iframe>",
#   "<noembed>", "<noframes>") to its end tag, with no "</body" in its text (which the
#   scanner notes as a place for the insert while it reads).
# - With scripting (noscript raw text, read as markup too): a "<noscript>" holding only
#   text and ordinary tags with no "<" inside them: its markup reading then reads the same
#   bytes, ends where the raw text does and leaves the model as it was.
#
# Matching an element's end tag to its name takes a capturing group, which costs: in a
# repetition it must be an atomic group around a greedy one (Python 3.11's re raises
# SystemError on a possessive repetition holding one, CPython gh-101955), and each step
# of a greedy one saves the groups set so far (15 % more per KB of an ordinary page). So
# the usual skip takes foreign elements with no end tags of their own (self-closing, or
# left open for the root's end tag to close: "<svg><path d=...></svg>"), and only where
# it stops at an "<svg" or "<math" does _DEEP_SKIPS read on with nested ones.
#
# Every piece is written for Python's re, whose cost is one step per operation tried: the
# skip reads each "<" once and picks its branch by the next letter ("/", "!", "?", then a
# start tag's first letter), each branch starting with a literal or a class that re
# rejects at once, as it does the names of a trie (a branch tried and failed at every "<",
# as the pieces were each a branch of their own, cost 100-600 ns a tag; the tags of
# "<svg><b></b></svg>" are 0.9 -> 0.45 µs). Every branch after "<" starts with something
# the others cannot (a different letter or name), so the order of the branches decides
# nothing: the skip passes exactly the tokens each piece would pass on its own.
def _trie(names: list[bytes]) -> bytes:
    """``names`` as a regex alternation shaped as a trie: a try costs one comparison per
    letter, not one per name (two dozen fetching attribute names share a handful of first
    letters). Longer names first where one is a prefix of another."""
    if not names:
        return b""
    groups: dict[bytes, list[bytes]] = {}
    ends = False
    for name in names:
        if name:
            groups.setdefault(name[:1], []).append(name[1:])
        else:
            ends = True
    branches = [re.escape(first) + _trie(rests) for first, rests in sorted(groups.items())]
    if not branches:
        return b""
    body = branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"
    return b"(?:" + body + b")?" if ends else body


def _by_name(branches: list[tuple[bytes, bytes]]) -> bytes:
    """An alternation of tags after their "<" (each a name and the pattern of the rest),
    one branch per first letter of a name: at a "<x" re rejects each other letter at once."""
    groups: dict[bytes, list[bytes]] = {}
    for name, rest in branches:
        groups.setdefault(name[:1], []).append(re.escape(name[1:]) + rest)
    return b"|".join(
        first + (rests[0] if len(rests) == 1 else b"(?:" + b"|".join(rests) + b")")
        for first, rests in sorted(groups.items())
    )


_NAME_CHARS = rb"[^" + _WS + rb"/>]*+"
#: The rest of a tag after its name (which ends at white space, "/" or ">"): ">" at once,
#: or attributes and ">". _GT_OPEN: not self-closing (no "/" right before the ">").
_GT = rb"(?:>|" + _ATTRS + rb">)"
_GT_OPEN = rb"(?:>|" + _ATTRS + rb"(?<!/)>)"


def _end_tag(name: bytes) -> bytes:
    """An end tag ``name`` after its "</" (``name`` may be a backreference)."""
    return name + rb"(?:>|[" + _WS + rb"/]" + _ATTRS + rb">)"


_APART_IN_FOREIGN = sorted(
    (
        _foreign.BREAKOUT
        | frozenset(_SPECIAL_START.split(b"|"))
        | frozenset(_SPECIAL_END.split(b"|"))
        | frozenset(b"font foreignobject desc mi mo mn ms mtext annotation-xml".split())
    )
    - {b"svg", b"math"}
)
_FOREIGN_NAME = rb"(?!" + _trie(_APART_IN_FOREIGN) + _DELIM + rb")[a-z]" + _NAME_CHARS
#: An element left open in a root's content: any foreign name but the roots' ("</svg>"
#: closes the nearest svg). (One look-ahead, not one for the roots and one for the rest.)
_OPEN_NAME = (
    rb"(?!" + _trie(sorted({*_APART_IN_FOREIGN, b"svg", b"math"})) + _DELIM + rb")[a-z]"
    + _NAME_CHARS
)  # fmt: skip
_SELF_CLOSING_ATTRS = (  # _ATTRS without unquoted values: a "/" before ">" then closes
    rb"(?:[" + _WS + rb"/]*+[^" + _WS + rb"/>][^" + _WS + rb"/>=]*+"
    rb"(?:[" + _WS + rb"]*+=[" + _WS + rb"]*+(?:\"[^\"]*+\"|'[^']*+')"
    rb"|(?![" + _WS + rb"]*+=)))*+[" + _WS + rb"/]*+(?<=/)>"
)
_SELF_CLOSING_ATTRS = rb"(?:/>|" + _SELF_CLOSING_ATTRS + rb")"  # (the usual one at once)
#: After a "<" in foreign content, none of a tag (the caller has ruled out "</" and a
#: letter): a comment (holding no "</body"), "<?x>", "</3>", a "<" that is text.
_FOREIGN_TEXT = (
    rb"!--(?:-?>|(?:[^-<]++|<(?!/body" + _DELIM + rb")|-(?!-!?>))*+--!?>)"
    rb"|\?[^>]*+>|/[^>]*+>|(?=[^a-z!?/])"
)
#: A break-out start tag ends every foreign element open in a skipped subtree (none is an
#: HTML element or integration point): the scanner is then in HTML again, at that tag.
_BREAKOUT_AHEAD = rb"(?=<" + _trie(sorted(_foreign.BREAKOUT)) + _DELIM + rb")"
#: Integration points holding text only: the HTML rules they bring apply to start tags.
_POINTS = b"foreignobject desc title mi mo mn ms mtext annotation-xml".split()
_POINT_ELEMENTS = _by_name(
    [
        (
            name,
            _DELIM + rb"(?:" + _GT_OPEN + rb"(?:[^<]++|<(?!/[a-z])(?:" + _FOREIGN_TEXT
            + rb"))*+</" + _end_tag(name) + rb"|" + _SELF_CLOSING_ATTRS + rb")",
        )
        for name in _POINTS
    ]
)  # fmt: skip
_FOREIGN_DEPTH = 6


def _foreign_content(depth: int, *, open_children: bool = False) -> bytes:
    """What may fill a skipped SVG or MathML element ``depth`` levels below the outermost
    (its name the group ``f0``; each level's element name is matched by its end tag, the
    group ``f<depth>``); with ``depth`` at _FOREIGN_DEPTH, elements with no end tag of
    their own only: self-closing ones, and with ``open_children`` (right inside a root)
    ones left open for the root's end tag to close.

    An element ends at its own end tag, or where an end tag of an element around it
    (the nearest of that name closes, and every element inside it) or a break-out start
    tag comes: as _foreign.end and _foreign.start read them."""
    if depth >= _FOREIGN_DEPTH:
        if open_children:
            # A child left open and a self-closing one are both taken here: any end of
            # its start tag will do, its attributes read once ("<path d=.../>" read them
            # twice, _GT_OPEN failing at "/>": 30 % of an icon). ("/>" first: the usual.)
            element = (
                _OPEN_NAME + rb"(?:/>|" + _GT + rb")"
                rb"|(?:svg|math)" + _DELIM + _SELF_CLOSING_ATTRS
            )
        else:
            element = _FOREIGN_NAME + _SELF_CLOSING_ATTRS
        return (
            rb"(?:[^<]++|<(?!/[a-z])(?:" + _POINT_ELEMENTS + rb"|" + element + rb"|"
            + _FOREIGN_TEXT + rb"))*+"
        )  # fmt: skip
    group = b"f%d" % depth
    around = b"|".join(b"(?P=f%d)" % k for k in range(depth))
    end = (
        rb"(?:</" + _end_tag(rb"(?P=" + group + rb")") + rb"|(?=</(?:" + around + rb")"
        + _DELIM + rb")|" + _BREAKOUT_AHEAD + rb")"
    )  # fmt: skip
    element = (
        rb"(?P<" + group + rb">" + _FOREIGN_NAME + rb")(?:/>|" + _GT_OPEN
        + _foreign_content(depth + 1) + end + rb"|" + _SELF_CLOSING_ATTRS + rb")"
    )  # fmt: skip
    return (
        rb"(?>(?:[^<]++|<(?!/[a-z])(?:" + _POINT_ELEMENTS + rb"|" + element + rb"|"
        + _FOREIGN_TEXT + rb"))*)"
    )  # fmt: skip


#: An <svg> or <math> subtree after its "<": the usual skip's, with no nested end tags.
_FOREIGN_SUBTREES = [
    (
        root,
        _DELIM + rb"(?:" + _GT_OPEN + _foreign_content(_FOREIGN_DEPTH, open_children=True)
        + rb"(?:</" + _end_tag(root) + rb"|" + _BREAKOUT_AHEAD + rb")|"
        + _SELF_CLOSING_ATTRS + rb")",
    )
    for root in (b"svg", b"math")
]  # fmt: skip
#: The same with nested elements (see above), its root's name the group ``f0``.
_DEEP_FOREIGN_SUBTREE = (
    rb"(?P<f0>svg|math)" + _DELIM + rb"(?:" + _GT_OPEN + _foreign_content(1) + rb"(?:</"
    + _end_tag(rb"(?P=f0)") + rb"|" + _BREAKOUT_AHEAD + rb")|" + _SELF_CLOSING_ATTRS + rb")"
)  # fmt: skip
_RAW_ELEMENTS = [
    (
        raw,
        _DELIM + _GT + rb"(?:[^<]++|<(?!/" + raw + _DELIM + rb"|/body" + _DELIM + rb"))*+</"
        + _end_tag(raw),
    )
    for raw in (b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes")
]  # fmt: skip
_NO_LT = (rb"[^" + _WS, rb"[^<" + _WS), (rb"[^\"]", rb"[^\"<]"), (rb"[^']", rb"[^'<]")
_ATTRS_NO_LT = _ATTRS
for _old, _new in _NO_LT:
    _ATTRS_NO_LT = _ATTRS_NO_LT.replace(_old, _new)
_PLAIN_NOSCRIPT = (
    rb"<noscript" + _DELIM + _GT + rb"(?:[^<]++"
    rb"|<!--(?:-?>|(?:[^-<]++|<(?!/noscript" + _DELIM + rb"|/body" + _DELIM + rb")|-(?!-!?>))*+"
    rb"--!?>)"
    rb"|</?(?!(?:" + _SPECIAL_START + rb"|" + _SPECIAL_END + rb")" + _DELIM + rb")[a-z][^<"
    + _WS + rb"/>]*+" + _ATTRS_NO_LT + rb">)*+</" + _end_tag(b"noscript")
)  # fmt: skip
#: Whole inline scripts whose text holds no "<!--" (script data then ends at the first
#: "</script", its end tag read with it, as an ordinary one is): for when no head tags
#: wait to go before the first script. A script naming no blocked host is never edited,
#: and one that does holds a hit, which the skip does not pass. (Each script through the
#: scanner's states cost a dozen calls: 520 µs per KB of "<script></script>"; its end tag
#: as a token of its own, a fifth of what the skip costs it.)
_INLINE_SCRIPT = (
    rb"<script" + _DELIM + _GT + rb"(?:[^<]++|<(?!/script" + _DELIM + rb"|!--))*+</"
    + _end_tag(b"script")
)  # fmt: skip


def _skip_alternatives(head: bool, scripting: bool, deep: bool) -> bytes:
    """One token of the skip: _SKIPPED's (text, an ordinary tag, a comment, a bogus
    comment) or a small element, read from its "<" by the branches above."""
    elements = list(_RAW_ELEMENTS)
    if not deep:
        elements += _FOREIGN_SUBTREES
    if scripting:
        elements.append((b"noscript", _PLAIN_NOSCRIPT[len(b"<noscript") :]))
    if not head:
        elements.append((b"script", _INLINE_SCRIPT[len(b"<script") :]))
    after_lt = [
        rb"/(?:(?!" + _trie(_SPECIAL_END.split(b"|")) + _DELIM + rb")[a-z]" + _NAME_CHARS
        + _GT + rb"|(?![a-z])[^>]*+>)",
        rb"!(?:" + _SKIPPED_COMMENT[len(b"<!") :] + rb"|(?!--|doctype)[^>]*+>)",
        rb"\?[^>]*+>",
        *([_DEEP_FOREIGN_SUBTREE] if deep else []),
        # (the small elements before the ordinary tags: they need not try the names of
        # the special ones first, and an ordinary tag fails their first letter at once)
        _by_name(elements),
        rb"(?!" + _trie(_SPECIAL_START.split(b"|")) + _DELIM + rb")[a-z]" + _NAME_CHARS + _GT,
        rb"(?=[^a-z!?/])",
    ]  # fmt: skip
    return rb"[^<]++|<(?:" + b"|".join(after_lt) + rb")"


def _skip(head: bool, scripting: bool, deep: bool) -> re.Pattern[bytes]:
    """The data state's skip at its plainest: with head tags waiting for the first script
    or not (inline scripts skipped only when not), with scripting or not (<noscript>), and
    with nested foreign elements or not."""
    alternatives = _skip_alternatives(head, scripting, deep)
    if deep:
        # (A greedy repetition keeps a way back for every step it took, in memory that
        # grew with the page: past ~10,000 tokens each cost twice as much. A bounded one
        # is read again from where it stopped.)
        return re.compile(rb"(?>(?:" + alternatives + rb"){0,%d})" % _DEEP_RUN)
    return re.compile(rb"(?:" + alternatives + rb")*+")


#: How many tokens one match of a _DEEP_SKIPS reads at most.
_DEEP_RUN = 128


_SKIPS = {(h, s): _skip(h, s, False) for h in (False, True) for s in (False, True)}
#: One step of each: the token at a place between tokens (_passed).
_SKIP_ONES = {
    kind: re.compile(rb"(?:" + _skip_alternatives(*kind, False) + rb")") for kind in _SKIPS
}
_DEEP_SKIPS = {(h, s): _skip(h, s, True) for h in (False, True) for s in (False, True)}
_SKIP_SHADOWED = re.compile(rb"(?:" + _SKIPPED.replace(_SKIPPED_COMMENT, rb"(?!)") + rb")*+")
_FOREIGN_ROOT = re.compile(rb"<(?:svg|math)" + _DELIM)
#: A whole start tag that _SKIPS would pass (its name; the first that may hold a hit), and
#: its name alone (its end: tag_end).
_ORDINARY_TAG = re.compile(
    rb"<(?!(?:"
    + _SPECIAL_START
    + rb")"
    + _DELIM
    + rb")([a-z][^"
    + _WS
    + rb"/>]*+)"
    + _ATTRS
    + rb">"
)
_ORDINARY_NAME = re.compile(
    rb"<(?!(?:" + _SPECIAL_START + rb")" + _DELIM + rb")[a-z][^" + _WS + rb"/>]*+"
)
#: In foreign content and in <select> every tag may change the state: skip text only.
_SKIP_TEXT = re.compile(rb"[^<]*+")
#: The tokens of _SKIPS that hold no ">": text, and a "<" that starts no token.
_TEXT_TOKENS = re.compile(rb"(?:[^<]++|<(?=[^a-z!?/]))*+")


# The leap over a long stretch of ordinary markup before a hit (Rewriter._leap, issue 26).
#: The first "<" that may start anything but text or an ordinary tag (a comment, a bogus
#: comment, a declaration, a tag the data state stops at), wherever it is: in an attribute
#: value too (matched against the lower-cased page).
def _by_first_letter(names: bytes) -> bytes:
    """An alternation of ``names`` ("a|b|..."), one branch a first letter (a regex tries
    every branch at every "<": 230 µs per 100 KB of a page this way, 300 one a name)."""
    groups: dict[bytes, list[bytes]] = {}
    for name in names.split(b"|"):
        groups.setdefault(name[:1], []).append(name[1:])
    return b"(?:" + b"|".join(k + b"(?:" + b"|".join(v) + b")" for k, v in groups.items()) + b")"


_NOT_ORDINARY = re.compile(
    rb"<(?:[!?]|/(?:(?![a-z])|" + _by_first_letter(_SPECIAL_END) + _DELIM + rb")"
    + rb"|" + _by_first_letter(_SPECIAL_START) + _DELIM + rb")"
)  # fmt: skip
#: Text and ordinary tags only: what _SKIPS reads in a stretch holding no _NOT_ORDINARY.
_ORDINARY_RUN = re.compile(
    rb"(?:[^<]++|<(?=[^a-z!?/])|</?[a-z][^" + _WS + rb"/>]*+" + _ATTRS + rb">)*+"
)
#: The rest of an ordinary tag from inside a quoted attribute value.
_QUOTED_REST: tuple[tuple[bytes, re.Pattern[bytes] | None], ...] = (
    (b"", None),  # (in text: no rest)
    (b'"', re.compile(rb"[^\"]*+\"" + _ATTRS + rb">")),
    (b"'", re.compile(rb"[^']*+'" + _ATTRS + rb">")),
)
#: A leap is tried over stretches at least this long, and reads back this far before the
#: place it lands (each reading of the look-back costs what the skip costs a byte).
_LEAP_MIN = 2048
_LEAP_BACK = 256
#: How many short stretches in a row the walk steps over looking for a long one (_passed).
_WALK_SHORT = 16
_COMMENT_END = re.compile(rb"--!?>")
_CDATA_END = re.compile(rb"]]>")
# These are matched against the lower-cased page.
_BODY_END = re.compile(rb"</body" + _DELIM)
_CLOSERS = {name: re.compile(rb"</" + name + _DELIM) for name in (b"script", *_RAW.split(b"|"))}
_SCRIPT_CLOSER = _CLOSERS[b"script"]
# Script data (https://html.spec.whatwg.org/multipage/parsing.html#script-data-state): what
# moves it between plain, escaped ("<!--") and double-escaped ("<!--" then "<script").
# "<!-->" and "<!--->" enter and leave the escape at once.
_SCRIPT_TOKENS = re.compile(rb"<!--(?:-*+>)?|-->|</?script" + _DELIM)
_ATTR = re.compile(
    rb"([^" + _WS + rb"/>][^" + _WS + rb"/>=]*)"
    rb"(?:[" + _WS + rb"]*=[" + _WS + rb"]*(?:\"([^\"]*)\"|'([^']*)'|([^" + _WS + rb">]*)))?"
)
_LONGEST_NAME = 12  # "</plaintext" plus the character after it
#: How far before a "</body" in raw text or a comment the "<" that may hold it is looked for.
_SHADOW_BACK = 256


# The end of a well-formed page: "</body>", maybe "</html>", white space. A last "</body"
# followed by nothing else is where the scanner would insert too, unless an unterminated
# comment or raw-text element swallows the end of the page, which hides an insert either way.
_TAIL = re.compile(
    rb"</body[" + _WS + rb"/]*>[" + _WS + rb"]*(?:</html[" + _WS + rb"]*>[" + _WS + rb"]*)?",
    re.IGNORECASE,
)
#: The ends of a page _TAIL matches most often, as written (a set lookup costs a third of
#: the match): checked in tests/html_editing/test_plain_pages.py.
_TAILS = frozenset(
    tail + html + end
    for tail in (b"</body>", b"</BODY>")
    for html in (b"", b"\n", b"\r\n")
    for end in (b"", b"</html>", b"</html>\n", b"</HTML>", b"</HTML>\n", b"</html>\r\n")
)
#: Raw-text elements that parsers following the older <select> rules ignore inside one.
_IGNORED_IN_SELECT = frozenset(b"xmp iframe noembed noframes title noscript style".split())
_DOCUMENT = frozenset({b"html", b"head", b"body"})
#: Start tags whose tokenizer switch (raw text, script data, plaintext) the tree builder sets.
_SWITCHES = frozenset({*_CLOSERS, b"plaintext"})
_FONT_ATTRIBUTES = frozenset({b"color", b"face", b"size"})
_ENCODING = frozenset({b"encoding"})
#: How deep a reading of bytes another way may read another way again (then: fail closed).
_READING_DEPTH = 4
#: How many SVG or MathML scripts and styles read to their end may nest (then: fail closed).
_TEXT_NESTING = 8


_HEAD_POINT = re.compile(rb"<script(?=[" + _WS + rb"/>])|</head(?=[" + _WS + rb"/>])")
# What may come before the head tags' place for the scanner to agree without scanning: no
# comment, raw-text element or bogus comment other than the doctype ("<title>" is checked).
_HEAD_HAZARDS = (b"<!--", b"<?", b"<style", b"<textarea", b"<xmp", b"<iframe", b"<noembed",
                 b"<noframes", b"<plaintext", b"<noscript", b"<svg", b"<math",
                 b"<select")  # fmt: skip
_HEAD_HAZARD = re.compile(b"|".join(re.escape(hazard) for hazard in _HEAD_HAZARDS))


def _head_point(data: bytes) -> int:
    """Where the head tags go (before the first ``<script``, else ``</head``) when the first
    16 KB show it plainly; -1 when only the scanner can tell."""
    # Lower-casing the head is enough when "</head" is written in one case (nearly every
    # page): the first place in it is then the first place of all. (Lowering 16 KB was
    # most of the cost of a page with nothing to edit.)
    end = data.find(b"</head", 0, 16377)
    upper = data.find(b"</HEAD", 0, end if end >= 0 else 16377)
    end = upper if upper >= 0 else end
    m = None
    if end >= 0:
        low = data[: end + 7].lower()
        m = _HEAD_POINT.search(low)
    if m is None:
        low = data[:16384].lower()
        m = _HEAD_POINT.search(low)
    if m is None:
        return -1
    before = low[: m.start()]
    if _HEAD_HAZARD.search(before) is not None:  # (one search, not one per hazard)
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


#: A tag's attributes are read by the regex from the first place this close to its first
#: quote that the tokenizer's state there is known (see :func:`tag_end`).
_SYNC_BEFORE = 256


def tag_end(data: bytes, pos: int) -> int:
    """Where the tag whose name ends at ``pos`` ends (past its ``>``), as the tokenizer reads
    its attributes; -1 if ``data`` ends first. (What ``_TAG_REST.match(data, pos)`` says.)

    A ``>`` ends a tag anywhere but in a quoted value, and only a quote can open one: up to
    the first quote, the first ``>`` is the end, found by ``bytes.find`` (the regex reads
    each attribute at ~15 ns a byte: a tag of thousands cost more than all the rest of its
    page). Where a quote comes before it, the regex reads from the last place before it
    where the tokenizer's state is known (:func:`_synced`), not from ``pos``. (A short tag,
    nearly every one, is read by the regex alone: one call.)"""
    m = _TAG_REST.match(data, pos, pos + _SYNC_BEFORE)
    if m is not None:  # (within those bytes, as it would be in all of them)
        return m.end()
    gt = data.find(b">", pos)
    if gt < 0:
        return -1
    q = data.find(b'"', pos, gt)
    q1 = data.find(b"'", pos, q if q >= 0 else gt)
    if q1 >= 0:
        q = q1
    if q < 0:
        return gt + 1
    m = _TAG_REST.match(data, _synced(data, pos, q) if q - pos > _SYNC_BEFORE else pos)
    return -1 if m is None else m.end()


def _synced(data: bytes, pos: int, q: int) -> int:
    """A place in ``(pos, q]`` where reading the attributes of a tag whose name ends at
    ``pos`` may start afresh, or ``pos`` if none is found nearby. ``data[pos:q]`` holds no
    quote and no ``>``: no value there is quoted and none holds white space, so right after
    white space the tokenizer is between attributes (before or after an attribute name,
    which read the same characters alike but "="), unless it follows an "=" that ended a
    name (then a value follows). So a place after white space, at neither white space nor
    "=", with no "=" before that white space, is the start of an attribute name (or of
    separators) however the tag was read before it: the regex from there reads the rest as
    it would from ``pos``."""
    k = q
    for _ in range(8):
        k = data.rfind(b" ", pos + 1, k)
        if k < 0:
            return pos
        if data[k + 1] in _WS_EQ:
            continue
        start = max(pos, k - 64)
        before = data[start:k].rstrip(_WS_BYTES)
        if before[-1:] != b"=" and (before or start == pos):  # (nothing: white space since pos)
            return k + 1
    return pos


_WS_EQ = frozenset(b"\t\n\f\r =")
#: The white space bytes themselves (:data:`_WS` is their regex class source, in which "\\t"
#: is a backslash and a "t": stripping with it left a tab, and a long tag whose "=" was
#: followed by a tab and a space was read from inside its value, a tracker src unseen).
_WS_BYTES = b"\t\n\f\r "


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
    """The next attribute named one of ``names``, past any others, in one C-level match,
    in a lower-cased tag (the names compared case by case cost a third more than in a
    lower-cased copy, which costs next to nothing).

    Attributes are read as :data:`_ATTR` reads them (the same name, value and separator
    classes), each quantifier possessive: the attributes skipped are read once, and a try
    that finds no such attribute fails after one pass over the rest of the tag.
    """
    ws = _WS
    wanted = b"(?:" + _trie(sorted(name.lower() for name in names)) + b")"
    boundary = rb"(?:[" + ws + rb"/>=]|\Z)"
    # A name whose first letter starts none of ``names`` is skipped by a character class
    # alone; only the others pay for the look-ahead.
    firsts = re.escape(bytes(sorted({c for n in names for c in n[:1].lower()})))
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


def attributes_named(
    tag: bytes, skip: int, names: frozenset[bytes], *, every: bool = False
) -> list[Attribute]:
    """:func:`attributes`, only the first named each of ``names`` (lower case), in order;
    ``every``: each copy of a repeated one too.

    A browser keeps the first of attributes with the same name and drops the rest, so the
    first is all a verdict reads (the gate renames ``every`` copy: once the first is renamed,
    the next would be the one the browser keeps). The attributes skipped (others, and
    repeats of a name found) cost a regex scan, not a Python object each: a tag of 100,000
    attributes, or of one attribute 10,000 times, stays cheap."""
    found: list[Attribute] = []
    low = tag.lower()  # the same offsets: values are taken from ``tag`` as written
    end = len(tag) - 1
    pos = _past_unnamed(low, skip, end, names)
    while names:
        m = _named_attribute(names).match(low, pos, end)
        if m is None:
            break
        name = m.group(1)
        start, stop = m.span(2)
        if start < 0:
            start, stop = m.span(3)
            if start < 0:
                start, stop = m.span(4)
        pos = m.end()
        found.append(Attribute(name, tag[start:stop] if start >= 0 else b"", m.start(1), pos))
        if not every:
            names = names - {name}
    return found


def _past_unnamed(low: bytes, skip: int, end: int, names: frozenset[bytes]) -> int:
    """Where reading the attributes of a whole tag (lower-cased, ``end`` at its ">") for
    ``names`` may start and find what it finds from ``skip``: a place near the first quote
    where the tokenizer's state is known (:func:`_synced`), when none of ``names`` is
    written anywhere before it (then no attribute before it is named so); else ``skip``.
    (The regex reads ~20 ns a byte of a tag of thousands of attributes before the one
    wanted; the search for the names costs next to nothing.)"""
    if end - skip <= _SYNC_BEFORE:
        return skip
    q = low.find(b'"', skip, end)
    q1 = low.find(b"'", skip, q if q >= 0 else end)
    q = q1 if q1 >= 0 else q if q >= 0 else end
    if q - skip <= _SYNC_BEFORE or low.find(b">", skip, q) >= 0:
        return skip
    at = _synced(low, skip, q)
    for name in _shortest(names):
        if low.find(name, skip, at) >= 0:
            return skip
    return at if at > skip else skip


@lru_cache(maxsize=512)
def _shortest(names: frozenset[bytes]) -> tuple[bytes, ...]:
    """``names`` but those holding another of them (``srcset``, ``data-src``), shortest
    first: a stretch holds one of ``names`` exactly when it holds one of these. (A
    ``bytes.find`` each reads a stretch of URLs at ~0.5 ns a byte, a regex of them all
    at ~15; the short names, ``src`` and ``href``, are the ones usually found.)"""
    kept = (n for n in names if not any(m != n and m in n for m in names))
    return tuple(sorted(kept, key=lambda name: (len(name), name)))


def attribute_starts(tag: bytes, skip: int, names: frozenset[bytes]) -> list[tuple[int, bytes]]:
    """Where every attribute named one of ``names`` (lower case) starts, copies included,
    with its name: what renaming them takes, without reading their values (a tag of
    thousands of copies costs a tuple each, not an :class:`Attribute`)."""
    low = tag.lower()
    pattern = _named_attribute(names)
    end = len(tag) - 1
    found = []
    pos = skip
    while (m := pattern.match(low, pos, end)) is not None:
        found.append((m.start(1), m.group(1)))
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

    def lowered(self, data: bytes) -> bytes | None:
        """``data`` lower-cased, if :meth:`positions` was just asked about it and made the
        copy (the scan reads the same one), else ``None``."""

    def needs_content(self, tag: bytes, namespace: bytes = HTML_SCRIPT) -> bool:
        """True if the verdict on this ``<script>`` start tag depends on its inline content.
        ``namespace``: :data:`HTML_SCRIPT`, :data:`SVG_SCRIPT`, or :data:`EITHER_SCRIPT` (the
        page's readings differ): an HTML script's URL is its ``src``, an SVG one's its
        ``href``."""

    def script_tag(
        self, tag: bytes, content: bytes | None, namespace: bytes = HTML_SCRIPT
    ) -> bytes | None:
        """The replacement for a ``<script>`` start tag, or ``None`` to keep it."""

    def style_tag(self, tag: bytes, content: bytes) -> bytes | None:
        """The replacement for a ``<style>`` start tag given its CSS, or ``None`` to keep it."""

    def start_tag(
        self, name: bytes, tag: bytes, in_noscript: bool, mathml: bool = False
    ) -> bytes | None:
        """The replacement for a start tag naming a blocked URL (``img``, ``link``, a style
        attribute...), or ``None``. ``mathml``: the element may be a MathML one (an ``href``
        of its ``<a>`` or ``<area>`` is then no link followed on a click only)."""

    def is_embed(self, tag: bytes) -> bool:
        """True if this ``<iframe>`` start tag is a content embed to replace."""

    def embed(self, tag: bytes, element: bytes) -> bytes | None:
        """A placeholder replacing a whole ``<iframe>...</iframe>`` element, or ``None``."""


class State(StrEnum):
    """The tokenizer state the scanner is in between two bytes of the body.

    (A ``StrEnum``: the scanner looks its handler up by state once per token, and a plain
    Enum's hash is a Python call.)"""

    DATA = "data"
    RAWTEXT = "raw text"  # raw text and RCDATA: look for the element's end tag only
    SCRIPT = "script data"  # and its escaped / double-escaped states (Rewriter._escape)
    COMMENT = "comment"
    BOGUS = "bogus comment"  # <!x>, <?x>, </3>, <!DOCTYPE ...>: ends at the next ">"
    CDATA = "CDATA section"  # <![CDATA[ in foreign content: ends at "]]>"
    PLAINTEXT = "plaintext"  # everything after <plaintext> is text
    TAG = "attributes"  # inside a tag too long to hold, naming no blocked host: emitted as read
    PASS = "pass"  # given up: everything from here on passes through


class _Window:
    """The bytes one call of the scanner works on, and where it is in them."""

    __slots__ = (
        "_last_lt",
        "_plain_end",
        "_unordinary",
        "data",
        "gate",
        "hi",
        "hits",
        "last",
        "low",
        "n",
        "texts",
        "view",
        "wait",
    )

    def __init__(
        self,
        data: bytes,
        last: bool,
        hits: list[int],
        gate: Gate | None,
        low: bytes | None = None,
    ) -> None:
        self.data = data
        self._unordinary = (-1, -1)  # (from, the first _NOT_ORDINARY there or n): not_ordinary
        # Same offsets; ASCII letters only (bytes.lower). Given: shared with another window.
        self.low = data.lower() if low is None else low
        self.view = memoryview(data)
        self.n = len(data)
        self.last = last
        self.hits = hits  # where blocked URLs start, ascending
        self.hi = 0  # the first hit not yet passed
        self.gate = gate if hits else None  # a window naming no blocked host edits nothing
        self.wait = False  # set by a state that needs more bytes than the window has
        self._plain_end: int | None = None
        self._last_lt: tuple[int, bool, int] | None = None
        # Where the SVG or MathML scripts and styles read to their end by a scan of their
        # own (Rewriter._text_end), and that the scan is inside, end: innermost last.
        self.texts: list[int] = []

    def not_ordinary(self, pos: int) -> int:
        """Where the first :data:`_NOT_ORDINARY` at or after ``pos`` is (``n``: none).
        Searched once per stretch: asked again from a later place before it, the answer
        is the same (each byte is searched once a window: linear)."""
        start, found = self._unordinary
        if not start <= pos <= found:
            m = _NOT_ORDINARY.search(self.low, pos)
            found = m.start() if m is not None else self.n
            self._unordinary = (pos, found)
        return found

    def hit_in(self, start: int, end: int) -> bool:
        return self.gate is not None and _hit_in(self.hits, start, end)

    def plain_end(self) -> int:
        """Where the window's last ``</body`` starts if only a well-formed end of the page
        follows it, else -1. Worked out once per window: the data state asks each time it
        runs out of hits, and a page with no ``</body`` (three passes over all of it to
        say so) or one ending in a megabyte of white space made that quadratic."""
        if self._plain_end is None:
            at = _last_body(self.data)
            self._plain_end = at if at >= 0 and _TAIL.fullmatch(self.data, at) else -1
        return self._plain_end

    def plainly_markup(self, pos: int, at: int) -> bool:
        """:func:`_plainly_markup` of the window's end at ``at``, the scanner in the data
        state at ``pos``: the last "<" before ``at`` is looked for and judged once per window
        (the data state asks each time it runs out of hits)."""
        if self._last_lt is None:
            lt = self.data.rfind(b"<", 0, at)
            opener = _value_opener(self.data, at)
            # A "</body" the scan has yet to read before a quote that may open a value
            # holding ``at``: only the scan can tell which one is the end tag.
            body = self.low.rfind(b"</body", 0, opener) if opener > 0 else -1
            # (And a comment the scan may read it in: see Rewriter._shadows.)
            body = max(body, _open_comment(self.data, max(0, at - _SHADOW_BACK), at))
            self._last_lt = (lt, lt < 0 or _closed_before(self.data, lt, at), body)
        lt, closed, body = self._last_lt
        return lt < pos or (closed and body < pos)


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
        "_body_in_select",
        "_closer",
        "_depth",
        "_document",
        "_escape",
        "_follows_markup",
        "_foreign",
        "_fresh",
        "_gate",
        "_head",
        "_held",
        "_held_size",
        "_holding",
        "_insert",
        "_left_open",
        "_looked",
        "_noscript",
        "_open_tag",
        "_open_tail",
        "_out",
        "_pending",
        "_prepare",
        "_quote",
        "_raw_name",
        "_refresh",
        "_rescan_at",
        "_scripting",
        "_select",
        "_shadow",
        "_shadowing",
        "_span_read",
        "_state",
        "_text_before",
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
        self._state = State.DATA
        self._closer: re.Pattern[bytes] | None = None  # the end tag of the raw-text element
        self._raw_name = b""
        self._escape = 0  # script data: 0 plain, 1 escaped (after <!--), 2 double-escaped
        self._pending = b""  # input not yet scanned (a partial tag or element)
        self._waiting: list[bytes] = []  # chunks that cannot end what _pending waits for
        self._waited = 0
        self._out: list[bytes | memoryview] = []
        self._held: list[bytes | memoryview] = []  # output after a candidate </body
        self._held_size = 0
        self._holding = False
        self._shadow: list[bytes | memoryview] = []  # output after a </body in raw text
        self._shadowing = False
        self._scripting = True  # <noscript> is raw text (and read as markup too)
        self._noscript = 0  # inside <noscript>, read as markup (scripting off)
        # The stack of open elements from the outermost <svg> or <math> in, as candidate
        # readings (cookieguard.html._foreign); empty: in HTML, outside foreign content.
        self._foreign: Candidates = ()
        self._depth = 0  # how many readings-another-way this scan is inside
        # Read the markup reading of what is raw text in another without a gate too (the
        # stacks it leaves): the scan for an element's end (_TextEnd) does.
        self._follows_markup = False
        self._select = False  # inside <select>
        self._body_in_select = False  # the </body candidate held was read inside <select>
        # A tag left open at the very end (the data, where its name ends): see _tail().
        self._open_tag: tuple[bytes, int] | None = None
        self._quote = b""  # State.TAG: the quote of the value it is in, if any
        # An element we wait for whole (an inline script, <style>, <noscript>...): how far
        # past its start the search for its end tag has read, and its markup reading once
        # found; so a long one streamed in many chunks is read once (linear work).
        self._looked = 0
        # The last bytes (up to _SHADOW_BACK) of a comment or raw text a window ended in.
        self._text_before = b""
        self._rescan_at = 0  # with a long element pending: how much to hold before reading on
        self._span_read: tuple[int, bytes, bytes | None, Candidates | None] | None = None
        # In a reading within a reading: what closes a markup reading this scan followed
        # that is still open at the end of its span (see _other_reading).
        self._open_tail: bytes | None = b""
        # A markup reading left open where the raw text of another ended (see
        # _other_reading): a "</body" after it may be in that reading's comment or tag.
        self._left_open = False
        self._document = False  # seen <!doctype>, <html>, <head> or <body>: a whole page
        self._fresh = True  # nothing fed yet
        #: Why the rest of the page passed unchanged (``None``: it did not): the site then
        #: fails closed (cookieguard.html._inject.Uneditable).
        self.failure: str | None = None

    # -- the adapters' interface ------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """Rewrite one chunk; returns what may be sent now (possibly ``b""``)."""
        return self._run(chunk, last=False)

    def feed_last(self, chunk: bytes, *, clear: bool = False) -> bytes:
        """Rewrite the final chunk, flushing everything held back. (``clear``: a whole body
        in which the gate's prefilter, run on it piece by piece, found no blocked host.)"""
        if self._fresh and self._prepare is not None:
            self._prepared(chunk)
        if self._fresh and self._state is State.DATA:
            # A whole body: try the fast path first.
            gate = self._gate
            try:
                hits: list[int] | None = (
                    gate.positions(chunk) if gate is not None and not clear else []
                )
            except Exception:
                hits = None  # the scan below meets the error again, and passes the page
            if hits == []:
                at = insert_point(chunk)
                if at >= 0:
                    head = self._head
                    where = _head_point(chunk) if head else 0
                    if 0 <= where <= at:
                        self._fresh = False
                        self._state = State.PASS
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
        self._state = State.PASS
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

    # -- chunks in, output out ---------------------------------------------------------------

    def _run(self, chunk: bytes, *, last: bool, hits: list[int] | None = None) -> bytes:
        self._fresh = False
        if (
            not last
            and self._pending
            and self._state is not State.PASS
            and (
                len(self._pending) + self._waited + len(chunk) < self._rescan_at
                or (
                    len(self._pending) + self._waited < ELEMENT_LIMIT
                    and b"<" not in chunk
                    and b">" not in chunk
                )
            )
        ):
            # Waiting for the end of an element: a chunk without "<" or ">" cannot finish
            # it, and a long one is read again only once it has grown by half (small
            # chunks would make that quadratic; the answer depends on the bytes only).
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
        if self._state is State.PASS:
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
                self._state = State.PASS
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
        self._body_in_select = self._select

    def _select_closed(self) -> None:
        """The ``<select>`` ends. A ``</body`` read inside it closed nothing (the older
        rules ignore it; Chromium's keep the select open past it): an insert there would be
        the select's, dropped or never shown (``<select></body><select>``: gate fuzz, seed
        2030 case 111436), so the insert goes after it."""
        self._select = False
        if self._holding and self._body_in_select:
            self._release_held()

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

    # -- the tokenizer: one method per state ---------------------------------------------------

    def _scan(self, data: bytes, last: bool, hits: list[int] | None = None) -> None:
        gate = self._gate
        # The prefilter: where the page names a blocked host. A stretch naming none has
        # nothing to edit; every verdict is taken on a tag or element whole inside ``data``
        # (incomplete ones are held back), so this holds however the body is chunked.
        if hits is None:
            hits = gate.positions(data) if gate is not None else []
        w = _Window(data, last, hits, gate, gate.lowered(data) if gate is not None else None)
        states = _STATES
        pos = 0
        while pos < w.n and not w.wait:
            pos = states[self._state](self, w, pos)
        if pos < w.n:
            self._pending = data[pos:]
        held = w.n - pos if w.wait else 0
        self._rescan_at = min(held * 3 // 2, ELEMENT_LIMIT + 1) if held > 4096 else 0

    def _in_data(self, w: _Window, pos: int) -> int:
        """Data state: skip text and ordinary tags; stop at markup that matters."""
        hits = w.hits
        hi = w.hi
        if hi < len(hits) and hits[hi] < pos:  # (passed in a tag of thousands: no walk)
            w.hi = hi = bisect_left(hits, pos, hi + 1)
        plainly = w.last and w.hi >= len(hits) and not (self._head or self._holding)
        if plainly and self._finish_plainly(w, pos):
            return w.n
        end = hits[w.hi] if w.hi < len(hits) and w.gate is not None else w.n
        if end < w.n:
            # The skip cannot pass the tag holding the hit (it never ends before it), so it
            # stops at the last "<" before the hit at the latest: reading that tag's
            # attributes there only to fail cost a second pass over a tag of thousands.
            lt = w.low.rfind(b"<", pos, end)
            if lt >= 0:
                end = lt
        # In <select> and anywhere inside <svg>/<math> every tag may change the state.
        plain = not (self._select or self._foreign)
        if plain and self._shadowing:
            # A "</body" in raw text still counts (see _two_readings): the end of the next
            # raw-text element or comment read ends that, so none is skipped whole.
            skipped = _SKIP_SHADOWED.match(w.low, pos, end)
            stop = skipped.end() if skipped is not None else pos
        elif plain:
            kind = (bool(self._head), self._scripting)
            at = _passed(w, pos, end, kind) if end - pos > _LEAP_MIN else pos
            # Every token but text ends at a ">": past the last one the skip takes text
            # only. (A tag with no ">" after it was read to ``end`` by the attribute loop
            # only to fail: "<a <a <a..." cost 25 ns a byte on top of the search below.)
            closed = w.low.rfind(b">", at, end) + 1 or at
            skip = _SKIPS[kind]
            skipped = skip.match(w.low, at, closed)
            stop = skipped.end() if skipped is not None else at  # (it matches "" too)
            while stop < closed and _FOREIGN_ROOT.match(w.low, stop) is not None:
                # An <svg> or <math> with children of its own: read on with nested ones,
                # at most _DEEP_RUN tokens (see _skip), then with the usual skip again.
                skipped = _DEEP_SKIPS[kind].match(w.low, stop, closed)
                if skipped is None or skipped.end() == stop:
                    break
                skipped = skip.match(w.low, skipped.end(), closed)
                assert skipped is not None  # (it matches "" too)
                stop = skipped.end()
            if stop == closed < end:
                # (Between two tokens: text and "<" that starts no token read on.)
                stop = _TEXT_TOKENS.match(w.low, stop, end).end()  # type: ignore[union-attr]
        else:
            skipped = _SKIP_TEXT.match(w.low, pos, end)
            stop = skipped.end() if skipped is not None else pos
        if stop > pos:
            self._emit(w.view[pos:stop])
            # A script that waited for its end in the last window may now be skipped whole:
            # how far its end was looked for is no one's any more (see _search_from), nor
            # the markup reading kept for it (see _other_reading).
            self._looked = 0
            self._span_read = None
        if stop >= w.n:
            return w.n
        if w.data[stop] != 0x3C:  # "<": the skip stopped at a blocked URL in text
            w.hi += 1
            return stop
        if plain and end == w.n:
            # The skip reads every ordinary tag it can: one it stopped at is cut off by the
            # end of the window (reading its attributes again would only fail again).
            name = _ORDINARY_NAME.match(w.low, stop)
            if name is not None:
                self._open_tag = (w.data, name.end())  # what would close it: see _tail()
                return self._more(w, stop)
        if plain and w.gate is not None:
            # The usual stop before a hit: an ordinary start tag holding it (an <img>, a
            # <link>...), read in one match, not through the tag open and name states.
            tag = _ORDINARY_TAG.match(w.low, stop, stop + _SYNC_BEFORE)
            if tag is not None:  # (a short one: all of it, in one call)
                return self._ordinary_tags(w, tag.group(1), stop, tag.end())
            tag = _ORDINARY_NAME.match(w.low, stop)
            if tag is not None and (tag_at := tag_end(w.low, tag.end())) >= 0:
                return self._ordinary_tags(w, w.low[stop + 1 : tag.end()], stop, tag_at)
        return self._tag_open(w, stop)

    def _ordinary_tags(self, w: _Window, name: bytes, at: int, end: int) -> int:
        """The ordinary start tag the data state stopped at (``name``, ``at`` to ``end``)
        before its next hit (:meth:`_plain_tag`), and each such tag that follows it right
        away holding the next hit (tracker pixels in a row: the data state would stop at
        each having skipped nothing, and read it the same way; going back to it cost more
        than the verdict memo's answer)."""
        gate = w.gate
        assert gate is not None
        hits, low, data, view = w.hits, w.low, w.data, w.view
        noscript = bool(self._noscript)
        emit = self._emit
        while True:
            new = gate.start_tag(name, data[at:end], noscript) if hits[w.hi] < end else None
            emit(view[at:end] if new is None else new)
            hi = w.hi
            if hi < len(hits) and hits[hi] < end:
                hi += 1
                if hi < len(hits) and hits[hi] < end:  # (a tag may hold thousands)
                    hi = bisect_left(hits, end, hi)
                w.hi = hi
            if hi >= len(hits) or low.rfind(b"<", end, hits[hi]) != end:
                return end
            tag = _ORDINARY_TAG.match(low, end, end + _SYNC_BEFORE)
            if tag is None:
                return end  # (read by the data state)
            name, at, end = tag.group(1), end, tag.end()

    def _finish_plainly(self, w: _Window, pos: int) -> bool:
        """Nothing left to edit but the insert: finish like the whole-body fast path."""
        at = w.plain_end()
        if at >= pos and not self._shadowing and w.plainly_markup(pos, at):
            self._emit(w.view[pos:at])
            self._body_candidate()
            self._emit(w.view[at:])
            return True
        return False

    def _more(self, w: _Window, at: int) -> int:
        """The window ends inside the construct at ``at``: wait for more, or at the very
        end keep it as it was (the tokenizer drops an unfinished tag; nothing loads)."""
        if not w.last:
            if w.n - at > ELEMENT_LIMIT:
                return self._long_tag(w, at)
            w.wait = True
            return at
        if not self._holding and self._finish_plainly(w, at):
            # As the data state finishes a page when it is there first (a window that
            # begins at this construct): the same insert however the page was cut (one
            # before a "</body" in a value that never closes is hidden as any other).
            return w.n
        self._emit(w.view[at:])
        return w.n

    def _long_tag(self, w: _Window, at: int) -> int:
        """A tag longer than we hold: if it names no blocked host so far, emit what is read
        and go on inside it (State.TAG) from a point whose attribute state is known: within
        a quoted value, or between two attributes."""
        if w.hit_in(at, w.n) or not w.low[at + 1 : at + 2].isalpha():
            self._too_large(b"tag")
            self._emit(w.view[at:])
            return w.n
        name = _TAG_NAME.match(w.low, at + 1)
        assert name is not None
        self._raw_name = name.group()
        return self._resume_tag(w, at, name.end())

    def _resume_tag(self, w: _Window, at: int, attrs_at: int) -> int:
        m = _ATTRS_SO_FAR.match(w.data, attrs_at)
        read = m.end() if m is not None else attrs_at
        if read < w.n:  # an unterminated quoted value
            quote = _OPEN_QUOTE.match(w.data, read)
            if quote is None:
                self._too_large(b"tag")
                self._emit(w.view[at:])
                return w.n
            self._quote = quote.group(1)
            cut = w.n
        else:  # between attributes, or in a name or unquoted value: cut before it
            cut = max(
                w.data.rfind(c, attrs_at, w.n) for c in (b" ", b"\t", b"\n", b"\f", b"\r", b"/")
            )
            cut += 1
            # The separator must be one the tokenizer reads as such (not inside a quoted
            # value): the attributes before it then end exactly there.
            before = _ATTRS_SO_FAR.match(w.data, attrs_at, cut)
            if (
                cut <= attrs_at
                or w.n - cut > ELEMENT_LIMIT
                or before is None
                or before.end() != cut
            ):
                self._too_large(b"tag")
                self._emit(w.view[at:])
                return w.n
            self._quote = b""
        if w.hit_in(at, cut):
            self._too_large(b"tag")
            self._emit(w.view[at:])
            return w.n
        self._emit(w.view[at:cut])
        self._state = State.TAG
        if cut < w.n:
            w.wait = True
        return cut

    def _in_tag(self, w: _Window, pos: int) -> int:
        """Inside a long tag (see :meth:`_long_tag`): to its end, then the data state."""
        if self._quote:
            k = w.data.find(self._quote, pos)
            if w.hit_in(pos, k if k >= 0 else w.n):
                # A blocked URL in a value too long to judge whole (a srcset's second
                # candidate...): give up on the page (fail closed).
                self._too_large(b"tag")
                self._emit(w.view[pos:])
                return w.n
            if k < 0:
                self._emit(w.view[pos:])
                return w.n
            self._emit(w.view[pos : k + 1])
            self._quote = b""
            return k + 1
        ahead = w.data[pos : pos + 64].lstrip(b" \t\n\f\r")
        if ahead.startswith(b"="):
            # Resumed after white space that may follow a name: "=" would give that name a
            # value, not start a new one. Too long and too odd to tell: give up (fail closed).
            self._too_large(b"tag")
            self._emit(w.view[pos:])
            return w.n
        end = _TAG_REST.match(w.data, pos)
        if end is not None:
            new = None
            if w.hit_in(pos, end.end()):
                # The rest of the tag names a blocked host: judged as a tag of its own
                # (its URL attributes renamed; the mark goes where the rest begins).
                assert w.gate is not None
                name = self._raw_name
                rest = w.data[pos : end.end()]
                space = b"" if rest[:1] in (b" ", b"\t", b"\n", b"\f", b"\r", b"/") else b" "
                edit = w.gate.start_tag(name, b"<" + name + space + rest, False)
                new = edit[len(name) + 1 :] if edit is not None else None
            self._emit(w.view[pos : end.end()] if new is None else new)
            self._state = State.DATA
            return end.end()
        if w.last:
            self._emit(w.view[pos:])
            return w.n
        if w.n - pos > ELEMENT_LIMIT:
            return self._resume_tag(w, pos, pos)
        w.wait = True
        return pos

    def _tag_open(self, w: _Window, at: int) -> int:
        """Tag open state, at a "<"."""
        data = w.data
        after = data[at + 1 : at + 2]
        if not after:
            return self._more(w, at) if not w.last else self._text_lt(w, at)
        if after == b"!":
            return self._declaration(w, at)
        if after == b"?":  # a bogus comment up to ">"
            self._emit(w.view[at : at + 2])
            self._state = State.BOGUS
            return at + 2
        if after == b"/":
            return self._end_tag_open(w, at)
        if w.low[at + 1] in _LETTERS:
            return self._start_tag(w, at)
        return self._text_lt(w, at)

    def _text_lt(self, w: _Window, at: int) -> int:
        self._emit(w.view[at : at + 1])
        return at + 1

    def _declaration(self, w: _Window, at: int) -> int:
        """Markup declaration open state: a comment, a doctype, CDATA or a bogus comment."""
        data = w.data
        if w.n - at < 9 and not w.last:
            return self._more(w, at)  # might still become "<!--", "<!doctype", "<![CDATA["
        if data.startswith(b"--", at + 2):
            after = at + 4
            # "<!-->" and "<!--->" are (empty) comments too.
            if data.startswith(b">", after):
                self._emit(w.view[at : after + 1])
                return after + 1
            if data.startswith(b"->", after):
                self._emit(w.view[at : after + 2])
                return after + 2
            self._emit(w.view[at:after])
            self._state = State.COMMENT
            return after
        if data.startswith(b"[CDATA[", at + 2) and self._foreign:
            sections = [stack for stack in self._foreign if _foreign.cdata(stack)]
            if len(sections) == len(self._foreign):
                self._emit(w.view[at : at + 9])
                self._state = State.CDATA
                return at + 9
            if sections:
                comments = [stack for stack in self._foreign if not _foreign.cdata(stack)]
                return self._two_cdata(w, at, sections, comments)
        if w.low.startswith(b"doctype", at + 2):
            self._document = True
        self._emit(w.view[at : at + 2])
        self._state = State.BOGUS
        return at + 2

    def _end_tag_open(self, w: _Window, at: int) -> int:
        """End tag open state, at "</"."""
        after = w.low[at + 2 : at + 3]
        if not after:
            return self._more(w, at) if not w.last else self._text_lt(w, at)
        if after == b">":  # "</>" is no token at all
            self._emit(w.view[at : at + 3])
            return at + 3
        if after[0] not in _LETTERS:  # "</3 ...>" is a bogus comment
            self._emit(w.view[at : at + 2])
            self._state = State.BOGUS
            return at + 2
        name, end = self._tag_bounds(w, at + 2)
        if end < 0:
            return self._more(w, at)
        if name == b"body":
            # After a markup reading left open, only a "</body" the page ends with places
            # the insert (where the fast path puts it: what closes that reading's comment
            # or tag cannot come later); before another, the reading may be inside one
            # (``<svg></d><style><!--</style></body>-->``: gate fuzz, seed 2030 case
            # 214100), and the end of the page is read as markup in both.
            if not self._left_open or _TAIL.fullmatch(w.data, at) is not None:
                self._body_candidate()
        elif name == b"head":
            self._head_here()
        elif name == b"noscript" and self._noscript:
            self._noscript -= 1
        elif name == b"select":
            self._select_closed()
        if name in _DOCUMENT:
            self._document = True
        if self._foreign:
            self._set_foreign(
                [after for stack in self._foreign for after in _foreign.end(stack, name)]
            )
        self._emit(w.view[at:end])
        return end

    def _tag_bounds(self, w: _Window, name_at: int) -> tuple[bytes, int]:
        """The tag name starting at ``name_at`` (lower case) and where the tag ends
        (after its ">"), -1 if not in the window; sets what would close it if not."""
        m = _TAG_NAME.match(w.low, name_at)
        assert m is not None
        name_end = m.end()
        if name_end < w.n:
            end = tag_end(w.data, name_end)
            if end >= 0:
                return m.group(), end
        self._open_tag = (w.data, name_end)  # what would close it: see _tail()
        return m.group(), -1

    def _start_tag(self, w: _Window, at: int) -> int:
        """Tag name and attribute states of a start tag, then what the tag opens."""
        name, end = self._tag_bounds(w, at + 1)
        if end < 0:
            return self._more(w, at)
        if name in _DOCUMENT:
            self._document = True
        if self._foreign or name == b"svg" or name == b"math":
            before = self._foreign
            pos = self._start_in_tree(w, name, at, end)
            if pos == at and w.wait:
                self._foreign = before  # read again when more has come
            return pos
        return self._start_html(w, name, at, end)

    def _start_in_tree(self, w: _Window, name: bytes, at: int, end: int) -> int:
        """A start tag while the foreign-content model is in use (or opening it)."""
        mathml = (name == b"a" or name == b"area") and any(
            s and s[-1].space is Space.MATHML and not _foreign.html_rules(s, name)
            for s in self._foreign
        )  # (neither breaks out; in one reading at least, a MathML element: fail closed)
        html, foreign = self._tree_start(w, name, at, end)
        if not html or mathml:
            return self._foreign_tag(w, name, at, end, mathml)
        if foreign and name in _SWITCHES and (self._scripting or name != b"noscript"):
            # Raw text for one reading, markup for another: read both (fail closed).
            if name == b"plaintext":  # its raw text hides all that follows
                if not self._select:  # (where the older <select> rules ignore it)
                    self._set_foreign(foreign)
                return self._foreign_tag(w, name, at, end)
            if (name == b"noscript" and self._scripting) or (
                self._select and name in _IGNORED_IN_SELECT
            ):
                # The HTML reading has a markup reading of its own: without scripting, or
                # by the older <select> rules, which ignore the tag.
                foreign = html + foreign
            return self._two_readings(w, name, at, end, keep=html, markup=foreign)
        if name == b"svg" or name == b"math":
            return self._plain_tag(w, name, at, end)
        return self._start_html(w, name, at, end)

    def _start_html(self, w: _Window, name: bytes, at: int, end: int) -> int:
        """A start tag the HTML rules process: what it opens."""
        if name == b"script":
            self._head_here()
            return self._script_tag(w, at, end)
        if name == b"select" and not self._select:
            self._select = True
        elif self._select and name in (b"select", b"input", b"keygen", b"textarea"):
            self._select_closed()  # they close the select (and a <select> is dropped)
        if name == b"plaintext" and not self._select:
            # (In <select> the older rules ignore it and read on: the markup reading, which
            # sees all that the plaintext one does.) Its attributes are judged as any
            # tag's: a <plaintext> renders, its style attribute with it.
            end = self._plain_tag(w, name, at, end)
            self._state = State.PLAINTEXT
            return end
        if name == b"noscript" and not self._scripting:
            self._noscript += 1  # read as markup: this is the reading without scripting
            return self._plain_tag(w, name, at, end)
        if name == b"noscript" or (self._select and name in _IGNORED_IN_SELECT):
            stacks = list(self._foreign or HTML_ONLY)
            return self._two_readings(w, name, at, end, keep=stacks, markup=stacks)
        if name == b"iframe" and w.hit_in(at, end) and not self._noscript:
            return self._iframe(w, at, end)
        if name == b"style" and self._gate is not None:
            return self._style(w, at, end, markup=False)
        end = self._plain_tag(w, name, at, end)
        if name in _CLOSERS:
            self._enter_raw(name)
        return end

    def _tree_start(
        self, w: _Window, name: bytes, at: int, end: int
    ) -> tuple[list[Stack], list[Stack]]:
        """A start tag on every candidate stack of the foreign-content model: the stacks
        after it where the HTML rules process it, and those where the foreign ones do."""
        data = w.data
        skip = at + len(name) + 1
        breaks = point = False
        if name == b"font":
            breaks = bool(attributes_named(data[at:end], skip - at, _FONT_ATTRIBUTES))
        elif name == b"annotation-xml":
            found = attributes_named(data[at:end], skip - at, _ENCODING)
            if found:
                value = unescape(found[0].value.decode("utf-8", "replace"))
                point = value.lower() in ("text/html", "application/xhtml+xml")
        closing = data[end - 2] == 0x2F and _self_closing(data, skip, end)  # "/>"
        html: list[Stack] = []
        foreign: list[Stack] = []
        stacks = self._foreign or HTML_ONLY
        if self._select and (name == b"svg" or name == b"math"):
            html.extend(stacks)  # the older <select> rules ignore it
        for stack in stacks:
            rules, after = _foreign.start(
                stack, name, self_closing=closing, breaks=breaks, html_point=point
            )
            (html if rules else foreign).extend(after)
        self._set_foreign(html + foreign)
        return html, foreign

    def _set_foreign(self, stacks: list[Stack]) -> None:
        if len(stacks) == 1:  # the usual case: one reading
            self._foreign = (stacks[0],) if stacks[0] else ()
            return
        found = _foreign.normal(stacks)
        self._foreign = () if found == HTML_ONLY else found

    def _plain_tag(self, w: _Window, name: bytes, at: int, end: int, mathml: bool = False) -> int:
        """A start tag whose only edit may be its own attributes."""
        new = None
        if w.hit_in(at, end):
            assert w.gate is not None
            new = w.gate.start_tag(name, w.data[at:end], bool(self._noscript), mathml)
        self._emit(w.view[at:end] if new is None else new)
        return end

    def _foreign_tag(self, w: _Window, name: bytes, at: int, end: int, mathml: bool = False) -> int:
        """A start tag in SVG or MathML: nothing it opens is raw text."""
        if name == b"script" and self._gate is not None:
            return self._foreign_script(w, at, end)
        if name == b"style" and self._gate is not None:
            return self._style(w, at, end, markup=True)
        return self._plain_tag(w, name, at, end, mathml)

    def _search_from(self, w: _Window, at: int, end: int) -> int:
        """Where to look for the end of the element at ``at`` whose start tag ends at
        ``end``: past what the windows before this one read (see ``_looked``)."""
        looked, self._looked = self._looked, 0
        return max(end, looked) if at == 0 else end

    def _wait_for_end(self, w: _Window, at: int, searched: int) -> int:
        """Wait for more of the element at ``at``; its end is not before ``searched``."""
        self._looked = max(searched, at) - at
        w.wait = True
        return at

    def _foreign_script(self, w: _Window, at: int, end: int) -> int:
        """An SVG ``<script>``: it loads its href whatever its type, and runs its content,
        which the tokenizer reads as markup (no script data states): judged on the tag and
        the text up to its end tag, then read on as markup."""
        gate = self._gate
        assert gate is not None
        content: bytes | None = None
        if gate.needs_content(w.data[at:end], SVG_SCRIPT):
            close = self._text_end(w, at, end, b"script")
            if close is None:
                return self._give_up(w, at, b"script")
            if close == -1 and not w.last and w.n - at <= ELEMENT_LIMIT:
                return self._wait_for_end(w, at, w.n - _LONGEST_NAME)
            content_end = close if close != -1 else w.n
            if w.hit_in(at, content_end):
                content = w.data[end:content_end]
        new = None
        if content is not None or w.hit_in(at, end):
            new = gate.script_tag(w.data[at:end], content, SVG_SCRIPT)
        self._emit(w.view[at:end] if new is None else new)
        return end

    def _text_end(
        self, w: _Window, at: int, end: int, name: bytes, stacks: Candidates | None = None
    ) -> int | None:
        """Where the text of the SVG or MathML ``<script>`` or ``<style>`` at ``at`` (its
        start tag ending at ``end``) ends: -1 if not in the window, ``None`` if it cannot be
        told (fail closed).

        In foreign content such an element is no raw text: its text runs to the end tag the
        tree builder closes it with, which a comment, a CDATA section (whose text is the
        element's too), an attribute value or a nested element of the same name may put past
        the first ``</script`` or ``</style`` in the bytes. Where none can (the first ``<``
        after the start tag is that end tag), that is the end; else the markup after the
        start tag is read by a scan of its own, without a gate, from the stacks of open
        elements after it, up to where every reading has closed the element (or the bytes
        end). The text is then the span up to there: the element's own text and its
        children's (a larger text is the fail-closed reading). Each such scan reads its
        element once; one inside another's span reads that span again, so at most
        :data:`_TEXT_NESTING` may nest (linear work). A self-closing one has no text.
        ``stacks``: the readings in which the element is foreign, if not all of them."""
        self._search_from(w, at, end)  # (how far an earlier window looked: no one's now)
        if w.data[end - 2] == 0x2F and _self_closing(w.data, at + len(name) + 1, end):
            return end  # self-closing: no text
        low = w.low
        lt = low.find(b"<", end)
        if lt < 0:
            return w.n if w.last else -1
        if _CLOSERS[name].match(low, lt):
            return lt
        texts = w.texts
        while texts and texts[-1] <= at:
            texts.pop()
        if len(texts) >= _TEXT_NESTING:
            return None
        reader = _TextEnd(self, self._foreign if stacks is None else stacks)
        close = reader.close(w, end)
        if reader.failure is not None:
            return None
        if close != -1:
            texts.append(close)
        return close

    def _script_tag(self, w: _Window, at: int, end: int) -> int:
        """A ``<script>`` start tag: judged on its attributes, or with its inline content."""
        gate = self._gate  # whether to wait for the content: even if this window names no host
        if gate is not None and gate.needs_content(w.data[at:end]):
            start = self._search_from(w, at, end)
            if start == end:
                self._escape = 0
            limit = w.n if w.last else max(start, w.n - _LONGEST_NAME)
            closer = self._script_close(w.low, start, limit)
            if closer is None and not w.last:
                if w.n - at <= ELEMENT_LIMIT:
                    return self._wait_for_end(w, at, limit)  # wait for the whole script
                self._too_large(b"script")
                self._emit(w.view[at:])
                return w.n
            content_end = closer.start() if closer is not None else w.n
            new = (
                gate.script_tag(w.data[at:end], w.data[end:content_end])
                if w.hit_in(at, content_end)
                else None
            )
            self._emit(w.view[at:end] if new is None else new)
            pos = self._text(w, end, content_end, content_end)
            self._enter_raw(b"script")
            return pos
        new = gate.script_tag(w.data[at:end], None) if gate and w.hit_in(at, end) else None
        self._emit(w.view[at:end] if new is None else new)
        self._enter_raw(b"script")
        return end

    def _iframe(self, w: _Window, at: int, end: int) -> int:
        """An ``<iframe>`` naming a blocked URL: a click-to-load placeholder if it is a
        content embed, else its URL attributes renamed."""
        gate = w.gate
        assert gate is not None
        tag = w.data[at:end]
        if gate.is_embed(tag):
            closer = _CLOSERS[b"iframe"].search(w.low, self._search_from(w, at, end))
            if closer is None and not w.last:
                if w.n - at <= ELEMENT_LIMIT:
                    return self._wait_for_end(w, at, w.n - _LONGEST_NAME)
                self._too_large(b"iframe")
                self._emit(w.view[at:])
                return w.n
            element_end = w.n
            if closer is not None:
                close_tag = _TAG_REST.match(w.data, closer.end())
                if close_tag is None and not w.last:
                    w.wait = True
                    return at
                if close_tag is not None:
                    element_end = close_tag.end()
            new = gate.embed(tag, w.data[at:element_end])
            if new is not None:
                self._emit(new)
                if self._foreign and closer is not None:  # its end tag went with it
                    self._set_foreign(
                        [
                            after
                            for stack in self._foreign
                            for after in _foreign.end(stack, b"iframe")
                        ]
                    )
                return element_end
        end = self._plain_tag(w, b"iframe", at, end)
        self._enter_raw(b"iframe")
        return end

    def _style(self, w: _Window, at: int, end: int, *, markup: bool) -> int:
        """CSS in a ``<style>`` element loads what its url() and @import name: the verdict is
        on the whole element, so wait for it (as for inline scripts). In SVG and MathML it
        applies too, but its content is read on as markup."""
        gate = self._gate
        assert gate is not None
        if markup:
            close = self._text_end(w, at, end, b"style")
            if close is None:
                return self._give_up(w, at, b"style")
            if close == -1 and not w.last and w.n - at <= ELEMENT_LIMIT:
                return self._wait_for_end(w, at, w.n - _LONGEST_NAME)
            content_end = close if close != -1 else w.n
        else:
            closer = _CLOSERS[b"style"].search(w.low, self._search_from(w, at, end))
            if closer is None and not w.last:
                if w.n - at <= ELEMENT_LIMIT:
                    return self._wait_for_end(w, at, w.n - _LONGEST_NAME)
                self._too_large(b"style")  # raw text to the end of the page: give up
                self._emit(w.view[at:])
                return w.n
            content_end = closer.start() if closer is not None else w.n
        new = (
            gate.style_tag(w.data[at:end], w.data[end:content_end])
            if w.hit_in(at, content_end)
            else None
        )
        self._emit(w.view[at:end] if new is None else new)
        if markup:
            return end
        pos = self._text(w, end, content_end, content_end)
        self._enter_raw(b"style")
        return pos

    def _two_readings(
        self, w: _Window, name: bytes, at: int, end: int, *, keep: list[Stack], markup: list[Stack]
    ) -> int:
        """An element whose content one browser reads as raw text and another as markup
        (``<noscript>`` with and without JavaScript; a raw-text element in ``<select>``; one
        whose start tag the foreign-content model cannot tell HTML from SVG or MathML).

        The raw text runs to the element's end tag; the markup reading of those bytes is
        gated by a scan of its own, and closed there if it would run on (see the module
        docstring). Both readings then go on from the end tag: the stacks of open elements
        ``keep`` (of the raw-text reading) with those the markup reading of ``markup``
        leaves."""
        if name == b"script":
            start = self._search_from(w, at, end)
            if start == end:
                self._escape = 0
            searched = w.n if w.last else max(start, w.n - _LONGEST_NAME)
            closer = self._script_close(w.low, start, searched)
        else:
            closer = _CLOSERS[name].search(w.low, self._search_from(w, at, end))
            searched = w.n - _LONGEST_NAME
        if closer is None and not w.last:
            if w.n - at <= ELEMENT_LIMIT:
                return self._wait_for_end(w, at, searched)
            self._too_large(name)
            self._emit(w.view[at:])
            return w.n
        if closer is None and self._select and name in _IGNORED_IN_SELECT and self._body_in_select:
            # Raw text to the end of the page in one reading, the select open over it; the
            # other reads on as markup, which may close the select (``<select></body><xmp>
            # <select>``: gate fuzz, seed 4102 case 10356): a "</body" read in the select
            # places the insert in neither, the end of the page may in the second.
            self._release_held()
        if closer is None and name == b"noscript" and self._scripting and not self._depth:
            # Raw text to the end of the page with JavaScript: it shows and fetches nothing,
            # and hides an insert anywhere. Without, it is the rest of the page as markup:
            # read only that reading, so its own "</body" places the insert (for visitors
            # without JavaScript the banner's form is the way to choose).
            self._set_foreign(markup)
            self._noscript += 1
            return self._plain_tag(w, name, at, end)
        content_end = closer.start() if closer is not None else w.n
        text_end = content_end  # where the element's text ends in either reading
        foreign = [s for s in markup if s and s[-1].space is not Space.HTML and s[-1].name == name]
        if foreign and name in (b"style", b"script") and self._gate is not None:
            # An SVG or MathML one in the markup reading: its text may run on past the end
            # of the raw text (a nested one of the same name, its end tag in the span).
            close = self._text_end(w, at, end, name, tuple(foreign))
            if close is None:
                return self._give_up(w, at, name)
            if close == -1 and not w.last and w.n - at <= ELEMENT_LIMIT:
                return self._wait_for_end(w, at, content_end)
            text_end = max(content_end, close if close != -1 else w.n)
        span = w.data[end:content_end]
        out: bytes | None = None
        follow = self._gate is not None or self._follows_markup
        if follow and (closer is not None or w.hit_in(end, content_end)):
            scripting = self._scripting and name != b"noscript"
            read = self._other_reading(
                w, at, end, content_end, closer is not None, markup, scripting
            )
            if read is None:
                return self._wait_for_end(w, at, content_end)
            out, after = read
            if after is None:
                return self._give_up(w, at, name)
            self._set_foreign(keep + after)
            if out == span:
                out = None
        else:
            self._set_foreign(keep + markup)
        gate = w.gate
        if gate is not None and name in (b"style", b"script") and w.hit_in(at, text_end):
            tag = w.data[at:end]
            text = w.data[end:text_end]
            if name == b"style":  # CSS in the raw-text reading, or the foreign one's text
                new = gate.style_tag(tag, text)
            else:
                # (a raw-text reading and a foreign one: an HTML script and an SVG one)
                new = gate.script_tag(
                    tag, text if gate.needs_content(tag, EITHER_SCRIPT) else None, EITHER_SCRIPT
                )
            self._emit(w.view[at:end] if new is None else new)
        else:
            self._plain_tag(w, name, at, end)
        if out is not None:
            self._emit(out)
        else:
            self._text(w, end, content_end, content_end)
        if closer is None:
            self._enter_raw(name)
        else:
            self._end_shadow()  # a "</body" in its text was text
        return content_end

    def _two_cdata(self, w: _Window, at: int, sections: list[Stack], comments: list[Stack]) -> int:
        """``<![CDATA[`` where one candidate reading is in foreign content (a CDATA section up
        to ``]]>``) and another in HTML (a bogus comment up to the first ``>``): the bytes
        between the two ends are gated as markup too, and closed at the ``]]>``."""
        k = w.data.find(b"]]>", at + 9)
        if k < 0 and not w.last:
            if w.n - at <= ELEMENT_LIMIT:
                w.wait = True
                return at
            return self._give_up(w, at, b"CDATA")
        stop = k if k >= 0 else w.n
        gt = w.data.find(b">", at + 2, stop)
        if gt < 0:  # the comment ends where the section does
            self._emit(w.view[at : min(stop + 3, w.n)])
            return min(stop + 3, w.n)
        read = self._other_reading(w, at, gt + 1, stop, k >= 0, comments, self._scripting)
        if read is None:
            w.wait = True
            return at
        out, after = read
        if after is None:
            return self._give_up(w, at, b"CDATA")
        self._set_foreign(sections + after)
        self._emit(w.view[at : gt + 1])
        if out != w.data[gt + 1 : stop]:
            self._emit(out)
        else:
            self._text(w, gt + 1, stop, stop)
        if k < 0:
            self._state = State.CDATA
            return stop
        self._emit(w.view[stop : stop + 3])
        return stop + 3

    def _other_reading(
        self,
        w: _Window,
        at: int,
        start: int,
        stop: int,
        closed: bool,
        stacks: list[Stack],
        scripting: bool,
    ) -> tuple[bytes, list[Stack] | None] | None:
        """``data[start:stop]`` read as markup from the stacks of open elements ``stacks``,
        gated, and closed at ``stop`` if that reading would run on (``closed``: the other
        reading ends there). Returns the bytes and the stacks that reading leaves (``None``:
        it could not be read, fail closed); ``None`` to wait for more of the body."""
        span = w.data[start:stop]
        read, self._span_read = self._span_read, None
        if read is not None and at == 0 and read[0] == len(span):
            out, tail, after = read[1], read[2], read[3]
        else:
            out, tail, after = self._reading(span, stacks, scripting)
        if after is None:
            return out, None
        if tail != b"" and closed:
            # Read as markup, the span would run on past the other reading's end. That
            # matters only if something in the span or after it names a blocked host: the
            # construct left open may be a tag holding one, which the reading never judged
            # (the tokenizer drops a tag the input ends in; fuzz 2030/79530, 349470,
            # 817861: "<noscript><img src=... a="></noscript>">", a tag to its ">" without
            # JavaScript). Until one shows up or the page ends, wait (bounded), so the edit
            # is the same however the body is cut. Past the bound, close it (fail closed).
            if not _hit_in(w.hits, start, w.n):
                if not w.last and w.n - at <= ELEMENT_LIMIT:
                    self._span_read = (len(span), out, tail, after)
                    return None
                if w.last:
                    if self._depth:  # (open at the end of this scan: see below)
                        self._still_open(tail)
                    else:
                        self._left_open = True
                    tail = b""
            if tail != b"":
                out, after = self._closed_reading(span, tail, stacks, scripting)
        elif tail != b"" and w.last and self._depth:
            # The other reading runs to the end of this scan, and so does this one, still
            # open: in a reading within a reading the page goes on after it, so what closes
            # this one goes before what closes this scan's own state (fuzz 2028/920423: an
            # SVG title's markup reading left a <style> open inside a <noscript>'s span).
            self._still_open(tail)
        return out, (None if after is None else list(after))

    def _still_open(self, tail: bytes | None) -> None:
        """A markup reading this scan followed is open at its end, ``tail`` closing it
        (``None``: nothing can); it goes before what closes this scan's own state."""
        if tail is None or self._open_tail is None:
            self._open_tail = None
        else:
            self._open_tail = tail + self._open_tail

    def _give_up(self, w: _Window, at: int, name: bytes) -> int:
        """Markup read another way inside a reading another way, too deep to follow (or a
        CDATA section past the element limit): the rest passes, the site fails closed."""
        logger.warning(
            "an HTML page whose <%s> the tree builder may read several ways, nested over %d "
            "deep (or over %d bytes, or SVG or MathML scripts and styles nested over %d "
            "deep); the rest of this page passes unchanged",
            name.decode("ascii", "replace"),
            _READING_DEPTH,
            ELEMENT_LIMIT,
            _TEXT_NESTING,
        )
        self.failure = "limit"
        self._state = State.PASS
        self._emit(w.view[at:])
        return w.n

    def _closed_reading(
        self, span: bytes, tail: bytes | None, stacks: list[Stack], scripting: bool
    ) -> tuple[bytes, Candidates | None]:
        """``span`` read as markup and gated, with ``tail`` closing what it leaves open at
        its end (a comment, a quoted value, a raw-text element...)."""
        if tail is not None:
            out, again, after = self._reading(span + tail, stacks, scripting)
            if again == b"":
                return out, after
        # Nothing closes it (a <plaintext>): make the span text for that reading.
        return span.replace(b"<", b"&lt;"), tuple(stacks)

    def _reading(
        self, span: bytes, stacks: list[Stack], scripting: bool
    ) -> tuple[bytes, bytes | None, Candidates | None]:
        """``span`` read as markup by a scan of its own from the stacks of open elements
        ``stacks``: the gated bytes, what closes the construct it ends in (see
        :meth:`_tail`), and the stacks it leaves (``None``: it gave up)."""
        if self._depth >= _READING_DEPTH:
            return span, b"", None
        reader = Rewriter(b"", gate=self._gate)
        reader._depth = self._depth + 1
        reader._follows_markup = self._follows_markup
        reader._scripting = scripting
        reader._noscript = self._noscript + (not scripting)
        reader._document = True
        reader._select = self._select  # (its raw-text elements are read both ways there too)
        reader._set_foreign(stacks)
        out = reader._run(span, last=True)
        if reader.failure is not None:
            return span, b"", None
        # A <select> that reading leaves open: read on as in one (both readings gated).
        self._select = self._select or reader._select
        return out, reader._tail(), reader._foreign or HTML_ONLY

    def _tail(self) -> bytes | None:
        """What closes the construct this scan ended in, and before it what closes a markup
        reading it followed that is still open (``b""``: none is open; ``None``: nothing
        can)."""
        own = self._own_tail()
        return None if own is None or self._open_tail is None else self._open_tail + own

    def _own_tail(self) -> bytes | None:
        state = self._state
        if state is State.DATA:
            return _closing(*self._open_tag) if self._open_tag is not None else b""
        if state is State.COMMENT:
            return b"-->"
        if state is State.BOGUS:
            return b">"
        if state is State.CDATA:
            return b"]]>"
        if state is State.RAWTEXT:
            return b"</" + self._raw_name + b">"
        if state is State.SCRIPT:
            return b"--></script>"
        return None

    def _in_rawtext(self, w: _Window, pos: int) -> int:
        """Raw text and RCDATA states: text up to the element's end tag."""
        closer = self._closer
        assert closer is not None
        m = closer.search(w.low, pos)
        return self._until(w, pos, m, leave=m.start() if m is not None else -1)

    def _in_script(self, w: _Window, pos: int) -> int:
        """Script data states: text up to the ``</script`` that really ends it."""
        m = self._script_close(w.low, pos, w.n if w.last else w.n - _LONGEST_NAME)
        return self._until(w, pos, m, leave=m.start() if m is not None else -1)

    def _in_comment(self, w: _Window, pos: int) -> int:
        """Comment states: text up to ``-->`` or ``--!>``."""
        m = _COMMENT_END.search(w.low, pos)
        return self._until(w, pos, m, leave=m.end() if m is not None else -1)

    def _until(self, w: _Window, pos: int, m: re.Match[bytes] | None, *, leave: int) -> int:
        """Emit the text of a comment or raw-text element up to its end ``m`` (``None``: not
        in the window), then go back to the data state at ``leave``."""
        if m is not None:
            stop = m.start()
        elif w.last:
            stop = w.n
        else:
            stop = max(pos, w.n - _LONGEST_NAME)  # an end or "</body" may be cut
        start = pos
        pos = self._text(w, pos, stop, stop if m is not None else w.n)
        if m is None:
            w.wait = not w.last
            # What the next window's "</body" are judged by (see _text).
            text = w.data[max(start, pos - _SHADOW_BACK) : pos]
            if len(text) < _SHADOW_BACK:
                text = (self._text_before + text)[-_SHADOW_BACK:]
            self._text_before = text
            return pos
        self._text_before = b""
        self._emit(w.view[pos:leave])
        self._end_shadow()
        self._state = State.DATA
        return leave

    def _in_bogus(self, w: _Window, pos: int) -> int:
        """Bogus comment state (and the doctype): up to the next ``>``."""
        k = w.data.find(b">", pos)
        if k < 0:
            self._emit(w.view[pos:])
            return w.n
        self._emit(w.view[pos : k + 1])
        self._state = State.DATA
        return k + 1

    def _in_cdata(self, w: _Window, pos: int) -> int:
        """CDATA section state: text up to ``]]>`` (a "</body" in it places the insert only
        if the page ends there, as in a comment: where the whole-body fast path puts it)."""
        m = _CDATA_END.search(w.data, pos)
        return self._until(w, pos, m, leave=m.end() if m is not None else -1)

    def _in_plaintext(self, w: _Window, pos: int) -> int:
        """PLAINTEXT state: text to the end (a "</body" in it places the insert only if the
        page ends there, as in raw text)."""
        return self._until(w, pos, None, leave=-1)

    def _in_rest(self, w: _Window, pos: int) -> int:
        """The given-up state: everything passes."""
        self._emit(w.view[pos:])
        return w.n

    def _text(self, w: _Window, pos: int, stop: int, limit: int) -> int:
        """Emit the text of a comment or raw-text element up to ``stop``, noting any
        ``</body`` that starts before it (and may end before ``limit``); returns where
        the text emitted ends."""
        view = w.view
        start = pos
        while True:
            b = _BODY_END.search(w.low, pos, limit)
            if b is None or b.start() >= stop:
                break
            if b.start() > pos:
                self._emit(view[pos : b.start()])
            if self._shadows(w.data, start, b.start()):
                self._shadow_candidate()
            self._emit(view[b.start() : b.end()])
            pos = b.end()
        if stop > pos:
            self._emit(view[pos:stop])
            pos = stop
        return pos

    def _shadows(self, data: bytes, start: int, at: int) -> bool:
        """Whether the ``</body`` at ``at``, in text that this window has from ``start`` on,
        may place the insert: not if the bytes since the "<" before it (within
        :data:`_SHADOW_BACK`, the same however the body is cut) put it inside a tag in a
        markup reading (``<b/'</body>``, ``</bo</body>``): a reading the tree builder may
        take instead (JavaScript off for ``<noscript>``; SVG or MathML around a raw-text
        name) reads no raw text there, and the end of the page is then the place. Nor if a
        "<!--" before it opens a comment that reading reads it in (``<svg></d><style><!--<y>
        </body -->``: gate fuzz, seed 2030 case 214100)."""
        lo = max(start, at - _SHADOW_BACK)
        if lo == start and self._text_before:  # (then at most _SHADOW_BACK bytes since start)
            data = (self._text_before + data[start:at])[-_SHADOW_BACK:]
            lo, at = 0, len(data)
        lt = data.rfind(b"<", lo, at)
        return (lt < 0 or _closed_before(data, lt, at)) and _open_comment(data, lo, at) < 0

    def _enter_raw(self, name: bytes) -> None:
        if name == b"script":
            self._state = State.SCRIPT
        else:
            self._state = State.RAWTEXT
            self._raw_name = name
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
            if token.startswith(b"<!--"):
                if token.endswith(b">"):
                    state = 0  # "<!-->", "<!--->": in and out of the escape at once
                elif state == 0:
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
        self._state = State.PASS


class _TextEnd(Rewriter):
    """A scan without a gate that reads markup only to find where an SVG or MathML element
    the scanner is in closes (:meth:`Rewriter._text_end`)."""

    __slots__ = ()

    def __init__(self, outer: Rewriter, stacks: Candidates) -> None:
        super().__init__(b"")
        self._depth = outer._depth
        self._scripting = outer._scripting
        self._noscript = outer._noscript
        self._select = outer._select
        self._document = True
        self._follows_markup = True
        self._set_foreign(list(stacks))

    def close(self, w: _Window, start: int) -> int:
        """Where, reading ``w`` from ``start``, every candidate stack has closed the element
        opened last (the window's end if the page ends first; -1: not in the window)."""
        depth = max(min((len(stack) for stack in self._foreign), default=1) - 1, 0)
        # A window of its own over the same bytes: no hits (nothing to gate), never the
        # last (so the data state never finishes a page at once), the same lower case.
        window = _Window(w.data, False, [], None, w.low)
        states = _STATES
        pos = start
        while pos < window.n and not window.wait:
            pos = states[self._state](self, window, pos)
            if all(len(stack) <= depth for stack in self._foreign):
                return pos
        return w.n if w.last else -1


_STATES: dict[State, Callable[[Rewriter, _Window, int], int]] = {
    State.DATA: Rewriter._in_data,
    State.RAWTEXT: Rewriter._in_rawtext,
    State.SCRIPT: Rewriter._in_script,
    State.COMMENT: Rewriter._in_comment,
    State.BOGUS: Rewriter._in_bogus,
    State.CDATA: Rewriter._in_cdata,
    State.PLAINTEXT: Rewriter._in_plaintext,
    State.TAG: Rewriter._in_tag,
    State.PASS: Rewriter._in_rest,
}
_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyz")


def _passed(w: _Window, pos: int, end: int, kind: tuple[bool, bool]) -> int:
    """A place in ``[pos, end]`` that the data state's skip from ``pos`` (a place between
    tokens, plain state; ``kind``: which skip) passes between two tokens, found while
    reading as few of the tags before it as can be; ``pos`` if none. (The skip costs
    ~15 ns a byte of ordinary markup: once a page holds a hit, its greatest cost is the
    90 KB of a shop's product list between a snippet in the head and one before
    ``</body>``.)

    Each stretch up to the next "<" that may start anything but text or an ordinary tag
    (:data:`_NOT_ORDINARY`, wherever it is, in attribute values too) is leapt over when
    long (:func:`_leap`), else read with the skip's own rules for text and ordinary tags
    (:data:`_ORDINARY_RUN`: all the skip can meet there); the token there is read by one
    step of the skip itself. The first that fails ends the walk: the skip reads on from
    there as it would have from ``pos``.

    A step over a short stretch costs more than the skip's reading of it (a few calls
    against ~15 ns a byte): it pays only on the way to a long one. After _WALK_SHORT of
    them in a row the walk ends, and the skip reads on (a page of small elements, each a
    token the walk stopped at, cost a step each: 55 -> 125 µs per KB of "<svg></svg>")."""
    low = w.low
    one = _SKIP_ONES[kind]
    at = pos
    short = 0
    while at < end:
        s = min(w.not_ordinary(at), end)
        if s - at > _LEAP_MIN:
            if _leap(low, at, s) != s:
                break
            short = 0
        elif short >= _WALK_SHORT or _ORDINARY_RUN.match(low, at, s).end() != s:  # type: ignore[union-attr]
            break
        else:
            short += 1
        at = s
        if at >= end:
            break
        m = one.match(low, at, end)
        if m is None:
            break  # a token the skip stops at (or one cut off by ``end``)
        at = m.end()
    return at


def _leap(low: bytes, pos: int, s: int) -> int:
    """``s`` if the skip from ``pos`` (between tokens) reaches ``s`` (a "<" that may start
    anything but text or an ordinary tag, or the end of the stretch) between two tokens,
    holding nothing else before it; else ``pos``. Found without reading what comes before
    the last :data:`_LEAP_BACK` bytes.

    Before ``s`` the skip reads text and ordinary tags only, so right after any ">" there
    (``y``) it is in text, or inside a double- or single-quoted attribute value (a ">"
    ends a tag in every other state of one) opened after ``pos`` (so only if that quote is
    in ``low[pos:y]``). Each of these readings is followed from ``y`` (a quoted one to the
    end of its tag): if each reaches ``s`` between two tokens, the skip does, whichever
    reading is its own."""
    y = low.find(b">", max(pos, s - _LEAP_BACK), s) + 1
    if not y:
        return pos
    for quote, rest in _QUOTED_REST:
        at = y
        if rest is not None:
            if low.find(quote, pos, y) == -1:
                continue  # no such value opened since ``pos``: not a reading at ``y``
            m = rest.match(low, y, s)
            if m is None:
                return pos
            at = m.end()
        if _ORDINARY_RUN.match(low, at, s).end() != s:  # type: ignore[union-attr]
            return pos
    return s


def _self_closing(data: bytes, skip: int, end: int) -> bool:
    """True if the start tag ending at ``end`` (its attributes from ``skip``) has the
    self-closing flag: a "/" right before its ">" that does not go on an unquoted attribute
    value (``<svg a=b/>`` opens an svg; ``<svg a=/>`` too)."""
    if not data.startswith(b"/>", end - 2):
        return False
    slash = end - 2
    m = _ATTRS_UNQUOTED.match(data, skip, slash)
    if m is None or m.end() != slash:  # (cannot be: the tag was read whole)
        return False
    return m.end(1) != slash


def _closing(data: bytes, name_end: int) -> bytes:
    """What ends a tag cut off at the end of ``data``: ``>``, or a quote and ``>`` when the
    cut falls inside a quoted attribute value."""
    m = _ATTRS_SO_FAR.match(data, name_end)
    at = m.end() if m is not None else name_end
    if at >= len(data):
        return b">"
    quote = _OPEN_QUOTE.match(data, at)
    return (quote.group(1) + b">") if quote is not None else b">"


def _hit_in(hits: list[int], start: int, end: int) -> bool:
    """True if a blocked URL starts in ``data[start:end]``: only then can the gate edit the
    element there. (A URL never spans a "<" or ">", so none found by the page-wide search
    starts outside an element and runs into it: searching the element alone finds no more.)"""
    i = bisect_left(hits, start)
    return i < len(hits) and hits[i] < end


def _enclosing(data: bytes, floor: int, at: int) -> int:
    """The start of the tag whose attributes may hold offset ``at``, or -1: a quick look back
    over at most 8 tags within 4 KB, for placing the inserts only (the scanner itself reads
    every tag forwards)."""
    floor = max(floor, at - 4096)
    last_open = data.rfind(b"<", floor, at)
    if last_open < 0 or data.rfind(b">", floor, at) > last_open:
        return -1  # the usual case: the previous tag closed before ``at``
    found = -1
    k = at
    for _ in range(8):
        k = data.rfind(b"<", floor, k)
        if k < 0:
            break
        if not data[k + 1 : k + 2].isalpha():
            continue
        end = _TAG_REST.match(data, k + 1)
        if end is None or end.end() > at:
            found = k  # the earliest such tag is the one ``at`` is really in
    return found


def _plainly_markup(data: bytes, at: int) -> bool:
    """True when the tokenizer reads the ``</body`` at ``at`` as a tag of its own, as far as
    the inserts' placement needs to know (:func:`_closed_before` of the last "<" before it).
    """
    lt = data.rfind(b"<", 0, at)
    if lt >= 0 and not _closed_before(data, lt, at):
        return False
    if _open_comment(data, max(0, at - _SHADOW_BACK), at) >= 0:
        return False  # (the scan's to say, as Rewriter._shadows does in text)
    opener = _value_opener(data, at)
    return opener < 0 or _ANY_BODY.search(data, 0, opener) is None


#: A ``</body`` in any letter case (searched for only before a quote that may open a value).
_ANY_BODY = re.compile(rb"</body", re.IGNORECASE)


def _value_opener(data: bytes, at: int) -> int:
    """The later of the last quotes of each kind before ``at`` if it may open a quoted value
    that ``at`` is then inside, else -1. Only a quote after "=" and white space opens one
    (one of its kind between it and ``at`` would close it), and its tag then runs past the
    end of a page ending in a ``</body``: ``</body><b x="<p></body>`` ends in no tag, the first
    ``</body>`` is the last end tag. (Read backwards, a quote after "=" in script text or an
    attribute name cannot be told from one opening a value: a ``</body`` before it tells
    whether that matters.)"""
    found = -1
    for quote in b"\"'":
        q = data.rfind(quote, 0, at)
        k = q - 1
        while k >= 0 and data[k] in _WS_BYTES:
            k -= 1
        if k >= 0 and data[k] == 0x3D:  # "="
            found = max(found, q)
    return found


def _open_comment(data: bytes, lo: int, at: int) -> int:
    """Where the last "<!--" in ``data[lo:at]`` is if it may open a comment that ``at`` is
    inside, else -1."""
    comment = data.rfind(b"<!--", lo, at)
    if comment < 0 or data.find(b"-->", comment + 2, at) >= 0:  # (and "<!-->", "<!--->")
        return -1
    return comment if data.find(b"--!>", comment + 4, at) < 0 else -1


def _closed_before(data: bytes, lt: int, at: int) -> bool:
    """Whether the construct at ``lt``, the last "<" before ``at``, ends before ``at``
    whatever state the tokenizer reads ``lt`` in; ``False`` when only a scan can tell.

    Read backwards, a page cannot say whether a ">" ends a tag or sits in a quoted value,
    nor whether a "<" opens one (``</bo</BODY>`` is one end tag: name ``bo<``, then an
    attribute ``BODY``; ``<b x=">" </body>`` one start tag). With no quote between ``lt``
    and ``at``, a tag, a bogus comment or a doctype at ``lt`` ends at its first ">", and a
    tag that ``lt`` may be inside (unquoted: a quoted value would need a quote to close)
    ends there too; a comment ends at its "-->". What the page's end is left in then is the
    data state or, when an element or comment never closes, one that swallows the end
    of the page, and hides an insert anywhere (the scanner places it alike, in its shadow
    of that ``</body``)."""
    if data.find(b'"', lt, at) >= 0 or data.find(b"'", lt, at) >= 0:
        return False
    if data.startswith(b"<!--", lt):  # ("<!-->" and "<!--->" end at once)
        return data.find(b"-->", lt + 2, at) >= 0 or data.find(b"--!>", lt + 4, at) >= 0
    kind = data[lt + 1 : lt + 2]
    if kind == b"/":
        kind = data[lt + 2 : lt + 3]
    elif kind in (b"!", b"?"):  # a bogus comment or the doctype; CDATA needs a scan
        kind = b"" if data.startswith(b"<![", lt) else b"a"
    return kind.isalpha() and data.find(b">", lt, at) >= 0


def insert_point(data: bytes) -> int:
    """Where the inserts go in a whole page nothing else is edited in, when its end says so
    without a scan: its last ``</body`` (any letter case), followed by nothing but white
    space and ``</html>``, and plainly markup (:func:`_plainly_markup`); -1 if only the
    scan can tell (:meth:`Rewriter.feed_last` scans then)."""
    at = data.rfind(b"</body")  # (_last_body's first look, without the call)
    if at < 0:
        at = _last_body(data)
        if at < 0:
            return -1
    # (Most pages end one of the _TAILS ways: a set lookup, not the match.)
    if (len(data) - at > 32 or data[at:] not in _TAILS) and _TAIL.fullmatch(data, at) is None:
        return -1
    return at if _plainly_markup(data, at) else -1
