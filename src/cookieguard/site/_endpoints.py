"""cookieguard's own HTTP endpoints, answered the same way for both adapters.

Replies are computed synchronously from plain values. The only I/O is the receipt store, so
the ASGI adapter runs :meth:`Endpoints.respond` in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cookieguard.core._consent import Consent, new_consent_id
from cookieguard.core._guard import Guard
from cookieguard.core._i18n import negotiate
from cookieguard.core._messages import (
    NO_STORE,
    SECURITY,
    Reply,
    Request,
    error,
    json_reply,
)
from cookieguard.csp._csp import CspReports
from cookieguard.receipts import USER_AGENT_LIMIT, Receipt, ReceiptStore
from cookieguard.receipts._guard import ReceiptGuard
from cookieguard.site._limits import ClientLimits
from cookieguard.site._vendors import VendorsMet
from cookieguard.ui._assets import CONSENT_MODE_SCRIPT, load_assets
from cookieguard.ui._banner import render_dialog, render_preferences_page
from cookieguard.ui._declaration import declaration_json
from cookieguard.ui._vendors import consent_mode_types, storage_rules

logger = logging.getLogger("cookieguard")

_ACTIONS = ("accept_all", "reject_all", "save")
_SOURCES = ("banner", "preferences", "api")
# Header values echo nothing from the request except `next`, which must match this.
# Matched whole (fullmatch: `$` would accept a final newline), so no control character passes.
_SAFE_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")


def safe_next(value: str | None) -> str:
    """``value`` if it is a same-site relative path, else ``/`` (no open redirects)."""
    if not value or len(value) > 2048 or not _SAFE_PATH.fullmatch(value):
        return "/"
    return value


class Endpoints:
    """Answers ``{prefix}/consent``, ``/preferences``, ``/receipts``, assets and GPC."""

    def __init__(
        self, guard: Guard, store: ReceiptStore | None, *, vendors: VendorsMet | None = None
    ) -> None:
        self.guard = guard
        self.vendors = vendors
        self.policy = guard.policy
        self.store = store
        self._guarded: ReceiptGuard | None = None  # see receipts()
        # Per-client budgets for what anyone can call without proof (issue 23).
        self._limits = ClientLimits.for_policy(self.policy)  # consent POSTs that write
        self._report_limits = ClientLimits.for_policy(self.policy)
        self._csp_reports = CspReports(self.policy)
        self.assets = load_assets()
        self._storage = storage_rules(self.policy)  # banner.js clears these keys on refusal
        # The same rules as a file the browser keeps (URL versioned by their hash): a page
        # view asks nothing (issue 24 part 5).
        self.storage_json = json.dumps(self._storage, separators=(",", ":")).encode()
        self.storage_version = (
            hashlib.sha256(self.storage_json).hexdigest()[:12] if self._storage else ""
        )
        digest = hashlib.sha256(b"".join(a.body for a in self.assets.values()))
        self.version = digest.hexdigest()[:12]
        prefix = self.policy.prefix
        read, write = ("GET", "HEAD"), ("GET", "HEAD", "POST")
        self._routes: dict[str, tuple[Callable[[Request], Reply], tuple[str, ...]]] = {
            prefix + "/consent": (self._consent, write),
            prefix + "/preferences": (self._preferences, read),
            prefix + "/receipts": (self._receipts, read),
            prefix + "/dialog": (self._dialog, read),
            prefix + "/cookies": (self._cookies, read),
            prefix + "/csp-report": (self._csp_report, ("POST",)),
            prefix + "/banner.js": (self._asset, read),
            prefix + "/banner.css": (self._asset, read),
            prefix + "/banner-more.js": (self._asset, read),
            prefix + "/banner-more.css": (self._asset, read),
            prefix + "/storage.json": (self._storage_rules, read),
            prefix + "/" + CONSENT_MODE_SCRIPT: (self._asset, read),
            "/.well-known/gpc.json": (self._gpc, read),
        }

    def too_large(self) -> Reply:
        return error(413, f"request body over {self.policy.max_body} bytes")

    def respond(self, request: Request) -> Reply:
        """The reply to ``request``; bad input gets a clear 4xx and changes nothing."""
        route = self._routes.get(request.path)
        if route is None:
            return error(404, f"no cookieguard endpoint at {request.path!r}")
        handler, methods = route
        if request.method not in methods:
            allow = ", ".join(methods)
            reply = error(405, "method not allowed", allow=allow)
            return Reply(405, (*reply.headers, ("allow", allow)), reply.body)
        return handler(request)

    # -- endpoints -------------------------------------------------------------------------

    def _asset(self, request: Request) -> Reply:
        asset = self.assets[request.path.rsplit("/", 1)[1]]
        headers = (
            ("etag", asset.etag),
            # URLs carry ?v=<content hash>, so a long cache is safe across releases.
            ("cache-control", "public, max-age=31536000"),
            *SECURITY,
        )
        if_none_match = request.header("if-none-match") or ""
        if asset.etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match == "*":
            return Reply(304, headers, b"")
        return Reply(200, (("content-type", asset.content_type), *headers), asset.body)

    def _storage_rules(self, request: Request) -> Reply:
        """``{category: regexp}``: the browser-storage keys banner.js clears per refused
        category; its URL carries ``?v=<hash of the rules>``, so it is cached for long."""
        etag = f'"{self.storage_version}"'
        headers = (("etag", etag), ("cache-control", "public, max-age=31536000"), *SECURITY)
        if etag in [tag.strip() for tag in (request.header("if-none-match") or "").split(",")]:
            return Reply(304, headers, b"")
        return Reply(200, (("content-type", "application/json"), *headers), self.storage_json)

    def _gpc(self, request: Request) -> Reply:
        # https://privacycg.github.io/gpc-spec/#gpc-support-resource
        return Reply(
            200,
            (("content-type", "application/json"), ("cache-control", "public, max-age=86400")),
            b'{"gpc":true,"lastUpdate":"2026-11-25"}',
        )

    def _consent(self, request: Request) -> Reply:
        if request.method in ("GET", "HEAD"):
            return json_reply(200, self.state(request.decision.consent))
        refusal = _cross_site(request)
        if refusal is not None:
            return refusal
        old = request.decision.consent
        fresh = not old.decided or old.id is None or time.time() - (old.issued_at or 0) < 60
        if fresh:
            # A new consent id (or one just minted): anyone can ask for these, each writes a
            # receipt, so they count against the client's budget.
            refusal = self._limits.admit(request)
            if refusal is not None:
                return refusal
        # A form carries a switch and a hidden field per vendor the site serves.
        served = len(self.vendors.used) if self.vendors is not None else 0
        fields = 16 + len(self.policy.categories) + 2 * served
        parsed = _parse_choice(request.header("content-type") or "", request.body, fields)
        if isinstance(parsed, Reply):
            return parsed
        action, categories, next_path, source, is_json, choices = parsed
        policy = self.policy
        unknown = sorted(
            c for c in categories if c not in policy.optional_categories and c != "necessary"
        )
        if unknown:
            return error(400, f"unknown category {unknown[0]!r}", categories=unknown)
        codec = self.guard.codec
        strangers = sorted(n for n in choices if n not in codec.vendor_categories)
        if strangers:
            return error(400, f"unknown vendor {strangers[0]!r}", vendors=strangers)
        if action == "accept_all":
            granted = set(policy.optional_categories)
        elif action == "reject_all":
            granted = set()
        else:
            granted = set(categories) & policy.optional_categories
        # Choices per vendor count where they differ from the vendor's category (issue 24);
        # "Accept all" and "Reject all" clear them.
        allowed, refused = (
            codec.exceptions(granted, choices) if action == "save" else (frozenset(), frozenset())
        )
        gpc = request.decision.consent.gpc
        if gpc and granted & policy.gpc_denied:
            # Global Privacy Control overrides the request: the receipt says so.
            granted -= policy.gpc_denied
            source = "gpc"
        if gpc:
            denied = policy.gpc_denied
            allowed = frozenset(v for v in allowed if codec.vendor_categories[v] not in denied)
        if not fresh and (
            granted != old.granted or (allowed, refused) != (old.vendors, old.refused_vendors)
        ):
            # A change of an older choice writes a receipt too: an old cookie replayed with
            # ever-changing choices counts against the same budget.
            refusal = self._limits.admit(request)
            if refusal is not None:
                return refusal
        consent_id = old.id or new_consent_id()
        secure = self._secure(request)
        issued_at = int(time.time())  # one clock reading for the cookie and the reply
        new = Consent(
            True,
            frozenset(granted),
            consent_id,
            policy.revision,
            issued_at,
            gpc=gpc,
            rule=old.rule,
            vendors=allowed,
            refused_vendors=refused,
            vendor_categories=codec.vendor_categories,
        )

        cookies = [
            self.guard.consent_cookie(
                granted,
                consent_id,
                secure=secure,
                issued_at=issued_at,
                vendors=allowed,
                refused_vendors=refused,
            )
        ]
        withdrawn = self.guard.withdrawn(request.cookie_header(), new)
        cookies.extend(
            self.guard.deletions(withdrawn, host=request.header("host") or "", secure=secure)
        )
        set_cookies = tuple(("set-cookie", c) for c in cookies)
        # The whole reply is built before the receipt is written: nothing after it can fail.
        if is_json:
            reply = json_reply(200, self.state(new), *set_cookies)
        else:
            reply = Reply(303, (("location", safe_next(next_path)), NO_STORE, *set_cookies), b"")
        self._record(request, new, source, old)
        return reply

    def _csp_report(self, request: Request) -> Reply:
        if self.policy.csp is not None:
            refusal = self._report_limits.admit(request)
            if refusal is not None:
                return refusal
        return self._csp_reports.receive(request)

    def _met(self) -> frozenset[str]:
        """The catalogue vendors the site's pages were met loading (issue 24)."""
        return self.vendors.names if self.vendors is not None else frozenset()

    def _preferences(self, request: Request) -> Reply:
        consent = request.decision.consent
        query = dict(parse_qsl(request.query[:2048]))
        history = self._history(consent.id)
        page = render_preferences_page(
            self.policy,
            consent,
            language=self._language(request),
            next_path=_return_path(request, query.get("next")),
            history=history,
            version=self.version,
            met=self._met(),
        )
        return Reply(
            200,
            (
                ("content-type", "text/html; charset=utf-8"),
                NO_STORE,
                *SECURITY,
            ),
            page.encode(),
        )

    def _dialog(self, request: Request) -> Reply:
        """The preferences dialog as an HTML fragment, for banner.js to open on any page."""
        query = dict(parse_qsl(request.query[:2048]))
        fragment = render_dialog(
            self.policy,
            request.decision.consent,
            language=self._language(request),
            next_path=_return_path(request, query.get("next")),
            met=self._met(),
        )
        return Reply(
            200,
            (("content-type", "text/html; charset=utf-8"), NO_STORE, *SECURITY),
            fragment.encode(),
        )

    def _cookies(self, request: Request) -> Reply:
        """The cookie declaration as JSON, in the visitor's language (``?lang=`` overrides)."""
        query = dict(parse_qsl(request.query[:2048]))
        language = query.get("lang", "")
        if language not in self.policy.languages:
            language = self._language(request)
        body = json.dumps(declaration_json(self.policy, language, self._met()), ensure_ascii=False)
        headers = (
            ("content-type", "application/json; charset=utf-8"),
            # The same for every visitor of a language: shared caches may keep it a while.
            ("cache-control", "public, max-age=300"),
            ("vary", "Accept-Language"),
            *SECURITY,
        )
        return Reply(200, headers, body.encode())

    def _receipts(self, request: Request) -> Reply:
        consent = request.decision.consent
        history = self._history(consent.id)
        return json_reply(
            200,
            {
                "consent_id": consent.id,
                "receipts": [
                    {
                        "time": r.time.astimezone(UTC).isoformat(),
                        "granted": list(r.granted),
                        "denied": list(r.denied),
                        "revision": r.revision,
                        "language": r.language,
                        "method": r.method,
                        "path": r.path,
                        "region": r.region,
                        "rule": r.rule,
                    }
                    for r in history
                ],
            },
        )

    # -- helpers ---------------------------------------------------------------------------

    def state(self, consent: Consent) -> dict[str, Any]:
        """The JSON view of a consent (``GET {prefix}/consent``)."""
        expires = None
        if consent.decided and consent.issued_at is not None:
            expires = datetime.fromtimestamp(
                consent.issued_at + self.policy.lifetime(consent.granted), UTC
            ).isoformat()
        return {
            "decided": consent.decided,
            "categories": {c.name: consent.allows(c.name) for c in self.policy.categories},
            # Choices per vendor that differ from their category: name -> allowed.
            "vendors": {
                **{name: True for name in sorted(consent.vendors)},
                **{name: False for name in sorted(consent.refused_vendors)},
            },
            "revision": self.policy.revision,
            "consent_id": consent.id,
            "expires": expires,
            "gpc": consent.gpc,
            "rule": consent.rule,  # the visitor's region's rule (what applies before a choice)
            # For banner.js: storage keys to clear per category, and vendors' consent signals.
            "storage": self._storage,
            "consent_mode": consent_mode_types(self.policy, consent),
        }

    def _secure(self, request: Request) -> bool:
        return request.scheme in ("https", "wss")

    def _language(self, request: Request) -> str:
        return negotiate(request.header("accept-language"), self.policy.languages)

    def _history(self, consent_id: str | None) -> Sequence[Receipt]:
        if consent_id is None or self.store is None:
            return ()
        try:
            return self.store.history(consent_id)
        except Exception:  # a broken log must not break the page (fail open for the site)
            logger.exception("could not read consent history")
            return ()

    def receipts(self) -> ReceiptGuard | None:
        """The store behind the guard that leaves out repeats and watches its size (issue 23);
        made again if ``store`` was replaced."""
        if self.store is None:
            return None
        if self._guarded is None or self._guarded.store is not self.store:
            self._guarded = ReceiptGuard(
                self.store,
                repeat_window=self.policy.receipts_repeat_window,
                max_bytes=self.policy.receipts_max_bytes,
            )
        return self._guarded

    def _record(self, request: Request, consent: Consent, source: str, old: Consent) -> None:
        receipts = self.receipts()
        if receipts is None or consent.id is None:
            return
        receipt = Receipt(
            consent_id=consent.id,
            time=datetime.now(UTC),
            # Choices per vendor as "vendor:NAME" beside the categories (issue 24).
            granted=(
                *sorted(consent.granted),
                *(f"vendor:{name}" for name in sorted(consent.vendors)),
            ),
            denied=(
                *sorted(self.policy.optional_categories - consent.granted),
                *(f"vendor:{name}" for name in sorted(consent.refused_vendors)),
            ),
            revision=self.policy.revision,
            language=self._language(request),
            method=source,  # type: ignore[arg-type]
            path=safe_next(_referer_path(request.header("referer"))),
            user_agent=(request.header("user-agent") or "")[:USER_AGENT_LIMIT],
            region=self.guard.regions.from_pairs(request.headers)[0],
            rule=request.decision.consent.rule,
        )
        try:
            # What the visitor's cookie held, and since when: a repeat of it writes nothing.
            held = old.granted if old.decided and old.id == consent.id else None
            if old.exceptions or consent.exceptions:
                held = None  # choices per vendor: always written (the repeat check is by category)
            issued = datetime.fromtimestamp(old.issued_at, UTC) if old.issued_at else None
            receipts.record(receipt, held=held, issued=issued)
        except Exception:  # the visitor's choice still takes effect; the store logs why
            logger.exception("could not record a consent receipt")


