"""Which consent receipts get written: one per change of choice, and a size guard.

Every consent POST used to write a receipt (about 2.6 KB): one client repeating its choice
could fill the disk. :class:`ReceiptGuard` sits between the consent endpoint and the store:

- a POST that makes the choice its consent id last made is a *repeat*, and writes nothing
  within ``repeat_window`` seconds of that last choice: the first receipt is the proof. What
  was chosen last is what the visitor's signed cookie holds, or what this process wrote for
  that consent id after the cookie was signed (an old cookie replayed in a loop, with any
  choice, is told apart from a visitor's latest cookie this way). A changed choice or a first
  choice is always written. A cookie signed after this process's last write for the id wins,
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
from collections.abc import Iterable
from datetime import datetime, timedelta

from cookieguard.receipts._model import Receipt, ReceiptStore

logger = logging.getLogger("cookieguard.receipts")

#: Consent ids whose last written choice is remembered (about 200 bytes each).
MEMO_SIZE = 65_536
#: Seconds between two measurements of the store's size.
MEASURE_EVERY = 30.0
#: Seconds between two "over the size guard" log lines.
LOG_EVERY = 600.0

_Choice = tuple[tuple[str, ...], int]
_SECOND = timedelta(seconds=1)


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

    def record(
        self,
        receipt: Receipt,
        *,
        held: Iterable[str] | None = None,
        issued: datetime | None = None,
    ) -> bool:
        """Write ``receipt`` unless it is a repeat; return whether it was written.

        ``held``: the categories the visitor's signed cookie grants for this consent id
        (``None`` without a decided cookie); ``issued``: when that cookie was signed.
        """
        if self._is_repeat(receipt, held, issued):
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

    def _is_repeat(
        self, receipt: Receipt, held: Iterable[str] | None, issued: datetime | None
    ) -> bool:
        latest: tuple[_Choice, datetime] | None = None
        if held is not None and issued is not None:
            latest = ((tuple(sorted(held)), receipt.revision), issued)
        with self._lock:
            written = self._last.get(receipt.consent_id)
        # Our write wins over a cookie signed before it (cookies carry whole seconds: a
        # cookie of the same second may be another process's later change).
        if written is not None and (latest is None or written[1] >= latest[1] + _SECOND):
            latest = written
        if latest is None or latest[0] != _choice(receipt):
            return False
        if 0 <= (receipt.time - latest[1]).total_seconds() < self.repeat_window:
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
