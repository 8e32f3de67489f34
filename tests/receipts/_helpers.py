"""Receipt factories and the bodies of worker processes (importable by spawned children)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from typing import Any

from cookieguard.receipts import PostgresStore, Receipt, SQLiteStore
from cookieguard.receipts._open import is_postgres_url

CONSENT_ID = "Zq3-vis1tor_id-0001"


def make_receipt(consent_id: str = CONSENT_ID, *, seconds: float = 0, **fields: Any) -> Receipt:
    """A plausible receipt, ``seconds`` after a fixed moment."""
    values: dict[str, Any] = {
        "consent_id": consent_id,
        "time": datetime(2025, 3, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=seconds),
        "granted": ("preferences", "analytics"),
        "denied": ("marketing",),
        "revision": 3,
        "language": "de",
        "method": "banner",
        "path": "/photos?p=1",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    }
    values.update(fields)
    return Receipt(**values)


def raw_store(url: str) -> SQLiteStore | PostgresStore:
    """The store named by ``url`` without a spool: failures raise, as these tests want."""
    return PostgresStore(url) if is_postgres_url(url) else SQLiteStore(url)


def write_many(url: str, consent_id: str, count: int, go: Event) -> None:
    """Worker process: wait for ``go``, then record ``count`` receipts one by one."""
    store = raw_store(url)
    try:
        go.wait(30)
        for number in range(count):
            store.record(make_receipt(consent_id, seconds=number, revision=number))
    finally:
        store.close()


def write_until_killed(url: str) -> None:
    """Record receipts forever, printing each id only after record() has returned."""
    store = raw_store(url)
    number = 0
    while True:
        receipt = make_receipt(seconds=number)
        store.record(receipt)
        print(receipt.receipt_id, flush=True)
        number += 1


if __name__ == "__main__":
    write_until_killed(sys.argv[1])