def _return_path(request: Request, next_path: str | None) -> str:
    """Where the preferences page sends the visitor back to: ``next``, else the same-site page
    they came from (a plain link without ``?next=`` still returns there), else ``/``."""
    if next_path:
        return safe_next(next_path)
    referer = request.header("referer")
    if not referer or not _same_host(request, referer):
        return "/"
    path = safe_next(_referer_path(referer))
    return "/" if path.startswith(request.path) else path


def _referer_path(referer: str | None) -> str | None:
    """Path and query of a Referer URL (``None`` if there is none or it does not parse)."""
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return None
    return (parts.path or "/") + ("?" + parts.query if parts.query else "")


def _same_host(request: Request, url: str) -> bool:
    """True if ``url`` (an Origin or Referer) names the host the request was sent to.

    Origins omit default ports while a Host header may carry them, so ``:80``/``:443`` are
    ignored on the Host side.
    """
    host = (request.header("host") or "").lower()
    if not host:
        return False
    try:
        netloc = urlsplit(url).netloc.lower()
    except ValueError:
        return False
    return netloc in (host, host.removesuffix(":80"), host.removesuffix(":443"))


def _cross_site(request: Request) -> Reply | None:
    """Refuse a POST another site made the browser send (CSRF), by Fetch Metadata and Origin."""
    site = request.header("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return error(403, "cross-site request refused")
    origin = request.header("origin")
    if origin is None:
        return None  # not a browser cross-site POST: those always carry Origin
    if origin == "null" or not _same_host(request, origin):
        return error(403, "cross-site request refused")
    return None


# action, categories, next, source, JSON?, explicit choices per vendor (name -> allowed)
_Choice = tuple[str, list[str], str | None, str, bool, dict[str, bool]]


def _parse_choice(content_type: str, body: bytes, max_fields: int = 64) -> _Choice | Reply:
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return error(400, "malformed JSON")
        if not isinstance(data, dict):
            return error(400, "JSON body must be an object")
        action = data.get("action")
        categories = data.get("categories", [])
        source = data.get("source", "api")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            return error(400, "categories must be a list of category names")
        if not isinstance(source, str) or source not in _SOURCES:
            return error(400, f"unknown source {source!r}")
        if not isinstance(action, str) or action not in _ACTIONS:
            return error(400, f"unknown action {action!r}", actions=list(_ACTIONS))
        vendors = data.get("vendors", {})
        if not isinstance(vendors, dict) or not all(
            isinstance(k, str) and isinstance(v, bool) for k, v in vendors.items()
        ):
            return error(
                400, 'vendors must be an object of vendor names to booleans: {"YouTube": true}'
            )
        return action, categories, None, source, True, vendors
    if kind in ("application/x-www-form-urlencoded", ""):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return error(400, "form body is not UTF-8")
        try:
            fields = parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields)
        except ValueError:
            return error(400, "too many form fields")
        action = None
        categories = []
        next_path = None
        source = "banner"
        checked: set[str] = set()  # vendor switches on
        was: set[str] = set()  # vendor switches that were on when the form was rendered
        for key, value in fields:
            if key == "action":
                action = value
            elif key == "category":
                categories.append(value)
            elif key == "vendor":
                checked.add(value)
            elif key == "vendor_was":
                was.add(value)
            elif key == "next":
                next_path = value
            elif key == "source":
                source = value
        if action not in _ACTIONS:
            return error(400, f"unknown action {action!r}", actions=list(_ACTIONS))
        if source not in _SOURCES:
            source = "banner"
        assert action is not None
        # A vendor switch the visitor did not touch follows its category (without JavaScript
        # nothing turns a category's vendors on with it); a touched one is a choice.
        choices = {name: name in checked for name in checked ^ was}
        return action, categories, next_path, source, False, choices
    return error(415, f"unsupported content type {kind!r}; send a form or JSON")
