"""Both stores, for real: SQLite files and a PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cookieguard.receipts import PostgresStore, Receipt, ReceiptError, SQLiteStore
from cookieguard.receipts._pgcluster import PostgresCluster
from tests.receipts._helpers import CONSENT_ID, make_receipt, raw_store, write_many

ROOT = Path(__file__).resolve().parents[2]


def count_rows(url: str) -> tuple[int, int]:
    """(rows, distinct receipt ids), read straight from the database."""
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT receipt_id) FROM cookieguard_receipts"
            ).fetchone()
    else:
        with sqlite3.connect(url) as lite:
            row = lite.execute(
                "SELECT count(*), count(DISTINCT receipt_id) FROM receipts"
            ).fetchone()
        lite.close()
    assert row is not None
    return int(row[0]), int(row[1])


def test_round_trip_keeps_every_field(store_url: str) -> None:
    store = raw_store(store_url)
    first = make_receipt(seconds=0, ip_hash="ab" * 32, method="preferences")
    second = make_receipt(seconds=5, granted=(), denied=("analytics", "marketing"), method="gpc")
    other = make_receipt("someone-else-entirely", seconds=1)
    store.record(second)  # out of order on purpose: history sorts by time
    store.record(first)
    store.record(other)
    assert store.history(CONSENT_ID) == [first, second]
    assert store.history("someone-else-entirely") == [other]
    store.close()
    # a new store on the same database (schema already there) reads the same
    again = raw_store(store_url)
    assert again.history(CONSENT_ID) == [first, second]
    again.close()


def test_times_come_back_in_utc(store_url: str) -> None:
    store = raw_store(store_url)
    local = datetime(2025, 6, 1, 16, 0, tzinfo=timezone(timedelta(hours=2)))
    store.record(make_receipt(time=local))
    (kept,) = store.history(CONSENT_ID)
    assert kept.time == datetime(2025, 6, 1, 14, 0, tzinfo=UTC)
    assert kept.time.utcoffset() == timedelta(0)
    store.close()


def test_same_receipt_twice_is_stored_once(store_url: str) -> None:
    store = raw_store(store_url)
    receipt = make_receipt()
    store.record(receipt)
    store.record(receipt)
    store.record_many([receipt, make_receipt(seconds=1)])
    assert len(store.history(CONSENT_ID)) == 2
    store.close()
    assert count_rows(store_url) == (2, 2)


def test_user_agent_is_cut(store_url: str) -> None:
    store = raw_store(store_url)
    store.record(make_receipt(user_agent="x" * 1000))
    (kept,) = store.history(CONSENT_ID)
    assert kept.user_agent == "x" * 200
    store.close()


@pytest.mark.parametrize(
    "forged",
    ["unknown-consent-id-000", "' OR '1'='1", "%", "Zq3-vis1tor_id-000%", CONSENT_ID + " ", ""],
)
def test_unknown_or_forged_consent_id_reads_nothing(store_url: str, forged: str) -> None:
    store = raw_store(store_url)
    store.record(make_receipt())
    assert store.history(forged) == []
    store.close()


def test_purge_deletes_only_older_receipts(store_url: str) -> None:
    store = raw_store(store_url)
    now = datetime.now(UTC)
    old = make_receipt(time=now - timedelta(days=400))
    edge = make_receipt(time=now - timedelta(days=10))
    new = make_receipt(time=now)
    for receipt in (old, edge, new):
        store.record(receipt)
    assert store.purge(now - timedelta(days=10)) == 1  # strictly older than the cutoff
    assert store.history(CONSENT_ID) == [edge, new]
    assert store.purge(now - timedelta(days=10)) == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        store.purge(datetime(2025, 1, 1))
    store.close()


def test_naive_time_is_refused(store_url: str) -> None:
    store = raw_store(store_url)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record(make_receipt(time=datetime(2025, 1, 1)))
    store.close()


def test_concurrent_writer_processes(store_url: str) -> None:
    """4 processes x 200 receipts into one new database: exactly 800 rows, none lost."""
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    ids = [f"writer-process-{n:02d}-xyz" for n in range(4)]
    workers = [
        context.Process(target=write_many, args=(store_url, consent_id, 200, go))
        for consent_id in ids
    ]
    for worker in workers:
        worker.start()
    go.set()  # all start together, including creating the schema
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    for worker in workers:
        worker.close()
    assert count_rows(store_url) == (800, 800)
    store = raw_store(store_url)
    for consent_id in ids:
        assert [r.revision for r in store.history(consent_id)] == list(range(200))
    store.close()


def test_kill_9_loses_no_acknowledged_receipt(store_url: str) -> None:
    """Every id printed after record() returned is in the store after SIGKILL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.receipts._helpers", store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    printed = []
    for line in child.stdout:
        printed.append(line.strip())
        if len(printed) == 60:
            break
    child.send_signal(signal.SIGKILL)
    rest, errors = child.communicate(timeout=30)
    printed += rest.split()
    assert child.returncode == -signal.SIGKILL, errors
    assert len(printed) >= 60, errors
    store = raw_store(store_url)
    kept = {receipt.receipt_id for receipt in store.history(CONSENT_ID)}
    store.close()
    assert set(printed) <= kept


