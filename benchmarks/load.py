"""Load test (``make load``): real servers, concurrent visitors, every receipt accounted for.

For each server (uvicorn with the ASGI middleware, waitress with the WSGI one) a server
process is started on 127.0.0.1 with a small HTML app wrapped in ``ConsentMiddleware``;
client threads then send page views and consent POSTs for ``--seconds``. With
``--postgres`` the receipts go to a throwaway PostgreSQL cluster (``PostgresCluster``),
which ``--outage`` stops and restarts and ``--freeze`` SIGSTOPs and SIGCONTs in the middle
of the run. At the end the server is stopped, the spool is replayed once more, and the
receipts are counted exactly: every consent POST answered 200 must be in the database or
the spool (or the quarantine), exactly once.

This scenario counts every POST, so its server turns the abuse guards off (``rate_limit=0``,
``receipts_repeat_window=0``: every POST writes a receipt, whoever sends it).

``--flood`` runs the abuse scenario instead (issue 23), with the guards as they ship: one
address (127.0.0.2) pipelines consent POSTs at ``--flood-rate`` a second (new consent ids, and
an hour-old cookie repeating its choice), while ``--visitors`` real visitors, each from its own
loopback address, make a first choice and then change it every second. At the end: how much
the receipts store grew, and whether every real visitor's every change is stored. One Python
server on this machine answers far fewer than 10,000 POSTs a second, so the same flood is also
sent in process (the WSGI middleware called directly, ``--flood-rate`` x 5 requests).

Exit status: 0 when there were no errors (transport errors, non-2xx answers, tracebacks in
the server log) and no lost or duplicated receipts (``--flood``: every real visitor's
change stored, the store grown by at most ``--flood-max-mb``); 1 otherwise; 2 for bad
arguments.

    python benchmarks/load.py --seconds 60 --postgres --outage --freeze
    make load LOAD_ARGS="--seconds 60 --postgres --outage --freeze"
    python benchmarks/load.py --flood --seconds 30

Everything binds 127.0.0.1 and runs for a bounded time; the servers and the cluster are
removed at the end, also on error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cookieguard.receipts import PostgresStore, SpooledStore, SQLiteStore  # noqa: E402
from cookieguard.receipts._pgcluster import PostgresCluster  # noqa: E402

SECRET = "load-test-secret-" + "x" * 32
COOKIES = {"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"}
PAGE = (
    b"<!doctype html><html lang=en><head><meta charset=utf-8><title>Shop</title></head><body>"
    + b"".join(b"<p>Product %d: a fine thing, well made.</p>\n" % i for i in range(40))
    + b"</body></html>"
)
ACTIONS = ("accept_all", "reject_all", "save")
#: A request taking longer than this is an error (the old frozen-server stall was 10-48 s).
CLIENT_TIMEOUT = 30.0
SERVERS = ("uvicorn", "waitress")


# -- the server process ---------------------------------------------------------------------


def _html_headers() -> list[tuple[str, str]]:
    return [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Set-Cookie", "likebox=grid; Path=/; Max-Age=31536000; SameSite=Lax"),
        ("Set-Cookie", "session=abc; Path=/; HttpOnly; SameSite=Lax"),
    ]


def serve(
    server: str, port: int, store_url: str, spool: str, retry_interval: float, mode: str
) -> None:
    """Run ``server`` on 127.0.0.1:``port`` until SIGINT/SIGTERM (the child process)."""
    from cookieguard import Policy
    from cookieguard.receipts import open_store

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("cookieguard.receipts").setLevel(logging.INFO)  # "replayed N receipts"
    # The durability run counts every POST's receipt: no limits, no repeats left out.
    guards: dict[str, Any] = (
        {} if mode == "flood" else {"rate_limit": 0, "receipts_repeat_window": 0}
    )
    policy = Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None, **guards)
    store = open_store(store_url, spool_path=spool, retry_interval=retry_interval)
    headers = _html_headers()
    if server == "uvicorn":
        import uvicorn

        from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware

        raw = [(k.lower().encode(), v.encode()) for k, v in headers]

        async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": raw})
            await send({"type": "http.response.body", "body": PAGE})

        uvicorn.run(
            AsgiMiddleware(asgi_app, policy=policy, receipts=store),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    elif server == "waitress":
        import waitress  # type: ignore[import-untyped]

        from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware

        def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
            start_response("200 OK", [*headers, ("Content-Length", str(len(PAGE)))])
            return [PAGE]

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth"
        waitress.serve(
            WsgiMiddleware(wsgi_app, policy, receipts=store),
            host="127.0.0.1",
            port=port,
            _quiet=True,
        )
    else:
        raise SystemExit(f"unknown server {server!r}")
    store.close()


# -- the visitors ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What one client thread saw."""

    pages: int = 0
    consents: int = 0  # consent POSTs answered 200: each must have left exactly one receipt
    errors: list[str] = field(default_factory=list)
    page_latency: list[float] = field(default_factory=list)
    consent_latency: list[tuple[float, float]] = field(default_factory=list)  # (start, took)


