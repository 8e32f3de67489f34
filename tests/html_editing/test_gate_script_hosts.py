"""Inline scripts that name a tracker's host without ``//`` are gated (issue 19).

Published snippets assemble their loader's URL at run time (``'https://secure' +
'.quantserve.com/quant.js'``, a config field ``beacon: 'bam.nr-data.net'``, the host as the
path of another): the gate finds the host in the script's text wherever it is written
(``Catalogue.mentions``), through the prefilter (``Blocker.positions``) and the script's
verdict. First-party scripts, hosts that only look like a tracker's, and text that is not a
script come out byte for byte; whole and streamed bodies are edited alike.
"""

from __future__ import annotations

import html5lib  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookieguard.core._consent import Consent
from cookieguard.core._guard import Decision
from cookieguard.html._inject import Injection
from fuzz import oracle
from tests.html_editing.test_gate_markup import PLAN, SITE, page, plan, rewrite, streamed
from tests.slices import examples

GATED = {
    "a scheme chosen at run time": (
        "<script>var s=document.createElement('script');s.src='http'+"
        "('https:'==location.protocol?'s://s':'://')+'cdn.cxense.com/cx.js';</script>",
        "marketing",
    ),
    "a host split by concatenation": (
        "<script>var u=(ssl?'https://secure':'http://edge')+'.quantserve.com/quant.js';</script>",
        "marketing",
    ),
    "a host in a config field": (
        '<script>window.NREUM={info:{beacon:"bam.nr-data.net",licenseKey:"x"}};</script>',
        "analytics",
    ),
    "a host as another's path": (
        "<script>s.src='https://storage.googleapis.com/code.snapengage.com/js/x.js';</script>",
        "preferences",
    ),
    "a fragment of a host with a path": (
        "<script>j.src='https://www'+'.googletagmanager.com/gtm.js?id='+i;</script>",
        "analytics",
    ),
    "a fragment of a host under a parent not catalogued": (
        "<script>t.src='https://connect'+'.facebook.net/en_US/fbevents.js';</script>",
        "marketing",
    ),
    "upper case and JSON's escaped slashes": (
        '<script>load({"src":"STATIC.HOTJAR.COM\\/c\\/hotjar-1.js"})</script>',
        "analytics",
    ),
    "a module script": (
        "<script type=module>import('https://'+'edge.fullstory.com/s/fs.js')</script>",
        "analytics",
    ),
    "after a comment holding an unclosed script tag": (
        "<!-- old: <script> --><p>x</p><script>a='static.olark.com/jsclient/loader.js'</script>",
        "preferences",
    ),
    "in double-escaped script data": (
        "<script><!--<script></script> a='ads.adthrive.com' --></script>",
        "marketing",
    ),
    "in an SVG script": (
        "<svg><script>s.src='https://pi'+'.pardot.com/pd.js'</script></svg>",
        "marketing",
    ),
    # An SVG script's text has its character references decoded, and the URL parser maps
    # what they write as it maps a host (UTS 46): Chromium reaches cdn.cxense.com from each
    # (tests/browser/test_host_spellings.py).
    "in an SVG script, a letter as a named reference the URL parser folds": (
        "<svg><script>var h='cdn.cx&eopf;nse.com';s.src='https://'+h+'/cx.js'</script></svg>",
        "marketing",
    ),
    "in an SVG script, a letter as a numeric reference the URL parser folds": (
        "<svg><script>s.src='https://'+'cdn.cx&#x1D556;nse.com/cx.js'</script></svg>",
        "marketing",
    ),
    "in an SVG script, a soft hyphen reference (ignored by the URL parser)": (
        "<svg><script>s.src='https://'+'cdn.cx&shy;ense.com/cx.js'</script></svg>",
        "marketing",
    ),
    "in an SVG script, a legacy reference without its semicolon": (
        "<svg><script>s.src='https://'+'cdn.cx&shyense.com/cx.js'</script></svg>",
        "marketing",
    ),
    "in an SVG script, a Fraktur capital and a full-width dot": (
        "<svg><script>s.src='https://'+'cdn.cx&Efr;nse&#xFF0E;com/cx.js'</script></svg>",
        "marketing",
    ),
}


