"""Banner views, counted in memory per hour and added to the store in batches.

A page view of an undecided visitor costs one dictionary increment under a lock; a
background thread adds the counts to the store every ``interval`` seconds (one upsert per
hour, revision and language). No identifier, address or cookie is involved: only how many
times the first layer was shown. A crash loses at most the last ``interval`` seconds; a
store that is down keeps the counts in memory until it is back (bounded).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

logger = logging.getLogger("cookieguard.receipts")

#: Seconds between two writes of the counts.
DEFAULT_FLUSH_INTERVAL = 5.0
#: Distinct (hour, revision, language) keys kept while the store is down; more are dropped.
MAX_PENDING_KEYS = 10_000
#: Language tags longer than this are counted as the empty tag (they come from the policy).
_LANGUAGE_LIMIT = 35

_Key = tuple[int, int, str]


class ImpressionSink(Protocol):
    """A store that can add banner views (``SQLiteStore``, ``PostgresStore``)."""

    def add_impressions(self, counts: Mapping[tuple[datetime, int, str], int]) -> None:
        """Add ``counts`` per ``(UTC hour, revision, language)``."""


class ImpressionCounter:
    """Counts banner views for ``store`` without making a page view wait on it.

    :meth:`count` is called where the first layer is shown to an undecided visitor; it
    never does I/O. It starts a daemon thread that calls :meth:`flush` every ``interval``
    seconds and ends once a flush finds nothing to write; :meth:`close` (also run at
    interpreter exit) flushes what is left. After ``fork()`` the child starts with no
    counts and its own thread.
    """

    def __init__(
        self,
        store: ImpressionSink,
        *,
        interval: float = DEFAULT_FLUSH_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        self.store = store
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._counts: dict[_Key, int] = {}
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._warned = False
        _live.add(self)

    def count(self, revision: int, language: str) -> None:
        """One banner view of policy ``revision`` in ``language``, now."""
        key = (int(self._clock() // 3600), revision, language[:_LANGUAGE_LIMIT])
        with self._lock:
            counts = self._counts
            if key in counts:
                counts[key] += 1
            elif len(counts) < MAX_PENDING_KEYS:
                counts[key] = 1
            if self._thread is None and not self._closed:
                self._start()

    def pending(self) -> int:
        """Views counted but not yet written."""
        with self._lock:
            return sum(self._counts.values())

    def _start(self) -> None:
        # Called with self._lock held.
        thread = threading.Thread(target=self._run, name="cookieguard-impressions", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            written = self.flush()
            with self._lock:
                # Idle (nothing written, nothing waiting) or closed: end; count() starts a
                # new thread when views come again, so a quiet site holds no thread.
                if self._closed or not (written or self._counts):
                    self._thread = None
                    return

    def flush(self) -> int:
        """Write the counts now; return how many views were written.

        If the store fails, the counts are kept for the next attempt and a warning is
        logged once per outage.
        """
        with self._flushing:
            with self._lock:
                batch, self._counts = self._counts, {}
            if not batch:
                return 0
            rows = {
                (datetime.fromtimestamp(hour * 3600, UTC), revision, language): n
                for (hour, revision, language), n in batch.items()
            }
            try:
                self.store.add_impressions(rows)
            except Exception as exc:  # the log is down: keep counting, try again later
                with self._lock:
                    for key, n in batch.items():
                        if key in self._counts or len(self._counts) < MAX_PENDING_KEYS:
                            self._counts[key] = self._counts.get(key, 0) + n
                if not self._warned:
                    self._warned = True
                    logger.warning("could not store banner view counts (kept in memory): %s", exc)
                return 0
            self._warned = False
            return sum(batch.values())

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.interval + 5)
        self.flush()

    def _after_fork(self) -> None:
        # The parent's counts are the parent's to write; its thread does not exist here.
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._counts = {}
        self._wake = threading.Event()
        self._thread = None


# Counters alive in this process, so interpreter exit can write what each still holds and
# a forked child can drop its parent's counts. Weak: a counter nobody uses can go.
_live: weakref.WeakSet[ImpressionCounter] = weakref.WeakSet()


def _close_all() -> None:
    for counter in list(_live):
        try:
            counter.close()
        except Exception:  # pragma: no cover - exit must not fail on a broken store
            logger.exception("could not store banner view counts at exit")


def _reset_after_fork() -> None:
    for counter in list(_live):
        counter._after_fork()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def impression_counter(
    store: object, *, interval: float = DEFAULT_FLUSH_INTERVAL
) -> ImpressionCounter | None:
    """A counter for ``store`` (the primary behind a spool), or None if it cannot count."""
    inner = getattr(store, "primary", store)
    if not hasattr(inner, "add_impressions"):
        return None
    sink: ImpressionSink = inner
    return ImpressionCounter(sink, interval=interval)