def visitor(port: int, stop: threading.Event, tally: Tally, seed: int, share: float) -> None:
    """Page views and consent POSTs on one keep-alive connection until ``stop``."""
    rng = random.Random(seed)
    origin = f"http://127.0.0.1:{port}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    cookie = ""
    while not stop.is_set():
        posting = rng.random() < share
        started = time.monotonic()
        try:
            if posting:
                action = rng.choice(ACTIONS)
                body = {
                    "action": action,
                    "categories": rng.sample(sorted(set(COOKIES.values())), 1),
                }
                headers = {
                    "Content-Type": "application/json",
                    "Origin": origin,
                    "Sec-Fetch-Site": "same-origin",
                    "Referer": origin + "/shop?item=" + str(rng.randrange(1000)),
                    "User-Agent": f"load-test/{seed}",
                }
                # Half the choices are first choices (new consent id), half are changes.
                if cookie and rng.random() < 0.5:
                    headers["Cookie"] = cookie
                conn.request("POST", "/_cookieguard/consent", json.dumps(body), headers)
            else:
                conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            response.read()
            took = time.monotonic() - started
            if response.status != 200:
                tally.errors.append(f"{'POST' if posting else 'GET'} -> {response.status}")
                continue
            if posting:
                tally.consents += 1
                tally.consent_latency.append((started, took))
                for name, value in response.getheaders():
                    if name.lower() == "set-cookie" and value.startswith("cookie_consent="):
                        cookie = value.split(";", 1)[0]
            else:
                tally.pages += 1
                tally.page_latency.append(took)
        except (OSError, http.client.HTTPException) as exc:
            tally.errors.append(f"{'POST' if posting else 'GET'}: {type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    conn.close()


# -- one run --------------------------------------------------------------------------------


@dataclass
class Event:
    name: str
    start: float
    end: float = 0.0


@dataclass
class Run:
    server: str
    store: str
    seconds: float
    pages: int
    consents: int
    errors: list[str]
    server_errors: list[str]
    stored_before_replay: int
    spooled_before_replay: int
    replayed: int
    replayed_live: int
    overlap: int
    stored: int
    duplicates: int
    spooled: int
    quarantined: int
    page_p50_ms: float
    page_p99_ms: float
    consent_p50_ms: float
    consent_p99_ms: float
    consent_max_ms: float
    consent_max_in_events_ms: dict[str, float]
    events: list[Event]

    @property
    def lost(self) -> int:
        return self.consents - (self.stored + self.spooled + self.quarantined)

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and not self.server_errors
            and self.lost == 0
            and self.duplicates == 0
            and self.quarantined == 0
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server not listening on {port} after 30 s")


@contextlib.contextmanager
def server_process(
    server: str,
    store_url: str,
    spool: Path,
    log: Path,
    retry_interval: float,
    mode: str = "durability",
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    command = [sys.executable, __file__, "--serve", server, str(port), store_url, str(spool),
               str(retry_interval), mode]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_listening(port, process, log)
        yield port, process
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # both servers shut down gracefully on SIGINT
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def count_stored(store_url: str) -> tuple[int, int]:
    """(rows, distinct receipt ids) in the store."""
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url, connect_timeout=10) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT receipt_id) FROM cookieguard_receipts"
            ).fetchone()
    else:
        lite = sqlite3.connect(store_url)
        try:
            row = lite.execute(
                "SELECT count(*), count(DISTINCT receipt_id) FROM receipts"
            ).fetchone()
        finally:
            lite.close()
    assert row is not None
    return int(row[0]), int(row[1])


