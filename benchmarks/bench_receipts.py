"""Receipts per second for the SQLite and PostgreSQL stores.

    python benchmarks/bench_receipts.py [--seconds 2]

Each store records receipts one by one (each durable before record() returns, as in
production: SQLite synchronous=FULL, PostgreSQL with fsync on) for a few seconds, from one
thread and from 4 threads. PostgreSQL runs in a temporary private cluster; if it is not
installed, that row is skipped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from cookieguard.receipts import PostgresStore, Receipt, ReceiptStore, SQLiteStore
from cookieguard.receipts._pgcluster import INSTALL_HINT, PostgresCluster, find_bindir


def receipt(number: int) -> Receipt:
    return Receipt(
        consent_id=f"bench-visitor-{number % 1000:06d}",
        time=datetime.now(UTC),
        granted=("preferences", "analytics"),
        denied=("marketing",),
        revision=1,
        language="en",
        method="banner",
        path="/",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    )


def measure(store: ReceiptStore, seconds: float, threads: int) -> tuple[int, float]:
    """(receipts recorded, elapsed seconds) with ``threads`` writers for ``seconds``."""
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def writer(index: int) -> None:
        number = index * 10_000_000
        while time.perf_counter() < deadline:
            store.record(receipt(number))
            number += 1
            counts[index] += 1

    start = time.perf_counter()
    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts), time.perf_counter() - start


def run(name: str, open_store: Callable[[], ReceiptStore], seconds: float) -> list[str]:
    rows = []
    for threads in (1, 4):
        store = open_store()
        store.record(receipt(0))  # schema creation and connecting are not measured
        count, elapsed = measure(store, seconds, threads)
        store.close()
        rows.append(f"{name:<12} {threads:>7} {count:>9} {elapsed:>7.2f} {count / elapsed:>11.0f}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per store and thread count")
    args = parser.parse_args()
    rows = [f"{'store':<12} {'threads':>7} {'receipts':>9} {'seconds':>7} {'receipts/s':>11}"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        rows += run("sqlite", lambda: SQLiteStore(path), args.seconds)
    if find_bindir() is None:
        rows.append(f"postgresql   skipped: {INSTALL_HINT}")
    else:
        with PostgresCluster(fsync=True) as cluster:
            rows += run("postgresql", lambda: PostgresStore(cluster.url), args.seconds)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
