"""The gate reads markup as the browser does (issue 19, section 4).

Each case is a page that makes a browser fetch from a catalogued host; the WHATWG tree builder
of the oracle (``fuzz/oracle.py``: html5lib, with scripting on and off, over http and https)
checks that the unedited page does (the case proves something) and that the page the gate
writes for an undecided visitor does not. Pages without a tracker come out byte for byte.
The Chromium side of the same cases is ``tests/browser/test_evasion.py``; the generated
ones are ``fuzz/gate.py`` (a slice runs below).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookieguard.core._consent import UNDECIDED
from cookieguard.core._guard import Decision
from cookieguard.html import _scanner
from cookieguard.html._inject import Injection
from cookieguard.html._scanner import ELEMENT_LIMIT, attributes, attributes_named
from cookieguard.site._site import Site
from fuzz import gate, oracle
from tests.harness import make_policy

PIXEL = "https://www.facebook.com/tr?id=1&amp;ev=PageView"
GA = "https://www.googletagmanager.com/gtag/js?id=G-1"
FBEVENTS = "https://connect.facebook.net/en_US/fbevents.js"


def plan(site: Site, decision: Decision | None = None) -> Injection:
    injection = site.injection(
        decision or Decision(UNDECIDED),
        method="GET",
        status=200,
        content_type="text/html; charset=utf-8",
        content_encoding=None,
        path="/page",
        query="",
        accept_language="en",
    )
    assert injection is not None
    return injection


SITE = Site(make_policy(banner=False, scripts=False), receipts=None)
PLAN = plan(SITE)
assert PLAN.blocker is not None
_CATALOGUE = PLAN.blocker.catalogue
_REFUSED = PLAN.blocker.blocked


def blocked(host: str, path: str) -> bool:
    vendor = _CATALOGUE._lookup(host, path)
    return vendor is not None and vendor.category in _REFUSED


def page(markup: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>t</title></head><body>{markup}</body></html>".encode()
    )


def rewrite(body: bytes, injection: Injection = PLAN) -> bytes:
    return injection.rewriter().feed_last(body)


def streamed(body: bytes, size: int, injection: Injection = PLAN) -> bytes:
    rewriter = injection.rewriter()
    out = [rewriter.feed(body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(out) + rewriter.finish()


#: The issue's cases, and the rest of the standard's ways to fetch. Most leaked through the
#: gate before the scanner read markup as the tokenizer does; the rest pin what the URL
#: parser's fixes (and the old scanner) already held.
CASES = {
    # Tokenizer: an unquoted value holding "=" or a quote opens no quoted value.
    "a value of '=' then a quote": f'<b a=="><img src={PIXEL}>">',
    "an unquoted value holding '=' then a quote": f'<b a=x="><img src={PIXEL}>">',
    "a name starting with '=' and a quote": f'<b ="><img src={PIXEL}>">',
    "a quote after a self-closing slash": f'<b a/="><img src={PIXEL}>">',
    # <noscript> is raw text with JavaScript on, markup with it off: both readings gated.
    "a comment in noscript hides nothing from JS": f"<noscript><!--</noscript><img src={PIXEL}>-->",
    "a quoted value in noscript hides nothing from JS": (
        f'<noscript><a title="</noscript><img src={PIXEL}>"></noscript>'
    ),
    "a pixel in a real noscript (JS off)": f'<noscript><img src="{PIXEL}"></noscript>',
    "a style in noscript hides nothing from JS": (
        f"<noscript><style></noscript><img src={PIXEL}></style>"
    ),
    # Without JavaScript a tag's quoted value runs past "</noscript>" to the next quote: the
    # tag, cut off where the raw text ends, was never judged (fuzz 2030/79530, 349470 and
    # 817861, made smaller: their <b ="> and <b a/="> before it change nothing).
    "fuzz 2030/79530: a source's srcset in a noscript, a value past its end": (
        f'<noscript><source srcset={PIXEL} a="></noscript>">'
    ),
    "fuzz 2030/349470: a script's src in a noscript, a value past its end": (
        f'<noscript><script src={GA} a="></noscript>"></script>'
    ),
    "fuzz 2030/817861: an input's formaction in a noscript, a value past its end": (
        f'<noscript><input formaction={PIXEL} a="></noscript>">'
    ),
    # The same where the foreign-content model reads a <noframes> both as HTML (raw text)
    # and as SVG (markup, where the <div> breaks out): a </b> that may close the HTML
    # around the svg (fuzz 2030/471528, made smaller: its <button></table> changes nothing).
    "fuzz 2030/471528: a div's style after an SVG noframes, a value past its raw text's end": (
        '<svg></b><noframes><div style="background:url(https://bat.bing.com/action/0?ti=1)"'
        ' a="</noframes>">x</div>'
    ),
    # No look-back limits: the scanner reads every tag forwards.
    "an attribute over 4 KB before the URL": f'<img alt="{"x" * 5000}" src="{PIXEL}">',
    "over eight tags in an earlier attribute": f'<img alt="{"<b>" * 12}" src="{PIXEL}">',
    # A long tag is read from near its first quote (_synced): "=" then a tab and a space
    # leave the tokenizer before a value, and that unquoted value runs on to the quote.
    # (Session 4's last mend stripped the regex's "\\t" instead of a tab: the src loaded.)
    "past 256 bytes of attributes, '=', a tab, a value holding a quote": (
        f'<img {"b=1 " * 70}a=\t x="y src={PIXEL}>'
    ),
    "the same with a newline and a form feed": f'<img {"b=1 " * 70}a=\n\x0c x="y src={PIXEL}>',
    "tags in an earlier element's attribute": f'<p title="{"<i>" * 12}">x</p><img src={PIXEL}>',
    # Character references, wherever they decide.
    "a script type with &#x2F;": f'<script type="text&#x2F;javascript" src="{GA}"></script>',
    "a module type with &#101;": f'<script type="modul&#101;" src="{GA}"></script>',
    "a host letter as &#97;": '<img src="https://www.f&#97;cebook.com/tr?id=1">',
    "host dots as &period;": '<img src="https://www&period;facebook&period;com/tr?id=1">',
    "the scheme's colon as &colon;, no slashes": (
        "<link rel=preconnect href='https&colon;connect.facebook.net/en_US/fbevents.js'>"
    ),
    "the slashes as &sol;": "<img src='https:&sol;&sol;px.ads.linkedin.com/collect/?pid=1'>",
    "a srcdoc whose host is encoded twice": (
        '<iframe srcdoc="&lt;img src=&quot;https://www&amp;period;facebook.com/tr&quot;&gt;">'
        "</iframe>"
    ),
    "a host letter as &#97 without ';'": '<img src="https://www.f&#97cebook.com/tr?id=1">',
    # Duplicate attributes: the browser loads the first; none may survive.
    "two tracker srcs": f"<img src={PIXEL} src={PIXEL}>",
    "a first-party src then a tracker src": f"<img src=/a.png src={PIXEL} srcset={PIXEL}>",
    # Document state and the other ways to fetch or navigate.
    "<base href> on a tracker host": (
        '<base href="https://www.googletagmanager.com/gtag/"><script src="js?id=G-1"></script>'
    ),
    "an onerror handler": f"<img src=/missing.png onerror=\"new Image().src='{PIXEL}'\">",
    "an event handler on a div": f"<div onmouseover=\"fetch('{FBEVENTS}')\">x</div>",
    "an import map": (
        f'<script type="importmap">{{"imports": {{"t": "{FBEVENTS}"}}}}</script>'
        '<script type="module">import "t"</script>'
    ),
    "a meta refresh": f'<meta http-equiv="refresh" content="0; url={PIXEL}">',
    "a meta refresh without url=": f"<meta http-equiv=Refresh content='1,{PIXEL}'>",
    # Copies of a renamed attribute: once the first is renamed, the next is the one read
    # (fuzz 7101/3307, made smaller: a refresh's second content).
    "a meta refresh's second content": (
        '<meta http-equiv=refresh content="0;url=https://bat.bing.com/action/0?ti=1"'
        ' content="0;url=https://bat.bing.com/action/0?ti=2">'
    ),
    "a second style naming a tracker": (
        f'<div style="background:url({PIXEL})" style="background:url({PIXEL}&amp;b=2)">x</div>'
    ),
    # Event handlers on the elements with verdicts of their own (fuzz 9712/9361, made
    # smaller): a <style> or <script> fires load like any element.
    "a style's onload": f"<style onload=\"new Image().src='{PIXEL}'\">p{{color:red}}</style>",
    "a script's onload": (
        f'<script src=/a.js onload="new Image().src=\'{PIXEL}\'" onload="x"></script>'
    ),
    "a gated script's onerror": (
        f"<script src={FBEVENTS} onerror=\"new Image().src='{PIXEL}'\"></script>"
    ),
    # A script's URL by namespace (the attribute soup, fuzz 7001/223 and 2163, made
    # smaller): an HTML script's is its src only (an href is nothing: the text runs), an SVG
    # script's its href only (a src is nothing: the href loads, or the text runs).
    "an HTML script's href loads nothing: its text runs": (
        f"<script href=/a.js>new Image().src='{PIXEL}'</script>"
    ),
    "an SVG script's src loads nothing: its href does": (
        f"<svg><script src=/a.js href={FBEVENTS}></script></svg>"
    ),
    "an SVG script's src loads nothing: its text runs": (
        f"<svg><script src=/a.js>new Image().src='{PIXEL}'</script></svg>"
    ),
    "an HTML script's href loads nothing: its speculation rules are read (fuzz 1/3137)": (
        f'<script href=\t dat=a/ type="speculationrules">{{"prefetch": [{{"urls": ["{PIXEL}"]}}]}}'
        "</script>"
    ),
    "background on a table row": f'<table><tr background="{PIXEL}"><td>x</td></tr></table>',
    "background on tbody": f'<table><tbody background="{PIXEL}"><tr><td>x</td></tr></table>',
    "background on a cell": f'<table><tr><td background="{PIXEL}">x</td></tr></table>',
    "img srcset": f'<img srcset="/a.png 1x, {PIXEL} 2x">',
    "video poster": f'<video poster="{PIXEL}"></video>',
    "object data": f'<object data="{PIXEL}" type="image/gif"></object>',
    "embed src": f'<embed src="{PIXEL}">',
    "a ping": f'<a href="/next" ping="{PIXEL}">next</a>',
    "a button formaction": f'<form><button formaction="{PIXEL}">go</button></form>',
    "link rel=preload": f'<link rel=preload as=script href="{GA}">',
    "link rel=dns-prefetch": '<link rel="dns-prefetch" href="//www.googletagmanager.com">',
    "link rel=preconnect": '<link rel="preconnect" href="https://connect.facebook.net">',
    "svg image href": f'<svg><image href="{PIXEL}" width="1" height="1"/></svg>',
    "svg image xlink:href": f'<svg><image xlink:href="{PIXEL}" width="1" height="1"/></svg>',
    "an svg script's inline code": f"<svg><script>fetch('{FBEVENTS}')</script></svg>",
    "an svg script whose href is spelled with a reference": (
        '<svg><script href="https://connect.facebook.net/en_US/fbevent&#115;.js"></script></svg>'
    ),
    "an svg title after a math integration point closed": (
        f"<svg><math><mi><style></style></mi></math><title><img src={PIXEL}></title></svg>"
    ),
    "a template element inside svg": (
        f"<svg><template></template><math><mi></mi></math><title><img src={PIXEL}></title></svg>"
    ),
    # Script data: "<!-->" enters and leaves the escape at once.
    "a script after <!--> in script data": f'<script><!--><script></script><img src="{PIXEL}">',
    # Tree state: raw text inside <select> (ignored there by the older rules).
    "an xmp in a select": f"<select><xmp></select><img src={PIXEL}></xmp>",
    "a style in a select": f'<select><style></select><script src="{GA}"></script></style>',
    "fuzz 302/3171: raw text in a noscript in a select, read as markup": (
        f'<select><noscript><iframe><script src="{GA}"></script></iframe></noscript>'
    ),
    # Foreign content: the HTML element around an <svg> closes it.
    "an svg closed with its select": (
        f"<select><svg></select><textarea><!--</textarea><img src={PIXEL}>-->"
    ),
}


def assert_gated(name: str, body: bytes) -> None:
    """The unedited page fetches a tracker in the oracle's reading; the gate's edit, whole
    and streamed in chunks of 7 bytes, fetches none."""
    assert oracle.leaks(body, blocked), f"{name}: the unedited page fetches no tracker"
    for out in (rewrite(body), streamed(body, 7)):
        assert oracle.leaks(out, blocked) == []


@pytest.mark.parametrize("name", list(CASES))
def test_the_browser_reading_fetches_nothing_from_a_tracker(name: str) -> None:
    assert_gated(name, page(CASES[name]))


#: Markup the standard lets fetch nothing from a tracker, which the oracle once counted (the
#: attribute soup made each of them; a gate that left them alone was reported as leaking).
FETCH_NOTHING = {
    "a srcset's descriptors are no URLs": f'<img srcset="/a.png a/ SRC= {PIXEL}">',
    "an attribute named 'on' is no event handler": f"<p on=\"new Image().src='{PIXEL}'\">x</p>",
    "an HTML script's href": f"<script src=/a.js href={FBEVENTS}></script>",
    "speculation rules under a src": (
        f'<script type=speculationrules src=/r.json>{{"prefetch": [{{"urls": ["{PIXEL}"]}}]}}'
        "</script>"
    ),
    "a style element's background and src (fuzz 9711/10015)": (
        f'<style background="{PIXEL}" src="{PIXEL}">p{{color:red}}</style>'
    ),
    "a style element's srcdoc and href (fuzz 2030/2952)": (
        f'<style srcdoc="&lt;img src=&quot;{PIXEL}&quot;&gt;" href="{FBEVENTS}">p{{}}</style>'
    ),
    "an SVG style's href (fuzz 2030/307771)": (
        f'<svg><style href="{FBEVENTS}" xlink:href="{FBEVENTS}">g{{}}</style></svg>'
    ),
    "a srcdoc on an element that is no iframe": (
        f'<div srcdoc="&lt;img src=&quot;{PIXEL}&quot;&gt;">x</div>'
    ),
    "an SVG script's text under an href (fuzz 2030/47472; Chromium runs the href only)": (
        f"<svg><script href=/a.js>new Image().src='{PIXEL}'</script></svg>"
    ),
    "an import map under a src": (
        f'<script type=importmap src=/m.json>{{"imports": {{"t": "{FBEVENTS}"}}}}</script>'
    ),
}


@pytest.mark.parametrize("name", list(FETCH_NOTHING))
def test_the_oracle_reads_what_fetches_nothing_as_the_standard_does(name: str) -> None:
    assert oracle.leaks(page(FETCH_NOTHING[name]), blocked) == []


@pytest.mark.parametrize(("scheme", "other"), [("http", "https"), ("https", "http")])
def test_one_slash_after_a_scheme_names_a_host_only_after_another_scheme(
    scheme: str, other: str
) -> None:
    """``http:/host`` on an http page is a path on the page's host (a host needs two
    slashes after the base's own scheme); on an https page it is absolute."""
    found = oracle.leaks(page(f"<img src={scheme}:/www.facebook.com/tr>"), blocked)
    assert found
    assert all(f"{other})" in f.where for f in found)


