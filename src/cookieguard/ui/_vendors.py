"""Consent signals to vendors: Google Consent Mode v2, Microsoft UET, Meta Pixel; browser storage.

The server knows the visitor's choice before the first byte of HTML, so the Consent Mode
default goes out with the page itself: :func:`head_tags` renders one external script tag
(``{prefix}/consent-mode.js``, cacheable, no inline code) whose data attributes carry the
current state, placed before the page's first script. ``banner.js`` sends the ``update`` on a
choice, from the ``consent_mode`` entry of the consent JSON (:func:`consent_mode_types`).

Google Consent Mode: https://developers.google.com/tag-platform/security/guides/consent
Microsoft UET consent mode: https://help.ads.microsoft.com/#apex/ads/en/60119/1
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from cookieguard.core._consent import Consent
from cookieguard.core._policy import DEFAULT_CONSENT_MODE, Policy
from cookieguard.ui._assets import CONSENT_MODE_SCRIPT, load_assets

#: The consent-mode script served by the middleware at ``{prefix}/consent-mode.js``.
#: Milliseconds Google's tags wait for an ``update`` before using the default (undecided
#: visitors only: a decided visitor's default is already their choice).
WAIT_FOR_UPDATE = 500
_TYPES = tuple(DEFAULT_CONSENT_MODE)  # Google's seven consent types, in Google's order


def consent_mode_types(policy: Policy, consent: Consent) -> dict[str, str]:
    """Each of Google's seven consent types as ``"granted"`` or ``"denied"`` for ``consent``.

    A type is granted when the visitor decided and granted the category that
    ``policy.consent_mode`` maps it to; every type is denied while the visitor is undecided, and
    a type mapped to no category of this site stays denied. Categories refused by Global Privacy
    Control are never in ``consent.granted``, so GPC denies their types here too.
    """
    mapping = policy.consent_mode
    return {
        kind: (
            "granted"
            if consent.decided and kind in mapping and _google_allowed(consent, mapping[kind])
            else "denied"
        )
        for kind in _TYPES
    }


#: Google's tags: the vendors whose choices per vendor Consent Mode follows.
_GOOGLE = ("Google Analytics", "Google Tag Manager", "Google Ads")


def _google_allowed(consent: Consent, category: str) -> bool:
    """``category`` as Google's tags may use it: granted unless the visitor refused a Google
    vendor of it by name; not granted unless they allowed one by name (issue 24)."""
    if not consent.exceptions:
        return consent.allows(category)
    categories = consent.vendor_categories or {}
    google = [name for name in _GOOGLE if categories.get(name) == category]
    if consent.allows(category):
        return not any(name in consent.refused_vendors for name in google)
    return any(name in consent.vendors for name in google)


def head_tags(policy: Policy, consent: Consent) -> str:
    """Markup placed before the page's first script (empty when no vendor signal is on).

    With ``policy.google_consent_mode`` on: one ``<script src="{prefix}/consent-mode.js?v=...">``
    that runs synchronously (no ``async``/``defer``: the default must precede every Google
    tag) and reads the visitor's state from its ``data-cookieguard-*`` attributes:
    ``granted``/``denied`` (type names), and for undecided visitors ``wait`` (ms) and
    ``regions`` (ISO 3166 codes the all-denied default is scoped to); ``redact`` and
    ``passthrough`` turn on ``ads_data_redaction`` and ``url_passthrough``.
    """
    if not policy.google_consent_mode:
        return ""
    types = consent_mode_types(policy, consent)
    granted = " ".join(kind for kind in _TYPES if types[kind] == "granted")
    denied = " ".join(kind for kind in _TYPES if types[kind] == "denied")
    src = f"{policy.prefix}/{CONSENT_MODE_SCRIPT}?v={_version()}"
    attrs = [
        f'src="{escape(src)}"',
        f'data-cookieguard-granted="{granted}"',
        f'data-cookieguard-denied="{denied}"',
    ]
    if not consent.decided:
        attrs.append(f'data-cookieguard-wait="{WAIT_FOR_UPDATE}"')
        if policy.consent_mode_regions:
            regions = " ".join(policy.consent_mode_regions)
            attrs.append(f'data-cookieguard-regions="{escape(regions)}"')
    if policy.ads_data_redaction:
        attrs.append('data-cookieguard-redact="1"')
    if policy.url_passthrough:
        attrs.append('data-cookieguard-passthrough="1"')
    return f"<script {' '.join(attrs)}></script>"


@lru_cache(maxsize=1)
def _version() -> str:
    """The consent-mode script's content hash, for a cache-busting ``?v=``."""
    return load_assets()[CONSENT_MODE_SCRIPT].etag.strip('"')[:12]


def _glob_to_regexp(pattern: str) -> str:
    """A storage key glob (``*`` any run, ``?`` one character) as a JavaScript regexp body.

    Every other character is literal: ``re.escape`` only adds backslashes before punctuation,
    which JavaScript (non-unicode mode) reads as the character itself.
    """
    return "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )


def storage_rules(policy: Policy) -> dict[str, str]:
    """``category -> regexp`` for the ``localStorage``/``sessionStorage`` keys banner.js clears
    while that category is not granted.

    Keys come from ``policy.storage`` (name or glob -> category) and from the tracker catalogue
    (its vendors' storage keys, by the vendor's category). A key the site declares itself keeps
    the site's category; ``necessary`` keys are never cleared.
    """
    patterns: dict[str, set[str]] = {name: set() for name in policy.optional_categories}
    for pattern, category in policy.storage.items():
        if category in patterns:
            patterns[category].add(pattern)
    catalogue = policy.catalogue
    for category, found in patterns.items():
        found.update(p for p in catalogue.storage_patterns(category) if p not in policy.storage)
    rules = {}
    for category, found in sorted(patterns.items()):
        if not found:
            continue
        rule = "|".join(_glob_to_regexp(p) for p in sorted(found))
        # What the site declares for another category (necessary included) is never cleared
        # by a catalogue glob of this one.
        kept = sorted(p for p, c in policy.storage.items() if c != category)
        if kept:
            rule = "(?!(?:" + "|".join(_glob_to_regexp(p) for p in kept) + ")$)(?:" + rule + ")"
        rules[category] = "^(?:" + rule + ")$"
    return rules
