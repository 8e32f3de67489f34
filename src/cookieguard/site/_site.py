"""Everything both adapters need, built once from a :class:`Policy`."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
from collections.abc import MutableMapping
from typing import Any, cast

from cookieguard._cache import Memo, remember
from cookieguard.core._consent import Consent
from cookieguard.core._guard import Decision, Guard
from cookieguard.core._i18n import negotiate
from cookieguard.core._messages import Reply, Request
from cookieguard.core._policy import NECESSARY, Category, Policy, text_for
from cookieguard.core._validators import is_document, tagged, translate
from cookieguard.csp._csp import fail_closed_headers
from cookieguard.csp._csp import page_headers as csp_headers
from cookieguard.html._charsets import REPLACEMENT, charset_param, codec_for
from cookieguard.html._codings import Uneditable, codings, problem
from cookieguard.html._inject import GOOGLE_TAGS, Blocker, Injection, wants_injection
from cookieguard.receipts import ReceiptStore, impression_counter, open_store
from cookieguard.site._endpoints import Endpoints, safe_next
from cookieguard.site._vendors import VendorsMet
from cookieguard.ui._banner import asset_tags, render_banner
from cookieguard.ui._vendors import consent_mode_types, head_tags

logger = logging.getLogger("cookieguard")

_DEFAULT = object()


class _Nothing:
    """A cached "leave this body alone" (a miss in the plan memo is ``None``)."""

    __slots__ = ()


_NOTHING = _Nothing()


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
        # The vendors this site serves: declared, and met by the HTML gate in its pages.
        self.vendors = VendorsMet(policy)
        # The gate records the vendors it meets wherever it runs anyway (auto-blocking); with
        # the consent-aware CSP, which lists the vendors the site uses, it also scans the
        # pages of a visitor with nothing to block (the cost of one undecided visitor's scan).
        self._learns = policy.auto_block or policy.csp is not None
        self._records_all = policy.csp is not None
        store = (
            _open_store(policy.receipts)
            if receipts is _DEFAULT
            else cast(ReceiptStore | None, receipts)
        )
        self.endpoints = Endpoints(self.guard, store, vendors=self.vendors)
        # Banner views of undecided visitors, counted per hour beside the receipts
        # (issue 22, docs/statistics.md): in memory here, written by a background thread.
        self.impressions = (
            impression_counter(store) if policy.banner and store is not None else None
        )
        self._assets = asset_tags(policy, self.endpoints.version).encode()
        # Per consent state: the tags carry the state the page is rendered for (issue 24).
        self._assets_by_state: dict[tuple[object, ...], bytes] = {}
        self._storage_version = self.endpoints.storage_version
        self._banner_bytes: dict[tuple[str, str, bool, str, int], bytes] = {}
        self._blockers: dict[tuple[frozenset[str], ...], Blocker | None] = {}
        self._heads: dict[tuple[object, ...], bytes] = {}
        # Plans per visitor shape (keys hold visitor text: bounded by bytes), and the edited
        # bodies of pages served identically again and again (see Injection.rewrite).
        self._plans: Memo[tuple[object, ...], Injection | _Nothing] = Memo(1024, 4 << 20)
        self._page_free: dict[tuple[object, ...], bool] = {}
        self._outputs: Memo[tuple[object, ...], tuple[bytes, bytes]] = Memo(4096, policy.page_cache)
        # A body that auto-blocking may edit, or that carries the visitor's Consent Mode
        # state, depends on the visitor's choice: never share it between visitors.
        # The asset tags carry the visitor's consent state (banner.js asks nothing per page).
        per_visitor = policy.auto_block or bool(policy.google_consent_mode) or policy.scripts
        self._vary: tuple[str, ...] = ("Cookie",) if per_visitor else ()
        # Catalogued vendors in categories the policy does not have (a site that names its
        # categories "stats" and "ads") can never be granted: fail closed, always refuse them.
        self._unmapped = _unmapped_categories(policy) if policy.auto_block else frozenset()
        # An undecided visitor's page depends on their region's rule (what is granted, which
        # banner): it varies on the region headers wherever the rule can differ.
        regions = policy.region_lookup
        self._region_vary: tuple[str, ...] = regions.headers if regions.varies else ()
        # Validators follow the body (cookieguard.core._validators): a page that may differ
        # per consent state carries the state in its ETag.
        self.per_state = bool(
            policy.banner
            or policy.scripts
            or policy.auto_block
            or policy.google_consent_mode
            or policy.csp
        )
        self._fingerprint = _fingerprint(policy, self.endpoints.version)
        self._states: dict[tuple[object, ...], str] = {}
        # HTML responses the gate could not edit, by cause, and the causes already logged.
        self._failed: dict[str, int] = {}
        self._logged: dict[tuple[str, str], None] = {}

    def cache_stats(self) -> dict[str, tuple[int, int]]:
        """Entries and estimated bytes of every memo this site keeps (for tests and ops)."""
        stats = self.guard.cache_stats()
        stats["plans"] = (len(self._plans), self._plans.size)
        stats["edited_bodies"] = (len(self._outputs), self._outputs.size)
        blockers = [b for b in list(self._blockers.values()) if b is not None]
        stats["tracker_verdicts"] = (
            sum(len(b.verdicts) for b in blockers),
            sum(b.verdicts.size for b in blockers),
        )
        return stats

    def stats(self) -> dict[str, dict[str, int] | dict[str, tuple[int, int]]]:
        """What this site has done: ``memos`` (:meth:`cache_stats`) and ``failed_closed``, the
        HTML responses the gate could not edit and sent under an enforcing CSP, by cause
        (``coding``, ``corrupt``, ``limit``, ``charset``, ``error``)."""
        return {"memos": self.cache_stats(), "failed_closed": dict(self._failed)}

    def fail_closed(
        self, decision: Decision, path: str, failure: Uneditable
    ) -> tuple[tuple[str, str], ...]:
        """An HTML response that cannot be edited: count it, log its cause once (naming the
        path), and return the headers it must go out with: the consent-aware CSP enforcing
        this visitor's grants, whatever ``Policy.csp`` says (none for a visitor who granted
        every category). The adapters send the body as the app wrote it."""
        cause = failure.cause
        self._failed[cause] = self._failed.get(cause, 0) + 1
        key = (cause, str(failure)[:200])
        if key not in self._logged:
            remember(self._logged, key, None, 64)
            logger.error(
                "cookieguard could not edit the HTML page %s: %s. It is sent as the app "
                "wrote it, under a Content-Security-Policy that enforces the visitor's consent "
                "(fail closed); pages failing this way again are counted in Site.stats() "
                "without a log line.",
                path[:200],
                failure,
            )
        consent = decision.consent
        granted = consent.granted
        if (
            not (self.policy.optional_categories | self._unmapped) - granted
            and not consent.exceptions
        ):
            return ()
        return fail_closed_headers(
            self.policy, granted, _used(self.vendors.used, consent), consent.vendors
        )

    def state_tag(self, consent: Consent) -> str:
        """Ten hex digits naming what a page is edited for: this site's policy and the
        visitor's consent state (the ETag suffix, see cookieguard.core._validators)."""
        key = (consent.decided, consent.granted, consent.gpc, consent.rule, *_chosen(consent))
        found = self._states.get(key)
        if found is None:
            shape = repr((consent.decided, sorted(consent.granted), consent.gpc, consent.rule))
            if consent.exceptions:
                shape += repr((sorted(consent.vendors), sorted(consent.refused_vendors)))
            found = hashlib.sha256((self._fingerprint + shape).encode()).hexdigest()[:10]
            remember(self._states, key, found, 1024)
        return found

    def etag(self, decision: Decision, etag: str) -> str:
        """The ``ETag`` of an HTML page as sent to this visitor (the app's ``etag`` with the
        consent state's suffix)."""
        return tagged(etag, self.state_tag(decision.consent)) if self.per_state else etag

    def conditions(
        self,
        decision: Decision,
        if_none_match: str | None,
        if_modified_since: str | None,
        sec_fetch_dest: str | None,
        accept: str | None,
    ) -> tuple[str | None, str | None, bool] | None:
        """A request's preconditions as the app may see them: ``(If-None-Match,
        If-Modified-Since, ours)`` (``None`` for a field: remove it; ``ours``: the request
        carried a tag of ours, so a 304 gets the state's ETag back), or ``None`` to leave the
        request as it is. See cookieguard.core._validators for the rule."""
        if not self.per_state:
            return None
        document = is_document(sec_fetch_dest, accept)
        inm, ours = if_none_match, False
        if if_none_match is not None:
            inm, ours = translate(
                if_none_match, self.state_tag(decision.consent), document=document
            )
        ims = None if document or ours else if_modified_since
        if inm == if_none_match and ims == if_modified_since:
            return None
        return inm, ims, ours

    def translate_environ(self, decision: Decision, environ: MutableMapping[str, Any]) -> bool:
        """:meth:`conditions` applied to CGI-style request variables (a WSGI environ, Django's
        ``request.META``) in place; True if the request carried a tag of ours."""
        found = self.conditions(
            decision,
            environ.get("HTTP_IF_NONE_MATCH"),
            environ.get("HTTP_IF_MODIFIED_SINCE"),
            environ.get("HTTP_SEC_FETCH_DEST"),
            environ.get("HTTP_ACCEPT"),
        )
        if found is None:
            return False
        names = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")
        for key, value in zip(names, found[:2], strict=True):
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        return found[2]

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
        query: str | bytes,
        accept_language: str | bytes | None,
    ) -> Injection | None:
        """What to edit in this response's HTML, or ``None`` to leave the body alone.

        Plans are cached: a decided visitor's depends only on their choice and the
        Content-Type (the page and language matter once auto-blocking writes a placeholder,
        and then they are part of the key); a banner's on the page, language and GPC too.
        ``query`` and ``accept_language`` may be the raw bytes of an ASGI request (decoded
        as Latin-1 only when a plan is made).
        """
        if method == "HEAD" or not content_type:
            return None
        # A 200 needs no check here: the Content-Type's verdict is part of the cached plan.
        if status != 200 and not wants_injection(status, content_type, content_encoding):
            return None
        consent = decision.consent
        chosen = _chosen(consent)  # (read once: it is in both keys below)
        shape = (consent.decided, consent.granted, *chosen)
        short = self._page_free.get(shape)
        if short is None:
            short = self._is_page_free(consent)
            remember(self._page_free, shape, short, 512)
        # The rule is in every key: a plan made for an opt-out visitor (its banner, its
        # Vary) must never be served to an opt-in one, even where both grant the same.
        if not short:
            key: tuple[object, ...] = (
                consent.decided,
                consent.granted,
                *chosen,
                consent.gpc,
                consent.rule,
                content_type,
                accept_language,
                path,
                query,
                self.vendors.generation,  # the banner names the vendors met so far
            )
            size = len(content_type or "") + len(accept_language or "") + len(path) + len(query)
        else:
            key = (consent.decided, consent.granted, *chosen, consent.rule, content_type)
            size = len(content_type or "")
        if content_encoding is not None:
            key += (content_encoding,)
            size += len(content_encoding)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(consent, content_type, path, query, accept_language)
            if content_encoding is not None and isinstance(plan, Injection):
                # Compressed: decoded, edited and encoded back (or, in a coding this
                # install cannot decode, failed closed).
                applied = codings(content_encoding)
                if applied:
                    plan = dataclasses.replace(plan, codings=applied, failure=problem(applied))
            # A plan holds its banner's bytes (a few KB): they count against the budget too.
            held = len(plan.insert) + len(plan.head) if isinstance(plan, Injection) else 0
            self._plans.put(key, plan, size + held)
        if isinstance(plan, Injection):
            # A view of the consent request: opt-in visitors only (an opt-out or notice
            # region's banner informs; counting it would lower every rate read from views).
            if not consent.decided and consent.rule == "opt-in" and self.impressions is not None:
                self.impressions.count(self.policy.revision, plan.language)
            return plan
        return None

    def _plan(
        self,
        consent: Consent,
        content_type: str | None,
        path: str,
        query: str | bytes,
        accept_language: str | bytes | None,
    ) -> Injection | _Nothing:
        if isinstance(query, bytes):
            query = query.decode("latin-1")
        if isinstance(accept_language, bytes):
            accept_language = accept_language.decode("latin-1")
        policy = self.policy
        if not wants_injection(200, content_type, None):
            return _NOTHING
        banner = policy.banner and not consent.decided
        blocker = self._blocker(consent)
        if not (banner or policy.scripts or blocker):
            return _NOTHING
        # A label the WHATWG does not know is no label to a browser: the page's own <meta>
        # decides then (see cookieguard.html._charsets.choose).
        charset = charset_param(content_type)
        failure = None
        if charset is not None and codec_for(charset) == REPLACEMENT:
            failure = Uneditable("charset", f"charset {charset[:40]!r} shows nothing in a browser")
        head = self._head(consent)
        assets = self._state_assets(consent) if policy.scripts else b""
        memo = self._outputs if policy.page_cache else None
        by_region = () if consent.decided else self._region_vary
        vary: tuple[str, ...] = (*self._vary, *by_region) if by_region else self._vary
        if not banner and (blocker is None or not blocker.active):
            return Injection(
                assets,
                head=head,
                charset=charset,
                vary=vary,
                memo=memo,
                failure=failure,
                blocker=blocker,  # recording only (the vendors the page loads)
            )
        if not banner and blocker is None:
            return Injection(
                assets, head=head, charset=charset, vary=vary, memo=memo, failure=failure
            )
        language = negotiate(accept_language, policy.languages)
        next_path = safe_next(path + ("?" + query if query else ""))
        insert = assets
        refresh = None
        if banner:
            insert = self._banner(consent, language, next_path) + assets
            refresh = functools.partial(
                self._newer_insert, consent, language, next_path, self.vendors.generation, assets
            )
            # The banner depends on the visitor's cookie, language and Global Privacy
            # Control signal (it says when the signal was honoured): no shared caching.
            vary = ("Cookie", "Accept-Language", "Sec-GPC")
        else:
            active = blocker is not None and blocker.active
            vary = ("Cookie", "Accept-Language") if active else self._vary
        if by_region:
            vary = (*vary, *by_region)
        return Injection(
            insert,
            vary=vary,
            head=head,
            blocker=blocker,
            charset=charset,
            language=language,
            next_path=next_path,
            memo=memo,
            failure=failure,
            refresh=refresh,
        )

    def _newer_insert(
        self, consent: Consent, language: str, next_path: str, generation: int, assets: bytes
    ) -> bytes | None:
        """The insert again if this page's scan met vendors new to the site (so even the
        first page that loads a vendor names it), else ``None``."""
        if self.vendors.generation == generation:
            return None
        try:
            return self._banner(consent, language, next_path) + assets
        except Exception:  # never break a page over a list of names: keep the first one
            logger.exception("could not render the banner again with the vendors met")
            return None

    def _blocker(self, consent: Consent) -> Blocker | None:
        """Auto-blocking for a visitor's choice (``None``: nothing to block)."""
        key = (consent.granted, *_chosen(consent))
        try:
            return self._blockers[key]
        except KeyError:
            pass
        blocker = self._new_blocker(*key)
        # Bounded: one entry per choice seen, capped.
        remember(self._blockers, key, blocker, 256)
        return blocker

    def _is_page_free(self, consent: Consent) -> bool:
        """True if this visitor's plan does not depend on the page or their language: no
        banner to show, and no blocker that could write a click-to-load placeholder."""
        policy = self.policy
        if policy.banner and not consent.decided:
            return False
        if not policy.auto_block:
            return True
        blocker = self._blocker(consent)
        return blocker is None or not blocker.active

    def _new_blocker(
        self, granted: frozenset[str], allowed: frozenset[str], refused_vendors: frozenset[str]
    ) -> Blocker | None:
        policy = self.policy
        refused = (policy.optional_categories | self._unmapped) - granted
        blocker: Blocker | None = None
        met = self.vendors.add if self._learns else None
        if (refused or refused_vendors) and policy.auto_block:
            exempt = GOOGLE_TAGS if policy.google_consent_mode == "advanced" else frozenset()
            labels = {c.name: functools.partial(_label, c) for c in policy.categories}
            built = Blocker(
                policy.catalogue,
                frozenset(refused),
                exempt=exempt,
                labels=labels,
                prefix=policy.prefix,
                met=met,
                allowed=allowed,
                refused_vendors=refused_vendors,
            )
            blocker = built if built.active else None
        if blocker is None and self._records_all:
            # Nothing to block: judge the tags of every category, to record, and edit none.
            recorder = Blocker(
                policy.catalogue,
                frozenset(policy.optional_categories | self._unmapped),
                prefix=policy.prefix,
                met=met,
                record_only=True,
                known=self.vendors.knows,
            )
            blocker = recorder if recorder.scans else None
        return blocker

    def _state_assets(self, consent: Consent) -> bytes:
        """The asset tags for a page rendered for ``consent`` (one per consent state)."""
        key = (consent.decided, consent.granted, consent.vendors, consent.refused_vendors)
        found = self._assets_by_state.get(key)
        if found is None:
            ads = consent_mode_types(self.policy, consent)["ad_storage"] == "granted"
            found = asset_tags(
                self.policy,
                self.endpoints.version,
                consent,
                storage=self._storage_version,
                ads=ads,
            ).encode()
            remember(self._assets_by_state, key, found, 256)
        return found

    def _head(self, consent: Consent) -> bytes:
        """The vendor signals before the page's first script (``b""`` when none are on)."""
        if not self.policy.google_consent_mode:
            return b""
        key = (consent.decided, consent.granted, *_chosen(consent))
        found = self._heads.get(key)
        if found is None:
            found = head_tags(self.policy, consent).encode()
            remember(self._heads, key, found, 256)
        return found

    def _banner(self, consent: Consent, language: str, next_path: str) -> bytes:
        """An undecided visitor's banner, which depends only on language, page, GPC signal,
        the region's rule and the vendors met so far."""
        vendors = self.vendors
        key = (language, next_path, consent.gpc, consent.rule, vendors.generation)
        markup = self._banner_bytes.get(key)
        if markup is None:
            markup = render_banner(
                self.policy,
                consent,
                language=language,
                next_path=next_path,
                gpc=consent.gpc,
                met=vendors.names,
            ).encode()
            remember(self._banner_bytes, key, markup, 1024)  # bounded: paths come from visitors
        return markup

    def page_headers(
        self, decision: Decision, *, status: int, content_type: str | None
    ) -> tuple[tuple[str, str], ...]:
        """Headers both adapters add to every HTML response, edited or not (e.g. the
        consent-aware Content-Security-Policy). Empty when there is nothing to add."""
        if self.policy.csp is None:
            return ()
        consent = decision.consent
        return csp_headers(
            self.policy,
            consent.granted,
            status,
            content_type,
            _used(self.vendors.used, consent),
            consent.vendors,
        )

    def csp_after_body(self, decision: Decision, generation: int) -> tuple[str, str] | None:
        """The consent-aware CSP again, for a page whose body was edited before its headers
        left (a buffered one), if that edit met vendors new to the site since ``generation``
        (``self.vendors.generation`` when the headers were made): ``(name, value)`` to put in
        place of the one sent, else ``None``. A streamed page keeps the policy made from the
        vendors known when its headers left (its first view may miss one it loads)."""
        if self.policy.csp is None or self.vendors.generation == generation:
            return None
        consent = decision.consent
        headers = csp_headers(
            self.policy,
            consent.granted,
            200,
            "text/html",
            _used(self.vendors.used, consent),
            consent.vendors,
        )
        return headers[0] if headers else None

    def banner_markup(
        self, consent: Consent, accept_language: str | None, path: str, query: str
    ) -> str:
        """The banner for one request (empty once the visitor has decided)."""
        if consent.decided:
            return ""
        language = negotiate(accept_language, self.policy.languages)
        next_path = safe_next(path + ("?" + query if query else ""))
        # The same memo as the pages' banners (language, page, GPC signal, region's rule).
        return self._banner(consent, language, next_path).decode()

    def asset_markup(self) -> str:
        """The stylesheet and ``banner.js`` tags (the same on every page)."""
        return self._assets.decode()


_NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def _chosen(consent: Consent) -> tuple[frozenset[str], frozenset[str]]:
    """The visitor's choices per vendor, for memo keys (the same empty pair for most)."""
    return (consent.vendors, consent.refused_vendors) if consent.exceptions else _NONE


def _used(used: frozenset[str], consent: Consent) -> frozenset[str]:
    """The vendors the CSP may list for this visitor: never one refused by name."""
    return used - consent.refused_vendors if consent.refused_vendors else used


_told: dict[tuple[frozenset[str], frozenset[str]], None] = {}


def _unmapped_categories(policy: Policy) -> frozenset[str]:
    """The catalogue's categories the policy lacks (its vendors are then always blocked),
    said once per process for each such policy shape."""
    catalogue = policy.catalogue
    have = policy.optional_categories | {NECESSARY}
    missing = frozenset(v.category for v in catalogue.vendors) - have
    key = (missing, policy.optional_categories)
    if missing and key not in _told:
        remember(_told, key, None, 64)
        for category in sorted(missing):
            example = next(v.name for v in catalogue.vendors if v.category == category)
            logger.warning(
                "the tracker catalogue files %s under %r, a category this policy does not "
                "have (it has %s): auto-blocking refuses them for every visitor, whatever "
                "they grant. Map them to one of yours with Policy(trackers=[{'name': %r, "
                "'category': ...}, ...]) for each vendor, or add Category(%r, ...).",
                ", ".join(sorted(v.name for v in catalogue.vendors if v.category == category)),
                category,
                ", ".join(sorted(policy.optional_categories)) or "none",
                example,
                category,
            )
    return missing


def _fingerprint(policy: Policy, assets: str) -> str:
    """What, besides the consent state, a page's edit depends on, stable across restarts (a
    new catalogue, new categories or banner texts make new validators)."""
    parts = (
        policy.revision,
        assets,
        policy.catalogue.version,
        sorted(c.name for c in policy.categories),
        policy.banner,
        policy.scripts,
        policy.auto_block,
        policy.google_consent_mode,
        policy.csp,
        policy.prefix,
    )
    return repr(parts)


def _label(category: Category, language: str) -> str:
    return text_for(category.label, language).strip() or category.name


def _open_store(target: str | None) -> ReceiptStore | None:
    if target is None:
        return None
    if not isinstance(target, str):
        raise ValueError(
            f"Policy.receipts must be a path, sqlite:///path, postgresql://... or None; "
            f"got {type(target).__name__} (pass a store object as receipts= to the middleware)."
        )
    return open_store(target)
