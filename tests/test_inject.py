"""The body injector: every chunking of a page gives the same result."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookieguard._inject import BodyInjector, Injection, wants_injection

PAGE = b"<html><body><p>hi</p></BODY></html>"
WANT = b"<html><body><p>hi</p>[X]</BODY></html>"


@given(st.lists(st.integers(min_value=0, max_value=len(PAGE)), max_size=8))
def test_any_chunking_injects_once(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [PAGE[a:b] for a, b in zip([0, *points], [*points, len(PAGE)], strict=True)]
    injector = BodyInjector(b"[X]")
    out = b"".join(injector.feed(c) for c in chunks) + injector.finish()
    assert out == WANT


def test_no_body_tag_leaves_fragment_untouched() -> None:
    assert Injection(b"[X]").injector().feed_last(b"<p>fragment</p>") == b"<p>fragment</p>"


def test_insert_goes_before_the_last_closing_tag_in_a_whole_body() -> None:
    page = b"<body><script>'</body>'</script></body>"
    assert BodyInjector(b"[X]").feed_last(page) == b"<body><script>'</body>'</script>[X]</body>"


def test_stop_passes_through() -> None:
    injector = BodyInjector(b"[X]")
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
