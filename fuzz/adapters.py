"""The fuzz campaign of issue 15, as a reproducible target (``make fuzz``, with fuzz/gate.py).

    python fuzz/adapters.py                      # 1,000,000 cases, seed 1, all cores (<= 2)
    python fuzz/adapters.py --cases 20000 --seed 7 --workers 1
    python fuzz/adapters.py --replay 123456      # run one case alone and print it

Every case is built from its own seeded generator (seed and case number), so a case that
fails is reproduced by its number alone, whatever the worker count. Three kinds of case,
each run through both adapters (WSGI by direct calls, ASGI by driving the coroutine on one
event loop per worker; no sockets):

- **set-cookie**: a generated ``Set-Cookie`` line (duplicate, invalid, oddly cased and
  spaced ``Max-Age``/``Expires`` attributes, RFC 6265 section 5.1.1 dates and near-dates).
  The middleware's deletion verdict is compared with ``tests/rfc6265.py``, an independent
  implementation of the RFC's algorithm, and so is the cookie-date parser; then the line
  goes out through an adapter for an undecided or consenting visitor and must pass exactly
  when its category is allowed or every browser reading deletes it.
- **request**: generated ``Cookie`` headers (valid, tampered and junk consent tokens),
  ``Host`` headers (valid, deep, 2 KB, junk) and ``Sec-GPC``; the app must see no cookie
  the consent refuses, the consent must be the one signed, deletions stay bounded.
- **endpoint**: generated bodies, content types, methods and queries for cookieguard's own
  endpoints (deep JSON, bad shapes, ``next`` with control characters...).

Counted: unhandled exceptions, 5xx answers, verdict disagreements, broken invariants. The
summary line goes to stdout; the exit status is 1 on any problem.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import io
import json
import logging
import multiprocessing
import os
import random
import re
import sys
import time
import traceback
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(ROOT / "src") not in sys.path:
    sys.path.append(str(ROOT / "src"))

from cookieguard import ConsentCodec, Policy  # noqa: E402
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware  # noqa: E402
from cookieguard.core._consent import Consent  # noqa: E402
from cookieguard.core._cookies import cookie_date, is_deletion  # noqa: E402
from cookieguard.core._guard import MAX_DELETION_BYTES, MAX_DELETIONS  # noqa: E402
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware  # noqa: E402
from tests import rfc6265  # noqa: E402

SECRET = "fuzz-secret-key-0123456789abcdef"
COOKIES = {
    "likebox": "preferences",
    "_ga": "analytics",
    "_ga_*": "analytics",
    "_fbp": "marketing",
    "session": "necessary",
}
CATEGORY = {"likebox": "preferences", "_ga": "analytics", "_ga_X": "analytics", "_fbp": "marketing"}
CATEGORY["session"] = "necessary"
OPTIONAL = ("preferences", "analytics", "marketing")
FIXED_NOW = 1_800_000_000.0  # the clock of the pure verdict comparison (2027-01-15)
CHUNK = 2000  # cases per task handed to a worker
SAFE_LOCATION = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*")
PAGE = b"<!doctype html><html><head><title>f</title></head><body><p>x</p></body></html>"


def make_policy() -> Policy:
    # One client sends every case: the per-client limit (a 429 after 120) is not tested here.
    return Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None, rate_limit=0)


# -- generators ----------------------------------------------------------------------------

LATIN1 = "".join(chr(c) for c in range(0x20, 0x100) if c != 0x7F)
CONTROL = "".join(chr(c) for c in range(0x00, 0x20)) + "\x7f"
WEEKDAYS = ["Thu", "thursday", "Sun,", "MON", "Fri"]
MONTHS = ["Jan", "jan", "JANUARY", "Feb", "feb", "Mar", "Apr", "May", "jun", "Jul", "Aug"]
MONTHS += ["Sep", "oct", "Nov", "Dec", "Ja", "Jax", "Decimal", "nov."]
DATE_SEPARATORS = [" ", ", ", "-", "  ", "/", "\t", ",", " , ", ""]


def junk(rng: random.Random, most: int, controls: bool = False) -> str:
    alphabet = LATIN1 + (CONTROL if controls else "")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, most)))


def number(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return str(rng.choice([0, -1, 1, 60, 31536000, -31536000, 10**22, -(10**22)]))
    if roll < 0.6:
        return str(rng.randint(-5, 5))
    if roll < 0.8:
        return rng.choice(
            ["+0", "-", "", "0x", "0 1", "0.5", "00", "-0", "1e3", "0\t", "\xb2", "\xb9"]
        )
    return str(rng.randint(-9, 9)) + junk(rng, 3)


def date(rng: random.Random) -> str:
    parts = []
    if rng.random() < 0.6:
        parts.append(rng.choice(WEEKDAYS))
    parts.append(str(rng.randint(0, 32)).zfill(rng.choice([1, 2])))
    parts.append(rng.choice(MONTHS))
    year = rng.choice(
        [rng.randint(1590, 2110), rng.randint(0, 99), rng.randint(0, 9999), 1970, 2100]
    )
    parts.append(str(year).zfill(rng.choice([1, 2, 3, 4])))
    fields = [rng.randint(0, 61) for _ in range(3)]
    clock = ":".join(str(f).zfill(rng.choice([1, 2])) for f in fields)
    if rng.random() < 0.1:
        clock = clock.rsplit(":", 1)[0]
    parts.append(clock)
    if rng.random() < 0.5:
        parts.append(rng.choice(["GMT", "UTC", "+0000", "Z", "PST"]))
    if rng.random() < 0.3:
        rng.shuffle(parts)
    if rng.random() < 0.15:
        parts.insert(rng.randint(0, len(parts)), junk(rng, 6))
    if rng.random() < 0.1:
        index = rng.randrange(len(parts))
        parts[index] += rng.choice(["x", "9", ":", "\x7f", "é"])
    text = "".join(p + rng.choice(DATE_SEPARATORS) for p in parts)
    return text if rng.random() < 0.9 else text.strip()


def attribute(rng: random.Random) -> str:
    name = rng.choice(
        [
            *("Max-Age", "max-age", "MAX-AGE", "mAx-AgE", "Expires", "expires", "EXPIRES"),
            *("Path", "Domain", "X", "Secure", "HttpOnly", "Max-Ag", "maxage", "Expire", ""),
        ]
    )
    if rng.random() < 0.2:
        name = rng.choice([" ", "\t", "  "]) + name + rng.choice(["", " ", "\t"])
    lowered = name.strip().lower()
    roll = rng.random()
    if lowered == "max-age" and roll < 0.8:
        value = number(rng)
    elif lowered == "expires" and roll < 0.8:
        value = date(rng)
    elif roll < 0.5:
        value = rng.choice(["/", "/max-age=0", "max-age=0", "expires=" + date(rng), "0", "x"])
    else:
        value = junk(rng, 12, controls=rng.random() < 0.05)
    if rng.random() < 0.01:
        value = rng.choice(["0", "9"]) * rng.randint(1000, 1100)
    separator = rng.choice(["=", "=", "=", " = ", "\t=", "", "==", "= "])
    return name + separator + value


@dataclass(frozen=True)
class Line:
    """A generated Set-Cookie line and the name the browser sends it back under."""

    text: str
    name: str


def set_cookie_line(rng: random.Random) -> Line:
    name = rng.choice(["_ga", "_ga_X", "likebox", "_fbp", "session", "zz_undeclared"])
    value = rng.choice(["", "1", "GA1.2.3", "max-age=0", "expires=Thu, 01 Jan 1970"])
    if rng.random() < 0.01:
        value = "v" * rng.randint(4080, 4100)
    template = rng.random()
    if template < 0.8:
        head = f"{name}={value}"
    elif template < 0.88:
        head = f"={name}={value}"  # nameless: sent back as `name=value`
    elif template < 0.94:
        head = f" {name}\t= {value} "
    else:
        head = name
    attributes = [attribute(rng) for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6]))]
    text = head
    for av in attributes:
        text += rng.choice(["; ", ";", " ;", ";;", "; "]) + av
    if attributes and rng.random() < 0.03:  # a control character among the attributes
        cut = rng.randint(text.index(";", len(head)) + 1, len(text))
        text = text[:cut] + rng.choice(CONTROL) + text[cut:]
    return Line(text, name)


def expected_pass(line: Line, expiries: dict[str, Any], consent: Consent, now: float) -> bool:
    category = CATEGORY.get(line.name)
    if category is not None and consent.allows(category):
        return True
    return rfc6265.deletes(expiries, now)


class _Inline(concurrent.futures.ThreadPoolExecutor):
    """Runs ``run_in_executor`` work at once, on the loop's thread: no thread hop per case."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class Tokens:
    """Signed consent values for the request side: valid, tampered, stale."""

    def __init__(self, policy: Policy) -> None:
        codec = ConsentCodec(policy)
        self.valid: list[tuple[str, frozenset[str]]] = []
        for granted in ([], ["analytics"], ["marketing", "preferences"], list(OPTIONAL)):
            token = codec.dumps(set(granted), "f" * 22)
            self.valid.append((token, frozenset(granted)))
        stale = ConsentCodec(Policy(secret_keys=["other-key-0123456789abcdef"], cookies={}))
        self.forged = [
            stale.dumps({"analytics"}, "e" * 22),
            self.valid[1][0][:-2] + "AA",
            "x" + self.valid[3][0][1:],
            "",
            "garbage",
        ]


