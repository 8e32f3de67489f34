"""The tree builder's part in tokenizing: which start tags switch the tokenizer to raw text,
and where ``<![CDATA[`` opens a CDATA section, inside SVG and MathML.

The tokenizer's state after a start tag is set by the tree builder: an HTML ``<iframe>``,
``<style>`` or ``<script>`` makes what follows raw text, the same tag in SVG or MathML does
not; and ``<![CDATA[`` is a CDATA section only where the adjusted current node is not an HTML
element. Which rules a tag meets depends on the namespace of every open element from the
outermost ``<svg>`` or ``<math>`` in ("tree construction dispatcher" and "rules for parsing
tokens in foreign content", https://html.spec.whatwg.org/multipage/parsing.html#tree-construction):
a ``<math>`` inside ``<svg>`` is an SVG element, so its ``<annotation-xml>`` is no HTML
integration point and its ``<mi>`` no MathML text integration point; an ``<img>`` breaks out
to the nearest HTML element or integration point; an end tag closes the nearest open element
of its name, or, once it reaches an HTML element, is handled by the HTML rules.

This module keeps that stack of open elements, from the outermost foreign element in
(HTML elements inside integration points included). What it cannot know (the HTML elements
around the outermost ``<svg>``: an end tag that reaches past it may close them, and the SVG
with them, or be ignored) it keeps as several candidate stacks, one per reading; where the
candidates disagree on a tag that decides the tokenizer's state, the scanner reads the bytes
both ways and gates what either reading loads (fail closed). Where html5lib (the test
oracle, following an older text) and the standard differ (``</p>`` and ``</br>`` in foreign
content), both readings are candidates too.

A stack is a tuple of :class:`Open` elements, outermost first; the empty tuple is "in HTML,
outside any foreign element". A set of candidates is a tuple of distinct stacks.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple


class Space(Enum):
    """The namespace of an element."""

    HTML = "html"
    SVG = "svg"
    MATHML = "mathml"


class Open(NamedTuple):
    """One open element: its namespace, lower-case name, for a MathML annotation-xml
    whether its ``encoding`` makes it an HTML integration point, and for an HTML
    ``<select>`` whether this reading follows the older "in select" rules (html5lib's:
    most tags in it ignored) rather than Chromium's relaxed select parser (inserted)."""

    space: Space
    name: bytes
    html_point: bool = False
    older_select: bool = False


Stack = tuple[Open, ...]
Candidates = tuple[Stack, ...]

HTML_ONLY: Candidates = ((),)
#: Deeper nesting is read as the innermost (bounded memory; the tokenizer state is the same).
DEPTH = 256
#: More candidate readings than this are cut to the deepest (see :func:`normal`).
READINGS = 8