@pytest.mark.parametrize("name", sorted(GATED))
def test_a_script_naming_a_tracker_host_without_slashes_is_gated(name: str) -> None:
    markup, category = GATED[name]
    out = rewrite(page(markup))
    assert f'<script type="text/plain" data-cookieguard="{category}"'.encode() in out, out
    for size in (1, 7, 64):
        assert streamed(page(markup), size) == out


UNCHANGED = {
    "a first-party script": "<script>fetch('/api/items').then(r=>r.json())</script>",
    "an e-mail domain that is no catalogued host": (
        "<script>if(email.endsWith('@yahoo.com'))warn()</script>"
    ),
    "a domain test without a path": (
        "<script>if(document.referrer.indexOf('.google.com')>0)x()</script>"
    ),
    "a fragment of a shared host with a path no vendor claims": (
        "<script>location='https://www'+'.google.com/search?q='+q</script>"
    ),
    "a path no vendor claims on a shared host": (
        "<script>load('www.google.com/recaptcha/api.js')</script>"
    ),
    "lookalike hosts": (
        "<script>var a='evilhotjar.com',b='static.hotjar.com.attacker.example',"
        "c='static.hotjar.community'</script>"
    ),
    "hosts in text": "<p>We use quantserve.com and cdn.cxense.com, see bam.nr-data.net.</p>",
    "hosts in attributes": '<a title="bam.nr-data.net" href="/p">ads.adthrive.com</a>',
    "hosts in a textarea": "<textarea>s.src='cdn.cxense.com/cx.js'</textarea>",
    "hosts in CSS (a relative URL there)": "<style>/* cdn.cxense.com */ b{color:red}</style>",
    "hosts in a JSON script (not run)": (
        '<script type="application/json">{"beacon":"bam.nr-data.net"}</script>'
    ),
    "hosts in an import map (a relative URL there)": (
        '<script type="importmap">{"imports":{"a":"cdn.cxense.com/cx.js"}}</script>'
    ),
    "hosts in a script the site marked itself": (
        '<script data-cookieguard="necessary">a="bam.nr-data.net"</script>'
    ),
}


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_other_scripts_and_text_naming_hosts_come_out_byte_for_byte(name: str) -> None:
    body = page(UNCHANGED[name])
    assert rewrite(body) == body
    for size in (1, 7, 64):
        assert streamed(body, size) == body


def test_the_prefilter_finds_a_host_without_slashes_only_where_a_script_may_be() -> None:
    blocker = PLAN.blocker
    assert blocker is not None
    # The hit is the script's start tag: it reaches the script's verdict and nothing else.
    script = page("<script>a='bam.nr-data.net'</script>")
    assert blocker.positions(script) == [script.index(b"<script")]
    assert blocker.positions(page("<p>a='bam.nr-data.net'</p>")) == []
    assert blocker.positions(page("<script></script><p>bam.nr-data.net</p>")) == []
    # One hit a script, however often it names the host (its verdict reads them all).
    many = page("<script>" + "a='bam.nr-data.net';" * 50 + "</script>")
    assert blocker.positions(many) == [many.index(b"<script")]
    # Each <script before the host has one (the first may be in a comment).
    two = page("<!-- <script> --><script>a='bam.nr-data.net'</script>")
    assert blocker.positions(two) == [two.index(b"<script"), two.rindex(b"<script")]


def test_a_visitor_who_granted_the_category_gets_the_script_unchanged() -> None:
    consent = Consent(True, frozenset({"marketing"}), "cid", 1, 0)
    injection = plan(SITE, Decision(consent))
    quantcast = GATED["a host split by concatenation"][0]
    new_relic = GATED["a host in a config field"][0]
    body = page(quantcast + new_relic)
    out = injection.rewriter().feed_last(body)
    assert out.startswith(page(quantcast)[: -len(b"</body></html>")])
    assert b'<script type="text/plain" data-cookieguard="analytics">' in out


