"""Layouts chosen in the Policy (issue 24 part 4): validated at construction, rendered as
classes banner.css styles (no inline style), the same form in every layout."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cookieguard import Policy
from cookieguard.core._consent import UNDECIDED
from cookieguard.ui._banner import render_banner, render_dialog

KEYS = ["k" * 32]


def banner_class(**options: Any) -> str:
    html = render_banner(
        Policy(secret_keys=KEYS, **options), UNDECIDED, language="en", next_path="/"
    )
    found = re.search(r'<section id="cookie-consent" class="([^"]+)"', html)
    assert found is not None and "style=" not in html
    return found.group(1)


@pytest.mark.parametrize(
    ("options", "classes"),
    [
        ({}, "cg-banner cg-bar"),
        ({"position": "top"}, "cg-banner cg-bar cg-top"),
        ({"layout": "box"}, "cg-banner cg-box"),
        ({"layout": "box", "position": "top-start"}, "cg-banner cg-box cg-top-start"),
        ({"layout": "modal"}, "cg-banner cg-modal"),
        ({"scheme": "dark"}, "cg-banner cg-bar cg-dark"),
        ({"layout": "box", "scheme": "light"}, "cg-banner cg-box cg-light"),
    ],
)
def test_layout_classes(options: dict[str, object], classes: str) -> None:
    assert banner_class(**options) == classes


def test_the_positions_default_per_layout() -> None:
    assert Policy(secret_keys=KEYS).position == "bottom"
    assert Policy(secret_keys=KEYS, layout="box").position == "bottom-end"
    assert Policy(secret_keys=KEYS, layout="modal").position == "center"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "cloud"}, "layout 'cloud' is not one of 'bar', 'box', 'modal'"),
        ({"layout": "box", "position": "top"}, "position 'top' does not fit layout 'box'"),
        ({"layout": "modal", "position": "bottom"}, "use one of 'center'"),
        ({"scheme": "sepia"}, "scheme 'sepia' is not 'auto', 'light' or 'dark'"),
    ],
)
def test_bad_layouts_say_what_to_change(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Policy(secret_keys=KEYS, **options)  # type: ignore[arg-type]


def test_a_forced_scheme_reaches_the_dialog() -> None:
    policy = Policy(secret_keys=KEYS, scheme="dark")
    html = render_dialog(policy, UNDECIDED, language="en", next_path="/")
    assert 'class="cg-dialog cg-dark"' in html
