"""The consent-aware Content-Security-Policy and its ``{prefix}/csp-report`` endpoint.

``Policy(csp="report" | "enforce")`` adds a policy to every HTML page that lets the browser
load scripts, styles, images, frames, connections, fonts, media and objects only from
``'self'``, the hosts of ``necessary``, the hosts of the categories this visitor granted (from
the tracker catalogue and ``Category(hosts=...)``) and ``Policy.csp_allow``. A tracker that
a tag manager or any other script injects at run time is then refused by the browser itself.

**Merging with the app's own CSP.** We never edit the app's header: ours is sent as a second
one. A browser enforces every policy it receives, so a load must pass both (CSP3 section 8.1,
"The effect of multiple policies"). That settles the design:

- Ours is a *host* policy only. It allows ``'unsafe-inline'`` and ``'unsafe-eval'`` in
  ``script-src`` (and ``'unsafe-inline'`` in ``style-src``), plus ``data:``/``blob:`` where
  pages commonly use them, so it never breaks inline code, event handlers, or the inline
  scripts ``banner.js`` activates after consent. Those keywords loosen nothing: if the app
  sends a nonce- or hash-based policy, that policy still refuses every inline script without
  the nonce, because the browser applies both.
- We do not copy the app's nonces or hashes into ours: a nonce differs per response, so our
  header could no longer be computed once per granted set, and copying would add nothing the
  app's own policy does not already enforce.
- ``'strict-dynamic'`` in the app's policy lets its trusted scripts load anything; ours still
  stops them loading trackers the visitor refused. That is the point.

The host list is written once, in ``default-src``, which every fetch directive falls back to
(CSP3 section 6.8.3); ``frame-src`` is written out only when it differs (click-to-load embeds).
Fonts, media, objects and manifests are gated too: ``font-src *`` or ``media-src *`` let a
run-time ``@font-face`` or ``new Audio(url)`` reach a tracker before consent (red-team K8), so
a site that loads fonts or media from a CDN lists it in ``Policy(csp_allow=...)``. The header
depends only on the set of granted categories, so it is built once per set.

**After a choice.** A page's policy cannot be widened once it has loaded, so on pages with
``csp="enforce"`` banner.js reloads after a choice that grants a new category (the asset tag
carries ``data-cookieguard-csp="enforce"``); the next page's policy allows the new hosts. In
``report`` mode nothing is blocked and gated scripts start in place, without a reload.
Click-to-load embeds are the exception: "Load once" must work without a grant, so their hosts
stay allowed in ``frame-src`` (only there) while auto-blocking makes placeholders. An embed
vendor on a shared host (Google Maps on ``www.google.com``, Facebook plugins on
``www.facebook.com``) is allowed by its path prefixes only (``www.google.com/maps/``, CSP3
"path-part matching", #match-paths), so an injected
``<iframe src=https://www.facebook.com/tr?...>`` is refused.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cookieguard._cache import remember
from cookieguard.catalogue._catalogue import Catalogue
from cookieguard.core._messages import Reply, error
from cookieguard.core._policy import NECESSARY, Policy

if TYPE_CHECKING:
    from cookieguard.core._messages import Request

logger = logging.getLogger("cookieguard")

Headers = tuple[tuple[str, str], ...]

ENFORCE_HEADER = "content-security-policy"
REPORT_HEADER = "content-security-policy-report-only"

#: Sources every page keeps whatever the consent: first-party loads, and the keywords that make
#: ours a host-only policy (inline code and eval stay the app's own policy's business).
_KEEP = ("'self'", "'unsafe-inline'", "'unsafe-eval'", "data:", "blob:")
_FRAME_KEEP = ("'self'", "data:", "blob:")
_HTML = ("text/html", "application/xhtml+xml")
# A host as the catalogue and Category(hosts=...) give it; anything else never reaches a header.
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
# A URL path a CSP path-part may carry as is: RFC 3986 pchars without "," and ";" (which end a
# source or a directive, CSP3 section 2.3.1) and without quotes.
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&()*+=:@%/-]*$")
_SECOND_LEVEL = frozenset({"ac", "co", "com", "edu", "gov", "ne", "net", "or", "org"})
# Domains where anyone can publish: never widened to a wildcard.
_SHARED_HOSTING = frozenset(
    {
        "akamaihd.net",
        "akamaized.net",
        "amazonaws.com",
        "appspot.com",
        "azureedge.net",
        "azurewebsites.net",
        "blogspot.com",
        "cloudfront.net",
        "fastly.net",
        "firebaseapp.com",
        "github.io",
        "googleapis.com",
        "googleusercontent.com",
        "herokuapp.com",
        "netlify.app",
        "pages.dev",
        "vercel.app",
        "web.app",
        "workers.dev",
    }
)
_MEMO_SIZE = 256  # granted sets (2**(optional categories)) x vendor sets seen: few in practice
_BIG = 3584  # bytes of policy text past which a proxy's 4 KB header buffer is at risk


def host_sources(
    hosts: Iterable[str], refused: Iterable[str] = (), *, broad: bool = False
) -> tuple[str, ...]:
    """CSP host sources for catalogue hosts, each of which covers its subdomains.

    ``doubleclick.net`` becomes ``doubleclick.net *.doubleclick.net`` (a CSP host source
    matches one host; ``*.`` matches subdomains only: CSP3 section 6.7.2.7). A host whose
    parent is listed too is dropped: the parent's wildcard already covers it. Malformed hosts
    never reach the header.

    To keep the header small, several hosts under one registrable domain
    (``a.klaviyo.com``, ``static.klaviyo.com``) become that domain's wildcard
    (``*.klaviyo.com``), unless a ``refused`` host lies under it too (``analytics.google.com``
    granted, ``www.google.com`` refused) or the domain is shared hosting where anyone can
    publish (``cloudfront.net``). ``broad`` does that for single hosts too (used for
    ``frame-src`` only, where a vendor's whole domain is an acceptable allowance).
    """
    clean = {h for h in (h.lower().rstrip(".") for h in hosts) if _HOST.fullmatch(h)}
    refused_domains = {_registrable(h.lower().rstrip(".")) for h in refused} - {""}
    groups: dict[str, set[str]] = {}
    for host in clean:
        groups.setdefault(_registrable(host), set()).add(host)
    wildcard_only: set[str] = set()
    for domain, members in groups.items():
        if (
            (broad or len(members) > 1 or domain in members)
            and domain not in refused_domains
            and domain not in _SHARED_HOSTING
            and "." in domain
        ):
            if domain not in members:
                wildcard_only.add(domain)
            clean -= members
            clean.add(domain)
    kept = sorted(h for h in clean if not any(p in clean for p in _parents(h)))
    sources: list[str] = []
    for host in kept:
        if host not in wildcard_only:
            sources.append(host)
        if not host.startswith("www."):  # nothing is served from below a www host
            sources.append("*." + host)
    return tuple(sources)


def path_sources(host: str, paths: Iterable[str]) -> tuple[str, ...]:
    """CSP sources that allow what lies below ``paths`` of ``host`` only.

    In CSP a path ending in ``/`` is a prefix and any other is exact (CSP3 "path-part
    matching", https://www.w3.org/TR/CSP3/#match-paths).
    A catalogue path names a folder (``/maps``: ``/maps/embed?pb=...``) and becomes a prefix
    (``www.google.com/maps/``); one naming a file (``/embed.js``) stays exact. The bare
    folder itself (the legacy ``/maps?q=...&output=embed``) is left out to keep the header
    small. Malformed hosts and paths never reach the header.
    """
    host = host.lower().rstrip(".")
    if not _HOST.fullmatch(host):
        return ()
    sources: list[str] = []
    for path in paths:
        if not _PATH.fullmatch(path):
            continue
        if "." in path.rsplit("/", 1)[-1]:
            sources.append(host + path)
        else:
            sources.append(host + path.rstrip("/") + "/")
    return tuple(sources)


def _registrable(host: str) -> str:
    """The registrable domain of a catalogue host, near enough: the last two labels, or three
    under a country's second level (``example.co.uk``). Only used to merge hosts."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _parents(host: str) -> Iterable[str]:
    """Proper parent domains of ``host`` with at least two labels (``a.b.c`` → ``b.c``)."""
    labels = host.split(".")
    for start in range(1, len(labels) - 1):
        yield ".".join(labels[start:])


def is_document(status: int, content_type: str | None) -> bool:
    """True for a response a browser may render as a page (the ones a CSP protects)."""
    if not content_type or status < 200 or status == 304:
        return False
    return content_type.split(";", 1)[0].strip().lower() in _HTML


class ContentSecurity:
    """The consent-aware CSP of one policy: the header for a granted set and the vendors the
    site uses, built once per pair.

    Only the vendors the site uses are listed (issue 24; ``used``: the catalogue vendors its
    pages were met loading, see ``cookieguard.site._vendors``, and those its policy declares),
    plus the hosts of ``Category(hosts=...)`` and ``csp_allow``: listing every catalogued host
    of a granted category made a 7-12 KB header once the catalogue held 269 vendors. Refused
    hosts are still taken from the whole catalogue, so a granted host is never widened to a
    wildcard that covers a refused one.
    """

    def __init__(
        self, policy: Policy, catalogue: Catalogue | None = None, *, enforce: bool = False
    ) -> None:
        if policy.csp is None and not enforce:
            raise ValueError("ContentSecurity needs Policy(csp='report' or 'enforce').")
        self._allow = tuple(policy.csp_allow)
        self.catalogue = catalogue if catalogue is not None else policy.catalogue
        enforce = enforce or policy.csp == "enforce"
        self.header_name = ENFORCE_HEADER if enforce else REPORT_HEADER
        self._report_uri = policy.prefix + "/csp-report"
        self._optional = policy.optional_categories
        self._cache: dict[tuple[frozenset[str], frozenset[str], frozenset[str]], Headers] = {}
        self._lock = threading.Lock()
        self._told = False
        # Hosts every page may use: necessary vendors and the site's own list.
        self._always = tuple(self.catalogue.hosts_for(NECESSARY))
        # Hosts the site declares itself, by category: listed whenever their category is.
        self._declared_by: dict[str, tuple[str, ...]] = {
            c.name: tuple(c.hosts) for c in policy.categories if c.hosts
        }
        self._declared = frozenset(h for c in policy.categories for h in c.hosts)
        self._by_name = {v.name: v for v in self.catalogue.vendors}
        self._tracking = frozenset(
            h for v in self.catalogue.vendors if v.category != NECESSARY for h in v.hosts
        )
        # Click-to-load embeds ("Load once") put the original iframe back without granting the
        # category; a CSP cannot be widened after the page loaded, so when the HTML rewriter
        # makes placeholders, the embed vendors' hosts stay allowed in frame-src (only there):
        # whole hosts for vendors that own theirs, path prefixes on shared hosts.
        self._embeds = policy.auto_block

    def value(
        self,
        granted: frozenset[str],
        used: frozenset[str] = frozenset(),
        allowed: frozenset[str] = frozenset(),
    ) -> str:
        """The policy text for a visitor who granted ``granted`` on a site that uses the
        catalogue vendors named in ``used`` (less those the visitor refused by name), plus the
        vendors ``allowed`` by name whatever their category (issue 24)."""
        granted = granted & self._optional
        vendors = [self._by_name[name] for name in sorted(used | allowed) if name in self._by_name]
        hosts = list(self._always)
        for category in sorted(granted):
            hosts.extend(self._declared_by.get(category, ()))
        hosts.extend(
            h for v in vendors if v.category in granted or v.name in allowed for h in v.hosts
        )
        # Every other catalogued host counts as refused: no wildcard may cover one (a vendor
        # of a refused category, or one this visitor refused by name).
        refused = self._tracking.difference(hosts)
        extra = self._allow
        sources = " ".join(_unique((*_KEEP, *host_sources(hosts, refused), *extra)))
        # One host list in default-src, which every fetch directive (scripts, connections,
        # images, styles, frames, fonts, media, objects, manifests, workers) falls back to
        # (CSP3 section 6.8.3): copies of a hundred hosts per directive would make a header
        # that proxies with 4-8 KB header buffers refuse.
        parts = ["default-src " + sources]
        granted_hosts = set(hosts)
        embeds = [v for v in vendors if v.embed] if self._embeds else []
        whole = tuple(h for v in embeds if not v.paths for h in v.hosts)
        frame_paths = [
            source
            for v in embeds
            if v.paths
            for host in v.hosts
            if not _covered(host, granted_hosts)
            for source in path_sources(host, v.paths)
        ]
        if frame_paths or not set(whole) <= granted_hosts:
            frames = host_sources([*hosts, *whole], refused.difference(whole), broad=True)
            # The granted vendors' hosts are written a second time here; their frames come
            # from subdomains (vars.hotjar.com), so a domain's wildcard is enough and its bare
            # name is kept only for embeds, necessary and site-declared hosts: that keeps the
            # header in size.
            bare = {*whole, *self._always, *self._declared}
            frames = tuple(
                s for s in frames if s.startswith("*.") or s in bare or f"*.{s}" not in frames
            )
            parts.append(
                "frame-src " + " ".join(_unique((*_FRAME_KEEP, *frames, *frame_paths, *extra)))
            )
        # report-uri is read by every browser; report-to would need a Reporting-Endpoints
        # header on an https origin, and browsers that see report-to ignore report-uri, so a
        # plain-http origin would lose its reports. The endpoint accepts both formats anyway.
        parts.append("report-uri " + self._report_uri)
        return "; ".join(parts)

    def headers(
        self,
        granted: frozenset[str],
        used: frozenset[str] = frozenset(),
        allowed: frozenset[str] = frozenset(),
    ) -> Headers:
        """The header pairs for a visitor who granted ``granted`` (cached per granted set,
        set of vendors used, which only grows a vendor at a time, and vendors allowed)."""
        key = (granted, used, allowed)
        found = self._cache.get(key)
        if found is None:
            value = self.value(granted, used, allowed)
            if len(value) > _BIG and not self._told:
                self._told = True
                logger.warning(
                    "The consent-aware Content-Security-Policy is %d bytes for a visitor who "
                    "granted %s: the site uses %d catalogued vendors. Proxies with a 4 KB header "
                    "buffer (nginx's default proxy_buffer_size) answer 502 past that; raise the "
                    "buffer or use fewer vendors. Logged once.",
                    len(value),
                    ", ".join(sorted(granted)) or "nothing",
                    len(used),
                )
            # It differs by the consent cookie: caches must not share it across visitors.
            found = ((self.header_name, value), ("vary", "Cookie"))
            with self._lock:
                remember(self._cache, key, found, _MEMO_SIZE)
        return found


def _covered(host: str, hosts: set[str]) -> bool:
    """True if ``host`` or one of its parent domains is in ``hosts``."""
    return host in hosts or any(parent in hosts for parent in _parents(host))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def content_security(policy: Policy) -> ContentSecurity:
    """The :class:`ContentSecurity` of ``policy`` (built once per policy, kept with it)."""
    return policy.derived(ContentSecurity)


def _enforcing(policy: Policy) -> ContentSecurity:
    return ContentSecurity(policy, enforce=True)


def fail_closed_headers(
    policy: Policy,
    granted: frozenset[str],
    used: frozenset[str] = frozenset(),
    allowed: frozenset[str] = frozenset(),
) -> Headers:
    """The CSP that enforces ``granted`` whatever ``Policy.csp`` says: what a page the HTML
    gate could not edit is sent with (empty when the policy already enforces it). ``used``:
    the vendors the site is known to use (this page could not be scanned for more)."""
    if policy.csp == "enforce":
        return ()
    return policy.derived(_enforcing).headers(granted, used, allowed)


def page_headers(
    policy: Policy,
    granted: frozenset[str],
    status: int,
    content_type: str | None,
    used: frozenset[str] = frozenset(),
    allowed: frozenset[str] = frozenset(),
) -> Headers:
    """The CSP headers for one response (empty when the CSP is off or this is no page)."""
    if policy.csp is None or not is_document(status, content_type):
        return ()
    return content_security(policy).headers(granted, used, allowed)


# -- the report endpoint -------------------------------------------------------------------

_REPORT_TYPES = ("application/csp-report", "application/reports+json", "application/json")
_MAX_BODY = 64 * 1024  # on top of Policy.max_body, which the adapters enforce first
_MAX_REPORTS_PER_BODY = 20  # a Reporting API batch; the rest is ignored
_MAX_BRACKETS = 256  # reports nest three deep; more brackets is a hostile body
_WINDOW = 60.0  # seconds
_PER_WINDOW = 120  # reports of one violation on one page counted per window
_TOTAL_FACTOR = 20  # report requests per window, all together: _PER_WINDOW times this
_MAX_BUCKETS = 4096  # (page, violation) budgets tracked per window
_MAX_DISTINCT = 1024  # distinct (host, directive, disposition) kept
_LOG_PER_WINDOW = 60  # new-violation log lines per window
_FIELD_LIMIT = 200  # characters of any reported value we keep or log
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIRECTIVE = re.compile(r"[a-z][a-z0-9-]{0,39}")  # "script-src-elem"; anything else: unknown


@dataclass(frozen=True, slots=True)
class Violation:
    """One reported violation, reduced to what we log: never the visitor's full URLs."""

    blocked: str  # a host, or a keyword such as "inline", "eval", "data"
    directive: str  # "script-src", "img-src"...
    disposition: str  # "enforce" or "report"
    page: str  # the path of the page it happened on
    site: str = ""  # the host of that page ("" when the report names none)


@dataclass(slots=True)
class _Seen:
    violation: Violation
    count: int
    category: str | None
    vendor: str | None
    pages: set[str] = field(default_factory=set)  # the first two distinct pages
    order: int = 0


class CspReports:
    """``POST {prefix}/csp-report``: collects violation reports, each logged once.

    Accepts CSP2 reports (``application/csp-report``: ``{"csp-report": {...}}``) and Reporting
    API batches (``application/reports+json``: ``[{"type": "csp-violation", "body": {...}}]``).

    Reports are not authenticated: anyone can post one, naming any host. So (red-team K10):

    - a report counts only for a page of this site: its document's host must be the request's
      ``Host`` or ``X-Forwarded-Host`` (a browser sends ``report-uri`` reports to the page's
      own origin); another site pointing its ``report-uri`` here is refused with 403;
    - the budget is per page and violation (``per_window`` reports of one blocked host on one
      page a minute), so a flood of one forged report cannot get every browser's reports
      refused; ``per_window * 20`` requests a minute in all still bound the work (429 before
      parsing, ``Retry-After``);
    - the table of distinct violations stays bounded by evicting the least-reported entry,
      catalogued vendors last, so forged hosts cannot crowd out real violations for good;
    - a host the catalogue does not know is logged without advice; the ``csp_allow`` hint
      comes once it was reported from two different pages;
    - at most ``_LOG_PER_WINDOW`` new violations are logged a minute.

    Every value in a report can be forged; what one client can spend is bounded before this
    class sees the request, by the endpoint's per-client limit (``Policy.rate_limit``, see
    ``cookieguard.site._limits``), so one client varying pages and hosts no longer spends the
    total budget for everyone (issue 23).
    """

    def __init__(self, policy: Policy, *, per_window: int = _PER_WINDOW) -> None:
        self.policy = policy
        self._catalogue: Catalogue | None = None
        self._per_window = per_window
        self._total_per_window = per_window * _TOTAL_FACTOR
        self._window_start = 0.0
        self._window_count = 0
        self._buckets: dict[tuple[str, str, str], int] = {}
        self._logged = 0
        self._log_full = False
        self._seen: dict[tuple[str, str, str], _Seen] = {}
        self._added = 0
        self._foreign_logged = False
        self._lock = threading.Lock()

    def receive(self, request: Request) -> Reply:
        """Answer one report: 204 when taken, a JSON 4xx when not (never a 5xx)."""
        if self.policy.csp is None:
            return error(404, "the Content-Security-Policy is off (Policy(csp=None))")
        kind = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
        if kind not in _REPORT_TYPES:
            return error(415, f"unsupported content type {kind!r}", accept=list(_REPORT_TYPES))
        body = request.body
        if len(body) > _MAX_BODY:
            return error(413, f"report body over {_MAX_BODY} bytes")
        if not self._admit():
            return _too_many()
        violations = parse_reports(body)
        if violations is None:
            return error(400, "not a CSP violation report")
        ours = _own_site(violations, request)
        if violations and not ours:
            self._log_foreign(violations[0].site, request)
            return error(403, "reports are taken for pages of this site only")
        taken = [v for v in ours if self._within_budget(v)]
        if ours and not taken:
            return _too_many()
        for violation in taken:
            self._note(violation)
        return Reply(204, (("cache-control", "no-store"),), b"")

    def _admit(self) -> bool:
        """The total budget, checked before parsing; starts a new window when one ended."""
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= _WINDOW:
                self._window_start = now
                self._window_count = 0
                self._buckets.clear()
                self._logged = 0
                self._log_full = False
            if self._window_count >= self._total_per_window:
                return False
            self._window_count += 1
            return True

    def _within_budget(self, violation: Violation) -> bool:
        key = (violation.site, violation.page, violation.blocked)
        with self._lock:
            used = self._buckets.get(key)
            if used is None:
                if len(self._buckets) >= _MAX_BUCKETS:
                    # Untracked, but taken: the total budget still bounds the work, and a
                    # flood of forged keys must not refuse every new real one (K10).
                    return True
                used = 0
            if used >= self._per_window:
                return False
            self._buckets[key] = used + 1
            return True

    def _note(self, violation: Violation) -> None:
        key = (violation.blocked, violation.directive, violation.disposition)
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None:
                seen.count += 1
                if violation.page in seen.pages or len(seen.pages) >= 2:
                    return
                seen.pages.add(violation.page)
                # A second page reporting a host the catalogue does not know: now advise.
                advise = seen.vendor is None and "." in violation.blocked
                log = advise and self._may_log()
            else:
                if len(self._seen) >= _MAX_DISTINCT:
                    self._evict()
                vendor = self._vendor(violation.blocked)
                self._added += 1
                seen = _Seen(
                    violation,
                    1,
                    vendor.category if vendor is not None else None,
                    vendor.name if vendor is not None else None,
                    {violation.page},
                    self._added,
                )
                self._seen[key] = seen
                advise = False
                log = self._may_log()
        if log:
            _log(seen, advise=advise)

    def _evict(self) -> None:
        """Drop the least-reported eighth of the table: hosts the catalogue does not know
        first, then the fewest reports, the oldest on a tie. (An eighth at a time, so a flood
        of new forged hosts costs one sort per 128 of them, not a scan per report.)"""
        ranked = sorted(
            self._seen.items(),
            key=lambda item: (item[1].vendor is not None, item[1].count, item[1].order),
        )
        for key, _ in ranked[: max(1, _MAX_DISTINCT // 8)]:
            del self._seen[key]

    def _may_log(self) -> bool:
        """One more log line this window? (Called with the lock held.)"""
        if self._logged < _LOG_PER_WINDOW:
            self._logged += 1
            return True
        if not self._log_full:
            self._log_full = True
            logger.warning(
                "Over %d new CSP violations this minute: the rest are counted but not logged "
                "until the next minute. Reports can be forged; a flood of them looks like this.",
                _LOG_PER_WINDOW,
            )
        return False

    def _log_foreign(self, site: str, request: Request) -> None:
        with self._lock:
            if self._foreign_logged:
                return
            self._foreign_logged = True
        logger.warning(
            "CSP report for a page on %r refused: the request came for Host %r. Reports count "
            "only for pages of this site; behind a proxy that rewrites Host, pass the original "
            "in X-Forwarded-Host (nginx: proxy_set_header Host $host). Logged once.",
            site,
            _clean(request.header("host") or ""),
        )

    def _vendor(self, blocked: str) -> Any:
        if "." not in blocked:
            return None
        if self._catalogue is None:
            self._catalogue = self.policy.catalogue
        return self._catalogue.vendor_for_host(blocked)

    def summary(self) -> list[dict[str, Any]]:
        """Every distinct violation kept, most frequent first (for tools and tests)."""
        with self._lock:
            seen = sorted(self._seen.values(), key=lambda s: -s.count)
            rows = [
                {
                    "blocked": s.violation.blocked,
                    "directive": s.violation.directive,
                    "disposition": s.violation.disposition,
                    "page": s.violation.page,
                    "pages": len(s.pages),
                    "count": s.count,
                    "category": s.category,
                    "vendor": s.vendor,
                }
                for s in seen
            ]
        return rows


def _too_many() -> Reply:
    reply = error(429, "too many reports; try again later")
    return Reply(429, (*reply.headers, ("retry-after", str(int(_WINDOW)))), reply.body)


def _own_site(violations: list[Violation], request: Request) -> list[Violation]:
    """The violations reported for pages of the host this request came to.

    A browser sends a ``report-uri`` report to the page's own origin (the URI is relative),
    so the page's host is the request's ``Host``, or ``X-Forwarded-Host`` behind a proxy.
    Without either header (a bare test harness) there is nothing to compare: all count.
    """
    hosts = {
        host
        for value in (request.header("host"), request.header("x-forwarded-host"))
        if value
        for host in (_hostname(part) for part in value.split(","))
        if host
    }
    if not hosts:
        return violations
    return [v for v in violations if v.site in hosts]


def _hostname(value: str) -> str:
    try:
        return urlsplit("//" + value.strip()).hostname or ""
    except ValueError:
        return ""


def _log(seen: _Seen, *, advise: bool = False) -> None:
    v = seen.violation
    verb = "blocked" if v.disposition == "enforce" else "would block"
    if seen.vendor is not None:
        logger.warning(
            "CSP %s %s (%s) on %s: %s, category %r; it loads once the visitor grants %r.",
            verb,
            v.blocked,
            v.directive,
            v.page,
            seen.vendor,
            seen.category,
            seen.category,
        )
    elif advise:
        logger.warning(
            "CSP %s %s (%s) on pages %s: not in the tracker catalogue. If the site needs it, "
            "add it to Policy(csp_allow=[%r]); if it tracks, declare it with "
            "Category(hosts=[...]) or Policy(trackers=[...]). Reports are not authenticated: "
            "check that your pages really load it first.",
            verb,
            v.blocked,
            v.directive,
            ", ".join(sorted(seen.pages)),
            v.blocked,
        )
    elif "." in v.blocked:
        logger.warning(
            "CSP %s %s (%s) on %s: not in the tracker catalogue (reported from one page so "
            "far; advice follows if another page reports it too).",
            verb,
            v.blocked,
            v.directive,
            v.page,
        )
    else:
        logger.warning("CSP %s %s (%s) on %s.", verb, v.blocked, v.directive, v.page)


def parse_reports(body: bytes) -> list[Violation] | None:
    """The violations in a report body, or ``None`` if it is not one we understand.

    Bounded: the bracket count is checked before parsing (no deep nesting reaches the JSON
    parser), at most a few reports per body are read, and every kept value is truncated.
    """
    if body.count(b"{") + body.count(b"[") > _MAX_BRACKETS:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if isinstance(data, dict):
        inner = data.get("csp-report")
        if isinstance(inner, dict):  # CSP2 report-uri format (CSP2 section 4.4)
            found = _violation(inner, _CSP2_KEYS)
            return [found] if found is not None else None
        data = [data]  # a single Reporting API report
    if not isinstance(data, list):
        return None
    violations: list[Violation] = []
    recognised = False
    for report in data[:_MAX_REPORTS_PER_BODY]:
        # Reporting API (https://w3c.github.io/reporting/#serialize-reports) with a CSP3
        # CSPViolationReportBody; other report types (deprecation, coep...) are ignored.
        if not isinstance(report, dict) or not isinstance(report.get("type"), str):
            continue
        recognised = True
        inner = report.get("body")
        if report["type"] == "csp-violation" and isinstance(inner, dict):
            found = _violation(inner, _CSP3_KEYS)
            if found is not None:
                violations.append(found)
    return violations if recognised else None


# (blocked URL, effective directive, fallback directive, document URL, disposition)
_CSP2_KEYS = (
    "blocked-uri",
    "effective-directive",
    "violated-directive",
    "document-uri",
    "disposition",
)
_CSP3_KEYS = (
    "blockedURL",
    "effectiveDirective",
    "effectiveDirective",
    "documentURL",
    "disposition",
)


def _violation(body: Mapping[str, Any], keys: tuple[str, str, str, str, str]) -> Violation | None:
    blocked_key, directive_key, fallback_key, page_key, disposition_key = keys
    blocked = body.get(blocked_key)
    directive = body.get(directive_key) or body.get(fallback_key)
    if not isinstance(blocked, str) or not isinstance(directive, str):
        return None
    page = body.get(page_key)
    disposition = body.get(disposition_key)
    return Violation(
        blocked=_blocked(blocked),
        directive=_directive(directive),
        disposition="report" if disposition == "report" else "enforce",
        page=_path(page) if isinstance(page, str) else "?",
        site=_hostname_of(page) if isinstance(page, str) else "",
    )


def _blocked(value: str) -> str:
    """The host of a blocked URL, or the keyword a report gives instead (``inline``...)."""
    value = _clean(value)
    if "://" in value:
        try:
            host = urlsplit(value).hostname
        except ValueError:
            host = None
        return host or "?"
    # CSP2 reports give a bare scheme or keyword: "inline", "eval", "data", "blob".
    return value.split(":", 1)[0].lower() or "?"


def _directive(value: str) -> str:
    """A directive name as reported (the first word of a CSP2 violated-directive), or
    ``unknown``: forged names must not make every report a new table entry."""
    name = value.split(" ", 1)[0].lower()
    return name if _DIRECTIVE.fullmatch(name) else "unknown"


def _hostname_of(url: str) -> str:
    try:
        return (urlsplit(_clean(url)).hostname or "")[:_FIELD_LIMIT]
    except ValueError:
        return ""


def _path(url: str) -> str:
    try:
        path = urlsplit(_clean(url)).path
    except ValueError:
        return "?"
    return path or "/"


def _clean(value: str) -> str:
    """A reported value made safe to keep and log: bounded, no control characters."""
    return _CONTROL.sub("", value[: _FIELD_LIMIT * 4])[:_FIELD_LIMIT]