def test_the_issue_cases_are_gated_where_the_browser_reads_them() -> None:
    """The first two cases of the issue, byte for byte: the <img> is markup."""
    out = rewrite(page(f'<b a=="><img src={PIXEL}>">'))
    assert b'<b a=="><img data-cookieguard="marketing" data-cookieguard-src=' in out
    out = rewrite(page(f"<noscript><!--</noscript><img src={PIXEL}>-->"))
    assert b'<img data-cookieguard="marketing" data-cookieguard-src=' in out


def test_a_noscript_read_as_markup_is_closed_where_its_raw_text_ends() -> None:
    """With JS off the quoted value would swallow the end tag and read on: it is closed."""
    out = rewrite(page(f'<noscript><a title="</noscript><p title="><img src={PIXEL}>">'))
    assert b'<noscript><a title=""></noscript>' in out
    assert oracle.leaks(out, blocked) == []


def test_a_tag_in_a_noscript_whose_value_runs_past_its_end_is_judged() -> None:
    """With JS off the ``<img>`` ends after ``</noscript>`` (its last value is quoted across
    it) and loads its srcset (fuzz 2030/79530): the gate closes that value at the
    noscript's end, where the raw text ends, and judges the tag it closed. (A ``<source>``
    there, as the fuzzer wrote it, loads nothing in Chromium outside a ``<picture>``; an
    ``<img>`` does.)"""
    body = page(
        f'<noscript><p><img srcset={PIXEL.replace("&amp;", "&")}\t a/=\r a="></p></noscript> ">'
    )
    assert oracle.leaks(body, blocked)
    for out in (rewrite(body), streamed(body, 7)):
        assert b'<img data-cookieguard="marketing" data-cookieguard-srcset=' in out
        assert b'a="></p>"></noscript> ">' in out
        assert oracle.leaks(out, blocked) == []


