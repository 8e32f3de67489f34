"""The gate reads SVG and MathML as the tree builder does (issue 19, section 4).

Inside ``<svg>`` and ``<math>`` the tokenizer state after a tag depends on the namespace of
every open element ("rules for parsing tokens in foreign content"): a ``<math>`` inside
``<svg>`` is an SVG element, so its ``<annotation-xml>`` and ``<mi>`` are no integration
points; breakout tags go back to HTML; an end tag that reaches past the outermost foreign
element may close the HTML around it, or be ignored. Each case reaches a tracker in the
oracle's WHATWG tree builder (html5lib, scripting on and off) and, unedited, in Chromium
(``tests/browser/test_evasion.py``); the gate's output, whole and streamed, reaches none.
Cases named ``fuzz S/N`` are the minimal pages of ``fuzz/gate.py --seed S --replay N``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cookieguard.html import _foreign
from cookieguard.html._foreign import Open, Space
from cookieguard.html._scanner import _self_closing
from fuzz import oracle
from tests.html_editing.test_gate_markup import (
    FBEVENTS,
    GA,
    PIXEL,
    PLAN,
    blocked,
    page,
    rewrite,
    streamed,
)
from tests.html_editing.test_linear_time import BOUND, SMALL, growth, whole

VIMEO = "https://player.vimeo.com/video/1"

CASES = {
    "fuzz 102/35129: a math in svg is SVG, its annotation-xml no integration point": (
        f'<svg><math><annotation-xml encoding="text/html"><iframe><img src={PIXEL}>'
        "</iframe></annotation-xml></math></svg>"
    ),
    "fuzz 102/45664: a breakout in an SVG annotation-xml goes back to HTML": (
        f'<svg><math><annotation-xml encoding="text/html"><meta></annotation-xml></math>'
        f'<noscript><a title="</noscript><img src={PIXEL}>"></noscript>'
    ),
    "fuzz 102/48711: an mtext in svg is no text integration point": (
        f"<svg><math><mtext><meta></mtext></math><noembed><!--</noembed>"
        f"<style>@import '{FBEVENTS}';</style>-->"
    ),
    "fuzz 103/4161: a style in an SVG mi is markup": (
        "<svg><math><mi><style><!--</mi><script><!--></script>"
        f"<img src={PIXEL}>--></style></mi></math></svg>"
    ),
    "fuzz 104/6759: an end tag no open element has is ignored in svg": (
        f"<svg></select><title><img src={PIXEL}></title></svg>"
    ),
    "fuzz 105/16614: an SVG title inside an SVG annotation-xml is an integration point": (
        f'<svg><math><annotation-xml encoding="text/html"><title><svg>'
        f"<image href={PIXEL} /></svg></title></annotation-xml></math></svg>"
    ),
    "fuzz 105/27410: a script after a breakout is HTML script data": (
        f'<svg><math><annotation-xml encoding="text/html"><img src=/a.png>'
        f"</annotation-xml></math><script><!--</script><iframe src={VIMEO}></iframe>"
    ),
    "</body> does not close an svg": f"<svg></body><iframe><img src={PIXEL}></iframe></svg>",
    "a slash ending an unquoted value is no self-closing flag": (
        f"<svg a=b/><iframe><img src={PIXEL}></iframe></svg>"
    ),
    "a CDATA section in an SVG desc": (
        f"<svg><desc><![CDATA[ <!-- ]]><img src={PIXEL}> --></desc></svg>"
    ),
    "a font whose title names color does not break out": (
        f'<svg><font title=" color"><iframe><img src={PIXEL}></iframe></svg>'
    ),
    "an end tag that may close the HTML around an svg: both readings": (
        f"<div><svg></div><xmp><!--</xmp><img src={PIXEL}>--></xmp>"
    ),
    "</p> in svg (the standard breaks out, html5lib walks)": (
        f"<p><svg><g></p><xmp><!--</xmp><img src={PIXEL}>--></xmp>"
    ),
    "a CDATA section after </body> in svg": (
        f"<svg></body><![CDATA[ > <!-- ]]><img src={PIXEL}> -->"
    ),
    "a CDATA section one reading has and the other not": (
        f"<svg></span><![CDATA[ > <!-- ]]><img src={PIXEL}> -->"
    ),
    "fuzz 301/5768: a <caption> in an integration point is ignored in body": (
        f'<math><annotation-xml encoding="text/html"><caption><![CDATA[ > <!-- ]]>'
        f"<img src={PIXEL}>-->"
    ),
    "a <caption> in an integration point inside a template": (
        f'<template><math><annotation-xml encoding="text/html"><caption><![CDATA[ > <!-- ]]>'
        f"<img src={PIXEL}>--></template>"
    ),
    "fuzz 306/3767: html5lib closes a MathML element by an end tag the standard ignores": (
        "<math><mtext><annotation-xml><svg><annotation-xml></math>"
        f"<noscript><!--</noscript><img src={PIXEL}>-->"
    ),
    "fuzz 307/13868: a style in a math in a select, ignored by the older rules": (
        f"<select><math><style><textarea><!--</textarea><img src={PIXEL}>--></style>"
    ),
    "fuzz 38/9309: a noscript read without scripting is no raw text in either reading": (
        "<math></g><noscript><noscript><!--</noscript><img src=/a.png>--></noscript></noscript>"
        f"<textarea><embed src={PIXEL}></textarea>"
    ),
    "fuzz 1001/5316: <plaintext> in an svg in a select (both ignored by the older rules)": (
        f"<select><svg><plaintext><script><!--</script><script src={GA}></script>"
    ),
    "fuzz 1001/28924: an embed placeholder's end tag closes its iframe in the model": (
        '<svg><foreignObject><iframe src="https://www.youtube.com/embed/abc" width=560>'
        f"</iframe></foreignObject><noembed><img src={PIXEL}></noembed></svg>"
    ),
    "fuzz 1001/93677: a textarea closes a select in an integration point": (
        f"<svg><foreignObject><select><textarea></textarea><![CDATA[ > <!-- ]]><img src={PIXEL}>-->"
    ),
    "fuzz 310/8022: a select the noscript markup reading leaves open": (
        f"<noscript><select></noscript><plaintext><script src={GA}></script>"
    ),
    "fuzz 301/497: <plaintext> in a select (ignored by the older rules)": (
        f"<select><plaintext></select><img src={PIXEL}>"
    ),
    "fuzz 19/1291: html5lib knows no <template>: an end tag closes the svg title past it": (
        "<svg><title><template></title><xmp>"
        "<style>@import url(https://WWW.CLARITY.MS/tag/abc);</style></xmp>"
    ),
    "fuzz 37/4127: in MathML an <a> is no link, its href read as any element's": (
        '<math><noscript><a title="</noscript><link rel="stylesheet" '
        'href=https://www.clar&#X69;ty.ms/tag/abc>"></noscript>'
    ),
    "a MathML <area> is no link either": (
        "<math><mrow><area href=https://www.clarity.ms/tag/abc></mrow></math>"
    ),
    "fuzz 2026/897049: in body </td> is any other end tag: html5lib closes an SVG td": (
        f"<svg><td><desc><b></td><xmp><img src={PIXEL}></xmp>"
    ),
    "fuzz 5003/22703: html5lib reads </template> as any other end tag, closing an SVG one": (
        f"<svg><template><title><b></template><xmp><img src={PIXEL}></xmp>"
    ),
    "fuzz 5003/22703: table parts clear to a table context, or are ignored (no more readings)": (
        # Each pushed onto the current node too, they made more readings than the model
        # keeps, and the cut dropped the one html5lib reads (every table part ignored).
        f"<svg><template><title><caption><tr><td><b></template><xmp><img src={PIXEL}></xmp>"
    ),
    "fuzz 2615/16287: html5lib reads a </font> out of scope as any other end tag": (
        # The standard ignores it (the HTML font is past the SVG desc, out of scope);
        # html5lib closes the SVG font, and the xmp is an SVG element.
        f"<font><svg><font><desc><b></font><xmp><img src={PIXEL}></xmp>"
    ),
    "a </font> with no HTML font open: html5lib closes the SVG one": (
        f"<svg><font><desc><b></font><xmp><img src={PIXEL}></xmp>"
    ),
    "in body </select> is any other end tag: html5lib closes an SVG select": (
        f"<svg><select><desc><b></select><xmp><img src={PIXEL}></xmp>"
    ),
    "fuzz 2027/575045: a <table> in a table closes it: html5lib is back in the SVG title": (
        # In the table modes a <table> closes the open table and opens anew (in body it
        # nests): the </title> then closes the SVG title, and the xmp is an SVG element.
        f"<svg><title><table><table></table></title><xmp><image href={PIXEL} /></xmp>"
    ),
    "a <table> in an SVG title closes the HTML table around the svg (the table modes)": (
        f"<table><svg><title><table></table></title><xmp><!--</xmp><img src={PIXEL}>-->"
    ),
    "fuzz 41001/152: html5lib ignores a tag in a select, whose <select> then closes it": (
        # The older "in select" rules ignore the <desc>; the second <select> closes the
        # first, the MathML mtext is the current node again and <![CDATA[ opens a section
        # (Chromium's relaxed select parser inserts the desc: a bogus comment, then one).
        f"<math><mtext><select><desc><select><![CDATA[ > <!-- ]]><img src={PIXEL}>-->"
    ),
    "html5lib ignores every tag in a select, however many": (
        "<math><mtext><select><b><i><u><s><em><tt><a><p><select>"
        f"<![CDATA[ > <!-- ]]><img src={PIXEL}>-->"
    ),
    "an option in a select, then a tag the older rules ignore": (
        f"<svg><desc><select><option><b><select><![CDATA[ > <!-- ]]><img src={PIXEL}>-->"
    ),
    "fuzz 2030/559413: html5lib ignores a table in a select, whose <select> then closes it": (
        # The older "in select" rules ignore the <table> (the table modes' "in select in
        # table" close the select first): the second <select> closes the first, and the
        # annotation-xml is the current node again, where <![CDATA[ opens a section.
        # (Chromium's relaxed select parser inserts the table and nests the second select:
        # a bogus comment, then a comment; Chromium fetches nothing, checked.)
        '<math><annotation-xml encoding="text/html"><select><table><select>'
        f'<![CDATA[><!--]]><svg><image xlink:href="{PIXEL}" /></svg>'
    ),
    "fuzz 2030/934805: html5lib's </b> closes a b past a MathML foreignobject": (
        # The annotation-xml ends the b's scope, so the adoption agency does not run: as any
        # other end tag html5lib closes the b and all in it (of the foreign elements only an
        # SVG foreignObject is special to it), and <![CDATA[ is a bogus comment. (Chromium
        # ignores the </b> and reads a CDATA section: it fetches nothing, checked.)
        '<b><math><foreignObject><annotation-xml></b><![CDATA[><script type="importmap">'
        f'{{"imports": {{"tracker": "{FBEVENTS}"}}}}</script>]]>'
    ),
    "fuzz 2028/920423: a reading within a reading leaves a style open at its span's end": (
        # </div> may leave the svg open: then the <noscript> is SVG, the <title> an
        # integration point, and with scripting off the second <noscript> holds a <style>
        # whose text runs past </noscript> to </style>. The first <noscript>'s markup
        # reading (with scripting on it is raw text to that </noscript>) is closed there:
        # the style's end must come before the title's.
        "<svg></div><annotation-xml><noscript><title><xmp><!--</xmp>--></xmp><br>"
        "<noscript><style></noscript><button formaction='https://px.ads.linkedin.com/c'>"
        "</button></style>"
    ),
    "fuzz 2026/851102: an SVG style's text runs past a </style> in a comment, CDATA in it": (
        "<svg><style><!--</style>--><![CDATA[ @import url(https://bat%2Ebing.com/a.css); ]]>"
        "</style></svg>"
    ),
    "an SVG style's text runs past a </style> in a comment": (
        "<svg><style><!--</style>-->@import url(https://bat.bing.com/a.css);</style></svg>"
    ),
    "an SVG style's text runs past a </style> in an attribute value": (
        '<svg><style><a title="</style>">x</a>@import url(https://bat.bing.com/a.css);'
        "</style></svg>"
    ),
    "an SVG style's text runs past a nested SVG style": (
        "<svg><style><style></style>@import url(https://bat.bing.com/a.css);</style></svg>"
    ),
    "an SVG script's text runs past a </script> in a comment": (
        f"<svg><script><!--</script>-->new Image().src='{PIXEL}'</script></svg>"
    ),
    "an SVG script's text runs past a </script> in a CDATA section": (
        f"<svg><script><![CDATA[ /*</script>*/ ]]>new Image().src='{PIXEL}'</script></svg>"
    ),
    "a style raw text in one reading, SVG in the other: its text runs past a nested one": (
        "<svg></div><style><style></style>@import url(https://bat.bing.com/a.css);</style></svg>"
    ),
    "a script raw text in one reading, SVG in the other: its text runs past a nested one": (
        f"<svg></div><script><script></script>new Image().src='{PIXEL}'</script></svg>"
    ),
    "an SVG style's end found past a style raw text in one reading, nested in the other": (
        # </br> may break out (the standard) or not (html5lib): the <style/> is HTML raw text
        # or self-closing SVG, and the <style> in that raw text a nested SVG one.
        "<svg><style></br><style/><style></style>@import url(https://bat.bing.com/a.css);"
        "</style></svg>"
    ),
    "fuzz 2026/593451: a MathML script's text runs past a </script> in a comment": (
        # (No browser runs a MathML <script>; html5lib's tree has one and the oracle counts
        # its text: the gate blocks it as it would an SVG one, fail closed.)
        "<button><math><select><script><!--</script>--><math/>"
        "<![CDATA[ <script>s='https:\\/\\/static.hotjar.com\\/c\\/hotjar-1.js'</script> ]]>"
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_foreign_content_is_read_as_the_tree_builder_reads_it(name: str) -> None:
    body = page(CASES[name])
    assert oracle.leaks(body, blocked), f"{name}: the unedited page fetches no tracker"
    whole = rewrite(body)
    assert oracle.leaks(whole, blocked) == []
    for size in (1, 7, 64):
        assert streamed(body, size) == whole


@pytest.mark.parametrize(
    "markup",
    [
        '<svg><math><annotation-xml encoding="text/html"><iframe><img src=/a.png></iframe>',
        "<div><svg></div><xmp><!--</xmp><img src=/a.png>--></xmp>",
        "<div><svg></div><![CDATA[ > <!-- ]]><img src=/a.png> -->",
        '<svg><desc><b></desc><style><!--</style><img src="/a.png">--></style></svg>',
        "<svg></select><title><img src=/a.png></title></svg><p>x</p>",
        "<svg><style><![CDATA[ .a { fill: red } ]]></style><script><!--</script>-->x()</script>",
        '<svg><style><a title="</style>">x</a>@import url(/a.css);</style></svg>',
    ],
)
def test_a_page_without_trackers_is_unchanged(markup: str) -> None:
    body = page(markup)
    assert rewrite(body) == body
    assert streamed(body, 3) == body


SVG = Open(Space.SVG, b"svg")
MATH = Open(Space.MATHML, b"math")


def start(stack: tuple[Open, ...], name: bytes, **flags: bool) -> tuple[bool, tuple[Open, ...]]:
    options = {"self_closing": False, "breaks": False, "html_point": False, **flags}
    html, after = _foreign.start(stack, name, **options)
    assert len(after) == 1
    return html, after[0]


def test_a_start_tag_takes_the_namespace_of_the_current_node() -> None:
    assert start((SVG,), b"math") == (False, (SVG, Open(Space.SVG, b"math")))
    html, stack = start((MATH,), b"annotation-xml", html_point=True)
    assert not html and stack[-1].html_point
    assert _foreign.html_rules(stack, b"iframe")
    html, stack = start((SVG,), b"annotation-xml", html_point=True)
    assert not stack[-1].html_point and not _foreign.html_rules(stack, b"iframe")


def test_integration_points_and_breakouts() -> None:
    mi = (MATH, Open(Space.MATHML, b"mi"))
    assert _foreign.html_rules(mi, b"style") and not _foreign.html_rules(mi, b"mglyph")
    assert _foreign.html_rules((MATH, Open(Space.MATHML, b"annotation-xml")), b"svg")
    assert start((SVG, Open(Space.SVG, b"g")), b"img") == (True, ())
    assert start((SVG,), b"font", breaks=True) == (True, ())
    assert start((SVG,), b"font") == (False, (SVG, Open(Space.SVG, b"font")))
    desc = (SVG, Open(Space.SVG, b"desc"))
    assert start((*desc, Open(Space.SVG, b"g")), b"img") == (True, desc)  # stops at desc
    assert _foreign.cdata(desc) and not _foreign.cdata((*desc, Open(Space.HTML, b"b")))


def test_a_table_in_a_table_nests_or_closes_it() -> None:
    """In body a ``<table>`` nests; in the table modes it closes the open table first (the
    model's, or one around the svg): both readings (fuzz 2027/575045)."""
    flags = {"self_closing": False, "breaks": False, "html_point": False}
    title = (SVG, Open(Space.SVG, b"title"))
    table = Open(Space.HTML, b"table")
    assert _foreign.start((*title, table), b"table", **flags) == (
        True,
        [(*title, table, table), (*title, table)],
    )
    assert _foreign.start(title, b"table", **flags) == (True, [(*title, table), ()])
    template = (*title, Open(Space.HTML, b"template"))  # table scope ends at a template
    assert _foreign.start(template, b"table", **flags) == (True, [(*template, table)])


def test_a_tag_in_a_select_is_inserted_or_ignored() -> None:
    """Chromium's relaxed select parser inserts it, the older "in select" rules (html5lib)
    ignore it and every tag after it: that reading is marked, so it does not split again
    (fuzz 41001/152)."""
    flags = {"self_closing": False, "breaks": False, "html_point": False}
    mtext = (MATH, Open(Space.MATHML, b"mtext"))
    select = (*mtext, Open(Space.HTML, b"select"))
    older = (*mtext, Open(Space.HTML, b"select", older_select=True))
    bold = Open(Space.HTML, b"b")
    assert _foreign.start(select, b"b", **flags) == (True, [(*select, bold), older])
    assert _foreign.start(older, b"b", **flags) == (True, [older])
    assert _foreign.start((*select, bold), b"i", **flags) == (
        True,
        [(*select, bold, Open(Space.HTML, b"i"))],
    )
    option = Open(Space.HTML, b"option")
    assert _foreign.start(older, b"option", **flags) == (True, [(*older, option)])
    assert _foreign.start((*older, option), b"b", **flags) == (True, [(*older, option)])
    assert _foreign.start(older, b"select", **flags) == (True, [mtext])  # it closes it
    # A table: Chromium inserts it; "in select" ignores it, "in select in table" closes the
    # select first (fuzz 2030/559413).
    table = Open(Space.HTML, b"table")
    assert _foreign.start(select, b"table", **flags) == (
        True,
        [(*select, table), (), older, (*mtext, table)],
    )
    assert _foreign.start(older, b"table", **flags) == (True, [older, (*mtext, table), ()])


def test_end_tags() -> None:
    g = Open(Space.SVG, b"g")
    assert _foreign.end((SVG, g), b"svg") == [()]
    assert _foreign.end((SVG, g), b"body") == [(SVG, g)]
    assert _foreign.end((SVG, g), b"div") == [(SVG, g), ()]  # an HTML div around it, or not
    desc = (SVG, Open(Space.SVG, b"desc"))
    bold = (*desc, Open(Space.HTML, b"b"))
    # "any other end tag" stops at desc (html5lib 1.1 takes the SVG desc for one to close)
    assert _foreign.end(bold, b"desc") == [bold, (SVG,)]
    assert _foreign.end(bold, b"b") == [desc]
    assert _foreign.end(desc, b"div") == [desc]  # not in scope: desc is a boundary
    # html5lib 1.1 reads an end tag past an annotation-xml (the end of its scope) as any
    # other end tag: a MathML foreignobject is no special element that stops it, an SVG
    # foreignObject is (fuzz 2030/934805).
    for space, closes in ((Space.MATHML, True), (Space.SVG, False)):
        inner = (Open(space, b"foreignobject"), Open(Space.MATHML, b"annotation-xml"))
        assert (() in _foreign.end((MATH, *inner), b"b")) is closes
    # </p>: the standard breaks out first, html5lib 1.1 walks: both readings.
    assert _foreign.end((*desc, g), b"p") == [desc, (*desc, g)]


def test_the_oracle_counts_only_an_html_object_s_data() -> None:
    """An ``<object>`` in SVG is an SVG element: Chromium fetches nothing for its ``data``
    (fuzz 103/4161 was first reported for one)."""
    assert oracle.leaks(page(f'<object data="{PIXEL}"></object>'), blocked)
    assert oracle.leaks(page(f'<svg><object data="{PIXEL}"></object></svg>'), blocked) == []


def test_readings_nested_too_deep_fail_closed() -> None:
    """Each ``</div>`` may close the HTML around the svg (two readings), each ``<style>``
    is then raw text in one and markup in the other: past a few levels of readings inside
    readings the rewriter gives up (the site then sends the enforcing CSP), never recursing
    without bound."""
    body = page("<svg></div>" + "<style></div>" * 50 + f"<img src={PIXEL}></style>")
    rewriter = PLAN.rewriter()
    rewriter.feed_last(body)
    assert rewriter.failure == "limit"
    shallow = page(f"<svg></div><style></div><style><img src={PIXEL}></style>")
    rewriter = PLAN.rewriter()
    assert oracle.leaks(rewriter.feed_last(shallow), blocked) == []
    assert rewriter.failure is None


def test_svg_scripts_and_styles_read_to_their_end_nested_too_deep_fail_closed() -> None:
    """Each SVG ``<style>`` whose text may run past its first ``</style>`` is read to its end
    by a scan of its own; one nested in another reads the outer one's span again, so past a
    few levels the rewriter gives up (the site then sends the enforcing CSP)."""
    for name in ("style", "script"):
        deep = f"<svg>{f'<{name}><!---->' * 50}@import url({PIXEL});{f'</{name}>' * 50}"
        rewriter = PLAN.rewriter()
        rewriter.feed_last(page(deep))
        assert rewriter.failure == "limit"
        shallow = f"<svg>{f'<{name}><!---->' * 3}new Image().src='{PIXEL}'{f'</{name}>' * 3}"
        rewriter = PLAN.rewriter()
        assert oracle.leaks(page(shallow), blocked)
        assert oracle.leaks(rewriter.feed_last(page(shallow)), blocked) == []
        assert rewriter.failure is None


def test_self_closing_svg_scripts_and_styles_have_no_text() -> None:
    """A self-closing one holds nothing: the markup after it is no text of its, and a page
    of many is no nesting too deep."""
    body = page("<svg>" + "<style/><script/>" * 20 + f"<image href={PIXEL}/></svg>")
    rewriter = PLAN.rewriter()
    out = rewriter.feed_last(body)
    assert rewriter.failure is None
    assert oracle.leaks(body, blocked) and oracle.leaks(out, blocked) == []
    assert out.count(b"data-cookieguard=") == 1  # the image's href, not the styles or scripts


@pytest.mark.parametrize(
    "make",
    [
        # Nested SVG scripts: each searched to its end from its own start (quadratic).
        lambda n: page("<svg>" + "<script>" * (n // 20) + f"x='{FBEVENTS}'"),
        lambda n: page("<svg>" + "<style>" * (n // 20) + f"@import url({PIXEL});"),
        # Sibling SVG styles, each read to its end by a scan of its own.
        lambda n: page("<svg>" + "<style><!--</style>-->a{}</style>" * (n // 40) + PIXEL),
        # SVG styles closed by their parent's end tag: no </style> to search the page for.
        lambda n: page("<svg>" + "<g><style>a</g>" * (n // 15) + f"<img src={PIXEL}>"),
        lambda n: page("<svg>" + "<style/><script/>" * (n // 17) + f"<img src={PIXEL}>"),
    ],
)
def test_svg_scripts_and_styles_cost_linear_time(make: Callable[[int], bytes]) -> None:
    assert growth(whole, make, SMALL) < BOUND


@pytest.mark.parametrize(
    ("tag", "closing"),
    [
        (b"<svg/>", True),
        (b"<svg a/>", True),
        (b'<svg a="x"/>', True),
        (b"<svg a=b />", True),
        (b'<svg a="/"/>', True),
        (b"<svg a=b c/>", True),
        (b"<svg a=b/>", False),  # the "/" goes on the unquoted value
        (b"<svg a=/>", False),
        (b'<svg a=b"/>', False),
        (b"<svg a=b c=d/>", False),
        (b"<svg>", False),
    ],
)
def test_the_self_closing_flag_is_read_as_the_tokenizer_reads_it(tag: bytes, closing: bool) -> None:
    assert _self_closing(tag, 4, len(tag)) is closing
