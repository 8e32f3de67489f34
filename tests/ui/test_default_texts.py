"""Default texts are every site's texts (issue 24 part 2): nothing from the example site, and
the first layer introduces its categories as the *purposes* of the cookies (the GDPR's and
regulators' word: Art. 5(1)(b), 6(1)(a); EDPB Guidelines 05/2020), in every language."""

from __future__ import annotations

import pytest

from cookieguard.core._consent import UNDECIDED
from cookieguard.core._i18n import CATEGORY_TEXTS, TEXTS, text
from cookieguard.core._policy import Policy
from cookieguard.ui._banner import render_banner

# The word for "purposes" as the GDPR's language versions (or regulators) write it, as a stem.
PURPOSES = {
    "ar": "أغراض",
    "bg": "цели",
    "cs": "účely",
    "da": "formål",
    "de": "Zwecke",
    "el": "σκοπούς",
    "en": "purposes",
    "es": "finalidades",
    "et": "eesmärk",
    "fi": "tarkoitu",
    "fr": "finalités",
    "ga": "gcríoch",
    "he": "מטרות",
    "hr": "svrhe",
    "hu": "cél",
    "it": "finalità",
    "lt": "tiksl",
    "lv": "nolūk",
    "mt": "skop",
    "nb": "formål",
    "nl": "doeleinden",
    "pl": "cel",
    "pt": "finalidades",
    "ro": "scopuri",
    "sk": "účely",
    "sl": "namene",
    "sv": "ändamål",
    "tr": "amaç",
    "uk": "цілей",
}

# Wording from the example photo site ("the photos you liked") in the languages shipped.
EXAMPLE_WORDS = (
    "photo",
    "foto",
    "φωτογραφ",
    "صور",
    "сним",
    "фото",
    "kuv",
    "bild",
    "billed",
    "grianghraf",
    "ritratt",
    "תמונ",
    "zdjęci",
    "like",
    "gefallen",
    "aimé",
    "gustado",
    "piaciut",
    "gostou",
)


def test_every_shipped_language_is_checked() -> None:
    assert set(TEXTS) == set(PURPOSES)


@pytest.mark.parametrize("language", sorted(PURPOSES))
def test_first_layer_names_its_list_purposes(language: str) -> None:
    assert PURPOSES[language].casefold() in text(language, "purposes").casefold()
    assert PURPOSES[language].casefold() in text(language, "intro").casefold()


@pytest.mark.parametrize("language", sorted(PURPOSES))
def test_default_category_texts_carry_nothing_from_the_example(language: str) -> None:
    for category, fields in CATEGORY_TEXTS.items():
        for field, by_language in fields.items():
            words = by_language.get(language, "").casefold()
            found = [w for w in EXAMPLE_WORDS if w.casefold() in words]
            assert not found, (language, category, field, words)


def test_default_banner_introduces_purposes() -> None:
    policy = Policy(secret_keys=["k" * 32], cookies={"_ga": "analytics"})
    html = render_banner(policy, UNDECIDED, language="en", next_path="/")
    assert "for these purposes:" in html
