"""The spool: receipts survive a store outage and are replayed once, in order."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cookieguard.receipts import (
    ReceiptError,
    SpooledStore,
    SQLiteStore,
    open_store,
)
from cookieguard.receipts._pgcluster import PostgresCluster
from tests.receipts._helpers import CONSENT_ID, make_receipt
from tests.receipts.test_stores import count_rows


def warnings_from(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "cookieguard.receipts" and record.levelno == level
    ]


def test_postgres_outage_then_replay_exactly_once(
    pg_cluster: PostgresCluster, pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cookieguard.receipts")
    spool = tmp_path / "spool.jsonl"
    store = open_store(pg_url, spool_path=spool, retry_interval=0)
    receipts = [make_receipt(seconds=n) for n in range(8)]
    store.record(receipts[0])
    pg_cluster.stop()
    try:
        for receipt in receipts[1:6]:
            store.record(receipt)  # returns normally: the visitor's choice is kept
        (warning,) = warnings_from(caplog)
        assert "Connection refused" in warning and str(spool) in warning
        assert isinstance(store, SpooledStore)
        assert store.spooled() == receipts[1:6]
        with pytest.raises(ReceiptError):
            store.history(CONSENT_ID)
    finally:
        pg_cluster.start()
    store.record(receipts[6])  # queues behind the spool, then the spool is replayed
    assert spool.stat().st_size == 0
    store.record(receipts[7])
    assert store.history(CONSENT_ID) == receipts
    assert count_rows(pg_url) == (8, 8)
    assert len(warnings_from(caplog)) == 1
    assert any("replayed 6 receipt(s)" in m for m in warnings_from(caplog, logging.INFO))
    store.close()


def blocked_sqlite(tmp_path: Path) -> tuple[Path, Path]:
    """A SQLite path under a regular file (unwritable even for root), and that file."""
    blocker = tmp_path / "data"
    blocker.write_text("a file where a directory should be")
    return blocker / "receipts.sqlite3", blocker


def unblock(blocker: Path) -> None:
    blocker.unlink()
    blocker.mkdir()


def test_unwritable_path_spools_with_a_clear_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, _ = blocked_sqlite(tmp_path)
    spool = tmp_path / "spool.jsonl"
    store = open_store(str(path), spool_path=spool)
    receipt = make_receipt()
    store.record(receipt)
    store.record(make_receipt(seconds=1))
    (warning,) = warnings_from(caplog)
    assert "unable to open database file" in warning
    assert str(path) in warning and str(spool) in warning
    lines = spool.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["receipt_id"] == receipt.receipt_id
    store.close()


@pytest.fixture
def read_only(tmp_path: Path) -> Path:
    """A SQLite receipts file holding one receipt that this process cannot write."""
    path = tmp_path / "ro" / "receipts.sqlite3"
    path.parent.mkdir()
    store = SQLiteStore(path)
    store.record(make_receipt(seconds=-1))
    store.close()
    if os.geteuid() != 0:
        path.chmod(0o444)
        return path
    # Permissions do not stop root; the immutable attribute does, where it is allowed.
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("running as root and cannot make a file immutable (chattr +i) here")
    return path


@pytest.fixture
def read_only_cleanup(read_only: Path) -> Iterator[Path]:
    yield read_only
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(read_only)], check=True)


def test_read_only_sqlite_file_spools_with_a_clear_warning(
    read_only_cleanup: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = read_only_cleanup
    spool = tmp_path / "spool.jsonl"
    store = open_store(f"sqlite:///{path}", spool_path=spool)
    receipt = make_receipt()
    store.record(receipt)
    (warning,) = warnings_from(caplog)
    assert "readonly database" in warning and str(spool) in warning
    assert isinstance(store, SpooledStore)
    assert store.spooled() == [receipt]
    store.close()


def test_spool_failure_raises_receipt_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, blocker = blocked_sqlite(tmp_path)
    store = open_store(str(path), spool_path=blocker / "spool.jsonl")
    receipt = make_receipt()
    with pytest.raises(ReceiptError, match="not kept"):
        store.record(receipt)
    (error,) = warnings_from(caplog, logging.ERROR)
    assert receipt.consent_id in error and "NOT kept" in error
    store.close()


def test_replay_waits_for_the_retry_interval_and_keeps_order(tmp_path: Path) -> None:
    path, blocker = blocked_sqlite(tmp_path)
    store = SpooledStore(SQLiteStore(path), tmp_path / "spool.jsonl", retry_interval=3600)
    receipts = [make_receipt(seconds=n) for n in range(4)]
    store.record(receipts[0])  # fails: spooled
    unblock(blocker)
    # The store works again, but the next try is an hour away: queue behind the others.
    store.record(receipts[1])
    assert store.spooled() == receipts[:2]
    assert store.history(CONSENT_ID) == receipts[:2]  # spooled receipts are visible
    assert store.replay() == 2
    store.record(receipts[2])
    store.record(receipts[3])
    assert store.spooled() == []
    assert store.history(CONSENT_ID) == receipts
    store.close()


def test_leftover_spool_is_replayed_by_the_next_process(tmp_path: Path) -> None:
    path, blocker = blocked_sqlite(tmp_path)
    spool = tmp_path / "spool.jsonl"
    first = open_store(str(path), spool_path=spool)
    receipts = [make_receipt(seconds=n) for n in range(3)]
    first.record(receipts[0])
    first.record(receipts[1])
    first.close()
    unblock(blocker)
    second = open_store(str(path), spool_path=spool)  # e.g. after a restart
    second.record(receipts[2])
    assert spool.stat().st_size == 0
    assert second.history(CONSENT_ID) == receipts
    second.close()


def test_death_mid_replay_leaves_no_duplicates_and_no_gaps(tmp_path: Path) -> None:
    path, blocker = blocked_sqlite(tmp_path)
    spool = tmp_path / "spool.jsonl"
    receipts = [make_receipt(seconds=n) for n in range(6)]
    store = SpooledStore(SQLiteStore(path), spool, retry_interval=0)
    for receipt in receipts[:5]:
        store.record(receipt)
    unblock(blocker)
    # What a replay killed after committing three receipts, before truncating, leaves:
    primary = SQLiteStore(path)
    primary.record_many(receipts[:3])
    primary.close()
    assert len(spool.read_text().splitlines()) == 5
    store.record(receipts[5])
    assert store.history(CONSENT_ID) == receipts
    assert count_rows(str(path)) == (6, 6)
    store.close()


def test_torn_last_line_is_skipped_and_later_receipts_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, blocker = blocked_sqlite(tmp_path)
    spool = tmp_path / "spool.jsonl"
    store = SpooledStore(SQLiteStore(path), spool, retry_interval=0)
    kept = make_receipt(seconds=0)
    store.record(kept)
    with spool.open("a") as file:  # a write cut short by kill -9: never acknowledged
        file.write('{"receipt_id": "abc", "consent_')
    later = make_receipt(seconds=2)
    store.record(later)
    unblock(blocker)
    store.record(make_receipt(seconds=3))
    assert [r.time.second for r in store.history(CONSENT_ID)] == [0, 2, 3]
    assert any("unreadable line 2" in m for m in warnings_from(caplog))
    store.close()


def test_default_spool_sits_next_to_the_sqlite_file(tmp_path: Path) -> None:
    path, _ = blocked_sqlite(tmp_path)
    store = open_store(str(tmp_path / "receipts.sqlite3"))
    assert isinstance(store, SpooledStore)
    assert store.spool_path == str(tmp_path / "receipts.sqlite3.spool.jsonl")
    store.close()
    pg = open_store("postgresql://localhost/x")
    assert isinstance(pg, SpooledStore)
    assert pg.spool_path == os.path.abspath("cookieguard-spool.jsonl")
    pg.close()
    with pytest.raises(ValueError, match="unsupported receipts store 'mysql://'"):
        open_store("mysql://localhost/x")
    assert not path.parent.is_dir() and not os.path.exists("cookieguard-spool.jsonl")
