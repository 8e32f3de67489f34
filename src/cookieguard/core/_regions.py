"""Where a visitor is, and which consent rule applies there.

The region comes from a header that a trusted proxy or CDN sets (never from the browser's
word: with ``Policy(region_header=None)``, the default, every header is ignored and every
visitor gets ``unknown_region``'s rule). Codes are ISO 3166-1 alpha-2 (``DE``), optionally
with an ISO 3166-2 subdivision (``US-CA``). A rule is looked up by subdivision, then by
country, then ``unknown_region``; a value that is not a code counts as unknown.

The rules:

- ``"opt-in"``: nothing optional before the visitor says yes (GDPR Art. 6(1)(a), ePrivacy
  Directive Art. 5(3)); the banner asks.
- ``"opt-out"``: optional categories run until the visitor opts out (California Civil Code
  1798.120, 1798.135 and the other US state laws); sale/sharing categories are refused for a
  ``Sec-GPC: 1`` visitor (CCPA Regulations 7025); a "Do Not Sell or Share My Personal
  Information" link replaces the banner.
- ``"notice"``: optional categories run; a notice informs and can be dismissed.

Pure and protocol-free: the adapters pass header values in, a rule comes out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cookieguard._cache import remember
from cookieguard.core._headers import acted_on, learn_region, name, text_name

Rule = Literal["opt-in", "opt-out", "notice"]
OPT_IN: Rule = "opt-in"
OPT_OUT: Rule = "opt-out"
NOTICE: Rule = "notice"
RULES: tuple[Rule, ...] = (OPT_IN, OPT_OUT, NOTICE)


@dataclass(frozen=True, slots=True)
class Provider:
    """The request headers one CDN or platform sets (names lower-case).

    ``country`` carries an ISO 3166-1 alpha-2 code; ``subdivision``, where the provider sends
    one, the ISO 3166-2 subdivision of that country, bare (``CA``) or whole (``US-CA``).
    """

    country: str
    subdivision: str | None = None


#: Known providers and the headers they document:
#: Cloudflare: ``CF-IPCountry`` (always, with IP Geolocation on; ``XX`` unknown, ``T1`` Tor)
#: and ``cf-region-code`` (the "Add visitor location headers" Managed Transform);
#: CloudFront: ``CloudFront-Viewer-Country`` and ``CloudFront-Viewer-Country-Region``
#: (forwarded by an origin request policy); Vercel: ``X-Vercel-IP-Country`` and
#: ``X-Vercel-IP-Country-Region``; Google App Engine: ``X-AppEngine-Country`` (``ZZ``
#: unknown) and ``X-AppEngine-Region`` (lower-case, ``ca``); Fastly sends no geo header of
#: its own: the service sets ``Fastly-Geo-Country`` from ``client.geo.country_code`` and
#: ``Fastly-Geo-Region`` from ``client.geo.region`` in VCL (docs/regions.md shows how).
PROVIDERS: Mapping[str, Provider] = {
    "cloudflare": Provider("cf-ipcountry", "cf-region-code"),
    "cloudfront": Provider("cloudfront-viewer-country", "cloudfront-viewer-country-region"),
    "vercel": Provider("x-vercel-ip-country", "x-vercel-ip-country-region"),
    "appengine": Provider("x-appengine-country", "x-appengine-region"),
    "fastly": Provider("fastly-geo-country", "fastly-geo-region"),
}

_EEA = (
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"  # EU 27
    " IS LI NO"  # EEA Agreement
)
# US states with a comprehensive consumer privacy law in force by 2026 (opt-out model with a
# right to opt out of sale or sharing / targeted advertising); sources in docs/regions.md.
_US_OPT_OUT = "CA CO CT DE IA IN KY MD MN MT NE NH NJ OR RI TN TX UT VA"

#: The shipped table: EEA, UK and Switzerland opt-in; US states with comprehensive privacy
#: laws opt-out. Everything else gets ``unknown_region`` (default ``"opt-in"``).
DEFAULT_REGIONS: Mapping[str, Rule] = {
    **{code: OPT_IN for code in _EEA.split()},
    "GB": OPT_IN,
    "CH": OPT_IN,
    **{f"US-{state}": OPT_OUT for state in _US_OPT_OUT.split()},
}

_CODE = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_COUNTRY = re.compile(r"[A-Z]{2}")
_SUBDIVISION = re.compile(r"[A-Z0-9]{1,3}")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")  # an RFC 9110 token, bounded
# ISO 3166-1 user-assigned codes (AA, QM-QZ, XA-XZ, ZZ) and the reserved EU / AP never name
# a country: CDNs use them for "unknown" (Cloudflare XX, App Engine ZZ, MaxMind-style EU/AP).
_NOT_COUNTRIES = frozenset(
    ["AA", "ZZ", "EU", "AP", *(f"Q{c}" for c in "MNOPQRSTUVWXYZ")]
    + [f"X{c}" for c in "ABCDEFGHIJLMNOPQRSTUVWXYZ"]  # not XK: Kosovo, as CDNs use it
)
_MAX_VALUE = 16  # longer values are no code; never remembered
_MEMO = 512


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode("latin-1") if isinstance(value, bytes) else value


def region_code(country: str | bytes | None, subdivision: str | bytes | None = None) -> str | None:
    """The visitor's region (``"US-CA"``, ``"DE"``) from the header values, or ``None``.

    ``country`` may hold a whole code (``"US-CA"``, as a site's own header may); the
    subdivision comes bare (``"CA"``, ``"ca"``) or whole (``"US-CA"``, only if its country
    matches). A country that is not one makes the region unknown; a subdivision that is not
    one (``"NO REGION"``, ``"?"``, empty) leaves the country.
    """
    whole = _text(country)
    if len(whole) > _MAX_VALUE:  # before stripping: the work stays bounded
        return None
    whole = whole.strip().upper()
    cc, dash, sub = whole.partition("-")
    if not _COUNTRY.fullmatch(cc) or cc in _NOT_COUNTRIES:
        return None
    if dash:
        return f"{cc}-{sub}" if _SUBDIVISION.fullmatch(sub) else None
    part = _text(subdivision)
    if len(part) > _MAX_VALUE:
        return cc
    part = part.strip().upper()
    if "-" in part:
        prefix, _, part = part.partition("-")
        if prefix != cc:
            return cc
    return f"{cc}-{part}" if _SUBDIVISION.fullmatch(part) else cc


class RegionLookup:
    """A policy's region rules: which headers to read and what rule a region gets.

    Built once per policy (``Policy.region_lookup``). ``headers`` is empty when the policy
    reads no region (then :meth:`locate` always answers ``(None, unknown_region)``).
    """

    def __init__(self, header: str | None, table: Mapping[str, Rule], unknown: Rule) -> None:
        self.table = dict(table)
        self.unknown: Rule = unknown
        provider = None if header is None else PROVIDERS.get(header) or Provider(header.lower())
        self.provider = provider
        #: Lower-case names of the headers read, country first ((): none).
        self.headers: tuple[str, ...] = ()
        if provider is not None:
            self.headers = (provider.country,)
            if provider.subdivision is not None:
                self.headers += (provider.subdivision,)
        if self.headers:
            learn_region(self.headers)  # the adapters' header loop then hands them over
        # Each name as ASGI (bytes) and WSGI/endpoints (str) spell it lower-case -> its place.
        self._index: dict[str | bytes, int] = {}
        for at, header in enumerate(self.headers):
            self._index[header] = self._index[header.encode("latin-1")] = at
        #: Whether the rule can differ between visitors (responses then vary on ``headers``).
        self.varies = bool(self.headers) and any(r != unknown for r in self.table.values())
        self._located: dict[tuple[str | bytes | None, str | bytes | None], tuple[str | None, Rule]]
        self._located = {}

    def rule_for(self, region: str | None) -> Rule:
        """``region``'s rule: the subdivision's, else the country's, else ``unknown``."""
        if region is None:
            return self.unknown
        found = self.table.get(region)
        if found is None and len(region) > 2:
            found = self.table.get(region[:2])
        return self.unknown if found is None else found

    def locate(
        self, country: str | bytes | None, subdivision: str | bytes | None = None
    ) -> tuple[str | None, Rule]:
        """``(region, rule)`` for the values of the provider's headers (``None``: absent)."""
        if not self.headers:
            return None, self.unknown
        key = (country, subdivision)
        found = self._located.get(key)
        if found is None:
            region = region_code(country, subdivision)
            found = (region, self.rule_for(region))
            if len(_text(country)) + len(_text(subdivision)) <= 2 * _MAX_VALUE:
                remember(self._located, key, found, _MEMO)
        return found

    def headers_for(self, region: str) -> dict[str, str]:
        """The request headers the configured provider would send for a visitor from
        ``region`` (``"US-CA"``, ``"DE"``): what a test or a scan sends to be seen from there.
        A ``ValueError`` when the policy reads no region or ``region`` is not a code."""
        if self.provider is None:
            raise ValueError(
                "this policy reads no region (region_header=None): a visitor's region headers"
                " would be ignored; set region_header first."
            )
        if not isinstance(region, str) or not _CODE.fullmatch(region):
            raise ValueError(f"{region!r} is not a region code like 'DE' or 'US-CA'.")
        if self.provider.subdivision is None:
            return {self.provider.country: region}
        country, _, subdivision = region.partition("-")
        headers = {self.provider.country: country}
        if subdivision:
            headers[self.provider.subdivision] = subdivision
        return headers

    def _place(self, raw: str | bytes) -> int:
        """Where header ``raw`` goes (-1: nowhere), learnt for next time (bounded: names come
        from visitors)."""
        normal = name(raw) if isinstance(raw, bytes) else text_name(raw)
        at = self._index.get(normal, -1)
        if len(self._index) < _MEMO and len(raw) <= 64:
            self._index[raw] = at
        return at

    def from_pairs(
        self, headers: Iterable[tuple[str | bytes, str | bytes]]
    ) -> tuple[str | None, Rule]:
        """:meth:`locate` for a request's headers as ordered pairs (names in any case, str
        or bytes). A header sent twice with different values is ambiguous: unknown."""
        if not self.headers:
            return None, self.unknown
        index = self._index
        values: list[str | bytes | None] = [None, None]
        for raw, value in headers:
            # One dict lookup per header for a name seen before (-1: not a region header).
            at = index.get(raw)
            if at is None:
                at = self._place(raw)
            if at < 0:
                continue
            if values[at] is not None and values[at] != value:
                return None, self.unknown
            values[at] = value
        return self.locate(values[0], values[1])


def check_regions(header: Any, table: Any, unknown: Any) -> tuple[str | None, dict[str, Rule]]:
    """``Policy``'s region settings validated: the header (a provider's name lower-cased), and
    the table as a plain dict; a ``ValueError`` that says what to change otherwise."""
    if header is not None:
        if not isinstance(header, str) or not _HEADER.fullmatch(header):
            raise ValueError(
                f"region_header must be None, a provider ({', '.join(PROVIDERS)}) or the name "
                f"of the header your proxy sets (e.g. 'X-Country'), got {header!r}."
            )
        if header.lower() in PROVIDERS:
            header = header.lower()
        elif acted_on(header.lower()):
            raise ValueError(
                f"region_header {header!r} is a header cookieguard reads for something else;"
                " name the header your CDN or proxy sets for the region (e.g. 'X-Country')."
            )
    if unknown not in RULES:
        raise ValueError(
            f"unknown_region must be one of {', '.join(map(repr, RULES))}, got {unknown!r}."
        )
    if not isinstance(table, Mapping):
        raise ValueError(
            "regions must map a region code to a rule, e.g. "
            "regions={'DE': 'opt-in', 'US-CA': 'opt-out'}."
        )
    checked: dict[str, Rule] = {}
    for code, rule in table.items():
        if not isinstance(code, str) or not _CODE.fullmatch(code):
            raise ValueError(
                f"regions: {code!r} is not a region code: use ISO 3166-1 alpha-2 in capitals "
                "('DE'), or with an ISO 3166-2 subdivision ('US-CA')."
            )
        if rule not in RULES:
            raise ValueError(
                f"regions: {code!r} has rule {rule!r}; use one of {', '.join(map(repr, RULES))}."
            )
        checked[code] = rule
    return header, checked
