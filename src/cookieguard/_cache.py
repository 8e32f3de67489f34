"""One tiny bounded cache for the hot path's memos."""

from __future__ import annotations

import contextlib
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> None:
    """Store ``key`` in ``cache``, evicting the oldest entry once ``limit`` is reached.

    Keys often come from visitors (cookie headers, names, paths), so every memo must stay
    bounded; first in, first out keeps that to one dict operation. Threads racing to evict
    the same entry is harmless, so that race is ignored rather than locked.
    """
    if limit <= 0:
        return
    if len(cache) >= limit:
        with contextlib.suppress(KeyError, StopIteration, RuntimeError):
            del cache[next(iter(cache))]
    cache[key] = value
