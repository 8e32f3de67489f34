"""The cookie declaration: every cookie and storage key a site may set, generated from its policy.

For each declared cookie (and ``localStorage``/``sessionStorage`` key): its name, provider,
category, purpose and retention, grouped by category. Facts come from the policy
(``cookies={"likebox": {"category": ..., "retention": ..., "max_age": ..., "provider": ...,
"purpose": ...}}``), then from the tracker catalogue (vendor and documented retention), and are
never guessed: an unknown retention is shown as "not declared".

The same rows feed the preferences page and dialog (one ``<details>`` per category), the
template helper a site puts on its privacy page, and ``GET {prefix}/cookies`` (JSON).
Durations are written in the visitor's language with CLDR plural rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any, Concatenate, ParamSpec, TypeVar

from cookieguard.catalogue._catalogue import Catalogue, Vendor, load_catalogue
from cookieguard.core._i18n import UNITS, site_texts, text
from cookieguard.core._policy import NECESSARY, Category, CookieInfo, Policy, text_for

__all__ = [
    "Declared",
    "ThirdParty",
    "declaration",
    "declaration_json",
    "duration",
    "plural",
    "render_declaration",
    "third_parties",
]

_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_YEAR = 365 * _DAY
_MONTH = _YEAR / 12  # 30.4 days: 183 days read as "6 months", 395 days as "13 months"


_P = ParamSpec("_P")
_R = TypeVar("_R")


def with_site_texts(
    render: Callable[Concatenate[Policy, _P], _R],
) -> Callable[Concatenate[Policy, _P], _R]:
    """Run a renderer that takes the policy first with the site's own texts (``Policy.texts``)
    laid over the shipped translations."""

    @functools.wraps(render)
    def rendered(policy: Policy, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with site_texts(policy.texts):
            return render(policy, *args, **kwargs)

    return rendered


# -- plural rules and durations -------------------------------------------------------------

# CLDR cardinal plural rules for whole numbers (https://www.unicode.org/cldr/charts/latest/
# supplemental/language_plural_rules.html); fractions never occur here.


def _one_other(n: int) -> str:
    return "one" if n == 1 else "other"


def _zero_one_other(n: int) -> str:  # fr, pt: 0 and 1 are singular
    return "one" if n in (0, 1) else "other"


def _baltic_lv(n: int) -> str:
    if n % 10 == 0 or 11 <= n % 100 <= 19:
        return "zero"
    return "one" if n % 10 == 1 and n % 100 != 11 else "other"


def _baltic_lt(n: int) -> str:
    if 11 <= n % 100 <= 19:
        return "other"
    if n % 10 == 1:
        return "one"
    return "few" if n % 10 >= 2 else "other"


def _slavic_east(n: int) -> str:  # uk (and pl with "one" only for 1)
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def _pl(n: int) -> str:
    if n == 1:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


def _hr(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "other"


def _cs_sk(n: int) -> str:
    if n == 1:
        return "one"
    return "few" if 2 <= n <= 4 else "other"


def _sl(n: int) -> str:
    return {1: "one", 2: "two", 3: "few", 4: "few"}.get(n % 100, "other")


def _ro(n: int) -> str:
    if n == 1:
        return "one"
    return "few" if n == 0 or 2 <= n % 100 <= 19 else "other"


def _ga(n: int) -> str:
    if n == 1:
        return "one"
    if n == 2:
        return "two"
    if 3 <= n <= 6:
        return "few"
    return "many" if 7 <= n <= 10 else "other"


def _mt(n: int) -> str:
    if n == 1:
        return "one"
    if n == 2:
        return "two"
    if n == 0 or 3 <= n % 100 <= 10:
        return "few"
    return "many" if 11 <= n % 100 <= 19 else "other"


def _ar(n: int) -> str:
    if n in (0, 1, 2):
        return ("zero", "one", "two")[n]
    if 3 <= n % 100 <= 10:
        return "few"
    return "many" if 11 <= n % 100 <= 99 else "other"


def _he(n: int) -> str:
    return {1: "one", 2: "two"}.get(n, "other")


_RULES: dict[str, Callable[[int], str]] = {
    "fr": _zero_one_other,
    "pt": _zero_one_other,
    "lv": _baltic_lv,
    "lt": _baltic_lt,
    "uk": _slavic_east,
    "pl": _pl,
    "hr": _hr,
    "cs": _cs_sk,
    "sk": _cs_sk,
    "sl": _sl,
    "ro": _ro,
    "ga": _ga,
    "mt": _mt,
    "ar": _ar,
    "he": _he,
}


def plural(language: str, n: int) -> str:
    """The CLDR plural category of the whole number ``n`` in ``language`` (``one``, ``few``...)."""
    return _RULES.get(language, _one_other)(n)


def _unit(language: str, unit: str, n: int) -> str:
    forms = UNITS.get(language, {}).get(unit) or UNITS["en"][unit]
    form = forms.get(plural(language, n)) or forms.get("other") or UNITS["en"][unit]["other"]
    return form.replace("{n}", str(n))


def duration(language: str, seconds: int) -> str:
    """``seconds`` as a short duration in ``language``: ``"6 months"``, ``"2 Jahre"``.

    Whole years when the value is a number of 365-day years, months from four weeks on (within
    three days of a whole month), else days, hours or minutes.
    """
    if seconds >= _YEAR and seconds % _YEAR == 0:
        return _unit(language, "year", seconds // _YEAR)
    days = seconds // _DAY
    if days >= 28:
        months = round(seconds / _MONTH)
        if abs(months * _MONTH - seconds) <= 3 * _DAY:
            if months % 12 == 0:
                return _unit(language, "year", months // 12)
            return _unit(language, "month", months)
    if days >= 1:
        return _unit(language, "day", round(seconds / _DAY))
    if seconds >= _HOUR:
        return _unit(language, "hour", round(seconds / _HOUR))
    return _unit(language, "minute", max(1, round(seconds / _MINUTE)))


# -- the declaration ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Declared:
    """One row of the declaration: a cookie or storage key and what is known about it.

    ``provider`` is ``""`` for the site itself; ``vendor`` is the catalogue's name for the
    third party (``"Google Analytics"``) when it is one. ``max_age`` is seconds, ``None`` for a
    session cookie or when not declared; ``retention`` is the declared text, if any.
    """

    name: str
    storage: bool
    category: str
    provider: str
    vendor: str
    purpose: Mapping[str, str] | str
    retention: str
    max_age: int | None


@dataclass(frozen=True, slots=True)
class ThirdParty:
    """A third party the site involves: a catalogued vendor, or a declared host."""

    name: str
    provider: str
    categories: tuple[str, ...]
    privacy_url: str


_SESSION_WORDS = frozenset({"session", "browser session", "until the browser closes"})
_THIS_SITE = frozenset({"", "this site", "first party", "first-party"})


def _row(
    name: str, info: CookieInfo, found: tuple[Vendor, Any] | None, *, storage: bool
) -> Declared:
    vendor = found[0] if found is not None else None
    fact = found[1] if found is not None else None
    provider = info.provider
    if not provider and vendor is not None:
        provider = vendor.provider
    retention, max_age = info.retention, info.max_age
    if not retention and max_age is None and fact is not None:
        # The catalogue's documented retention (never a guess); declared facts win.
        retention, max_age = fact.retention, fact.max_age
    return Declared(
        name=name,
        storage=storage,
        category=info.category,
        provider="" if provider.strip().lower() in _THIS_SITE else provider,
        vendor=vendor.name if vendor is not None else "",
        purpose=info.purpose,
        retention=retention,
        max_age=max_age,
    )


def _build(policy: Policy) -> tuple[tuple[Declared, ...], tuple[ThirdParty, ...]]:
    catalogue = policy.catalogue
    rows = [
        Declared(
            name=policy.cookie_name,
            storage=False,
            category=NECESSARY,
            provider="",
            vendor="",
            purpose="",  # the "consent_purpose" text, in the visitor's language
            retention="",
            max_age=policy.max_age,
        )
    ]
    for name, info in policy.declared_cookies.items():
        rows.append(_row(name, info, catalogue.cookie_vendor(name), storage=False))
    for name, info in policy.declared_storage.items():
        rows.append(_row(name, info, catalogue.storage_vendor(name), storage=True))
    return tuple(rows), _third_parties(policy, catalogue, rows)


def _third_parties(
    policy: Policy, catalogue: Catalogue, rows: list[Declared]
) -> tuple[ThirdParty, ...]:
    """Vendors the site declares (its trackers, catalogued cookies and storage keys) and its
    categories' hosts, named as the catalogue names them; in declaration order."""
    packaged = load_catalogue()
    found: dict[str, tuple[str, str, list[str]]] = {}  # name -> provider, privacy, categories

    def add(name: str, provider: str, privacy_url: str, category: str) -> None:
        entry = found.setdefault(name, (provider, privacy_url, []))
        if category not in entry[2]:
            entry[2].append(category)

    for category in policy.categories:
        for host in category.hosts:
            vendor = packaged.vendor_for_host(host)
            if vendor is not None:
                add(vendor.name, vendor.provider, vendor.privacy_url, category.name)
            else:
                add(host, host, "", category.name)
    for entry in policy.trackers:
        if entry.get("disabled"):
            continue
        for vendor in catalogue.vendors:
            if vendor.name == entry["name"]:
                add(vendor.name, vendor.provider, vendor.privacy_url, vendor.category)
                break
    by_name = {vendor.name: vendor for vendor in catalogue.vendors}
    for row in rows:
        if row.vendor and row.provider and row.vendor in by_name:
            vendor = by_name[row.vendor]
            add(vendor.name, vendor.provider, vendor.privacy_url, row.category)
    return tuple(
        ThirdParty(name, provider, tuple(categories), privacy_url)
        for name, (provider, privacy_url, categories) in found.items()
    )


