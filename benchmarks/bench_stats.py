"""How long ``cookieguard stats --json`` takes on a big receipts store (issue 22).

    python benchmarks/bench_stats.py [--pg-rows 10000000] [--sqlite-rows 1000000] [--runs 3]

Seeds PostgreSQL (a temporary private cluster) with ``--pg-rows`` receipts and a SQLite file
with ``--sqlite-rows``, spread over the last 90 days: 95 % first choices (50 % Accept all,
30 % Reject all, 20 % custom), 5 % later withdrawals, six languages, seven regions,
revision 3 then 4.
PostgreSQL is seeded by one ``INSERT ... SELECT generate_series`` with the counting trigger
disabled (indexes built after the load) and the counts then built by the same statement
the store uses for receipts kept before its statistics existed (timed and printed); SQLite
is seeded through the trigger, as a site's inserts are.
Then it runs the real command, ``cookieguard stats --json --since 90d --by day``, in a new
process ``--runs`` times and prints the wall time and the child's peak memory. Targets:
PostgreSQL <= 2 s, SQLite <= 3 s, memory flat (about the same as an empty store).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cookieguard.receipts import PostgresStore, Receipt, SQLiteStore  # noqa: E402
from cookieguard.receipts import _postgres as pg  # noqa: E402
from cookieguard.receipts._pgcluster import INSTALL_HINT, PostgresCluster, find_bindir  # noqa: E402

DAYS = 90
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ALL = ("analytics", "marketing", "preferences")
LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
REGIONS = ("DE", "FR", "ES", "IT", "NL", "GB", "US-CA")

# Row i (1..N) at now - 90 days + i/N of 90 days. Every 20th row is a later receipt of the
# visitor of row i - 7 (a withdrawal: Reject all); the others are first choices.
_PG_SEED = """
INSERT INTO cookieguard_receipts (receipt_id, consent_id, time, granted, denied, revision,
                                  language, region, method, path, user_agent)
SELECT md5(i::text),
       md5((CASE WHEN i %% 20 = 0 THEN i - 7 ELSE i END)::text),
       %(start)s::timestamptz + (i::float8 / %(rows)s) * interval '90 days',
       CASE WHEN i %% 20 = 0 THEN '{}'::text[]
            WHEN (i * 7919) %% 10 < 5 THEN '{analytics,marketing,preferences}'
            WHEN (i * 7919) %% 10 < 8 THEN '{}'
            WHEN (i * 7919) %% 10 = 8 THEN '{analytics}'
            ELSE '{preferences}' END,
       CASE WHEN i %% 20 = 0 THEN '{analytics,marketing,preferences}'::text[]
            WHEN (i * 7919) %% 10 < 5 THEN '{}'
            WHEN (i * 7919) %% 10 < 8 THEN '{analytics,marketing,preferences}'
            WHEN (i * 7919) %% 10 = 8 THEN '{marketing,preferences}'
            ELSE '{analytics,marketing}' END,
       CASE WHEN i::float8 / %(rows)s < 0.66 THEN 3 ELSE 4 END,
       (ARRAY['en','de','fr','es','it','nl'])[1 + (i * 31) %% 6],
       (ARRAY['DE','FR','ES','IT','NL','GB','US-CA'])[1 + (i * 17) %% 7],
       'banner', '/', %(ua)s
