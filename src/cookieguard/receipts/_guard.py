"""Which consent receipts get written: one per change of choice, and a size guard.

Every consent POST used to write a receipt (about 2.6 KB): one client repeating its choice
could fill the disk. :class:`ReceiptGuard` sits between the consent endpoint and the store:

- a POST whose visitor's signed cookie already holds the very choice it makes (same granted
  categories; a decided cookie has the current revision) is a *repeat*. A repeat writes
  nothing when the cookie was issued within ``repeat_window`` seconds, or when this process
  wrote that choice for that consent id within the window (an old cookie replayed in a loop);
  the first receipt is the proof. Anything else, a changed choice or a first choice, is
  always written. The cookie, not a memory of this process, says what the visitor chose last,
  so several worker processes cannot lose a change between them;
- past ``max_bytes`` (the SQLite file with its journal, and the local spool) no repeat is
  written, whatever its age, and an error is logged every ten minutes; changes and first
  choices still are. The visitor's cookie is set either way.

First choices of new consent ids are bounded per client address by the endpoint's rate limit
(``cookieguard.site._limits``), so past the guard the store grows only by what visitors
really decide.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from datetime import datetime

from cookieguard.receipts._model import Receipt, ReceiptStore

logger = logging.getLogger("cookieguard.receipts")

#: Consent ids whose last written choice is remembered (about 200 bytes each).
MEMO_SIZE = 65_536
#: Seconds between two measurements of the store's size.
MEASURE_EVERY = 30.0
#: Seconds between two "over the size guard" log lines.
LOG_EVERY = 600.0

_Choice = tuple[tuple[str, ...], int]


def _choice(receipt: Receipt) -> _Choice:
    return (tuple(sorted(receipt.granted)), receipt.revision)


class ReceiptGuard:
    """Writes consent receipts to ``store``, leaving out repeats (see the module)."""

    def __init__(
        self,
        store: ReceiptStore,
        *,
        repeat_window: float = 600,
        max_bytes: int | None = 1 << 30,
    ) -> None:
        self.store = store
        self.repeat_window = repeat_window
        self.max_bytes = max_bytes
        self.skipped = 0  # repeats not written (for tests and benchmarks)
        self._last: OrderedDict[str, tuple[_Choice, datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self._measured_at = -MEASURE_EVERY
        self._over = False
        self._logged_at = -LOG_EVERY

    def __repr__(self) -> str:
        return f"ReceiptGuard({self.store!r})"

    def record(self, receipt: Receipt, *, repeat_of: datetime | None = None) -> bool:
        """Write ``receipt`` unless it is a repeat; return whether it was written.

        ``repeat_of``: when the visitor's signed cookie was issued, if it already holds the
        choice ``receipt`` records; ``None`` for a changed choice or a first one.
        """
        if repeat_of is not None and self._is_repeat(receipt, repeat_of):
            with self._lock:
                self.skipped += 1
            return False
        self.store.record(receipt)
        with self._lock:
            self._last[receipt.consent_id] = (_choice(receipt), receipt.time)
            self._last.move_to_end(receipt.consent_id)
            while len(self._last) > MEMO_SIZE:
                self._last.popitem(last=False)
        return True

    def _is_repeat(self, receipt: Receipt, issued: datetime) -> bool:
        if 0 <= (receipt.time - issued).total_seconds() < self.repeat_window:
            return True
        with self._lock:
            last = self._last.get(receipt.consent_id)
        if (
            last is not None
            and last[0] == _choice(receipt)
            and (receipt.time - last[1]).total_seconds() < self.repeat_window
        ):
            return True
        return self._over_limit()

    def _over_limit(self) -> bool:
        if self.max_bytes is None:
            return False
        now = time.monotonic()
        with self._lock:
            if now - self._measured_at < MEASURE_EVERY:
                return self._over
            self._measured_at = now
        size = store_bytes(self.store)
        over = size is not None and size > self.max_bytes
        with self._lock:
            self._over = over
            tell = over and now - self._logged_at >= LOG_EVERY
            if tell:
                self._logged_at = now
        if tell:
            logger.error(
                "receipts store %r holds %d MB, over the size guard (Policy.receipts_max_bytes"
                " = %d MB): every change of choice is still recorded, repeats of a visitor's"
                " last choice no longer are. Purge old receipts (cookieguard receipts purge"
                " --older-than 13mo) or raise the guard.",
                self.store,
                (size or 0) >> 20,
                self.max_bytes >> 20,
            )
        return over


def store_bytes(store: object) -> int | None:
    """Bytes the store keeps on this machine's disk, or ``None`` when it keeps none there
    (PostgreSQL's size is the database's to bound; its local spool is counted)."""
    total: int | None = None
    paths: list[str] = []
    spool = getattr(store, "spool_path", None)
    if isinstance(spool, str):
        paths.append(spool)
        quarantine = getattr(store, "quarantine_path", None)
        if isinstance(quarantine, str):
            paths.append(quarantine)
        store = getattr(store, "primary", store)
    path = getattr(store, "path", None)
    if isinstance(path, str) and path != ":memory:":
        paths.extend((path, path + "-wal", path + "-journal"))
    for name in paths:
        try:
            size = os.stat(name).st_size
        except OSError:
            continue
        total = (total or 0) + size
    return total
