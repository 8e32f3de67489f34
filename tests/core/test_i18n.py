"""Translations: every shipped language has every text, category text and duration unit, with the
same placeholders as English; negotiation picks them; Arabic and Hebrew are right to left."""

from __future__ import annotations

import json
import string
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from cookieguard import Policy
from cookieguard.core._consent import Consent
from cookieguard.core._i18n import (
    CATEGORY_TEXTS,
    DIRECTIONS,
    NAMES,
    SHIPPED,
    TEXTS,
    UNITS,
    direction,
    negotiate,
    text,
)
from cookieguard.core._policy import DEFAULT_CATEGORIES
from cookieguard.templates import declaration_html
from cookieguard.ui._banner import render_banner
from cookieguard.ui._declaration import duration, plural

UNDECIDED = Consent(False, frozenset(), None, 1)

#: The 24 official languages of the EU, plus Norwegian, Turkish, Ukrainian, Arabic and Hebrew.
EU = [
    *("bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr"),
    *("hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"),
]
MORE = ["nb", "tr", "uk", "ar", "he"]
RTL = {"ar", "he"}
UNIT_NAMES = {"year", "month", "day", "hour", "minute"}
# The plural forms each language's CLDR rule can return for whole numbers.
FORMS = {
    "one_other": {"one", "other"},
    "lv": {"zero", "one", "other"},
    "lt": {"one", "few", "other"},
    "pl": {"one", "few", "many"},
    "uk": {"one", "few", "many"},
    "hr": {"one", "few", "other"},
    "cs": {"one", "few", "other"},
    "sk": {"one", "few", "other"},
    "sl": {"one", "two", "few", "other"},
    "ro": {"one", "few", "other"},
    "ga": {"one", "two", "few", "many", "other"},
    "mt": {"one", "two", "few", "many", "other"},
    "ar": {"zero", "one", "two", "few", "many", "other"},
    "he": {"one", "two", "other"},
}


def fields(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


def locale_files() -> dict[str, dict[str, object]]:
    folder = resources.files("cookieguard").joinpath("locales")
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def test_every_official_eu_language_and_more_are_shipped() -> None:
    assert set(EU + MORE) <= set(SHIPPED)
    assert SHIPPED[0] == "en"
    assert set(locale_files()) == set(SHIPPED)
    assert len(SHIPPED) >= 29


@pytest.mark.parametrize("language", sorted(set(EU + MORE)))
def test_every_language_has_every_key_with_the_same_placeholders(language: str) -> None:
    data = locale_files()[language]
    texts = data["texts"]
    assert isinstance(texts, dict)
    english = locale_files()["en"]["texts"]
    assert isinstance(english, dict)
    assert texts.keys() == english.keys(), set(texts) ^ set(english)
    for key, value in texts.items():
        assert isinstance(value, str) and value.strip(), key
        assert fields(value) == fields(english[key]), (language, key)
    # The merged table too (the literal TEXTS in _i18n.py may override a key, never drop one).
    assert TEXTS[language].keys() >= TEXTS["en"].keys()
    for key, value in TEXTS[language].items():
        assert fields(value) == fields(TEXTS["en"][key]), (language, key)


@pytest.mark.parametrize("language", sorted(set(EU + MORE)))
def test_every_language_names_the_default_categories_and_every_unit(language: str) -> None:
    for category in DEFAULT_CATEGORIES:
        for field in ("label", "description"):
            assert CATEGORY_TEXTS[category.name][field][language].strip(), (category.name, field)
    assert NAMES[language].strip()
    assert set(UNITS[language]) == UNIT_NAMES
    rule = language if language in FORMS else "one_other"
    for unit, forms in UNITS[language].items():
        assert set(forms) >= FORMS[rule], (unit, FORMS[rule] - set(forms))
        assert "other" in forms or rule in ("pl", "uk")
        for form in forms.values():
            assert fields(form) <= {"n"}, (unit, form)
    for days in (1, 2, 3, 5, 6, 11, 13, 21, 183, 395, 730, 36500):
        rendered = duration(language, days * 86400)
        assert rendered.strip() and "{" not in rendered


def test_direction_is_rtl_for_arabic_and_hebrew_only() -> None:
    assert {lang for lang, way in DIRECTIONS.items() if way == "rtl"} == RTL
    assert direction("ar") == "rtl" and direction("he") == "rtl"
    assert direction("de") == "ltr" and direction("xx") == "ltr"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-AT,de;q=0.9,en;q=0.5", "de"),
        ("pl-PL", "pl"),
        ("ga-IE,en;q=0.5", "ga"),
        ("he-IL", "he"),
        ("ar-EG,ar;q=0.9", "ar"),
        ("nb-NO,nb;q=0.9,no;q=0.8", "nb"),
        ("ja-JP,ja;q=0.9", "en"),  # not shipped: English
        ("zz, *;q=0.1", "en"),
        ("", "en"),
    ],
)
def test_the_default_policy_negotiates_every_shipped_language(header: str, expected: str) -> None:
    policy = Policy(secret_keys=["i18n-test-secret-0123456789"], receipts=None)
    assert tuple(policy.languages) == SHIPPED
    assert negotiate(header, policy.languages) == expected


def test_a_site_can_limit_its_languages_and_english_stays_the_fallback() -> None:
    policy = Policy(secret_keys=["i18n-test-secret-0123456789"], languages=["de"], receipts=None)
    assert policy.languages == ("en", "de")
    assert negotiate("fr-FR", policy.languages) == "en"
    assert text("xx", "accept_all") == "Accept all"  # unknown language: English per message


