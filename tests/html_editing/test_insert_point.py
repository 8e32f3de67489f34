"""Where the banner insert lands at the end of a page (issue 19, "read as the browser reads"):
before the last ``</body`` the tokenizer reads as an end tag, else at the end; never inside a
tag that only looks like one. Whole and streamed at every chunk size give the same bytes,
and html5lib (the tests' WHATWG oracle) reads the insert as an element of the body."""

from __future__ import annotations

import html5lib  # type: ignore[import-untyped]
import pytest

from cookieguard.html._inject import Injection
from cookieguard.html._scanner import Rewriter, insert_point
from fuzz import oracle
from fuzz.gate import MARK as GATE_MARK
from fuzz.gate import MARK_ID, Campaign, fed

MARK = b'<div id="cg-insert"></div>'

#: Pages whose last ``</body`` is not an end tag of its own: it is the name or an attribute
#: of a malformed end tag (``</bo<`` reads as a tag name, then ``/``, then ``BODY`` as an
#: attribute name), or sits after a quoted value in one.
MALFORMED = [
    b"<html><body><p>x</p></bo</BODY>",
    b"<html><body><p>x</p></bo</BODY>\n</html>\n",
    b"<body><p>x</b</body>",
    b"<body>x</body</body>",
    b"<body>x</BODY</BODY>",
    b"<body>x</bo\n</BODY>",
    b"<body>x</b </body>",
    b"<body>x</b/</body>",
    b"<body>x</b\t</body>\n</html>",
    b'<body>x</b x=">" </body>',
    b"<body>x</b x='>'</body>",
    b'<body>x<b x=">" </body>',
    b"<body>x<b x='>'</body>",
    b'<body>x<b x="' + b"a" * 5000 + b'"</body>',
    b'<body>x</b x="' + b"a" * 5000 + b'"</body>',
    b"<body>x<b" + b" a" * 3000 + b"</body>",
]
#: Pages whose insert goes before their real closing tag (and must stay there).
WELL_FORMED = [
    b'<body>x</body x="</body>">',
    b'<body>x</p x="</body>"></body>',
    b"<body>x</b></body>",
    b"<body>x<br/></body>",
    b"<body>don't</body>\n</html>",
    b"<body>x<!-- c --></body>",
    b"<body>x<!-- a<b --></body>",
    b"<body>x<!--></body>",
    b"<body>a < b</body>",
    # The last "</body" is inside a quoted value that never closes (the tag is dropped at
    # the end of the page): the first one is the end tag (gate fuzz, seed 2030 cases 3988
    # and 89460, seed 9713 case 2428).
    b'<body>x</body><c\re="<p></body></html>',
    b"<body>x</body><a\na='<r></body>",
    b'<body>x</body><b ;= "<p></body>\n</html>\n',
]
#: Pages whose last ``</body`` is read inside a ``<select>`` that a later tag closes: it closes
#: nothing (the older rules ignore it; Chromium's keep the select open past it), so an insert
#: before it would be the select's; it goes after (gate fuzz, seed 2030 case 111436).
IN_SELECT = [
    b"<select></body><select>",
    b"<body><select><option>x</body></select></html>",
    b"<body><select></body><input></html>",
    b"<body><select></body><textarea></textarea>",
    # (After a raw-text element the older rules ignore there: gate fuzz, seed 4102 case 10356.)
    b"<select></body><xmp><select>",
    b"<body><select><option>x</body><title><select>",
]


def whole(page: bytes) -> bytes:
    return Rewriter(MARK).feed_last(page)


def streamed(page: bytes, size: int) -> bytes:
    rewriter = Rewriter(MARK)
    out = [rewriter.feed(page[at : at + size]) for at in range(0, len(page), size)]
    return b"".join([*out, rewriter.finish()])


def inserted(out: bytes) -> bool:
    """The insert is an element of the body in html5lib's tree."""
    tree = html5lib.parse(out, namespaceHTMLElements=False)
    body = tree.find("body")
    return body is not None and any(e.get("id") == "cg-insert" for e in body.iter("div"))


def sizes(page: bytes) -> list[int]:
    if len(page) < 200:
        return list(range(1, len(page) + 1))
    return [1, 2, 3, 7, 64, 1000, 4095, 4096, 4097, len(page) - 1, len(page)]


@pytest.mark.parametrize("page", MALFORMED + WELL_FORMED + IN_SELECT, ids=lambda p: repr(p[-40:]))
def test_the_insert_is_an_element_whole_and_streamed_alike(page: bytes) -> None:
    out = whole(page)
    assert inserted(out), out[-80:]
    for size in sizes(page):
        assert streamed(page, size) == out, size


@pytest.mark.parametrize("page", MALFORMED, ids=lambda p: repr(p[-40:]))
def test_a_body_end_inside_a_malformed_tag_places_the_insert_at_the_end(page: bytes) -> None:
    assert insert_point(page) == -1  # only the scan can tell
    assert whole(page) == page + MARK


@pytest.mark.parametrize("page", IN_SELECT, ids=lambda p: repr(p[-40:]))
def test_a_body_end_inside_a_select_closed_later_places_the_insert_at_the_end(page: bytes) -> None:
    assert whole(page) == page + MARK


@pytest.mark.parametrize("page", MALFORMED + WELL_FORMED + IN_SELECT, ids=lambda p: repr(p[-40:]))
def test_the_editor_agrees_with_the_rewriter(page: bytes) -> None:
    """The adapters' editor (its plain fast path reads the end of the page alone)."""
    pad = b" " * 1100  # past the first KB the editor holds to read the charset
    assert Injection(MARK).injector().feed_last(pad + page) == pad + whole(page)


