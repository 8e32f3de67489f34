"""The data state passes small elements whole (issue 19 part 3): exactly as reading them.

The skip of ``cookieguard.html._scanner`` passes SVG and MathML subtrees, RCDATA and raw-text
elements and plain ``<noscript>`` elements in one regex match, where each cost one to two
dozen calls through the scanner's states. It may pass only what reading token by token
would leave unedited with the scanner's model as it was: these tests generate pages of
small elements (the ones the skip takes and their near misses: break-outs, integration
points, CDATA, end tags that close something else, raw text holding its own end tag or
``</body``) next to trackers and tree-builder contexts (``<select>``, tables, template,
head, an open ``<svg>``, ``<noscript>``), cut into chunks at random, and check that the
rewriter writes the same bytes with the element skips as without them (the scanner's own
states then read every token), and that what it writes loads no tracker (the oracle).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookieguard.html import _inject, _scanner
from cookieguard.html._inject import Injection
from cookieguard.site._site import Site
from fuzz import gate, oracle
from tests.harness import make_policy
from tests.html_editing import test_prefilter as prefilter
from tests.html_editing.test_gate_markup import plan
from tests.slices import examples

PIXEL = "https://www.facebook.com/tr?id=1&ev=PageView"
GTM = "https://www.googletagmanager.com/gtag/js?id=G-1"

#: Tags inside an <svg> or <math>: the ones the skip takes and the ones it must not.
CHILDREN = (
    "g", "path d='M0 0'", "circle", "rect class=a", "svg", "math", "use", "text", "a",
    "p", "img", "font", "font color=red", "foreignObject", "desc", "title", "mi", "mtext",
    "annotation-xml encoding=text/html", "annotation-xml", "script", "style", "b", "table",
    "tr", "td", "select", "noscript", "textarea", "iframe", "html", "body", "head", "br",
    "template", "image", "G", "Path", "h", "mrow", "mo",
)  # fmt: skip
#: End tags inside them that close something else, or nothing, or break out.
END_TAGS = (
    "</g>", "</svg>", "</p>", "</math>", "</title>", "</br>", "</mi>", "</desc>", "</h>",
    "</font>", "</a>", "</svg/>", "</path x=1>", "</svgx>", "</gx>", "</mathml>", "</p/>",
)  # fmt: skip
#: Whole small elements, well formed or nearly.
SMALL = (
    "<svg></svg>", "<svg/>", "<svg a=b/>", "<svg class=a></svg>", "<svg><g/></svg>",
    "<svg><svg></svg></svg>", "<math></math>", "<math><mi></mi></math>", "<SVG></SVG>",
    "<svg><g></svg>", "<svg></g></svg>", "<svg><![CDATA[x]]></svg>", "<svg><!--x--></svg>",
    "<svg><p></svg>", "<svg></p></svg>", "<svg></br></svg>", "<svg><desc></desc></svg>",
    "<title></title>", "<title>x</title>", "<title></body></title>", "<title><!--</title>-->",
    "<textarea>a<b>c</textarea>", "<style></style>", "<xmp><p></xmp>", "<iframe></iframe>",
    "<noembed></noembed>", "<noframes></noframes>", "<noscript></noscript>",
    "<noscript>x</noscript>", "<noscript><b>x</b></noscript>", "<noscript><!--</noscript>-->",
    '<noscript><a title="</noscript>">', "<noscript><p a='<'></noscript>",
    "<noscript><svg></svg></noscript>", "<noscript><select></noscript>",
    "<script></script>", "<script><!--</script>", "<noscript><title></noscript>",
    "<svg><g></svg>", "<svg><g><h></g></svg>", "<svg><desc>x</desc></svg>",
    "<svg><desc><b></desc></svg>", "<noscript><!----></noscript>", "<svg><!--</body>--></svg>",
    "<noscript><!--</body>--></noscript>", "<svg><g><b></b></g></svg>",
    "<svg><g><path d='M0 0'></svg>", "<math><mrow><mn>1</mn></math>", "<svg><svg></svg>",
    "<svg><svg><g></svg>", "<math><math></math>", "<svg><g></p></svg>", "<svg><g></br></svg>",
    "<svg><g><i>x</i></svg>", "<svg><path/><span>x</span></svg>", "<svg><g><desc>x</svg>",
    "<svg><a href=/x></svg>", "<svg><g/><math></svg>", "<math><svg></math>",
    "<svg></svgx></svg>", "<svg><g></gx></svg>", "<math><mi></mix></mi></math>",
)  # fmt: skip
#: Trackers next to them: tags the gate must edit.
TRACKERS = (
    f'<img src="{PIXEL}">', f'<script src="{GTM}"></script>', f"<image href={PIXEL} />",
    f"<a href={PIXEL}>x</a>", f"<style>@import url({GTM});</style>",
    f"<script>var s='{GTM}';</script>", f'<iframe src="{PIXEL}"></iframe>',
    f'<link rel=stylesheet href="{GTM}">', f"<input type=image src={PIXEL}>",
)  # fmt: skip
#: Right after a small element: what the state the scanner is left in decides the edit of
#: (raw text, a CDATA section or markup; the place of the inserts).
PROBES = (
    f"<title><img src={PIXEL}></title>", f"<![CDATA[<img src={PIXEL}>]]>",
    f"<style><img src={PIXEL}></style>", f"<noscript><img src={PIXEL}></noscript>",
    f"<!--<img src={PIXEL}>-->", f"<p><img src={PIXEL}>", f"</head><script src={GTM}></script>",
    f"<textarea><img src={PIXEL}></textarea>", "</body>", f"<select><xmp><img src={PIXEL}></xmp>",
    f"<script><!--<script></script><img src={PIXEL}>", f"<svg><img src={PIXEL}>",
)  # fmt: skip
#: Tree-builder contexts and quirks around them.
CONTEXTS = (
    "<select>", "</select>", "<table>", "<tr>", "</table>", "<template>", "</template>",
    "<svg>", "</svg>", "<math>", "<math><mi>", "<svg><foreignObject>", "</foreignObject>",
    "<noscript>", "</noscript>", "<head>", "</head>", "<body>", "</body>", "<frameset>",
    "<p>", "</p>", "<!--", "-->", "<b a=\"", '">', "<![CDATA[", "]]>", "<option>",
)  # fmt: skip


def small(rng: random.Random, depth: int = 0) -> str:
    """A small element made at random: an SVG or MathML subtree, or one of SMALL."""
    if rng.random() < 0.5:
        return rng.choice(SMALL)
    root = rng.choice(("svg", "math", "svg class=a", "svg/"))
    if root.endswith("/"):
        return f"<{root}>"
    inner = "".join(child(rng, depth + 1) for _ in range(rng.randrange(4)))
    if rng.random() < 0.25:
        # An end tag that may close the root (or not), then a probe read by what it left.
        inner += rng.choice(END_TAGS) + rng.choice(PROBES)
    return f"<{root}>{inner}</{root.split()[0]}>"


def child(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(("x", " ", "<!-- c -->", "<?x>", "</3>", "<3", "&amp;"))
    if roll < 0.22:
        return rng.choice(TRACKERS)
    if roll < 0.27:
        return rng.choice(PROBES)  # (read as foreign content, or after a break-out)
    if roll < 0.33:
        # What it leaves open decides how the probe after it is read.
        return rng.choice(END_TAGS) + (rng.choice(PROBES) if rng.random() < 0.5 else "")
    tag = rng.choice(CHILDREN)
    name = tag.split()[0]
    if rng.random() < 0.4 or depth > 7:
        return f"<{tag}{rng.choice(('/', ' /', ''))}>"
    inner = "".join(child(rng, depth + 1) for _ in range(rng.randrange(3)))
    if rng.random() < 0.3:
        # Left open: an end tag of an element around it closes it, or a break-out does.
        return f"<{tag}>{inner}"
    return f"<{tag}>{inner}</{name}{rng.choice(('', ' ', ' x=1'))}>"


def page(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randrange(3, 12)):
        roll = rng.random()
        if roll < 0.55:
            parts.append(small(rng))
            if rng.random() < 0.5:
                parts.append(rng.choice(PROBES))
        elif roll < 0.75:
            parts.append(rng.choice(TRACKERS))
        else:
            parts.append(rng.choice(CONTEXTS))
    head = rng.choice(("<!doctype html><html><head>", "<!doctype html><head><title>t</title>",
                       "<!doctype html><title>t</title></head><body>", ""))  # fmt: skip
    tail = rng.choice(("</body></html>", "", "</body>"))
    return (head + "".join(parts) + tail).encode()


def cuts(rng: random.Random, body: bytes) -> list[int]:
    """Chunk boundaries: at random, and next to the bytes that decide."""
    if rng.random() < 0.1:
        return list(range(1, len(body)))
    decisive = [m.start() + d for m in re.finditer(rb"[<>/]", body) for d in (0, 1)]
    chosen = rng.sample(decisive, min(len(decisive), rng.randrange(1, 5)))
    return sorted({c for c in [*chosen, rng.randrange(1, len(body))] if 0 < c < len(body)})


class _WithoutElementSkips:
    """The scanner with the data state's skip as it was before it took elements whole."""

    def __enter__(self) -> None:
        self.saved = (dict(_scanner._SKIPS), dict(_scanner._SKIP_ONES), _scanner._FOREIGN_ROOT)
        for head, scripting in _scanner._SKIPS:
            alternatives = _scanner._SKIPPED
            if not head:
                alternatives = _scanner._INLINE_SCRIPT + b"|" + alternatives
            _scanner._SKIPS[head, scripting] = re.compile(b"(?:" + alternatives + b")*+")
            # (the walk to a leap steps over one token of the skip's at a time)
            _scanner._SKIP_ONES[head, scripting] = re.compile(b"(?:" + alternatives + b")")
        _scanner._FOREIGN_ROOT = re.compile(b"(?!)")

    def __exit__(self, *_: object) -> None:
        _scanner._SKIPS.update(self.saved[0])
        _scanner._SKIP_ONES.update(self.saved[1])
        _scanner._FOREIGN_ROOT = self.saved[2]


