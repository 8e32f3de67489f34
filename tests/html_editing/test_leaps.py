"""The data state leaps over ordinary markup before a hit (issue 26): exactly as reading it.

Between a page's hits, the skip of ``cookieguard.html._scanner`` reads every ordinary tag
(~15 ns a byte). ``_passed`` leaps to the next "<" that may start anything else, having read
only the last bytes before it in each way the skip can be there (text, or a quoted value
opened since), and steps over the token there with the skip itself. It may land only
where the skip passes between two tokens: these tests generate pages of ordinary tags
whose quoted values hold ">", "<", quotes and the tags the skip stops at, next to
comments, scripts, raw text, foreign content, trackers and tree-builder contexts, and
check that the rewriter writes the same bytes with leaps over every stretch (the smallest
look-back) as without any, whole and cut into chunks, and that it loads no tracker.
"""

from __future__ import annotations

import random
import re

import pytest

from cookieguard.html import _scanner
from tests.html_editing.test_small_elements import assert_no_leaks, differences, matched_end

PIXEL = "https://www.facebook.com/tr?id=1&ev=PageView"
GTM = "https://www.googletagmanager.com/gtag/js?id=G-1"

#: Attribute values, quoted or not, holding what a leap must not read as markup.
VALUES = (
    '"x"', "'x'", '""', "''", '"a>b"', "'a>b'", '"<script>"', "'<!--'", '"<b>"', "'</p>'",
    "\"it's\"", "'say \"hi\"'", 'x"y', "x'y", "x", '"', "'", '"</body>"', "'<svg>'",
    '"a\'>b"', "'a\">b'", "/", f'"{PIXEL}"', '"<noscript>"', "'<?x>'", '"</3>"',
)  # fmt: skip
NAMES = ("a", "p", "div", "img", "span", "input", "b", "br", "li", "A", "h2", "td")
#: Everything else: the tokens a leap lands at or must not pass, trackers, contexts.
OTHERS = (
    "<!-- c -->", "<!--", "-->", "<!x>", "<?x>", "</3>", "</>", "<!doctype html>",
    "<script>a=1</script>", "<script>", "</script>", f"<script src={GTM}></script>",
    f"<script>var s='{GTM}';</script>", "<noscript>", "</noscript>", f"<img src={PIXEL}>",
    f'<iframe src="{PIXEL}"></iframe>', "<title>t</title>", "<textarea>", "</textarea>",
    "<style>", "</style>", "<svg>", "</svg>", "<math>", "<select>", "</select>", "<head>",
    "</head>", "<body>", "</body>", "<plaintext>", "<xmp>", "</xmp>", "<svg><g/></svg>",
    "text > more", "a 'quote", 'a "quote', "< x", "<3", "&amp;", "\n",
)  # fmt: skip


def ordinary(rng: random.Random) -> str:
    """An ordinary start or end tag (a few with no ">" at all), or text."""
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(("x", " ", "text", "a > b", "it's", 'say "x"', "<1"))
    name = rng.choice(NAMES)
    attrs = "".join(
        rng.choice((" ", "\n", "/", " ")) + rng.choice(("a", "title", "href", "x-y"))
        + (rng.choice(("=", " = ", "=\n")) + rng.choice(VALUES) if rng.random() < 0.8 else "")
        for _ in range(rng.randrange(4))
    )  # fmt: skip
    close = rng.choice((">", ">", ">", "/>", " >", ""))
    return f"<{'/' if roll < 0.3 else ''}{name}{attrs}{close}"


def page(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randrange(4, 40)):
        if rng.random() < 0.75:
            parts.append(ordinary(rng))
        else:
            parts.append(rng.choice(OTHERS))
    head = rng.choice(("<!doctype html><html><head>", "<!doctype html><title>t</title>", ""))
    tail = rng.choice(("</body></html>", "", f"<img src={PIXEL}></body>"))
    return (head + "".join(parts) + tail).encode()


class _Leaps:
    """Leaps tried over every stretch (``minimum``), with the look-back ``back``."""

    def __init__(self, minimum: int, back: int) -> None:
        self.values = (minimum, back)

    def __enter__(self) -> None:
        self.saved = (_scanner._LEAP_MIN, _scanner._LEAP_BACK)
        _scanner._LEAP_MIN, _scanner._LEAP_BACK = self.values

    def __exit__(self, *_: object) -> None:
        _scanner._LEAP_MIN, _scanner._LEAP_BACK = self.saved


