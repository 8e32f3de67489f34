"""See what a site really stores and loads: before a choice, after "Reject all", after "Accept all".

``cookieguard scan URL`` and :func:`scan` drive a real Chromium (Playwright, found the same way
as the test plugin finds it) through a site in three fresh browser sessions and record, per page,
every cookie (and whether a response header or a script set it), every ``localStorage`` /
``sessionStorage`` key, every request to another host (with the script that caused it where
Chromium knows) and every CSP violation. Findings are classified by the site's policy when one
is given and by the tracker catalogue.

A *violation* is a non-necessary cookie, storage key or tracker request before a choice or after
"Reject all", or a cookie that outlives the retention its policy or vendor declares. Cookies and
hosts nobody has classified are listed as unclassified, never counted as violations: the scan
cannot know what they are, ``--suggest`` helps declare them.

QA can call :func:`scan` from pytest and :func:`assert_clean` on the result.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import http.client
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.robotparser
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from cookieguard.catalogue._catalogue import Catalogue, load_catalogue, normalise_host
from cookieguard.core._policy import NECESSARY, Policy

__all__ = [
    "PHASES",
    "CookieSeen",
    "PhaseResult",
    "RequestSeen",
    "ScanError",
    "ScanReport",
    "StorageSeen",
    "Violation",
    "assert_clean",
    "scan",
]

#: The three browser sessions of a scan, in order.
PHASES = ("before", "reject", "accept")
USER_AGENT_TOKEN = "cookieguard-scan"
#: Seconds a phase may overrun the scan's deadline before its browser is ended.
_DEADLINE_GRACE = 1.0
#: A phase is not started with less time left than this (a browser takes about that to start).
_PHASE_MINIMUM = 3.0
#: Slack on declared lifetimes: a browser rounds, servers' clocks drift.
_LIFETIME_SLACK = 24 * 3600

# Banners other than cookieguard's: buttons found by their visible text.
_REJECT_TEXT = re.compile(
    r"^\s*(reject|decline|deny|refuse|only necessary|necessary only|ablehnen|alle ablehnen|"
    r"tout refuser|refuser|rechazar|rifiuta)(\s+all|\s+alle|\s+tout|\s+cookies)?\s*$",
    re.IGNORECASE,
)
_ACCEPT_TEXT = re.compile(
    r"^\s*(accept|allow|agree|i agree|ok|got it|akzeptieren|alle akzeptieren|tout accepter|"
    r"accepter|aceptar|accetta)(\s+all|\s+alle|\s+tout|\s+cookies)?\s*$",
    re.IGNORECASE,
)
_CSP_WATCH = """
(() => {
  const seen = [];
  Object.defineProperty(window, '__cookieguardScanCsp', {value: seen});
  document.addEventListener('securitypolicyviolation', (event) => {
    seen.push({blocked: event.blockedURI, directive: event.effectiveDirective,
               disposition: event.disposition});
  });
})();
"""


class ScanError(Exception):
    """The site could not be scanned at all (no browser, first page unreachable)."""


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: every character that is not printable (escape
    sequences, carriage returns, newlines, bidi overrides, zero-width characters) written as a
    Python escape, so a site cannot retitle the window, clear the screen or fake a line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


@dataclass(frozen=True)
class CookieSeen:
    name: str
    domain: str
    path: str
    expires: float  # seconds since the epoch; -1 for a session cookie
    http_only: bool
    secure: bool
    same_site: str
    party: str  # "first" or "third"
    set_by: str  # "header" or "script"
    page: str  # the page after which it was first seen
    category: str | None
    vendor: str | None
    declared_max_age: int | None


@dataclass(frozen=True)
class StorageSeen:
    area: str  # "local" or "session"
    key: str
    page: str
    category: str | None
    vendor: str | None


@dataclass(frozen=True)
class RequestSeen:
    url: str
    host: str
    page: str
    resource_type: str
    initiator: str | None
    category: str | None
    vendor: str | None


@dataclass(frozen=True)
class Violation:
    phase: str
    kind: str  # "cookie", "storage", "request", "lifetime"
    subject: str
    detail: str

    def __str__(self) -> str:
        return printable(f"[{self.phase}] {self.kind} {self.subject}: {self.detail}")


@dataclass
class PhaseResult:
    name: str
    pages: list[str] = field(default_factory=list)
    cookies: list[CookieSeen] = field(default_factory=list)
    storage: list[StorageSeen] = field(default_factory=list)
    requests: list[RequestSeen] = field(default_factory=list)
    csp: list[dict[str, str]] = field(default_factory=list)
    clicked: str | None = None  # the button pressed to make the choice
    errors: list[str] = field(default_factory=list)
    #: Why the phase could not finish (a page that did not load, no button to click, a time
    #: limit, robots.txt unreadable); also listed in ``errors``. Empty for a finished phase.
    unfinished: list[str] = field(default_factory=list)
    screenshot: bytes | None = None  # PNG of the banner (or the page) on the first page


@dataclass
class ScanReport:
    urls: list[str]
    phases: dict[str, PhaseResult]
    violations: list[Violation]
    started: float
    seconds: float

    @property
    def clean(self) -> bool:
        return not self.violations

    @property
    def complete(self) -> bool:
        """Whether every phase finished: a scan that did not can miss violations."""
        return not any(phase.unfinished for phase in self.phases.values()) and len(
            self.phases
        ) == len(PHASES)

    @property
    def exit_status(self) -> int:
        """``cookieguard scan``'s status: 1 on violations (they stand even if the scan did not
        finish), else 2 when a phase could not finish, else 0."""
        if self.violations:
            return 1
        return 0 if self.complete else 2

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` (screenshots left out)."""
        phases = {}
        for name, phase in self.phases.items():
            data = asdict(phase)
            data.pop("screenshot")
            phases[name] = data
        return {
            "urls": self.urls,
            "clean": self.clean,
            "complete": self.complete,
            "violations": [asdict(v) for v in self.violations],
            "phases": phases,
            "started": self.started,
            "seconds": round(self.seconds, 2),
        }


