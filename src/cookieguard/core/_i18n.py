"""Interface texts per language, and picking the visitor's language.

Every language has every key, with the same ``{placeholders}`` as English (a test checks).
Category labels and descriptions are not here: they come from the policy (``text_for``).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "intro_necessary": "We use only necessary cookies to make this site work.",
        "choose": "Choose which cookies we may use",
        "close": "Close",
        "title": "Cookies on this site",
        "intro": "We use necessary cookies to make this site work. With your consent we also use"
        " cookies for these purposes: {purposes}.",
        "parties": "Third parties involved: {hosts}.",
        "withdraw": "You can change or withdraw your choice at any time in the {settings}.",
        "accept_all": "Accept all",
        "reject_all": "Reject all",
        "customize": "Customize",
        "save": "Save choices",
        "settings": "Cookie settings",
        "always_on": "Always on",
        "preferences_title": "Cookie settings",
        "consent_id": "Your consent ID",
        "history": "Your consent history",
        "no_history": "No choices recorded yet.",
        "undecided": "You have not made a choice yet.",
        "back": "Back to the site",
        "no_cookies": "Your browser blocks cookies, so this choice applies to this page only"
        " and cannot be remembered.",
        "privacy": "Privacy policy",
        "granted": "allowed",
        "denied": "refused",
        "embed_label": "{provider} content",
        "embed_text": "This content is hosted by {provider}, which may set cookies used for"
        " {category}. It loads only if you allow it.",
        "embed_load_once": "Load once",
        "embed_allow": "Always allow {category}",
    },
    "de": {
        "intro_necessary": "Wir verwenden nur notwendige Cookies, damit diese Seite funktioniert.",
        "choose": "Wählen Sie, welche Cookies wir verwenden dürfen",
        "close": "Schließen",
        "title": "Cookies auf dieser Seite",
        "intro": "Wir verwenden notwendige Cookies, damit diese Seite funktioniert. Mit Ihrer"
        " Einwilligung nutzen wir auch Cookies für diese Zwecke: {purposes}.",
        "parties": "Beteiligte Drittanbieter: {hosts}.",
        "withdraw": "Sie können Ihre Wahl jederzeit in den {settings} ändern oder widerrufen.",
        "accept_all": "Alle akzeptieren",
        "reject_all": "Alle ablehnen",
        "customize": "Anpassen",
        "save": "Auswahl speichern",
        "settings": "Cookie-Einstellungen",
        "always_on": "Immer aktiv",
        "preferences_title": "Cookie-Einstellungen",
        "consent_id": "Ihre Einwilligungs-ID",
        "history": "Ihr Einwilligungsverlauf",
        "no_history": "Noch keine Auswahl gespeichert.",
        "undecided": "Sie haben noch keine Wahl getroffen.",
        "back": "Zurück zur Seite",
        "no_cookies": "Ihr Browser blockiert Cookies. Ihre Wahl gilt daher nur für diese Seite"
        " und kann nicht gespeichert werden.",
        "privacy": "Datenschutzerklärung",
        "granted": "erlaubt",
        "denied": "abgelehnt",
        "embed_label": "Inhalt von {provider}",
        "embed_text": "Dieser Inhalt wird von {provider} bereitgestellt, der Cookies für"
        " {category} setzen kann. Er wird nur geladen, wenn Sie es erlauben.",
        "embed_load_once": "Einmal laden",
        "embed_allow": "{category} immer erlauben",
    },
    "fr": {
        "intro_necessary": "Nous utilisons uniquement des cookies nécessaires au fonctionnement"
        " du site.",
        "choose": "Choisissez les cookies que nous pouvons utiliser",
        "close": "Fermer",
        "title": "Cookies sur ce site",
        "intro": "Nous utilisons des cookies nécessaires au fonctionnement du site. Avec votre"
        " accord, nous utilisons aussi des cookies pour ces finalités : {purposes}.",
        "parties": "Tiers concernés : {hosts}.",
        "withdraw": "Vous pouvez modifier ou retirer votre choix à tout moment dans les"
        " {settings}.",
        "accept_all": "Tout accepter",
        "reject_all": "Tout refuser",
        "customize": "Personnaliser",
        "save": "Enregistrer",
        "settings": "Paramètres des cookies",
        "always_on": "Toujours actifs",
        "preferences_title": "Paramètres des cookies",
        "consent_id": "Votre identifiant de consentement",
        "history": "Historique de vos choix",
        "no_history": "Aucun choix enregistré.",
        "undecided": "Vous n'avez pas encore fait de choix.",
        "back": "Retour au site",
        "no_cookies": "Votre navigateur bloque les cookies : ce choix ne vaut que pour cette"
        " page et ne peut pas être retenu.",
        "privacy": "Politique de confidentialité",
        "granted": "accepté",
        "denied": "refusé",
        "embed_label": "Contenu {provider}",
        "embed_text": "Ce contenu est hébergé par {provider}, qui peut déposer des cookies"
        " pour : {category}. Il ne se charge que si vous l'autorisez.",
        "embed_load_once": "Charger une fois",
        "embed_allow": "Toujours autoriser : {category}",
    },
}


# -- shipped translations ------------------------------------------------------------------
# One JSON file per language in ``cookieguard/locales/`` (``{"name", "dir", "texts",
# "categories", "units"}``), read once at import. The literal ``TEXTS`` above wins for the keys
# it has; the files fill in everything else (and every other language).

#: Writing direction per language (``"rtl"`` for Arabic and Hebrew).
DIRECTIONS: dict[str, str] = {}
#: The language's own name (``"Deutsch"``), for a language picker.
NAMES: dict[str, str] = {}
#: Default category texts: ``CATEGORY_TEXTS[category][field][language]``.
CATEGORY_TEXTS: dict[str, dict[str, dict[str, str]]] = {}
#: Duration units: ``UNITS[language][unit][plural form]``, e.g. ``{"one": "{n} month"}``.
UNITS: dict[str, dict[str, dict[str, str]]] = {}


def _load_locales() -> tuple[str, ...]:
    folder = resources.files("cookieguard").joinpath("locales")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        language = entry.name.removesuffix(".json")
        data = json.loads(entry.read_text("utf-8"))
        texts = TEXTS.setdefault(language, {})
        for key, value in data["texts"].items():
            texts.setdefault(key, value)
        DIRECTIONS[language] = data.get("dir", "ltr")
        NAMES[language] = data["name"]
        UNITS[language] = data.get("units", {})
        for category, fields in data.get("categories", {}).items():
            for name, value in fields.items():
                CATEGORY_TEXTS.setdefault(category, {}).setdefault(name, {})[language] = value
        found.append(language)
    return ("en", *sorted(lang for lang in found if lang != "en"))


#: Every language the package ships, English first (the default ``Policy.languages``).
SHIPPED: tuple[str, ...] = _load_locales()


def direction(language: str) -> str:
    """``"rtl"`` or ``"ltr"``: the ``dir`` attribute for markup in ``language`` (a site's own
    language says so with a ``"dir"`` entry in its texts)."""
    own = _SITE_TEXTS.get()
    if own is not None and own.get(language, {}).get("dir") in ("ltr", "rtl"):
        return own[language]["dir"]
    return DIRECTIONS.get(language, "ltr")


def negotiate(accept_language: str | None, languages: Sequence[str]) -> str:
    """The best of ``languages`` for an ``Accept-Language`` header; English as the fallback."""
    if not accept_language:
        return "en"
    return _negotiate(accept_language[:512], tuple(languages))


# Browsers send a handful of distinct headers; parsing one costs more than the banner render.
@functools.lru_cache(maxsize=512)
def _negotiate(accept_language: str, languages: tuple[str, ...]) -> str:
    # RFC 4647 section 3.4 lookup, per range in order of preference: the range itself, then its
    # primary subtag ("ga-IE" -> "ga"). werkzeug's best_match prefers an exact match of a
    # less-wanted range, so "fr-CA,en;q=0.5" would get English.
    supported = {language.lower(): language for language in languages}
    for value, quality in parse_accept_header(accept_language, LanguageAccept):
        if quality <= 0:
            continue
        tag = value.lower().replace("_", "-")
        primary = tag.split("-", 1)[0]
        for candidate in (tag, primary, _ALIASES.get(primary, "")):
            if candidate in supported:
                return supported[candidate]
    return "en"


# Browsers may send the macrolanguage "no" (or Nynorsk "nn") for Norwegian: we ship Bokmål.
_ALIASES = {"no": "nb", "nn": "nb"}


#: A site's own texts (``Policy.texts``) while its markup is rendered: language -> key -> text.
_SITE_TEXTS: contextvars.ContextVar[Mapping[str, Mapping[str, str]] | None] = (
    contextvars.ContextVar("cookieguard_site_texts", default=None)
)


@contextlib.contextmanager
def site_texts(texts: Mapping[str, Mapping[str, str]]) -> Iterator[None]:
    """Render with a site's own texts (``Policy.texts``) laid over the shipped ones."""
    token = _SITE_TEXTS.set(texts or None)
    try:
        yield
    finally:
        _SITE_TEXTS.reset(token)


def text(language: str, key: str) -> str:
    """An interface text in ``language``, never blank: the site's own text (``Policy.texts``),
    else the shipped one, else the site's English, else the shipped English."""
    own = _SITE_TEXTS.get()
    if own is not None:
        found = own.get(language, {}).get(key)
        if found:
            return found
    shipped = TEXTS.get(language, {}).get(key)
    if shipped:
        return shipped
    if own is not None:
        found = own.get("en", {}).get(key)
        if found:
            return found
    return TEXTS["en"][key]