def cookie_header(rng: random.Random, tokens: Tokens) -> tuple[str, frozenset[str] | None]:
    """A Cookie header, and the categories its consent grants (None: undecided)."""
    pieces: list[str] = []
    expected: frozenset[str] | None = None
    consent_at = rng.randint(-1, 4)
    for index in range(rng.randint(0, 8)):
        if index == consent_at:
            if rng.random() < 0.6:
                token, expected = rng.choice(tokens.valid)
            else:
                token = rng.choice(tokens.forged)
            pieces.append(f"cookie_consent={token}")
            continue
        roll = rng.random()
        if roll < 0.6:
            name = rng.choice(["_ga", "_ga_X", "_ga_Y2", "likebox", "_fbp", "session", "zz"])
            pieces.append(f"{name}={junk(rng, 10)}".replace(";", ""))
        elif roll < 0.8:
            pieces.append(junk(rng, 20).replace(";", ""))
        else:
            pieces.append(rng.choice(["", " ", "=", "_ga", '"x"', "=1", "a=b=c"]))
    separators = ["; ", ";", " ; "]
    return "".join(p + rng.choice(separators) for p in pieces).rstrip("; "), expected


def host_header(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(["shop.example", "www.shop.example:8443", "localhost:8000", "[::1]"])
    if roll < 0.55:
        return ".".join(["a"] * rng.randint(1, 6000)) + ".example"
    if roll < 0.7:
        return f"n{rng.randint(0, 10**6)}." + ".".join(["b" * 60] * 33)
    if roll < 0.85:
        return ".".join("c" * rng.randint(1, 63) for _ in range(rng.randint(1, 8)))
    return junk(rng, 40)


JSON_BODIES: list[Callable[[random.Random], bytes]] = [
    lambda rng: b"[" * rng.randint(1, 5000),
    lambda rng: b'{"a":' * rng.randint(1, 900),
    lambda rng: b"[" * (n := rng.randint(1, 2000)) + b"]" * n,
    lambda rng: json.dumps(
        {
            "action": rng.choice(["accept_all", "reject_all", "save", "nope", 1, None, []]),
            "categories": rng.choice([[], ["analytics"], ["necessary"], ["bogus"], "x", [1]]),
            "source": rng.choice(["banner", "preferences", "api", "gpc", 3]),
        }
    ).encode(),
    lambda rng: rng.choice([b"null", b"1e999", b'"s"', b"{}", b"\xff\xfe", b"[]", b"{"]),
    lambda rng: bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))),
]