def granted(categories: frozenset[str]) -> Injection:
    return plan(SITE, Decision(Consent(True, categories, "cid", 1, 0)))


def test_a_script_naming_a_host_many_times_still_names_every_vendor_after_it() -> None:
    """A host read once passes its later copies over (a window is settled) only once every
    blocked vendor that hosts like it may name is found: Google Analytics, Ads and Maps
    share ``google.com``."""
    blocker = PLAN.blocker
    assert blocker is not None
    script = "a='adservice.google.com';" * 200 + "b='www.google.com/maps/embed';"
    script += "c='analytics.google.com';" * 2
    assert [v.name for v in blocker.vendors_in_script(script.encode())] == [
        "Google Ads",
        "Google Maps",
        "Google Analytics",
    ]
    out = rewrite(page(f"<script>{script}</script>"))
    assert b'<script type="text/plain" data-cookieguard="analytics marketing">' in out


def test_a_host_of_a_granted_vendor_named_many_times_does_not_hide_a_blocked_one() -> None:
    """Marketing granted: Google Ads' host names no blocked vendor, but Google Analytics
    shares its key, so the search goes on to it (whole and streamed)."""
    injection = granted(frozenset({"marketing"}))
    script = "a='adservice.google.com';" * 200 + "c='analytics.google.com';"
    body = page(f"<script>{script}</script>")
    assert injection.blocker is not None
    assert injection.blocker.positions(body) == [body.index(b"<script")]
    out = injection.rewriter().feed_last(body)
    assert b'<script type="text/plain" data-cookieguard="analytics">' in out
    rewriter = injection.rewriter()
    chunks = [rewriter.feed(body[i : i + 100]) for i in range(0, len(body), 100)]
    assert b"".join(chunks) + rewriter.finish() == out


# -- against a WHATWG parser -------------------------------------------------------------------

MATHML = "{http://www.w3.org/1998/Math/MathML}"
CATALOGUE = PLAN.blocker.catalogue if PLAN.blocker is not None else None
REFUSED = PLAN.blocker.blocked if PLAN.blocker is not None else frozenset()
PIECES = [
    "<script>", "</script>", "<script type=module>", "<SCRIPT >", "<script\n>", "</script >",
    "<!--", "-->", "<!-->", "<!-- <script> -->", "<script><!--<script>", "<p>", "<textarea>",
    "</textarea>", "<style>", "</style>", "<svg>", "</svg>", "<noscript>", "</noscript>",
    "<math>", "<![CDATA[", "]]>", "<template>", "</template>", "<foreignObject>", "<desc>",
    "<title>", "</title>", '<b title="', '">', "<xmp>", "</xmp>", "x", " ", "'", '"', "<", ">",
    "a='cdn.cxense.com/cx.js';", "(s?'https://secure':'http://edge')+'.quantserve.com/q.js'",
    "{beacon:'bam.nr-data.net'}", "'https://www'+'.googletagmanager.com/gtm.js'",
    "a='cdn&#46;cxense&#46;com/cx.js';", "'.quantserve&period;com/q.js'",
]  # fmt: skip
# (No <select>: a raw-text element in one is read two ways, see test_gate_markup.py.)


