"""Receipts in PostgreSQL (psycopg 3): for fleets of app servers sharing one log."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from cookieguard.receipts._model import (
    Receipt,
    ReceiptError,
    ReceiptRejected,
    check_receipt,
    receipt_from_dict,
    receipt_to_dict,
    utc,
)

if TYPE_CHECKING:
    import psycopg

#: Bumped by each migration in ``_MIGRATIONS``; kept in ``cookieguard_meta``.
SCHEMA_VERSION = 4

# Any constant works; it only has to be the same for every process creating the schema.
_SCHEMA_LOCK_KEY = 0x636F6F6B6965  # "cookie"

# The previous-day marker for a visitor's first receipt of a revision (see _stats).
FIRST = "0001-01-01"
# The key of a row of counts (schema 4).
_STATS_KEY = "day, revision, language, region, granted, denied, prev_day, withdrawn"

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
    # 2: consent statistics (docs/statistics.md). Counts only, no identifier: one row per
    # UTC day, revision, language, choice, previous receipt's day and what was withdrawn.
    # A trigger keeps it in step with every insert (ON CONFLICT DO NOTHING on a known
    # receipt does not fire it); existing receipts are counted once here.
    (
        """
        CREATE TABLE cookieguard_consent_stats (
            day        date NOT NULL,
            revision   integer NOT NULL,
            language   text NOT NULL,
            granted    text[] NOT NULL,
            denied     text[] NOT NULL,
            prev_day   date NOT NULL,
            withdrawn  text[] NOT NULL,
            n          bigint NOT NULL,
            PRIMARY KEY (day, revision, language, granted, denied, prev_day, withdrawn)
        )
        """,
        f"""
        CREATE FUNCTION cookieguard_count_receipt() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            prev record;
            nxt record;
            left_over bigint;
        BEGIN
            -- The same visitor's previous receipt of this revision, if any.
            SELECT time, granted INTO prev FROM cookieguard_receipts
            WHERE consent_id = NEW.consent_id AND revision = NEW.revision
              AND (time, seq) < (NEW.time, NEW.seq)
            ORDER BY time DESC, seq DESC LIMIT 1;
            INSERT INTO cookieguard_consent_stats AS s
                (day, revision, language, granted, denied, prev_day, withdrawn, n)
            VALUES (
                (NEW.time AT TIME ZONE 'UTC')::date, NEW.revision, NEW.language,
                NEW.granted, NEW.denied,
                coalesce((prev.time AT TIME ZONE 'UTC')::date, date '{FIRST}'),
                array(SELECT unnest(prev.granted) EXCEPT SELECT unnest(NEW.granted)
                      ORDER BY 1),
                1)
            ON CONFLICT (day, revision, language, granted, denied, prev_day, withdrawn)
            DO UPDATE SET n = s.n + 1;
            -- NEW is older than a receipt already kept (a spool replayed late, a server's
            -- clock behind): that next receipt was counted against the one before NEW;
            -- count it against NEW instead.
            SELECT time, language, granted, denied INTO nxt FROM cookieguard_receipts
            WHERE consent_id = NEW.consent_id AND revision = NEW.revision
              AND (time, seq) > (NEW.time, NEW.seq)
            ORDER BY time, seq LIMIT 1;
            IF FOUND THEN
                UPDATE cookieguard_consent_stats SET n = n - 1
                WHERE day = (nxt.time AT TIME ZONE 'UTC')::date AND revision = NEW.revision
                  AND language = nxt.language AND granted = nxt.granted
                  AND denied = nxt.denied
                  AND prev_day = coalesce((prev.time AT TIME ZONE 'UTC')::date,
                                          date '{FIRST}')
                  AND withdrawn = array(SELECT unnest(prev.granted)
                                        EXCEPT SELECT unnest(nxt.granted) ORDER BY 1)
                RETURNING n INTO left_over;
                IF left_over = 0 THEN
                    DELETE FROM cookieguard_consent_stats
                    WHERE day = (nxt.time AT TIME ZONE 'UTC')::date AND revision = NEW.revision
                      AND language = nxt.language AND granted = nxt.granted
                      AND denied = nxt.denied AND n = 0;
                END IF;
                INSERT INTO cookieguard_consent_stats AS s
                    (day, revision, language, granted, denied, prev_day, withdrawn, n)
                VALUES (
                    (nxt.time AT TIME ZONE 'UTC')::date, NEW.revision, nxt.language,
                    nxt.granted, nxt.denied, (NEW.time AT TIME ZONE 'UTC')::date,
                    array(SELECT unnest(NEW.granted) EXCEPT SELECT unnest(nxt.granted)
                          ORDER BY 1),
                    1)
                ON CONFLICT (day, revision, language, granted, denied, prev_day, withdrawn)
                DO UPDATE SET n = s.n + 1;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER cookieguard_receipts_count AFTER INSERT ON cookieguard_receipts
        FOR EACH ROW EXECUTE FUNCTION cookieguard_count_receipt()
        """,
        # Receipts kept before this version are counted by the first report (a big table
        # would outlast any request's statement timeout here): remember where they end.
        """
        INSERT INTO cookieguard_meta (key, value)
        SELECT 'stats_backlog', max(seq)::text FROM cookieguard_receipts HAVING count(*) > 0
        """,
        # Banner views of undecided visitors, counted per UTC hour (no identifier at all).
        """
        CREATE TABLE cookieguard_impressions (
            hour      timestamptz NOT NULL,
            revision  integer NOT NULL,
            language  text NOT NULL,
            n         bigint NOT NULL,
            PRIMARY KEY (hour, revision, language)
        )
        """,
    ),
    # 3: where the visitor was and the rule that applied there (docs/regions.md); NULL in
    # receipts kept before.
    ("ALTER TABLE cookieguard_receipts ADD COLUMN region text, ADD COLUMN rule text",),
    # 4: statistics by region too. The counts are rebuilt: every receipt kept so far is
    # counted again, with its region, by the first report.
    (
        "DROP TRIGGER cookieguard_receipts_count ON cookieguard_receipts",
        "DROP TABLE cookieguard_consent_stats",
        f"""
        CREATE TABLE cookieguard_consent_stats (
            day        date NOT NULL,
            revision   integer NOT NULL,
            language   text NOT NULL,
            region     text NOT NULL,
            granted    text[] NOT NULL,
            denied     text[] NOT NULL,
            prev_day   date NOT NULL,
            withdrawn  text[] NOT NULL,
            n          bigint NOT NULL,
            PRIMARY KEY ({_STATS_KEY})
        )
        """,
        f"""
        CREATE OR REPLACE FUNCTION cookieguard_count_receipt() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            prev record;
            nxt record;
            left_over bigint;
        BEGIN
            -- The same visitor's previous receipt of this revision, if any.
            SELECT time, granted INTO prev FROM cookieguard_receipts
            WHERE consent_id = NEW.consent_id AND revision = NEW.revision
              AND (time, seq) < (NEW.time, NEW.seq)
            ORDER BY time DESC, seq DESC LIMIT 1;
            INSERT INTO cookieguard_consent_stats AS s ({_STATS_KEY}, n)
            VALUES (
                (NEW.time AT TIME ZONE 'UTC')::date, NEW.revision, NEW.language,
                coalesce(NEW.region, ''), NEW.granted, NEW.denied,
                coalesce((prev.time AT TIME ZONE 'UTC')::date, date '{FIRST}'),
                array(SELECT unnest(prev.granted) EXCEPT SELECT unnest(NEW.granted)
                      ORDER BY 1),
                1)
            ON CONFLICT ({_STATS_KEY}) DO UPDATE SET n = s.n + 1;
            -- NEW is older than a receipt already kept (a spool replayed late, a server's
            -- clock behind): that next receipt was counted against the one before NEW;
            -- count it against NEW instead.
            SELECT time, language, region, granted, denied INTO nxt FROM cookieguard_receipts
            WHERE consent_id = NEW.consent_id AND revision = NEW.revision
              AND (time, seq) > (NEW.time, NEW.seq)
            ORDER BY time, seq LIMIT 1;
            IF FOUND THEN
                UPDATE cookieguard_consent_stats SET n = n - 1
                WHERE day = (nxt.time AT TIME ZONE 'UTC')::date AND revision = NEW.revision
                  AND language = nxt.language AND region = coalesce(nxt.region, '')
                  AND granted = nxt.granted AND denied = nxt.denied
                  AND prev_day = coalesce((prev.time AT TIME ZONE 'UTC')::date,
                                          date '{FIRST}')
                  AND withdrawn = array(SELECT unnest(prev.granted)
                                        EXCEPT SELECT unnest(nxt.granted) ORDER BY 1)
                RETURNING n INTO left_over;
                IF left_over = 0 THEN
                    DELETE FROM cookieguard_consent_stats
                    WHERE day = (nxt.time AT TIME ZONE 'UTC')::date AND revision = NEW.revision
                      AND language = nxt.language AND region = coalesce(nxt.region, '')
                      AND granted = nxt.granted AND denied = nxt.denied AND n = 0;
                END IF;
                INSERT INTO cookieguard_consent_stats AS s ({_STATS_KEY}, n)
                VALUES (
                    (nxt.time AT TIME ZONE 'UTC')::date, NEW.revision, nxt.language,
                    coalesce(nxt.region, ''), nxt.granted, nxt.denied,
                    (NEW.time AT TIME ZONE 'UTC')::date,
                    array(SELECT unnest(NEW.granted) EXCEPT SELECT unnest(nxt.granted)
                          ORDER BY 1),
                    1)
                ON CONFLICT ({_STATS_KEY}) DO UPDATE SET n = s.n + 1;
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER cookieguard_receipts_count AFTER INSERT ON cookieguard_receipts
        FOR EACH ROW EXECUTE FUNCTION cookieguard_count_receipt()
        """,
        """
        INSERT INTO cookieguard_meta (key, value)
        SELECT 'stats_backlog', max(seq)::text FROM cookieguard_receipts HAVING count(*) > 0
        ON CONFLICT (key) DO UPDATE SET value = excluded.value
        """,
    ),
)

# Counts the receipts kept before migration 4 (seq <= upto), once, on the first report.
_BACKFILL = f"""
    INSERT INTO cookieguard_consent_stats AS s ({_STATS_KEY}, n)
    SELECT (time AT TIME ZONE 'UTC')::date, revision, language, coalesce(region, ''),
           granted, denied, coalesce((prev_time AT TIME ZONE 'UTC')::date, date '{FIRST}'),
           array(SELECT unnest(prev_granted) EXCEPT SELECT unnest(granted) ORDER BY 1),
           count(*)
    FROM (
        SELECT seq, time, revision, language, region, granted, denied,
               lag(time) OVER w AS prev_time, lag(granted) OVER w AS prev_granted
        FROM cookieguard_receipts
        WINDOW w AS (PARTITION BY consent_id, revision ORDER BY time, seq)
    ) AS r
    WHERE seq <= %s
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT ({_STATS_KEY}) DO UPDATE SET n = s.n + excluded.n
"""

# The report's grouping, per --by: the first day of each period (ISO weeks start Monday).
_BUCKET = {
    "day": "day",
    "week": "date_trunc('week', day)::date",
    "month": "date_trunc('month', day)::date",
}

# What one breakdown of the report groups by.
_GROUPS = {"revision": "revision", "language": "language", "region": "region"}


def _group_key(group: str, by: str) -> str:
    return _BUCKET[by] if group == "series" else _GROUPS[group]


# A receipt is a choice when the same visitor's previous receipt of the revision is older
# than the period (or there is none); otherwise a withdrawal if it took a category back.
_STATS_QUERY = """
    SELECT {key} AS key,
           CASE WHEN prev_day < %(since)s THEN 'choice'
                WHEN withdrawn <> '{{}}' THEN 'withdrawal' ELSE 'change' END AS kind,
           CASE WHEN prev_day < %(since)s THEN granted ELSE '{{}}' END,
           CASE WHEN prev_day < %(since)s THEN denied ELSE '{{}}' END,
           CASE WHEN prev_day < %(since)s THEN '{{}}' ELSE withdrawn END,
           sum(n)
    FROM cookieguard_consent_stats
    WHERE day >= %(since)s AND day < %(until)s
      AND (%(revision)s::integer IS NULL OR revision = %(revision)s::integer)
    GROUP BY 1, 2, 3, 4, 5