def form_body(rng: random.Random) -> bytes:
    fields = []
    for _ in range(rng.randint(0, 6)):
        key = rng.choice(["action", "category", "next", "source", "x", ""])
        if key == "next":
            value = rng.choice(
                [
                    *("/", "/x\n", "/x\r\n", "//evil", "/\\evil", "https://evil", "/ok?a=1"),
                    *("/x\t", "/x\x00", "/é", junk(rng, 20, controls=True)),
                ]
            )
        elif key == "action":
            value = rng.choice(["accept_all", "reject_all", "save", "", "nope"])
        else:
            value = rng.choice(["analytics", "marketing", "necessary", "bogus", junk(rng, 8)])
        fields.append(quote(key) + "=" + quote(value))
    body = "&".join(fields).encode()
    if rng.random() < 0.1:
        body += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    if rng.random() < 0.02:
        body = b"action=accept_all&" + b"x=1&" * 2000  # over max_body or max fields
    return body


ENDPOINT_PATHS = [
    "/_cookieguard/consent",
    "/_cookieguard/consent",
    "/_cookieguard/consent",
    "/_cookieguard/preferences",
    "/_cookieguard/receipts",
    "/_cookieguard/dialog",
    "/_cookieguard/banner.js",
    "/_cookieguard/nope",
    "/.well-known/gpc.json",
]


