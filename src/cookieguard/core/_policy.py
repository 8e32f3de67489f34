"""The one frozen, validated configuration object shared by both adapters."""

from __future__ import annotations

import difflib
import fnmatch
import functools
import ipaddress
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Literal, TypeVar, cast

from cookieguard.catalogue import Catalogue, load_catalogue, merge
from cookieguard.core._cookies import COOKIE_NAME
from cookieguard.core._i18n import CATEGORY_TEXTS, SHIPPED, TEXTS
from cookieguard.core._regions import DEFAULT_REGIONS, RegionLookup, Rule, check_regions

_T = TypeVar("_T")

#: Text given once, or per language: ``"Analytics"`` or ``{"en": "Analytics", "de": "Statistik"}``.
Text = str | Mapping[str, str]

NECESSARY = "necessary"

# Patterns are cookie names (RFC 6265 tokens) that may add `*?[]` globs.
_PATTERN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]+$")
_CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")


def text_for(text: Text, language: str) -> str:
    """Pick ``text`` in ``language``, falling back to English, then to any translation."""
    if isinstance(text, str):
        return text
    return text.get(language) or text.get("en") or next(iter(text.values()), "")


@dataclass(frozen=True, slots=True)
class Category:
    """A purpose a visitor can agree to, such as ``analytics``.

    ``sale_or_sharing`` marks purposes that Global Privacy Control (``Sec-GPC: 1``) refuses.
    ``hosts`` names the third parties involved, shown in the banner text. ``max_age`` (seconds)
    caps how long a grant of this category holds before the visitor is asked again, where a
    purpose needs a shorter life than the policy's ``max_age`` (CNIL: audience measurement at
    most 13 months).
    """

    name: str
    label: Text
    description: Text = ""
    hosts: tuple[str, ...] = ()
    sale_or_sharing: bool = False
    max_age: int | None = None

    def __post_init__(self) -> None:
        if not _CATEGORY_NAME.fullmatch(self.name):
            raise ValueError(
                f"Category name {self.name!r} is invalid: use 1-32 lower-case letters, digits,"
                " '_' or '-', starting with a letter (e.g. 'analytics')."
            )
        object.__setattr__(self, "hosts", tuple(self.hosts))
        for host in self.hosts:
            if not _HOST.fullmatch(host):
                raise ValueError(f"Category {self.name!r}: host {host!r} is not a host name.")
        _check_text(f"Category {self.name!r} label", self.label, required=True)
        _check_text(f"Category {self.name!r} description", self.description, required=False)
        if self.max_age is not None and (type(self.max_age) is not int or self.max_age < 60):
            raise ValueError(
                f"Category {self.name!r}: max_age must be whole seconds >= 60 or None, "
                f"got {self.max_age!r}."
            )

    @property
    def locked(self) -> bool:
        """``necessary`` is always on and cannot be refused."""
        return self.name == NECESSARY


def _check_text(what: str, text: Text, *, required: bool) -> None:
    if isinstance(text, str):
        if required and not text.strip():
            raise ValueError(f"{what} is empty: give a short human-readable text.")
        return
    if not isinstance(text, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in text.items()
    ):
        raise ValueError(f"{what} must be a string or a mapping of language code to string.")
    if required and not text:
        raise ValueError(f"{what} has no translations: give at least {{'en': '...'}}.")


def _default(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """A default category's label and description in every shipped language (locales/)."""
    texts = CATEGORY_TEXTS[name]
    return dict(texts["label"]), dict(texts["description"])


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(NECESSARY, *_default(NECESSARY)),
    Category("preferences", *_default("preferences")),
    Category("analytics", *_default("analytics")),
    Category("marketing", *_default("marketing"), sale_or_sharing=True),
)


@dataclass(frozen=True, slots=True)
class CookieInfo:
    """What a site declares about one cookie or storage key, for the cookie declaration.

    Given in ``Policy(cookies=...)`` / ``storage=...`` as a mapping instead of a bare category:
    ``{"category": "preferences", "retention": "1 year", "max_age": 31536000,
    "provider": "this site", "purpose": {"en": "...", "de": "..."}}``. Only ``category`` is
    required; what is not declared is shown as "not declared", never guessed.
    """

    category: str
    retention: str = ""
    max_age: int | None = None
    provider: str = ""
    purpose: Text = ""


_INFO_KEYS = frozenset(CookieInfo.__slots__)