def assert_clean(report: ScanReport) -> None:
    """Fail a test with the scan's table and every violation listed (for QA suites); a scan
    that could not finish a phase fails too (it may have missed what it was looking for)."""
    if report.violations:
        raise AssertionError(
            f"cookieguard scan found {len(report.violations)} violation(s):\n" + render_text(report)
        )
    if not report.complete:
        raise AssertionError("cookieguard scan could not finish:\n" + render_text(report))


class _Classifier:
    """Category, vendor and declared lifetime of what the browser saw."""

    def __init__(self, policy: Policy | None, catalogue: Catalogue) -> None:
        self.policy = policy
        self.catalogue = catalogue

    def cookie(self, name: str) -> tuple[str | None, str | None, int | None]:
        found = self.catalogue.cookie_vendor(name)
        vendor, max_age = (found[0].name, found[1].max_age) if found else (None, None)
        category = found[0].category if found else None
        if self.policy is not None:
            declared = self.policy.category_of(name)
            if declared is not None:
                category = declared
        elif name == "cookie_consent":
            category = NECESSARY
        return category, vendor, max_age

    def storage(self, key: str) -> tuple[str | None, str | None]:
        if self.policy is not None:
            for pattern, category in self.policy.storage.items():
                if fnmatch.fnmatchcase(key, pattern):
                    return category, None
        # Vendors reuse their cookie names as storage keys (_hjid): either fact names them.
        found = self.catalogue.cookie_vendor(key)
        if found is not None:
            return found[0].category, found[0].name
        return None, None

    def host(self, url: str) -> tuple[str | None, str | None]:
        vendor = self.catalogue.vendor_for_url(url)
        if vendor is None:
            return None, None
        return vendor.category, vendor.name


def _site_of(host: str) -> str:
    """A rough registrable domain: the last two labels (enough to tell first from third party
    on the sites a scan is pointed at; a public-suffix list would be a new dependency)."""
    labels = host.lstrip(".").split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host


def _recorded(host: str, page_host: str, vendor: str | None) -> bool:
    """Whether a request counts: to another site, or to a catalogued tracker whatever its
    party (``_site_of`` is rough: under ``co.uk`` every site looks like the same one)."""
    return vendor is not None or _site_of(host) != _site_of(page_host)