def _cached(policy: Policy) -> tuple[tuple[Declared, ...], tuple[ThirdParty, ...]]:
    return policy.derived(_build)


def declaration(policy: Policy) -> tuple[Declared, ...]:
    """Every cookie and storage key ``policy`` declares, the consent cookie first."""
    return _cached(policy)[0]


def third_parties(policy: Policy, met: frozenset[str] = frozenset()) -> tuple[ThirdParty, ...]:
    """The third parties ``policy`` involves, named by the catalogue where it knows them.

    ``met`` names catalogue vendors the site's pages were seen loading (issue 24): they join
    the declared ones, and then every party is grouped by category (the policy's order;
    declared before met within a category).
    """
    declared = _cached(policy)[1]
    if not met:
        return declared
    return policy.derived(_WithMet).parties(met)


class _WithMet:
    """:func:`third_parties` with vendors met, per set met (a few sets per site: it only
    grows, by one vendor at a time; bounded anyway)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._found: dict[frozenset[str], tuple[ThirdParty, ...]] = {}

    def parties(self, met: frozenset[str]) -> tuple[ThirdParty, ...]:
        found = self._found.get(met)
        if found is None:
            found = self._merge(met)
            if len(self._found) >= 16:
                self._found.clear()
            self._found[met] = found
        return found

    def _merge(self, met: frozenset[str]) -> tuple[ThirdParty, ...]:
        policy = self.policy
        declared = _cached(policy)[1]
        names = {party.name for party in declared}
        by_name = {vendor.name: vendor for vendor in policy.catalogue.vendors}
        extra = [
            ThirdParty(v.name, v.provider, (v.category,), v.privacy_url)
            for v in (by_name[name] for name in sorted(met - names) if name in by_name)
        ]
        order = {category.name: i for i, category in enumerate(policy.categories)}
        rank = len(order)
        parties = [*declared, *extra]  # sorted() is stable: declared first within a category
        return tuple(sorted(parties, key=lambda p: order.get(p.categories[0], rank)))


# -- texts in one language --------------------------------------------------------------------


def _label(category: Category, language: str) -> str:
    return text_for(category.label, language).strip() or category.name


def provider_text(row: Declared, language: str) -> str:
    """Who sets it: "This site", or the third party (``Google Analytics (Google)``)."""
    if not row.provider:
        return text(language, "this_site")
    if row.vendor and row.vendor != row.provider:
        return f"{row.vendor} ({row.provider})"
    return row.provider


def purpose_text(policy: Policy, row: Declared, language: str) -> str:
    """The declared purpose, else the category's description (the consent cookie's own)."""
    if row.name == policy.cookie_name and not row.storage:
        return text(language, "consent_purpose")
    declared = text_for(row.purpose, language).strip()
    if declared:
        return declared
    try:
        category = policy.category(row.category)
    except KeyError:  # pragma: no cover - the policy validated every category
        return ""
    return text_for(category.description, language).strip()


def retention_text(row: Declared, language: str) -> str:
    """How long it is kept, in ``language``; "not declared" when nobody said."""
    if row.max_age is not None and row.max_age > 0:
        return duration(language, row.max_age)
    said = row.retention.strip().lower()
    if said in _SESSION_WORDS or said.startswith("end of session"):
        return text(language, "session")
    if said in ("persistent", "until cleared", "until deleted"):
        return text(language, "persistent")  # browser storage: kept until the visitor clears it
    if row.retention.strip():
        return row.retention.strip()  # as declared (the site's or the vendor's own words)
    return text(language, "not_declared")


@with_site_texts
def declaration_json(
    policy: Policy, language: str, met: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The declaration as JSON-ready data (``GET {prefix}/cookies``)."""
    rows = declaration(policy)
    categories = []
    for category in policy.categories:
        categories.append(
            {
                "name": category.name,
                "label": _label(category, language),
                "description": text_for(category.description, language).strip(),
                "cookies": [
                    {
                        "name": row.name,
                        "type": "storage" if row.storage else "cookie",
                        "provider": provider_text(row, language),
                        "third_party": bool(row.provider),
                        "purpose": purpose_text(policy, row, language),
                        "retention": retention_text(row, language),
                        "max_age": row.max_age,
                    }
                    for row in rows
                    if row.category == category.name
                ],
            }
        )
    return {
        "language": language,
        "consent_max_age": policy.max_age,
        "consent_kept": duration(language, policy.max_age),
        "categories": categories,
        "third_parties": [
            {
                "name": party.name,
                "provider": party.provider,
                "categories": list(party.categories),
                "privacy_url": party.privacy_url or None,
            }
            for party in third_parties(policy, met)
        ],
        # Which rule applies where (docs/regions.md); None: every visitor gets the opt-in
        # banner. The same for every visitor, so the reply stays shareable.
        "regions": {
            "header": policy.region_header,
            "rules": dict(policy.regions),
            "unknown_region": policy.unknown_region,
        }
        if policy.region_header is not None
        else None,
    }