_TEXT_POINTS = frozenset(b"mi mo mn ms mtext".split())
_SVG_POINTS = frozenset(b"foreignobject desc title".split())
#: Start tags that leave foreign content (https://html.spec.whatwg.org/#parsing-main-inforeign);
#: ``<font>`` too when it has a color, face or size attribute.
BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i "
    b"img li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u "
    b"ul var".split()
)
_VOID = frozenset(
    b"area base basefont bgsound br col embed frame hr image img input keygen link meta param "
    b"source track wbr".split()
)
#: "has an element in scope": what stops the search (HTML names; the foreign ones below).
_SCOPE = frozenset(b"applet caption html table td th marquee object template".split())
_FOREIGN_SCOPE = frozenset(
    [(Space.MATHML, n) for n in (*_TEXT_POINTS, b"annotation-xml")]
    + [(Space.SVG, n) for n in _SVG_POINTS]
)
_SPECIAL = frozenset(
    b"address applet area article aside base basefont bgsound blockquote body br button caption "
    b"center col colgroup dd details dir div dl dt embed fieldset figcaption figure footer form "
    b"frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html iframe img input keygen li "
    b"link listing main marquee menu meta nav noembed noframes noscript object ol p param "
    b"plaintext pre script search section select source style summary table tbody td template "
    b"textarea tfoot th thead title tr track ul wbr xmp".split()
)
_HEADINGS = frozenset(b"h1 h2 h3 h4 h5 h6".split())
#: Start tags "in body" ignores (or merges into the open html or body element).
_IGNORED = frozenset(b"html head body frameset frame".split())
#: Start tags the older "in select" rules insert or process (the rest they ignore).
_KEPT_IN_SELECT = frozenset(b"option optgroup script template".split())
#: Start tags that close an open <select> ("in select" mode).
_CLOSE_SELECT = frozenset(b"input keygen textarea select".split())
#: Start tags of table parts: ignored "in body", but in the table and template modes they
#: clear the stack back to a table context first (which modes the model cannot tell apart).
_TABLE_PARTS = frozenset(b"caption col colgroup tbody td tfoot th thead tr".split())
#: What "clear the stack back to a table (body, row) context" stops at.
_TABLE_CONTEXTS = (
    frozenset((b"table", b"template")),
    frozenset((b"tbody", b"thead", b"tfoot", b"template")),
    frozenset((b"tr", b"template")),
)
#: End tags of "in body" that close an element in (default, list item or button) scope.
_SCOPED = frozenset(
    b"address article aside blockquote button center details dialog dir div dl fieldset "
    b"figcaption figure footer header hgroup listing main menu nav ol pre search section "
    b"summary ul li dd dt h1 h2 h3 h4 h5 h6 applet marquee object form p".split()
)
_FORMATTING = frozenset(b"a b big code em font i nobr s small strike strong tt u".split())
#: Start tags that close a ``<p>`` in button scope before they are inserted ("in body"; a
#: ``<table>`` too, in no-quirks mode only). html5lib 1.1 predates ``dialog`` and ``search``.
_CLOSES_P = frozenset(
    b"address article aside blockquote center details dir div dl fieldset figcaption figure "
    b"footer header hgroup main menu nav ol p section summary ul h1 h2 h3 h4 h5 h6 pre listing "
    b"form plaintext xmp hr li dd dt".split()
)
_CLOSES_P_NOT_IN_HTML5LIB = frozenset((b"dialog", b"search"))
#: End tags of the table and select insertion modes: they close through integration points.
_TABLE = frozenset(b"table tbody thead tfoot tr td th caption colgroup select".split())


def _html(node: Open) -> bool:
    return node.space is Space.HTML


def _point(node: Open) -> bool:
    """An HTML integration point or a MathML text integration point: where a breakout stops."""
    if node.space is Space.MATHML:
        return node.html_point or node.name in _TEXT_POINTS
    return node.space is Space.SVG and node.name in _SVG_POINTS


def _boundary(node: Open) -> bool:
    """True if ``node`` ends the search for an element "in scope"."""
    if node.space is Space.HTML:
        return node.name in _SCOPE
    return (node.space, node.name) in _FOREIGN_SCOPE


def _special(node: Open) -> bool:
    if node.space is Space.HTML:
        return node.name in _SPECIAL
    return (node.space, node.name) in _FOREIGN_SCOPE


def html_rules(stack: Stack, name: bytes) -> bool:
    """True if a start tag ``name`` is processed by the HTML insertion modes (the tree
    construction dispatcher), False if by the rules for foreign content."""
    if not stack:
        return True
    top = stack[-1]
    if top.space is Space.HTML:
        return True
    if top.space is Space.MATHML:
        if top.html_point:
            return True
        if top.name in _TEXT_POINTS:
            return name not in (b"mglyph", b"malignmark")
        return top.name == b"annotation-xml" and name == b"svg"
    return top.name in _SVG_POINTS


def cdata(stack: Stack) -> bool:
    """True if ``<![CDATA[`` opens a CDATA section here (the adjusted current node is not an
    HTML element), False if it is a bogus comment."""
    return bool(stack) and stack[-1].space is not Space.HTML