# -- running one case ------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seen: dict[str, Any] = field(default_factory=dict)  # what the app saw

    def named(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.strip().lower() == name]


@dataclass
class Tally:
    cases: int = 0
    exceptions: int = 0
    server_errors: int = 0
    disagreements: int = 0
    broken: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.cases += other.cases
        self.exceptions += other.exceptions
        self.server_errors += other.server_errors
        self.disagreements += other.disagreements
        self.broken += other.broken
        self.samples.extend(other.samples[: max(0, 20 - len(self.samples))])

    @property
    def problems(self) -> int:
        return self.exceptions + self.server_errors + self.disagreements + self.broken


class Campaign:
    """The apps, middlewares and event loop of one worker process."""

    def __init__(self) -> None:
        logging.getLogger("cookieguard").setLevel(logging.CRITICAL)
        self.policy = make_policy()
        self.tokens = Tokens(self.policy)
        self.catalogue = self.policy.catalogue  # undeclared trackers it knows are gated
        self.lines: list[str] = []  # Set-Cookie lines the app sends on this case
        self.seen: dict[str, Any] = {}
        self.wsgi = WsgiMiddleware(self._wsgi_app, self.policy, receipts=None)
        self.asgi = AsgiMiddleware(self._asgi_app, policy=self.policy, receipts=None)
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(_Inline())

    # The app: echoes nothing, records what it saw, sends this case's Set-Cookie lines.
    def _respond(self, path: str) -> tuple[list[tuple[str, str]], bytes]:
        html = path == "/page"
        headers = [("Content-Type", "text/html; charset=utf-8" if html else "text/plain")]
        body = PAGE if html else b"ok"
        if html:
            headers.append(("Content-Length", str(len(body))))
        headers += [("Set-Cookie", line) for line in self.lines]
        return headers, body

    def _wsgi_app(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.seen = {
            "cookie": environ.get("HTTP_COOKIE"),
            "consent": environ.get("cookieguard.consent"),
        }
        headers, body = self._respond(environ["PATH_INFO"])
        start_response("200 OK", headers)
        return [body]

    async def _asgi_app(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        cookies = [v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"]
        self.seen = {
            "cookie": "; ".join(cookies) if cookies else None,
            "consent": scope.get("cookieguard.consent"),
        }
        headers, body = self._respond(scope["path"])
        raw = [(k.lower().encode(), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    def request(
        self,
        adapter: str,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        query: str = "",
    ) -> Response:
        self.seen = {}
        if adapter == "wsgi":
            response = self._wsgi(method, path, headers, body, query)
        elif path.startswith(("/_cookieguard/", "/.well-known/")):
            # Endpoints hand their work to an executor: they need a running loop.
            response = self.loop.run_until_complete(self._asgi(method, path, headers, body, query))
        else:  # pages never wait on anything: drive the coroutine directly
            coroutine = self._asgi(method, path, headers, body, query)
            try:
                coroutine.send(None)
            except StopIteration as done:
                response = done.value
            else:
                coroutine.close()
                raise RuntimeError("the ASGI middleware waited on a page request")
        response.seen = self.seen
        return response

    def _wsgi(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, query: str
    ) -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "shop.example",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
        }
        for name, value in headers:
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
            elif "HTTP_" + key in environ:  # a WSGI server joins repeated fields
                environ["HTTP_" + key] += ("; " if key == "COOKIE" else ", ") + value
            else:
                environ["HTTP_" + key] = value
        got: dict[str, Any] = {}

        def start_response(status: str, hdrs: list[tuple[str, str]], exc: Any = None) -> Any:
            got["status"] = int(status.split()[0])
            got["headers"] = list(hdrs)
            return lambda data: None

        result = self.wsgi(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Response(got["status"], got["headers"], data)

    async def _asgi(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes, query: str
    ) -> Response:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(dict(message))

        await self.asgi(scope, receive, send)
        start = sent[0]
        headers_out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        data = b"".join(m.get("body", b"") for m in sent[1:])
        return Response(start["status"], headers_out, data)

    # -- the three kinds of case -----------------------------------------------------------

    def run_case(self, seed: int, number: int, tally: Tally) -> None:
        rng = random.Random((seed << 40) | number)
        adapter = "wsgi" if number % 2 else "asgi"
        kind = rng.random()
        problems: list[str] = []
        try:
            if kind < 0.4:
                self._set_cookie_case(rng, adapter, problems, tally)
            elif kind < 0.75:
                self._request_case(rng, adapter, problems, tally)
            else:
                self._endpoint_case(rng, adapter, problems, tally)
        except Exception:
            tally.exceptions += 1
            problems.append("exception: " + traceback.format_exc(limit=-3).replace("\n", " | "))
        finally:
            self.lines = []
        tally.cases += 1
        if problems and len(tally.samples) < 20:
            tally.samples.append(f"case {number} ({adapter}): " + "; ".join(problems)[:600])

    def _set_cookie_case(
        self, rng: random.Random, adapter: str, problems: list[str], tally: Tally
    ) -> None:
        lines = [set_cookie_line(rng) for _ in range(rng.randint(1, 4))]
        expiries = [rfc6265.expiries(line.text) for line in lines]
        for line, expiry in zip(lines, expiries, strict=True):
            ours = is_deletion(line.text, now=FIXED_NOW)
            theirs = rfc6265.deletes(expiry, FIXED_NOW)
            if ours != theirs:
                tally.disagreements += 1
                problems.append(f"verdict {ours} vs RFC {theirs} for {line.text!r}")
        for _ in range(2):
            text = date(rng)
            ours_date = cookie_date(text)
            theirs_date = rfc6265.parse_cookie_date(text)
            if ours_date != (None if theirs_date is None else float(theirs_date)):
                tally.disagreements += 1
                problems.append(f"date {ours_date} vs RFC {theirs_date} for {text!r}")
        # The same lines through an adapter, for an undecided or a consenting visitor.
        token, granted = rng.choice([("", frozenset[str]()), *self.tokens.valid])
        headers = [("Host", "shop.example")]
        if token:
            headers.append(("Cookie", f"cookie_consent={token}"))
        self.lines = [line.text for line in lines]
        now = time.time()
        response = self.request(adapter, "GET", rng.choice(["/", "/page"]), headers)
        if response.status >= 500:
            tally.server_errors += 1
        consent = Consent(bool(token), granted)
        passed = response.named("set-cookie")
        for line, expiry in zip(lines, expiries, strict=True):
            expected = expected_pass(line, expiry, consent, now)
            if (line.text in passed) != expected:
                tally.disagreements += 1
                problems.append(f"{adapter} passed={not expected} for {line.text!r}")

    def _request_case(
        self, rng: random.Random, adapter: str, problems: list[str], tally: Tally
    ) -> None:
        cookie, expected = cookie_header(rng, self.tokens)
        gpc = rng.random() < 0.2
        headers = [("Host", host_header(rng))]
        if cookie or rng.random() < 0.5:
            if rng.random() < 0.2 and ";" in cookie:  # split fields, as HTTP/2 sends them
                first, _, rest = cookie.partition(";")
                headers += [("Cookie", first), ("Cookie", rest)]
            else:
                headers.append(("Cookie", cookie))
        if gpc:
            headers.append(("Sec-GPC", "1"))
        if rng.random() < 0.3:
            self.lines = [set_cookie_line(rng).text for _ in range(rng.randint(1, 3))]
        response = self.request(adapter, "GET", rng.choice(["/", "/page"]), headers)
        if response.status >= 500:
            tally.server_errors += 1
            return
        consent = response.seen.get("consent")
        if not isinstance(consent, Consent):
            tally.broken += 1
            problems.append("the app saw no consent")
            return
        # Forged or missing tokens are undecided; valid ones grant what they were signed with.
        if expected is not None and cookie.count("cookie_consent") == 1:
            want = expected - ({"marketing"} if gpc else set())
            if consent.granted != want:
                tally.broken += 1
                problems.append(f"consent {sorted(consent.granted)} != {sorted(want)}")
        elif expected is None and consent.decided:
            tally.broken += 1
            problems.append("a forged or missing token gave consent")
        for piece in (response.seen.get("cookie") or "").split(";"):
            name = piece.partition("=")[0].strip()
            if not name or name == "cookie_consent":
                continue
            category = self.policy.category_of(name) or self.catalogue.cookie_category(name)
            if category is None or not consent.allows(category):
                tally.broken += 1
                problems.append(f"the app saw {name!r} ({category})")
        added = [c for c in response.named("set-cookie") if c not in self.lines]
        deletions = [c for c in added if "Max-Age=0" in c]
        if len(deletions) > MAX_DELETIONS or sum(map(len, deletions)) > MAX_DELETION_BYTES:
            tally.broken += 1
            problems.append(f"{len(deletions)} deletions, {sum(map(len, deletions))} bytes")

    def _endpoint_case(
        self, rng: random.Random, adapter: str, problems: list[str], tally: Tally
    ) -> None:
        path = rng.choice(ENDPOINT_PATHS)
        method = rng.choice(["POST", "POST", "POST", "GET", "HEAD", "PUT"])
        cookie, _ = cookie_header(rng, self.tokens)
        headers = [("Host", host_header(rng) if rng.random() < 0.3 else "shop.example")]
        if cookie:
            headers.append(("Cookie", cookie))
        body = b""
        if method == "POST":
            if rng.random() < 0.5:
                body = rng.choice(JSON_BODIES)(rng)
                content_type = rng.choice(["application/json", "application/json; charset=utf-8"])
            else:
                body = form_body(rng)
                content_type = "application/x-www-form-urlencoded"
            if rng.random() < 0.05:
                content_type = rng.choice(["text/plain", "", "multipart/form-data"])
            headers.append(("Content-Type", content_type))
            if rng.random() < 0.1:
                headers.append(
                    ("Origin", rng.choice(["null", "https://evil", "http://shop.example"]))
                )
            if rng.random() < 0.1:
                headers.append(("Sec-Fetch-Site", rng.choice(["cross-site", "same-origin"])))
        query = rng.choice(["", "next=/x%0A", "next=//evil", "next=" + quote(junk(rng, 30))])
        response = self.request(adapter, method, path, headers, body, query)
        status = response.status
        if status >= 500:
            tally.server_errors += 1
            problems.append(f"{status} for {method} {path} {body[:80]!r}")
            return
        if status not in (200, 303, 304, 400, 403, 404, 405, 413, 415):
            tally.broken += 1
            problems.append(f"unexpected status {status}")
        if status >= 400 and response.named("set-cookie"):
            tally.broken += 1
            problems.append(f"{status} with Set-Cookie")
        if status == 303:
            (location,) = response.named("location")
            if not SAFE_LOCATION.fullmatch(location):
                tally.broken += 1
                problems.append(f"unsafe Location {location!r}")
        if status == 200 and method == "POST":
            state = json.loads(response.body)
            if state.get("expires") is None:
                tally.broken += 1
                problems.append("POST answered expires null")


_CAMPAIGN: Campaign | None = None


def _run_chunk(task: tuple[int, int, int]) -> Tally:
    global _CAMPAIGN
    if _CAMPAIGN is None:
        _CAMPAIGN = Campaign()
    seed, start, stop = task
    tally = Tally()
    for number in range(start, stop):
        _CAMPAIGN.run_case(seed, number, tally)
    return tally


def run(cases: int, seed: int, workers: int, *, progress: bool = False) -> tuple[Tally, float]:
    """Run ``cases`` cases of campaign ``seed``; the totals and the seconds it took
    (``progress``: a line on stderr every tenth of the way)."""
    tasks = [(seed, start, min(start + CHUNK, cases)) for start in range(0, cases, CHUNK)]
    total = Tally()
    began = time.perf_counter()
    step = max(1, len(tasks) // 10)

    def add(done: int, tally: Tally) -> None:
        total.add(tally)
        if progress and done % step == 0:
            elapsed = time.perf_counter() - began
            print(
                f"fuzz: {total.cases} cases, {total.problems} problems, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    if workers <= 1:
        for done, task in enumerate(tasks, 1):
            add(done, _run_chunk(task))
    else:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with context.Pool(workers) as pool:
            for done, tally in enumerate(pool.imap_unordered(_run_chunk, tasks), 1):
                add(done, tally)
    return total, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--replay", type=int, help="run this one case number and describe it")
    args = parser.parse_args(argv)
    if args.replay is not None:
        tally = Tally()
        Campaign().run_case(args.seed, args.replay, tally)
        print("\n".join(tally.samples) or f"case {args.replay}: no problem")
        return 1 if tally.problems else 0
    tally, seconds = run(args.cases, args.seed, args.workers, progress=True)
    for sample in tally.samples:
        print(sample, file=sys.stderr)
    print(
        f"fuzz: {tally.cases} cases (seed {args.seed}, {args.workers} workers) in "
        f"{seconds:.1f} s: {tally.exceptions} unhandled exceptions, {tally.server_errors} 5xx, "
        f"{tally.disagreements} verdict disagreements, {tally.broken} broken invariants"
    )
    return 1 if tally.problems else 0


if __name__ == "__main__":
    sys.exit(main())