def _ms(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def disturb(
    cluster: PostgresCluster,
    seconds: float,
    hold: float,
    outage: bool,
    freeze: bool,
    stop: threading.Event,
    events: list[Event],
) -> None:
    """Stop/start the cluster at 1/3 of the run and freeze/thaw it at 2/3."""
    t0 = time.monotonic()
    plan: list[tuple[float, str, Callable[[], Callable[[], None]]]] = []
    if outage:

        def stop_start() -> Callable[[], None]:
            cluster.stop()
            return cluster.start

        plan.append((seconds / 3, "outage (pg_ctl stop -m fast, then start)", stop_start))
    if freeze:

        def freeze_thaw() -> Callable[[], None]:
            pids = cluster.freeze()
            return lambda: cluster.thaw(pids)

        plan.append((2 * seconds / 3, "freeze (SIGSTOP server and backends, then SIGCONT)",
                     freeze_thaw))  # fmt: skip
    for at, name, begin in plan:
        if stop.wait(max(0.0, t0 + at - time.monotonic())):
            return
        event = Event(name, time.monotonic())
        undo = begin()
        try:
            stop.wait(hold)
        finally:
            undo()
            event.end = time.monotonic()
            events.append(event)


def run_one(server: str, args: argparse.Namespace, work: Path) -> Run:
    spool = work / f"{server}-spool.jsonl"
    log = work / f"{server}-server.log"
    cluster: PostgresCluster | None = None
    if args.postgres:
        cluster = PostgresCluster(fsync=True)
        cluster.start()
        store_url = cluster.url
    else:
        store_url = str(work / f"{server}-receipts.sqlite3")
    try:
        stop = threading.Event()
        tallies = [Tally() for _ in range(args.concurrency)]
        events: list[Event] = []
        with server_process(server, store_url, spool, log, args.retry_interval) as (port, _):
            threads = [
                threading.Thread(
                    target=visitor, args=(port, stop, tally, number, args.consent_share)
                )
                for number, tally in enumerate(tallies)
            ]
            disturber = None
            if cluster is not None and (args.outage or args.freeze):
                disturber = threading.Thread(
                    target=disturb,
                    args=(cluster, args.seconds, args.hold, args.outage, args.freeze, stop, events),
                )
            started = time.monotonic()
            for thread in threads:
                thread.start()
            if disturber is not None:
                disturber.start()
            try:
                stop.wait(args.seconds)
            finally:
                stop.set()
                if disturber is not None:
                    disturber.join()
                for thread in threads:
                    thread.join()
            elapsed = time.monotonic() - started
        # The server is stopped: what it left is in the database or the spool.
        primary = PostgresStore(store_url) if cluster is not None else SQLiteStore(store_url)
        spooled_store = SpooledStore(primary, spool)
        stored_before, _ = count_stored(store_url)
        spooled_before = len(spooled_store.spooled())
        replayed = spooled_store.replay()
        stored, distinct = count_stored(store_url)
        spooled = len(spooled_store.spooled())
        quarantined = len(spooled_store.quarantined())
        spooled_store.close()
    finally:
        if cluster is not None:
            cluster.remove()
    server_log = log.read_text(errors="replace")
    server_errors = [line for line in server_log.splitlines() if "Traceback" in line]
    replayed_live = sum(int(n) for n in re.findall(r"replayed (\d+) receipt", server_log))
    pages = sum(t.pages for t in tallies)
    consents = sum(t.consents for t in tallies)
    page_latency = [x for t in tallies for x in t.page_latency]
    consent_latency = [x for t in tallies for x in t.consent_latency]
    in_events = {
        event.name.split(" ")[0]: 1000
        * max(
            (
                took
                for start, took in consent_latency
                if event.start <= start + took and start <= event.end
            ),
            default=0.0,
        )
        for event in events
    }
    return Run(
        server=server,
        store="postgresql" if cluster is not None else "sqlite",
        seconds=elapsed,
        pages=pages,
        consents=consents,
        errors=[e for t in tallies for e in t.errors],
        server_errors=server_errors,
        stored_before_replay=stored_before,
        spooled_before_replay=spooled_before,
        replayed=replayed,
        replayed_live=replayed_live,
        # A write cut short by the client's deadline may still commit once the server
        # resumes: then the receipt is in both places and the replay skips it.
        overlap=spooled_before - (distinct - stored_before),
        stored=distinct,
        duplicates=stored - distinct,
        spooled=spooled,
        quarantined=quarantined,
        page_p50_ms=_ms(page_latency, 0.5),
        page_p99_ms=_ms(page_latency, 0.99),
        consent_p50_ms=_ms([took for _, took in consent_latency], 0.5),
        consent_p99_ms=_ms([took for _, took in consent_latency], 0.99),
        consent_max_ms=_ms([took for _, took in consent_latency], 1.0),
        consent_max_in_events_ms=in_events,
        events=events,
    )


def report(run: Run) -> None:
    """The figures of one run, as lines on stdout."""
    rate = (run.pages + run.consents) / run.seconds if run.seconds else 0.0
    consent = run.consent_p50_ms, run.consent_p99_ms, run.consent_max_ms
    lines = [
        f"== {run.server} + {run.store}: {run.seconds:.1f} s, {rate:.0f} requests/s",
        f"page views     {run.pages:>7}   p50 {run.page_p50_ms:6.1f} ms"
        f"   p99 {run.page_p99_ms:6.1f} ms",
        f"consent POSTs  {run.consents:>7}   p50 {consent[0]:6.1f} ms"
        f"   p99 {consent[1]:6.1f} ms   max {consent[2]:6.1f} ms",
    ]
    for event in run.events:
        slowest = run.consent_max_in_events_ms.get(event.name.split(" ")[0], 0.0)
        lines.append(
            f"event          {event.name}: {event.end - event.start:.1f} s;"
            f" slowest consent POST overlapping it {slowest:.0f} ms"
        )
    lines += [
        f"receipts       sent {run.consents}; spooled and replayed by the server during the"
        f" run {run.replayed_live}; when the load stopped: stored"
        f" {run.stored_before_replay}, spooled {run.spooled_before_replay}"
        f" ({run.overlap} of them already stored: timed out after the server had the row)",
        f"               after the final replay: stored {run.stored}, spooled {run.spooled},"
        f" quarantined {run.quarantined}, duplicates {run.duplicates}, lost {run.lost}",
        f"errors         {len(run.errors)} client, {len(run.server_errors)} server tracebacks",
        *(f"               {run.errors.count(e)} x {e}" for e in sorted(set(run.errors))[:10]),
        f"verdict        {'OK' if run.ok else 'FAILED'}",
    ]
    print("\n" + "\n".join(lines), flush=True)


# -- the flood (issue 23) -------------------------------------------------------------------

FLOODER = "127.0.0.2"
#: Pipelined requests per write: the offered rate is reached with few system calls.
_FLOOD_BATCH = 50


@dataclass
class FloodTally:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _consent_request(port: int, cookie: str = "") -> bytes:
    body = b'{"action": "accept_all"}'
    lines = [
        "POST /_cookieguard/consent HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        "Sec-Fetch-Site: same-origin",
        "User-Agent: flood/1.0 " + "x" * 180,  # the longest user agent a receipt keeps
        *([f"Cookie: {cookie}"] if cookie else []),
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


def flooder(port: int, stop: threading.Event, tally: FloodTally, rate: float, cookie: str) -> None:
    """Pipelined consent POSTs from 127.0.0.2 at ``rate`` a second until ``stop``."""
    batch = _consent_request(port, cookie) * _FLOOD_BATCH
    next_at = time.monotonic()
    sock: socket.socket | None = None
    while not stop.is_set():
        try:
            if sock is None:
                sock = socket.create_connection(
                    ("127.0.0.1", port), timeout=CLIENT_TIMEOUT, source_address=(FLOODER, 0)
                )
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(batch)
            tally.sent += _FLOOD_BATCH
            seen = 0
            data = b""
            while seen < _FLOOD_BATCH:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    raise OSError("connection closed by the server")
                data += chunk
                start = 0
                while True:
                    at = data.find(b"HTTP/1.1 ", start)
                    if at < 0 or at + 12 > len(data):
                        break
                    status = int(data[at + 9 : at + 12])
                    tally.statuses[status] = tally.statuses.get(status, 0) + 1
                    seen += 1
                    start = at + 12
                data = data[start:]
        except (OSError, ValueError) as exc:
            tally.errors.append(f"flood: {type(exc).__name__}: {exc}")
            if sock is not None:
                sock.close()
            sock = None
        next_at += _FLOOD_BATCH / rate
        pause = next_at - time.monotonic()
        if pause > 0:
            stop.wait(pause)
        else:
            next_at = time.monotonic()  # behind: the server is the limit, not the pacing
    if sock is not None:
        sock.close()


@dataclass
class Visitor:
    address: str
    consent_id: str = ""
    choices: list[tuple[str, ...]] = field(default_factory=list)  # answered 200, in order
    errors: list[str] = field(default_factory=list)


def real_visitor(port: int, stop: threading.Event, visitor: Visitor) -> None:
    """A first choice, then a change every second (accept all / reject all, alternating)."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=CLIENT_TIMEOUT, source_address=(visitor.address, 0)
    )
    cookie = ""
    accept = True
    while not stop.is_set():
        body = json.dumps({"action": "accept_all" if accept else "reject_all"})
        headers = {"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}
        if cookie:
            headers["Cookie"] = cookie
        try:
            conn.request("POST", "/_cookieguard/consent", body, headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as exc:
            visitor.errors.append(f"visitor: {type(exc).__name__}: {exc}")
            conn.close()
            stop.wait(1.0)
            continue
        if response.status != 200:
            visitor.errors.append(f"visitor POST -> {response.status}")
        else:
            state = json.loads(answer)
            visitor.consent_id = state["consent_id"]
            granted = tuple(sorted(c for c, on in state["categories"].items() if on))
            visitor.choices.append(tuple(c for c in granted if c != "necessary"))
            for name, value in response.getheaders():
                if name.lower() == "set-cookie" and value.startswith("cookie_consent="):
                    cookie = value.split(";", 1)[0]
            accept = not accept
        stop.wait(1.0)
    conn.close()


def _store_bytes(*paths: Path) -> int:
    total = 0
    for path in paths:
        for suffix in ("", "-wal", "-journal", "-shm"):
            with contextlib.suppress(OSError):
                total += os.stat(str(path) + suffix).st_size
    return total


@dataclass
class FloodRun:
    server: str
    seconds: float
    offered_per_s: float
    flood_sent: int
    flood_statuses: dict[int, int]
    grown_bytes: int
    receipts: int
    flood_receipts: int
    visitor_changes: int
    visitor_missing: int
    errors: list[str]
    server_errors: list[str]
    limit_mb: float

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and not self.server_errors
            and self.visitor_missing == 0
            and self.grown_bytes <= self.limit_mb * 1e6
            and self.visitor_changes > 0
        )


def run_flood(server: str, args: argparse.Namespace, work: Path) -> FloodRun:
    from cookieguard import ConsentCodec, Policy

    store_url = str(work / f"{server}-flood.sqlite3")
    spool = work / f"{server}-flood-spool.jsonl"
    log = work / f"{server}-flood-server.log"
    # A cookie signed an hour ago holding "accept all": what a flooder replays to look like
    # a returning visitor repeating a choice.
    policy = Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None)
    old = ConsentCodec(policy).dumps(
        set(policy.optional_categories), "flood-old-cookie-0001", now=time.time() - 3600
    )
    stop = threading.Event()
    fresh, replayed = FloodTally(), FloodTally()
    visitors = [Visitor(f"127.0.0.{10 + n}") for n in range(args.visitors)]
    with server_process(server, store_url, spool, log, args.retry_interval, "flood") as (port, _):
        before = _store_bytes(Path(store_url), spool)
        threads = [
            threading.Thread(target=flooder, args=(port, stop, fresh, args.flood_rate / 2, "")),
            threading.Thread(
                target=flooder,
                args=(port, stop, replayed, args.flood_rate / 2, f"cookie_consent={old}"),
            ),
            *(threading.Thread(target=real_visitor, args=(port, stop, v)) for v in visitors),
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        try:
            stop.wait(args.seconds)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        elapsed = time.monotonic() - started
    grown = _store_bytes(Path(store_url), spool) - before
    lite = sqlite3.connect(store_url)
    try:
        rows = lite.execute(
            "SELECT consent_id, granted FROM receipts ORDER BY time, rowid"
        ).fetchall()
    finally:
        lite.close()
    by_id: dict[str, list[tuple[str, ...]]] = {}
    for consent_id, granted in rows:
        names = json.loads(granted) if granted.startswith("[") else granted.split()
        by_id.setdefault(consent_id, []).append(tuple(sorted(names)))
    missing = 0
    for visitor in visitors:
        kept = by_id.get(visitor.consent_id, [])
        # Every answer alternated the choice: each one is a change and must be stored, once.
        if kept != visitor.choices:
            missing += max(1, len(visitor.choices) - len(kept))
    real = {v.consent_id for v in visitors}
    server_log = log.read_text(errors="replace")
    return FloodRun(
        server=server,
        seconds=elapsed,
        offered_per_s=(fresh.sent + replayed.sent) / elapsed,
        flood_sent=fresh.sent + replayed.sent,
        flood_statuses={
            code: fresh.statuses.get(code, 0) + replayed.statuses.get(code, 0)
            for code in sorted(set(fresh.statuses) | set(replayed.statuses))
        },
        grown_bytes=grown,
        receipts=len(rows),
        flood_receipts=sum(len(kept) for cid, kept in by_id.items() if cid not in real),
        visitor_changes=sum(len(v.choices) for v in visitors),
        visitor_missing=missing,
        errors=fresh.errors[:5] + replayed.errors[:5] + [e for v in visitors for e in v.errors],
        server_errors=[line for line in server_log.splitlines() if "Traceback" in line],
        limit_mb=args.flood_max_mb,
    )


def report_flood(run: FloodRun) -> None:
    answered = sum(run.flood_statuses.values())
    lines = [
        f"== {run.server} + sqlite, flood: {run.seconds:.1f} s",
        f"flood          {run.flood_sent} POSTs sent from {FLOODER}"
        f" ({run.offered_per_s:,.0f}/s offered, {answered / run.seconds:,.0f}/s answered):"
        + "".join(f" {code} x {n}" for code, n in run.flood_statuses.items()),
        f"store          grew {run.grown_bytes / 1e6:.2f} MB (limit {run.limit_mb:g} MB);"
        f" {run.receipts} receipts, {run.flood_receipts} of them the flood's",
        f"real visitors  {run.visitor_changes} choices answered, {run.visitor_missing} not"
        " stored as made",
        f"errors         {len(run.errors)} client, {len(run.server_errors)} server tracebacks",
        *(f"               {e}" for e in run.errors[:10]),
        f"verdict        {'OK' if run.ok else 'FAILED'}",
    ]
    print("\n" + "\n".join(lines), flush=True)


def inprocess_flood(requests: int, work: Path) -> dict[str, Any]:
    """The same flood without sockets (the WSGI middleware called directly), to offer what one
    loopback server cannot take on this machine: ``requests`` POSTs from one address, half
    with new consent ids and half replaying an hour-old cookie, with a real visitor (another
    address) changing their choice every 500th request."""
    import io

    from cookieguard import ConsentCodec, Policy
    from cookieguard.receipts import open_store
    from cookieguard.wsgi import ConsentMiddleware

    path = work / "inprocess-flood.sqlite3"
    store = open_store(str(path))
    policy = Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None)

    def page(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    app = ConsentMiddleware(page, policy, receipts=store)
    old = ConsentCodec(policy).dumps(
        set(policy.optional_categories), "flood-old-cookie-0002", now=time.time() - 3600
    )
    statuses: dict[str, int] = {}

    def post(address: str, action: str, cookie: str = "") -> tuple[str, list[tuple[str, str]]]:
        body = json.dumps({"action": action}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/_cookieguard/consent",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": address,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_USER_AGENT": "flood/1.0 " + "x" * 180,
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }
        if cookie:
            environ["HTTP_COOKIE"] = cookie
        answer: list[Any] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            answer.extend((status, headers))
            return answer.append

        b"".join(app(environ, start_response))
        return answer[0], answer[1]

    store.history("warm-up-consent-id")  # the file exists before it is measured
    before = _store_bytes(path, Path(str(path) + ".spool.jsonl"))
    visitor_cookie, accept, choices = "", True, 0
    started = time.perf_counter()
    for n in range(requests):
        if n % 500 == 0:
            status, headers = post("192.0.2.7", "accept_all" if accept else "reject_all",
                                   visitor_cookie)  # fmt: skip
            if status.startswith("200"):
                choices += 1
                accept = not accept
                visitor_cookie = next(
                    v.split(";", 1)[0]
                    for k, v in headers
                    if k.lower() == "set-cookie" and v.startswith("cookie_consent=")
                )
        status, _ = post(FLOODER, "accept_all", "" if n % 2 else f"cookie_consent={old}")
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1
    seconds = time.perf_counter() - started
    store.close()
    grown = _store_bytes(path, Path(str(path) + ".spool.jsonl")) - before
    consent_id = (
        ConsentCodec(policy).loads(visitor_cookie.split("=", 1)[1]).consent.id
        if visitor_cookie
        else None
    )
    lite = sqlite3.connect(str(path))
    try:
        (total,) = lite.execute("SELECT count(*) FROM receipts").fetchone()
        (visitor,) = lite.execute(
            "SELECT count(*) FROM receipts WHERE consent_id = ?", (consent_id,)
        ).fetchone()
    finally:
        lite.close()
    return {
        "requests": requests,
        "per_second": requests / seconds,
        "statuses": statuses,
        "grown_bytes": grown,
        "receipts": total,
        "visitor_choices": choices,
        "visitor_receipts": visitor,
    }


def flood_main(servers: list[str], args: argparse.Namespace) -> int:
    runs = []
    with tempfile.TemporaryDirectory(prefix="cookieguard-flood-") as work:
        for server in servers:
            run = run_flood(server, args, Path(work))
            report_flood(run)
            runs.append(run)
        # Five seconds' worth of the offered flood (at most): CPU-bound, it takes longer.
        direct = inprocess_flood(int(args.flood_rate * min(args.seconds, 5)), Path(work))
    print(
        f"\n== in process (WSGI middleware called directly), flood:"
        f" {direct['requests']} POSTs from one address at {direct['per_second']:,.0f}/s:"
        + "".join(f" {code} x {n}" for code, n in sorted(direct["statuses"].items()))
        + f"\nstore          grew {direct['grown_bytes'] / 1e6:.2f} MB;"
        f" {direct['receipts']} receipts"
        f"\nreal visitor   {direct['visitor_choices']} changes answered,"
        f" {direct['visitor_receipts']} stored",
        flush=True,
    )
    if args.json:
        print(json.dumps({"servers": [vars(run) for run in runs], "inprocess": direct}, indent=2))
    ok = all(run.ok for run in runs) and (
        direct["visitor_receipts"] == direct["visitor_choices"]
        and direct["grown_bytes"] <= args.flood_max_mb * 1e6
    )
    print(f"\n{len(runs)} server(s) flooded: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per server (default 60)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="uvicorn,waitress")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (8)")
    add = parser.add_argument
    add("--consent-share", type=float, default=0.25, help="share of consent POSTs (0.25)")
    add("--postgres", action="store_true", help="receipts in a throwaway PostgreSQL")
    add("--outage", action="store_true", help="stop/start PostgreSQL at 1/3 of the run")
    add("--freeze", action="store_true", help="SIGSTOP/SIGCONT PostgreSQL at 2/3 of the run")
    add("--hold", type=float, default=5.0, help="seconds each outage/freeze lasts (5)")
    add("--retry-interval", type=float, default=5.0, help="server's spool retry interval (5)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    add("--flood", action="store_true", help="the abuse scenario instead (see above)")
    add("--flood-rate", type=float, default=10_000, help="flood POSTs offered a second (10000)")
    add("--visitors", type=int, default=4, help="real visitors during the flood (4)")
    add("--flood-max-mb", type=float, default=5.0, help="allowed store growth, MB (5)")
    parser.add_argument("--serve", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        server, port, store_url, spool, retry, mode = args.serve
        serve(server, int(port), store_url, spool, float(retry), mode)
        return 0
    servers = [name.strip() for name in args.servers.split(",") if name.strip()]
    if not servers or any(name not in SERVERS for name in servers):
        parser.error(f"--servers must name some of {', '.join(SERVERS)}")
    if (args.outage or args.freeze) and not args.postgres:
        parser.error("--outage and --freeze need --postgres")
    if not 1 <= args.concurrency <= 256 or not 1 <= args.seconds <= 3600:
        parser.error("--concurrency must be 1-256 and --seconds 1-3600")
    if args.hold * 2 + 2 > args.seconds and (args.outage or args.freeze):
        parser.error("--seconds is too short for the outage/freeze --hold")
    if args.flood:
        if args.postgres:
            parser.error("--flood measures the SQLite store and its spool on this machine")
        if not 1 <= args.visitors <= 200 or not 1 <= args.flood_rate <= 1_000_000:
            parser.error("--visitors must be 1-200 and --flood-rate 1-1000000")
        return flood_main(servers, args)
    runs = []
    with tempfile.TemporaryDirectory(prefix="cookieguard-load-") as work:
        for server in servers:
            run = run_one(server, args, Path(work))
            report(run)
            runs.append(run)
    if args.json:
        figures = [
            {**vars(run), "events": [vars(e) for e in run.events], "lost": run.lost} for run in runs
        ]
        print(json.dumps(figures, indent=2))
    errors = sum(len(run.errors) + len(run.server_errors) for run in runs)
    lost = sum(run.lost for run in runs)
    duplicates = sum(run.duplicates for run in runs)
    ok = all(run.ok for run in runs)
    print(
        f"\n{len(runs)} server(s): {errors} errors, {lost} lost receipts,"
        f" {duplicates} duplicates: {'OK' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
