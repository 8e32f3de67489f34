"""Hostile HTML bodies (issue 19 part 3): shapes a visitor or a tracker can make a page take.

Every pass over a body must be linear in its size, whatever the body holds: these are the
shapes that made one pass or another backtrack or rescan (a comment box that takes a URL
regex into quadratic time is a way to take a site down). Each shape makes a page of about
``size`` bytes; :data:`NORMAL` makes the ordinary page they are compared with.

Used by ``tests/html_editing/test_linear_time.py`` (growth ratios: 4x the input must not
cost much more than 4x the time) and by ``benchmarks/run.py`` (the adversarial table: the
worst µs/KB over these shapes next to the normal page's, at 8 KB, 64 KB and 1 MB).
No imports from the other benchmark scripts: tests import this module too.
"""

from __future__ import annotations

from collections.abc import Callable

#: A catalogued tracker (Meta Pixel), blocked for an undecided visitor by the default policy.
PIXEL = b"https://www.facebook.com/tr?id=1&ev=PageView"
HEAD = b"<!doctype html><html><head><title>Comments</title></head><body><main>"
TAIL = b"</main></body></html>"


def _filled(prefix: bytes, unit: bytes, size: int, suffix: bytes = b"") -> bytes:
    """``prefix``, then ``unit`` as often as fits in ``size`` bytes, then ``suffix``."""
    room = max(size - len(prefix) - len(suffix), len(unit))
    return prefix + unit * (room // len(unit)) + suffix


def _page(middle: bytes, unit: bytes, size: int, after: bytes = b"", *, tail: bool = True) -> bytes:
    """A page whose body holds ``middle``, then ``unit`` repeated, then ``after``."""
    end = after + (TAIL if tail else b"")
    return _filled(HEAD + middle, unit, size, end)


def _distinct(unit: Callable[[int], bytes], size: int, after: bytes = b"") -> bytes:
    """A page whose body holds ``unit(0)``, ``unit(1)``... (each unit different, as an
    attacker's are: a memo keyed by a unit's bytes never answers), then ``after``."""
    parts = [HEAD]
    room = size - len(HEAD) - len(after) - len(TAIL)
    i = 0
    while room > 0 or i == 0:
        parts.append(unit(i))
        room -= len(parts[-1])
        i += 1
    return b"".join((*parts, after, TAIL))


#: name -> (how it is made, what it is). The names are the rows of the adversarial table.
def _then_pixel(unit: bytes, before: bytes = b"") -> Callable[[int], bytes]:
    """A page of ``unit`` over and over (after ``before``), then one tracker pixel: what
    the scanner must read up to the hit."""
    return lambda n: _page(before, unit, n, b'<img src="' + PIXEL + b'">')


SHAPES: dict[str, tuple[Callable[[int], bytes], str]] = {
    "comment_newlines": (
        lambda n: _page(b"<!-- see /", b"\n", n, b"-->"),
        "a comment holding `see /` and a run of LF (the URL regex backtracked: 32 KB took 20 s)",
    ),
    "comment_crlf": (
        lambda n: _page(b"<!-- see /", b"\r\n", n, b"-->"),
        "the same with CRLF",
    ),
    "comment_tabs": (
        lambda n: _page(b"<!-- see /", b"\t", n, b"-->"),
        "the same with tabs",
    ),
    "text_slash_newlines": (
        lambda n: _page(b"<p>see //", b"\n", n, b"</p>"),
        "text `see //` then LF, no host after",
    ),
    "slash_newline_pairs": (
        lambda n: _page(b"<p>", b"/\n", n, b"</p>"),
        "`/` and LF alternating",
    ),
    "whitespace": (
        lambda n: _page(b"<p>", b" \t\n", n, b"</p>"),
        "a run of white space in text",
    ),
    "whitespace_in_tag": (
        lambda n: _page(b"<img", b" ", n, b'src="' + PIXEL + b'">'),
        "a run of white space inside a tracker tag",
    ),
    "slashes": (
        lambda n: _page(b"<p>", b"/", n, b"</p>"),
        "a run of `/`",
    ),
    "backslashes": (
        lambda n: _page(b"<p>", b"\\", n, b"</p>"),
        "a run of `\\`",
    ),
    "scheme_colons": (
        lambda n: _page(b"<p>", b"https:", n, b"</p>"),
        "`https:` repeated (the no-slash URL form)",
    ),
    "scheme_colon_slashes": (
        lambda n: _page(b"<p>", b"https:/", n, b"</p>"),
        "`https:/` repeated (the one-slash URL form)",
    ),
    "host_without_dot": (
        lambda n: _page(b"<p>//", b"a", n, b"</p>"),
        "`//` then a host that never has a dot",
    ),
    "host_gaps": (
        lambda n: _page(b"<p>//a", b"\n\t", n, b"</p>"),
        "`//a` then tab and LF (host characters to the URL parser)",
    ),
    "entity_slashes": (
        lambda n: _page(b"<p>", b"&#x2F;", n, b"</p>"),
        "`&#x2F;` repeated (URLs written with character references)",
    ),
    "lt_runs": (
        lambda n: _page(b"<p>", b"<", n, b"</p>"),
        "a run of `<`",
    ),
    "open_tags": (
        lambda n: _page(b"", b"<a ", n, tail=False),
        "`<a ` repeated, no `>` anywhere",
    ),
    "unterminated_attribute": (
        lambda n: _page(b'<img alt="', b"x ", n, tail=False),
        "an attribute value that never ends",
    ),
    "unterminated_comment": (
        lambda n: _page(b"<!--", b"x <img> ", n, tail=False),
        "a comment that never ends",
    ),
    "trackers_without_tag_end": (
        lambda n: _page(b"", b"<img src=" + PIXEL + b" ", n, tail=False),
        "tracker tags with no `>` after them (60 KB took 5 s)",
    ),
    "trackers_before_late_tag_end": (
        lambda n: _page(b"", b"<img src=" + PIXEL + b" ", n),
        "tracker tags whose only `>` is the page's last",
    ),
    "tracker_links_without_tag_end": (
        lambda n: _page(b"", b'<a href="' + PIXEL + b'" ', n),
        "links to a tracker, no `>` until the end",
    ),
    "tracker_urls_after_lt": (
        lambda n: _page(b"", b"<" + PIXEL + b" ", n),
        "`<` then a tracker URL, repeated",
    ),
    "tracker_urls_in_attribute": (
        lambda n: _page(b"<div data-x='", b"[" + PIXEL + b"]", n, b"'></div>"),
        "tracker URLs inside one long attribute value",
    ),
    "huge_attribute": (
        lambda n: _page(b'<img alt="', b"x", n, b'" src="' + PIXEL + b'">'),
        "a huge attribute before a tracker URL",
    ),
    "many_attributes": (
        lambda n: _page(b"<img ", b"a=1 ", n, b'src="' + PIXEL + b'">'),
        "thousands of attributes before a tracker URL",
    ),
    "many_distinct_attributes": (
        lambda n: _distinct(
            lambda i: (b"<img " if i == 0 else b"") + b"a%d=%d " % (i, i),
            n,
            b'src="' + PIXEL + b'">',
        ),
        "thousands of attributes, each its own, before a tracker URL",
    ),
    "script_attributes": (
        lambda n: _page(b"<script ", b"a=1 ", n, b'src="' + PIXEL + b'"></script>'),
        "thousands of attributes in a script tag",
    ),
    "quotes_in_tag": (
        lambda n: _page(b"<img ", b"a=\"'b='\" ", n, b'src="' + PIXEL + b'">'),
        "quotes of both kinds inside one tag",
    ),
    "deep_nesting": (
        lambda n: _page(b"", b"<div>", n),
        "`<div>` nested without end",
    ),
    "deep_noscript": (
        lambda n: _page(b"", b"<noscript><svg>", n),
        "`<noscript>` and `<svg>` nested without end",
    ),
    "script_escapes": (
        lambda n: _page(b"<script>", b"<!--<script>", n, b"</script>"),
        "script data escapes (`<!--<script>`) repeated",
    ),
    "script_hosts_without_slashes": (
        lambda n: _page(b"<script>", b"a='x.quantserve.com';", n, b"</script>"),
        "a script naming a tracker's host, without `//`, over and over",
    ),
    "script_host_paths": (
        lambda n: _page(b"<script>", b"x.quantserve.com/q/", n, b"</script>"),
        "a tracker's host without `//`, each the path of the one before",
    ),
    "script_dots": (
        lambda n: _page(b"<script>", b"a.co", n, b"</script>"),
        "`a.co` repeated in a script (a suffix at every dot, never a host)",
    ),
    "svg_script_folded_hosts": (
        lambda n: _page(b"<svg><script>", b"'x.quantserv&eopf;.com';", n, b"</script></svg>"),
        "an SVG script naming a host spelled with a folding reference (`&eopf;` is an e to the "
        "URL parser), over and over",
    ),
    "tracker_pixels": (
        lambda n: _page(b"", b'<img src="' + PIXEL + b'">', n),
        "well-formed tracker pixels, one after another",
    ),
    # Its near variants: each pixel different, as a real attacker's (or a real page's) are.
    "tracker_pixels_distinct_ids": (
        lambda n: _distinct(
            lambda i: b'<img src="' + PIXEL.replace(b"id=1", b"id=%d" % i) + b'">', n
        ),
        "tracker pixels, each with its own id (a memo of tags or URLs never answers)",
    ),
    "tracker_pixels_distinct_paths": (
        lambda n: _distinct(lambda i: b'<img src="https://www.facebook.com/tr/%d">' % i, n),
        "tracker pixels, each with its own path",
    ),
    "empty_comments_no_body_end": (
        lambda n: _page(b"", b"<!---->", n, tail=False),
        "empty comments, no `</body>` (the end of the page was searched for after each one)",
    ),
    "comments_before_tracker": (
        _then_pixel(b"<!-- c -->"),
        "comments, then a tracker pixel (every token read by the scanner)",
    ),
    # Small elements that change the tokenizer's state, each read by the scanner (a tracker
    # after them keeps the page from passing whole): a dozen Python calls per element.
    "empty_scripts": (
        _then_pixel(b"<script></script>"),
        "empty inline scripts, then a tracker pixel",
    ),
    "empty_svgs": (
        _then_pixel(b"<svg></svg>"),
        "empty `<svg>` elements, then a tracker pixel",
    ),
    "empty_noscripts": (
        _then_pixel(b"<noscript></noscript>"),
        "empty `<noscript>` elements (two readings each), then a tracker pixel",
    ),
    "empty_titles": (
        _then_pixel(b"<title></title>"),
        "empty `<title>` elements (RCDATA), then a tracker pixel",
    ),
    # Their near variants: what the data state's skip takes whole (children, attributes,
    # text, nesting) and what it leaves to the scanner's states (each changes the model).
    "svgs_with_children": (
        _then_pixel(b"<svg><g/></svg>"),
        "`<svg><g/></svg>` (a self-closing child), then a tracker pixel",
    ),
    "svgs_with_attributes": (
        _then_pixel(b"<svg class=a></svg>"),
        "`<svg class=a></svg>`, then a tracker pixel",
    ),
    "nested_svgs": (
        _then_pixel(b"<svg><svg></svg></svg>"),
        "`<svg><svg></svg></svg>`, then a tracker pixel",
    ),
    "svg_icons": (
        _then_pixel(
            b'<a href="/x"><svg viewBox="0 0 24 24"><g><path d="M0 0h24v24H0z"></path></g>'
            b"</svg></a>"
        ),
        "links holding an SVG icon (nested elements), then a tracker pixel",
    ),
    "empty_maths": (
        _then_pixel(b"<math><mrow></mrow></math>"),
        "`<math><mrow></mrow></math>`, then a tracker pixel",
    ),
    "svgs_closing_children": (
        _then_pixel(b"<svg><g></svg>"),
        "`<svg><g></svg>` (the end tag closes the child too), then a tracker pixel",
    ),
    "svgs_with_desc": (
        _then_pixel(b"<svg><desc></desc></svg>"),
        "`<svg><desc></desc></svg>` (an HTML integration point), then a tracker pixel",
    ),
    "svgs_broken_out": (
        _then_pixel(b"<svg><b></b></svg>"),
        "`<svg><b></b></svg>` (a tag that leaves foreign content), then a tracker pixel",
    ),
    # Their near variants in turn (so a gain is not for the exact unit alone): children left
    # open at more than one level, MathML, a break-out from inside an open child.
    "svgs_closing_nested": (
        _then_pixel(b'<svg><g><path d="M0 0h24"></svg>'),
        "`<svg><g><path d=...></svg>` (two levels left open), then a tracker pixel",
    ),
    "maths_closing_children": (
        _then_pixel(b"<math><mrow><mn>1</mn></math>"),
        "`<math><mrow><mn>1</mn></math>` (a text integration point inside), then a tracker pixel",
    ),
    "svgs_broken_out_nested": (
        _then_pixel(b"<svg><g><i>x</i></svg>"),
        "`<svg><g><i>x</i></svg>` (a break-out from inside an open child), then a tracker pixel",
    ),
    "svgs_after_a_nested_one": (
        _then_pixel(b"<svg><b></b></svg>", b"<svg><g></g></svg>"),
        "one nested `<svg>`, then `<svg><b></b></svg>` (read by the usual skip again after it)",
    ),
    "text_titles": (
        _then_pixel(b"<title>x</title>"),
        "`<title>x</title>`, then a tracker pixel",
    ),
    "empty_textareas": (
        _then_pixel(b"<textarea></textarea>"),
        "empty `<textarea>` elements (RCDATA), then a tracker pixel",
    ),
    "text_noscripts": (
        _then_pixel(b"<noscript>x</noscript>"),
        "`<noscript>x</noscript>`, then a tracker pixel",
    ),
    "noscripts_with_tags": (
        _then_pixel(b'<noscript><a href="/x">x</a></noscript>'),
        "`<noscript>` holding a link, then a tracker pixel",
    ),
    "noscripts_with_comments": (
        _then_pixel(b"<noscript><!----></noscript>"),
        "`<noscript>` holding a comment (its two readings may differ), then a tracker pixel",
    ),
    "noscripts_with_open_pixels": (
        lambda n: _page(b"", b'<noscript><img src="' + PIXEL + b'" a="></noscript>">', n),
        "`<noscript>` holding a tracker pixel whose last value runs past `</noscript>` "
        "(each read without JavaScript, closed and judged: fuzz 2030/79530)",
    ),
}


def normal(size: int) -> bytes:
    """An ordinary shop page of about ``size`` bytes with a few vendors' snippets."""
    head = (
        b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title>"
        b'<link rel="stylesheet" href="/static/site.css">'
        b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'
        b"<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push("
        b"arguments)}gtag('js',new Date());gtag('config','G-1');</script></head><body>"
        b'<nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>'
    )
    item = (
        b'<article class="product"><h2>Product</h2><img src="/img/p.jpg" alt="product">'
        b"<p>A fine thing, well made, cheap. See https://example.com/about for more.</p>"
        b'<a href="/p/1">details</a></article>\n'
    )
    tail = (
        b'<noscript><img height="1" width="1" src="' + PIXEL + b'"></noscript>'
        b'<iframe width="560" height="315" src="https://www.youtube.com/embed/x"></iframe>'
        b'<script src="/static/app.js"></script></body></html>'
    )
    return _filled(head, item, size, tail)
