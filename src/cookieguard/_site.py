"""Everything both adapters need, built once from a :class:`Policy`."""

from __future__ import annotations

import logging
from typing import cast

from cookieguard._banner import asset_tags, render_banner
from cookieguard._cache import remember
from cookieguard._consent import Consent
from cookieguard._core import Decision, Guard
from cookieguard._csp import page_headers as csp_headers
from cookieguard._endpoints import Endpoints, Reply, Request, safe_next
from cookieguard._i18n import negotiate
from cookieguard._inject import Injection, wants_injection
from cookieguard._policy import Policy
from cookieguard.receipts import ReceiptStore, open_store

logger = logging.getLogger("cookieguard")

_DEFAULT = object()


class Site:
    """The policy applied: consent reading, endpoints and HTML injection in one place.

    ``receipts`` overrides the store named by ``policy.receipts`` (pass ``None`` to keep no
    receipts).
    """

    def __init__(self, policy: Policy, *, receipts: ReceiptStore | object | None = _DEFAULT):
        if not isinstance(policy, Policy):
            raise TypeError(
                f"policy must be a cookieguard.Policy, got {type(policy).__name__}; "
                "build one with Policy(secret_keys=[...], cookies={...})."
            )
        self.policy = policy
        self.guard = Guard(policy)
        store = (
            _open_store(policy.receipts)
            if receipts is _DEFAULT
            else cast(ReceiptStore | None, receipts)
        )
        self.endpoints = Endpoints(self.guard, store)
        self._assets = asset_tags(policy, self.endpoints.version).encode()
        self._banners: dict[tuple[str, str], str] = {}

    def respond(self, request: Request) -> Reply:
        return self.endpoints.respond(request)

    def too_large(self) -> Reply:
        return self.endpoints.too_large()

    def injection(
        self,
        decision: Decision,
        *,
        method: str,
        status: int,
        content_type: str | None,
        content_encoding: str | None,
        path: str,
        query: str,
        accept_language: str | None,
    ) -> Injection | None:
        """What to insert into this response's HTML, or ``None`` to leave the body alone."""
        policy = self.policy
        banner = policy.banner and not decision.consent.decided
        if not (banner or policy.scripts) or method == "HEAD":
            return None
        if not wants_injection(status, content_type, content_encoding):
            return None
        parts = [self._assets] if policy.scripts else []
        if not banner:
            return Injection(b"".join(parts))
        markup = self.banner_markup(decision.consent, accept_language, path, query)
        parts.insert(0, markup.encode())
        # The banner depends on the visitor's cookie and language: no shared caching of it.
        return Injection(b"".join(parts), vary=("Cookie", "Accept-Language"))

    def page_headers(
        self, decision: Decision, *, status: int, content_type: str | None
    ) -> tuple[tuple[str, str], ...]:
        """Headers both adapters add to every HTML response, edited or not (e.g. the
        consent-aware Content-Security-Policy). Empty when there is nothing to add."""
        return csp_headers(self.policy, decision.consent.granted, status, content_type)

    def banner_markup(
        self, consent: Consent, accept_language: str | None, path: str, query: str
    ) -> str:
        """The banner for one request (empty once the visitor has decided)."""
        if consent.decided:
            return ""
        language = negotiate(accept_language, self.policy.languages)
        next_path = safe_next(path + ("?" + query if query else ""))
        # The banner of an undecided visitor depends only on language and page.
        key = (language, next_path)
        markup = self._banners.get(key)
        if markup is None:
            markup = render_banner(self.policy, consent, language=language, next_path=next_path)
            remember(self._banners, key, markup, 1024)  # bounded: paths come from visitors
        return markup

    def asset_markup(self) -> str:
        """The stylesheet and ``banner.js`` tags (the same on every page)."""
        return self._assets.decode()


def _open_store(target: str | None) -> ReceiptStore | None:
    if target is None:
        return None
    if not isinstance(target, str):
        raise ValueError(
            f"Policy.receipts must be a path, sqlite:///path, postgresql://... or None; "
            f"got {type(target).__name__} (pass a store object as receipts= to the middleware)."
        )
    return open_store(target)
