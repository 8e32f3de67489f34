"""``open_store``: a store from a URL or a path, wrapped with its spool."""

from __future__ import annotations

import os

from cookieguard.receipts._model import ReceiptStore
from cookieguard.receipts._spool import DEFAULT_RETRY_INTERVAL, SpooledStore
from cookieguard.receipts._sqlite import SQLiteStore

#: Spool file for stores that have no file of their own to sit next to.
DEFAULT_SPOOL_PATH = "cookieguard-spool.jsonl"

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"
_POSTGRES_OPTIONS = frozenset({"connect_timeout", "statement_timeout", "pool_timeout", "pool_size"})


def is_postgres_url(url_or_path: str) -> bool:
    """Whether ``url_or_path`` names a PostgreSQL database."""
    return url_or_path.lower().startswith(_POSTGRES_SCHEMES)


def sqlite_path(url_or_path: str) -> str:
    """The file behind ``sqlite:///path`` or a plain path.

    As in SQLAlchemy, ``sqlite:///receipts.db`` is relative to the working directory and
    ``sqlite:////var/lib/app/receipts.db`` is absolute.
    """
    if url_or_path.lower().startswith(_SQLITE_SCHEME):
        path = url_or_path[len(_SQLITE_SCHEME) :]
    elif "://" in url_or_path:
        scheme = url_or_path.partition("://")[0]
        raise ValueError(
            f"unsupported receipts store {scheme + '://'!r}: use postgresql://..., "
            "sqlite:///path or a plain file path"
        )
    else:
        path = url_or_path
    if not path:
        raise ValueError(f"receipts store {url_or_path!r} names no file")
    return path


def open_store(
    url_or_path: str,
    *,
    spool_path: str | os.PathLike[str] | None = None,
    retry_interval: float = DEFAULT_RETRY_INTERVAL,
    **postgres_options: float,
) -> ReceiptStore:
    """Open the receipts store named by ``url_or_path``, wrapped with a local spool.

    ``postgresql://...`` or ``postgres://...`` opens a :class:`PostgresStore` (needs
    ``pip install 'cookieguard[postgres]'``); ``sqlite:///path`` or a plain path opens a
    :class:`SQLiteStore`. While the store is down, receipts go to ``spool_path`` (default:
    ``<sqlite file>.spool.jsonl`` next to a SQLite file, ``./cookieguard-spool.jsonl`` for
    PostgreSQL) and are replayed, at most every ``retry_interval`` seconds, once it is back.
    Nothing is connected until first use.

    ``postgres_options`` (``connect_timeout``, ``statement_timeout``, ``pool_timeout``,
    ``pool_size``) are passed to :class:`PostgresStore`; they bound how long one consent
    request waits for a slow or frozen server before its receipt goes to the spool.
    """
    primary: ReceiptStore
    if is_postgres_url(url_or_path):
        from cookieguard.receipts._postgres import PostgresStore

        unknown = sorted(set(postgres_options) - _POSTGRES_OPTIONS)
        if unknown:
            raise ValueError(
                f"unknown PostgreSQL store option {unknown[0]!r}; use one of"
                f" {', '.join(sorted(_POSTGRES_OPTIONS))}"
            )
        primary = PostgresStore(url_or_path, **postgres_options)  # type: ignore[arg-type]
        default_spool = DEFAULT_SPOOL_PATH
    else:
        if postgres_options:
            raise ValueError(
                f"{', '.join(sorted(postgres_options))} only apply to PostgreSQL receipts"
                " stores; remove them for a SQLite file"
            )
        path = sqlite_path(url_or_path)
        primary = SQLiteStore(path)
        default_spool = DEFAULT_SPOOL_PATH if path == ":memory:" else path + ".spool.jsonl"
    return SpooledStore(
        primary,
        default_spool if spool_path is None else spool_path,
        retry_interval=retry_interval,
    )
