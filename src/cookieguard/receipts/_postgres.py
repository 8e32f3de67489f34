"""Receipts in PostgreSQL (psycopg 3): for fleets of app servers sharing one log."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cookieguard.receipts._model import (
    Receipt,
    ReceiptError,
    check_receipt,
    receipt_from_dict,
    receipt_to_dict,
    utc,
)

if TYPE_CHECKING:
    import psycopg

#: Bumped by each migration in ``_MIGRATIONS``; kept in ``cookieguard_meta``.
SCHEMA_VERSION = 1

# Any constant works; it only has to be the same for every process creating the schema.
_SCHEMA_LOCK_KEY = 0x636F6F6B6965  # "cookie"

# migrations[n] takes the schema from version n to n + 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE cookieguard_receipts (
            seq         bigint GENERATED ALWAYS AS IDENTITY,
            receipt_id  text PRIMARY KEY,
            consent_id  text NOT NULL,
            time        timestamptz NOT NULL,
            granted     text[] NOT NULL,
            denied      text[] NOT NULL,
            revision    integer NOT NULL,
            language    text NOT NULL,
            method      text NOT NULL,
            path        text NOT NULL,
            user_agent  text NOT NULL,
            ip_hash     text
        )
        """,
        "CREATE INDEX cookieguard_receipts_consent_time ON cookieguard_receipts (consent_id, time)",
        "CREATE INDEX cookieguard_receipts_time ON cookieguard_receipts (time)",
    ),
)

_COLUMNS = (
    "receipt_id, consent_id, time, granted, denied, revision, language, method, path,"
    " user_agent, ip_hash"
)
# Idempotent on the primary key: a receipt replayed from the spool is never stored twice.
_INSERT = (
    f"INSERT INTO cookieguard_receipts ({_COLUMNS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (receipt_id) DO NOTHING"
)

#: Seconds to wait for a connection before the receipt goes to the spool instead.
DEFAULT_CONNECT_TIMEOUT = 5
#: Connections kept open per process.
DEFAULT_POOL_SIZE = 4

_T = TypeVar("_T")


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(
            "PostgresStore needs psycopg 3, which is not installed:"
            " pip install 'cookieguard[postgres]'"
        ) from exc
    return psycopg


def _row(receipt: Receipt) -> tuple[object, ...]:
    data = receipt_to_dict(receipt)
    return (
        data["receipt_id"],
        data["consent_id"],
        utc(receipt.time),
        data["granted"],
        data["denied"],
        data["revision"],
        data["language"],
        data["method"],
        data["path"],
        data["user_agent"],
        data["ip_hash"],
    )


def _receipt(row: Sequence[Any]) -> Receipt:
    (receipt_id, consent_id, time, granted, denied, revision, language, method, path, ua, ip) = row
    return receipt_from_dict(
        {
            "receipt_id": receipt_id,
            "consent_id": consent_id,
            "time": utc(time).isoformat(),
            "granted": granted,
            "denied": denied,
            "revision": revision,
            "language": language,
            "method": method,
            "path": path,
            "user_agent": ua,
            "ip_hash": ip,
        }
    )


class PostgresStore:
    """Receipts in a PostgreSQL table, ``cookieguard_receipts``.

    ``url`` is a libpq connection string (``postgresql://user:pass@host/db``). Up to
    ``pool_size`` connections are kept per process and reopened after the server restarts.
    The schema is created on first use and versioned in ``cookieguard_meta``. Inserts are
    idempotent on ``receipt_id``. Requires ``pip install 'cookieguard[postgres]'``.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        # Import now, so a missing driver fails at start-up with the fix, not per request.
        self._psycopg = _import_psycopg()
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        self.url = url
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self._schema_ready = False
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({_redact(self.url)!r})"

    # -- connections -------------------------------------------------------------------

    def _open(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = self._psycopg.connect(
            self.url, autocommit=True, connect_timeout=self.connect_timeout
        )
        try:
            if not self._schema_ready:
                self._migrate(conn)
                self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self, *, fresh: bool) -> Iterator[psycopg.Connection[Any]]:
        if self._closed:
            raise ReceiptError(f"{self!r} is closed")
        with self._slots:
            conn = None
            if not fresh:
                with self._lock:
                    conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self._open()
            try:
                yield conn
            except BaseException:
                conn.close()  # its state is unknown; a new one is cheap
                raise
            with self._lock:
                if self._closed:
                    conn.close()
                else:
                    self._idle.append(conn)

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _run(self, what: str, work: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        errors = self._psycopg.Error
        try:
            with self._connection(fresh=False) as conn:
                return work(conn)
        except self._psycopg.OperationalError:
            # Pooled connections die when the server restarts; the first use finds out.
            # Drop them all and try once on a new connection (inserts are idempotent,
            # so a retry after an unknown outcome cannot duplicate).
            self._drop_idle()
        except errors as exc:
            raise ReceiptError(f"cannot {what} PostgreSQL receipts: {exc}") from exc
        try:
            with self._connection(fresh=True) as conn:
                return work(conn)
        except errors as exc:
            raise ReceiptError(f"cannot {what} PostgreSQL receipts: {exc}") from exc

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            # Several app servers may start at once on an empty database; the advisory lock
            # makes one of them create the schema while the others wait, then skip it.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS cookieguard_meta"
                " (key text PRIMARY KEY, value text NOT NULL)"
            )
            row = conn.execute(
                "SELECT value FROM cookieguard_meta WHERE key = 'schema_version'"
            ).fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise ReceiptError(
                    f"the database has receipts schema version {version}, newer than this"
                    f" cookieguard understands ({SCHEMA_VERSION}); upgrade cookieguard"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number]:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO cookieguard_meta (key, value) VALUES ('schema_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    # -- the store -----------------------------------------------------------------------

    def record(self, receipt: Receipt) -> None:
        """Insert ``receipt`` (committed before returning); a known ``receipt_id`` is a no-op."""
        check_receipt(receipt)
        row = _row(receipt)
        self._run("record", lambda conn: conn.execute(_INSERT, row))

    def record_many(self, receipts: Iterable[Receipt]) -> None:
        """Insert several receipts in one transaction (all or none); known ids are skipped."""
        batch = list(receipts)
        for receipt in batch:
            check_receipt(receipt)
        if not batch:
            return
        rows = [_row(receipt) for receipt in batch]

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_INSERT, rows)

        self._run("record", work)

    def history(self, consent_id: str) -> list[Receipt]:
        """All receipts for ``consent_id``, oldest first (ties in the order they were kept)."""
        rows = self._run(
            "read",
            lambda conn: conn.execute(
                f"SELECT {_COLUMNS} FROM cookieguard_receipts WHERE consent_id = %s"
                " ORDER BY time, seq",
                (consent_id,),
            ).fetchall(),
        )
        return [_receipt(row) for row in rows]

    def purge(self, older_than: datetime) -> int:
        """Delete receipts with ``time`` before ``older_than``; return how many went."""
        cutoff = utc(older_than)
        return self._run(
            "purge",
            lambda conn: (
                conn.execute("DELETE FROM cookieguard_receipts WHERE time < %s", (cutoff,)).rowcount
            ),
        )

    def close(self) -> None:
        """Close every pooled connection; connections in use close when released."""
        with self._lock:
            self._closed = True
        self._drop_idle()


def _redact(url: str) -> str:
    """``url`` without its password, for logs and reprs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