NO_LEAPS = _Leaps(1 << 62, 256)


#: Leaps over every stretch, with look-backs from one byte to the usual 256.
LEAPS = [_Leaps(minimum, back) for minimum, back in ((0, 1), (0, 8), (3, 64), (0, 256))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_leaping_writes_what_reading_writes(seed: int) -> None:
    found = list(differences(page, seed, 400, NO_LEAPS, LEAPS))
    assert found == [], "\n".join(found[:5])


def test_pages_read_with_leaps_load_no_tracker() -> None:
    with _Leaps(0, 8):
        assert_no_leaks(page, 4)


def _lands(body: bytes) -> int:
    """Where the data state's walk from the start of ``body`` ends (leaps over any stretch)."""
    window = _scanner._Window(body, True, [], None)
    with _Leaps(0, 256):
        return _scanner._passed(window, 0, len(body), (False, True))


@pytest.mark.parametrize(
    ("markup", "lands"),
    [
        # Ordinary tags up to a <script>: leapt over, the script stepped over whole.
        ('<p a="x">t</p><b c="y">u</b><script>a=1</script><b>', "end"),
        # The same with nothing after the ">" a quoted value opened since may close: a
        # reading inside that value cannot be ruled out (the leap reads back no further).
        ('<p a="x">t</p><script>a=1</script><b>', 0),
        # A quoted value holding a <script>: the skip passes the tag whole, but a leap
        # may not land inside it (one reading at the ">" before it is inside the value).
        ('<p title="<script>">x', 0),
        ("<p title='a>b <!-- c'>x", 0),
        # A quote since the start, even one in an unquoted value (which opens nothing),
        # keeps a reading inside a quoted value possible: no leap over what follows.
        ("<p a=x'y>t<b>u</b><!-- c -->", 0),
        ("<p a=xy>t<b>u</b><!-- c -->", "end"),
        # A tag the skip stops at ends the walk there.
        ('<p a="x">t<b c="y">u</b><noscript><p title="<b>"></noscript>', "<noscript>"),
    ],
)
def test_a_walk_lands_between_tokens_or_not_at_all(markup: str, lands: int | str) -> None:
    body = markup.encode()
    want = len(body) if lands == "end" else lands
    if isinstance(want, str):
        want = body.index(want.encode())
    assert _lands(body) == want
    # And the skip itself agrees: from where the walk landed it reads what it reads from 0.
    skip = _scanner._SKIPS[False, True]
    low = body.lower()
    assert matched_end(skip, low, _lands(body)) == matched_end(skip, low)


def test_a_leap_reads_only_the_end_of_a_long_stretch() -> None:
    """Linear, and far cheaper than the skip: 8,000 ordinary tags before a script are
    read back 256 bytes, not 8,000 times."""
    body = b'<p class="x">t</p>' * 8000 + b"<script>a=1</script>"
    window = _scanner._Window(body, True, [], None)
    calls = []
    run = _scanner._ORDINARY_RUN

    class Counting:
        def match(self, low: bytes, start: int, end: int) -> re.Match[bytes] | None:
            calls.append(end - start)
            return run.match(low, start, end)

    _scanner._ORDINARY_RUN = Counting()  # type: ignore[assignment]
    try:
        assert _scanner._passed(window, 0, len(body), (False, True)) == len(body)
    finally:
        _scanner._ORDINARY_RUN = run
    assert calls and max(calls) <= 256


def test_the_search_for_what_is_not_ordinary_finds_each_stop_name() -> None:
    """The alternation by first letter finds what the plain one finds."""
    plain = re.compile(
        rb"<(?:[!?]|/(?![a-z])|/(?:" + _scanner._SPECIAL_END + rb")" + _scanner._DELIM
        + rb"|(?:" + _scanner._SPECIAL_START + rb")" + _scanner._DELIM + rb")"
    )  # fmt: skip
    names = (_scanner._SPECIAL_START + b"|" + _scanner._SPECIAL_END).split(b"|")
    rng = random.Random(5)
    pieces = [b"<", b"</", b"<!", b"<?", b" ", b">", b"/", b"a", b"s", b"n", b"o", *names]
    for _ in range(3000):
        low = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        got = [m.start() for m in _scanner._NOT_ORDINARY.finditer(low)]
        assert got == [m.start() for m in plain.finditer(low)], low