@pytest.mark.parametrize(
    ("language", "n", "form"),
    [
        ("en", 1, "one"),
        ("en", 0, "other"),
        ("fr", 0, "one"),
        ("pl", 2, "few"),
        ("pl", 5, "many"),
        ("pl", 22, "few"),
        ("pl", 12, "many"),
        ("uk", 21, "one"),
        ("uk", 11, "many"),
        ("cs", 3, "few"),
        ("cs", 5, "other"),
        ("lv", 10, "zero"),
        ("lv", 21, "one"),
        ("lt", 11, "other"),
        ("lt", 22, "few"),
        ("sl", 102, "two"),
        ("ro", 13, "few"),
        ("ro", 20, "other"),
        ("ga", 7, "many"),
        ("mt", 11, "many"),
        ("ar", 0, "zero"),
        ("ar", 13, "many"),
        ("ar", 100, "other"),
        ("he", 2, "two"),
    ],
)
def test_cldr_plural_rules(language: str, n: int, form: str) -> None:
    assert plural(language, n) == form


@pytest.mark.parametrize(
    ("language", "seconds", "expected"),
    [
        ("en", 183 * 86400, "6 months"),  # the default consent lifetime
        ("en", 395 * 86400, "13 months"),  # CNIL's audience-measurement maximum
        ("en", 365 * 86400, "1 year"),
        ("en", 2 * 365 * 86400, "2 years"),
        ("en", 90 * 86400, "3 months"),
        ("en", 366 * 86400, "1 year"),  # twelve months, give or take a leap day
        ("en", 40 * 86400, "40 days"),  # not within three days of a whole month
        ("en", 86400, "1 day"),
        ("en", 7 * 86400, "7 days"),
        ("en", 3600, "1 hour"),
        ("en", 60, "1 minute"),
        ("en", 30, "1 minute"),
        ("de", 183 * 86400, "6 Monate"),
        ("pl", 183 * 86400, "6 miesięcy"),
        ("pl", 2 * 365 * 86400, "2 lata"),
        ("cs", 3 * 30 * 86400, "3 měsíce"),
        ("he", 2 * 365 * 86400, "שנתיים"),
        ("ar", 365 * 86400, "سنة واحدة"),
    ],
)
def test_durations_are_written_in_the_visitors_language(
    language: str, seconds: int, expected: str
) -> None:
    assert duration(language, seconds) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA,en;q=0.5", "fr"),  # werkzeug's best_match alone answered "en"
        ("de-CH, en-GB;q=0.8, en;q=0.7", "de"),
        ("en-GB,de;q=0.5", "en"),
        ("no,en;q=0.5", "nb"),
        ("xx-YY,pt-BR;q=0.9", "pt"),
        ("de;q=0, fr", "fr"),
    ],
)
def test_a_regional_tag_beats_an_exact_match_of_a_less_wanted_language(
    header: str, expected: str
) -> None:
    assert negotiate(header, SHIPPED) == expected


# -- a site's own texts -------------------------------------------------------------------------


def test_a_site_overrides_texts_and_adds_a_language_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[texts.de]\ntitle = "Cookies bei Lumen Stock"\n'
        '[texts.en]\naccept_all = "Allow everything"\n'
        '[texts.ca]\ntitle = "Galetes en aquest lloc"\naccept_all = "Accepta-ho tot"\n'
        '[texts.fa]\ndir = "rtl"\ntitle = "\\u06a9\\u0648\\u06a9\\u06cc"\n',
        encoding="utf-8",
    )
    policy = Policy.from_toml(path, secret_keys=["i18n-test-secret-0123456789"])
    assert {"ca", "fa"} <= set(policy.languages)  # a language the site translates is offered
    assert negotiate("ca-ES", policy.languages) == "ca"
    german = render_banner(policy, UNDECIDED, language="de", next_path="/")
    assert "Cookies bei Lumen Stock" in german and "Alle akzeptieren" in german
    catalan = render_banner(policy, UNDECIDED, language="ca", next_path="/")
    assert "Galetes en aquest lloc" in catalan and "Accepta-ho tot" in catalan
    assert "Reject all" in catalan  # a text the site left out: English
    assert 'lang="ca" dir="ltr"' in catalan
    english = render_banner(policy, UNDECIDED, language="en", next_path="/")
    assert "Allow everything" in english
    farsi = render_banner(policy, UNDECIDED, language="fa", next_path="/")
    assert 'lang="fa" dir="rtl"' in farsi and "Allow everything" in farsi
    assert "Cookie-Erklärung" in declaration_html(policy, language="de")
    # Rendering for one site leaves every other site's texts alone.
    plain = Policy(secret_keys=["i18n-test-secret-0123456789"], receipts=None)
    assert "Cookies auf dieser Seite" in render_banner(
        plain, UNDECIDED, language="de", next_path="/"
    )
    assert text("en", "accept_all") == "Accept all"


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ({"de": {"titel": "x"}}, "unknown key 'titel' (did you mean 'title'?)"),
        ({"de": {"parties": "Dritte: {parties}."}}, "placeholders of the English text: {hosts}"),
        ({"de": {"title": "Cookies {here}"}}, "placeholders of the English text: none"),
        ({"de": {"title": " "}}, "non-empty string"),
        ({"german": {"title": "x"}}, "not a language code"),
        ({"de": "Cookies"}, "must map text keys"),
        ({"fa": {"dir": "right"}}, "dir must be 'ltr' or 'rtl'"),
        (["de"], "texts must map a language"),
    ],
)
def test_site_texts_are_validated(texts: Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Policy(secret_keys=["i18n-test-secret-0123456789"], receipts=None, texts=texts)
    assert message in str(raised.value)