_BREAK_AFTER = re.compile(r"(?<=[^_.\-])([_.\-]+)(?=.)")


def _breakable(name: str) -> str:
    """``name`` escaped, with line-break opportunities after ``_ . -`` (``cookie_<wbr>consent``):
    long cookie names must not widen the table past a phone screen."""
    return _BREAK_AFTER.sub(r"\1<wbr>", escape(name))


@with_site_texts
def render_declaration(
    policy: Policy,
    language: str,
    *,
    heading_level: int = 2,
    id_prefix: str = "cg-decl",
    open_categories: bool = False,
    met: frozenset[str] = frozenset(),
) -> str:
    """The declaration as HTML: a heading, then one ``<details>`` per category with a table.

    ``id_prefix`` keeps ids unique when a page shows it twice (a privacy page with the
    preferences dialog open). Everything from the policy is escaped; no inline style.
    """
    if not 1 <= heading_level <= 5:
        raise ValueError(f"heading_level must be 1-5, got {heading_level!r}.")
    rows = declaration(policy)
    h = f"h{heading_level}"
    prefix = escape(id_prefix)
    head = "".join(
        f'<th scope="col">{escape(text(language, key))}</th>'
        for key in ("col_name", "col_provider", "col_purpose", "col_retention")
    )
    opened = " open" if open_categories else ""
    parts = [
        f'<section class="cg-declaration" aria-labelledby="{prefix}-title">'
        f'<{h} id="{prefix}-title">{escape(text(language, "declaration"))}</{h}>'
        f"<p>{escape(text(language, 'declaration_intro'))}</p>"
    ]
    storage_word = escape(text(language, "type_storage"))
    parties: dict[str, list[str]] = {}
    for party in third_parties(policy, met):
        for name in party.categories:
            parties.setdefault(name, []).append(party.name)
    for category in policy.categories:
        mine = [row for row in rows if row.category == category.name]
        label = escape(_label(category, language))
        ident = f"{prefix}-{escape(category.name)}"
        parts.append(
            f'<details class="cg-declared" id="{ident}"{opened}>'
            f'<summary id="{ident}-summary">{label} ({len(mine)})</summary>'
        )
        if category.name in parties:
            names = ", ".join(parties[category.name])
            parts.append(
                f'<p class="cg-parties">{escape(text(language, "parties").format(hosts=names))}</p>'
            )
        if not mine:
            parts.append(f"<p>{escape(text(language, 'none_declared'))}</p></details>")
            continue
        body = []
        for row in mine:
            kind = f' <span class="cg-kind">({storage_word})</span>' if row.storage else ""
            body.append(
                f'<tr><th scope="row"><code>{_breakable(row.name)}</code>{kind}</th>'
                f"<td>{escape(provider_text(row, language))}</td>"
                f"<td>{escape(purpose_text(policy, row, language))}</td>"
                f"<td>{escape(retention_text(row, language))}</td></tr>"
            )
        parts.append(
            # Named by its summary: a caption would repeat the label right below it.
            f'<table class="cg-cookies" aria-labelledby="{ident}-summary">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></details>"
        )
    parts.append("</section>")
    return "".join(parts)
