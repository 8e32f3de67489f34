"""The informed first layer, the cookie declaration (rows, HTML, JSON, endpoint, template helper),
per-cookie facts in the policy, and GPC shown as honoured. Pure tests, no browser."""

from __future__ import annotations

import json
import re
from typing import Any

import flask
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from cookieguard import Policy
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.core._consent import Consent
from cookieguard.core._policy import Category
from cookieguard.templates import declaration_html
from cookieguard.ui._banner import render_banner, render_dialog, render_preferences_page
from cookieguard.ui._declaration import (
    declaration,
    declaration_json,
    render_declaration,
    third_parties,
)
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware

KEY = "declaration-test-secret-0123456789"
UNDECIDED = Consent(False, frozenset(), None, 1)
GPC = Consent(False, frozenset(), None, 1, gpc=True)
EVIL = '<script>alert("x")</script>'
LIKEBOX = {
    "category": "preferences",
    "retention": "1 year",
    "max_age": 31536000,
    "provider": "this site",
    "purpose": {
        "en": "Keeps the photos you liked.",
        "de": "Speichert die Fotos, die Ihnen gefallen.",
    },
}


def make_policy(**overrides: Any) -> Policy:
    settings: dict[str, Any] = {
        "secret_keys": [KEY],
        "receipts": None,
        "cookies": {
            "likebox": LIKEBOX,
            "_ga": "analytics",
            "_ga_*": "analytics",
            "_fbp": "marketing",
            "site_ab": "analytics",
        },
        "storage": {
            "mp_*": "analytics",
            "draft": {"category": "preferences", "retention": "session"},
        },
        "privacy_url": "/privacy",
    }
    settings.update(overrides)
    return Policy(**settings)


def rows_by_name(policy: Policy) -> dict[str, Any]:
    return {row.name: row for row in declaration(policy)}


# -- the policy accepts facts per cookie -------------------------------------------------------