def _cookie_info(what: str, pattern: str, value: Any, known: set[str]) -> CookieInfo:
    """A declared cookie's (or storage key's) category and facts, from a string or mapping."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - _INFO_KEYS)
        if unknown:
            raise ValueError(
                f"{what}: {pattern!r} has unknown key(s) {unknown}; use {sorted(_INFO_KEYS)}."
            )
        category = value.get("category")
        max_age = value.get("max_age")
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
        ):
            raise ValueError(
                f"{what}: {pattern!r} max_age must be whole seconds >= 0 (e.g. 31536000 for a"
                f" year) or left out, got {max_age!r}."
            )
        for key in ("retention", "provider"):
            if not isinstance(value.get(key, ""), str):
                raise ValueError(f"{what}: {pattern!r} {key} must be a string.")
        _check_text(f"{what}: {pattern!r} purpose", value.get("purpose", ""), required=False)
    else:
        category = value
    if not isinstance(category, str) or category not in known:
        raise ValueError(
            f"{what}: {pattern!r} maps to unknown category {category!r}; "
            f"use one of {sorted(known)} or add a Category({category!r}, ...)."
        )
    if not isinstance(value, Mapping):
        return CookieInfo(category)
    return CookieInfo(
        category,
        retention=value.get("retention", ""),
        max_age=value.get("max_age"),
        provider=value.get("provider", ""),
        purpose=value.get("purpose", ""),
    )


def _fields(value: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(value) if name}


def _site_texts(value: Any) -> dict[str, dict[str, str]]:
    """``Policy.texts`` validated: known keys, non-empty strings, English's placeholders."""
    if not isinstance(value, Mapping):
        raise ValueError(
            "texts must map a language to its texts, e.g. texts={'de': {'title': 'Cookies bei"
            " uns'}} (in TOML: [texts.de] title = '...')."
        )
    known = TEXTS["en"]
    checked: dict[str, dict[str, str]] = {}
    for language, entries in value.items():
        if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}", language):
            raise ValueError(f"texts: {language!r} is not a language code like 'de'.")
        if not isinstance(entries, Mapping):
            raise ValueError(f"texts: {language!r} must map text keys to texts.")
        for key, text in entries.items():
            if key == "dir":
                if text not in ("ltr", "rtl"):
                    raise ValueError(f"texts: {language!r} dir must be 'ltr' or 'rtl'.")
                continue
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, 1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise ValueError(
                    f"texts: {language!r} has unknown key {key!r}{did}; the keys are those of"
                    " cookieguard/locales/en.json."
                )
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"texts: {language!r} {key!r} must be a non-empty string.")
            if _fields(text) != _fields(known[key]):
                wanted = ", ".join(f"{{{name}}}" for name in sorted(_fields(known[key])))
                raise ValueError(
                    f"texts: {language!r} {key!r} must use exactly the placeholders of the"
                    f" English text: {wanted or 'none'}."
                )
        checked[language] = dict(entries)
    return checked


SameSite = Literal["Lax", "Strict", "None"]
Undeclared = Literal["block", "allow"]
CspMode = Literal["report", "enforce"]
Layout = Literal["bar", "box", "modal"]
Scheme = Literal["auto", "light", "dark"]
#: Where each layout may sit (the first is its default); "start"/"end" follow the writing
#: direction (right-to-left languages mirror them).
POSITIONS: dict[str, tuple[str, ...]] = {
    "bar": ("bottom", "top"),
    "box": ("bottom-end", "bottom-start", "top-end", "top-start"),
    "modal": ("center",),
}
_SIX_MONTHS = 183 * 24 * 3600

#: Google Consent Mode v2 types and the category that grants each (a site may remap them).
DEFAULT_CONSENT_MODE: Mapping[str, str] = {
    "ad_storage": "marketing",
    "ad_user_data": "marketing",
    "ad_personalization": "marketing",
    "analytics_storage": "analytics",
    "functionality_storage": "preferences",
    "personalization_storage": "preferences",
    "security_storage": NECESSARY,
}
_CONSENT_TYPES = frozenset(DEFAULT_CONSENT_MODE)
_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
# CSP source expressions a site may add: a host (optionally *.-prefixed, with scheme/port/path)
# or a scheme source such as "data:"; never a keyword, nonce or anything with ; , or quotes.
_CSP_SOURCE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*:"  # a scheme source: data:, blob:, https:
    r"|(?:[a-z][a-z0-9+.-]*://)?(?:\*\.)?[A-Za-z0-9.-]+"  # [scheme://][*.]host
    r"(?::\d{1,5}|:\*)?(?:/[^\s;,'\"]*)?)$"  # [:port][/path]
)


@dataclass(frozen=True, slots=True)
class _Pattern:
    pattern: str
    category: str
    exact: bool


