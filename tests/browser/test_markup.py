"""The banner's server side without a browser: markup, escaping, languages, size, Chromium."""

from __future__ import annotations

import os
import re
import shutil
import string
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cookieguard import Policy
from cookieguard.core._consent import Consent
from cookieguard.core._i18n import TEXTS, negotiate, text
from cookieguard.core._policy import DEFAULT_CATEGORIES, Category
from cookieguard.html._inject import _CONTRACT_NAMES, _URL_ATTRIBUTES
from cookieguard.receipts import Receipt
from cookieguard.testing import _browser
from cookieguard.ui._banner import (
    asset_tags,
    render_banner,
    render_dialog,
    render_preferences_page,
)

ROOT = Path(__file__).resolve().parents[2]
KEY = "markup-test-secret-0123456789"
UNDECIDED = Consent(False, frozenset(), None, 1)
EVIL = '"><script>alert(1)</script><x y="'


def make_policy(**overrides: object) -> Policy:
    return Policy(secret_keys=[KEY], receipts=None, **overrides)  # type: ignore[arg-type]


def everything(policy: Policy, language: str = "en", next_path: str = "/") -> str:
    consent = Consent(True, frozenset({"analytics"}), "c" * 22, 1)
    receipt = Receipt(
        consent_id="c" * 22,
        time=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        granted=("analytics",),
        denied=("marketing", "preferences"),
        revision=1,
        language=language,
        method="banner",
        path="/",
        user_agent="test",
    )
    return "".join(
        (
            render_banner(policy, UNDECIDED, language=language, next_path=next_path),
            render_dialog(policy, consent, language=language, next_path=next_path),
            render_preferences_page(
                policy,
                consent,
                language=language,
                next_path=next_path,
                history=[receipt],
                version="abc",
            ),
        )
    )


def test_every_language_has_every_text_with_the_same_placeholders() -> None:
    def fields(value: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(value) if name}

    for language, texts in TEXTS.items():
        assert texts.keys() == TEXTS["en"].keys(), language
        for key, value in texts.items():
            assert value.strip(), (language, key)
            assert fields(value) == fields(TEXTS["en"][key]), (language, key)


def test_text_and_negotiate_fall_back_to_english() -> None:
    assert text("xx", "accept_all") == "Accept all"
    assert text("de", "accept_all") == "Alle akzeptieren"
    assert negotiate("de-DE,de;q=0.9", ("en", "de", "fr")) == "de"
    assert negotiate("fr-CA", ("en", "de", "fr")) == "fr"
    assert negotiate("ja", ("en", "de")) == "en"
    assert negotiate(None, ("en",)) == "en"


def test_banner_is_a_real_form_with_three_equal_buttons() -> None:
    html = render_banner(make_policy(), UNDECIDED, language="en", next_path="/photos?page=2")
    assert html.startswith('<section id="cookie-consent"')
    assert '<form method="post" action="/_cookieguard/consent">' in html
    buttons = re.findall(r"<button [^>]*>[^<]*</button>", html)
    assert len(buttons) == 3
    assert all('class="cg-button"' in b for b in buttons)
    for action in ("accept_all", "reject_all", "customize"):
        assert f'data-cookieguard-action="{action}"' in html
    # Customize without JavaScript: a GET to the preferences page, carrying next.
    assert 'formmethod="get" formaction="/_cookieguard/preferences"' in html
    assert 'name="next" value="/photos?page=2"' in html
    assert 'href="/_cookieguard/preferences?next=/photos%3Fpage%3D2"' in html
    # The purposes, each with its description (the informed first layer).
    for label in ("Preferences", "Analytics", "Marketing"):
        assert re.search(rf"<li[^>]*>(<[^>]+>)*{label}", html), label
    assert "withdraw your choice at any time in the <a " in html
    assert re.search(r"<p [^>]*data-cookieguard-note hidden>", html)


def test_banner_names_third_parties_and_privacy_page() -> None:
    policy = make_policy(
        categories=[
            Category("analytics", "Analytics", hosts=("stats.example",)),
            Category("ads", {"en": "Ads", "de": "Werbung"}, hosts=("ads.example", "stats.example")),
        ],
        privacy_url="/privacy?a=1&b=2",
    )
    html = render_banner(policy, UNDECIDED, language="de", next_path="/")
    assert (
        # Grouped by category (issue 24): a host declared twice is named under the first.
        "Beteiligte Drittanbieter: Analytics: stats.example; Werbung: ads.example." in html
    )
    assert '<a href="/privacy?a=1&amp;b=2">Datenschutzerklärung</a>' in html
    assert "Statistik" not in html  # custom categories replace the defaults