@pytest.mark.parametrize(
    ("cookies", "message"),
    [
        ({"likebox": {"retention": "1 year"}}, "unknown category None"),
        ({"likebox": {"category": "tracking"}}, "unknown category 'tracking'"),
        ({"likebox": {"category": "preferences", "ttl": 3}}, "unknown key(s) ['ttl']"),
        ({"likebox": {"category": "preferences", "max_age": -1}}, "max_age must be whole seconds"),
        ({"likebox": {"category": "preferences", "max_age": "1y"}}, "max_age must be whole"),
        ({"likebox": {"category": "preferences", "max_age": True}}, "max_age must be whole"),
        ({"likebox": {"category": "preferences", "retention": 3}}, "retention must be a string"),
        ({"likebox": {"category": "preferences", "provider": None}}, "provider must be a string"),
        ({"likebox": {"category": "preferences", "purpose": 3}}, "purpose must be a string"),
        ({"likebox": ["preferences"]}, "unknown category ['preferences']"),
    ],
)
def test_cookie_facts_are_validated_with_clear_errors(cookies: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Policy(secret_keys=[KEY], receipts=None, cookies=cookies)
    assert message in str(raised.value)
    with pytest.raises(ValueError) as raised:
        Policy(secret_keys=[KEY], receipts=None, storage=cookies)
    assert message in str(raised.value) and str(raised.value).startswith("storage")


def test_mapping_and_string_forms_gate_cookies_alike() -> None:
    policy = make_policy()
    assert policy.category_of("likebox") == "preferences"
    assert policy.category_of("_ga_XYZ") == "analytics"
    assert policy.storage == {"mp_*": "analytics", "draft": "preferences"}  # readers see categories
    assert policy.declared_cookies["likebox"].max_age == 31536000
    assert policy.declared_storage["draft"].retention == "session"


def test_from_toml_takes_inline_tables(tmp_path: Any) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[cookies]\nlikebox = { category = "preferences", retention = "1 year", '
        'max_age = 31536000, purpose = { en = "Likes", de = "Likes" } }\n_ga = "analytics"\n',
        encoding="utf-8",
    )
    policy = Policy.from_toml(path, secret_keys=[KEY])
    assert policy.declared_cookies["likebox"].purpose == {"en": "Likes", "de": "Likes"}
    assert policy.category_of("_ga") == "analytics"


# -- the declaration ---------------------------------------------------------------------------


def test_every_declared_cookie_and_storage_key_and_the_consent_cookie_are_listed() -> None:
    policy = make_policy()
    rows = declaration(policy)
    assert [row.name for row in rows] == [
        "cookie_consent",
        "likebox",
        "_ga",
        "_ga_*",
        "_fbp",
        "site_ab",
        "mp_*",
        "draft",
    ]
    by_name = rows_by_name(policy)
    consent = by_name["cookie_consent"]
    assert (consent.category, consent.provider, consent.max_age) == ("necessary", "", 183 * 86400)
    likebox = by_name["likebox"]
    assert (likebox.provider, likebox.retention, likebox.max_age) == ("", "1 year", 31536000)
    # Catalogued: the vendor and its documented retention.
    ga = by_name["_ga"]
    assert (ga.vendor, ga.provider, ga.max_age) == ("Google Analytics", "Google", 2 * 365 * 86400)
    assert by_name["_ga_*"].vendor == "Google Analytics"
    assert by_name["_fbp"].vendor == "Meta Pixel"
    assert by_name["mp_*"].storage and by_name["mp_*"].vendor == "Mixpanel"
    # Not catalogued, nothing declared: never guessed.
    assert (by_name["site_ab"].retention, by_name["site_ab"].max_age) == ("", None)


def test_the_catalogues_own_words_for_sessions_are_translated() -> None:
    data = declaration_json(make_policy(cookies={"__utmc": "analytics"}, storage={}), "fr")
    cookies = {c["name"]: c for cat in data["categories"] for c in cat["cookies"]}
    assert cookies["__utmc"]["retention"] == "Jusqu'à la fermeture du navigateur"


def test_declared_facts_win_over_the_catalogue() -> None:
    policy = make_policy(
        cookies={"_ga": {"category": "analytics", "max_age": 400 * 86400, "provider": "Acme"}}
    )
    row = rows_by_name(policy)["_ga"]
    assert (row.provider, row.max_age) == ("Acme", 400 * 86400)


def test_texts_in_the_visitors_language_and_not_declared_when_unknown() -> None:
    data = declaration_json(make_policy(), "de")
    assert data["language"] == "de" and data["consent_kept"] == "6 Monate"
    cookies = {c["name"]: c for cat in data["categories"] for c in cat["cookies"]}
    assert cookies["cookie_consent"]["purpose"] == "Speichert Ihre Cookie-Wahl."
    assert cookies["likebox"] == {
        "name": "likebox",
        "type": "cookie",
        "provider": "Diese Seite",
        "third_party": False,
        "purpose": "Speichert die Fotos, die Ihnen gefallen.",
        "retention": "1 Jahr",
        "max_age": 31536000,
    }
    assert cookies["_ga"]["provider"] == "Google Analytics (Google)"
    assert cookies["_ga"]["retention"] == "2 Jahre" and cookies["_ga"]["third_party"]
    # The category's description is the purpose when none is declared.
    assert cookies["site_ab"]["purpose"] == "Helfen uns zu verstehen, wie die Seite genutzt wird."
    assert cookies["site_ab"]["retention"] == "nicht angegeben"
    assert cookies["draft"]["retention"] == "Bis der Browser geschlossen wird"
    assert cookies["draft"]["type"] == "storage"
    assert cookies["mp_*"]["retention"] == "Bis Sie ihn löschen"  # the catalogue's "persistent"
    names = [cat["name"] for cat in data["categories"]]
    assert names == ["necessary", "preferences", "analytics", "marketing"]
    json.dumps(data)  # JSON-ready


def test_third_parties_are_named_by_the_catalogue_and_declared_hosts_as_written() -> None:
    policy = make_policy(
        categories=[
            Category("analytics", "Analytics", hosts=("www.google-analytics.com", "stats.example")),
            Category("marketing", "Marketing", sale_or_sharing=True),
            Category("preferences", "Preferences"),
        ],
        trackers=[{"name": "Hotjar"}, {"name": "Criteo", "disabled": True}],
    )
    parties = {party.name: party for party in third_parties(policy)}
    assert list(parties) == [
        "Google Analytics",
        "stats.example",
        "Hotjar",
        "Meta Pixel",
        "Mixpanel",
    ]
    assert parties["Google Analytics"].provider == "Google"
    assert parties["Google Analytics"].privacy_url.startswith("https://")
    assert parties["stats.example"].categories == ("analytics",)


def test_a_site_that_declares_itself_the_provider_names_no_third_party() -> None:
    policy = make_policy(
        cookies={"_ga": {"category": "analytics", "provider": "this site"}}, storage={}
    )
    assert third_parties(policy) == ()


def test_declaration_html_is_grouped_collapsible_escaped_and_unique_per_prefix() -> None:
    policy = make_policy(
        cookies={"likebox": {"category": "preferences", "purpose": EVIL, "provider": EVIL}},
        storage={},
    )
    html = render_declaration(policy, "en", heading_level=3, id_prefix="x")
    assert html.startswith('<section class="cg-declaration" aria-labelledby="x-title">')
    assert '<h3 id="x-title">Cookie declaration</h3>' in html
    assert html.count("<details ") == 4 and "open" not in html
    assert "Preferences (1)</summary>" in html
    assert "Marketing (0)</summary>" in html and "No cookies in this category." in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<th scope="row"><code>likebox</code></th>' in html
    # Tables are named by their summary; long names may wrap on a phone.
    assert '<table class="cg-cookies" aria-labelledby="x-preferences-summary">' in html
    assert '<summary id="x-preferences-summary">' in html
    assert "<code>cookie_<wbr>consent</code>" in html
    assert render_declaration(policy, "en", open_categories=True).count(" open>") == 4
    with pytest.raises(ValueError, match="heading_level"):
        render_declaration(policy, "en", heading_level=7)


# -- the first layer informs ----------------------------------------------------------------------


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_the_first_layer_names_purposes_parties_retention_withdrawal_and_the_privacy_policy() -> (
    None
):
    html = render_banner(make_policy(), UNDECIDED, language="en", next_path="/")
    plain = text_of(html)
    for description in (
        "Preferences: Remember your settings and choices on this site.",
        "Analytics: Help us understand how the site is used, so we can improve it.",
        "Marketing: Used by advertising partners to show you relevant ads.",
    ):
        assert description in plain
    # Grouped by category, in the policy's order of categories (issue 24).
    assert "Third parties involved: Analytics: Google Analytics, " in plain
    assert "Mixpanel" in plain.split("Analytics: Google Analytics")[1].split("Marketing:")[0]
    assert "; Marketing: Meta Pixel" in plain
    assert "We keep your choice for 6 months, then ask again." in plain
    assert "withdraw your choice at any time in the Cookie settings." in plain
    assert '<a href="/privacy">Privacy policy</a>' in html
    # Still three equal buttons.
    assert len(re.findall(r'<button type="submit" class="cg-button"', html)) == 3
    assert 'lang="en" dir="ltr"' in html
    assert "Global Privacy Control" not in html


def test_a_site_without_optional_categories_says_so_and_names_no_purposes() -> None:
    policy = Policy(secret_keys=[KEY], receipts=None, categories=[Category("necessary", "Needed")])
    html = render_banner(policy, UNDECIDED, language="en", next_path="/")
    assert "We use only necessary cookies" in html and "cg-purposes" not in html
    assert "Third parties" not in html


@pytest.mark.parametrize(("language", "direction"), [("ar", "rtl"), ("he", "rtl"), ("pl", "ltr")])
def test_markup_carries_lang_and_dir(language: str, direction: str) -> None:
    policy = make_policy()
    consent = Consent(True, frozenset(), "c" * 22, 1)
    attrs = f'lang="{language}" dir="{direction}"'
    assert attrs in render_banner(policy, UNDECIDED, language=language, next_path="/")
    assert attrs in render_dialog(policy, consent, language=language, next_path="/")
    page = render_preferences_page(
        policy, consent, language=language, next_path="/", history=(), version="v"
    )
    assert page.startswith(f"<!doctype html><html {attrs}>")


def test_a_label_without_a_description_and_a_category_the_site_lacks() -> None:
    policy = make_policy(
        categories=[Category("analytics", "Stats"), Category("preferences", "Prefs")],
        cookies={"_fbp": "analytics"},
        storage={},
    )
    html = render_banner(policy, UNDECIDED, language="en", next_path="/")
    assert "<li><b>Stats</b></li>" in html
    assert "Stats: Meta Pixel" in html  # the site's category, not the catalogue's


# -- GPC shown as honoured ---------------------------------------------------------------


def test_gpc_is_shown_as_honoured_and_its_categories_locked_off() -> None:
    policy = make_policy()
    banner = render_banner(policy, GPC, language="en", next_path="/", gpc=True)
    assert "Opt-out preference signal honoured" in banner
    assert "so Marketing stay off." in text_of(banner)
    for html in (
        render_dialog(policy, GPC, language="en", next_path="/"),
        render_preferences_page(policy, GPC, language="en", next_path="/", history=(), version="v"),
    ):
        assert "Opt-out preference signal honoured" in html
        switch = re.search(r'<input [^>]*id="cg-c-marketing"[^>]*>', html)
        assert switch is not None
        assert "disabled" in switch.group(0) and "checked" not in switch.group(0)
        assert 'name="category"' not in switch.group(0)
        assert "(Off: Global Privacy Control)" in html
        analytics = re.search(r'<input [^>]*id="cg-c-analytics"[^>]*>', html)
        assert analytics is not None and "disabled" not in analytics.group(0)
    plain = render_preferences_page(
        policy, UNDECIDED, language="en", next_path="/", history=(), version="v"
    )
    assert "Global Privacy Control" not in plain


def test_preferences_page_and_dialog_embed_the_declaration_once_each() -> None:
    policy = make_policy()
    consent = Consent(True, frozenset({"analytics"}), "c" * 22, 1)
    page = render_preferences_page(
        policy, consent, language="fr", next_path="/", history=(), version="v"
    )
    dialog = render_dialog(policy, consent, language="fr", next_path="/")
    assert page.count('class="cg-declaration"') == 1 and dialog.count('class="cg-declaration"') == 1
    assert 'id="cg-decl-title"' in page and 'id="cg-dialog-decl-title"' in dialog
    assert '<h2 id="cg-decl-title">Liste des cookies</h2>' in page
    assert '<h3 id="cg-dialog-decl-title">' in dialog
    assert "Nous conservons votre choix pendant 6 mois" in page


# -- {prefix}/cookies and the template helper -------------------------------------------


def starlette_app(policy: Policy) -> Starlette:
    async def privacy(request: Request) -> HTMLResponse:
        return HTMLResponse(f"<main>{declaration_html(request.scope)}</main>")

    app = Starlette(routes=[Route("/privacy", privacy)])
    app.add_middleware(AsgiMiddleware, policy=policy)
    return app


def flask_app(policy: Policy) -> flask.Flask:
    app = flask.Flask("declared")

    @app.route("/privacy")
    def privacy() -> str:
        return f"<main>{declaration_html(flask.request.environ)}</main>"

    app.wsgi_app = WsgiMiddleware(app.wsgi_app, policy)  # type: ignore[method-assign]
    return app


def test_cookies_endpoint_answers_json_in_the_visitors_language_on_both_adapters() -> None:
    policy = make_policy()
    asgi = TestClient(starlette_app(policy))
    wsgi = flask_app(policy).test_client()
    for get in (asgi.get, wsgi.get):
        reply = get("/_cookieguard/cookies", headers={"Accept-Language": "pl-PL,en;q=0.5"})
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "application/json; charset=utf-8"
        assert "Accept-Language" in reply.headers["vary"]
        data = json.loads(reply.data if hasattr(reply, "data") else reply.content)
        assert data["language"] == "pl" and data["consent_kept"] == "6 miesięcy"
        assert data == declaration_json(policy, "pl")
        chosen = get("/_cookieguard/cookies?lang=de", headers={"Accept-Language": "pl"})
        assert (
            json.loads(chosen.data if hasattr(chosen, "data") else chosen.content)["language"]
            == "de"
        )
        unknown = get("/_cookieguard/cookies?lang=xx")
        assert (
            json.loads(unknown.data if hasattr(unknown, "data") else unknown.content)["language"]
            == "en"
        )
    assert asgi.post("/_cookieguard/cookies").status_code == 405


def test_the_template_helper_renders_the_declaration_for_the_request() -> None:
    policy = make_policy()
    html = TestClient(starlette_app(policy)).get("/privacy", headers={"Accept-Language": "he"}).text
    assert "הצהרת עוגיות" in html and "<code>likebox</code>" in html
    reply = flask_app(policy).test_client().get("/privacy", headers={"Accept-Language": "sv"})
    assert "Förteckning över kakor" in reply.get_data(as_text=True)
    assert declaration_html({}) == ""
    assert declaration_html({"type": "http", "path": "/"}) == ""

    async def chosen(request: Request) -> HTMLResponse:
        return HTMLResponse(declaration_html(request.scope, language="fi", open_categories=True))

    app = Starlette(routes=[Route("/chosen", chosen)])
    app.add_middleware(AsgiMiddleware, policy=policy)
    html = TestClient(app).get("/chosen", headers={"Accept-Language": "de"}).text
    assert "Evästeseloste" in html and html.count(" open>") == 4
    static = declaration_html(policy, language="it", heading_level=3)
    assert "<h3 " in static and "Elenco dei cookie" in static
    assert "Cookie declaration" in declaration_html(policy, language="xx")


def test_the_injected_banner_says_gpc_was_honoured_only_to_gpc_browsers() -> None:
    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<html><body><main>shop</main></body></html>")

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(AsgiMiddleware, policy=make_policy())
    client = TestClient(app)
    plain = client.get("/").text
    signalled = client.get("/", headers={"Sec-GPC": "1"}).text
    again = client.get("/").text
    assert "Global Privacy Control" not in plain and "Global Privacy Control" not in again
    assert "Opt-out preference signal honoured" in signalled
