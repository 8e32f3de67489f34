"""The validator rule (issue 19 item 2), pure: tagging ETags, translating If-None-Match."""

from __future__ import annotations

import time

import pytest

from cookieguard.core._validators import _entity_tags, is_document, tagged, translate

STATE = "0123456789"
OTHER = "abcdefabcd"


@pytest.mark.parametrize(
    ("etag", "expected"),
    [
        ('"v1"', f'"v1-cg{STATE}"'),
        ('W/"v1"', f'W/"v1-cg{STATE}"'),  # weak stays weak
        (' "v1" ', f'"v1-cg{STATE}"'),
        ("v1", f"v1-cg{STATE}"),  # unquoted (not RFC 9110, but sent by some apps)
    ],
)
def test_tagged(etag: str, expected: str) -> None:
    assert tagged(etag, STATE) == expected


@pytest.mark.parametrize(
    ("header", "document", "expected"),
    [
        # The current state's tag becomes the app's own; another state's is removed.
        (f'"v1-cg{STATE}"', True, ('"v1"', True)),
        (f'W/"v1-cg{STATE}"', True, ('W/"v1"', True)),
        (f'"v1-cg{OTHER}"', True, (None, True)),
        (f'"v1-cg{OTHER}", "v1-cg{STATE}"', False, ('"v1"', True)),
        # A tag without a suffix: kept for a sub-resource, removed for a document.
        ('"css1"', False, ('"css1"', False)),
        ('"css1"', True, (None, False)),
        ("*", True, ("*", False)),
        ('"a,b", "c"', False, ('"a,b", "c"', False)),  # commas inside quotes
    ],
)
def test_translate(header: str, document: bool, expected: tuple[str | None, bool]) -> None:
    assert translate(header, STATE, document=document) == expected


def test_entity_tags_reads_hostile_lists_in_linear_time() -> None:
    """The value comes from the visitor: runs of blanks, commas and unclosed quotes cost one
    pass (16x the input may cost at most ~40x, best of three, never a square). CPU time of
    this thread: wall time on a loaded machine counts other processes' turns too."""

    def cost(n: int) -> float:
        value = (" " * n + ', W/"' + "x" * n + '" ,,' + " b" * n) * 4 + '"' + "y" * n
        best = float("inf")
        for _ in range(3):
            began = time.thread_time()
            for _ in range(10):
                _entity_tags(value)
            best = min(best, time.thread_time() - began)
        return best

    assert cost(64_000) < 40 * max(cost(4_000), 1e-3)


@pytest.mark.parametrize(
    ("dest", "accept", "expected"),
    [
        ("document", None, True),
        ("iframe", "*/*", True),
        ("script", "text/html", False),  # Sec-Fetch-Dest decides when sent
        (None, "text/html,application/xhtml+xml", True),
        (None, "image/avif,*/*", False),
        (None, None, False),
    ],
)
def test_is_document(dest: str | None, accept: str | None, expected: bool) -> None:
    assert is_document(dest, accept) is expected
