"""The body injector: every chunking of a page gives the same result."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookieguard.html._charsets import charset_param, choose, codec_for, prescan, transcode
from cookieguard.html._inject import Injection, wants_injection

PAGE = b"<html><body><p>hi</p></BODY></html>"
WANT = b"<html><body><p>hi</p>[X]</BODY></html>"


@given(st.lists(st.integers(min_value=0, max_value=len(PAGE)), max_size=8))
def test_any_chunking_injects_once(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [PAGE[a:b] for a, b in zip([0, *points], [*points, len(PAGE)], strict=True)]
    injector = Injection(b"[X]").injector()
    out = b"".join(injector.feed(c) for c in chunks) + injector.finish()
    assert out == WANT


def test_no_body_tag_leaves_fragment_untouched() -> None:
    assert Injection(b"[X]").injector().feed_last(b"<p>fragment</p>") == b"<p>fragment</p>"


def test_insert_goes_before_the_last_closing_tag_in_a_whole_body() -> None:
    page = b"<body><script>'</body>'</script></body>"
    assert (
        Injection(b"[X]").injector().feed_last(page)
        == b"<body><script>'</body>'</script>[X]</body>"
    )


def test_stop_passes_through() -> None:
    injector = Injection(b"[X]").injector()
    injector.stop()
    assert injector.feed(PAGE) == PAGE


@pytest.mark.parametrize(
    ("status", "ctype", "encoding", "wanted"),
    [
        (200, "text/html; charset=utf-8", None, True),
        (404, "text/html", "identity", True),
        (200, "application/xhtml+xml", None, True),
        (200, "text/plain", None, False),
        (200, None, None, False),
        (200, "text/html", "gzip", True),  # decoded, edited, encoded back
        (204, "text/html", None, False),
        (206, "text/html", None, False),
        (304, "text/html", None, False),
        (302, "text/html", None, False),
        (101, "text/html", None, False),
    ],
)
def test_wants_injection(
    status: int, ctype: str | None, encoding: str | None, wanted: bool
) -> None:
    assert wants_injection(status, ctype, encoding) is wanted


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=utf-8", "utf-8"),
        ('text/html;charset="ISO-8859-1"', "ISO-8859-1"),
        ("text/html; Charset = koi8-r ; x=y", "koi8-r"),
        ("text/html", None),
        (None, None),
    ],
)
def test_charset_param(content_type: str | None, charset: str | None) -> None:
    assert charset_param(content_type) == charset


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("iso-8859-1", "cp1252"),  # browsers read Latin-1 as windows-1252 (WHATWG Encoding)
        ("us-ascii", "cp1252"),
        ("Shift_JIS", "cp932"),  # WHATWG's Shift_JIS is Microsoft's
        ("koi8-r", "koi8_r"),
        ("base64", None),  # Python codecs browsers do not know
        ("rot13", None),
        ("undefined", None),
        ("utf-7", None),
        ("utf-16", "utf_16_le"),  # the WHATWG's "utf-16" is little-endian
        ("utf-16le", "utf_16_le"),
        ("UTF-16BE", "utf_16_be"),
        ("iso-2022-jp", "iso2022_jp"),
        ("iso-2022-kr", "replacement"),
        ("x-no-such-charset", None),
    ],
)
def test_codec_for(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_choose_follows_the_whatwg_order() -> None:
    """BOM, then the Content-Type's label, then the <meta> prescan, then UTF-8."""
    assert choose(None, b'<meta charset="windows-1252"><title>x</title>') == "cp1252"
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">'
    assert choose(None, meta) == "iso8859_15"
    assert choose(None, b"\xef\xbb\xbf<p>") == "utf-8"
    assert choose(None, b"\xff\xfe<\x00") == "utf_16_le"
    assert choose(None, b"\xfe\xff\x00<") == "utf_16_be"
    assert choose("utf-8", b"\xff\xfe<\x00") == "utf_16_le"  # the BOM beats the header
    assert choose("koi8-r", b'<meta charset="cp1252">') == "koi8_r"  # the header beats <meta>
    assert choose(None, b"<p>no meta</p>") == "utf-8"
    assert choose(None, b" " * 1100 + b'<meta charset="koi8-r">') == "utf-8"  # first 1 KB only
    # Labels no browser knows are skipped, as a browser skips them; comments too.
    assert choose("utf-7", b'<meta charset="utf-7"><meta charset="koi8-r">') == "koi8_r"
    assert choose(None, b'<!-- <meta charset="koi8-r"> --><p>') == "utf-8"
    # A <meta> cannot say UTF-16 (the bytes it is read from are ASCII-compatible).
    assert prescan(b'<meta charset="utf-16">') == "utf-8"
    assert prescan(b'<meta charset="x-user-defined">') == "cp1252"
    assert prescan(b"<meta name=x content='charset=koi8-r'>") is None  # no http-equiv


