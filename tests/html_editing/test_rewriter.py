"""The streaming HTML rewriter: insertion point, auto-blocking, embeds, head tags, charsets.

Every edit is checked whole-body (``feed_last``, the adapters' buffered path, which may take
the fast path) and chunked at every boundary (``feed``/``finish``, the streaming path): both
must give the same bytes.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookieguard import Policy
from cookieguard.core._consent import UNDECIDED, Consent
from cookieguard.core._guard import Decision
from cookieguard.core._policy import DEFAULT_CATEGORIES, Category
from cookieguard.html._codings import Uneditable
from cookieguard.html._inject import STYLE_STOP, Injection
from cookieguard.html._scanner import ELEMENT_LIMIT, Rewriter
from cookieguard.site._site import Site
from cookieguard.ui._assets import _static_dir
from tests.harness import make_policy
from tests.slices import examples

TRACKER_PAGE = (Path(__file__).parents[1] / "browser" / "trackers" / "page.html").read_bytes()
EVERYTHING = frozenset({"preferences", "analytics", "marketing"})


def site_for(**overrides: Any) -> Site:
    return Site(make_policy(**overrides), receipts=None)


def plan(
    site: Site,
    granted: frozenset[str] | None = None,
    *,
    content_type: str = "text/html; charset=utf-8",
    language: str = "en",
) -> Injection:
    consent = UNDECIDED if granted is None else Consent(True, granted, "cid", 1, 0)
    injection = site.injection(
        Decision(consent),
        method="GET",
        status=200,
        content_type=content_type,
        content_encoding=None,
        path="/page",
        query="",
        accept_language=language,
    )
    assert injection is not None
    return injection


def whole(injection: Injection | Rewriter, body: bytes) -> bytes:
    rewriter = injection.injector() if isinstance(injection, Injection) else injection
    return rewriter.feed_last(body)


def streamed(injection: Injection, body: bytes, size: int) -> bytes:
    rewriter = injection.injector()
    out = [rewriter.feed(body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(out) + rewriter.finish()


def at_end(page: bytes, insert: bytes) -> bytes:
    """``page`` with ``insert`` before its last ``</body>``."""
    head, _, tail = page.rpartition(b"</body>")
    return head + insert + b"</body>" + tail


def both(injection: Injection, body: bytes) -> bytes:
    """The whole-body result, after checking that streaming in any chunk size agrees."""
    expected = whole(injection, body)
    for size in (1, 2, 3, 5, 7, 16, 64, 100, 1000):
        assert streamed(injection, body, size) == expected, f"chunks of {size}"
    return expected


# -- where the banner goes -----------------------------------------------------------------


def test_banner_goes_before_the_real_closing_body_not_one_inside_a_script() -> None:
    # Regression (issue 15 item 6): a streamed page got the banner inside the script string.
    page = b'<!doctype html><body><p>x</p><script>var tpl = "<p>footer</body>";</script></body>'
    injection = Injection(b"[X]")
    out = both(injection, page)
    assert out == page.replace(b"</script></body>", b"</script>[X]</body>")


def test_closing_body_in_comments_styles_textareas_and_titles_is_not_the_end() -> None:
    page = (
        b"<!doctype html><title>a </body> b</title><body><!-- </body> -->"
        b"<style>/* </body> */</style><textarea></body></textarea>"
        b"<noscript></noscript><p>end</p></body></html>"
    )
    out = both(Injection(b"[X]"), page)
    assert out == page.replace(b"<p>end</p></body>", b"<p>end</p>[X]</body>")


def test_page_without_closing_body_gets_the_banner_at_the_end() -> None:
    # Regression (issue 9 item 2): flaskr's base.html has no </body>; the banner was dropped.
    page = b"<!doctype html>\n<title>Flaskr</title>\n<nav><h1>Flaskr</h1></nav>\n<p>posts</p>\n"
    assert both(Injection(b"[X]"), page) == page + b"[X]"


def test_the_last_of_several_closing_bodies_wins() -> None:
    page = b"<html><body>a</body>b</body><script>x</script></body>\n</html>\n"
    out = both(Injection(b"[X]"), page)
    assert out == b"<html><body>a</body>b</body><script>x</script>[X]</body>\n</html>\n"


def test_a_fragment_gets_nothing_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    import cookieguard.html._scanner as html_module

    html_module._noted.clear()
    with caplog.at_level(logging.INFO, logger="cookieguard"):
        assert both(Injection(b"[X]"), b"<li>one</li><li>two</li>") == b"<li>one</li><li>two</li>"
    assert "fragment" in caplog.text


def test_bogus_comments_and_cdata_hide_what_they_contain() -> None:
    # In HTML content "<![CDATA[" opens a bogus comment that the first ">" closes.
    page = b"<!DOCTYPE html><body><![CDATA[ </body> ]]><?php </body> ?></body>"
    out = both(Injection(b"[X]"), page)
    assert out.endswith(b"?>[X]</body>")


@settings(max_examples=examples(300), deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(
            [
                b"<p>text</p>",
                b"</body>",
                b"</BODY >",
                b"<script>var a = '</body>';</script>",
                b"<script src='https://www.googletagmanager.com/gtag/js?id=G'></script>",
                b"<script>x('https://connect.facebook.net/en_US/fbevents.js')</script>",
                b'<img src="https://www.facebook.com/tr?id=1">',
                b'<img alt="<3" src="https://px.ads.linkedin.com/collect">',
                b'<iframe src="https://www.youtube.com/embed/x" width="5"></iframe>',
                b"<noscript>",
                b"</noscript>",
                b"<!-- </body> -->",
                b"<!---->",
                b"<!doctype html>",
                b"<style>a{}</style>",
                b"<textarea></body></textarea>",
                b"<head>",
                b"</head>",
                b"<script src=/app.js></script>",
                b'<link rel="preconnect" href="//connect.facebook.net">',
                b"\n",
                b"<",
                b"<scr",
                b"'",
                b"<!--",
                b"<script>",
                b"<title>",
                b"<plaintext>",
                b"<a ",
                b"-->",
                b"<svg>",
                b"</svg>",
                b"<style>",
                b'<p title="x">',
            ]
        ),
        max_size=25,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
def test_any_chunking_gives_the_whole_body_result(parts: list[bytes], cuts: list[int]) -> None:
    # (Not generated: an attribute quote left open to the end of the page, where the fast
    # path's cheap look back and the scanner may disagree; a browser shows none of it.)
    page = b"".join(parts)
    # With Consent Mode's head tags and without (the whole-body fast path differs).
    for injection in (plan(site_for(google_consent_mode=True)), plan(site_for())):
        _check_chunking(injection, page, cuts)


def _check_chunking(injection: Injection, page: bytes, cuts: list[int]) -> None:
    expected = whole(injection, page)
    points = sorted({c for c in cuts if c <= len(page)})
    chunks = [page[a:b] for a, b in zip([0, *points], [*points, len(page)], strict=True)]
    rewriter = injection.injector()
    out = b"".join(rewriter.feed(c) for c in chunks) + rewriter.finish()
    assert out == expected
    # Nothing the rewriter does not edit changes: drop every edit and the page is back. One
    # edit has no undo here: inside <noscript>, a construct the scripting-off reading would
    # carry past </noscript> is closed before it (the scanner's _closed_reading), so the
    # two readings agree; compare such pages with the noscript contents left out.
    undone = _undo(out, injection)
    if undone != page:
        inside = re.compile(rb"(<noscript[^>]*>).*?(?=</noscript)", re.S | re.I)
        assert inside.sub(rb"\1", undone) == inside.sub(rb"\1", page)


def _undo(out: bytes, injection: Injection) -> bytes:
    """The page before rewriting, from the rewritten one (for the edits this module makes)."""
    out = out.replace(injection.head, b"", 1)
    # The banner may name vendors this very page was the first to load (issue 24): its
    # section is not the plan's insert byte for byte then.
    banner, _, assets = injection.insert.partition(b"</section>")
    if assets and banner.startswith(b"<section"):
        out = re.sub(rb"<section id=\"cookie-consent\".*?</section>", b"", out, count=1, flags=re.S)
        out = out.replace(assets, b"", 1)
    else:
        out = out.replace(injection.insert, b"", 1)
    out = re.sub(rb' type="text/plain" data-cookieguard="[a-z ]+"', b"", out)
    out = re.sub(rb' data-cookieguard="[a-z ]+"', b"", out)
    out = re.sub(rb"(<style\b[^>]*>)" + re.escape(STYLE_STOP), rb"\1", out, flags=re.I)
    out = out.replace(b"data-cookieguard-src", b"src").replace(b"data-cookieguard-href", b"href")
    return re.sub(
        rb'<div class="cg-embed".*?<template data-cookieguard-original>(.*?)</template></div>',
        rb"\1",
        out,
        flags=re.S,
    )


# -- auto-blocking -------------------------------------------------------------------------


def test_published_snippets_are_neutralised_for_an_undecided_visitor() -> None:
    out = both(plan(site_for()), TRACKER_PAGE).decode()
    scripts = re.findall(r"<script\b[^>]*>", out)
    gated = [s for s in scripts if 'type="text/plain"' in s]
    # gtag.js, GTM, Meta Pixel, Hotjar, Clarity, TikTok, LinkedIn.
    assert len(gated) == 7
    assert all('data-cookieguard="' in s for s in gated)
    assert '<script src="https://js.stripe.com/v3/">' in out
    assert '<script src="https://cdn.jsdelivr.net/npm/tiny-lib@1.0.0/dist/tiny.min.js">' in out
    # The gtag config snippet loads nothing: left alone; so is LinkedIn's partner id.
    assert "<script>\n  window.dataLayer" in out
    assert '<script type="text/javascript">\n_linkedin_partner_id' in out
    # Pixels inside <noscript> and GTM's ns.html iframe load nothing.
    assert 'src="https://www.facebook.com/tr' not in out.replace("data-cookieguard-src", "")
    assert 'data-cookieguard-src="https://px.ads.linkedin.com/collect' in out
    assert 'data-cookieguard-src="https://www.googletagmanager.com/ns.html' in out
    # Embeds became placeholders holding the original, byte for byte.
    assert out.count('class="cg-embed"') == 2
    assert 'data-cookieguard-provider="YouTube"' in out
    assert 'data-cookieguard-provider="Google Maps"' in out
    assert 'data-cookieguard-width="560" data-cookieguard-height="315"' in out
    youtube = re.search(rb"<iframe width=\"560\".*?</iframe>", TRACKER_PAGE, re.S)
    assert youtube is not None
    assert f"<template data-cookieguard-original>{youtube.group().decode()}</template>" in out
    # No live reference to any tracker host is left outside gated markup.
    live = re.sub(r"<template data-cookieguard-original>.*?</template>", "", out, flags=re.S)
    live = re.sub(r"<script type=\"text/plain\".*?</script>", "", live, flags=re.S)
    live = live.replace("data-cookieguard-src=", "")
    # A placeholder's link to the content on the vendor's site loads nothing (issue 24 part 6).
    links = re.findall(r'<a href="(https://[^"]*)" rel="noopener">Open on ', live)
    assert sorted(link.split("/")[2] for link in links) == ["www.google.com", "www.youtube.com"]
    live = re.sub(r'<a href="[^"]*" rel="noopener">Open on ', "", live)
    for host in ("googletagmanager", "facebook", "hotjar", "clarity.ms", "tiktok", "licdn",
                 "linkedin", "youtube.com/embed", "google.com/maps"):  # fmt: skip
        assert not re.search(rf'(src|href)="[^"]*{re.escape(host)}', live), host


def test_granted_categories_are_left_alone() -> None:
    out = both(plan(site_for(), frozenset({"analytics"})), TRACKER_PAGE).decode()
    assert 'data-cookieguard="analytics"' not in out
    assert 'data-cookieguard="marketing"' in out
    assert '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST123">' in out
    everything = plan(site_for(), EVERYTHING)
    assert everything.blocker is None
    assert both(everything, TRACKER_PAGE) == at_end(TRACKER_PAGE, everything.insert)


def test_advanced_consent_mode_lets_google_tags_load_but_not_others() -> None:
    out = both(plan(site_for(google_consent_mode="advanced")), TRACKER_PAGE).decode()
    assert '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST123">' in out
    assert "'https://www.googletagmanager.com/gtm.js?id='" in out
    assert '<script type="text/plain" data-cookieguard="analytics">(function(w,d,s,l,i)' not in out
    assert 'data-cookieguard="marketing"' in out  # Meta, TikTok, LinkedIn, YouTube...
    basic = both(plan(site_for(google_consent_mode=True)), TRACKER_PAGE).decode()
    assert 'data-cookieguard="analytics" async src="https://www.googletagmanager.com' in basic


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        (
            b'<script src="https://connect.facebook.net/en_US/fbevents.js" nonce="n1"></script>',
            b'<script type="text/plain" data-cookieguard="marketing" '
            b'src="https://connect.facebook.net/en_US/fbevents.js" nonce="n1"></script>',
        ),
        (
            b'<script type="module" src="//static.hotjar.com/x.js"></script>',
            b'<script type="text/plain" data-cookieguard="analytics"'
            b' data-cookieguard-type="module"  src="//static.hotjar.com/x.js"></script>',
        ),
        (
            b"<SCRIPT SRC='HTTPS://WWW.CLARITY.MS/tag/x'></SCRIPT>",
            b'<SCRIPT type="text/plain" data-cookieguard="analytics" SRC=\'HTTPS://WWW.CLARITY'
            b".MS/tag/x'></SCRIPT>",
        ),
        (
            b'<link rel="preconnect" href="https://snap.licdn.com">',
            b'<link data-cookieguard="marketing" rel="preconnect" '
            b'data-cookieguard-href="https://snap.licdn.com">',
        ),
        (
            b'<img srcset="/a.png 1x, https://bat.bing.com/action/0?x 2x" src="/a.png">',
            b'<img data-cookieguard="marketing" data-cookieguard-srcset="/a.png 1x, '
            b'https://bat.bing.com/action/0?x 2x" data-cookieguard-src="/a.png">',
        ),
        (
            b'<video src="https://www.youtube.com/x.mp4"></video>',
            b'<video data-cookieguard="marketing" '
            b'data-cookieguard-src="https://www.youtube.com/x.mp4"></video>',
        ),
    ],
)
def test_tags_are_gated_per_the_markup_contract(tag: bytes, expected: bytes) -> None:
    page = b"<!doctype html><body>" + tag + b"</body>"
    site = site_for()
    whole(plan(site), page)  # the site meets the tag's vendor: its banner names it from now on
    injection = plan(site)
    assert (
        both(injection, page) == b"<!doctype html><body>" + expected + injection.insert + b"</body>"
    )


@pytest.mark.parametrize(
    "tag",
    [
        b'<script data-cookieguard="necessary" src="https://connect.facebook.net/x.js"></script>',
        b'<script type="text/plain" data-cookieguard="marketing" src="https://snap.licdn.com/a.js"></script>',
        b'<script type="application/ld+json">{"u": "https://www.facebook.com/page"}</script>',
        b'<script type="text/template"><img src="https://www.facebook.com/tr"></script>',
        b'<script src="https://js.stripe.com/v3/"></script>',
        b'<script src="https://cdn.jsdelivr.net/npm/x@1/x.js"></script>',
        b'<script src="/static/analytics.js"></script>',
        b"<script>var home = 'https://example.com/';</script>",
        b'<a href="https://www.facebook.com/ourpage">Facebook</a>',
        b"<p>Find us on https://www.youtube.com/c/us</p>",
        b'<img src="https://images.example.com/a.png" alt="https://www.facebook.com/tr">',
        b'<iframe src="https://www.google.com/recaptcha/api2/anchor"></iframe>',
        b'<img data-cookieguard="necessary" src="https://www.facebook.com/tr">',
        b"<!-- <script src='https://connect.facebook.net/x.js'></script> -->",
    ],
)
def test_never_over_block(tag: bytes) -> None:
    page = b"<!doctype html><body>" + tag + b"</body>"
    injection = plan(site_for())
    assert both(injection, page) == b"<!doctype html><body>" + tag + injection.insert + b"</body>"


def test_hosts_a_site_declares_are_blocked_too() -> None:
    categories = (
        *DEFAULT_CATEGORIES[:3],
        Category("marketing", "Marketing", hosts=("ads.acme.example",)),
    )
    page = b'<!doctype html><body><script src="https://cdn.ads.acme.example/t.js"></script></body>'
    out = both(plan(site_for(categories=categories)), page)
    assert (
        b'<script type="text/plain" data-cookieguard="marketing" src="https://cdn.ads.acme' in out
    )


def test_auto_block_off_leaves_trackers_alone() -> None:
    injection = plan(site_for(auto_block=False))
    assert injection.blocker is None
    out = both(injection, TRACKER_PAGE)
    assert out == at_end(TRACKER_PAGE, injection.insert)


def test_embed_placeholders_are_translated_and_escaped() -> None:
    page = (
        b'<!doctype html><body><iframe src="https://player.vimeo.com/video/1" width="640" '
        b'height="100%"></iframe></body>'
    )
    out = both(plan(site_for(), language="de"), page).decode()
    assert "Einmal laden" in out and "Marketing immer erlauben" in out
    assert 'data-cookieguard-height="100%"' in out
    assert 'data-cookieguard-category="marketing"' in out
    assert 'href="/_cookieguard/preferences?next=/page"' in out
    assert "style=" not in out  # CSP: no inline style anywhere
    hostile = (
        b'<!doctype html><body><iframe src="https://www.youtube.com/embed/x" '
        b'width="1;background:url(x)" height="&quot;><script>"></iframe></body>'
    )
    out = both(plan(site_for()), hostile).decode()
    assert "data-cookieguard-width" not in out and "data-cookieguard-height" not in out


def test_embed_inside_noscript_is_renamed_not_replaced() -> None:
    page = b'<!doctype html><body><noscript><iframe src="https://www.youtube.com/embed/x"></iframe></noscript></body>'
    out = both(plan(site_for()), page)
    assert (
        b'<iframe data-cookieguard="marketing" data-cookieguard-src="https://www.youtube.com' in out
    )
    assert b"cg-embed" not in out


# -- head tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            b"<html><head><title>t</title><script src=/a.js></script></head><body></body>",
            b"<html><head><title>t</title>[H]<script src=/a.js></script></head><body>[X]</body>",
        ),
        (
            b"<html><head><!-- <script> --><title>t</title></head><body><script>1</script></body>",
            b"<html><head><!-- <script> --><title>t</title>[H]</head>"
            b"<body><script>1</script>[X]</body>",
        ),
        (b"<html><body>x</body>", b"<html><body>x[H][X]</body>"),
    ],
)
def test_head_tags_go_before_the_first_script(page: bytes, expected: bytes) -> None:
    assert both(Injection(b"[X]", head=b"[H]"), page) == expected


def test_consent_mode_script_is_placed_from_the_policy() -> None:
    injection = plan(site_for(google_consent_mode=True))
    assert injection.head.startswith(b'<script src="/_cookieguard/consent-mode.js')
    out = both(injection, TRACKER_PAGE)
    assert out.index(injection.head) < out.index(b'<script type="text/plain"')
    assert out.index(injection.head) > out.index(b"<title>")


# -- charsets ------------------------------------------------------------------------------


def test_latin1_page_gets_the_banner_in_latin1() -> None:
    # Regression (issue 15 item 12): the banner arrived as UTF-8 ("PrÃ¤ferenzen").
    page = "<!doctype html><body><p>Grüße</p></body>".encode("latin-1")
    injection = plan(site_for(), language="de", content_type="text/html; charset=ISO-8859-1")
    out = both(injection, page)
    assert b"Pr\xe4ferenzen" in out and "Präferenzen".encode() not in out
    assert out.decode("cp1252").count("Grüße") == 1


def test_meta_charset_is_sniffed_when_the_header_has_none() -> None:
    page = (
        b'<!doctype html><html><head><meta charset="windows-1252"><title>x</title></head>'
        b"<body>" + b"x" * 2000 + b"</body></html>"
    )
    out = both(plan(site_for(), language="fr", content_type="text/html"), page)
    assert "Préférences".encode("cp1252") in out
    # Characters the charset lacks become character references, never mojibake.
    page = page.replace(b"windows-1252", b"koi8-r")
    out = both(plan(site_for(), language="fr", content_type="text/html"), page)
    assert b"Pr&#233;f&#233;rences" in out


# Pages in UTF-16, ISO-2022-JP and labels no browser knows: tests/html_editing/test_codings.py


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        b"<!doctype html><body><script>never closed </body>",
        b"<!doctype html><body><!-- never closed </body>",
        b"<!doctype html><body><img src='https://www.facebook.com/tr",
        b"<!doctype html><body><iframe src='https://www.youtube.com/embed/x'>",
        b"<!doctype html><body><script>document.write('<script src=x></script>')</script></body>",
        b"<!doctype html><body><plaintext></body>",
        b"<!doctype html><body><svg><![CDATA[ x ]]></svg></body>",
        b"<" * 5000,
        b"<!doctype html><body><img " + b"a" * 100_000 + b"></body>",
        b"\x00\xff\xfe<body></body>",
    ],
)
def test_malformed_html_never_raises(page: bytes) -> None:
    both(plan(site_for()), page)


def test_a_huge_inline_script_is_past_the_limits(caplog: pytest.LogCaptureFixture) -> None:
    # Inline scripts are held until their end (their content decides): bounded. Past the
    # bound the page cannot be edited: the adapters fail closed (issue 19 item 1).
    page = b"<!doctype html><body><script>" + b"x" * (2 * ELEMENT_LIMIT) + b"</script></body>"
    injection = plan(site_for())
    with (
        caplog.at_level(logging.WARNING, logger="cookieguard"),
        pytest.raises(Uneditable) as failure,
    ):
        streamed(injection, page, 64 * 1024)
    assert failure.value.cause == "limit"
    assert "passes unchanged" in caplog.text


def test_a_huge_attribute_is_just_text() -> None:
    page = b'<!doctype html><body><img alt="' + b"x" * (2 * ELEMENT_LIMIT) + b'"></body>'
    injection = plan(site_for())
    assert streamed(injection, page, 64 * 1024) == at_end(page, injection.insert)


def test_ten_megabytes_stream_through() -> None:
    row = b'<p>row <a href="/x">x</a> <img src="/i.png"></p>\n'
    page = b"<!doctype html><body>" + row * (10 * 1024 * 1024 // len(row)) + b"</body>"
    injection = plan(site_for())
    rewriter = injection.injector()
    size = 0
    for i in range(0, len(page), 256 * 1024):
        size += len(rewriter.feed(page[i : i + 256 * 1024]))
    size += len(rewriter.finish())
    assert size == len(page) + len(injection.insert)


class _Broken:
    def mentions(self, data: bytes) -> bool:
        return True

    def positions(self, data: bytes) -> list[int]:
        raise RuntimeError("boom")


def test_an_internal_error_passes_the_page_through(caplog: pytest.LogCaptureFixture) -> None:
    rewriter = Rewriter(b"[X]", gate=_Broken())  # type: ignore[arg-type]
    page = b"<!doctype html><body><p>x</p></body>"
    with caplog.at_level(logging.ERROR, logger="cookieguard"):
        assert rewriter.feed_last(page) == page + b"[X]"
    assert "could not rewrite" in caplog.text


# -- headers -------------------------------------------------------------------------------


def test_bodies_auto_blocking_may_edit_vary_on_cookie() -> None:
    assert "Cookie" in plan(site_for(), frozenset({"analytics"})).vary
    assert "Cookie" in plan(site_for(), EVERYTHING).vary
    # The asset tags carry the consent state the page is rendered for (issue 24 part 5), so
    # a page with them varies on Cookie too.
    assert plan(site_for(auto_block=False), EVERYTHING).vary == ("Cookie",)
    consent_mode = site_for(auto_block=False, google_consent_mode=True)
    assert "Cookie" in plan(consent_mode, EVERYTHING).vary


def test_policy_type_is_checked() -> None:
    with pytest.raises(TypeError):
        Site(object(), receipts=None)  # type: ignore[arg-type]
    assert isinstance(make_policy(), Policy)


# -- markup inside attribute values (red team findings K3) ---------------------------------


@pytest.mark.parametrize(
    "markup",
    [
        b'<meta name="description" content="How the <title> tag works">',
        b'<p title="Use <script> tags"></p>',
        b'<p title="<!-- not a comment">x</p>',
        b'<p title="</body>">x</p>',
    ],
)
def test_tags_written_in_attribute_values_are_text(markup: bytes) -> None:
    page = (
        b"<!doctype html><html><head><title>t</title></head><body>"
        + markup
        + b'<script src="https://www.googletagmanager.com/gtag/js?id=G-1"></script></body></html>'
    )
    injection = plan(site_for())
    out = both(injection, page)
    assert out.startswith(page[: page.index(markup) + len(markup)])  # untouched
    assert b'<script type="text/plain" data-cookieguard="analytics" src="https://www.goo' in out
    assert out.endswith(injection.insert + b"</body></html>")


def test_html_in_an_attribute_before_the_pixel_url() -> None:
    tag = b'<img data-caption="<b>Our</b> partners" src="https://www.facebook.com/tr?id=1" alt="">'
    out = both(plan(site_for()), b"<!doctype html><body>" + tag + b"</body>")
    assert b'data-cookieguard-src="https://www.facebook.com/tr' in out


@pytest.mark.parametrize(
    ("markup", "renamed"),
    [
        (b'<image src="https://www.facebook.com/tr?id=1">', b"data-cookieguard-src="),
        (
            b'<svg><image href="https://www.facebook.com/tr?id=1" width="1"/></svg>',
            b"data-cookieguard-href=",
        ),
        (b'<video poster="https://www.facebook.com/tr?id=1"></video>', b"data-cookieguard-poster="),
        (b'<object data="https://www.facebook.com/tr?id=1"></object>', b"data-cookieguard-data="),
        (
            b'<iframe srcdoc="&lt;script src=&quot;https://connect.facebook.net/x.js&quot;&gt;'
            b'&lt;/script&gt;"></iframe>',
            b"data-cookieguard-srcdoc=",
        ),
        (
            b'<table background="https://www.facebook.com/tr?id=1"><tr><td>x</td></tr></table>',
            b"data-cookieguard-background=",
        ),
        (
            b'<img data-src="https://www.facebook.com/tr?id=1" alt="">',
            b"data-cookieguard-data-src=",
        ),
    ],
)
def test_more_url_attributes_are_gated(markup: bytes, renamed: bytes) -> None:
    out = both(plan(site_for()), b"<!doctype html><body>" + markup + b"</body>")
    assert renamed in out and b'data-cookieguard="marketing"' in out


def test_body_background_is_gated() -> None:
    page = (
        b'<!doctype html><html><body background="https://www.facebook.com/tr?id=1"><p>x</p></body>'
    )
    out = both(plan(site_for()), page)
    assert b'<body data-cookieguard="marketing" data-cookieguard-background=' in out


def test_svg_script_href_is_gated() -> None:
    page = (
        b"<!doctype html><body><svg><script "
        b'href="https://www.googletagmanager.com/gtag/js?id=G"></script></svg></body>'
    )
    out = both(plan(site_for()), page)
    assert b'<script type="text/plain" data-cookieguard="analytics" data-cookieguard-href=' in out


def test_lazy_loaded_embed_becomes_a_placeholder() -> None:
    page = (
        b'<!doctype html><body><iframe src="about:blank" '
        b'data-src="https://www.youtube.com/embed/abc" width="560"></iframe></body>'
    )
    out = both(plan(site_for()), page)
    assert b'data-cookieguard-provider="YouTube"' in out


def test_character_references_in_a_script_src_are_decoded() -> None:
    page = (
        b"<!doctype html><body><script "
        b'src="https://www.googletagmanager.com&#x2F;gtag&#x2F;js?id&#x3D;G"></script></body>'
    )
    out = both(plan(site_for()), page)
    assert b'<script type="text/plain" data-cookieguard="analytics" src=' in out


@pytest.mark.parametrize(
    "tag",
    [
        # Mustache escapes "/" and "=" in a URL put in a template variable.
        b'<script src="https:&#x2F;&#x2F;www.googletagmanager.com&#x2F;gtag&#x2F;js?id&#x3D;G">'
        b"</script>",
        b'<img src="https:&#47;&#47;www.facebook.com&#47;tr?id=1" alt="">',
        b'<img src="https:&sol;&sol;www&period;facebook&period;com&sol;tr?id=1" alt="">',
    ],
)
def test_urls_written_with_character_references_are_gated(tag: bytes) -> None:
    out = both(plan(site_for()), b"<!doctype html><body>" + tag + b"</body>")
    assert b'data-cookieguard="' in out


def test_script_data_escapes_are_followed() -> None:
    # In "<script><!-- ... <script> ... </script>" the first </script> does not end the
    # script (WHATWG script data double-escaped state): the loader after it is script too.
    page = (
        b'<!doctype html><body><script><!--\ndocument.write("<script>var a = 1;</script>");\n'
        b"var t=document.createElement('script');t.src='https://connect.facebook.net/x.js';"
        b"document.head.appendChild(t);\n//--></script><p>after</p></body>"
    )
    out = both(plan(site_for()), page)
    assert out.startswith(b'<!doctype html><body><script type="text/plain" data-cookieguard=')
    assert b"<p>after</p>" in out


def test_a_long_inline_script_in_small_chunks() -> None:
    # Held whole (its content decides), without rescanning it for every small chunk.
    script = (
        b"<script>var data = '" + b"x" * 300_000 + b"'; // https://www.facebook.com/tr</script>"
    )
    page = b"<!doctype html><body>" + script + b"<p>end</p></body>"
    injection = plan(site_for())
    out = streamed(injection, page, 256)
    assert out == whole(injection, page)
    assert b'<script type="text/plain" data-cookieguard="marketing">' in out


@pytest.mark.parametrize("label", ["base64", "rot13", "undefined", "idna", "zlib_codec", "utf-7"])
def test_a_meta_charset_only_python_knows_is_skipped_as_a_browser_skips_it(label: str) -> None:
    # Red team K11: these made the insert's encoding raise, and the adapters answer 500.
    # A browser ignores a label the WHATWG does not know; so does the gate (issue 19: a
    # <meta charset=utf-7> page went out unedited), which edits it as the default, UTF-8.
    page = (
        f"<!doctype html><html><head><meta charset='{label}'><title>t</title></head>"
        "<body><p>x</p></body></html>"
    ).encode()
    injection = plan(site_for(), language="de", content_type="text/html")
    out = both(injection, page)
    assert out == page.replace(b"</body>", injection.insert + b"</body>")


@pytest.mark.parametrize(
    "markup",
    [
        # Red team: with JavaScript on, <noscript> is raw text up to </noscript>.
        b'<noscript><style></noscript><img src="https://www.facebook.com/tr?id=1" alt="">'
        b"<p></style></p>",
        # In SVG and MathML, <style> is markup: an <img> in it breaks out and loads.
        b'<svg><style><img src="https://www.facebook.com/tr?id=1" alt=""></style></svg>',
        b'<math><style><img src="https://www.facebook.com/tr?id=1" alt=""></style></math>',
        # A data: document that loads a tracker itself.
        b'<iframe src="data:text/html,%3Cscript src=https://www.googletagmanager.com/gtag/js'
        b'%3E%3C/script%3E"></iframe>',
        # Relative URLs after <base href> load from its host.
        b'<base href="https://www.googletagmanager.com/"><script src="gtag/js?id=G"></script>',
    ],
)
def test_red_team_round_two_bypasses_are_gated(markup: bytes) -> None:
    out = both(plan(site_for()), b"<!doctype html><body>" + markup + b"</body>")
    assert not re.search(
        rb'(?<![-\w])(src|href)="(https://www\.facebook|data:|https://www\.goo)', out
    )


def test_a_percent_encoded_host_is_gated() -> None:
    page = b'<!doctype html><body><img src="https://www.%66acebook.com/tr?id=1" alt=""></body>'
    out = both(plan(site_for()), page)
    assert b'data-cookieguard-src="https://www.%66acebook.com' in out


def test_a_style_attribute_loading_a_tracker_is_gated() -> None:
    page = (
        b'<!doctype html><body><div class="hero" style="background:url(https://www.facebook.com/'
        b'tr?id=1)">x</div><a href="https://www.facebook.com/ourpage">us</a></body>'
    )
    out = both(plan(site_for()), page)
    assert b'<div data-cookieguard="marketing" class="hero" data-cookieguard-style=' in out
    assert b'<a href="https://www.facebook.com/ourpage">' in out


GTAG = "https://www.googletagmanager.com/gtag/js?id=G-1"
FB_PIXEL = "https://www.facebook.com/tr?id=1"


@pytest.mark.parametrize(
    "url",
    [
        GTAG.replace("/", "\\"),  # https:\\host\path: "\\" is "/" in http(s) URLs
        GTAG.replace("//", "/\\"),
        GTAG.replace("https:", ""),  # //host
        GTAG.replace("https:", "").replace("/", "\\"),  # \\host
        GTAG.replace("https:", "/"),  # ///host
        GTAG.replace("//", "/\t/"),
        GTAG.replace("//", "/\r\n/"),
        GTAG.replace("//", "\t/\n/\t"),
        GTAG.replace("google", "goo\tgle"),  # tab, CR, LF are dropped anywhere
        GTAG.replace(".com", "\n.com"),
        GTAG.replace("https://", "https:"),  # no slashes: absolute on an http page
        GTAG.replace("https://", "HTTPS:"),
        GTAG.replace("https://", "ht\ttps:"),
        GTAG.replace("https://", "http:\t"),
        GTAG.replace("www.", "www%2E").replace(".com", "%2Ecom"),  # no literal dot left
        GTAG.replace("www.", "user@www."),
        GTAG.replace(".com/", ".com:443/"),
    ],
)
def test_urls_as_the_url_parser_reads_them_are_gated(url: str) -> None:
    # Red team K1: the prefilter wanted "//host"; a browser reads all of these as the tag.
    page = f'<!doctype html><body><script src="{url}"></script></body>'.encode()
    out = both(plan(site_for()), page)
    assert b'<script type="text/plain" data-cookieguard="analytics" src=' in out


@pytest.mark.parametrize(
    "markup",
    [
        f'<img src="{FB_PIXEL.replace("https://", "https:")}" alt="">',
        f'<img src="{FB_PIXEL.replace("/", chr(92))}" alt="">',
        f'<div style="background:url({FB_PIXEL.replace("//", "/" + chr(9) + "/")})"></div>',
        '<iframe src="https:www.google.com/maps/embed?pb=1" width="600"></iframe>',
        '<iframe src="https:\\\\www.youtube.com\\embed\\x"></iframe>',
    ],
)
def test_url_parser_quirks_in_pixels_styles_and_embeds_are_gated(markup: str) -> None:
    out = both(plan(site_for()), f"<!doctype html><body>{markup}</body>".encode())
    assert re.search(rb"data-cookieguard-(src|style)=|cg-embed", out), out


@pytest.mark.parametrize(
    "markup",
    [
        # Not a URL of the tracker's host: a relative path, another scheme, text.
        '<img src="/www.facebook.com/tr" alt="">',
        '<img src="xhttps:www.facebook.com/tr" alt="">',
        '<a href="https:www.facebook.com/acme">us</a>',
        "<p>ratio 1:www.facebook.com</p>",
    ],
)
def test_what_only_looks_like_a_quirky_tracker_url_is_left_alone(markup: str) -> None:
    page = f"<!doctype html><body>{markup}</body>".encode()
    assert both(plan(site_for(), language="en"), page) == whole(
        plan(site_for(auto_block=False)), page
    )


def test_a_json_escaped_path_scoped_embed_is_found() -> None:
    # JSON writes "/" as "\/"; a path-scoped vendor (Maps on www.google.com) needs the path.
    page = (
        b'<!doctype html><body><script>var u="https:\\/\\/www.google.com\\/maps\\/embed?pb=1";'
        b"var f=document.createElement('iframe');f.src=u;document.body.append(f)</script></body>"
    )
    out = both(plan(site_for()), page)
    assert b'type="text/plain" data-cookieguard="marketing"' in out


_TOKENS = [
    b"<", b">", b"<!--", b"-->", b"<script", b"</script", b"<style", b"</style>", b"<svg>",
    b"</svg>", b"<noscript>", b"</noscript>", b"<img src=", b"https://www.facebook.com/tr",
    b"//connect.facebook.net/x.js", b"=", b" ", b"</body>", b"<body>", b"</iframe>",
    b"<iframe src=https://www.youtube.com/embed/x>", b"&#x2F;", b"\\/\\/", b"<!doctype html>",
    b"<title>", b"</title>", b"x", b"\n", b"<base href=", b"data:", b"<![CDATA[", b"]]>", b"<?",
    b"<!", b"style=", b"url(", b"<html", b"<head>", b"</head>", b"<plaintext>",
]  # fmt: skip


def test_random_token_soup_streamed_or_whole_is_the_same_and_never_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import random

    rng = random.Random(20261129)
    with caplog.at_level(logging.ERROR, logger="cookieguard"):
        for injection in (plan(site_for(google_consent_mode=True)), plan(site_for())):
            for _ in range(1000):
                page = b"".join(rng.choice(_TOKENS) for _ in range(rng.randint(0, 40)))
                assert streamed(injection, page, rng.randint(1, 20)) == whole(injection, page)
    assert not caplog.records


# -- catalogue categories the policy lacks --------------------------------------------------

GA_PAGE = (
    b'<!doctype html><body><script async src="https://www.googletagmanager.com/gtag/js?id=G-1">'
    b"</script></body>"
)


def stats_only(**overrides: Any) -> Site:
    """A site whose one optional category is "stats" (the catalogue says "analytics")."""
    return site_for(
        cookies={"_ga": "stats"},
        categories=[Category("stats", label="Statistics", description="Visits, counted.")],
        **overrides,
    )


def test_vendors_of_a_category_the_policy_lacks_are_always_blocked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # From the catalogue's author: refused = optional - granted let Google Analytics through
    # for every visitor of a site without an "analytics" category.
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        site = stats_only()
    for granted in (None, frozenset({"stats"})):
        out = both(plan(site, granted), GA_PAGE)
        assert b'type="text/plain" data-cookieguard="analytics"' in out, granted
    said = [r.getMessage() for r in caplog.records if "does not have" in r.getMessage()]
    assert len(said) == 3  # analytics, marketing and preferences (chat widgets), once each
    assert "'analytics'" in said[0] and "Google Analytics" in said[0]
    assert "Policy(trackers=[{'name':" in said[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        stats_only()  # the same policy shape again: said once per process
    assert not [r for r in caplog.records if "does not have" in r.getMessage()]


def test_vendors_mapped_to_the_sites_category_follow_it() -> None:
    site = stats_only(trackers=[{"name": "Google Analytics", "category": "stats"},
                                {"name": "Google Tag Manager", "category": "stats"}])  # fmt: skip
    assert b'data-cookieguard="stats"' in both(plan(site), GA_PAGE)
    assert both(plan(site, frozenset({"stats"})), GA_PAGE).count(b"text/plain") == 0


def test_the_injected_banner_varies_on_the_gpc_signal() -> None:
    # The banner says when Sec-GPC was honoured: a shared cache must key on the header too.
    assert "Sec-GPC" in plan(site_for()).vary


# -- <style> elements -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (
            b"<style>.hero{background:url(https://www.facebook.com/tr?id=1)}</style>",
            b'<style type="text/plain" data-cookieguard="marketing">' + STYLE_STOP + b".hero{",
        ),
        (
            b'<style type="text/css" media="all">@import "//connect.facebook.net/x.css";</style>',
            b'<style type="text/plain" data-cookieguard="marketing" media="all">'
            + STYLE_STOP
            + b"@import",
        ),
        (
            b"<STYLE>a{background:url(https:\\\\www.facebook.com\\tr)}</STYLE>",
            b'<STYLE type="text/plain" data-cookieguard="marketing">' + STYLE_STOP + b"a{",
        ),
    ],
)
def test_a_style_element_loading_from_a_tracker_is_made_inert(
    style: bytes, expected: bytes
) -> None:
    # Red team K2: CSS url() and @import in a <style> element loaded before consent.
    page = b"<!doctype html><head>" + style + b"</head><body><p>x</p></body>"
    out = both(plan(site_for()), page)
    assert expected in out
    assert both(plan(site_for(), EVERYTHING), page) == whole(plan(site_for(), EVERYTHING), page)
    assert style in both(plan(site_for(), EVERYTHING), page)


@pytest.mark.parametrize(
    "style",
    [
        b"<style>p{color:red}</style>",
        b"<style>p{background:url(https://cdn.example.com/a.png)}</style>",
        b'<style type="text/x-template">{{ url("https://www.facebook.com/tr") }}</style>',
        b'<style data-cookieguard="necessary">a{background:url(//www.facebook.com/tr)}</style>',
    ],
)
def test_other_style_elements_are_left_alone(style: bytes) -> None:
    page = b"<!doctype html><head>" + style + b"</head><body><p>x</p></body>"
    assert style in both(plan(site_for()), page)


def test_banner_more_takes_off_the_rule_the_gate_writes_first_in_a_style() -> None:
    # The same bytes on both sides: a restored sheet keeps its @import rules only if the
    # rule before them goes (CSS ignores an @import after another rule).
    script = (_static_dir() / "banner-more.js").read_text(encoding="utf-8")
    assert f"const STOP = '{STYLE_STOP.decode()}';" in script


def test_a_style_element_cut_across_chunks_is_judged_whole() -> None:
    style = (
        b"<style>" + b"p{color:red}" * 2000 + b"a{background:url(//www.facebook.com/tr)}</style>"
    )
    page = b"<!doctype html><head>" + style + b"</head><body><p>x</p></body>"
    assert b'<style type="text/plain" data-cookieguard="marketing">' + STYLE_STOP + b"p{" in both(
        plan(site_for()), page
    )


@pytest.mark.parametrize("outer", [b"svg", b"math", b"noscript"])
def test_a_style_element_in_foreign_content_or_noscript_is_gated(outer: bytes) -> None:
    """SVG and MathML <style> sheets apply to the whole document; a <noscript> one without
    JS. In SVG and MathML its content is markup (the <img> breaks out and loads); in
    <noscript> it is raw text with JS on or off (the <img> is text)."""
    inner = b"<style>body{background:url(https://www.facebook.com/tr?id=1)}"
    pixel = b'<img src="https://www.facebook.com/tr?id=2" alt="">'
    page = b"<!doctype html><body><" + outer + b">" + inner + pixel + b"</style></" + outer + b">"
    out = both(plan(site_for()), page + b"</body>")
    assert b'<style type="text/plain" data-cookieguard="marketing">' + STYLE_STOP + b"body{" in out
    if outer != b"noscript":
        assert b'<img data-cookieguard="marketing" data-cookieguard-src=' in out
    else:
        assert pixel in out


def test_an_embed_of_a_category_the_policy_lacks_offers_load_once_only() -> None:
    page = b'<!doctype html><body><iframe src="https://www.youtube.com/embed/x"></iframe></body>'
    lacking = both(plan(stats_only()), page)
    assert b'data-cookieguard-action="load_once"' in lacking
    assert b'data-cookieguard-action="allow"' not in lacking  # it could never be granted
    assert b'data-cookieguard-action="allow"' in both(plan(site_for()), page)