def _open_select(stack: Stack) -> int:
    """Where in ``stack`` the HTML ``<select>`` is whose "in select" insertion mode the
    older rules are in (the current node, or an option or optgroup in it); -1 if none."""
    for i in range(len(stack) - 1, -1, -1):
        node = stack[i]
        if not _html(node):
            return -1
        if node.name == b"select":
            return i
        if node.name not in (b"option", b"optgroup"):
            return -1
    return -1


def _close_p(stack: Stack) -> Stack:
    """``stack`` with the ``<p>`` in button scope closed, and all above it, if there is one."""
    for i in range(len(stack) - 1, -1, -1):
        node = stack[i]
        if _html(node) and node.name == b"p":
            return stack[:i]
        if _boundary(node) or (_html(node) and node.name == b"button"):
            break
    return stack


def _closed_by(stack: Stack, name: bytes) -> list[Stack]:
    """The stacks a start tag ``name`` "in body" may leave before it is inserted: the
    elements it closes first (fuzz 3102/19004: a ``<div>`` closes the ``<p>`` in a
    foreignObject, so ``</foreignObject>`` closes that and an SVG ``<script>`` follows).
    One stack where the model knows; both where the document's mode (a ``<table>`` in
    quirks mode closes nothing) or html5lib and Chromium (``dialog``, ``search``) disagree
    (and :func:`start` keeps a ``<form>`` both ways: a second one is ignored)."""
    if name in (b"li", b"dd", b"dt"):
        same = (b"li",) if name == b"li" else (b"dd", b"dt")
        for i in range(len(stack) - 1, -1, -1):
            node = stack[i]
            if _html(node) and node.name in same:
                stack = stack[:i]
                break
            if _special(node) and not (_html(node) and node.name in (b"address", b"div", b"p")):
                break
    elif name == b"button":
        for i in range(len(stack) - 1, -1, -1):
            node = stack[i]
            if _html(node) and node.name == b"button":
                stack = stack[:i]
                break
            if _boundary(node):
                break
    elif name == b"table" or name in _CLOSES_P_NOT_IN_HTML5LIB:
        return list(dict.fromkeys([_close_p(stack), stack]))
    if name in _CLOSES_P:
        closed = _close_p(stack)
        if name in _HEADINGS and closed and _html(closed[-1]) and closed[-1].name in _HEADINGS:
            closed = closed[:-1]
        return [closed]
    return [stack]


def _push(stack: Stack, node: Open) -> Stack:
    return (*stack, node) if len(stack) < DEPTH else stack


def _breakout(stack: Stack) -> Stack:
    """Pop until the current node is an HTML element or an integration point."""
    i = len(stack)
    while i and not (_html(stack[i - 1]) or _point(stack[i - 1])):
        i -= 1
    return stack[:i]