FROM generate_series(1::bigint, %(rows)s) AS i
"""


def _choice(i: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if i % 20 == 0:
        return (), ALL
    kind = (i * 7919) % 10
    if kind < 5:
        return ALL, ()
    if kind < 8:
        return (), ALL
    if kind == 8:
        return ("analytics",), ("marketing", "preferences")
    return ("preferences",), ("analytics", "marketing")


def seed_sqlite(path: str, rows: int, start: datetime) -> float:
    store = SQLiteStore(path)
    began = time.perf_counter()
    batch: list[Receipt] = []
    for i in range(1, rows + 1):
        granted, denied = _choice(i)
        batch.append(
            Receipt(
                consent_id=f"visitor-{i - 7 if i % 20 == 0 else i:09d}",
                time=start + timedelta(days=DAYS * i / rows),
                granted=granted,
                denied=denied,
                revision=3 if i / rows < 0.66 else 4,
                language=LANGUAGES[(i * 31) % 6],
                region=REGIONS[(i * 17) % 7],
                method="banner",
                path="/",
                user_agent=UA,
                receipt_id=f"r{i:09d}",
            )
        )
        if len(batch) == 50_000:
            store.record_many(batch)
            batch = []
    store.record_many(batch)
    store.close()
    return time.perf_counter() - began


def seed_postgres(url: str, rows: int, start: datetime) -> tuple[float, float]:
    """(seconds to insert the receipts, seconds to build their counts)."""
    import psycopg

    store = PostgresStore(url, statement_timeout=600)
    store._run("migrate", lambda conn: None)  # creates the schema (version 2)
    store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        began = time.perf_counter()
        # A bulk load: indexes are built once afterwards (as the migration defines them),
        # not kept up to date row by row.
        conn.execute("ALTER TABLE cookieguard_receipts DISABLE TRIGGER cookieguard_receipts_count")
        conn.execute("ALTER TABLE cookieguard_receipts DROP CONSTRAINT cookieguard_receipts_pkey")
        conn.execute("DROP INDEX cookieguard_receipts_consent_time, cookieguard_receipts_time")
        conn.execute(_PG_SEED, {"start": start, "rows": rows, "ua": UA})
        conn.execute("ALTER TABLE cookieguard_receipts ADD PRIMARY KEY (receipt_id)")
        for statement in pg._MIGRATIONS[0][1:]:
            conn.execute(statement)  # the two CREATE INDEX of schema 1
        conn.execute("ALTER TABLE cookieguard_receipts ENABLE TRIGGER cookieguard_receipts_count")
        seeded = time.perf_counter() - began
        began = time.perf_counter()
        conn.execute("SET work_mem = '256MB'")
        (upto,) = conn.execute("SELECT max(seq) FROM cookieguard_receipts").fetchone() or (0,)
        conn.execute(pg._BACKFILL, (upto,))
        conn.execute("VACUUM ANALYZE")
        counted = time.perf_counter() - began
    return seeded, counted


def run_cli(url: str, runs: int) -> tuple[list[float], int, dict[str, object]]:
    """Wall times of ``cookieguard stats --json`` in a new process, its peak RSS (KB), output."""
    command = [sys.executable, "-m", "cookieguard", "stats", "--json", "--since", "90d",
               "--by", "day", "--store", url]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    times = []
    output: dict[str, object] = {}
    peak = 0
    for _ in range(runs):
        began = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        times.append(time.perf_counter() - began)
        output = json.loads(result.stdout)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return times, peak, output


def in_process(url: str, runs: int) -> list[float]:
    """Seconds of consent_stats(...).to_dict() in this process (no interpreter start-up)."""
    from cookieguard.receipts import consent_stats, open_store

    times = []
    for _ in range(runs):
        store = open_store(url)
        began = time.perf_counter()
        json.dumps(consent_stats(store, since="90d", by="day").to_dict())
        times.append(time.perf_counter() - began)
        store.close()
    return times


def record_cost(store: SQLiteStore | PostgresStore, count: int) -> float:
    """Mean milliseconds of one record() (trigger included) on the seeded store."""
    now = datetime.now(UTC)
    began = time.perf_counter()
    salt = time.perf_counter_ns()
    for n in range(count):
        store.record(
            Receipt(consent_id=f"visitor-{(n * 13 + salt) % 10**9:09d}", time=now,
                    granted=ALL, denied=(),
                    revision=4, language="en", method="banner", path="/", user_agent=UA)
        )  # fmt: skip
    return (time.perf_counter() - began) * 1000 / count


def record_costs(url: str) -> tuple[float, float]:
    """record() in ms with and without the counting trigger, alternating rounds (noise)."""
    import psycopg

    costs: dict[bool, list[float]] = {True: [], False: []}
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(5):
            for enabled in (True, False):
                action = "ENABLE" if enabled else "DISABLE"
                conn.execute(
                    f"ALTER TABLE cookieguard_receipts {action} TRIGGER cookieguard_receipts_count"
                )
                store = PostgresStore(url)
                costs[enabled].append(record_cost(store, 200))
                store.close()
        conn.execute("ALTER TABLE cookieguard_receipts ENABLE TRIGGER cookieguard_receipts_count")
    return min(costs[True]), min(costs[False])


def sqlite_record_costs(path: str) -> tuple[float, float]:
    """As :func:`record_costs`, for SQLite (the trigger is dropped and made again)."""
    import sqlite3

    from cookieguard.receipts import _sqlite

    trigger = _sqlite._counting(region=True)[1]
    costs: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(5):
        for enabled in (True, False):
            if not enabled:
                with sqlite3.connect(path) as conn:
                    conn.execute("DROP TRIGGER receipts_count")
                conn.close()
            store = SQLiteStore(path)
            costs[enabled].append(record_cost(store, 200))
            store.close()
            if not enabled:
                with sqlite3.connect(path) as conn:
                    conn.execute(trigger)
                conn.close()
    return min(costs[True]), min(costs[False])


def report(name: str, rows: int, times: list[float], peak: int, output: dict[str, object],
           target: float) -> None:  # fmt: skip
    choices = output.get("choices") or {}
    total = choices.get("total") if isinstance(choices, dict) else None
    series = output.get("series")
    print(
        f"{name:<10} {rows:>11,} receipts: stats --json 90 days by day"
        f" median {statistics.median(times):.2f} s, best {min(times):.2f} s"
        f" (target <= {target:g} s: {'OK' if statistics.median(times) <= target else 'MISSED'}),"
        f" peak RSS {peak / 1024:.0f} MB; {total} choices, {len(series or [])} periods"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-rows", type=int, default=10_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=DAYS - 1
    )
    with tempfile.TemporaryDirectory(prefix="cookieguard-bench-stats-") as tmp:
        empty = os.path.join(tmp, "empty.sqlite3")
        SQLiteStore(empty).record_many([])
        seed_sqlite(empty, 10, start)
        times, peak, output = run_cli(empty, 1)
        print(f"baseline   10 receipts: {times[0]:.2f} s, peak RSS {peak / 1024:.0f} MB"
              " (RSS below is the peak of every run so far)")  # fmt: skip
        if args.sqlite_rows:
            path = os.path.join(tmp, "receipts.sqlite3")
            seconds = seed_sqlite(path, args.sqlite_rows, start)
            print(
                f"sqlite     seeded {args.sqlite_rows:,} receipts through the trigger"
                f" in {seconds:.1f} s"
            )
            times, peak, output = run_cli(path, args.runs)
            report("sqlite", args.sqlite_rows, times, peak, output, 3.0)
            inner = in_process(path, args.runs)
            print(f"sqlite     consent_stats() in process: median {statistics.median(inner):.3f} s")
            with_trigger, without = sqlite_record_costs(path)
            print(
                f"sqlite     record() on the seeded file: {with_trigger:.2f} ms with the counting"
                f" trigger, {without:.2f} ms without (best of 5 rounds of 200)"
            )
    if not args.pg_rows:
        return 0
    if find_bindir() is None:
        print(f"postgresql skipped: {INSTALL_HINT}")
        return 0
    with PostgresCluster(fsync=False) as cluster:
        seeded, counted = seed_postgres(cluster.url, args.pg_rows, start)
        print(
            f"postgresql seeded {args.pg_rows:,} receipts in {seeded:.1f} s (trigger off);"
            f" counts built once in {counted:.1f} s"
        )
        times, peak, output = run_cli(cluster.url, args.runs)
        report("postgresql", args.pg_rows, times, peak, output, 2.0)
        inner = in_process(cluster.url, args.runs)
        print(f"postgresql consent_stats() in process: median {statistics.median(inner):.3f} s")
        with_trigger, without = record_costs(cluster.url)
        print(
            f"postgresql record() on the seeded table: {with_trigger:.2f} ms with the counting"
            f" trigger, {without:.2f} ms without (best of 5 rounds of 200)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
