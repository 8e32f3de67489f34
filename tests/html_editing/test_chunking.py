"""The body injector: every chunking of a page gives the same result."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookieguard.html._inject import (
    Injection,
    charset_param,
    codec_for,
    sniff_charset,
    transcode,
    wants_injection,
)

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
        (200, "text/html", "gzip", False),
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
        ("utf-16", None),
        ("utf-16le", None),
        ("iso-2022-jp", None),
        ("x-no-such-charset", None),
    ],
)
def test_codec_for(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_sniff_charset() -> None:
    assert sniff_charset(b'<meta charset="windows-1252"><title>x</title>') == "windows-1252"
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-15">'
    assert sniff_charset(meta) == "ISO-8859-15"
    assert sniff_charset(b"\xef\xbb\xbf<p>") == "utf-8"
    assert sniff_charset(b"\xff\xfe<\x00") == "utf-16"
    assert sniff_charset(b"<p>no meta</p>") == "utf-8"
    assert sniff_charset(b" " * 1100 + b'<meta charset="koi8-r">') == "utf-8"  # first 1 KB only


def test_transcode() -> None:
    assert transcode("Präferenzen".encode(), "cp1252") == b"Pr\xe4ferenzen"
    assert transcode("Préférences €".encode(), "koi8-r") == b"Pr&#233;f&#233;rences &#8364;"
    ascii_only = b"<p>plain</p>"
    assert transcode(ascii_only, "cp1252") is ascii_only
