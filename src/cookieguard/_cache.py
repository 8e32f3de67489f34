"""Bounded caches for the hot path's memos.

Keys often come from visitors (cookie headers, names, hosts, paths), so every memo must stay
bounded, by the number of entries *and* by bytes: 4,096 cached 8 KB Cookie headers would be
32 MB. First in, first out keeps a hit to one dict lookup.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from itertools import islice
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

ENTRY_OVERHEAD = 200  # bytes a dict slot, a tuple and small objects cost beyond the text


def _oldest(cache: Mapping[K, object]) -> list[K]:
    """The keys to evict from a full ``cache``: its oldest eighth (one at least).

    In batches because a dict keeps the slots of deleted keys until it next resizes, and
    finding the oldest key walks them: evicting one key a write, a full memo of 4,096 walked
    hundreds of empty slots for each (5 µs a write instead of 0.6), which a visitor's distinct
    keys (a page of tracker URLs, each its own) pay from the first 4,096 on. An eighth at a
    time walks them once per batch.
    """
    return list(islice(cache, max(1, len(cache) // 8)))


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> None:
    """Store ``key`` in ``cache``, evicting the oldest entry once ``limit`` is reached.

    For memos whose keys and values are small and bounded by construction; anything keyed by
    visitor text of unbounded length belongs in a :class:`Memo`. Threads racing to evict the
    same entry is harmless, so that race is ignored rather than locked.
    """
    if limit <= 0:
        return
    if len(cache) >= limit:
        with contextlib.suppress(KeyError, RuntimeError):
            for oldest in _oldest(cache):  # (the oldest eighth: see _oldest)
                del cache[oldest]
    cache[key] = value


class Memo(Generic[K, V]):
    """A first-in-first-out cache bounded by entries and by an estimate of its bytes (full, it
    evicts its oldest eighth at once: see :func:`_oldest`).

    The caller says what an entry costs (:meth:`put`'s ``size``: the length of the text in
    key and value; :data:`ENTRY_OVERHEAD` is added). An entry larger than an eighth of the
    budget is not kept at all. Reads take no lock; writes do, so the byte count stays exact
    across threads.

    ``get`` is the values dict's own bound ``get`` (a hit costs one C call, no Python frame:
    it runs several times on every request); costs live in a second dict, written in step
    under the lock.
    """

    __slots__ = ("_costs", "_lock", "_values", "budget", "get", "limit", "size")

    def __init__(self, limit: int, budget: int) -> None:
        self.limit = limit
        self.budget = budget
        self.size = 0  # estimated bytes held
        self._values: dict[K, V] = {}
        self._costs: dict[K, int] = {}
        self._lock = threading.Lock()
        #: ``get(key)``: the value cached for ``key``, or ``None``.
        self.get: Callable[[K], V | None] = self._values.get

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[K]:
        """The cached keys, oldest first (over a copy: safe while other threads write)."""
        return iter(list(self._values))

    def pop(self, key: K) -> None:
        """Forget ``key`` if it is cached."""
        with self._lock:
            self._values.pop(key, None)
            cost = self._costs.pop(key, None)
            if cost is not None:
                self.size -= cost

    def put(self, key: K, value: V, size: int) -> None:
        """Cache ``value`` for ``key``; ``size`` is the bytes of text the entry holds."""
        cost = size + ENTRY_OVERHEAD
        if self.limit <= 0 or cost * 8 > self.budget:
            return
        with self._lock:
            values = self._values
            costs = self._costs
            old = costs.pop(key, None)
            if old is not None:
                del values[key]
                self.size -= old
            while costs and (len(costs) >= self.limit or self.size + cost > self.budget):
                for oldest in _oldest(costs):  # (the oldest eighth: see _oldest)
                    del values[oldest]
                    self.size -= costs.pop(oldest)
            values[key] = value
            costs[key] = cost
            self.size += cost

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._values.clear()
            self._costs.clear()
            self.size = 0
