"""The protocol-free heart: what to do with one request and its response.

Both adapters call :class:`Guard` with plain values (strings, lists of pairs) and render the
frozen :class:`Decision` it returns. Nothing here does I/O or knows WSGI from ASGI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from werkzeug.http import dump_cookie

from cookieguard._cache import Memo
from cookieguard.catalogue import Vendor
from cookieguard.core._consent import Consent, ConsentCodec
from cookieguard.core._cookies import (
    MAX_HOST,
    cookie_domains,
    deletion_headers,
    deletion_time,
    set_cookie_name,
)
from cookieguard.core._policy import NECESSARY, Policy
from cookieguard.core._regions import OPT_IN, RULES, Rule

logger = logging.getLogger("cookieguard")

_UNDECLARED = ""  # cache marker: a cookie name no pattern declares
GPC_PATH = "/.well-known/gpc.json"  # where the GPC support declaration is served
_MAX_CLEARED = 64  # names expired per response
# Deletions per response, and their bytes: proxies refuse large response headers (nginx's
# default proxy buffer is 4-8 KB). Cookies left over are expired on the next responses, as
# the browser drops the ones already deleted from its Cookie header.
MAX_DELETIONS = 32
MAX_DELETION_BYTES = 4096
_MAX_LOGGED_NAMES = 1024
_MAX_LOGGED_NAME = 128  # longer names are logged (and remembered) cut short
_MEMO_SIZE = 4096
_MAX_CACHED_HEADER = 2048  # longer Cookie headers are decided afresh every time
_MAX_KEY_HOST = MAX_HOST + 7  # a longer Host value is no host name, even with a port
# Byte budgets of the memos (estimates of the text they hold, see cookieguard._cache).
_DECISION_BUDGET = 4 << 20
_SMALL_BUDGET = 1 << 20


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


#: What :meth:`Guard.read` caches decisions by: (Cookie header, GPC, host, HTTPS, the
#: region's rule).
DecisionKey = tuple[str | bytes | None, bool, str | bytes, bool, Rule]


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class Guard:
    """Applies one :class:`Policy` to requests and responses. Safe to share across threads."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.codec = ConsentCodec(policy)
        #: Where visitors are and which rule applies (``headers`` empty: no geo).
        self.regions = policy.region_lookup
        # An undecided visitor's consent per (rule, GPC): the region's default.
        self._undecided = {
            (rule, gpc): self._default(rule, gpc) for rule in RULES for gpc in (False, True)
        }
        self._bare = {key: Decision(consent) for key, consent in self._undecided.items()}
        self._categories: Memo[str, str] = Memo(_MEMO_SIZE, _SMALL_BUDGET // 2)
        self._logged: set[str] = set()
        self._deletions: Memo[tuple[str, str, bool], tuple[str, ...]] = Memo(
            _MEMO_SIZE, _SMALL_BUDGET
        )
        # Keyed by (Cookie header, GPC, host, HTTPS, rule): str from WSGI, bytes from ASGI.
        self._decisions: Memo[DecisionKey, tuple[Decision, float]] = Memo(
            policy.cache_size, _DECISION_BUDGET
        )
        # Set-Cookie value -> (category, deletion time): what the verdict needs, clock-free.
        self._set_cookies: Memo[str | bytes, tuple[str, float | None]] = Memo(
            _MEMO_SIZE, _SMALL_BUDGET
        )
        self._set_cookie_facts = self._set_cookies.get
        self._allow_undeclared = policy.undeclared == "allow"
        # Names no policy pattern declares are looked up in the known-tracker catalogue.
        self._catalogue = policy.catalogue
        self._endpoint_prefix = policy.prefix + "/"
        #: Every path :meth:`is_endpoint` accepts starts with one of these: a quick first
        #: test for ``str.startswith`` (it also lets "/.well-known/gpc.json..." through).
        self.endpoint_starts = (self._endpoint_prefix, GPC_PATH)

    # -- requests --------------------------------------------------------------------------

    def is_endpoint(self, path: str) -> bool:
        """True if cookieguard itself answers ``path``."""
        return path.startswith(self._endpoint_prefix) or path == GPC_PATH

    def decide(self, key: DecisionKey) -> Decision:
        """:meth:`read` for the adapters' per-request path: ``key`` is its arguments as one
        tuple, ``(cookie_header, gpc, host, secure, rule)`` with the rule found. A decision
        cached for exactly this key, and not yet expired, costs one lookup."""
        hit = self._decisions.get(key)
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        return self.read(*key)

    def read(
        self,
        cookie_header: str | bytes | None,
        gpc: bool = False,
        host: str | bytes = "",
        secure: bool = False,
        rule: Rule | None = None,
    ) -> Decision:
        """Read the visitor's consent and decide which request cookies the app may see.

        ``cookie_header`` and ``host`` may be the raw bytes of the request (Latin-1, as ASGI
        hands them over): a hit in the cache then needs no decoding. ``rule`` is the
        visitor's region's (:meth:`rule`; ``None``: the policy's ``unknown_region``): it
        decides what an undecided visitor is granted. A choice, once made, wins over it.

        A visitor sends the same ``Cookie`` header request after request, so whole decisions
        are cached (bounded, dropped when the consent inside expires).
        """
        if rule is None:
            rule = self.regions.unknown
        if not cookie_header:
            return self._bare[rule, gpc]
        if len(host) > _MAX_KEY_HOST:
            host = ""  # not a host name (cookie_domains ignores it): keep it out of the key
        key = (cookie_header, gpc, host, secure, rule)
        hit = self._decisions.get(key)
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        return self._read(key)

    def _read(self, key: tuple[str | bytes, bool, str | bytes, bool, Rule]) -> Decision:
        """:meth:`read` without the cache: decide, then remember the decision."""
        raw_header, gpc, raw_host, secure, rule = key
        cookie_header = _text(raw_header)
        host = _text(raw_host)
        now = time.time()
        decision = self._decide(cookie_header, gpc, host, secure, rule)
        consent = decision.consent
        if consent.issued_at is not None:
            expires = float(consent.issued_at + self.policy.lifetime(consent.granted))
        else:  # undecided: re-read now and then (a token signed "in the future" may mature)
            expires = now + 300.0
        if len(cookie_header) <= _MAX_CACHED_HEADER:
            size = 2 * len(cookie_header) + len(host) + sum(map(len, decision.set_cookies))
            self._decisions.put(key, (decision, expires), size)
        return decision

    def _decide(
        self, cookie_header: str, gpc: bool, host: str, secure: bool, rule: Rule
    ) -> Decision:
        pieces, token = self._split(cookie_header)
        resign: str | None = None
        consent = self._undecided[rule, gpc]
        if token is not None:
            verdict = self.codec.loads(token)
            if verdict.consent.decided:
                consent = verdict.consent
                if verdict.resign and consent.id is not None:
                    resign = self.consent_cookie(
                        consent.granted, consent.id, secure=secure, issued_at=consent.issued_at
                    )
                consent = self.with_gpc(consent, rule) if gpc else replace(consent, rule=rule)

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

    def with_gpc(self, consent: Consent, rule: Rule | None = None) -> Consent:
        """``consent`` as Global Privacy Control leaves it: sale/sharing purposes refused
        (under ``rule``, by default the consent's own)."""
        denied = self.policy.gpc_denied
        categories = self.codec.vendor_categories
        return Consent(
            consent.decided,
            consent.granted - denied,
            consent.id,
            consent.revision,
            consent.issued_at,
            gpc=True,
            rule=consent.rule if rule is None else rule,
            # A vendor chosen by name is refused too when GPC refuses its category.
            vendors=frozenset(v for v in consent.vendors if categories.get(v) not in denied),
            refused_vendors=consent.refused_vendors,
            vendor_categories=categories,
        )

    def _default(self, rule: Rule, gpc: bool) -> Consent:
        """An undecided visitor's consent under ``rule``: nothing optional where the law asks
        for consent first (opt-in); everything optional until they opt out (opt-out, notice),
        except what Global Privacy Control refuses, a binding opt-out of sale and sharing
        (CCPA Regulations section 7025)."""
        granted = frozenset() if rule == OPT_IN else self.policy.optional_categories
        if gpc:
            granted -= self.policy.gpc_denied
        return Consent(
            False, granted, gpc=gpc, rule=rule, vendor_categories=self.codec.vendor_categories
        )

    def rule(self, country: str | bytes | None, subdivision: str | bytes | None = None) -> Rule:
        """The rule for a visitor whose region headers hold ``country`` and ``subdivision``
        (ignored, and ``unknown_region``'s rule, when the policy reads no region)."""
        return self.regions.locate(country, subdivision)[1]

    def _category(self, name: str) -> str:
        category = self._categories.get(name)
        if category is not None:
            return category
        found = self.policy.category_of(name)
        if found is None:
            known = self._catalogue.cookie_vendor(name)
            if known is not None:
                # A tracker the site forgot to declare: gated (and expired) by the vendor's
                # category, whatever Policy.undeclared says.
                found = known[0].category
                self._log_catalogued(name, known[1].pattern, known[0], found)
            else:
                found = _UNDECLARED
                self._log_undeclared(name)
        self._categories.put(name, found, len(name) + len(found))
        return found

    def _log_catalogued(self, name: str, pattern: str, vendor: Vendor, category: str) -> None:
        name = name[:_MAX_LOGGED_NAME]
        if name in self._logged or len(self._logged) >= _MAX_LOGGED_NAMES:
            return
        self._logged.add(name)
        # Never advise "necessary" here: a tracker's cookie is not strictly necessary, and a
        # site that declared it so would set it for every visitor (issue 20).
        optional = sorted(self.policy.optional_categories)
        if category in optional:
            advice = f"Declare it with Policy(cookies={{{pattern!r}: {category!r}}}) to keep that"
            others = [c for c in optional if c != category]
            if others:
                advice += f" (or {_either(others)})"
        else:
            advice = (
                f"This policy has no {category!r} category: declare it with "
                f"Policy(cookies={{{pattern!r}: ...}})"
            )
            if optional:
                advice += f" naming {_either(optional)}"
        logger.warning(
            "cookie %r is not declared in the policy; the tracker catalogue knows it as %s %s "
            "cookie of %s (%s), so it is gated as %s. %s; not 'necessary', which would set "
            "it for every visitor without consent.",
            name,
            _article(category),
            category,
            vendor.name,
            vendor.provider,
            category,
            advice,
        )

    def _log_undeclared(self, name: str) -> None:
        name = name[:_MAX_LOGGED_NAME]
        if name in self._logged or len(self._logged) >= _MAX_LOGGED_NAMES:
            return
        self._logged.add(name)
        verb = "allowed" if self._allow_undeclared else "blocked"
        # The tracker catalogue does not know it: it may be the site's own session or CSRF
        # cookie, so "necessary" is offered, but only with its condition and beside the rest.
        optional = sorted(self.policy.optional_categories)
        logger.warning(
            "cookie %r is not declared in the policy, so it is %s. Declare it "
            "with Policy(cookies={%r: 'necessary'}) only if the site cannot work without it "
            "(a session or CSRF cookie); else with the category it serves%s.",
            name,
            verb,
            name,
            f" ({_either(optional)})" if optional else "",
        )

    # -- responses -------------------------------------------------------------------------

    def keep_set_cookie(self, consent: Consent, value: str | bytes) -> bool:
        """True if the app's ``Set-Cookie: value`` may reach the visitor.

        Cookies of granted categories pass; deletions always pass (removing a cookie never
        needs consent); everything else is dropped. A deletion is what every browser reads
        as one (:func:`cookieguard.core._cookies.deletion_time`, RFC 6265 section 5.2).
        ``value`` may be the raw bytes of an ASGI header (Latin-1).
        """
        # An app sends the same few Set-Cookie values over and over: remember what the
        # verdict needs that does not depend on the clock or the visitor.
        hit = self._set_cookie_facts(value)
        if hit is None:
            text = _text(value)
            hit = (self._category(set_cookie_name(text)), deletion_time(text))
            self._set_cookies.put(value, hit, len(value))
        category, deletes_from = hit
        if category is _UNDECLARED:
            if self._allow_undeclared:
                return True
        elif category == NECESSARY or category in consent.granted:  # Consent.allows, inline
            return True
        if deletes_from is None:
            return False
        return deletes_from <= time.time()  # -inf (Max-Age <= 0) at any time

    def deletions(self, names: Iterable[str], *, host: str, secure: bool) -> list[str]:
        """``Set-Cookie`` values expiring ``names`` for the host, its parents and paths.

        Bounded per response (:data:`MAX_DELETIONS` values, :data:`MAX_DELETION_BYTES`
        bytes): whole names only, in order; names left over are expired on later responses.
        """
        if len(host) > _MAX_KEY_HOST:
            host = ""
        out: list[str] = []
        size = 0
        for name in names:
            key = (name, host, secure)
            cached = self._deletions.get(key)
            if cached is None:
                cached = tuple(self._deletions_for(name, host, secure))
                self._deletions.put(key, cached, len(name) + len(host) + sum(map(len, cached)))
            cost = sum(map(len, cached))
            if len(out) + len(cached) > MAX_DELETIONS or size + cost > MAX_DELETION_BYTES:
                continue
            out.extend(cached)
            size += cost
        return out

    def cache_stats(self) -> dict[str, tuple[int, int]]:
        """Entries and estimated bytes of every memo this guard keeps (for tests and ops)."""
        memos: dict[str, Memo[Any, Any]] = {
            "decisions": self._decisions,
            "deletions": self._deletions,
            "set_cookies": self._set_cookies,
            "categories": self._categories,
            "consents": self.codec.memo,
        }
        stats = {name: (len(memo), memo.size) for name, memo in memos.items()}
        stats["logged_names"] = (len(self._logged), sum(map(len, self._logged)))
        return stats

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
        vendors: frozenset[str] = frozenset(),
        refused_vendors: frozenset[str] = frozenset(),
    ) -> str:
        """The ``Set-Cookie`` value that stores a choice (``vendors``, ``refused_vendors``:
        the choices per vendor that differ from their category, see :class:`Consent`)."""
        policy = self.policy
        token = self.codec.dumps(
            granted, consent_id, now=issued_at, vendors=vendors, refused_vendors=refused_vendors
        )
        return dump_cookie(
            policy.cookie_name,
            token,
            max_age=policy.lifetime(frozenset(granted)),
            path="/",
            domain=policy.cookie_domain,
            secure=secure if policy.secure is None else policy.secure,
            httponly=True,
            samesite=policy.same_site,
        )


def _article(word: str) -> str:
    """ "an" before a vowel sound as written ("an analytics cookie"), else "a"."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _either(names: list[str]) -> str:
    """``['a', 'b', 'c']`` as "'a', 'b' or 'c'"."""
    quoted = [repr(name) for name in names]
    if len(quoted) == 1:
        return quoted[0]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