def _banner_plan() -> Injection:
    return plan(Site(make_policy(), receipts=None))  # banner and head tags, every vendor gated


def _rewrite(injection: Injection, body: bytes, cut: list[int]) -> bytes:
    return gate.fed(injection.rewriter(), body, cut)


def differences(
    make_page: Callable[[random.Random], bytes],
    seed: int,
    count: int,
    reference: AbstractContextManager[object],
    variants: Sequence[AbstractContextManager[object]] = (nullcontext(),),
) -> Iterator[str]:
    """Pages of ``make_page`` (seeded) whose edit, whole and cut into chunks, differs under
    one of ``variants`` (the scanner as it is, or with a shortcut forced) from the edit
    under ``reference`` (the shortcut switched off). (What the edits load, the oracle
    judges in :func:`assert_no_leaks`.)"""
    campaign = gate.Campaign()
    banner = _banner_plan()  # (the campaign's plan inserts nothing: this one places a banner)
    rng = random.Random(seed)
    for number in range(count):
        body = make_page(rng)
        cut = cuts(rng, body) if len(body) > 2 else []
        with reference:
            before = (campaign.rewrite(body), _rewrite(banner, body, cut))
        for index, variant in enumerate(variants):
            with variant:
                after = (campaign.rewrite(body), _rewrite(banner, body, cut))
            if after != before:
                yield f"{seed}/{number} (variant {index}): {body!r} cut at {cut}"
                break