def test_labels_per_language_fall_back_to_english_and_are_never_blank() -> None:
    policy = make_policy(
        categories=[
            Category("stats", {"en": "Statistics", "fr": ""}, {"en": "Counts visits."}),
            Category("video", {"de": "Videos"}),
        ]
    )
    html = everything(policy, language="fr")
    assert "Statistics" in html and "Counts visits." in html and "Videos" in html
    assert 'lang="fr"' in html and "Tout accepter" in html
    assert "<p></p>" not in html and "<label" in html
    assert 'id="cg-d-video"' not in html  # no description: no empty paragraph, no describedby
    assert 'aria-describedby="cg-d-video"' not in html


def test_every_category_has_a_labelled_switch_and_necessary_is_locked() -> None:
    html = render_dialog(make_policy(), UNDECIDED, language="en", next_path="/")
    for category in DEFAULT_CATEGORIES:
        assert f'<label for="cg-c-{category.name}">' in html
        assert f'role="switch" class="cg-switch" id="cg-c-{category.name}"' in html
    assert 'id="cg-c-necessary" checked disabled' in html
    assert 'name="category" value="necessary"' not in html
    assert html.count(" checked") == 1  # only necessary: nothing optional is pre-ticked
    assert '<form method="dialog" class="cg-close">' in html


def test_everything_is_escaped() -> None:
    policy = make_policy(
        categories=[Category("stats", f"Stats {EVIL}", {"en": f"Desc {EVIL}", "de": "x"})],
    )
    html = everything(policy, next_path=f"/q?{EVIL}")
    assert "<script>" not in html.replace("<script src=", "")
    assert "<x " not in html
    assert "&lt;script&gt;" in html and "&quot;&gt;" in html


def test_no_inline_script_or_style_anywhere() -> None:
    html = everything(make_policy(privacy_url="/privacy")) + asset_tags(make_policy(), "v1")
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no event-handler attributes
    for script in re.findall(r"<script[^>]*>", html):
        assert " src=" in script
    assert "javascript:" not in html


def test_banner_js_gives_back_renamed_attributes_but_never_its_own() -> None:
    """banner.js restores any ``data-cookieguard-<name>`` of a gated element as ``<name>``,
    except the contract's own names: every one the package writes must be excluded, and no
    attribute the rewriter renames may be."""
    source = (ROOT / "static" / "banner-more.js").read_text("utf-8")
    found = re.search(r"/\^data-cookieguard-\(\?!\(([a-z|]+)\)\$\)/", source)
    assert found is not None, "banner-more.js's `renamed` pattern changed shape"
    excluded = set(found.group(1).split("|"))
    written: set[str] = set()
    for path in (ROOT / "src" / "cookieguard").rglob("*.py"):
        written |= set(re.findall(r"data-cookieguard-([a-z]+(?:-[a-z]+)*)", path.read_text()))
    renamed = {name.decode() for name in _URL_ATTRIBUTES} | {"style", "content"}
    # A renamed attribute whose name the contract uses is written data-cookieguard-url-<name>.
    contract = {name.decode() for name in _CONTRACT_NAMES}
    assert "url" in excluded and contract <= excluded
    assert written - renamed - excluded == set()
    assert excluded & (renamed - contract) == set()


def test_size_report_is_within_budget() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "size_report.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "banner.js" in result.stdout and "banner.css" in result.stdout
    over = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "size_report.py"), "--budget", "100"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert over.returncode == 1 and "over budget" in over.stderr


def test_chromium_executable_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COOKIEGUARD_CHROMIUM", "/opt/chromium/chrome")
    assert _browser.chromium_executable() == "/opt/chromium/chrome"
    assert _browser.launch_args()["executable_path"] == "/opt/chromium/chrome"


def test_chromium_falls_back_to_path_then_to_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COOKIEGUARD_CHROMIUM", raising=False)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    found = {"chromium-browser": "/snap/bin/chromium-browser"}
    monkeypatch.setattr(shutil, "which", found.get)
    assert _browser.chromium_executable() == "/snap/bin/chromium-browser"
    found.clear()
    assert _browser.chromium_executable() is None
    assert "executable_path" not in _browser.launch_args()


@pytest.mark.parametrize(("uid", "sandboxed"), [(0, False), (1000, True)])
def test_launch_args_drop_the_sandbox_only_for_root(
    monkeypatch: pytest.MonkeyPatch, uid: int, sandboxed: bool
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: uid, raising=False)
    options = _browser.launch_args()
    assert options["headless"] is True
    assert ("--no-sandbox" not in options["args"]) is sandboxed
    assert "--disable-background-networking" in options["args"]
