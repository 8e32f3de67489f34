"""Load test (``make load``): real servers, concurrent visitors, every receipt accounted for.

For each server (uvicorn with the ASGI middleware, waitress with the WSGI one) a server
process is started on 127.0.0.1 with a small HTML app wrapped in ``ConsentMiddleware``;
client threads then send page views and consent POSTs for ``--seconds``. With
``--postgres`` the receipts go to a throwaway PostgreSQL cluster (``PostgresCluster``),
which ``--outage`` stops and restarts and ``--freeze`` SIGSTOPs and SIGCONTs in the middle
of the run. At the end the server is stopped, the spool is replayed once more, and the
receipts are counted exactly: every consent POST answered 200 must be in the database or
the spool (or the quarantine), exactly once.

Exit status: 0 when there were no errors (transport errors, non-2xx answers, tracebacks in
the server log) and no lost or duplicated receipts; 1 otherwise; 2 for bad arguments.

    python benchmarks/load.py --seconds 60 --postgres --outage --freeze
    make load LOAD_ARGS="--seconds 60 --postgres --outage --freeze"

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


def serve(server: str, port: int, store_url: str, spool: str, retry_interval: float) -> None:
    """Run ``server`` on 127.0.0.1:``port`` until SIGINT/SIGTERM (the child process)."""
    from cookieguard import Policy
    from cookieguard.receipts import open_store

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("cookieguard.receipts").setLevel(logging.INFO)  # "replayed N receipts"
    policy = Policy(secret_keys=[SECRET], cookies=COOKIES, receipts=None)
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
    server: str, store_url: str, spool: Path, log: Path, retry_interval: float
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    command = [sys.executable, __file__, "--serve", server, str(port), store_url, str(spool),
               str(retry_interval)]  # fmt: skip
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
    parser.add_argument("--serve", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        server, port, store_url, spool, retry = args.serve
        serve(server, int(port), store_url, spool, float(retry))
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