@pytest.mark.parametrize("seed", [1, 2])
def test_skipping_small_elements_writes_what_reading_them_writes(seed: int) -> None:
    found = list(differences(page, seed, 400, _WithoutElementSkips()))
    assert found == [], "\n".join(found[:5])


@pytest.mark.parametrize("run", [1, 2])
def test_nested_elements_read_a_few_tokens_a_match_write_the_same(run: int) -> None:
    """The skip with nested SVG and MathML elements reads at most ``_DEEP_RUN`` tokens a
    match, then the usual skip reads on (a greedy repetition's memory grew with the page):
    with a run of one or two tokens it stops after nearly every token, and where it
    stops is always between two tokens."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_scanner, "_DEEP_RUN", run)
        patch.setattr(
            _scanner, "_DEEP_SKIPS", {kind: _scanner._skip(*kind, True) for kind in _scanner._SKIPS}
        )
        found = list(differences(page, 10 + run, 300, _WithoutElementSkips()))
    assert found == [], "\n".join(found[:5])


def matched_end(pattern: re.Pattern[bytes], body: bytes, at: int = 0) -> int:
    """Where ``pattern`` matched at ``at`` ends (the skips match everywhere, if only "")."""
    match = pattern.match(body, at)
    assert match is not None
    return match.end()


def assert_no_leaks(make_page: Callable[[random.Random], bytes], seed: int) -> None:
    """The oracle on 60 pages of ``make_page``, each cut into chunks at random."""
    campaign = gate.Campaign()
    rng = random.Random(seed)
    for _ in range(60):
        body = make_page(rng)
        out = campaign.rewrite(body, cuts(rng, body))
        try:
            leaks = oracle.leaks(out, campaign.blocked)
        except Exception:  # html5lib's own assertions fail on a few pages
            continue
        assert leaks == [], body


def test_pages_of_small_elements_load_no_tracker() -> None:
    """The oracle on a sample: the skip is judged by what the page does, too."""
    assert_no_leaks(page, 3)


@pytest.mark.parametrize(
    ("markup", "skipped"),
    [
        ("<svg></svg>", True),
        ("<svg/>", True),
        ("<svg class=a><g/><path d='M0 0'/></svg>", True),
        ("<svg><svg></svg></svg>", True),
        ("<svg><g><path></path></g></svg>", True),
        ("<math><mrow></mrow></math>", True),
        ("<title>x</title>", True),
        ("<textarea><p>x</textarea>", True),
        ("<noscript>x<b>y</b></noscript>", True),
        ("<svg a=b/>", False),  # the "/" is the value's: the svg stays open
        ("<svg><g a=b/></svg>", True),  # (and a child stays open, for "</svg>" to close)
        ("<svg><path d='M0'/><g a=\"1\" b/><g c=d></svg>", True),
        ("<svg><g><h></g></svg>", True),  # an end tag closes the elements inside too
        ("<svg><g></svg>", True),  # (the root's too, in the usual skip)
        ("<svg><g><path d='M0 0'></svg>", True),
        ("<svg><td><a href=/x></svg>", True),  # (no break-outs: foreign elements)
        ("<math><mrow><mn>1</mn></math>", True),
        ("<svg><g><desc>x</desc></svg>", True),
        ("<svg><svg></svg>", False),  # the inner one closes: the root stays open
        ("<math><math></math>", False),
        ("<svg><svg><g></svg>", False),
        ("<svg><g></br></svg>", False),  # "</br>" breaks out: read by the HTML rules
        ("<svg><g><desc>x</svg>", False),  # inside an integration point: HTML rules
        ("<svg><svg><g></svg></svg>", True),  # (the nearest of its name)
        ("<svg><g><p>x</p></g></svg>", True),  # a break-out ends them all: HTML again
        ("<svg><desc>x<!--y--></desc><foreignObject/></svg>", True),
        ("<math><mi></mi><mrow><mo>x</mo></mrow></math>", True),
        ("<noscript><!-- x --></noscript>", True),
        # Near misses: each changes what follows, or reading it may edit something.
        ("<svg><font color=red></font></svg>", False),
        ("<svg><desc><b></b></desc></svg>", False),  # HTML inside an integration point
        ("<svg><desc></svg>", False),
        ("<svg></g></svg>", False),  # an end tag that closes nothing reaches past the svg
        ("<svg><g></h></svg>", False),
        ("<svg><g></p></svg>", False),
        ("<svg><!--</body>--></svg>", False),
        ("<svg><![CDATA[x]]></svg>", False),
        ("<svg><script></script></svg>", False),
        ("<svg><style></style></svg>", False),
        ("<title></body></title>", False),
        ("<noscript><!--</noscript>--></noscript>", False),
        ("<noscript><!--</body>--></noscript>", False),
        ('<noscript><a title="<"></noscript>', False),
        ("<noscript><svg></svg></noscript>", False),
    ],
)
def test_what_the_skip_takes(markup: str, skipped: bool) -> None:
    low = markup.lower().encode()
    end = len(low)
    for (head, scripting), skip in _scanner._SKIPS.items():
        stop = matched_end(skip, low)
        if stop < end and _scanner._FOREIGN_ROOT.match(low, stop):
            stop = matched_end(_scanner._DEEP_SKIPS[head, scripting], low, stop)
        noscript = markup.startswith("<noscript")
        assert (stop == end) == (skipped and (scripting or not noscript)), (head, scripting)


def test_elements_are_skipped_only_at_the_plainest_state() -> None:
    """Inside <select>, or inside an open <svg>, the tags are read one by one: an SVG
    subtree's children are no foreign elements there, a raw-text element is read two ways."""
    campaign = gate.Campaign()
    for context in ("<select>", "<svg>", "<math><mi>", "<table><tr>"):
        for element in ("<svg><title></title></svg>", "<title><img src=x></title>"):
            body = (f"<!doctype html><body>{context}{element}<img src={PIXEL}></body>").encode()
            with _WithoutElementSkips():
                before = campaign.rewrite(body)
            assert campaign.rewrite(body) == before
            assert oracle.leaks(campaign.rewrite(body), campaign.blocked) == []


