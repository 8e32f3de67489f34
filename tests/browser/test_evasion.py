"""Red team, round 2: markup a real Chromium loads from a tracker host although auto-blocking
should have neutralised it.

Every case is a small page served twice by uvicorn: once by the bare app (the markup must
really reach the tracker in Chromium, or the case proves nothing) and once behind
``ConsentMiddleware`` with the default ``auto_block=True`` for an undecided visitor (nothing
may reach a catalogued host). Every third-party request is routed to a local stub that
records its URL (tests/browser/third_parties.py). A case the middleware lets through is a
finding: it is marked ``xfail(strict=True)`` with the finding's id, so the test turns red the
day it is fixed and the marker must go.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route as AppRoute

from cookieguard.asgi import ConsentMiddleware
from tests.browser.site import policy
from tests.browser.third_parties import Visit
from tests.harness import UvicornServer, eventually

GA = "https://www.googletagmanager.com/gtag/js?id=G-EVADE1"
PIXEL = "https://www.facebook.com/tr?id=1234567890&amp;ev=PageView&amp;noscript=1"
FBEVENTS = "https://connect.facebook.net/en_US/fbevents.js"
# A first-party lazy loader as WordPress plugins ship it (lazysizes, WP Rocket): data-src
# becomes src once the element is near the viewport (here: at once).
LAZY = (
    "<script>document.querySelectorAll('iframe[data-src]').forEach("
    "function(f){f.src=f.getAttribute('data-src')})</script>"
)


@dataclass(frozen=True)
class Case:
    """A page body (between ``<body>`` and ``</body>``), and how it is served."""

    markup: str
    finding: str | None = None  # the finding id when the middleware lets it through
    content_type: str = "text/html; charset=utf-8"
    encoding: str = "utf-8"
    document: bool = True  # wrap in a doctype/html/body document


def page_bytes(case: Case) -> bytes:
    if not case.document:
        return case.markup.encode(case.encoding)
    html = f"<!doctype html><html><head><title>t</title></head><body>{case.markup}</body></html>"
    return html.encode(case.encoding)


def leak(finding: str, why: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=f"{finding}: {why}")


# -- the cases -----------------------------------------------------------------------------

#: Markup the rewriter neutralises today: regression tests for what holds.
HOLDS: dict[str, Case] = {
    "upper-case tag and attribute": Case(f'<SCRIPT SRC="{GA.upper()}"></SCRIPT>'),
    "mixed case": Case(f'<ScRiPt sRc="{GA}"></sCrIpT>'),
    "unquoted": Case(f"<script src={GA}></script>"),
    "single-quoted": Case(f"<script src='{GA}'></script>"),
    "slash as separator": Case(f'<script/src="{GA}"></script>'),
    "tab, newline, form feed between attributes": Case(
        f'<script\n\tasync\x0csrc="{GA}"\r\n></script>'
    ),
    "white space around the URL": Case(f'<script src="\n\t {GA} \n"></script>'),
    "scheme-relative": Case(f'<script src="{GA[6:]}"></script>'),
    "first of two src attributes": Case(f'<script src="{GA}" src="/first-party.js"></script>'),
    "entity-encoded query only": Case(f'<img src="{PIXEL}" alt="">'),
    "img srcset": Case(f'<img srcset="{PIXEL.replace("&amp;", "&")} 1x, /a.png 2x" alt="">'),
    "picture source srcset": Case(
        f'<picture><source srcset="{PIXEL}"><img src="/a.png" alt=""></picture>'
    ),
    "link rel=preload": Case(f'<link rel="preload" as="script" href="{GA}">'),
    "link rel=modulepreload": Case(f"<link rel=modulepreload href={GA}>"),
    "link rel=prefetch": Case(f'<link rel="prefetch" href="{GA}">'),
    "input type=image": Case(f'<input type="image" src="{PIXEL}" alt="go">'),
    "embed src": Case(f'<embed src="{PIXEL}">'),
    "video src": Case(f'<video src="{PIXEL}"></video>'),
    "inline snippet (Meta Pixel loader)": Case(
        "<script>!function(){var t=document.createElement('script');"
        f"t.src='{FBEVENTS}';document.head.appendChild(t)}}()</script>"
    ),
    "inline snippet with JSON-escaped slashes": Case(
        '<script>var u="https:\\/\\/connect.facebook.net\\/en_US\\/fbevents.js";'
        "var t=document.createElement('script');t.src=u;document.head.appendChild(t)</script>"
    ),
    "tracker after a comment and a CDATA section": Case(
        f'<!-- <script> --><![CDATA[ x ]]><!--><script src="{GA}"></script>'
    ),
    "tracker after </script inside a JS string": Case(
        f'<script>var s = "</scr" + "ipt>";</script><script src="{GA}"></script>'
    ),
    "pixel in a template-ish div after a long attribute": Case(
        f'<div data-x="{"a" * 200_000}"></div><img src="{PIXEL}" alt="">'
    ),
    "Shift_JIS page": Case(
        f'<p>日本語のページ</p><script src="{GA}"></script>',
        content_type="text/html; charset=shift_jis",
        encoding="shift_jis",
    ),
    "XHTML page": Case(
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        f'<head><title>x</title></head><body><script src="{GA}"></script>'
        f'<img src="{PIXEL}" alt=""/></body></html>',
        content_type="application/xhtml+xml",
        document=False,
    ),
}

#: Markup that reaches a tracker through the middleware: the findings.
LEAKS: dict[str, tuple[Case, str]] = {}

#: Bypasses fixed since this suite found them: they hold now.
FIXED: dict[str, Case] = {
    # Found by fuzz/gate.py's attribute soup (seed 7001, cases 223 and 2163, made smaller):
    # the gate took a script's first of src, href and xlink:href for its URL whatever its
    # namespace (FA1-FA3), and renamed a meta refresh's first content only (FA4, 7101/3307).
    "an HTML script's href loads nothing: its inline text runs": Case(
        f"<script href=/a.js>new Image().src='{PIXEL}'</script>"
    ),
    "an SVG script's src loads nothing: its href does": Case(
        f"<svg><script src=/a.js href={FBEVENTS}></script></svg>"
    ),
    "an SVG script's src loads nothing: its inline text runs": Case(
        f"<svg><script src=/a.js>new Image().src='{PIXEL}'</script></svg>"
    ),
    "a meta refresh's second content, once the first is renamed": Case(
        f'<meta http-equiv=refresh content="0;url={PIXEL}" content="0;url={PIXEL}&amp;b=2">'
    ),
    # Event handlers on a <style> or <script> (fuzz 9712/9361, made smaller; the lead).
    "a style element's onload": Case(
        f"<style onload=\"new Image().src='{PIXEL}'\">p{{color:red}}</style>"
    ),
    "a first-party script's onerror": Case(
        f"<script src=/missing.js onerror=\"new Image().src='{PIXEL}'\"></script>"
    ),
    # The same for CSS: a second style attribute, once the first is renamed (the lead).
    "a second style attribute naming a tracker": Case(
        f'<div style="background:url({PIXEL})" style="background:url({PIXEL}&amp;b=2)">x</div>'
    ),
    # A <style>'s, a <script>'s or a <plaintext>'s own style attribute: the page's CSS can
    # show the first two, a <plaintext> renders anyway (found by the oracle helper, session 6).
    "a style element shown by its own style attribute": Case(
        f'<style style="display:block;background:url({PIXEL})">p{{}}</style>'
    ),
    "a script element shown by its own style attribute": Case(
        f'<script style="display:block;height:9px;background:url({PIXEL})"></script>'
    ),
    "a plaintext's style attribute": Case(f'<plaintext style="background:url({PIXEL})">x'),
    # A start tag that closes an element in a foreignObject lets </foreignObject> close it:
    # the <script> after is the SVG one, its content markup (fuzz 3102/19004, the lead).
    "an SVG script after a foreignObject whose <p> a <div> closed": Case(
        "<svg><foreignObject><p><div></div></foreignObject><script>"
        f'<svg width=1 height=1><image href="{PIXEL}" width=1 height=1 /></svg></script></svg>'
    ),
    "an SVG script after a foreignObject whose <li> a second one closed": Case(
        "<svg><foreignObject><li><li></li></foreignObject><script>"
        f'<svg width=1 height=1><image href="{PIXEL}" width=1 height=1 /></svg></script></svg>'
    ),
    "an SVG script after a foreignObject whose <p> a <dialog> closed": Case(
        "<svg><foreignObject><p><dialog></dialog></foreignObject><script>"
        f'<svg width=1 height=1><image href="{PIXEL}" width=1 height=1 /></svg></script></svg>'
    ),
    # K6, fixed (issue 19): the gate made the <style> inert (type=text/plain), but Chromium's
    # preload scanner fetches a <style>'s leading @import rules whatever its type; the gate
    # now writes a rule first (html._inject.STYLE_STOP), where that scanner stops reading.
    "an @import in a gated <style>": Case(f"<style>@import '{FBEVENTS}';</style>"),
    "an @import url() after a comment in a gated <style>": Case(
        f"<style>/* fonts */ @import url({FBEVENTS}) screen;</style>"
    ),
    # K5, fixed (issue 19): pages whose bytes are not markup as written are decoded, edited
    # and encoded back; a <meta> label no browser knows is skipped as a browser skips it.
    "UTF-16 page": Case(
        f'<script src="{GA}"></script><p>x</p>',
        content_type="text/html; charset=utf-16",
        encoding="utf-16",
    ),
    "UTF-16BE page without a BOM": Case(
        f'<script src="{GA}"></script><p>x</p>',
        content_type="text/html; charset=utf-16be",
        encoding="utf-16-be",
    ),
    "ISO-2022-JP page": Case(
        f'<p>日本語のページ</p><script src="{GA}"></script>',
        content_type="text/html; charset=iso-2022-jp",
        encoding="iso2022_jp",
    ),
    "<meta charset=utf-7> page": Case(
        f'<meta charset="utf-7"><script src="{GA}"></script>', content_type="text/html"
    ),
    # K1, fixed: the prefilter reads URLs the way the WHATWG URL parser does
    "backslashes for slashes": Case(f'<script src="{GA.replace("/", chr(92))}"></script>'),
    "tab between the slashes": Case('<script src="' + GA.replace("//", "/\t/") + '"></script>'),
    "https: without slashes on an http page": Case(
        f'<img src="{PIXEL.replace("https://", "https:")}" alt="">'
    ),
    # K2, fixed in 15fdd10
    "inline style url()": Case(f'<div style="width:1px;height:1px;background:url({PIXEL})"></div>'),
    # K1, fixed in 4c17377
    "percent-encoded dot in the host": Case(
        f'<script src="{GA.replace("manager.com", "manager%2Ecom")}"></script>'
    ),
    # K2, fixed in f87f194
    "data: URL iframe with a tracker": Case(
        '<iframe src="data:text/html,%3Cscript src='
        + GA.replace("&", "%26")
        + '%3E%3C/script%3E"></iframe>'
    ),
    # K3, fixed in f87f194
    "<img> breaking out of an SVG <style>": Case(
        f'<svg><style><img src="{PIXEL}" alt=""></style></svg>'
    ),
    # K3, fixed in f87f194
    "<img> breaking out of a MathML <style>": Case(
        f'<math><style><img src="{PIXEL}" alt=""></style></math>'
    ),
    # K2, fixed in f87f194
    "<base href> on a tracker host": Case(
        '<base href="https://www.googletagmanager.com/"><script src="gtag/js?id=G-1"></script>'
    ),
    # K3, fixed in f87f194
    "noscript raw text hides a pixel from the scanner": Case(
        f'<noscript><style></noscript><img src="{PIXEL}" alt=""><p></style></p>'
    ),
    # K4, fixed: the catalogue lists Google Maps on the common country domains
    "Google Maps on a country domain": Case(
        '<iframe src="https://www.google.de/maps/embed?pb=!1m1" width="600"></iframe>'
    ),
    # K3, fixed upstream by a11e6db
    "<!--<script> escape in an inline script": Case(
        '<script><!--\ndocument.write("<script>var a = 1;</script>");\n'
        f"var t=document.createElement('script');t.src='{FBEVENTS}';"
        "document.head.appendChild(t);\n//--></script>"
    ),
    # K1, fixed in 6cded0d
    "entity-encoded slashes (Mustache escaping)": Case(
        f'<script src="{GA.replace("/", "&#x2F;").replace("=", "&#x3D;")}"></script>'
    ),
    # K1, fixed in 6cded0d
    "entity-encoded pixel URL": Case(f'<img src="{PIXEL.replace("/", "&#47;")}" alt="">'),
    # K2, fixed in 6cded0d
    "svg <script href>": Case(f'<svg><script href="{GA}"></script></svg>'),
    # K1, fixed in 354c3c0
    "entity-encoded path slash": Case(
        f'<script src="{GA.replace("/gtag/", "&#x2F;gtag/")}"></script>'
    ),
    # K1, fixed in 354c3c0
    "&colon; in the scheme": Case(f'<script src="{GA.replace(":", "&colon;", 1)}"></script>'),
    # K2, fixed in 354c3c0
    "<image> (the parser renames it <img>)": Case(f'<image src="{PIXEL}">'),
    # K2, fixed in 354c3c0
    "svg <image href>": Case(
        f'<svg width="1" height="1"><image href="{PIXEL}" width="1" height="1"/></svg>'
    ),
    # K2, fixed in 354c3c0
    "video poster": Case(f'<video poster="{PIXEL}"></video>'),
    # K2, fixed in 354c3c0
    "object data": Case(f'<object data="{PIXEL}" type="image/gif"></object>'),
    # K2, fixed in 354c3c0
    "iframe srcdoc with a tracker": Case(
        '<iframe srcdoc="&lt;script src=&quot;'
        + GA.replace("&", "&amp;")
        + '&quot;&gt;&lt;/script&gt;"></iframe>'
    ),
    # K2, fixed in 354c3c0
    "body background": Case(f'<div></div></body><body background="{PIXEL}">', document=True),
    # K3, fixed in 354c3c0
    "<title> named in a meta description": Case(
        '<meta name="description" content="How the <title> tag works">'
        f'<script src="{GA}"></script><p>x</p>'
    ),
    # K3, fixed in 354c3c0
    "<script> named in an attribute": Case(
        f'<p title="Use <script> tags"></p><script src="{GA}"></script>'
    ),
    # K3, fixed in 354c3c0
    "HTML in an img attribute before src": Case(
        f'<img data-caption="<b>Our</b> partners" src="{PIXEL}" alt="">'
    ),
    # K3, fixed in 354c3c0 (tested by test_a_script_tag_named_in_an_attribute_...)
    "XSS probe": Case(
        f'<p title="<script> <img src=x onerror=window.__xss=1>">hi</p><script src="{GA}"></script>'
    ),
    # K4, fixed in 354c3c0
    "lazy-loaded YouTube iframe (data-src)": Case(
        '<iframe src="about:blank" data-src="https://www.youtube.com/embed/abc" '
        f'width="560" height="315"></iframe>{LAZY}'
    ),
    # Issue 19 part 4, fixed: the scanner reads markup as the WHATWG tokenizer does.
    "an unquoted value of '=' then a quote": Case(f'<b a=="><img src={PIXEL} alt="">">'),
    "an unquoted value holding '=' and a quote": Case(f'<b a=x="><img src={PIXEL} alt="">">'),
    "a comment in <noscript>, read with JavaScript on": Case(
        f'<noscript><!--</noscript><img src="{PIXEL}" alt="">--></noscript>'
    ),
    "a quoted value in <noscript>, read with JavaScript on": Case(
        f'<noscript><a title="</noscript><img src={PIXEL} alt=x>"></noscript>'
    ),
    "an attribute over 4 KB before the URL": Case(f'<img alt="{"x" * 5000}" src="{PIXEL}">'),
    "more than eight tags in an earlier attribute": Case(f'<img alt="{"<b>" * 12}" src="{PIXEL}">'),
    "script type with &#x2F;": Case(f'<script type="text&#x2F;javascript" src="{GA}"></script>'),
    "script type modul&#101;": Case(f'<script type="modul&#101;" src="{GA}"></script>'),
    "two src attributes on one img": Case(f'<img src="{PIXEL}" src="{PIXEL}" alt="">'),
    "an onerror handler": Case(f'<img src="/missing.png" onerror="new Image().src=\'{PIXEL}\'">'),
    "an import map to a tracker": Case(
        f'<script type="importmap">{{"imports": {{"t": "{FBEVENTS}"}}}}</script>'
        '<script type="module">import "t"</script>'
    ),
    "a meta refresh to a tracker": Case(f'<meta http-equiv="refresh" content="0; url={PIXEL}">'),
    "background on a table row": Case(f'<table><tr background="{PIXEL}"><td>x</td></tr></table>'),
    "an SVG script's inline code": Case(f"<svg><script>new Image().src='{PIXEL}'</script></svg>"),
    "<!--> in script data": Case(f'<script><!--><script></script><img src="{PIXEL}" alt="">'),
    # Issue 19 part 4, fixed: SVG and MathML read as the tree builder reads them (the fuzz
    # cases' ids: fuzz/gate.py --seed S --replay N; tests/html_editing/test_gate_foreign_content).
    "fuzz 102/35129: a math in svg is SVG, its annotation-xml no integration point": Case(
        f'<svg><math><annotation-xml encoding="text/html"><iframe><img src="{PIXEL}" alt="">'
        "</iframe></annotation-xml></math></svg>"
    ),
    "fuzz 102/45664: a breakout in an SVG annotation-xml goes back to HTML": Case(
        '<svg><math><annotation-xml encoding="text/html"><meta></annotation-xml></math>'
        f'<noscript><a title="</noscript><img src="{PIXEL}" alt="">"></noscript>'
    ),
    "fuzz 102/48711: an mtext in svg is no text integration point": Case(
        "<svg><math><mtext><meta></mtext></math><noembed><!--</noembed>"
        f'<img src="{PIXEL}" alt="">-->'
    ),
    "fuzz 103/4161: a style in an SVG mi is markup": Case(
        "<svg><math><mi><style><!--</mi><script><!--></script>"
        f'<img src="{PIXEL}" alt="">--></style></mi></math></svg>'
    ),
    "fuzz 104/6759: an end tag no open element has is ignored in svg": Case(
        f'<svg></select><title><img src="{PIXEL}" alt=""></title></svg>'
    ),
    "fuzz 105/16614: an SVG title in an SVG annotation-xml is an integration point": Case(
        '<svg><math><annotation-xml encoding="text/html"><title><svg width="1" height="1">'
        f'<image href="{PIXEL}" width="1" height="1"/></svg></title></annotation-xml></math></svg>'
    ),
    "fuzz 105/27410: a script after a breakout is HTML script data": Case(
        '<svg><math><annotation-xml encoding="text/html"><img src="/a.png" alt="">'
        f'</annotation-xml></math><script><!--</script><img src="{PIXEL}" alt="">'
    ),
    "</body> does not close an svg": Case(
        f'<svg></body><iframe><img src="{PIXEL}" alt=""></iframe></svg>'
    ),
    "a slash ending an unquoted value is no self-closing flag": Case(
        f'<svg a=b/><iframe><img src="{PIXEL}" alt=""></iframe></svg>'
    ),
    "an end tag that may close the HTML around an svg": Case(
        f'<div><svg></div><xmp><!--</xmp><img src="{PIXEL}" alt="">--></xmp>'
    ),
    "fuzz 301/5768: a <caption> in an integration point is ignored in body": Case(
        '<math><annotation-xml encoding="text/html"><caption><![CDATA[ > <!-- ]]>'
        f'<img src="{PIXEL}" alt="">-->'
    ),
    "fuzz 1001/28924: an embed placeholder's end tag closes its iframe": Case(
        '<svg><foreignObject><iframe src="https://www.youtube.com/embed/abc" width="560">'
        f'</iframe></foreignObject><noembed><img src="{PIXEL}" alt=""></noembed></svg>'
    ),
    "a CDATA section after </body> in svg": Case(
        f'<svg></body><![CDATA[ > <!-- ]]><img src="{PIXEL}" alt=""> -->'
    ),
    "fuzz 2026/851102: an SVG style's text runs past a </style> in a comment": Case(
        f"<svg><style><!--</style>-->@import url('{PIXEL}');</style></svg>"
    ),
    "a style raw text in one reading, SVG in the other, runs past a nested one": Case(
        f"<svg></div><style><style></style>@import url('{PIXEL}');</style></svg>"
    ),
    "an SVG script's text runs past a </script> in a CDATA section": Case(
        f"<svg><script><![CDATA[ /*</script>*/ ]]>new Image().src='{PIXEL}'</script></svg>"
    ),
    "past 256 bytes of attributes, '=' and a tab, an unquoted value holding a quote": Case(
        f'<img {"b=1 " * 70}a=\t x="y src={PIXEL}>'
    ),
    "an SVG script's text past a </script> in a comment names a host without //": Case(
        "<svg><script><!--</script>-->new Image().src='https:/'+'/"
        f"{PIXEL.removeprefix('https://')}'</script></svg>"
    ),
    # Fuzz 2030/471528 (tests/html_editing/test_gate_markup): a <noframes> the model reads
    # as HTML raw text and as SVG; in the SVG reading the <div> breaks out, its last value
    # quoted across "</noframes>": the tag, cut off where the raw text ends, was never judged.
    "fuzz 2030/471528: a div's style after an SVG noframes, a value quoted across its end": Case(
        f'<svg></b><noframes><div style="background:url({PIXEL})" a="</noframes>">x</div>'
    ),
}

#: The same, for a visitor without JavaScript (a context with it disabled): a <noscript>'s
#: content is markup then, raw text with it on (where these fetch nothing, so they are no
#: case of HOLDS). Chromium fetches no script without JavaScript and sends no form unasked:
#: an <img> stands in for the fuzz case's element.
FIXED_WITHOUT_JS: dict[str, Case] = {
    # Fuzz 2030/79530, 349470, 817861 (tests/html_editing/test_gate_markup): a tag's quoted
    # value runs past "</noscript>" to the next quote, and the tag, cut off where the raw
    # text ends, was never judged.
    "fuzz 2030/79530: an img's srcset, a value quoted across </noscript>": Case(
        f'<b ="> <noscript><p><img srcset={PIXEL.replace("&amp;", "&")}\t a/=\r a=">'
        '</p></noscript> ">'
    ),
    "fuzz 2030/349470: an img's src, a value quoted across </noscript>": Case(
        f'<b a/="> <noscript><p><img src={PIXEL} a="></p></noscript> ">'
    ),
    "fuzz 2030/817861: an img's src, a value quoted to a later tag's quote": Case(
        f'<noscript><p><img src={PIXEL} dat="></p></noscript><div x="y&#x2F;>'
    ),
}


#: Trackers a first-party script (a tag manager) adds at run time, with URLs built so that
#: no tracker host is written in the page: only an enforced CSP can stop these. Each script
#: sets window.__ran, so a case never passes because its script did not run.
SPLIT_PIXEL = "'https://www.face'+'book.com/tr?id=1&ev=PageView'"


def runtime(code: str) -> Case:
    return Case(f"<script>{code};window.__ran=1</script>")


CSP_HOLDS: dict[str, Case] = {
    "a loader whose URL is split across a concatenation": runtime(
        "var s=document.createElement('script');"
        "s.src='https://www.google'+'tagmanager.com/gtag/js?id=G-1';document.head.append(s)"
    ),
    "new Image() pixel": runtime(f"new Image().src={SPLIT_PIXEL}"),
    "fetch beacon": runtime(
        "fetch('https://analytics.tik'+'tok.com/api/v2/pixel',{mode:'no-cors'}).catch(function(){})"
    ),
    "injected stylesheet": runtime(
        "var l=document.createElement('link');l.rel='stylesheet';"
        "l.href='https://static.hot'+'jar.com/x.css';document.head.append(l)"
    ),
}
CSP_LEAKS: dict[str, tuple[Case, str]] = {
    "injected <object data>": (
        runtime(
            "var o=document.createElement('object');o.type='image/gif';"
            f"o.data={SPLIT_PIXEL};document.body.append(o)"
        ),
        "K8: the consent-aware CSP sends object-src * (ungated)",
    ),
    "new Audio() beacon": (
        runtime(f"new Audio({SPLIT_PIXEL}).load()"),
        "K8: the consent-aware CSP sends media-src * (ungated)",
    ),
    "injected iframe to the pixel endpoint": (
        runtime(
            f"var f=document.createElement('iframe');f.src={SPLIT_PIXEL};document.body.append(f)"
        ),
        "K8: frame-src keeps every embed vendor's host (www.facebook.com, www.google.com, "
        "www.tiktok.com) before consent, whatever the path",
    ),
    "@font-face from a tracker host": (
        runtime(
            "new FontFace('x','url(https://connect.face'+'book.net/x.woff2)').load()"
            ".catch(function(){})"
        ),
        "K8: the consent-aware CSP sends font-src * (ungated)",
    ),
}
CSP_KEYS = {name: f"r{i}" for i, name in enumerate([*CSP_HOLDS, *CSP_LEAKS])}


# -- servers and the stub ------------------------------------------------------------------

HOLDS.update(FIXED)
ALL: dict[str, Case] = {**HOLDS, **{name: case for name, (case, _) in LEAKS.items()}}
KEYS = {name: f"c{i}" for i, name in enumerate([*ALL, *FIXED_WITHOUT_JS])}
BIG = 2 * 1024 * 1024 + 4096  # over the adapters' BUFFER_LIMIT


def build_app() -> Starlette:
    by_key = {KEYS[name]: case for name, case in {**ALL, **FIXED_WITHOUT_JS}.items()}
    by_key.update({CSP_KEYS[name]: case for name, case in CSP_HOLDS.items()})
    by_key.update({CSP_KEYS[name]: case for name, (case, _) in CSP_LEAKS.items()})

    async def case_page(request: Request) -> Response:
        case = by_key[request.path_params["key"]]
        return Response(page_bytes(case), media_type=case.content_type)

    async def big(request: Request) -> StreamingResponse:
        # A large page sent in parts with its length known (a file, a template rendered in
        # pieces): what the adapters buffer only up to BUFFER_LIMIT.
        filler = "<p>" + "x" * 1000 + "</p>\n"
        body = f'<!doctype html><html><body><script src="{GA}"></script>'
        body += filler * (BIG // len(filler)) + "</body></html>"
        data = body.encode()

        async def parts() -> Any:
            for i in range(0, len(data), 64 * 1024):
                yield data[i : i + 64 * 1024]

        return StreamingResponse(
            parts(),
            media_type="text/html; charset=utf-8",
            headers={"content-length": str(len(data))},
        )

    async def streamed(request: Request) -> StreamingResponse:
        body = f'<!doctype html><html><body><p>a</p><script src="{GA}"></script>'
        body += f'<img src="{PIXEL}" alt=""></body></html>'
        data = body.encode()

        async def chunks() -> Any:
            for i in range(0, len(data), 7):  # tags and URLs cut everywhere
                yield data[i : i + 7]

        return StreamingResponse(chunks(), media_type="text/html; charset=utf-8")

    return Starlette(
        routes=[
            AppRoute("/case/{key}", case_page),
            AppRoute("/big", big),
            AppRoute("/streamed", streamed),
        ]
    )


@pytest.fixture(scope="module")
def bare() -> Iterator[str]:
    with UvicornServer(build_app()) as server:
        yield server.url


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    with UvicornServer(ConsentMiddleware(build_app(), policy=policy())) as server:
        yield server.url


@pytest.fixture(scope="module")
def enforced() -> Iterator[str]:
    with UvicornServer(ConsentMiddleware(build_app(), policy=policy(csp="enforce"))) as server:
        yield server.url


# -- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(ALL))
def test_the_markup_reaches_the_tracker_without_cookieguard(
    visit: Visit, bare: str, name: str
) -> None:
    """Control: each case really loads from a tracker host in Chromium."""
    page, recorder = visit()  # (not settled: the request is waited for)
    page.goto(f"{bare}/case/{KEYS[name]}")
    eventually(page, lambda: recorder.trackers, f"{name}: a request to a tracker host")


@pytest.mark.parametrize("name", list(HOLDS))
def test_auto_blocking_holds(visit: Visit, guarded: str, name: str) -> None:
    page, recorder = visit(f"{guarded}/case/{KEYS[name]}")
    assert recorder.trackers == []
    assert page.evaluate("window.__tracked") is None


@pytest.mark.parametrize("name", list(FIXED_WITHOUT_JS))
def test_the_markup_reaches_the_tracker_without_javascript_or_cookieguard(
    visit: Visit, bare: str, name: str
) -> None:
    """Control: each case really loads from a tracker host in Chromium without JavaScript."""
    page, recorder = visit(f"{bare}/case/{KEYS[name]}", java_script_enabled=False)
    eventually(page, lambda: recorder.trackers, f"{name}: a request to a tracker host")


@pytest.mark.parametrize("name", list(FIXED_WITHOUT_JS))
def test_auto_blocking_holds_without_javascript(visit: Visit, guarded: str, name: str) -> None:
    _, recorder = visit(f"{guarded}/case/{KEYS[name]}", java_script_enabled=False)
    assert recorder.trackers == []


if LEAKS:  # known bypasses, each a strict xfail (an empty set would skip)

    @pytest.mark.parametrize(
        "name",
        [
            pytest.param(name, marks=leak(reason.split(": ", 1)[0], reason.split(": ", 1)[1]))
            for name, (_, reason) in LEAKS.items()
        ],
    )
    def test_auto_blocking_bypass(visit: Visit, guarded: str, name: str) -> None:
        _, recorder = visit(f"{guarded}/case/{KEYS[name]}")
        assert recorder.trackers == []


def test_streamed_in_seven_byte_chunks_holds(visit: Visit, guarded: str) -> None:
    page, recorder = visit(f"{guarded}/streamed")
    assert recorder.trackers == []
    assert page.locator("#cookie-consent").count() == 1


def test_a_page_over_the_buffer_limit_reaches_the_tracker_without_cookieguard(
    visit: Visit, bare: str
) -> None:
    page, recorder = visit()
    page.goto(f"{bare}/big")
    eventually(page, lambda: recorder.trackers, "a request to a tracker host")


def test_a_page_over_the_buffer_limit_is_still_gated(visit: Visit, guarded: str) -> None:
    page, recorder = visit(f"{guarded}/big")
    assert recorder.trackers == []
    assert page.locator("#cookie-consent").count() == 1


# -- injection through the rewriter's output ------------------------------------------------


def test_a_script_tag_named_in_an_attribute_never_becomes_markup(
    visit: Visit, guarded: str, bare: str
) -> None:
    """K3, fixed in 354c3c0: the rewriter wrote type="text/plain" into the title value; its
    quote ended the value and the rest, an onerror handler, became markup that ran."""
    name = "XSS probe"
    assert name in ALL
    for url in (bare, guarded):
        page, _ = visit(f"{url}/case/{KEYS[name]}")
        assert page.evaluate("window.__xss") is None, url
        assert page.locator("p[title]").count() == 1


# -- runtime injections: the consent-aware CSP -----------------------------------------------


@pytest.mark.parametrize("name", [*CSP_HOLDS, *CSP_LEAKS])
def test_runtime_injection_reaches_the_tracker_without_a_csp(
    visit: Visit, bare: str, name: str
) -> None:
    page, recorder = visit()
    page.goto(f"{bare}/case/{CSP_KEYS[name]}")
    assert page.evaluate("window.__ran") == 1
    eventually(page, lambda: recorder.trackers, f"{name}: a request to a tracker host")


@pytest.mark.parametrize("name", list(CSP_HOLDS))
def test_the_enforced_csp_refuses_runtime_trackers(visit: Visit, enforced: str, name: str) -> None:
    page, recorder = visit(f"{enforced}/case/{CSP_KEYS[name]}")
    assert page.evaluate("window.__ran") == 1
    assert recorder.trackers == []


# K8, fixed: font, media and object loads fall back to default-src, and frame-src allows the
# embed vendors on shared hosts by their embed paths only.
@pytest.mark.parametrize("name", list(CSP_LEAKS))
def test_the_enforced_csp_gap(visit: Visit, enforced: str, name: str) -> None:
    page, recorder = visit(f"{enforced}/case/{CSP_KEYS[name]}")
    assert page.evaluate("window.__ran") == 1
    assert recorder.trackers == []