def running_vendors(body: bytes) -> set[str]:
    """The blocked vendors named in the text of the scripts a browser with JavaScript would
    run in ``body`` (html5lib's tree: classic, module and SVG scripts; an SVG script's text
    has its character references decoded)."""
    assert CATALOGUE is not None
    root = html5lib.HTMLParser(namespaceHTMLElements=False).parse(
        body.decode("utf-8", "replace"), scripting=True
    )
    found: set[str] = set()
    for element in oracle._elements(root):
        ns, name = oracle._local(element.tag)
        if name != "script" or ns == MATHML:
            continue  # (a MathML <script> is no script)
        kind = (element.get("type") or "").strip().lower()
        if kind in oracle.JS_TYPES:
            text = oracle._text(element)
            found |= {v.name for v in CATALOGUE.vendors_in_text(text) if v.category in REFUSED}
    return found


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=16), st.integers(1, 40))
def test_no_script_a_browser_runs_names_a_blocked_host(parts: list[str], size: int) -> None:
    body = page("".join(parts))
    out = rewrite(body)
    assert running_vendors(out) == set(), out
    assert streamed(body, size) == out


#: SVG and MathML scripts whose text runs past a ``</script`` the markup hides (a comment, a
#: CDATA section, a bogus comment, an attribute value, an unfinished tag): the text of a
#: script in foreign content runs to the end tag the tree builder closes it with. Each names
#: a host without ``//`` after the hidden end. The prefilter looked only up to the first
#: ``</script``: the first was gated whole (the ``<script>`` in the comment before it
#: stretched its span) but not streamed; the others were not gated at all, and a browser
#: runs those that SVG scripts hold.
PAST_A_HIDDEN_END = {
    "after a script tag in a comment (streamed only)": (
        "<!-- <script> --><svg><script><!--</script>a='cdn.cxense.com/cx.js';"
    ),
    "after two hidden end tags": (
        "<!-- <script> --><svg><script><!--</script></script>-->a='cdn.cxense.com/cx.js';"
        "</script></svg>"
    ),
    "after a comment": "<svg><script><!--</script>-->a='cdn.cxense.com/cx.js';</script></svg>",
    "after a CDATA section": (
        "<svg><script><![CDATA[</script>]]>a='cdn.cxense.com/cx.js';</script></svg>"
    ),
    "after a bogus comment": "<svg><script><?</script>a='cdn.cxense.com/cx.js';</script></svg>",
    "after a quoted value": (
        "<svg><script><a title='</script>'></a>a='cdn.cxense.com/cx.js';</script></svg>"
    ),
    "in a second SVG script": (
        "<svg><script></script><script><!--</script>-->a='cdn.cxense.com/cx.js';</script></svg>"
    ),
    "in MathML": "<math><script><!--</script>-->a='cdn.cxense.com/cx.js';</script></math>",
}


@pytest.mark.parametrize("name", sorted(PAST_A_HIDDEN_END))
def test_a_foreign_script_past_a_hidden_end_is_gated_streamed_as_whole(name: str) -> None:
    body = page(PAST_A_HIDDEN_END[name])
    out = rewrite(body)
    assert running_vendors(out) == set(), out
    assert b'data-cookieguard="marketing"' in out, out
    # Every cut, the last chunk ending inside the hidden "</script" among them.
    for size in range(1, len(body) + 1):
        assert streamed(body, size) == out, size


def test_an_svg_script_past_a_hidden_end_is_gated_streamed_as_whole() -> None:
    body = page("<!-- <script> --><svg><script><!--</script>a='cdn.cxense.com/cx.js';")
    assert streamed(body, 40) == rewrite(body)


@pytest.mark.parametrize(
    "markup",
    [
        "<svg><script><script></script>a='cdn.cxense.com/cx.js';",
        "<svg><script><script></script>a='cdn.cxense.com/cx.js';</script></svg><p>x</p>",
        "<svg><script>x<script>y<script></script></script>a='cdn.cxense.com/cx.js';</script>",
    ],
)
def test_an_svg_script_runs_its_text_after_a_script_nested_in_it(markup: str) -> None:
    """Found by the test above: in SVG a ``<script>`` inside a script is an element nested in
    it, whose ``</script>`` ends only that; the outer one's text goes on after it."""
    body = page(markup)
    assert running_vendors(body) == {"Cxense"}
    out = rewrite(body)
    assert running_vendors(out) == set(), out
    assert all(streamed(body, size) == out for size in (1, 5, 17, 40))