#: A ``style`` attribute on an element the UA style sheet hides, which the page's CSS (its own
#: declarations here) makes render: Chromium then fetches its url() (checked in Chromium,
#: session 6; ``all:unset`` or a sheet's ``style{display:block}`` do as well). A
#: ``<plaintext>`` renders without help.
RENDERED_STYLE = {
    "a style shown by its own style": (
        f'<style style="display:block;background:url({PIXEL})">p{{}}</style>'
    ),
    "a script shown by its own style": (
        f'<script style="display:block;background:url({PIXEL})"></script>'
    ),
    "a plaintext's style": f'<plaintext style="background:url({PIXEL})">x',
    "an SVG style's style": f'<svg><style style="display:block;background:url({PIXEL})"></style>',
    "a tracker script's style": (
        f'<script src="{PIXEL}" style="display:block;background:url({PIXEL})"></script>'
    ),
    "a noscript's style's style": (
        f'<noscript><style style="display:block;background:url({PIXEL})"></style></noscript>'
    ),
}


@pytest.mark.parametrize("name", list(RENDERED_STYLE))
def test_the_style_attribute_of_an_element_css_shows_is_gated(name: str) -> None:
    assert_gated(name, page(RENDERED_STYLE[name]))


#: What a start tag closes before it is inserted ("in body"), which the model of the stack
#: in a foreignObject kept open. ``<p>`` and a closer (fuzz 3102/19004): the closer ends the
#: p (a p in button scope), so ``</foreignObject>`` closes the foreignObject and the
#: ``<script>`` is the SVG element, its ``<image>`` markup (Chromium fetches it from the page
#: the gate wrote, checked for the first four); then a list item, a definition, a heading,
#: a button.
IMPLIED_CLOSES = [
    "<p><xmp></xmp>",
    "<p><div></div>",
    "<p><hr>",
    "<p><table></table>",
    "<li><li></li>",
    "<dd><dt></dt>",
    "<h1><h2></h2>",
    "<button><button></button>",
    "<ul><li><li></li></ul>",
    "<p><span><div></div>",
]


