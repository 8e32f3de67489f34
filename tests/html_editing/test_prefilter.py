"""The gate's prefilter (``Blocker.positions``) gives the same hits however much it remembers.

The prefilter looks up what it worked out before (a script span's hits by the span's bytes,
a short stretch's hits by its bytes) and searches each gap between scripts once (issue 26):
none of that may change an answer. Each property compares a blocker that has seen other
pages (sharing scripts with this one at other offsets) with a fresh one, and the script
spans with the plain reading they replaced.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from cookieguard.html._inject import (
    _FOREIGN_SCRIPT,
    Blocker,
    TrackerGate,
    _escaped_end,
    _script_spans,
    _tag,
)
from tests.html_editing.test_gate_markup import PLAN
from tests.slices import examples

_WARM = PLAN.blocker
assert _WARM is not None


def fresh() -> Blocker:
    """A blocker for the same refusals that has remembered nothing."""
    assert _WARM is not None
    return Blocker(_WARM.catalogue, _WARM.blocked)


# Pieces pages are made of: scripts naming a blocked host (with and without "//", with
# character references), first-party ones, comments and escapes that move where script
# data ends, SVG scripts nested in scripts, text that names a host outside any script.
PIECES = [
    "<script>a='bam.nr-data.net'</script>",
    "<script>s.src='https://connect'+'.facebook.net/en_US/fbevents.js'</script>",
    "<script src=//static.hotjar.com/c/hotjar-1.js></script>",
    "<script>var x = 1;</script>",
    "<SCRIPT>b='cdn&#46;cxense&#46;com'</SCRIPT>",
    "<script>",
    "</script>",
    "<!--",
    "-->",
    "<!--<script>",
    "<svg><script>",
    "<p>bam.nr-data.net</p>",
    "<img src=https://www.facebook.com/tr?id=1&amp;ev=x>",
    "<iframe srcdoc='&lt;img src=//px.ads.linkedin.com/x&gt;'></iframe>",
    "text & more ",
    "<p>",
    "https:&sol;&sol;www.googletagmanager.com/gtm.js ",
]
pages = st.lists(st.sampled_from(PIECES), max_size=14).map("".join).map(str.encode)


def old_script_spans(low: bytes) -> Iterator[tuple[int, int]]:
    """``_script_spans`` as it was before it searched each gap once (the reference), with
    the SVG script's reading it has since gained."""
    n = len(low)
    at = _tag(low, b"<script", 0)
    while at != -1:
        stop = _tag(low, b"</script", at + 7)
        if stop == -1:
            stop = n
        escape = low.find(b"<!--", at, stop)
        if escape != -1 and low.find(b"<script", escape, stop) != -1:
            stop = _escaped_end(low, escape)
        if stop < n:  # (an SVG script's text may run past that end tag)
            foreign = _FOREIGN_SCRIPT.match(low, at, stop + 9)
            stop = n if foreign is None or foreign.end() != stop else stop
        if stop < n and -1 < _tag(low, b"<script", at + 7) < stop:
            stop = n
        yield at, stop
        at = _tag(low, b"<script", stop + 1) if stop < n else -1


@settings(max_examples=examples(400), deadline=None)
@given(pages)
def test_script_spans_are_those_of_the_plain_reading(body: bytes) -> None:
    low = body.lower()
    assert list(_script_spans(low)) == list(old_script_spans(low))


@settings(max_examples=examples(300), deadline=None)
@given(pages, pages, st.integers(0, 40))
def test_a_blocker_that_remembers_finds_what_a_fresh_one_finds(
    first: bytes, second: bytes, pad: int
) -> None:
    warm = fresh()
    warm.positions(first)
    warm.positions(second)
    # The same scripts again at other offsets, and the pages as short stretches (remembered
    # whole) and as parts of a long one (not).
    shifted = b" " * pad + second + first
    long = shifted + b" " * 3000
    for body in (shifted, long, first, second):
        assert warm.positions(body) == fresh().positions(body)


def test_a_remembered_answer_is_a_copy() -> None:
    blocker = fresh()
    body = b"<script>a='bam.nr-data.net'</script>"
    hits = blocker.positions(body)
    assert hits == [0]
    hits.append(99)  # the scanner owns the list it is given
    assert blocker.positions(body) == [0]


def _best(blocker: Blocker, body: bytes) -> float:
    times = []
    for _ in range(15):
        start = time.thread_time()
        for _ in range(20):
            blocker.positions(body)
        times.append(time.thread_time() - start)
    return min(times)


def test_the_markup_between_two_scripts_is_not_read_tag_by_tag() -> None:
    """A page with a script in its head and one before ``</body>`` costs the prefilter
    about what a page with only the last one costs: the run of plain scripts (which passes
    ``<script></script>`` repeated in one match) reads at most a short gap between two
    (unbounded, it read a 20 KB product list tag by tag: three times the page's cost)."""
    items = (
        b'<article class="p"><h2>Item</h2><img src="/i.jpg" alt=""><a href="/p">x</a></article>\n'
    )
    middle = items * 220  # ~20 KB
    two = b"<script src=/app.js></script>" + middle + b"<script src=/late.js></script>"
    one = b"<link rel=x href=/app.css>" + middle + b"<script src=/late.js></script>"
    blocker = fresh()
    ratio = min(_best(blocker, two) / _best(blocker, one) for _ in range(3))
    assert ratio < 1.6


def test_the_scan_reads_the_copy_the_prefilter_lowered() -> None:
    """One lower-cased copy of a body for the prefilter and the scan (29 µs per 100 KB),
    handed over only for the very body it was made of."""
    gate = PLAN.rewriter()._gate
    assert isinstance(gate, TrackerGate)
    body = b"<P>" + b"Text " * 1000 + b"<IMG SRC=//www.facebook.com/tr></P>"
    hits = gate.positions(body)
    assert hits == fresh().positions(body) != []
    assert gate.lowered(body) == body.lower()
    assert gate.lowered(bytes(bytearray(body))) is None  # an equal body, not the one read
    small = b"<p>x</p>"
    gate.positions(small)
    assert gate.lowered(small) is None  # short stretches are looked up, not lowered