class _Robots:
    """Each origin's robots.txt (RFC 9309), fetched once and never past the scan's deadline.

    A 4xx answer allows everything; an answer the scan could not read (5xx, a network error,
    too slow) means "disallow everything" as section 2.3.1.4 asks, and the crawl reports it as
    unfinished: the scan then stops at the start pages.
    """

    #: At most this many seconds for one robots.txt (redirects included).
    LIMIT = 5.0
    MAX_BYTES = 512 * 1024

    def __init__(self, enabled: bool, deadline: float) -> None:
        self.enabled = enabled
        self.deadline = deadline
        self._parsers: dict[str, urllib.robotparser.RobotFileParser] = {}
        #: Origin -> why its robots.txt could not be read (taken by the crawl to report once).
        self.failed: dict[str, str] = {}

    def allows(self, url: str) -> bool:
        if not self.enabled:
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._parsers:
            parser = urllib.robotparser.RobotFileParser()
            try:
                text = self._fetch(origin + "/robots.txt")
            except _RobotsUnreadable as exc:
                text = "User-agent: *\nDisallow: /\n"
                self.failed[origin] = str(exc)
            parser.parse((text or "").splitlines())  # None: no rules, everything allowed
            self._parsers[origin] = parser
        return self._parsers[origin].can_fetch(USER_AGENT_TOKEN, url)

    def _fetch(self, url: str) -> str | None:
        """The text of robots.txt, ``None`` for "no rules" (4xx); raises _RobotsUnreadable.

        http.client rather than urlopen: a socket timeout bounds one read, not a body dripped a
        byte at a time, so a timer shuts the socket down when the time is up.
        """
        budget = min(self.LIMIT, self.deadline - time.monotonic())
        give_up = time.monotonic() + budget
        first = url
        for _ in range(5):  # RFC 9309 2.3.1.2: follow at least five redirects
            parts = urlsplit(url)
            left = give_up - time.monotonic()
            if parts.scheme not in ("http", "https") or not parts.hostname or left <= 0:
                break
            connection: http.client.HTTPConnection
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(
                    parts.hostname, parts.port, timeout=left, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=left)
            timer = threading.Timer(left, _shut_down, (connection,))
            timer.daemon = True
            timer.start()
            try:
                connection.request(
                    "GET",
                    urlsplit(url)._replace(scheme="", netloc="", fragment="").geturl() or "/",
                    headers={"User-Agent": USER_AGENT_TOKEN},
                )
                reply = connection.getresponse()
                location = reply.getheader("Location")
                if 300 <= reply.status < 400 and location:
                    url = urljoin(url, location)
                    continue
                if 400 <= reply.status < 500:
                    return None
                if not 200 <= reply.status < 300:
                    raise _RobotsUnreadable(f"{first}: HTTP {reply.status}")
                body = bytearray()
                while len(body) < self.MAX_BYTES:
                    chunk = reply.read1(min(65536, self.MAX_BYTES - len(body)))
                    if time.monotonic() >= give_up:
                        break
                    if not chunk:
                        return body.decode("utf-8", "replace")
                    body += chunk
                else:
                    return body.decode("utf-8", "replace")  # the first 512 KB (2.5: >= 500 KiB)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                if time.monotonic() < give_up:
                    raise _RobotsUnreadable(f"{first}: {exc or type(exc).__name__}") from None
            finally:
                timer.cancel()
                connection.close()
            break
        if time.monotonic() >= give_up:
            raise _RobotsUnreadable(f"{first}: no complete answer within {max(budget, 0):.1f} s")
        raise _RobotsUnreadable(f"{first}: too many redirects or not http(s)")


class _RobotsUnreadable(Exception):
    pass