@pytest.mark.parametrize("opened", IMPLIED_CLOSES)
def test_a_script_after_a_foreign_object_whose_elements_a_start_tag_closed(opened: str) -> None:
    image = f'<svg width=1 height=1><image href="{PIXEL}" width=1 height=1 /></svg>'
    assert_gated(
        opened, page(f"<svg><foreignObject>{opened}</foreignObject><script>{image}</script>")
    )


def test_a_form_action_is_left_alone() -> None:
    """A form is sent on a click only, like a link; and ``data-cookieguard-action`` is the
    banner's own (banner.js would take the form for one of its buttons)."""
    body = page(f'<form action="{PIXEL}"><button>go</button></form>')
    assert rewrite(body) == body


def test_every_copy_of_a_duplicated_attribute_is_renamed() -> None:
    out = rewrite(page(f"<img src={PIXEL} src={PIXEL}>"))
    assert out.count(b"data-cookieguard-src=") == 2
    assert b" src=" not in out.replace(b"data-cookieguard-src=", b"")


def test_a_base_on_a_tracker_host_does_not_move_the_banner_script() -> None:
    site = Site(make_policy(), receipts=None)
    body = page('<base href="https://www.googletagmanager.com/"><p>x</p>')
    out = rewrite(body, plan(site))
    assert b'<base data-cookieguard="analytics" data-cookieguard-href=' in out
    assert b"/_cookieguard/banner.js" in out
    assert oracle.leaks(out, blocked) == []