def start(
    stack: Stack, name: bytes, *, self_closing: bool, breaks: bool, html_point: bool
) -> tuple[bool, list[Stack]]:
    """A start tag ``name`` on one candidate stack: whether the HTML rules process it (its
    tokenizer switch applies), and the stacks it may leave.

    ``breaks``: a ``<font>`` with color, face or size (it leaves foreign content);
    ``html_point``: an ``encoding`` of ``text/html`` or ``application/xhtml+xml``."""
    html = html_rules(stack, name)
    if not html and (name in BREAKOUT or breaks):
        stack = _breakout(stack)
        html = True
    if html:
        if name == b"svg" or name == b"math":
            if not self_closing:
                space = Space.SVG if name == b"svg" else Space.MATHML
                stack = _push(stack, Open(space, name))
        elif name in _TABLE_PARTS and stack:
            # Ignored in body; in a table or template mode, the stack is cleared back to a
            # table, table body or row context first (the model's nearest of each, or one
            # around it), never inserted onto another element.
            node = Open(Space.HTML, name)
            found = [stack, ()]
            for contexts in _TABLE_CONTEXTS:
                for i in range(len(stack) - 1, -1, -1):
                    if _html(stack[i]) and stack[i].name in contexts:
                        found.append(_push(stack[: i + 1], node))
                        break
            return True, found
        elif name == b"table" and stack:
            select = _open_select(stack)
            if select == -1:
                return True, list(
                    dict.fromkeys(t for c in _closed_by(stack, name) for t in _table(c))
                )
            # In select: Chromium's relaxed select parser inserts it; the older rules
            # (html5lib) ignore it "in select" (that reading marked, as below), and "in
            # select in table" close the select first and read it again (fuzz 2030/559413:
            # a <select> after it then closes the first select, not one in the table).
            older = Open(Space.HTML, b"select", older_select=True)
            marked = (*stack[:select], older, *stack[select + 1 :])
            again = _table(stack[:select]) if select else [()]
            if stack[select].older_select:
                return True, [stack, *again]
            return True, list(dict.fromkeys([*_table(stack), marked, *again]))
        else:
            closed = False
            if name in _CLOSE_SELECT:  # in select: they close it first (<select> only that)
                for i in range(len(stack) - 1, -1, -1):
                    node = stack[i]
                    if not _html(node) or node.name not in (b"option", b"optgroup"):
                        if _html(node) and node.name == b"select":
                            stack, closed = stack[:i], True
                        break
            opens = stack and name not in _VOID and name not in _IGNORED
            if stack and not closed and _open_select(stack) == -1:
                # "In body": what the tag closes before it is inserted.
                found = _closed_by(stack, name)
                if opens:
                    found = [_push(c, Open(Space.HTML, name)) for c in found]
                if name == b"form":
                    found = list(dict.fromkeys([found[0], stack]))  # (a second one is ignored)
                return True, found
            if opens and not (closed and name == b"select"):
                select = -1 if closed or name in _KEPT_IN_SELECT else _open_select(stack)
                if select == -1:
                    stack = _push(stack, Open(Space.HTML, name))
                elif stack[select].older_select:
                    pass  # the older rules' reading: ignored
                else:
                    # The older "in select" rules (html5lib) ignore it, Chromium's relaxed
                    # select parser inserts it: both readings, the older one marked so that
                    # it ignores the tags after too (fuzz 41001/152).
                    older = Open(Space.HTML, b"select", older_select=True)
                    marked = (*stack[:select], older, *stack[select + 1 :])
                    return True, [_push(stack, Open(Space.HTML, name)), marked]
        return True, [stack]
    if not self_closing:  # foreign content has no void elements, only self-closing tags
        space = stack[-1].space
        point = html_point and space is Space.MATHML and name == b"annotation-xml"
        stack = _push(stack, Open(space, name, point))
    return False, [stack]


def _table(stack: Stack) -> list[Stack]:
    """The stacks a ``<table>`` start tag the HTML rules process may leave on ``stack`` (not
    empty) outside select: in body (a cell, a caption) a table nests; in the table modes
    (which the model cannot tell apart) it closes the open table in table scope first, the
    model's nearest or one around the outermost foreign element, and opens anew."""
    node = Open(Space.HTML, b"table")
    found = [_push(stack, node)]
    for i in range(len(stack) - 1, -1, -1):
        if _html(stack[i]) and stack[i].name in (b"table", b"template", b"html"):
            if stack[i].name == b"table":
                found.append(_push(stack[:i], node))
            break
    else:
        found.append(())
    return found


def end(stack: Stack, name: bytes) -> list[Stack]:
    """An end tag ``name`` on one candidate stack: the stacks it may leave (one, or more
    where the outcome depends on what the model does not know)."""
    if not stack:
        return [stack]
    if _html(stack[-1]):
        return _html_end(stack, name)
    found: list[Stack] = []
    if name == b"br" or name == b"p":
        # The standard (and Chromium) break out of foreign content first; html5lib 1.1
        # handles them as any other end tag (below).
        found += _html_end(_breakout(stack), name)
    i = len(stack) - 1
    while True:  # "any other end tag" in foreign content
        if stack[i].name == name:
            found.append(stack[:i])
            break
        i -= 1
        if i < 0 or _html(stack[i]):
            found += _html_end(stack, name)
            break
    return found