def holds(out: bytes, *, scripting: bool) -> bool:
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    root = parser.parse(out.decode(), scripting=scripting)
    return any(e.get("id") == "cg-insert" for e in root.iter("div"))


#: Pages that end inside raw text in one reading and not in another: an unterminated
#: ``<noscript>`` (raw text with JavaScript, markup without), a raw-text name in MathML that
#: one candidate reading of the scanner takes for HTML, and raw text every reading shares.
#: Where an element at the very end would be read, so must the insert (gate fuzz, seed 1
#: case 1345; seed 7002 cases 57, 849, 2769, 3129, 3845).
READINGS = [
    b"<body><noscript><p>x</p><b/'</body>",
    b"<body><noscript><p>x</p></body></html><![CDATA[</body>",
    b"<body><noscript><!-- x --><p>x</p></body></html>a--></<?</body>\n</html>\n",
    b'<body><math><annotation-xml encoding=" text/html"><title>x<b/\'</body>\n</html>\n',
    b"<body><textarea>x</b</body>",
    b"<body><textarea>x</body>",
    b"<body><!-- x </body>",
    b"<body><title>" + b"x" * 300 + b"<b/'</body>",
    b"<body><title>x<b/" + b" " * 40 + b"'</body>",  # (the "<" in an earlier chunk)
    b"<body><noscript></body></noscript><p>x</p>",  # (gate fuzz, seed 7004 case 19137)
    b"<body><noscript><p></body></p></noscript><p>x</p>",
    b"<body><title><b " + b"x" * 300 + b"'</body>",
    # A value that never closes after a "</body" that is no end tag (in a comment), or
    # none (gate fuzz, seed 4102 case 15468).
    b"<html><!-- </body> --><a g='<p></body></html>",
    b"<!--><a\ng='<p></body>",
    # A CDATA section that never closes (gate fuzz, seed 2030 case 215452).
    b"<svg><![CDATA[<B></body></html>",
    b"<body><svg><![CDATA[<b></body>\n</html>\n",
]


@pytest.mark.parametrize("page", READINGS, ids=lambda p: repr(p[-40:]))
def test_where_the_end_of_the_page_is_read_as_markup_so_is_the_insert(page: bytes) -> None:
    out = whole(page)
    for scripting in (True, False):
        if holds(page + MARK, scripting=scripting):
            assert holds(out, scripting=scripting), (scripting, out[-80:])
    for size in sizes(page):
        assert streamed(page, size) == out, size


#: Pages whose raw text (a <style> the foreign-content model cannot tell HTML from SVG;
#: a <noscript>) a markup reading leaves inside a comment at its end tag, over a later
#: "</body>": the insert goes where both readings read the end of the page as markup, as
#: they do with a gate (which follows the markup reading; gate fuzz, seed 2030 case 214100).
LEFT_OPEN = [
    b"<body><svg></d><style><!--</style></body>-->",
    b"<body><svg></d><style><!--<y></body -->",
    b"<body><noscript><!--</noscript></body>x-->",
    b"<body><noscript><p title='</noscript></body>'>x</p>",
]


@pytest.fixture(scope="module")
def gated() -> Injection:
    return Campaign().marking  # (the fuzz's insert plan: an undecided visitor's gate)


@pytest.mark.parametrize("page", LEFT_OPEN, ids=lambda p: repr(p[-40:]))
def test_where_a_reading_left_open_reads_the_end_as_markup_so_is_the_insert(
    page: bytes, gated: Injection
) -> None:
    out = fed(gated.rewriter(), page)
    for scripting in (True, False):
        if oracle.holds(page + GATE_MARK, MARK_ID, scripting=scripting):
            assert oracle.holds(out, MARK_ID, scripting=scripting), (scripting, out[-80:])
    for size in sizes(page):
        assert fed(gated.rewriter(), page, list(range(size, len(page), size))) == out, size


#: Open (the session-6 million-case run, `fuzz/gate.py --seed 2034 --replay N`, reduced):
#: inserts html5lib does not read as an element with scripting on, where an element added at
#: the end of the page would be one. Banner placement only (neither page leaks).
MISPLACED_OPEN = [
    # 514164: a "</body" in a <select>, an <xmp> the older select rules ignore, then its end.
    b"<select></body><xmp></select></xmp>",
    # 836028: a <style> in a <select> (ignored there by the older rules) holding a tag whose
    # quotes run past "</style>", then a comment closer and a quote before "</body>".
    b"<select><style><input a x\ntype=image/src=https://cdn.site-assets.example/action/0?ti=1"
    b" a&quot;= x&#34;y/a&quot;= \"a='b\" / srcset></style></html>-->'</body>",
]


@pytest.mark.xfail(strict=True, reason="open: fuzz 2034/514164 and 836028 (see MISPLACED_OPEN)")
@pytest.mark.parametrize("page", MISPLACED_OPEN, ids=lambda p: repr(p[-40:]))
def test_an_insert_after_a_select_reading_is_an_element(page: bytes, gated: Injection) -> None:
    whole = fed(gated.rewriter(), page)
    plain = whole.replace(GATE_MARK, b"", 1)
    assert GATE_MARK in whole
    if oracle.holds(plain + GATE_MARK, MARK_ID, scripting=True):
        assert oracle.holds(whole, MARK_ID, scripting=True), whole[-80:]