@dataclass(frozen=True)
class Policy:
    """Everything cookieguard needs to know about a site, validated once at start-up.

    ``secret_keys`` signs the consent cookie; give several to rotate (newest first: it signs,
    the others still verify). ``cookies`` maps a cookie name or glob (``_ga_*``) to a category.
    Raise ``revision`` to ask every visitor again.

    Each field is documented by the string under it, written in Markdown: the docs site's
    configuration reference is generated from these (``scripts/docs_hooks.py``), and a field
    without one fails the docs build.
    """

    secret_keys: Sequence[str | bytes]
    """Keys that sign the consent cookie, newest first: the newest signs, all verify, and a
    cookie signed with an older key is re-signed with the newest. Each is at least 16
    characters; give a list, never a single string (`secret_keys_from_env()` reads them from
    `COOKIEGUARD_SECRET`; `python -m cookieguard secret` makes one)."""
    cookies: Mapping[str, str | Mapping[str, Any]] = field(default_factory=dict)
    """Cookie name or glob (`_ga_*`) → category; exact names win over globs.

    A value is a category name, or a mapping that also states what the
    [cookie declaration](informed-consent.md#the-cookie-declaration) shows:
    `{"category": "preferences", "provider": "this site", "max_age": 31536000,
    "purpose": {"en": "Remembers your likes."}}`. Cookies no pattern names are handled by
    `undeclared`. The consent cookie itself is always necessary and cannot be listed."""
    categories: Sequence[Category] = DEFAULT_CATEGORIES
    """The purposes a visitor can agree to, as `Category(name, label, description="", hosts=(),
    sale_or_sharing=False, max_age=None)`.

    Labels and descriptions are a string or one per language (`{"en": ..., "de": ...}`);
    `hosts` are third parties blocked until the category is granted; `sale_or_sharing`
    categories are refused to `Sec-GPC: 1` visitors; `max_age` gives grants of this category a
    shorter life. `necessary` is always present and locked on. See
    [Defining categories](configuration.md#defining-categories).

    Default: necessary, preferences, analytics, marketing (marketing is sale or sharing)"""
    revision: int = 1
    """The policy's revision, a positive integer. Raise it to ask every visitor again: a consent
    given under an older revision counts as undecided."""
    cookie_name: str = "cookie_consent"
    """The name of the consent cookie (always `Path=/`, `HttpOnly`, the `same_site` below, and
    `Secure` as `secure` says)."""
    max_age: int = _SIX_MONTHS
    """How long a choice holds, in whole seconds (at least 60); an older consent cookie means
    undecided, and the visitor is asked again.

    Default: 183 days (about six months)"""
    same_site: SameSite = "Lax"
    """The consent cookie's `SameSite`: `"Lax"`, `"Strict"` or `"None"` (as written).
    `"None"` cannot be combined with `secure=False`: browsers reject such cookies."""
    secure: bool | None = None
    """The consent cookie's `Secure` attribute. `None`: on HTTPS requests only (as the app sees
    them: behind a TLS-terminating proxy, see [Deployment](deployment.md#behind-a-proxy-or-a-cdn));
    `True` or `False` to force."""
    cookie_domain: str | None = None
    """`Domain` for the consent cookie (to share one choice across subdomains); also cleared on
    withdrawal. `None`: a host-only cookie."""
    prefix: str = "/_cookieguard"
    """Where cookieguard's [endpoints](endpoints.md) live: an absolute path with no trailing
    slash."""
    undeclared: Undeclared = "block"
    """What happens to cookies no pattern in `cookies` declares. `"block"`: hidden from the app
    and never set, with one log line per name saying how to declare it. `"allow"`: passed
    through. Either way, cookies the tracker catalogue recognises are gated under their
    vendor's category."""
    clear_paths: Sequence[str] = ("/",)
    """Paths at which withdrawn cookies are expired, besides the host and its parent domains
    (absolute paths)."""
    banner: bool = True
    """Insert the banner into HTML pages of undecided visitors. `False` to
    [place it yourself](banner.md#placing-it-yourself)."""
    scripts: bool = True
    """Insert the stylesheet and `banner.js` tags into every HTML page. `False` to place them
    yourself (with `banner=False`)."""
    layout: Layout = "bar"
    """How the banner sits on the page (see [Layouts](banner.md#layouts)): `"bar"` (full width),
    `"box"` (a card in a corner) or `"modal"` (a card in the centre that leaves the rest of the
    page readable and usable). Themed by CSS custom properties, overridable with CSS."""
    position: str | None = None
    """Where the layout sits: a bar at `"bottom"` (default) or `"top"`; a box at
    `"bottom-end"` (default), `"bottom-start"`, `"top-end"` or `"top-start"` (start and end
    follow the language's direction); a modal at `"center"`. `None`: the layout's default."""
    scheme: Scheme = "auto"
    """Colours: `"auto"` follows the visitor's `prefers-color-scheme`; `"light"` or `"dark"`
    forces one."""
    languages: Sequence[str] = SHIPPED
    """Interface languages (two- or three-letter codes), chosen per visitor by
    `Accept-Language`, English as the fallback (always included). Languages you add in `texts`
    are offered too.

    Default: every shipped language (29)"""
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Your own interface texts: language → text key → text. Override any shipped text, or add
    a language the package does not ship (see
    [Your own texts](informed-consent.md#your-own-texts))."""
    receipts: str | None = "cookieguard-receipts.sqlite3"
    """Where [consent receipts](receipts.md) are written: a SQLite path, `sqlite:///path`,
    `postgresql://...`, or `None` to keep none. The adapters' `receipts=` argument takes an
    opened store instead."""
    max_body: int = 4096
    """The largest consent POST body accepted, in bytes (256 to 1,048,576); a larger one is
    answered 413. Also bounds CSP report bodies."""
    receipts_repeat_window: int = 600
    """Seconds within which a consent id repeating the choice it last made writes no new
    receipt (the first one is the proof); a changed choice is always written. 0: every consent
    POST writes one. See [Abuse resistance](abuse.md#consent-receipts)."""
    receipts_max_bytes: int | None = 1 << 30
    """The receipts store's size guard, in bytes (SQLite file and the local spool). Past it,
    every choice is still answered and every change of choice still written, but no repeat of
    a visitor's last choice, whatever the time; an error is logged every ten minutes until you
    purge. `None`: no guard. See [Abuse resistance](abuse.md#the-size-guard).

    Default: 1 GiB"""
    rate_limit: int = 120
    """Requests a minute one client address may send to `{prefix}/csp-report`, and consent
    POSTs that can write a receipt (no valid consent cookie, one issued within the minute, or
    a change of an older choice); more are answered 429 with `Retry-After`. 0: no per-client
    limit. See [Abuse resistance](abuse.md#per-client-limits)."""
    rate_limit_total: int = 60_000
    """The backstop: requests a minute all clients together may send to each of those
    endpoints (0: none)."""
    trusted_proxies: Sequence[str] = ()
    """Addresses or networks (`"10.0.0.0/8"`) of your own reverse proxies. A request from one
    of them is counted against the address its `X-Forwarded-For` names (the right-most one
    that is not itself a trusted proxy); from anyone else `X-Forwarded-For` is ignored. Empty:
    never trusted, every request counts against the address that connected."""
    cache_size: int = 4096
    """Entries in the cache of verified consent cookies and decisions (0 disables it). Every
    cache is bounded by bytes as well."""
    page_cache: int = 8 * 1024 * 1024
    """Bytes of edited HTML kept for pages served again byte for byte (0: edit every time).
    See [Speed](performance.md#what-an-html-response-costs).

    Default: 8 MiB"""
    privacy_url: str | None = None
    """A link to your privacy policy, shown in the banner and the preferences."""
    reject_max_age: int | None = None
    """How long a refusal of everything optional holds before the visitor is asked again, in
    whole seconds (at least 60). `None`: the same as `max_age`."""
    auto_block: bool = True
    """Neutralise catalogued [trackers](trackers.md) (and `Category(hosts=...)`) in HTML until
    their category is granted."""
    csp: CspMode | None = None
    """A [consent-aware Content-Security-Policy](csp.md) on every HTML page: `"report"`
    (report-only) or `"enforce"`. `None`: off."""
    csp_allow: Sequence[str] = ()
    """Extra CSP sources every page may load: hosts (`"js.stripe.com"`, `"*.example.org"`,
    optionally with scheme, port or path) or scheme sources (`"data:"`)."""
    trackers: Sequence[Mapping[str, Any]] = ()
    """Tracker-catalogue entries to add, override (same `name`) or remove (`"disabled": True`).
    See [The tracker catalogue](trackers.md#the-tracker-catalogue)."""
    storage: Mapping[str, Any] = field(default_factory=dict)
    """`localStorage`/`sessionStorage` key or glob → category (or a mapping like `cookies`);
    keys of refused categories are removed in the browser."""
    reload_on_withdrawal: bool = True
    """Reload a page whose already-running scripts lost their consent when the visitor withdraws
    it."""
    google_consent_mode: bool | Literal["advanced"] = False
    """Google Consent Mode v2 signals: `True` (basic) or `"advanced"`. See
    [Consent Mode](consent-mode.md)."""
    consent_mode: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CONSENT_MODE))
    """Google consent type → the category that grants it. A type whose category the site lacks
    stays denied.

    Default: `ad_storage`, `ad_user_data`, `ad_personalization` → marketing;
    `analytics_storage` → analytics; `functionality_storage`, `personalization_storage` →
    preferences; `security_storage` → necessary"""
    consent_mode_regions: Sequence[str] = ()
    """ISO 3166 region codes (`"DE"`, `"US-CA"`) the undecided Consent Mode defaults apply to;
    empty: everywhere."""
    ads_data_redaction: bool = False
    """Google Consent Mode's `ads_data_redaction` option."""
    url_passthrough: bool = False
    """Google Consent Mode's `url_passthrough` option."""
    region_header: str | None = None
    """Where the visitor's [region](regions.md) comes from: a provider (`"cloudflare"`,
    `"cloudfront"`, `"vercel"`, `"appengine"`, `"fastly"`) or the name of the header your
    proxy sets (`"X-Country"`, holding `DE` or `US-CA`). Only name a header a trusted proxy
    or CDN sets (and overwrites). `None`: no geo; every visitor gets `unknown_region`'s rule
    and region headers are ignored, so a client cannot choose its own region."""
    regions: Mapping[str, Rule] = field(default_factory=lambda: dict(DEFAULT_REGIONS))
    """Region code → rule: `"opt-in"`, `"opt-out"` or `"notice"`. Codes are ISO 3166-1
    alpha-2 (`"DE"`) or with an ISO 3166-2 subdivision (`"US-CA"`); a subdivision's rule beats
    its country's. Read only when `region_header` is set. See [Regions](regions.md).

    Default: EEA, UK and Switzerland opt-in; the US states with comprehensive privacy laws
    opt-out"""
    unknown_region: Rule = "opt-in"
    """The rule for a visitor whose region is unknown, malformed or not in `regions`."""

    # Lookups precomputed for the hot path.
    _exact: dict[str, str] = field(init=False, repr=False, compare=False)
    _globs: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    _optional: frozenset[str] = field(init=False, repr=False, compare=False)
    _gpc_denied: frozenset[str] = field(init=False, repr=False, compare=False)
    _lifetimes: dict[frozenset[str], int] = field(init=False, repr=False, compare=False)
    _cookie_infos: dict[str, CookieInfo] = field(init=False, repr=False, compare=False)
    _storage_infos: dict[str, CookieInfo] = field(init=False, repr=False, compare=False)

    def _check_layout(self) -> None:
        if self.layout not in POSITIONS:
            raise ValueError(
                f"layout {self.layout!r} is not one of {', '.join(map(repr, POSITIONS))}."
            )
        allowed = POSITIONS[self.layout]
        if self.position is None:
            object.__setattr__(self, "position", allowed[0])
        elif self.position not in allowed:
            raise ValueError(
                f"position {self.position!r} does not fit layout {self.layout!r}: use one of"
                f" {', '.join(map(repr, allowed))}."
            )
        if self.scheme not in ("auto", "light", "dark"):
            raise ValueError(f"scheme {self.scheme!r} is not 'auto', 'light' or 'dark'.")

    def __post_init__(self) -> None:
        keys = self.secret_keys
        if isinstance(keys, str | bytes):
            raise ValueError(
                "secret_keys must be a list of keys, newest first, e.g. secret_keys=[os.environ"
                "['COOKIEGUARD_SECRET']] — not a single string."
            )
        keys = tuple(keys)
        if not keys:
            raise ValueError(
                "secret_keys is empty: give at least one long random secret, e.g. "
                "secret_keys=[os.environ['COOKIEGUARD_SECRET']]."
            )
        for key in keys:
            if not isinstance(key, str | bytes) or len(key) < 16:
                raise ValueError(
                    "Each secret key must be a string of at least 16 characters "
                    "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one)."
                )
        object.__setattr__(self, "secret_keys", keys)

        categories = tuple(self.categories)
        names = [c.name for c in categories]
        if len(set(names)) != len(names):
            raise ValueError(f"categories has duplicate names: {names}.")
        if NECESSARY not in names:
            categories = (DEFAULT_CATEGORIES[0], *categories)
        object.__setattr__(self, "categories", categories)
        known = {c.name for c in categories}

        patterns: list[_Pattern] = []
        infos: dict[str, CookieInfo] = {}
        for pattern, value in dict(self.cookies).items():
            if not isinstance(pattern, str) or not _PATTERN.fullmatch(pattern):
                raise ValueError(
                    f"cookies: {pattern!r} is not a cookie name or glob (RFC 6265 token, "
                    "optionally with '*')."
                )
            # A category name, or a mapping that also says retention, provider and purpose.
            infos[pattern] = _cookie_info("cookies", pattern, value, known)
            category = infos[pattern].category
            if pattern == self.cookie_name:
                raise ValueError(
                    f"cookies: {pattern!r} is the consent cookie itself; it is always necessary."
                )
            patterns.append(_Pattern(pattern, category, not any(ch in pattern for ch in "*?[")))
        object.__setattr__(self, "cookies", dict(self.cookies))
        object.__setattr__(self, "_cookie_infos", infos)

        if not isinstance(self.revision, int) or self.revision < 1:
            raise ValueError(f"revision must be a positive integer, got {self.revision!r}.")
        if not isinstance(self.cookie_name, str) or not COOKIE_NAME.fullmatch(self.cookie_name):
            raise ValueError(f"cookie_name {self.cookie_name!r} is not a valid cookie name.")
        if not isinstance(self.max_age, int) or self.max_age < 60:
            raise ValueError(f"max_age must be whole seconds >= 60, got {self.max_age!r}.")
        if self.reject_max_age is not None and (
            type(self.reject_max_age) is not int or self.reject_max_age < 60
        ):
            raise ValueError(
                f"reject_max_age must be whole seconds >= 60 or None (= max_age), "
                f"got {self.reject_max_age!r}."
            )
        object.__setattr__(self, "_lifetimes", {})
        if self.same_site not in ("Lax", "Strict", "None"):
            raise ValueError(
                f"same_site must be 'Lax', 'Strict' or 'None' (case as written), "
                f"got {self.same_site!r}."
            )
        if self.same_site == "None" and self.secure is False:
            raise ValueError(
                "same_site='None' requires secure=True (browsers reject it otherwise)."
            )
        if self.cookie_domain is not None and not _HOST.fullmatch(self.cookie_domain.lstrip(".")):
            raise ValueError(f"cookie_domain {self.cookie_domain!r} is not a host name.")
        if not isinstance(self.prefix, str) or not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"prefix {self.prefix!r} must be an absolute path like '/_cookieguard' "
                "with no trailing slash."
            )
        if self.undeclared not in ("block", "allow"):
            raise ValueError(f"undeclared must be 'block' or 'allow', got {self.undeclared!r}.")
        clear_paths = tuple(self.clear_paths)
        if not clear_paths or any(
            not isinstance(p, str) or not p.startswith("/") or any(c in p for c in ";,\r\n ")
            for p in clear_paths
        ):
            raise ValueError(f"clear_paths must be absolute paths like '/', got {clear_paths!r}.")
        object.__setattr__(self, "clear_paths", clear_paths)
        languages = tuple(self.languages)
        if not languages or any(
            not isinstance(lang, str) or not re.fullmatch(r"[a-z]{2,3}", lang) for lang in languages
        ):
            raise ValueError(
                f"languages must be two-letter codes like ('en', 'de'): {languages!r}."
            )
        if "en" not in languages:
            languages = ("en", *languages)
        texts = _site_texts(self.texts)
        # A language the site translates itself is one it wants offered.
        languages += tuple(lang for lang in texts if lang not in languages)
        object.__setattr__(self, "languages", languages)
        object.__setattr__(self, "texts", texts)
        if not isinstance(self.max_body, int) or not 256 <= self.max_body <= 1 << 20:
            raise ValueError(f"max_body must be between 256 and 1048576 bytes: {self.max_body!r}.")
        for name in ("receipts_repeat_window", "rate_limit", "rate_limit_total"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}.")
        if self.receipts_max_bytes is not None and (
            type(self.receipts_max_bytes) is not int or self.receipts_max_bytes < 1 << 20
        ):
            raise ValueError(
                "receipts_max_bytes must be at least 1048576 bytes (1 MiB) or None (no guard), "
                f"got {self.receipts_max_bytes!r}."
            )
        if isinstance(self.trusted_proxies, str):
            raise ValueError(
                "trusted_proxies must be a list of addresses or networks, e.g. ['10.0.0.0/8']."
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except (TypeError, ValueError):
                raise ValueError(
                    f"trusted_proxies: {proxy!r} is not an IP address or network "
                    "(e.g. '10.0.0.1' or '10.0.0.0/8')."
                ) from None
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        if not isinstance(self.cache_size, int) or self.cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {self.cache_size!r}.")
        if type(self.page_cache) is not int or self.page_cache < 0:
            raise ValueError(
                f"page_cache must be a number of bytes >= 0 (0 turns it off), "
                f"got {self.page_cache!r}."
            )
        if self.privacy_url is not None and (
            not isinstance(self.privacy_url, str) or any(c in self.privacy_url for c in '\r\n<>"')
        ):
            raise ValueError(f"privacy_url {self.privacy_url!r} is not a usable URL.")
        self._check_layout()
        self._check_round_two(known)
        self._check_regions()
        # Precomputed lookups for the hot path.
        object.__setattr__(self, "_exact", {p.pattern: p.category for p in patterns if p.exact})
        object.__setattr__(
            self, "_globs", tuple((p.pattern, p.category) for p in patterns if not p.exact)
        )
        object.__setattr__(self, "_optional", frozenset(c.name for c in categories if not c.locked))
        object.__setattr__(
            self,
            "_gpc_denied",
            frozenset(c.name for c in categories if c.sale_or_sharing),
        )

    def _check_round_two(self, known: set[str]) -> None:
        if not isinstance(self.auto_block, bool):
            raise ValueError(f"auto_block must be True or False, got {self.auto_block!r}.")
        if self.csp not in (None, "report", "enforce"):
            raise ValueError(f"csp must be None, 'report' or 'enforce', got {self.csp!r}.")
        csp_allow = _strings(
            "csp_allow",
            self.csp_allow,
            _CSP_SOURCE,
            "a CSP host or scheme source (e.g. 'cdn.example.com', '*.example.com', "
            "'https://x.example/path', 'data:')",
        )
        object.__setattr__(self, "csp_allow", csp_allow)
        trackers = tuple(self.trackers)
        for entry in trackers:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                raise ValueError(
                    "trackers: each entry must be a mapping with at least a 'name' "
                    "(e.g. {'name': 'Acme Analytics', 'category': 'analytics', "
                    "'hosts': ['cdn.acme.example']})."
                )
            category = entry.get("category")
            if category is not None and category not in known:
                raise ValueError(
                    f"trackers: {entry['name']!r} has unknown category {category!r}; "
                    f"use one of {sorted(known)}."
                )
        if trackers:
            # Build the merged catalogue once now, so a bad entry fails at start-up with the
            # catalogue's own message rather than on the first page.
            merge(load_catalogue(), trackers)
        object.__setattr__(self, "trackers", trackers)
        storage_infos: dict[str, CookieInfo] = {}
        for pattern, value in dict(self.storage).items():
            if not isinstance(pattern, str) or not pattern or len(pattern) > 256:
                raise ValueError(f"storage: {pattern!r} is not a storage key or glob.")
            storage_infos[pattern] = _cookie_info("storage", pattern, value, known)
        # Readers of ``storage`` get key -> category; the declared facts live beside it.
        storage = {pattern: info.category for pattern, info in storage_infos.items()}
        object.__setattr__(self, "storage", storage)
        object.__setattr__(self, "_storage_infos", storage_infos)
        if not isinstance(self.reload_on_withdrawal, bool):
            raise ValueError("reload_on_withdrawal must be True or False.")
        if self.google_consent_mode not in (True, False, "advanced"):
            raise ValueError(
                "google_consent_mode must be False, True (basic) or 'advanced', "
                f"got {self.google_consent_mode!r}."
            )
        # Defaults that name a category this site does not have simply stay denied; what the
        # site writes itself must be right.
        given = dict(self.consent_mode)
        mapping = {
            kind: category
            for kind, category in given.items()
            if not (DEFAULT_CONSENT_MODE.get(kind) == category and category not in known)
        }
        for kind, category in mapping.items():
            if kind not in _CONSENT_TYPES:
                raise ValueError(
                    f"consent_mode: {kind!r} is not a Google consent type; "
                    f"use {sorted(_CONSENT_TYPES)}."
                )
            if category not in known:
                raise ValueError(
                    f"consent_mode: {kind!r} maps to unknown category {category!r}; "
                    f"use one of {sorted(known)}."
                )
        defaults = {k: c for k, c in DEFAULT_CONSENT_MODE.items() if c in known}
        object.__setattr__(self, "consent_mode", {**defaults, **mapping})
        regions = _strings(
            "consent_mode_regions",
            self.consent_mode_regions,
            _REGION,
            "an ISO 3166 code like 'DE' or 'US-CA'",
        )
        object.__setattr__(self, "consent_mode_regions", regions)
        for flag in ("ads_data_redaction", "url_passthrough"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be True or False.")

    def _check_regions(self) -> None:
        header, table = check_regions(self.region_header, self.regions, self.unknown_region)
        object.__setattr__(self, "region_header", header)
        object.__setattr__(self, "regions", table)

    # -- lookups ---------------------------------------------------------------------------

    @functools.cached_property
    def region_lookup(self) -> RegionLookup:
        """The region headers to read and each region's rule (built once per policy)."""
        return RegionLookup(self.region_header, self.regions, self.unknown_region)

    @functools.cached_property
    def catalogue(self) -> Catalogue:
        """The packaged tracker catalogue merged with ``trackers`` and the categories' ``hosts``.

        Built once per policy (a policy never changes) and kept with it.
        """
        declared = [(c.name, c.hosts) for c in self.categories if c.hosts]
        if not self.trackers and not declared:
            return load_catalogue()
        return merge(load_catalogue(), self.trackers, declared)

    def derived(self, build: Callable[[Policy], _T]) -> _T:
        """``build(self)``, computed once per policy and kept with it.

        The layers above the core (CSP, the declaration) keep what they build from a policy
        here, so it lives exactly as long as the policy: no registry keyed by ``id(policy)``.
        Two threads racing may both build; one result wins and both get it.
        """
        built: dict[Callable[[Policy], Any], Any] = self.__dict__.setdefault("_derived", {})
        found = built.get(build)
        if found is None:
            found = built.setdefault(build, build(self))
        return cast("_T", found)

    def lifetime(self, granted: frozenset[str]) -> int:
        """Seconds a choice granting ``granted`` holds before the visitor is asked again.

        A refusal of everything optional holds ``reject_max_age`` (default ``max_age``); a
        grant holds ``max_age``, or less when a granted category has its own ``max_age``.
        """
        found = self._lifetimes.get(granted)
        if found is None:
            optional = granted & self._optional
            limits = [
                c.max_age for c in self.categories if c.name in optional and c.max_age is not None
            ]
            base = self.max_age if optional else (self.reject_max_age or self.max_age)
            found = min([base, *limits])
            if len(self._lifetimes) < 1024:  # at most 2**n sets; bounded all the same
                self._lifetimes[granted] = found
        return found

    @property
    def optional_categories(self) -> frozenset[str]:
        """Every category a visitor can refuse (all but ``necessary``)."""
        return self._optional

    @property
    def gpc_denied(self) -> frozenset[str]:
        """Categories that ``Sec-GPC: 1`` refuses."""
        return self._gpc_denied

    @property
    def declared_cookies(self) -> Mapping[str, CookieInfo]:
        """Every declared cookie name or glob with its category and declared facts."""
        return self._cookie_infos

    @property
    def declared_storage(self) -> Mapping[str, CookieInfo]:
        """Every declared ``localStorage``/``sessionStorage`` key or glob, like the cookies."""
        return self._storage_infos

    def category(self, name: str) -> Category:
        """The category called ``name``; ``KeyError`` if there is none."""
        for category in self.categories:
            if category.name == name:
                return category
        raise KeyError(name)

    def category_of(self, cookie_name: str) -> str | None:
        """The category a cookie belongs to, or ``None`` if it is undeclared.

        The consent cookie itself is ``necessary``. Exact names win over globs; globs are
        tried in the order they were declared.
        """
        if cookie_name == self.cookie_name:
            return NECESSARY
        found = self._exact.get(cookie_name)
        if found is not None:
            return found
        for pattern, category in self._globs:
            if fnmatch.fnmatchcase(cookie_name, pattern):
                return category
        return None

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def from_toml(
        cls, path: str | PathLike[str], *, secret_keys: Sequence[str] | None = None
    ) -> Policy:
        """Load a policy from a TOML file.

        Top-level keys are :class:`Policy` fields; ``[cookies]`` maps names to categories and
        ``[[categories]]`` tables declare categories. Secrets are better kept out of files:
        pass ``secret_keys=`` to supply or override them.
        """
        with open(path, "rb") as fh:
            try:
                data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_mapping(data, secret_keys=secret_keys, source=str(path))

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        secret_keys: Sequence[str] | None = None,
        source: str = "policy",
    ) -> Policy:
        """Build a policy from plain data (parsed TOML or JSON)."""
        data = dict(data)
        allowed = {f for f in cls.__dataclass_fields__ if not f.startswith("_")}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ValueError(f"{source}: unknown setting(s) {unknown}; known: {sorted(allowed)}.")
        if secret_keys is not None:
            data["secret_keys"] = list(secret_keys)
        if "secret_keys" not in data:
            raise ValueError(
                f"{source}: no secret_keys; pass secret_keys= or set them in the file."
            )
        if "categories" in data:
            data["categories"] = tuple(
                _category_from(item, source) for item in _as_list(data["categories"], source)
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"{source}: {exc}") from None


def _strings(field: str, value: Any, grammar: re.Pattern[str], what: str) -> tuple[str, ...]:
    """``value`` as a tuple of strings that each match ``grammar`` whole, or a ValueError."""
    if isinstance(value, str):
        raise ValueError(f"{field} must be a list, not a single string: each item is {what}.")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not grammar.fullmatch(item):
            raise ValueError(f"{field}: {item!r} is not {what}.")
    return items


def _as_list(value: Any, source: str) -> Iterable[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{source}: categories must be an array of tables ([[categories]]).")
    return value


def _category_from(item: Any, source: str) -> Category:
    if not isinstance(item, dict):
        raise ValueError(f"{source}: each [[categories]] entry must be a table.")
    fields = {"name", "label", "description", "hosts", "sale_or_sharing", "max_age"}
    unknown = sorted(set(item) - fields)
    if unknown:
        raise ValueError(
            f"{source}: category setting(s) {unknown} unknown; known: {sorted(fields)}."
        )
    if "name" not in item or "label" not in item:
        raise ValueError(f"{source}: each category needs a name and a label.")
    return Category(
        name=item["name"],
        label=item["label"],
        description=item.get("description", ""),
        hosts=tuple(item.get("hosts", ())),
        sale_or_sharing=bool(item.get("sale_or_sharing", False)),
        max_age=item.get("max_age"),
    )


def secret_keys_from_env(name: str = "COOKIEGUARD_SECRET") -> list[str]:
    """Secret keys from the environment variable ``name``: one key, or several separated by
    commas or whitespace, newest first.

    A missing or empty variable raises a ``ValueError`` that names it and says how to make a
    key (``python -m cookieguard secret``), instead of a bare ``KeyError`` deep in start-up.
    """
    import os

    raw = os.environ.get(name, "")
    keys = [key for key in re.split(r"[\s,]+", raw) if key]
    if not keys:
        raise ValueError(
            f"cookieguard: the environment variable {name} is not set (or empty). Make a key "
            f"with `python -m cookieguard secret` and set it, e.g. "
            f'export {name}="$(python -m cookieguard secret)"; several keys, newest first, '
            "may be separated by commas."
        )
    return keys