def _html_end(stack: Stack, name: bytes) -> list[Stack]:
    """An end tag handled by the HTML rules ("in body", and the table and select modes for
    their own end tags), looking down ``stack`` from its current node. Reaching past the
    bottom means it may close an HTML element around the outermost foreign one: both the
    stack as it is and the empty one are then candidates."""
    if name in (b"body", b"html", b"br"):
        return [stack]  # never pops ("after body" mode; <br>)
    if name == b"template":
        # html5lib 1.1 knows no template: to it this is any other end tag, which may close
        # an SVG or MathML <template> past an SVG <title> (Chromium ignores it there).
        lenient = _any_other_end(stack, name, lenient=True)
        for i in range(len(stack) - 1, -1, -1):
            if _html(stack[i]) and stack[i].name == name:
                return [stack[:i], *lenient]
        return [stack, (), *lenient]
    if name in _TABLE:
        # In the table and select modes; "in body" (which the model cannot tell apart) they
        # are any other end tag, which html5lib lets close an SVG <td> past an SVG <desc>.
        found = [stack, ()]
        for i in range(len(stack) - 1, -1, -1):
            node = stack[i]
            if _html(node) and node.name == name:
                found = [stack[:i]]
                break
            if _html(node) and node.name in (b"table", b"template", b"html"):
                found = [stack]
                break
        return (
            found
            + _any_other_end(stack, name, lenient=False)
            + _any_other_end(stack, name, lenient=True)
        )
    if name not in _SCOPED and name not in _FORMATTING:
        return _any_other_end(stack, name, lenient=False) + _any_other_end(
            stack, name, lenient=True
        )
    formatting = name in _FORMATTING
    # A formatting end tag with no such element in scope (or none in the list of active
    # formatting elements): the standard ignores it, or it is any other end tag; html5lib
    # 1.1 reads it as any other end tag in both cases, which may close an SVG <font> past
    # an SVG <desc>.
    lenient = _any_other_end(stack, name, lenient=True) if formatting else []
    targets = _HEADINGS if name in _HEADINGS else (name,)
    special_between = False
    for i in range(len(stack) - 1, -1, -1):
        node = stack[i]
        if _html(node) and node.name in targets:
            if formatting and special_between:
                # The adoption agency moves elements around: read it both ways.
                return [stack, stack[:i]]
            return [stack[:i]]
        if _boundary(node):
            return [stack, *lenient]  # not in scope: ignored
        special_between = special_between or _special(node)
        if name == b"p" and _html(node) and node.name == b"button":
            return [stack]  # button scope
        if name == b"li" and _html(node) and node.name in (b"ol", b"ul"):
            return [stack]  # list item scope
    return [stack, (), *lenient]


def _any_other_end(stack: Stack, name: bytes, *, lenient: bool) -> list[Stack]:
    """The "any other end tag" rule of "in body": the nearest open HTML element of that name
    closes, unless a special element comes first. ``lenient``: as html5lib 1.1 reads it (an
    element of that name in any namespace; of the foreign ones only SVG foreignObject is
    special; it predates ``<template>``, an ordinary element to it)."""
    for i in range(len(stack) - 1, -1, -1):
        node = stack[i]
        if node.name == name and (lenient or _html(node)):
            return [stack[:i]]
        if not lenient:
            stop = _special(node)
        elif _html(node):
            stop = _special(node) and node.name != b"template"
        else:  # (a MathML foreignobject is not: fuzz 2030/934805)
            stop = node.space is Space.SVG and node.name == b"foreignobject"
        if stop:
            return [stack]
    return [stack, ()]


def normal(candidates: list[Stack]) -> Candidates:
    """Distinct candidates, in order; at most :data:`READINGS` (the plain HTML reading and
    the deepest others kept)."""
    seen = tuple(dict.fromkeys(candidates))
    if len(seen) > READINGS:
        rest = sorted((s for s in seen if s), key=len, reverse=True)[: READINGS - 1]
        seen = ((), *rest)
    return seen