"""

_IMPRESSIONS_QUERY = """
    SELECT {key} AS key, sum(n)
    FROM (SELECT (hour AT TIME ZONE 'UTC')::date AS day, revision, language, n
          FROM cookieguard_impressions
          WHERE hour >= (%(since)s::date)::timestamp AT TIME ZONE 'UTC'
            AND hour < (%(until)s::date)::timestamp AT TIME ZONE 'UTC'
            AND (%(revision)s::integer IS NULL OR revision = %(revision)s::integer)) AS h
    GROUP BY 1
"""

_ADD_IMPRESSIONS = """
    INSERT INTO cookieguard_impressions AS i (hour, revision, language, n)
    VALUES (%s, %s, %s, %s)
    ON CONFLICT (hour, revision, language) DO UPDATE SET n = i.n + excluded.n
"""

_COLUMNS = (
    "receipt_id, consent_id, time, granted, denied, revision, language, method, path,"
    " user_agent, ip_hash, region, rule"
)
# Idempotent on the primary key: a receipt replayed from the spool is never stored twice.
_INSERT = (
    f"INSERT INTO cookieguard_receipts ({_COLUMNS})"
    f" VALUES ({', '.join(['%s'] * 13)})"
    " ON CONFLICT (receipt_id) DO NOTHING"
)

#: Seconds to wait for the server to accept a new connection (libpq counts whole seconds,
#: at least 2).
DEFAULT_CONNECT_TIMEOUT = 3
#: Seconds one statement may take, enforced by the server and, when the server does not
#: answer at all (frozen, SIGSTOP, a half-open TCP connection), by the client.
DEFAULT_STATEMENT_TIMEOUT = 2.0
#: Seconds to wait for a free pooled connection when all are busy.
DEFAULT_POOL_TIMEOUT = 1.0
#: Connections kept open per process.
DEFAULT_POOL_SIZE = 4

# TCP keepalives (libpq parameters) so an idle pooled connection to a host that vanished
# is noticed within about a minute instead of the kernel's default two hours. They cannot
# notice a frozen server on a live host (its kernel still answers the probes): the
# client-side statement deadline covers that.
_KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}

_T = TypeVar("_T")


class _TimedOut(Exception):
    """The server did not answer within the deadline; its connection was shut down."""


class _Alarm:
    """Shuts a connection's socket down if an operation outlives its deadline.

    A server that is frozen (SIGSTOP, a VM paused, a half-open connection) never answers
    and never closes; libpq would wait forever and so would the visitor's request. A
    ``shutdown()`` of the socket from a timer thread wakes the waiting libpq call with an
    error, which is safe: the connection object itself is only touched by its own thread,
    and the socket is only shut down while that thread is still inside the operation.
    """

    def __init__(self, conn: psycopg.Connection[Any], seconds: float) -> None:
        self._fd = conn.pgconn.socket
        self._lock = threading.Lock()
        self._armed = True
        self.rang = False
        self._timer = threading.Timer(seconds, self._ring)
        self._timer.daemon = True
        self._timer.start()

    def _ring(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self.rang = True
            try:
                sock = socket.socket(fileno=os.dup(self._fd))
            except OSError:  # pragma: no cover - the descriptor is already gone
                return
            with sock, contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> bool:
        """Disarm; return whether the alarm rang (then the connection is unusable)."""
        self._timer.cancel()
        with self._lock:
            self._armed = False
            return self.rang


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
        data["region"],
        data["rule"],
    )


def _receipt(row: Sequence[Any]) -> Receipt:
    (receipt_id, consent_id, time, granted, denied, revision, language, method, path, ua, ip) = row[
        :11
    ]
    region, rule = row[11:13]
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
            "region": region,
            "rule": rule,
        }
    )


class PostgresStore:
    """Receipts in a PostgreSQL table, ``cookieguard_receipts``.

    ``url`` is a libpq connection string (``postgresql://user:pass@host/db``). Up to
    ``pool_size`` connections are kept per process and reopened after the server restarts.
    The schema is created on first use and versioned in ``cookieguard_meta``. Inserts are
    idempotent on ``receipt_id``. Requires ``pip install 'cookieguard[postgres]'``.

    Every call is bounded, so a slow, stopped or frozen server never holds a visitor's
    request for long (the spool takes the receipt instead): at most ``pool_timeout``
    seconds waiting for a free connection, ``connect_timeout`` for a new one, and
    ``statement_timeout`` for the statement. The statement timeout is also sent to the
    server (``options=-c statement_timeout=...``, unless the URL or ``PGOPTIONS`` sets
    ``options``; behind PgBouncer allow it with ``ignore_startup_parameters = options``),
    and TCP keepalives are on unless the URL says otherwise. :attr:`max_wait` is the sum.
    ``purge`` is an administrative bulk delete and runs without a statement timeout.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = DEFAULT_POOL_SIZE,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        # Import now, so a missing driver fails at start-up with the fix, not per request.
        self._psycopg = _import_psycopg()
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, got {pool_size}")
        if isinstance(connect_timeout, bool) or not (
            isinstance(connect_timeout, int) and connect_timeout >= 2
        ):
            raise ValueError(
                f"connect_timeout must be a whole number of seconds, at least 2 (libpq's"
                f" minimum), got {connect_timeout!r}"
            )
        for name, value in (("statement_timeout", statement_timeout),
                            ("pool_timeout", pool_timeout)):  # fmt: skip
            if not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self.url = url
        self.connect_timeout = connect_timeout
        self.statement_timeout = float(statement_timeout)
        self.pool_timeout = float(pool_timeout)
        self._params = self._connection_params(url)
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self.pool_size = pool_size
        self._schema_ready = False
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({_redact(self.url)!r})"

    @property
    def max_wait(self) -> float:
        """The longest one ``record``/``history`` call waits before it gives up (seconds)."""
        return self.pool_timeout + self.connect_timeout + self.statement_timeout

    def _connection_params(self, url: str) -> dict[str, Any]:
        try:
            given = self._psycopg.conninfo.conninfo_to_dict(url)
        except self._psycopg.Error as exc:
            raise ValueError(
                f"the receipts store {_redact(url)!r} is not a valid PostgreSQL URL ({exc});"
                " use postgresql://user:password@host:5432/database"
            ) from None
        params: dict[str, Any] = {
            key: value for key, value in _KEEPALIVES.items() if key not in given
        }
        if "options" not in given and not os.environ.get("PGOPTIONS"):
            millis = max(1, round(self.statement_timeout * 1000))
            params["options"] = f"-c statement_timeout={millis}"
        params["connect_timeout"] = self.connect_timeout
        return params

    # -- connections -------------------------------------------------------------------

    def _open(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] = self._psycopg.connect(
            self.url, autocommit=True, **self._params
        )
        try:
            if not self._schema_ready:
                self._bounded(conn, self._migrate, self.statement_timeout)
                self._schema_ready = True
        except BaseException:
            conn.close()
            raise
        return conn

    def _bounded(
        self,
        conn: psycopg.Connection[Any],
        work: Callable[[psycopg.Connection[Any]], _T],
        seconds: float | None,
    ) -> _T:
        """``work(conn)``, cut short (``_TimedOut``) if the server is silent for ``seconds``."""
        if seconds is None:
            return work(conn)
        alarm = _Alarm(conn, seconds)
        try:
            result = work(conn)
        except BaseException as exc:
            if alarm.stop():
                raise _TimedOut from exc
            raise
        if alarm.stop():
            # It rang just as the answer came: the work is done, the socket is not.
            conn.close()
        return result

    def _take_idle(self) -> psycopg.Connection[Any] | None:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        return None

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            if self._closed or conn.closed:
                conn.close()
            else:
                self._idle.append(conn)

    def _drop_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _attempt(
        self,
        conn: psycopg.Connection[Any],
        work: Callable[[psycopg.Connection[Any]], _T],
        seconds: float | None,
    ) -> _T:
        try:
            result = self._bounded(conn, work, seconds)
        except BaseException:
            conn.close()  # its state is unknown; a new one is cheap
            raise
        self._give_back(conn)
        return result

    def _run(
        self,
        what: str,
        work: Callable[[psycopg.Connection[Any]], _T],
        *,
        bounded: bool = True,
    ) -> _T:
        """Run ``work`` on a pooled connection within the timeouts; map errors.

        ``bounded=False`` lifts the client-side statement deadline (the caller lifts the
        server's with ``SET LOCAL``). A permanent error of the data (a constraint, a value
        the column cannot hold) raises :class:`ReceiptRejected`; anything else (an outage,
        a timeout) raises :class:`ReceiptError`.
        """
        if self._closed:
            raise ReceiptError(f"{self!r} is closed")
        limit = self.statement_timeout
        if not self._slots.acquire(timeout=self.pool_timeout):
            raise ReceiptError(
                f"cannot {what} PostgreSQL receipts: all {self.pool_size} connections stayed"
                f" busy for {self.pool_timeout:g} s (pool_timeout)"
            )
        try:
            return self._run_in_slot(work, limit if bounded else None)
        except _TimedOut:
            raise ReceiptError(
                f"cannot {what} PostgreSQL receipts: the server did not answer within"
                f" {limit:g} s (statement_timeout)"
            ) from None
        except (self._psycopg.DataError, self._psycopg.IntegrityError, UnicodeError) as exc:
            raise ReceiptRejected(f"cannot {what} PostgreSQL receipts: {exc}") from exc
        except self._psycopg.Error as exc:
            raise ReceiptError(f"cannot {what} PostgreSQL receipts: {exc}") from exc
        finally:
            self._slots.release()

    def _run_in_slot(
        self,
        work: Callable[[psycopg.Connection[Any]], _T],
        seconds: float | None,
    ) -> _T:
        conn = self._take_idle()
        if conn is not None:
            try:
                return self._attempt(conn, work, seconds)
            except self._psycopg.OperationalError:
                if not conn.broken:
                    raise  # e.g. the server's statement_timeout: retrying would wait again
                # Pooled connections die when the server restarts; the first use finds out.
                # Drop them all and try once on a new connection (inserts are idempotent,
                # so a retry after an unknown outcome cannot duplicate).
                self._drop_idle()
        return self._attempt(self._open(), work, seconds)

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
        """Delete receipts with ``time`` before ``older_than``; return how many went.

        A bulk delete may take longer than any request should: it runs without a
        statement timeout.
        """
        cutoff = utc(older_than)

        def work(conn: psycopg.Connection[Any]) -> int:
            with conn.transaction():
                conn.execute("SET LOCAL statement_timeout = 0")
                cur = conn.execute("DELETE FROM cookieguard_receipts WHERE time < %s", (cutoff,))
                return cur.rowcount

        return self._run("purge", work, bounded=False)

    def _read_unbounded(
        self, what: str, sql: str, params: dict[str, object]
    ) -> list[tuple[Any, ...]]:
        def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            with conn.transaction():
                conn.execute("SET LOCAL statement_timeout = 0")
                # Receipts kept before the statistics existed are counted once, by the
                # first report (migration 2); a concurrent report waits on the row lock.
                backlog = conn.execute(
                    "SELECT value FROM cookieguard_meta WHERE key = 'stats_backlog' FOR UPDATE"
                ).fetchone()
                if backlog is not None:
                    conn.execute(_BACKFILL, (int(backlog[0]),))
                    conn.execute("DELETE FROM cookieguard_meta WHERE key = 'stats_backlog'")
                return [tuple(row) for row in conn.execute(sql, params).fetchall()]

        return self._run(what, work, bounded=False)

    def statistics_rows(
        self, since: date, until: date, by: str, revision: int | None, group: str
    ) -> list[tuple[Any, ...]]:
        """Counts of receipts from ``since`` to ``until`` (exclusive), grouped for the report.

        Rows ``(key, kind, granted, denied, withdrawn, n)``, ``key`` being the period's
        first day (``group="series"``), the revision, language or region; see
        :func:`cookieguard.receipts.consent_stats`. A report is an administrative read: it
        runs without the statement timeout.
        """
        params: dict[str, object] = {"since": since, "until": until, "revision": revision}
        sql = _STATS_QUERY.format(key=_group_key(group, by))
        return self._read_unbounded("read statistics from", sql, params)

    def impression_rows(
        self, since: date, until: date, by: str, revision: int | None, group: str
    ) -> list[tuple[Any, ...]]:
        """Banner views ``(key, n)`` from ``since`` to ``until``, grouped as for statistics."""
        if group == "region":
            return []  # banner views are counted per language, not per region
        params: dict[str, object] = {"since": since, "until": until, "revision": revision}
        sql = _IMPRESSIONS_QUERY.format(key=_group_key(group, by))
        return self._read_unbounded("read impressions from", sql, params)

    def add_impressions(self, counts: Mapping[tuple[datetime, int, str], int]) -> None:
        """Add banner views per ``(UTC hour, revision, language)`` in one transaction."""
        rows = [
            (utc(hour).replace(minute=0, second=0, microsecond=0), revision, language, n)
            for (hour, revision, language), n in counts.items()
            if n
        ]
        if not rows:
            return

        def work(conn: psycopg.Connection[Any]) -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(_ADD_IMPRESSIONS, rows)

        self._run("count impressions in", work)

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
