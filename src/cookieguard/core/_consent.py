"""The visitor's consent, and the signed cookie that carries it."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from cookieguard._cache import Memo
from cookieguard.core._policy import NECESSARY, Policy
from cookieguard.core._regions import Rule

_SALT = "cookieguard.consent"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Consent:
    """What one visitor agreed to, as seen on this request.

    ``granted`` never includes categories refused by Global Privacy Control on this request;
    ``necessary`` is always allowed. An undecided visitor has ``decided`` false and no id;
    what it is granted is its region's default: nothing optional under ``rule="opt-in"``,
    every optional category (less GPC's refusals) under ``"opt-out"`` and ``"notice"``.
    """

    decided: bool
    granted: frozenset[str]
    id: str | None = None
    revision: int = 0
    issued_at: int | None = None  # Unix time the choice was signed
    gpc: bool = False
    rule: Rule = "opt-in"  # the visitor's region's rule (see cookieguard.core._regions)

    def allows(self, category: str) -> bool:
        """True if cookies of ``category`` may be used."""
        return category == NECESSARY or category in self.granted


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


class ConsentCodec:
    """Signs and verifies consent cookies for one policy.

    The payload is compact, versioned JSON: ``[1, [granted...], revision, consent_id]``; the
    signing time comes from itsdangerous' timestamp. Verified tokens are cached (bounded,
    first in first out, with the expiry re-checked on every hit) because this runs on every
    request of every page.
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        # itsdangerous signs with the *last* key and verifies with all of them.
        keys = [k.encode() if isinstance(k, str) else k for k in reversed(policy.secret_keys)]
        self._all = URLSafeTimedSerializer(keys, salt=_SALT, serializer=_CompactJSON)
        self._newest = URLSafeTimedSerializer(keys[-1], salt=_SALT, serializer=_CompactJSON)
        # Tokens are at most 512 characters (see _verify), so entries are small and bounded.
        self._cache: Memo[str, tuple[Verdict, float]] = Memo(policy.cache_size, 4 << 20)

    @property
    def memo(self) -> Memo[str, tuple[Verdict, float]]:
        """The cache of verified tokens (bounded by entries and bytes)."""
        return self._cache

    def dumps(
        self, granted: frozenset[str] | set[str], consent_id: str, *, now: float | None = None
    ) -> str:
        """Sign a consent choice; unknown and locked categories are left out."""
        names = sorted(set(granted) & self._policy.optional_categories)
        payload = [_VERSION, names, self._policy.revision, consent_id]
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
        if not token or len(token) > 512:
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
        if not (isinstance(payload, list) and len(payload) == 4 and payload[0] == _VERSION):
            return None
        _, names, revision, consent_id = payload
        if (
            not isinstance(names, list)
            or not all(isinstance(n, str) for n in names)
            or type(revision) is not int
            or not isinstance(consent_id, str)
            or not 16 <= len(consent_id) <= 64
        ):
            return None
        if revision != self._policy.revision:  # policy changed since: ask again
            return None
        granted = frozenset(names) & self._policy.optional_categories
        return Consent(True, granted, consent_id, revision, issued)


class _CompactJSON:
    """itsdangerous serializer: JSON without spaces, to keep the cookie short."""

    @staticmethod
    def loads(data: str | bytes) -> object:
        return json.loads(data)

    @staticmethod
    def dumps(obj: object) -> str:
        return json.dumps(obj, separators=(",", ":"))