def test_transcode() -> None:
    assert transcode("Präferenzen".encode(), "cp1252") == b"Pr\xe4ferenzen"
    assert transcode("Préférences €".encode(), "koi8-r") == b"Pr&#233;f&#233;rences &#8364;"
    ascii_only = b"<p>plain</p>"
    assert transcode(ascii_only, "cp1252") is ascii_only


# -- a plan that only places its insert streams the page through unscanned (issue 26) -------

_PARTS = [
    b"<p>text</p>",
    b"</body>",
    b"</BODY >",
    b"</bOdY",
    b"<script>var a = '</body>';</script>",
    b"<!-- </body> -->",
    b"<textarea></body></textarea>",
    b"<!doctype html>",
    b"<head>",
    b"</head>",
    b"</html>",
    b"\n",
    b"<",
    b"</",
    b"'",
    b"<!--",
    b"<script>",
    b"<plaintext>",
    b"<svg>",
    b'<p title="x">',
    b"x" * 700,
]


def _chunked(injection: Injection, page: bytes, cuts: list[int]) -> tuple[bytes, list[bytes]]:
    points = sorted({c % (len(page) + 1) for c in cuts})
    chunks = [page[a:b] for a, b in zip([0, *points], [*points, len(page)], strict=True)]
    editor = injection.injector()
    outs = [editor.feed(c) for c in chunks]
    return b"".join(outs) + editor.finish(), outs


@given(
    parts=st.lists(st.sampled_from(_PARTS), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=12),
)
def test_an_insert_only_page_streamed_in_any_chunks_is_the_whole_body_edit(
    parts: list[bytes], cuts: list[int]
) -> None:
    page = b"<!doctype html><body>" + b"y" * 1100 + b"".join(parts)
    injection = Injection(b"[X]")
    assert _chunked(injection, page, cuts)[0] == injection.injector().feed_last(page)


def test_an_insert_only_page_goes_out_as_it_arrives_up_to_its_closing_body() -> None:
    page = b"<!doctype html><body>" + b"<p>row</p>\n" * 2000 + b"</body></html>"
    cuts = list(range(4096, len(page), 4096))
    out, outs = _chunked(Injection(b"[X]"), page, cuts)
    assert out == page.replace(b"</body>", b"[X]</body>")
    sent = 0
    for index, given_out in enumerate(outs[:-1]):
        sent += len(given_out)
        # Everything that arrived, but for a "<" in the last five bytes (a "</body" cut short).
        assert sent >= (index + 1) * 4096 - 5
        assert page.startswith(b"".join(outs[: index + 1]))


def test_an_insert_only_page_past_the_limit_is_handed_to_the_rewriter() -> None:
    from cookieguard.html._inject import UNSCANNED_LIMIT

    # A "</body" early (in a comment) holds everything after it: past the limit, the
    # rewriter reads what was kept and carries on; the bytes are still the whole body's.
    page = (
        b"<!doctype html><body><!-- </body> -->"
        + b"<p>row</p>\n" * (UNSCANNED_LIMIT // 8)
        + b"</body></html>"
    )
    injection = Injection(b"[X]")
    out, outs = _chunked(injection, page, list(range(4096, len(page), 4096)))
    assert out == injection.injector().feed_last(page)
    assert sum(map(len, outs[:-1])) > UNSCANNED_LIMIT  # it streamed once handed over


def test_stop_gives_back_what_an_insert_only_page_held() -> None:
    page = b"<!doctype html><body>" + b"y" * 2000 + b"</body></html>"
    editor = Injection(b"[X]").injector()
    first = editor.feed(page[:1500])
    second = editor.feed(page[1500:])
    editor.stop()
    assert first + second + editor.finish() == page


def test_prescan_remembers_a_bounded_number_of_heads() -> None:
    from cookieguard.html import _charsets

    head = b'<meta charset="koi8-r">' + b" " * 2000
    assert prescan(head) == prescan(head) == "koi8_r"
    for n in range(300):
        assert prescan(b"<!-- %d --><meta charset=latin1>" % n) == "cp1252"
    assert len(_charsets._prescanned) <= 256