def test_sqlite_pragmas_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "receipts.sqlite3"
    store = SQLiteStore(path)
    assert not path.exists()  # nothing happens before first use
    store.record(make_receipt())
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (4,)  # 3: regions, 4: stats
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(receipts)")}
    conn.close()
    assert {"receipts_consent_time", "receipts_time"} <= indexes


def test_sqlite_from_a_newer_cookieguard_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "receipts.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    store = SQLiteStore(path)
    with pytest.raises(ReceiptError, match="schema version 99, newer"):
        store.record(make_receipt())
    store.close()


def test_postgres_schema_version_and_indexes(pg_url: str) -> None:
    import psycopg

    store = PostgresStore(pg_url)
    store.record(make_receipt())
    store.close()
    with psycopg.connect(pg_url) as conn:
        version = conn.execute(
            "SELECT value FROM cookieguard_meta WHERE key = 'schema_version'"
        ).fetchone()
        indexes = {
            row[0]
            for row in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'cookieguard_receipts'"
            )
        }
    assert version == ("4",)  # 2: statistics, 3: regions, 4: statistics by region
    assert {"cookieguard_receipts_consent_time", "cookieguard_receipts_time"} <= indexes


def test_postgres_reconnects_after_a_restart(pg_cluster: PostgresCluster, pg_url: str) -> None:
    store = PostgresStore(pg_url)
    store.record(make_receipt(seconds=0))
    pg_cluster.stop()
    try:
        with pytest.raises(ReceiptError, match="cannot record PostgreSQL receipts"):
            store.record(make_receipt(seconds=1))
    finally:
        pg_cluster.start()
    store.record(make_receipt(seconds=2))  # the dead pooled connection is replaced
    assert [r.time.second for r in store.history(CONSENT_ID)] == [0, 2]
    store.close()


def test_missing_psycopg_says_how_to_install(tmp_path: Path) -> None:
    # A child interpreter where importing psycopg fails, as on an install without the extra.
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from cookieguard.receipts import PostgresStore, open_store\n"
        f"open_store({str(tmp_path / 'ok.sqlite3')!r})  # SQLite needs no psycopg\n"
        "PostgresStore('postgresql://localhost/x')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert result.returncode == 1
    assert "pip install 'cookieguard[postgres]'" in result.stderr


def test_receipt_ids_are_unique_by_default() -> None:
    ids = {make_receipt().receipt_id for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(receipt_id) == 32 for receipt_id in ids)


def test_receipt_checks(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "r.sqlite3")
    bad: list[Receipt] = [
        make_receipt(consent_id=""),
        make_receipt(method="email"),
        make_receipt(receipt_id=""),
    ]
    for receipt in bad:
        with pytest.raises(ValueError):
            store.record(receipt)
    store.close()
