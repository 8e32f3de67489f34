"""In-process timing: the ASGI and WSGI callables driven directly, no HTTP client.

Every (variant, response) pair runs a batch of requests per round (sized per pair to take
about the same time); rounds visit the pairs in a shuffled order so that drift on a shared
machine hits all variants alike. Overheads are taken
per round against the bare app of the same round (paired), then summarised as the median and
min-max over rounds.

The default clock is the thread's CPU time (``time.thread_time_ns``): on a shared machine it
leaves out the time this process sits descheduled while other jobs run, which is most of the
noise, and keeps what the request costs (``--clock wall`` for elapsed time instead).
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import io
import random
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _apps import (
    ALL,
    HELLO,
    HOST,
    PATHS,
    asgi_variant,
    cookie_header,
    flask_session_value,
    make_policy,
    starlette_session_value,
    wsgi_variant,
)

VARIANTS = ("bare", "noop", "cg_decided", "cg_all", "cg_undecided", "session")
RESPONSES = (
    "text",
    "cookies",
    "hello",
    "html",
    "html_u",
    "html_t",
    "html_t_u",
    "html100",
    "html100_t",
    "html_gz",
    "html100_u",
    "html100_t_u",
    "html_s",
    "html100_s",
)
#: Column headings of the responses.
RESPONSE_LABELS = {
    "text": "small text",
    "cookies": "sets 2 cookies",
    "hello": "Flask-style HTML hello",
    "html": "20 KB HTML",
    "html_u": "20 KB HTML, every page different",
    "html_t": "20 KB HTML, 5 trackers",
    "html_t_u": "20 KB HTML, 5 trackers, every page different",
    "html100": "100 KB HTML",
    "html100_t": "100 KB HTML, 5 trackers",
    "html_gz": "20 KB HTML, gzip, every page different",
    "html100_u": "100 KB HTML, every page different",
    "html100_t_u": "100 KB HTML, 5 trackers, every page different",
    "html_s": "20 KB HTML streamed in 4 KB chunks, every page different",
    "html100_s": "100 KB HTML streamed in 4 KB chunks, every page different",
}
# A tag auto-blocking neutralised (the banner's own markup names no category this way).
_GATED = re.compile(rb'<(?:script|img|iframe)\s[^>]*?data-cookieguard="(?:analytics|marketing)"')
HTML_RESPONSES = (
    "hello",
    "html",
    "html_u",
    "html_t",
    "html_t_u",
    "html100",
    "html100_t",
    "html_gz",
    "html100_u",
    "html100_t_u",
    "html_s",
    "html100_s",
)
#: Pages whose every rendering differs (a per-request token in the middle): no content cache
#: can hit on them.
UNIQUE_RESPONSES = (
    "html_u",
    "html_t_u",
    "html_gz",
    "html100_u",
    "html100_t_u",
    "html_s",
    "html100_s",
)
#: Pages carrying the five vendors' tracker snippets.
TRACKER_RESPONSES = ("html_t", "html_t_u", "html100_t", "html100_t_u")
CLOCKS: dict[str, Callable[[], int]] = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}
_COMMON = [
    ("host", HOST),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("accept-language", "en-GB,en;q=0.7,de;q=0.3"),
    ("accept-encoding", "gzip, deflate, br"),
]


@dataclass
class Result:
    api: str
    batch: tuple[int, int]  # fewest and most requests per batch (sized per case)
    rounds: int
    times: dict[tuple[str, str], list[float]]  # (variant, response) -> ns/request per round
    clock: str = "cpu"

    def overheads(self, variant: str, response: str) -> list[float]:
        bare = self.times[("bare", response)]
        return [v - b for v, b in zip(self.times[(variant, response)], bare, strict=True)]

    def ratios(self, variant: str, peer: str, response: str, peer_response: str) -> list[float]:
        mine = self.overheads(variant, response)
        theirs = self.overheads(peer, peer_response)
        return [m / t if t > 0 else float("inf") for m, t in zip(mine, theirs, strict=True)]

    def ratio(self, variant: str, peer: str, response: str, peer_response: str) -> float:
        """Median overhead over median peer overhead (steadier than the median of ratios)."""
        peer_median = statistics.median(self.overheads(peer, peer_response))
        mine = statistics.median(self.overheads(variant, response))
        return mine / peer_median if peer_median > 0 else float("inf")

    def best_ratio(self, variant: str, peer: str, response: str, peer_response: str) -> float:
        """The same ratio from each case's fastest round: a cross-check on noisy machines,
        where disturbances only ever add time."""
        bare = min(self.times[("bare", response)])
        mine = min(self.times[(variant, response)]) - bare
        theirs = min(self.times[(peer, peer_response)]) - min(self.times[("bare", peer_response)])
        return mine / theirs if theirs > 0 else float("inf")


# -- ASGI ---------------------------------------------------------------------------------


def _asgi_scope(path: str, cookie: str) -> dict[str, Any]:
    headers = [(k.encode(), v.encode()) for k, v in _COMMON]
    headers.append((b"cookie", cookie.encode("latin-1")))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _asgi_batch(
    app: Any, scope: dict[str, Any], n: int, clock: Callable[[], int] = time.thread_time_ns
) -> int:
    async def send(message: Any) -> None:
        pass

    receive = _receive
    copy = dict.copy
    start = clock()
    for _ in range(n):
        await app(copy(scope), receive, send)
    return clock() - start


async def _asgi_capture(app: Any, scope: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    messages: list[Any] = []

    async def send(message: Any) -> None:
        messages.append(message)

    await app(dict(scope), _receive, send)
    start = messages[0]
    assert start["status"] == 200, start
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return list(start["headers"]), body


def asgi_cases() -> dict[tuple[str, str], tuple[Any, dict[str, Any]]]:
    policy = make_policy()
    cookies = {
        "cg_all": cookie_header(policy, starlette_session_value(), granted=ALL),
        "cg_undecided": cookie_header(policy, starlette_session_value(), consent=False),
    }
    decided = cookie_header(policy, starlette_session_value())
    cases = {}
    for variant in VARIANTS:
        app = asgi_variant(variant, policy)
        cookie = cookies.get(variant, decided)
        for response in RESPONSES:
            cases[(variant, response)] = (app, _asgi_scope(PATHS[response], cookie))
    return cases


# -- WSGI ---------------------------------------------------------------------------------


def _environ(path: str, cookie: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": HOST,
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "HTTP_COOKIE": cookie,
    }
    for key, value in _COMMON:
        environ["HTTP_" + key.upper().replace("-", "_")] = value
    return environ


def _wsgi_batch(
    app: Any, environ: dict[str, Any], n: int, clock: Callable[[], int] = time.thread_time_ns
) -> int:
    def write(data: bytes) -> None:
        pass

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return write

    copy = dict.copy
    new_input = io.BytesIO
    start = clock()
    for _ in range(n):
        env = copy(environ)
        env["wsgi.input"] = new_input(b"")
        result = app(env, start_response)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    return clock() - start


def _wsgi_capture(app: Any, environ: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], bytes]:
    seen: list[Any] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append((status, headers))
        return lambda data: None

    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(b"")
    result = app(env, start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    status, headers = seen[0]
    assert status.startswith("200"), status
    return [(k.lower().encode(), v.encode("latin-1")) for k, v in headers], body


def wsgi_cases() -> dict[tuple[str, str], tuple[Any, dict[str, Any]]]:
    policy = make_policy()
    cookies = {
        "cg_all": cookie_header(policy, flask_session_value(), granted=ALL),
        "cg_undecided": cookie_header(policy, flask_session_value(), consent=False),
    }
    decided = cookie_header(policy, flask_session_value())
    cases = {}
    for variant in VARIANTS:
        app = wsgi_variant(variant, policy)
        cookie = cookies.get(variant, decided)
        for response in RESPONSES:
            cases[(variant, response)] = (app, _environ(PATHS[response], cookie))
    return cases


# -- sanity and timing --------------------------------------------------------------------


def check(api: str, cases: dict[tuple[str, str], tuple[Any, dict[str, Any]]]) -> None:
    """Fail loudly if a variant does not do what the benchmark claims it measures."""
    loop = asyncio.new_event_loop()

    def capture(app: Any, request: dict[str, Any]) -> tuple[list[tuple[bytes, bytes]], bytes]:
        if api == "asgi":
            headers, body = loop.run_until_complete(_asgi_capture(app, request))
        else:
            headers, body = _wsgi_capture(app, request)
        if (b"content-encoding", b"gzip") in [(k.lower(), v) for k, v in headers]:
            body = gzip.decompress(body)  # what the checks below read
        return headers, body

    try:
        for (variant, response), (app, request) in cases.items():
            headers, body = capture(app, request)
            cookies = [v.split(b"=", 1)[0] for k, v in headers if k == b"set-cookie"]
            guarded = variant.startswith("cg")
            injected = b"/_cookieguard/banner.js" in body
            banner = b'id="cookie-consent"' in body
            where = f"{api} {variant}/{response}"
            if response in HTML_RESPONSES and response != "hello":
                # Every visitor gets the asset tags (Policy.scripts), the undecided the banner.
                assert injected == guarded, f"{where}: injected={injected}"
                assert banner == (variant == "cg_undecided"), f"{where}: banner={banner}"
                # "Every page different" means it, through the middleware too (a content cache
                # must never serve a stale token); the other pages come out the same each time.
                again = capture(app, request)[1]
                differ = again != body
                want_differ = response in UNIQUE_RESPONSES
                assert differ == want_differ, f"{where}: two responses differ={differ}"
                assert len(again) == len(body), f"{where}: {len(again)} != {len(body)} bytes"
            if response == "hello":
                # No <html>, <head> or <body>: a fragment (htmx...), which is never edited.
                assert body == HELLO.encode(), f"{where}: {body[:200]!r}"
            if response in TRACKER_RESPONSES:
                # Auto-blocking: the undecided get every tracker gated (5 scripts, 2 pixels, GTM's
                # iframe); the decided visitor (analytics and preferences granted) the
                # marketing ones (Meta's and LinkedIn's script and pixel).
                gated = len(_GATED.findall(body))
                want = {"cg_undecided": 8, "cg_decided": 4}.get(variant, 0)
                assert gated == want, f"{where}: {gated} gated tags, want {want}"
            if response == "cookies" and guarded:
                if variant == "cg_all":
                    assert b"_ga" in cookies and b"_fbp" in cookies, f"{where}: {cookies}"
                elif variant == "cg_decided":
                    assert b"_ga" in cookies and b"_fbp" not in cookies, f"{where}: {cookies}"
                else:
                    assert b"_fbp" not in cookies, f"{where}: {cookies}"
            if response == "cookies" and not guarded:
                assert b"_ga" in cookies and b"_fbp" in cookies, f"{where}: {cookies}"
    finally:
        loop.close()


def measure(
    api: str,
    *,
    rounds: int,
    batch_seconds: float,
    clock: str = "cpu",
    seed: int = 6,
    responses: tuple[str, ...] = RESPONSES,
    progress: Callable[[str], None] = lambda s: None,
) -> Result:
    timer = CLOCKS[clock]
    cases = asgi_cases() if api == "asgi" else wsgi_cases()
    cases = {key: case for key, case in cases.items() if key[1] in responses}
    check(api, cases)
    loop = asyncio.new_event_loop()

    def run(key: tuple[str, str], n: int) -> int:
        app, request = cases[key]
        if api == "asgi":
            return loop.run_until_complete(_asgi_batch(app, request, n, timer))
        return _wsgi_batch(app, request, n, timer)

    try:
        # Warm every case (caches, imports, routing), then size each case's batch to about
        # batch_seconds: a 100 KB page with trackers costs a hundred times a small text.
        sizes: dict[tuple[str, str], int] = {}
        for key in cases:
            run(key, 100)
            per = run(key, 100) / 100
            sizes[key] = max(20, int(batch_seconds * 1e9 / max(per, 1.0)))
        times: dict[tuple[str, str], list[float]] = {key: [] for key in cases}
        order = list(cases)
        rng = random.Random(seed)
        for index in range(rounds):
            rng.shuffle(order)
            for key in order:
                gc.collect()
                n = sizes[key]
                times[key].append(run(key, n) / n)
            progress(f"{api} round {index + 1}/{rounds}")
    finally:
        loop.close()
    batch = (min(sizes.values()), max(sizes.values()))
    return Result(api=api, batch=batch, rounds=rounds, times=times, clock=clock)