# -- inline scripts passed over by the prefilter's search for hosts -------------------------


@settings(max_examples=examples(400), deadline=None)
@given(
    st.lists(
        st.sampled_from([*prefilter.PIECES, "<script></script>", "<script>x</script>", " "]),
        max_size=16,
    ).map("".join)
)
def test_runs_of_plain_scripts_are_passed_over_exactly(page: str) -> None:
    """A run of plain inline scripts naming no host (``_PLAIN_SCRIPTS``) is passed over in
    one match: the hits are those of reading every script span."""
    body = page.encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_inject, "_PLAIN_SCRIPTS", re.compile(b"(?!)"))
        expected = prefilter.fresh().positions(body)
        spans = list(_inject._script_spans(body.lower()))
    assert prefilter.fresh().positions(body) == expected
    # The runs are made of whole spans: passing over one skips spans, never cuts one.
    passed = list(_inject._script_spans(body.lower(), lambda start, end: True))
    assert set(passed) <= set(spans)


@pytest.mark.parametrize("unit", [b"<!---->", b"<svg></svg>", b"<title></title>", b"<p>a</p><i>"])
def test_the_walk_to_a_leap_gives_up_on_small_tokens(unit: bytes) -> None:
    """The data state's walk towards a long stretch of ordinary markup (``_passed``) takes
    a few calls a token it stops at: over a page of small elements or comments (thousands
    of such tokens and no long stretch) it gives up after a few and the skip reads on, in
    one regex match (before, it stepped over every one: 22 -> 130 µs per KB of
    ``<!---->``)."""
    body = unit * 10_000 + b"<script>a=1</script>"
    window = _scanner._Window(body, True, [], None)
    steps = []
    run = _scanner._ORDINARY_RUN

    class Counting:
        def match(self, low: bytes, start: int, end: int) -> re.Match[bytes] | None:
            steps.append(end - start)
            return run.match(low, start, end)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_scanner, "_ORDINARY_RUN", Counting())
        at = _scanner._passed(window, 0, len(body), (False, True))
    assert len(steps) <= _scanner._WALK_SHORT + 1
    # Where it stopped, the skip reads on to where it would have read from the start.
    skip = _scanner._SKIPS[False, True]
    low = body.lower()
    assert matched_end(skip, low, at) == matched_end(skip, low) == len(body)
