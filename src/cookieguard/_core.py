"""The protocol-free heart: what to do with one request and its response.

Both adapters call :class:`Guard` with plain values (strings, lists of pairs) and render the
frozen :class:`Decision` it returns. Nothing here does I/O or knows WSGI from ASGI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from werkzeug.http import dump_cookie

from cookieguard._cache import remember
from cookieguard._consent import UNDECIDED, UNDECIDED_GPC, Consent, ConsentCodec
from cookieguard._cookies import cookie_domains, deletion_headers, is_deletion, set_cookie_name
from cookieguard._policy import Policy

logger = logging.getLogger("cookieguard")

_UNDECLARED = ""  # cache marker: a cookie name no pattern declares
_MAX_CLEARED = 64  # deletions per response; more would only bloat headers
_MAX_LOGGED_NAMES = 1024
_MEMO_SIZE = 4096
_MAX_CACHED_HEADER = 2048  # longer Cookie headers are decided afresh every time


@dataclass(frozen=True, slots=True)
class Decision:
    """What the middleware does for one request.

    ``cookie_header`` replaces the request's ``Cookie`` header for the app (``None``: leave
    it as it is). ``set_cookies`` are appended to the response: deletions of cookies the
    visitor refused, and a re-signed consent cookie after a key rotation.
    """

    consent: Consent
    cookie_header: str | None = None
    set_cookies: tuple[str, ...] = ()


_BARE = Decision(UNDECIDED)
_BARE_GPC = Decision(UNDECIDED_GPC)


class Guard:
    """Applies one :class:`Policy` to requests and responses. Safe to share across threads."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.codec = ConsentCodec(policy)
        self._categories: dict[str, str] = {}
        self._logged: set[str] = set()
        self._deletions: dict[tuple[str, str, bool], tuple[str, ...]] = {}
        self._decisions: dict[tuple[str, bool, str, bool], tuple[Decision, float]] = {}
        self._verdicts: dict[tuple[str, frozenset[str]], bool] = {}
        self._decision_cache_size = policy.cache_size
        self._allow_undeclared = policy.undeclared == "allow"
        self._endpoint_prefix = policy.prefix + "/"

    # -- requests --------------------------------------------------------------------------

    def is_endpoint(self, path: str) -> bool:
        """True if cookieguard itself answers ``path``."""
        return path.startswith(self._endpoint_prefix) or path == "/.well-known/gpc.json"

    def read(
        self, cookie_header: str | None, gpc: bool = False, host: str = "", secure: bool = False
    ) -> Decision:
        """Read the visitor's consent and decide which request cookies the app may see.

        A visitor sends the same ``Cookie`` header request after request, so whole decisions
        are cached (bounded, dropped when the consent inside expires).
        """
        if not cookie_header:
            return _BARE_GPC if gpc else _BARE
        key = (cookie_header, gpc, host, secure)
        now = time.time()
        hit = self._decisions.get(key)
        if hit is not None and now < hit[1]:
            return hit[0]
        decision = self._decide(cookie_header, gpc, host, secure)
        consent = decision.consent
        if consent.issued_at is not None:
            expires = float(consent.issued_at + self.policy.max_age)
        else:  # undecided: re-read now and then (a token signed "in the future" may mature)
            expires = now + 300.0
        if len(cookie_header) <= _MAX_CACHED_HEADER:
            remember(self._decisions, key, (decision, expires), self._decision_cache_size)
        return decision

    def _decide(self, cookie_header: str, gpc: bool, host: str, secure: bool) -> Decision:
        pieces, token = self._split(cookie_header)
        resign: str | None = None
        if token is None:
            consent = UNDECIDED_GPC if gpc else UNDECIDED
        else:
            verdict = self.codec.loads(token)
            consent = verdict.consent
            if verdict.resign and consent.id is not None:
                resign = self.consent_cookie(
                    consent.granted, consent.id, secure=secure, issued_at=consent.issued_at
                )
            if gpc:
                consent = self.with_gpc(consent)

        kept, clear = self._sort(pieces, consent)
        set_cookies: tuple[str, ...] = ()
        if clear:
            set_cookies = tuple(self.deletions(clear, host=host, secure=secure))
        if resign is not None:
            set_cookies = (*set_cookies, resign)
        if len(kept) == len(pieces):
            return Decision(consent, None, set_cookies)
        return Decision(consent, ";".join(kept).strip(), set_cookies)

    def withdrawn(self, cookie_header: str | None, consent: Consent) -> list[str]:
        """Declared cookies in ``cookie_header`` that ``consent`` does not allow: the ones a
        new choice must expire."""
        if not cookie_header:
            return []
        return self._sort(self._split(cookie_header)[0], consent)[1]

    def _split(self, cookie_header: str) -> tuple[list[tuple[str, str]], str | None]:
        """``(name, raw piece)`` pairs of a Cookie header, and the first consent token."""
        name_of = self.policy.cookie_name
        pieces: list[tuple[str, str]] = []
        token: str | None = None
        for piece in cookie_header.split(";"):
            name, eq, value = piece.partition("=")
            name = name.strip()
            if not name:
                continue
            if name == name_of and token is None and eq:
                token = value.strip().strip('"')
            pieces.append((name, piece))
        return pieces, token

    def _sort(self, pieces: list[tuple[str, str]], consent: Consent) -> tuple[list[str], list[str]]:
        """Raw pieces the app may see, and declared names to expire (at most a few dozen)."""
        kept: list[str] = []
        clear: list[str] = []
        for name, piece in pieces:
            category = self._category(name)
            if category is _UNDECLARED:
                if self._allow_undeclared:
                    kept.append(piece)
            elif consent.allows(category):
                kept.append(piece)
            elif len(clear) < _MAX_CLEARED and name not in clear:
                clear.append(name)
        return kept, clear

    def with_gpc(self, consent: Consent) -> Consent:
        """``consent`` as Global Privacy Control leaves it: sale/sharing purposes refused."""
        return Consent(
            consent.decided,
            consent.granted - self.policy.gpc_denied,
            consent.id,
            consent.revision,
            consent.issued_at,
            gpc=True,
        )

    def _category(self, name: str) -> str:
        category = self._categories.get(name)
        if category is not None:
            return category
        found = self.policy.category_of(name)
        if found is None:
            found = _UNDECLARED
            self._log_undeclared(name)
        remember(self._categories, name, found, _MEMO_SIZE)
        return found

    def _log_undeclared(self, name: str) -> None:
        if name in self._logged or len(self._logged) >= _MAX_LOGGED_NAMES:
            return
        self._logged.add(name)
        verb = "allowed" if self._allow_undeclared else "blocked"
        logger.warning(
            "cookieguard: cookie %r is not declared in the policy, so it is %s. Declare it "
            "with Policy(cookies={%r: 'necessary'}) (or another category).",
            name,
            verb,
            name,
        )

    # -- responses -------------------------------------------------------------------------

    def keep_set_cookie(self, consent: Consent, value: str) -> bool:
        """True if the app's ``Set-Cookie: value`` may reach the visitor.

        Cookies of granted categories pass; deletions always pass (removing a cookie never
        needs consent); everything else is dropped.
        """
        # An app sends the same few Set-Cookie values over and over. Without Expires the
        # verdict does not depend on the clock, so it can be remembered per granted set.
        key = (value, consent.granted)
        verdict = self._verdicts.get(key)
        if verdict is not None:
            return verdict
        category = self._category(set_cookie_name(value))
        if category is _UNDECLARED:
            verdict = self._allow_undeclared or is_deletion(value)
        else:
            verdict = consent.allows(category) or is_deletion(value)
        lower = value.lower()
        # Max-Age wins over Expires (RFC 6265 section 5.3), so either makes it clock-free.
        if "expires" not in lower or "max-age" in lower:
            remember(self._verdicts, key, verdict, _MEMO_SIZE)
        return verdict

    def deletions(self, names: Iterable[str], *, host: str, secure: bool) -> list[str]:
        """``Set-Cookie`` values expiring ``names`` for the host, its parents and paths."""
        out: list[str] = []
        for name in names:
            key = (name, host, secure)
            cached = self._deletions.get(key)
            if cached is None:
                cached = tuple(self._deletions_for(name, host, secure))
                remember(self._deletions, key, cached, _MEMO_SIZE)
            out.extend(cached)
        return out

    def _deletions_for(self, name: str, host: str, secure: bool) -> list[str]:
        domains = cookie_domains(host)
        if self.policy.cookie_domain is not None:
            extra = self.policy.cookie_domain.lstrip(".").lower()
            if extra not in domains:
                domains = (*domains, extra)
        return deletion_headers(
            [name], domains=domains, paths=self.policy.clear_paths, secure=secure
        )

    def consent_cookie(
        self,
        granted: frozenset[str] | set[str],
        consent_id: str,
        *,
        secure: bool,
        issued_at: int | None = None,
    ) -> str:
        """The ``Set-Cookie`` value that stores a choice."""
        policy = self.policy
        token = self.codec.dumps(granted, consent_id, now=issued_at)
        return dump_cookie(
            policy.cookie_name,
            token,
            max_age=policy.max_age,
            path="/",
            domain=policy.cookie_domain,
            secure=secure if policy.secure is None else policy.secure,
            httponly=True,
            samesite=policy.same_site,
        )