@pytest.mark.parametrize(
    "markup",
    [
        '<noscript><!--</noscript><img src="/a.png">-->',
        '<noscript><a title="</noscript><img src=/x>">',
        "<b a==\"><img src='https://www.example.org/x.png'>\">",
        '<script type="text&#x2F;javascript" src="https://cdn.example.org/a.js"></script>',
        '<img src="https://www.ex&#97;mple.org/a.png" src=/b.png onerror="f()">',
        "<select><xmp><!--</xmp><p>x</p>--></select>",
        '<svg><script>var a = "<!--";</script><style><!--</style></svg>',
    ],
)
def test_a_page_without_trackers_is_unchanged(markup: str) -> None:
    body = page(markup)
    assert rewrite(body) == body
    assert streamed(body, 5) == body


def test_a_slice_of_the_gate_fuzzer_finds_nothing() -> None:
    """1,500 generated cases (``make fuzz`` runs a million): no leak under the oracle, no
    tracker-free page changed, streamed edits equal whole ones, no exception."""
    tally, _ = gate.run(cases=1500, seed=1, workers=1)
    assert tally.cases == 1500
    assert tally.problems == 0, "\n".join(tally.samples)
    assert tally.reach * 10 >= tally.sampled * 7  # the generator does reach trackers


def test_a_slice_with_every_tag_read_from_near_its_first_quote_finds_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``fuzz/gate.py --sync-before 3``: nearly every generated tag, not only one of more
    than 256 bytes, is read from near its first quote (``_scanner._synced``), where the
    attribute soup the generator writes tells a misread apart. (A campaign of its own: the
    verdicts another slice remembered would answer for these tags.)"""
    monkeypatch.setattr(gate, "_CAMPAIGN", None)
    kept = _scanner._SYNC_BEFORE
    tally, _ = gate.run(cases=1000, seed=2, workers=1, sync_before=3)
    assert kept == _scanner._SYNC_BEFORE
    assert tally.cases == 1000
    assert tally.problems == 0, "\n".join(tally.samples)


@pytest.mark.parametrize("sync_before", [3, None])
def test_the_slices_find_the_synced_misread_fixed_in_bb76a94(
    monkeypatch: pytest.MonkeyPatch, sync_before: int | None
) -> None:
    """The generator finds what last session's million cases could not: with ``_synced``
    stripping the regex source ``_WS`` again (a backslash and letters, not white space:
    the leak fixed in bb76a94), the slices find leaks (the first at case 48 of seed 1 with
    ``--sync-before 3``, at case 583 without)."""
    monkeypatch.setattr(gate, "_CAMPAIGN", None)  # (its verdicts must not outlive the test)
    monkeypatch.setattr(_scanner, "_WS_BYTES", _scanner._WS)
    tally, _ = gate.run(
        cases=100 if sync_before else 600, seed=1, workers=1, sync_before=sync_before
    )
    assert tally.leaks > 0


#: The pages three replays named in docs/hardening.md wrote before the generator put
#: attribute soup in a third of its cases (``--seed S --replay N`` now writes another page
#: for these three): (tracked page, its tracker-free twin, chunk cuts; None: every byte).
REPLAYED: dict[tuple[int, int], tuple[bytes, bytes, list[int] | None]] = {
    (2027, 575045): (
        (
            b'<!DOCTYPE html><head><meta charset=utf-8></head><annotation-xml encoding="text&#47;'
            b'html"><math><noscript></td><p><xmp><button formaction="https://\tbat.bing.com/actio'
            b"n/0?ti=1\"></button></xmp><ul><annotation-xml encoding='APPLICATION/XHTML+XML'><sv"
            b"g><!-- <script>'<!--<script>'</script><td\nbackground=\"\n https://bat.bing.com/ac"
            b'tion/0?ti=1 \t"> --><title><table><title><!--</title><table background=https://www.'
            b"facebook.com/tr?id=1&ev=PageView></table>--></title></div><![CDATA[ ]]><xmp><svg wi"
            b'dth=1 height=1><image href="https://%77ww.facebook.com/tr?id=1&ev=PageView" width=1'
            b" height=1 /></svg></xmp>"
        ),
        (
            b'<!DOCTYPE html><head><meta charset=utf-8></head><annotation-xml encoding="text&#47;'
            b'html"><math><noscript></td><p><xmp><button formaction="https://\tcdn.site-assets.ex'
            b"ample/action/0?ti=1\"></button></xmp><ul><annotation-xml encoding='APPLICATION/XHTM"
            b"L+XML'><svg><!-- <script>'<!--<script>'</script><td\nbackground=\"\n https://cdn."
            b'site-assets.example/action/0?ti=1 \t"> --><title><table><title><!--</title><table b'
            b"ackground=https://cdn.site-assets.example/tr?id=1&ev=PageView></table>--></title></"
            b'div><![CDATA[ ]]><xmp><svg width=1 height=1><image href="https://%63dn.site-assets.'
            b'example/tr?id=1&ev=PageView" width=1 height=1 /></svg></xmp>'
        ),
        None,
    ),
    (41001, 152): (
        (
            b"<!doctype html><html><head><title>t</title></head><body><math><mtext><select><scrip"
            b"t><iframe SRC=https:\\\\www.google-analytics.com/collect?v=1></iframe></script><scr"
            b"ipt><!--</script><svg><use href='https://bat.bing.com/action/0?ti=1'/></svg><b>b</b"
            b'></span><desc><select><![CDATA[ > <!-- ]]><meta http-equiv="refresh" content=\'0,ht'
            b"tps:&sol;&sol;www.facebook.com/tr?id=1&ev=PageView'>--><tr></br></body><p><noscript"
            b'><!--</noscript><img \x0csrcset="https://www.facebook.com/tr?id=1&amp;ev=PageView">'
            b"--></body></html>"
        ),
        (
            b"<!doctype html><html><head><title>t</title></head><body><math><mtext><select><scrip"
            b"t><iframe SRC=https:\\\\cdn.site-assets.example/collect?v=1></iframe></script><scri"
            b"pt><!--</script><svg><use href='https://cdn.site-assets.example/action/0?ti=1'/></s"
            b'vg><b>b</b></span><desc><select><![CDATA[ > <!-- ]]><meta http-equiv="refresh" cont'
            b"ent='0,https:&sol;&sol;cdn.site-assets.example/tr?id=1&ev=PageView'>--><tr></br></b"
            b'ody><p><noscript><!--</noscript><img \x0csrcset="https://cdn.site-assets.example/tr'
            b'?id=1&amp;ev=PageView">--></body></html>'
        ),
        [35, 48, 214, 223, 410],
    ),
    (2028, 920423): (
        (
            b"<!doctype html><html><head><title>t</title></head><body><svg></div><annotation-xml>"
            b'<noscript><title><xmp><!--</xmp><video  poster="https://user@www.google-analytics.c'
            b'om:443/collect?v=1"></video>--></xmp><br><noscript><style></noscript><button\nforma'
            b"ction='\n https://px.ads.linkedin.com/collect/?pid=1 \t'></button></style></body></"
            b"html>"
        ),
        (
            b"<!doctype html><html><head><title>t</title></head><body><svg></div><annotation-xml>"
            b'<noscript><title><xmp><!--</xmp><video  poster="https://user@cdn.site-assets.exampl'
            b'e:443/collect?v=1"></video>--></xmp><br><noscript><style></noscript><button\nformac'
            b"tion='\n https://cdn.site-assets.example/collect/?pid=1 \t'></button></style></body"
            b"></html>"
        ),
        [42],
    ),
}


@pytest.mark.parametrize("replay", list(REPLAYED), ids=lambda r: f"fuzz {r[0]}/{r[1]}")
def test_a_replayed_fuzz_page_stays_clean(replay: tuple[int, int]) -> None:
    """Every check of the fuzzer (leaks whole and streamed, the editor, the twin) on pages
    that leaked before their fixes."""
    tracked, clean, cuts = REPLAYED[replay]
    case = gate.Case(tracked, clean, cuts=list(range(1, len(tracked))) if cuts is None else cuts)
    tally = gate.Tally()
    gate.Campaign().check(case, tally, *replay)
    assert tally.problems == 0, "\n".join(tally.samples)
    assert oracle.leaks(tracked, blocked)  # (the page does reach a tracker)


_ALPHABET = [b"src", b"SRC", b"srcset", b"x", b"onerror", b"=", b'"', b"'", b" ", b"/", b">"]
_NAMES = frozenset({b"src", b"srcset", b"onerror"})


@given(st.lists(st.sampled_from(_ALPHABET), max_size=16))
def test_every_copy_of_a_name_is_read_when_asked(parts: list[bytes]) -> None:
    """``attributes_named(..., every=True)``: each copy, as ``attributes`` reads them (the
    gate renames every copy of a URL attribute)."""
    tag = b"<img " + b"".join(parts) + b">"
    expected = [attr for attr in attributes(tag, 4) if attr.name in _NAMES]
    assert attributes_named(tag, 4, _NAMES, every=True) == expected


def test_a_tracker_after_a_value_longer_than_the_element_limit_is_gated() -> None:
    """A tag too long to hold whole is read on in place (its quoted value emitted as it
    comes); the rest of it, naming the tracker, is judged as a tag of its own."""
    body = page(f'<img alt="{"x" * (3 * ELEMENT_LIMIT)}" src="{PIXEL}">')
    out = streamed(body, 64 * 1024)
    assert b'" data-cookieguard="marketing" data-cookieguard-src="https://www.facebook' in out
    assert out.replace(b' data-cookieguard="marketing" data-cookieguard-src=', b" src=") == body


def test_a_chunk_cut_inside_a_non_ascii_host_is_gated() -> None:
    """Found by the gate fuzzer (seed 11, case 9654): a percent-escape and an ideographic
    full stop in the host, the body cut inside the full stop's UTF-8 bytes; reading the
    half host raised, and the page went out unedited."""
    body = page('<svg><image href="https://%70x\u3002ads.linkedin.com/collect/?pid=1"/></svg>')
    cut = body.index("\u3002".encode()) + 1
    rewriter = PLAN.rewriter()
    out = rewriter.feed(body[:cut]) + rewriter.feed_last(body[cut:])
    assert out == rewrite(body)
    assert b"data-cookieguard-href=" in out


def test_a_tracker_inside_a_value_longer_than_the_element_limit_fails_closed() -> None:
    """A srcset whose second candidate comes after megabytes cannot be judged whole: the
    rewriter gives up and says so (the site then sends the page under the enforcing CSP)."""
    body = page(f'<img srcset="/a.png?{"x" * (2 * ELEMENT_LIMIT)} 1x, {PIXEL} 2x">')
    rewriter = PLAN.rewriter()
    for i in range(0, len(body), 64 * 1024):
        rewriter.feed(body[i : i + 64 * 1024])
    rewriter.finish()
    assert rewriter.failure == "limit"