def _shut_down(connection: http.client.HTTPConnection) -> None:
    """Interrupt a read in progress on ``connection`` (close() alone does not wake it)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def scan(
    urls: Sequence[str],
    *,
    policy: Policy | None = None,
    pages: int = 20,
    depth: int = 3,
    timeout: float = 300.0,
    robots: bool = True,
    screenshots: bool = True,
    settle: float = 1.0,
    page_timeout: float = 15.0,
    progress: Callable[[str, int, int, str], None] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ScanReport:
    """Scan ``urls`` (and same-site pages linked from them) in three browser sessions.

    ``pages`` and ``depth`` bound the crawl; ``timeout`` bounds the whole scan in seconds.
    After each page's load event the scan waits for the network to go quiet (500 ms without
    a request, Playwright's "networkidle"), at most ``settle`` seconds, so beacons sent just
    after load are seen. A page that has not loaded after ``page_timeout`` seconds, answers
    with an error status or redirects to another site is reported in the phase's ``errors``.
    ``headers`` go with every request the browser makes: the region headers a CDN would send
    (``cookieguard.testing.region_headers(policy, "US-CA")``), to scan the site as seen from
    there. Raises :class:`ScanError` when there is no browser or the first page cannot be
    loaded.
    """
    if not urls:
        raise ScanError("no URL to scan")
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ScanError(f"not an http(s) URL: {url!r}")
    if pages < 1 or depth < 0 or settle < 0:
        raise ScanError("--pages must be >= 1, --depth and --settle >= 0")
    try:
        import playwright.sync_api  # noqa: F401 - only to say how to install it
    except ImportError:
        raise ScanError("Playwright is not installed: pip install 'cookieguard[scan]'") from None

    classifier = _Classifier(policy, policy.catalogue if policy is not None else load_catalogue())
    started = time.time()
    deadline = time.monotonic() + timeout
    report = ScanReport(list(urls), {}, [], started, 0.0)
    robot_rules = _Robots(robots, deadline)
    # Chromium's process id per phase: when a phase outlives the deadline (a page whose script
    # never yields blocks every call into it), ending its browser ends its calls.
    browsers: dict[str, int] = {}

    def session(result: PhaseResult, crawl: list[str] | None) -> None:
        """One phase in its own browser: Playwright's sync API is one instance per thread."""
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        from cookieguard.testing._browser import launch_args

        with sync_playwright() as driver:
            try:
                browser = driver.chromium.launch(
                    **launch_args(), timeout=max(1.0, deadline - time.monotonic()) * 1000
                )
            except PlaywrightError as exc:
                reason = str(exc).splitlines()[0]
                raise ScanError(printable(f"could not start Chromium: {reason}")) from None
            try:
                with contextlib.suppress(Exception):  # best effort: the deadline still holds
                    info = browser.new_browser_cdp_session().send("SystemInfo.getProcessInfo")
                    browsers[result.name] = next(
                        int(p["id"]) for p in info["processInfo"] if p["type"] == "browser"
                    )
                phase = _Phase(
                    result,
                    browser,
                    classifier,
                    deadline,
                    progress,
                    screenshots,
                    settle,
                    page_timeout,
                    headers=headers,
                )
                try:
                    if crawl is None:
                        phase.crawl(list(urls), pages, depth, robot_rules)
                    else:
                        phase.visit_after_choice(crawl)
                finally:
                    phase.close()
            finally:
                with contextlib.suppress(Exception):
                    browser.close()

    def run(crawls: dict[str, list[str] | None]) -> None:
        """The sessions side by side (the time goes to waiting for pages, not to the CPU), in
        daemon threads: a caller already driving Playwright's sync API in its own thread (a
        pytest-playwright suite) can scan too, and a session stuck in a hostile page can be
        left behind. None outlives the deadline by more than a few seconds."""
        failures: dict[str, BaseException] = {}

        def work(name: str, crawl: list[str] | None) -> None:
            try:
                session(report.phases[name], crawl)
            except ScanError as exc:
                failures[name] = exc
            except Exception as exc:  # the browser went away (or was ended below)
                _unfinish(report.phases[name], f"stopped: {str(exc).splitlines()[0]}")

        threads = []
        for name, crawl in crawls.items():
            report.phases[name] = PhaseResult(name)
            thread = threading.Thread(
                target=work, args=(name, crawl), name=f"cookieguard-scan-{name}", daemon=True
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(max(0.0, deadline + _DEADLINE_GRACE - time.monotonic()))
        for name, thread in zip(crawls, threads, strict=True):
            if thread.is_alive():
                _unfinish(report.phases[name], "did not finish by the scan's deadline (--timeout)")
                pid = browsers.get(name)
                if pid is not None:
                    with contextlib.suppress(OSError):
                        os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                thread.join(1.5)
        for exc in failures.values():
            raise exc

    run({"before": None})
    before = report.phases["before"]
    if not before.pages:
        reason = before.errors[0] if before.errors else "no page loaded"
        raise ScanError(printable(f"could not load {urls[0]}: {reason}"))
    if deadline - time.monotonic() > _PHASE_MINIMUM:
        run(dict.fromkeys(PHASES[1:], before.pages))
    else:
        for name in PHASES[1:]:
            report.phases[name] = PhaseResult(name)
            _unfinish(report.phases[name], "not started: too close to the scan's deadline")
    report.violations = _violations(report)
    report.seconds = time.time() - started
    return report


class _Phase:
    """One fresh browser session: its pages, what it saw, and the choice it made."""

    def __init__(
        self,
        result: PhaseResult,
        browser: Any,
        classifier: _Classifier,
        deadline: float,
        progress: Callable[[str, int, int, str], None] | None,
        screenshots: bool,
        settle: float,
        page_timeout: float,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.result = result
        self.settle = settle * 1000
        self.page_timeout = page_timeout * 1000
        self.classifier = classifier
        self.deadline = deadline
        self.progress = progress
        self.screenshots = screenshots
        self.context = browser.new_context(extra_http_headers=dict(headers or {}))
        self.context.add_init_script(_CSP_WATCH)
        self.header_cookies: set[str] = set()
        self.cookies_seen: set[tuple[str, str, str]] = set()
        self.storage_seen: set[tuple[str, str]] = set()
        self.requests_seen: set[str] = set()
        self.initiators: dict[str, str] = {}
        self.current = ""
        # Requests and responses of every page of the context (a popup the site opens too), as
        # the browser reports them: nothing a page's script can hide.
        self.context.on("response", self._on_response)
        self.context.on("request", self._on_request)
        self.page = self.context.new_page()
        self.cdp: Any = None
        with contextlib.suppress(Exception):  # then storage is reported as not readable
            self.cdp = self.context.new_cdp_session(self.page)
        try:
            self.cdp.send("Network.enable")
            self.cdp.on("Network.requestWillBeSent", self._on_cdp_request)
        except Exception:  # initiators are a nicety; a scan works without them
            pass

    # -- events ------------------------------------------------------------------------------

    def _on_response(self, response: Any) -> None:
        try:
            for header in response.headers_array():
                if header["name"].lower() == "set-cookie":
                    name = header["value"].split(";", 1)[0].partition("=")[0].strip()
                    if name:
                        self.header_cookies.add(name)
        except Exception:  # a response that went away mid-read
            pass

    def _on_cdp_request(self, event: dict[str, Any]) -> None:
        initiator = event.get("initiator") or {}
        # The script on top of the stack is the tag that asked; initiator.url is often only
        # the document.
        frames = (initiator.get("stack") or {}).get("callFrames") or []
        url = next((f.get("url") for f in frames if f.get("url")), None) or initiator.get("url")
        request_url = (event.get("request") or {}).get("url")
        if (
            url
            and request_url
            and request_url not in self.initiators
            and len(self.initiators) < 10_000
        ):
            self.initiators[request_url] = url

    def _on_request(self, request: Any) -> None:
        url = request.url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not self.current:
            return
        host = normalise_host(parts.netloc)
        if not host or url in self.requests_seen or len(self.requests_seen) >= 5_000:
            return
        category, vendor = self.classifier.host(url)
        if not _recorded(host, normalise_host(urlsplit(self.current).netloc), vendor):
            return
        self.requests_seen.add(url)
        self.result.requests.append(
            RequestSeen(
                url=url[:500],
                host=host,
                page=self.current,
                resource_type=request.resource_type,
                initiator=None,  # filled in by close(): DevTools may tell us later
                category=category,
                vendor=vendor,
            )
        )

    # -- navigation --------------------------------------------------------------------------

    def _time_left(self) -> float:
        return self.deadline - time.monotonic()

    def _ms(self, limit: float) -> float:
        """A wait of ``limit`` milliseconds cut to what is left of the scan's time."""
        return max(1.0, min(limit, self._time_left() * 1000))

    def _unfinished(self, reason: str) -> None:
        _unfinish(self.result, reason)

    def _load(self, url: str) -> bool:
        left = self._time_left()
        if left <= 1:
            self._unfinished(f"time limit reached before {url}")
            return False
        self.current = url
        try:
            response = self.page.goto(
                url, wait_until="load", timeout=min(self.page_timeout, left * 1000)
            )
        except Exception as exc:  # one unreachable page must not end the scan
            self._unfinished(f"{url}: {str(exc).splitlines()[0]}")
            return False
        landed = self.page.url
        if urlsplit(landed)[:2] != urlsplit(url)[:2]:
            # Redirected to another site: not the site under scan, so neither recorded nor
            # crawled (its requests until here were recorded like any other).
            self.result.errors.append(f"{url}: redirected off-site to {landed}")
            return False
        if response is not None and response.status >= 400:
            # Still scanned: an error page can set cookies and load trackers too.
            self.result.errors.append(f"{url}: HTTP {response.status}")
        # Let scripts that wait for load finish their beacons; a page that never goes idle
        # is still scanned.
        with contextlib.suppress(Exception):
            self.page.wait_for_load_state("networkidle", timeout=self._ms(self.settle))
        return True

    def _record(self, url: str) -> None:
        self.result.pages.append(url)
        page_host = normalise_host(urlsplit(url).netloc)
        for cookie in self.context.cookies():
            key = (cookie["name"], cookie["domain"], cookie["path"])
            if key in self.cookies_seen:
                continue
            self.cookies_seen.add(key)
            category, vendor, max_age = self.classifier.cookie(cookie["name"])
            domain = cookie["domain"].lstrip(".")
            self.result.cookies.append(
                CookieSeen(
                    name=cookie["name"],
                    domain=cookie["domain"],
                    path=cookie["path"],
                    expires=float(cookie.get("expires", -1)),
                    http_only=bool(cookie.get("httpOnly")),
                    secure=bool(cookie.get("secure")),
                    same_site=str(cookie.get("sameSite", "")),
                    party="first" if _site_of(domain) == _site_of(page_host) else "third",
                    set_by="header" if cookie["name"] in self.header_cookies else "script",
                    page=url,
                    category=category,
                    vendor=vendor,
                    declared_max_age=max_age,
                )
            )
        keys = self._storage(url)
        try:
            csp = self.page.evaluate("() => window.__cookieguardScanCsp || []")
        except Exception:  # a page that navigated away meanwhile
            csp = []
        for area in ("local", "session"):
            for name in keys.get(area, [])[:1000]:
                if (area, name) in self.storage_seen:
                    continue
                self.storage_seen.add((area, name))
                category, vendor = self.classifier.storage(name)
                self.result.storage.append(StorageSeen(area, name, url, category, vendor))
        for item in csp[:200]:
            self.result.csp.append({"page": url, **{k: str(v) for k, v in item.items()}})

    def _storage(self, url: str) -> dict[str, list[str]]:
        """Every frame's localStorage and sessionStorage keys, read by DevTools from the browser's
        storage, not by a script in the page: a page can replace ``Object.keys`` or
        ``Storage.prototype`` for its own scripts, not for the browser."""
        keys: dict[str, list[str]] = {"local": [], "session": []}
        try:
            tree = self.cdp.send("Page.getFrameTree")["frameTree"]
        except Exception as exc:
            self._unfinished(f"{url}: storage not readable: {str(exc).splitlines()[0]}")
            return keys
        frames = [tree]
        while frames:
            node = frames.pop()
            frames.extend(node.get("childFrames") or [])
            frame = node["frame"]
            origin = frame.get("securityOrigin") or ""
            if "://" not in origin:
                continue  # about:blank, data: and sandboxed frames have no storage of their own
            try:
                storage_id = self.cdp.send(
                    "Storage.getStorageKeyForFrame", {"frameId": frame["id"]}
                )
            except Exception:
                storage_id = {"securityOrigin": origin}
            for area, local in (("local", True), ("session", False)):
                try:
                    entries = self.cdp.send(
                        "DOMStorage.getDOMStorageItems",
                        {"storageId": {**storage_id, "isLocalStorage": local}},
                    )["entries"]
                except Exception as exc:
                    if node is tree:
                        self._unfinished(f"{url}: {area}Storage not readable: {exc}")
                    continue
                keys[area].extend(str(entry[0]) for entry in entries)
        return keys

    def _links(self) -> list[str]:
        try:
            found = self.page.eval_on_selector_all(
                "a[href]", "links => links.map((link) => link.href)"
            )
        except Exception:
            return []
        return [str(href) for href in found[:2000]]

    def _report(self, done: int, total: int, url: str) -> None:
        if self.progress is not None:
            self.progress(self.result.name, done, total, url)

    def crawl(self, start: list[str], limit: int, depth: int, robots: _Robots) -> None:
        """Breadth-first over same-origin links from ``start``."""
        origins = {urlsplit(u)[:2] for u in start}
        queue = deque((urldefrag(u)[0], 0) for u in start)
        queued = {u for u, _ in queue}
        first = True
        while queue and len(self.result.pages) < limit:
            if self._time_left() <= 1:
                self._unfinished(f"time limit reached with {len(queue)} page(s) left to visit")
                break
            url, level = queue.popleft()
            if not first and not robots.allows(url):
                origin = "{}://{}".format(*urlsplit(url)[:2])
                if origin in robots.failed:
                    self._unfinished(
                        f"robots.txt unreadable ({robots.failed.pop(origin)}): "
                        "pages beyond the start page(s) not visited"
                    )
                continue
            self._report(len(self.result.pages), limit, url)
            if not self._load(url):
                if first:
                    return
                continue
            self._record(url)
            if first:
                self._shoot()
                first = False
            if level >= depth:
                continue
            for href in self._links():
                link = urldefrag(urljoin(url, href))[0]
                parts = urlsplit(link)
                if parts[:2] not in origins or link in queued:
                    continue
                if "/_cookieguard/" in parts.path:
                    continue  # the consent endpoints are not the site
                queued.add(link)
                queue.append((link, level + 1))

    def visit_after_choice(self, pages: list[str]) -> None:
        """Make the phase's choice on the first page, then visit every crawled page."""
        accept = self.result.name == "accept"
        if not pages or not self._load(pages[0]):
            return
        self._shoot()
        self.result.clicked = self._choose(accept)
        # What loaded before the click belongs to "before a choice", which has its own phase.
        self.result.requests.clear()
        self.requests_seen.clear()
        for index, url in enumerate(pages):
            self._report(index, len(pages), url)
            if index and not self._load(url):
                continue
            if index == 0:
                self.current = url
            self._record(url)

    def _choose(self, accept: bool) -> str | None:
        action = "accept_all" if accept else "reject_all"
        pattern = _ACCEPT_TEXT if accept else _REJECT_TEXT
        candidates = [self.page.locator(f'[data-cookieguard-action="{action}"]')]
        candidates.append(self.page.get_by_role("button", name=pattern))
        candidates.append(self.page.get_by_role("link", name=pattern))
        for locator in candidates:
            jar = self._jar()
            try:
                button = locator.first
                if not button.is_visible():
                    continue
                label = " ".join(button.inner_text(timeout=self._ms(5_000)).split())
                button.click(timeout=self._ms(5_000))
            except Exception:  # try the next way of finding the button
                continue
            # A choice is stored in a cookie (by a fetch, or by a form post that navigates):
            # wait until the jar changes so the next navigation cannot cut the choice off.
            for _ in range(50):
                if self._jar() != jar or self._time_left() <= 1:
                    break
                self.page.wait_for_timeout(100)
            with contextlib.suppress(Exception):
                self.page.wait_for_load_state("load", timeout=self._ms(5_000))
                self.page.wait_for_load_state("networkidle", timeout=self._ms(3_000))
            return label or action
        self._unfinished(f"no {'accept' if accept else 'reject'} button found")
        return None

    def _jar(self) -> set[tuple[str, str]]:
        return {(c["name"], c["value"]) for c in self.context.cookies()}

    def _shoot(self) -> None:
        if not self.screenshots or self.result.screenshot is not None:
            return
        try:
            banner = self.page.locator("#cookie-consent")
            if banner.count() and banner.first.is_visible():
                self.result.screenshot = banner.first.screenshot(timeout=self._ms(5_000))
            else:
                self.result.screenshot = self.page.screenshot(timeout=self._ms(5_000))
        except Exception:  # a report without a picture is still a report
            pass

    def close(self) -> None:
        self.context.close()
        # DevTools' requestWillBeSent may arrive after Playwright's request event: name each
        # request's initiator only now that both have been seen.
        self.result.requests[:] = [
            replace(r, initiator=self.initiators.get(r.url)) if r.initiator is None else r
            for r in self.result.requests
        ]


def _unfinish(result: PhaseResult, reason: str) -> None:
    result.errors.append(reason)
    result.unfinished.append(reason)


def _violations(report: ScanReport) -> list[Violation]:
    found: list[Violation] = []
    for name, phase in report.phases.items():
        strict = name in ("before", "reject")
        when = "before a choice" if name == "before" else "after Reject all"
        for cookie in phase.cookies:
            if strict and cookie.category not in (None, NECESSARY):
                found.append(
                    Violation(
                        name,
                        "cookie",
                        cookie.name,
                        f"{cookie.category} cookie ({cookie.vendor or 'declared'}) "
                        f"set by {cookie.set_by} {when} on {cookie.page}",
                    )
                )
            if cookie.declared_max_age is not None and cookie.expires > 0:
                lifetime = cookie.expires - report.started
                if lifetime > cookie.declared_max_age + _LIFETIME_SLACK:
                    found.append(
                        Violation(
                            name,
                            "lifetime",
                            cookie.name,
                            f"kept {lifetime / 86400:.0f} days; declared "
                            f"{cookie.declared_max_age / 86400:.0f} days",
                        )
                    )
        if not strict:
            continue
        for item in phase.storage:
            if item.category not in (None, NECESSARY):
                found.append(
                    Violation(
                        name,
                        "storage",
                        f"{item.area}Storage {item.key}",
                        f"{item.category} key written {when} on {item.page}",
                    )
                )
        for request in phase.requests:
            if request.category not in (None, NECESSARY):
                found.append(
                    Violation(
                        name,
                        "request",
                        request.host,
                        f"{request.vendor} ({request.category}) loaded {when} on "
                        f"{request.page}"
                        + (f" by {request.initiator}" if request.initiator else ""),
                    )
                )
    return found


# -- output ------------------------------------------------------------------------------------


def render_text(report: ScanReport) -> str:
    """The terminal table: one block per phase, then the verdict.

    Everything a site controls (names, keys, hosts, URLs, button labels, error texts) goes
    through :func:`printable`: one place, so no field can be forgotten.
    """
    lines: list[str] = []
    for name, phase in report.phases.items():
        title = {
            "before": "Before a choice",
            "reject": "After Reject all",
            "accept": "After Accept all",
        }[name]
        clicked = f" (clicked {phase.clicked!r})" if phase.clicked else ""
        lines.append(f"== {title}{clicked}: {len(phase.pages)} page(s)")
        if phase.cookies:
            lines.append(f"  {'cookie':<28} {'domain':<26} {'by':<7} {'category':<12} vendor")
            for c in phase.cookies:
                lines.append(
                    f"  {printable(c.name)[:28]:<28} {printable(c.domain)[:26]:<26} "
                    f"{c.set_by:<7} {c.category or '?':<12} {c.vendor or ''}"
                )
        for s in phase.storage:
            lines.append(f"  {s.area}Storage {s.key}  {s.category or '?'}  {s.vendor or ''}")
        hosts: dict[str, RequestSeen] = {}
        for r in phase.requests:
            hosts.setdefault(r.host, r)
        for host, r in sorted(hosts.items()):
            lines.append(f"  request {host}  {r.category or '?'}  {r.vendor or ''}")
        for v in phase.csp:
            lines.append(f"  CSP blocked {v.get('blocked', '')} ({v.get('directive', '')})")
        for error in phase.errors:
            lines.append(f"  ! {error}")
    lines = [printable(line) for line in lines]
    if report.violations:
        lines.append(f"{len(report.violations)} violation(s):")
        lines.extend(f"  {v}" for v in report.violations)
    if not report.complete:
        unfinished = sum(len(phase.unfinished) for phase in report.phases.values())
        lines.append(
            f"incomplete: {unfinished} problem(s) kept the scan from finishing (see '!' above)"
        )
    elif not report.violations:
        lines.append("clean: nothing optional before a choice or after Reject all")
    return "\n".join(lines) + "\n"


def render_suggestion(report: ScanReport) -> str:
    """A ``[cookies]`` TOML block declaring every cookie found (``?`` where unknown)."""
    rows: dict[str, tuple[str, str]] = {}
    for phase in report.phases.values():
        for cookie in phase.cookies:
            if cookie.name == "cookie_consent":
                continue
            pattern, note = cookie.name, cookie.vendor or "not in the catalogue: decide"
            found = _glob_for(report, cookie.name)
            if found is not None:
                pattern = found
            rows.setdefault(pattern, (cookie.category or "?", note))
    out = ["[cookies]"]
    for pattern in sorted(rows):
        category, note = rows[pattern]
        # A JSON string is a valid TOML basic string: a name with quotes or control characters
        # stays one key on one line.
        out.append(f'{json.dumps(pattern)} = "{category}"  # {printable(note)}')
    return "\n".join(out) + "\n"


def _glob_for(report: ScanReport, name: str) -> str | None:
    found = load_catalogue().cookie_vendor(name)
    if found is not None and any(ch in found[1].pattern for ch in "*?["):
        return found[1].pattern
    return None


def render_html(report: ScanReport) -> str:
    """One self-contained HTML file: verdict, per-phase tables, banner screenshots."""
    from html import escape

    def table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
            for row in rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>cookieguard scan</title><style>",
        "body{font:15px/1.4 system-ui,sans-serif;margin:2rem;max-width:75rem}"
        "table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}"
        "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;font-size:13px}"
        ".bad{color:#a00}.ok{color:#060}img{max-width:100%;border:1px solid #ccc}",
        "</style></head><body>",
        f"<h1>cookieguard scan of {escape(', '.join(report.urls))}</h1>",
    ]
    if report.violations:
        parts.append(f"<p class='bad'><strong>{len(report.violations)} violation(s)</strong></p>")
        parts.append(
            table(
                ("phase", "kind", "what", "detail"),
                ((v.phase, v.kind, v.subject, v.detail) for v in report.violations),
            )
        )
    else:
        parts.append(
            "<p class='ok'><strong>Clean</strong>: nothing optional before a choice "
            "or after Reject all.</p>"
        )
    for name, phase in report.phases.items():
        parts.append(f"<h2>{escape(name)}</h2>")
        if phase.clicked:
            parts.append(f"<p>Clicked: {escape(phase.clicked)}</p>")
        if phase.screenshot:
            data = base64.b64encode(phase.screenshot).decode()
            parts.append(
                f"<img alt='the first page in this phase' src='data:image/png;base64,{data}'>"
            )
        parts.append(f"<p>Pages: {escape(', '.join(phase.pages))}</p>")
        parts.append(
            table(
                (
                    "cookie",
                    "domain",
                    "path",
                    "party",
                    "set by",
                    "category",
                    "vendor",
                    "expires",
                    "HttpOnly",
                    "Secure",
                    "SameSite",
                ),
                (
                    (
                        c.name,
                        c.domain,
                        c.path,
                        c.party,
                        c.set_by,
                        c.category or "?",
                        c.vendor or "",
                        "session"
                        if c.expires < 0
                        else time.strftime("%Y-%m-%d", time.gmtime(c.expires)),
                        c.http_only,
                        c.secure,
                        c.same_site,
                    )
                    for c in phase.cookies
                ),
            )
        )
        parts.append(
            table(
                ("storage", "key", "category", "vendor"),
                ((s.area, s.key, s.category or "?", s.vendor or "") for s in phase.storage),
            )
        )
        parts.append(
            table(
                ("host", "url", "type", "initiator", "category", "vendor"),
                (
                    (
                        r.host,
                        r.url,
                        r.resource_type,
                        r.initiator or "",
                        r.category or "?",
                        r.vendor or "",
                    )
                    for r in phase.requests
                ),
            )
        )
        if phase.errors:
            parts.append("<ul>" + "".join(f"<li>{escape(e)}</li>" for e in phase.errors) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def progress_bar(stream: Any = None) -> Callable[[str, int, int, str], None]:
    """A progress callback writing one updating line to stderr (plain lines when not a TTY)."""
    out = stream if stream is not None else sys.stderr
    tty = bool(getattr(out, "isatty", lambda: False)())

    def show(phase: str, done: int, total: int, url: str) -> None:
        width = 20
        filled = min(width, width * done // max(total, 1))
        line = f"[{'#' * filled}{'.' * (width - filled)}] {phase:<6} {done + 1}/{total} "
        line += printable(url)
        if tty:
            out.write("\r" + line[:118].ljust(118))
        else:
            out.write(line + "\n")
        out.flush()

    return show
