"""The editor's pass-through of a streamed page under a tracker gate (issue 26): stretches
the prefilter finds no blocked host in go out unscanned, as they arrive, unless an element an
edit could still land on is open at their end; a blocked host hands the page to the rewriter.
Whatever the cuts, the bytes are the whole body's edit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cookieguard.html._inject import Editor, Injection
from tests.html_editing import test_gate_markup
from tests.html_editing.test_gate_markup import FBEVENTS, PIXEL

# Without the page memo: the whole edit must not answer for the streamed one, or back.
PLAN = replace(test_gate_markup.PLAN, memo=None)

PAD = b" " * 1100  # the editor holds a body's first KB to read its charset
ROWS = b'<p class="row">row</p>\n' * 500


def _page(markup: bytes) -> bytes:
    return b"<!doctype html><html><head><title>t</title></head><body>" + markup + b"</body></html>"


def _streamed(
    body: bytes, cuts: list[int], injection: Injection = PLAN
) -> tuple[Editor, list[bytes]]:
    editor = injection.injector()
    outs, start = [], 0
    for cut in cuts:
        outs.append(editor.feed(body[start:cut]))
        start = cut
    outs.append(editor.feed_last(body[start:]))
    return editor, outs


def _every_cut(body: bytes, start: int) -> list[list[int]]:
    """The pad alone first, then one cut at each byte from ``start`` on."""
    return [[len(PAD), cut] for cut in range(max(start, len(PAD) + 1), len(body))]


def test_a_page_naming_no_blocked_host_goes_out_as_it_arrives_unscanned() -> None:
    body = _page(ROWS * 4)
    cuts = list(range(4096, len(body), 4096))
    editor, outs = _streamed(body, cuts)
    assert b"".join(outs) == PLAN.rewrite(body)
    assert editor._rewriter is None  # never tokenized
    sent = 0
    for index, out in enumerate(outs[:-1]):
        sent += len(out)
        # Everything that arrived but a tag cut short at the end of its chunk.
        assert sent >= (index + 1) * 4096 - len(b'<p class="row">')


def test_a_tracker_after_a_long_prefix_is_gated_and_the_prefix_went_out_before() -> None:
    body = _page(ROWS + f'<img src="{PIXEL}">'.encode() + ROWS)
    at = body.index(b"<img")
    cuts = list(range(4096, len(body), 4096))
    editor, outs = _streamed(body, cuts)
    assert b"".join(outs) == PLAN.rewrite(body) != body
    assert editor._rewriter is not None  # it took over at the tracker
    before = sum(len(out) for out, cut in zip(outs, cuts, strict=False) if cut < at)
    assert before >= (at // 4096) * 4096 - len(b'<p class="row">')


def test_an_inline_script_waits_for_its_end_before_its_start_tag_goes_out() -> None:
    script = b"<script>var a = 1;\n" + b"a += 1;\n" * 1500 + f"var u = '{FBEVENTS}';".encode()
    body = _page(ROWS + script + b"</script>" + ROWS)
    start = body.index(b"<script>")
    cuts = list(range(4096, len(body), 4096))
    _, outs = _streamed(body, cuts)
    assert b"".join(outs) == PLAN.rewrite(body) != body
    sent = b"".join(outs[: body.index(FBEVENTS.encode()) // 4096])
    assert b"<script" not in sent and len(sent) <= start


@pytest.mark.parametrize(
    "markup",
    [
        # A ">" inside a quoted value, the tag still open where the chunk ends.
        f'<img alt="a>b" title=\'c>d\' data-x = "e>f" src="{PIXEL}">',
        f"<img alt=x>y src={PIXEL}>",
        # Script data that an escape keeps open past a "</script>".
        f"<script><!--<script></script>x = '{FBEVENTS}';</script>",
        f"<style>a{{}}</styl></style><style>@import '{PIXEL}';</style>",
        f"<script src='{FBEVENTS}'></script>",
        # A host named without "//" is found only by the search of inline scripts, which
        # a stretch with no "<script" leaves out (the pass-through's own search saw none).
        f"<p>a</p><script>var u = '{FBEVENTS.split('//')[1]}';</script>",
        # Readings another way: a later tracker may change how they are closed.
        f"<noscript><p title='</noscript>'></noscript><img src={PIXEL}>",
        f"<select><textarea><p title='</textarea>'></textarea></select><img src={PIXEL}>",
        f"<svg><![CDATA[<p title=']]>'>]]></svg><img src={PIXEL}>",
        f"<math><style><!--</style>--></style></math><img src={PIXEL}>",
    ],
)
def test_every_cut_of_a_gated_page_gives_the_whole_body_edit(markup: str) -> None:
    body = PAD + _page(markup.encode())
    whole = PLAN.rewrite(body)
    for cuts in _every_cut(body, len(PAD) + 40):
        assert b"".join(_streamed(body, cuts)[1]) == whole, cuts


@pytest.mark.parametrize(
    "markup",
    [
        '<img alt="a>b" src="/img/1.jpg">',
        "<script>var x = '<!--<script>';</script>",
        "<!-- </body> --><p>after</p>",
        "<noscript><img src=/pixel.gif></noscript><svg><circle/></svg>",
    ],
)
def test_every_cut_of_a_page_naming_no_blocked_host_gives_the_whole_body_edit(
    markup: str,
) -> None:
    body = PAD + _page(markup.encode() + ROWS[:2000])
    whole = PLAN.rewrite(body)
    for cuts in _every_cut(body, len(PAD) + 40):
        assert b"".join(_streamed(body, cuts)[1]) == whole, cuts


def test_a_tracker_arriving_after_the_closing_body_is_gated() -> None:
    """Past the first ``</body`` nothing more goes out before the end, and the pieces that
    arrive meanwhile are prefiltered all the same (the body is not searched again whole)."""
    after = ROWS + f'<script src="{FBEVENTS}"></script>'.encode() + ROWS
    body = _page(ROWS)[: -len(b"</html>")] + after + b"</html>"
    cuts = list(range(4096, len(body), 4096))
    # "</body>" in one piece, the tracker in a later one, and more pieces after that.
    assert body.index(b"</body>") // 4096 < body.index(FBEVENTS.encode()) // 4096 < len(cuts)
    _, outs = _streamed(body, cuts)
    assert b"".join(outs) == PLAN.rewrite(body) != body
