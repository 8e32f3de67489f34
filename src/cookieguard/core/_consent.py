"""The visitor's consent, and the signed cookie that carries it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from cookieguard._cache import Memo
from cookieguard.core._policy import NECESSARY, Policy
from cookieguard.core._regions import Rule

_SALT = "cookieguard.consent"
_VERSION = 1
_VERSION_VENDORS = 2  # with choices per vendor
# A signed token longer than this is no cookie of ours (a 30-vendor choice is ~330).
_TOKEN_LIMIT = 768


@dataclass(frozen=True, slots=True)
class Consent:
    """What one visitor agreed to, as seen on this request.

    ``granted`` never includes categories refused by Global Privacy Control on this request;
    ``necessary`` is always allowed. An undecided visitor has ``decided`` false and no id;
    what it is granted is its region's default: nothing optional under ``rule="opt-in"``,
    every optional category (less GPC's refusals) under ``"opt-out"`` and ``"notice"``.

    Choices per vendor (issue 24) are exceptions to the categories: ``vendors`` are catalogue
    vendors allowed though their category is not granted (YouTube, but not the rest of
    marketing), ``refused_vendors`` vendors refused though theirs is (analytics, but not
    Hotjar). ``vendor_categories`` (set by the codec from the policy's catalogue) tells
    :meth:`allows_vendor` a vendor's category.
    """

    decided: bool
    granted: frozenset[str]
    id: str | None = None
    revision: int = 0
    issued_at: int | None = None  # Unix time the choice was signed
    gpc: bool = False
    rule: Rule = "opt-in"  # the visitor's region's rule (see cookieguard.core._regions)
    vendors: frozenset[str] = frozenset()
    refused_vendors: frozenset[str] = frozenset()
    vendor_categories: Mapping[str, str] | None = field(
        default=None, compare=False, hash=False, repr=False
    )

    def allows(self, category: str) -> bool:
        """True if cookies of ``category`` may be used."""
        return category == NECESSARY or category in self.granted

    def allows_vendor(self, vendor: str) -> bool:
        """True if ``vendor`` (a catalogue name, ``"YouTube"``) may load: the visitor chose
        it by name, or granted its category and did not refuse it by name."""
        if vendor in self.refused_vendors:
            return False
        if vendor in self.vendors:
            return True
        category = (self.vendor_categories or {}).get(vendor)
        return category is not None and self.allows(category)

    @property
    def exceptions(self) -> bool:
        """True if the visitor chose some vendor otherwise than its category."""
        return bool(self.vendors or self.refused_vendors)


UNDECIDED = Consent(decided=False, granted=frozenset())
UNDECIDED_GPC = Consent(decided=False, granted=frozenset(), gpc=True)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of reading a consent cookie: the stored choice, and whether to re-sign it."""

    consent: Consent
    resign: bool = False  # signed with an older key: send a fresh cookie under the newest


_NO_CONSENT = Verdict(UNDECIDED)


def new_consent_id() -> str:
    """A random, unguessable consent id (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def vendor_key(name: str) -> str:
    """A vendor's four-character key in the consent cookie (24 bits of SHA-256, URL-safe
    base64): a 30-vendor choice then costs 150 characters, not 500 of names."""
    digest = hashlib.sha256(name.encode()).digest()[:3]
    return base64.urlsafe_b64encode(digest).decode("ascii")


class ConsentCodec:
    """Signs and verifies consent cookies for one policy.

    The payload is compact, versioned JSON: ``[1, [granted...], revision, consent_id]``, or
    with choices per vendor ``[2, [granted...], revision, consent_id, "+AbCd-EfGh"]`` (``+``
    a vendor allowed outside its category, ``-`` one refused inside it, by
    :func:`vendor_key`); the signing time comes from itsdangerous' timestamp. Verified tokens
    are cached (bounded, first in first out, with the expiry re-checked on every hit) because
    this runs on every request of every page.
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        # itsdangerous signs with the *last* key and verifies with all of them.
        keys = [k.encode() if isinstance(k, str) else k for k in reversed(policy.secret_keys)]
        self._all = URLSafeTimedSerializer(keys, salt=_SALT, serializer=_CompactJSON)
        self._newest = URLSafeTimedSerializer(keys[-1], salt=_SALT, serializer=_CompactJSON)
        # Tokens are at most 512 characters (see _verify), so entries are small and bounded.
        self._cache: Memo[str, tuple[Verdict, float]] = Memo(policy.cache_size, 4 << 20)
        vendors = policy.catalogue.vendors
        self._categories: Mapping[str, str] = {v.name: v.category for v in vendors}
        self._by_key: dict[str, str] = {}
        for vendor in vendors:  # the first of two names sharing a key keeps it
            self._by_key.setdefault(vendor_key(vendor.name), vendor.name)
        self._undecided = Consent(False, frozenset(), vendor_categories=self._categories)

    @property
    def memo(self) -> Memo[str, tuple[Verdict, float]]:
        """The cache of verified tokens (bounded by entries and bytes)."""
        return self._cache

    @property
    def vendor_categories(self) -> Mapping[str, str]:
        """Each catalogue vendor's category (what :meth:`Consent.allows_vendor` reads)."""
        return self._categories

    def exceptions(
        self, granted: Iterable[str], choices: Mapping[str, bool]
    ) -> tuple[frozenset[str], frozenset[str]]:
        """``(vendors, refused_vendors)`` for explicit vendor ``choices`` under ``granted``:
        only the choices that differ from the vendor's category count."""
        granted = set(granted)
        allowed = {n for n, on in choices.items() if on and self._categories.get(n) not in granted}
        refused = {n for n, on in choices.items() if not on and self._categories.get(n) in granted}
        return frozenset(allowed), frozenset(refused)

    def dumps(
        self,
        granted: frozenset[str] | set[str],
        consent_id: str,
        *,
        now: float | None = None,
        vendors: Iterable[str] = (),
        refused_vendors: Iterable[str] = (),
    ) -> str:
        """Sign a consent choice; unknown and locked categories, and vendors the catalogue
        does not know, are left out."""
        names = sorted(set(granted) & self._policy.optional_categories)
        marks = "".join(
            sign + vendor_key(name)
            for sign, chosen in (("+", vendors), ("-", refused_vendors))
            for name in sorted(set(chosen))
            if name in self._categories
        )
        payload: list[Any] = [_VERSION, names, self._policy.revision, consent_id]
        if marks:
            payload = [_VERSION_VENDORS, names, self._policy.revision, consent_id, marks]
        if now is None:
            return self._newest.dumps(payload)
        # itsdangerous reads the clock through get_timestamp; pin it for this one call.
        signer: Any = self._newest.make_signer()
        signer.get_timestamp = lambda: int(now)
        signed: bytes = signer.sign(self._newest.dump_payload(payload))
        return signed.decode("ascii")

    def loads(self, token: str, *, now: float | None = None) -> Verdict:
        """Read a consent cookie. Anything wrong with it means *undecided*, never an error."""
        clock = time.time() if now is None else now
        hit = self._cache.get(token)
        if hit is not None:
            verdict, expires = hit
            if clock < expires:
                return verdict
            self._cache.pop(token)
        verdict, expires = self._verify(token, clock)
        if verdict.consent.decided:
            consent = verdict.consent
            self._cache.put(token, (verdict, expires), len(token) + 64 + 16 * len(consent.granted))
        return verdict

    def _verify(self, token: str, clock: float) -> tuple[Verdict, float]:
        if not token or len(token) > _TOKEN_LIMIT:
            return _NO_CONSENT, 0.0
        resign = False
        try:
            payload, signed_at = self._newest.loads(token, return_timestamp=True)
        except BadData:
            if len(self._policy.secret_keys) == 1:
                return _NO_CONSENT, 0.0
            try:
                payload, signed_at = self._all.loads(token, return_timestamp=True)
            except BadData:
                return _NO_CONSENT, 0.0
            resign = True
        issued = int(signed_at.timestamp())
        consent = self._consent_from(payload, issued)
        if consent is None:
            return _NO_CONSENT, 0.0
        # Expiry is checked here, against the same clock as the cache, not by itsdangerous;
        # how long a choice holds depends on what it granted (Policy.lifetime).
        lifetime = self._policy.lifetime(consent.granted)
        if issued > clock + 300 or clock - issued > lifetime:
            return _NO_CONSENT, 0.0
        return Verdict(consent, resign), issued + lifetime

    def _consent_from(self, payload: object, issued: int) -> Consent | None:
        # Right key, wrong shape (or an old version): treat as no consent.
        if not isinstance(payload, list):
            return None
        marks: object = ""
        if len(payload) == 4 and payload[0] == _VERSION:
            _, names, revision, consent_id = payload
        elif len(payload) == 5 and payload[0] == _VERSION_VENDORS:
            _, names, revision, consent_id, marks = payload
        else:
            return None
        if (
            not isinstance(marks, str)
            or len(marks) % 5
            or not isinstance(names, list)
            or not all(isinstance(n, str) for n in names)
            or type(revision) is not int
            or not isinstance(consent_id, str)
            or not 16 <= len(consent_id) <= 64
        ):
            return None
        if revision != self._policy.revision:  # policy changed since: ask again
            return None
        granted = frozenset(names) & self._policy.optional_categories
        allowed: set[str] = set()
        refused: set[str] = set()
        for at in range(0, len(marks), 5):
            name = self._by_key.get(marks[at + 1 : at + 5])
            if name is not None:
                (allowed if marks[at] == "+" else refused).add(name)
        return Consent(
            True,
            granted,
            consent_id,
            revision,
            issued,
            vendors=frozenset(allowed),
            refused_vendors=frozenset(refused),
            vendor_categories=self._categories,
        )


class _CompactJSON:
    """itsdangerous serializer: JSON without spaces, to keep the cookie short."""

    @staticmethod
    def loads(data: str | bytes) -> object:
        return json.loads(data)

    @staticmethod
    def dumps(obj: object) -> str:
        return json.dumps(obj, separators=(",", ":"))
