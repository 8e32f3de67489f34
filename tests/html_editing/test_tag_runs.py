"""Tracker tags in a row and long tags: read as the data state read them one at a time.

Two shortcuts of ``cookieguard.html._scanner`` (issue 19 §3): the ordinary start tags that
hold the next hit and follow one another right away (tracker pixels in a row) are judged in
one loop (``Rewriter._ordinary_tags``), not each by a return to the data state; and where a
tag ends is found with ``bytes.find`` up to its first quote (``tag_end``), not by reading
every attribute with the regex. These tests generate pages of tracker tags (distinct ids and
hosts, blocked or not, copies of ``src``, long tags with quotes early, late or none, tags
with no ">") between the markup that makes the data state stop or skip, and check that the
rewriter writes the same bytes with both shortcuts as without them, whole and cut into
chunks, and that it loads no tracker.
"""

from __future__ import annotations

import random

import pytest

from cookieguard.html import _scanner
from tests.html_editing.test_leaps import OTHERS, ordinary
from tests.html_editing.test_small_elements import assert_no_leaks, differences

HOSTS = ("www.facebook.com/tr", "x.doubleclick.net/p", "example.com/i", "WWW.FACEBOOK.COM/tr")


def tracker_tag(rng: random.Random) -> str:
    """A tag naming a tracker (or a first party), short or long, well-formed or not."""
    name = rng.choice(("img", "img", "link", "iframe", "a", "input", "video", "IMG"))
    url = f"https://{rng.choice(HOSTS)}?id={rng.randrange(1000)}&ev=PageView"
    attrs = [rng.choice((f'src="{url}"', f"src={url}", f"href='{url}'", f"poster={url}"))]
    for _ in range(rng.choice((0, 1, 2, 80))):  # (80: longer than the regex reads first)
        attrs.insert(
            rng.randrange(len(attrs) + 1),
            rng.choice(("a=1", "b", 'c="x y"', "d='>'", "e = f", "=g", "h=", f"src={url}")),
        )
    sep = rng.choice((" ", "\n", " / ", "  "))
    close = rng.choice((">", ">", ">", "/>", " >", ""))
    return f"<{name} " + sep.join(attrs) + close


def page(rng: random.Random) -> bytes:
    parts = []
    for _ in range(rng.randrange(2, 30)):
        roll = rng.random()
        if roll < 0.6:
            parts.append(tracker_tag(rng))
        elif roll < 0.8:
            parts.append(ordinary(rng))
        else:
            parts.append(rng.choice(OTHERS))
        if rng.random() < 0.2:
            parts.append(rng.choice(("\n", "text", " ")))
    head = rng.choice(("<!doctype html><html><head>", "<!doctype html><title>t</title>", ""))
    tail = rng.choice(("</body></html>", "", "</main></body></html>"))
    return (head + "".join(parts) + tail).encode()


def _regex_tag_end(data: bytes, pos: int) -> int:
    m = _scanner._TAG_REST.match(data, pos)
    return -1 if m is None else m.end()


class _OneTagAtATime:
    """The scanner as it was: each tag back in the data state, its end read by the regex."""

    def __enter__(self) -> None:
        self.saved = (_scanner.Rewriter._ordinary_tags, _scanner.tag_end)
        _scanner.Rewriter._ordinary_tags = _scanner.Rewriter._plain_tag  # type: ignore[method-assign]
        _scanner.tag_end = _regex_tag_end

    def __exit__(self, *_: object) -> None:
        _scanner.Rewriter._ordinary_tags, _scanner.tag_end = self.saved  # type: ignore[method-assign]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tags_in_a_row_are_written_as_one_at_a_time(seed: int) -> None:
    found = list(differences(page, seed, 300, _OneTagAtATime()))
    assert found == [], "\n".join(found[:5])


def test_pages_of_tracker_tags_load_no_tracker() -> None:
    assert_no_leaks(page, 6)
