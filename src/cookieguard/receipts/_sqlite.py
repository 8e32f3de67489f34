"""Receipts in one SQLite file: the default store, safe for several worker processes."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from cookieguard.receipts._model import (
    Receipt,
    ReceiptError,
    ReceiptRejected,
    check_receipt,
    receipt_from_dict,
    receipt_to_dict,
    utc,
)

#: Bumped by each migration in ``_MIGRATIONS``; stored in ``PRAGMA user_version``.
SCHEMA_VERSION = 4

# The previous receipt of the same visitor for the same revision, and the categories the
# new receipt takes back from it (granted then, not now): what ``consent_stats`` counts.
_PREVIOUS = """
    SELECT time, granted FROM receipts
    WHERE consent_id = NEW.consent_id AND revision = NEW.revision
      AND (time < NEW.time OR (time = NEW.time AND seq < NEW.seq))
    ORDER BY time DESC, seq DESC LIMIT 1
"""

# The same visitor's next receipt of the revision, when NEW arrives after it.
_NEXT = """
    SELECT time, revision, language, {region} granted, denied FROM receipts
    WHERE consent_id = NEW.consent_id AND revision = NEW.revision
      AND (time > NEW.time OR (time = NEW.time AND seq > NEW.seq))
    ORDER BY time, seq LIMIT 1
"""


def _counting(*, region: bool) -> tuple[str, str]:
    """The counts table and the trigger that keeps it (``region``: from schema 4 on)."""
    key = "day, revision, language, {r}granted, denied, prev_day, withdrawn".format(
        r="region, " if region else ""
    )
    new_region = "coalesce(NEW.region, ''), " if region else ""
    next_region = "coalesce(x.region, ''), " if region else ""
    following = _NEXT.format(region="region," if region else "")
    table = f"""
        CREATE TABLE consent_stats (
            day        TEXT NOT NULL,
            revision   INTEGER NOT NULL,
            language   TEXT NOT NULL,
            {"region     TEXT NOT NULL," if region else ""}
            granted    TEXT NOT NULL,
            denied     TEXT NOT NULL,
            prev_day   TEXT NOT NULL,
            withdrawn  TEXT NOT NULL,
            n          INTEGER NOT NULL,
            PRIMARY KEY ({key})
        ) WITHOUT ROWID
    """
    trigger = f"""
        CREATE TRIGGER receipts_count AFTER INSERT ON receipts BEGIN
            INSERT INTO consent_stats ({key}, n)
            SELECT substr(NEW.time, 1, 10), NEW.revision, NEW.language, {new_region}
                   NEW.granted, NEW.denied, coalesce(substr(p.time, 1, 10), '0001-01-01'),
                   (SELECT json_group_array(value) FROM json_each(p.granted)
                    WHERE value NOT IN (SELECT value FROM json_each(NEW.granted))),
                   1
            FROM (SELECT 1) LEFT JOIN ({_PREVIOUS}) AS p ON 1
            WHERE 1
            ON CONFLICT ({key}) DO UPDATE SET n = n + 1;
            -- NEW is older than a receipt already kept (a spool replayed late, a server's
            -- clock behind): that next receipt was counted against the one before NEW;
            -- count it against NEW instead.
            UPDATE consent_stats SET n = n - 1
            WHERE ({key}) IN (
                SELECT substr(x.time, 1, 10), x.revision, x.language, {next_region}
                       x.granted, x.denied, coalesce(substr(p.time, 1, 10), '0001-01-01'),
                       (SELECT json_group_array(value) FROM json_each(p.granted)
                        WHERE value NOT IN (SELECT value FROM json_each(x.granted)))
                FROM ({following}) AS x LEFT JOIN ({_PREVIOUS}) AS p ON 1);
            DELETE FROM consent_stats
            WHERE n = 0 AND day = (SELECT substr(x.time, 1, 10) FROM ({following}) AS x);
            INSERT INTO consent_stats ({key}, n)
            SELECT substr(x.time, 1, 10), x.revision, x.language, {next_region}
                   x.granted, x.denied, substr(NEW.time, 1, 10),
                   (SELECT json_group_array(value) FROM json_each(NEW.granted)
                    WHERE value NOT IN (SELECT value FROM json_each(x.granted))),
                   1
            FROM ({following}) AS x
            WHERE 1
            ON CONFLICT ({key}) DO UPDATE SET n = n + 1;
        END
    """
    return table, trigger


# One entry per schema version: migrations[n] takes a database from version n to n + 1.
# Times are ISO 8601 UTC text of fixed width, so text order is time order (for purge
# and history) and the file stays readable with the plain sqlite3 shell.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE receipts (
            seq         INTEGER PRIMARY KEY,
            receipt_id  TEXT NOT NULL UNIQUE,
            consent_id  TEXT NOT NULL,
            time        TEXT NOT NULL,
            granted     TEXT NOT NULL,
            denied      TEXT NOT NULL,
            revision    INTEGER NOT NULL,
            language    TEXT NOT NULL,
            method      TEXT NOT NULL,
            path        TEXT NOT NULL,
            user_agent  TEXT NOT NULL,
            ip_hash     TEXT
        )
        """,
        "CREATE INDEX receipts_consent_time ON receipts (consent_id, time)",
        "CREATE INDEX receipts_time ON receipts (time)",
    ),
    # 2: consent statistics (docs/statistics.md). Counts only, no identifier: one row per
    # UTC day, revision, language, choice, previous receipt's day and what was withdrawn.
    # A trigger keeps it in step with every insert (INSERT OR IGNORE of a known receipt
    # does not fire it); existing receipts are counted once here.
    (
        *_counting(region=False),
        # Receipts kept before this version are counted by the first report (a big file
        # would hold the write lock too long here): remember where they end.
        "CREATE TABLE consent_stats_backlog (upto INTEGER NOT NULL)",
        "INSERT INTO consent_stats_backlog SELECT max(seq) FROM receipts HAVING count(*) > 0",
        # Banner views of undecided visitors, counted per UTC hour (no identifier at all).
        """
        CREATE TABLE impressions (
            hour      TEXT NOT NULL,
            revision  INTEGER NOT NULL,
            language  TEXT NOT NULL,
            n         INTEGER NOT NULL,
            PRIMARY KEY (hour, revision, language)
        ) WITHOUT ROWID
        """,
    ),
    # 3: where the visitor was and the rule that applied there (docs/regions.md); NULL in
    # receipts kept before.
    (
        "ALTER TABLE receipts ADD COLUMN region TEXT",
        "ALTER TABLE receipts ADD COLUMN rule TEXT",
    ),
    # 4: statistics by region too. The counts are rebuilt: every receipt kept so far is
    # counted again, with its region, by the first report.
    (
        "DROP TRIGGER receipts_count",
        "DROP TABLE consent_stats",
        *_counting(region=True),
        "DELETE FROM consent_stats_backlog",
        "INSERT INTO consent_stats_backlog SELECT max(seq) FROM receipts HAVING count(*) > 0",
    ),
)

# Counts the receipts kept before migration 4 (seq <= upto), once, on the first report.
_BACKFILL = """
    INSERT INTO consent_stats
        (day, revision, language, region, granted, denied, prev_day, withdrawn, n)
    SELECT substr(time, 1, 10), revision, language, coalesce(region, ''), granted, denied,
           coalesce(substr(prev_time, 1, 10), '0001-01-01'),
           (SELECT json_group_array(value) FROM json_each(prev_granted)
            WHERE value NOT IN (SELECT value FROM json_each(r.granted))),
           count(*)
    FROM (
        SELECT seq, time, revision, language, region, granted, denied,
               lag(time) OVER w AS prev_time, lag(granted) OVER w AS prev_granted
        FROM receipts
        WINDOW w AS (PARTITION BY consent_id, revision ORDER BY time, seq)
    ) AS r
    WHERE seq <= ?
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    ON CONFLICT (day, revision, language, region, granted, denied, prev_day, withdrawn)
    DO UPDATE SET n = n + excluded.n
"""

# The report's grouping, per --by: the first day of each period (ISO weeks start Monday).
_BUCKET = {
    "day": "day",
    "week": "date(day, '-' || ((CAST(strftime('%w', day) AS INTEGER) + 6) % 7) || ' days')",
    "month": "substr(day, 1, 7) || '-01'",
}

# What one breakdown of the report groups by.
_GROUPS = {"revision": "revision", "language": "language", "region": "region"}


def _group_key(group: str, by: str) -> str:
    return _BUCKET[by] if group == "series" else _GROUPS[group]


# A receipt is a choice when the same visitor's previous receipt of the revision is older
# than the period (or there is none); otherwise a withdrawal if it took a category back.
_STATS_QUERY = """
    SELECT {key} AS key,
           CASE WHEN prev_day < :since THEN 'choice'
                WHEN withdrawn <> '[]' THEN 'withdrawal' ELSE 'change' END AS kind,
           CASE WHEN prev_day < :since THEN granted ELSE '[]' END,
           CASE WHEN prev_day < :since THEN denied ELSE '[]' END,
           CASE WHEN prev_day < :since THEN '[]' ELSE withdrawn END,
           sum(n)
    FROM consent_stats
    WHERE day >= :since AND day < :until AND (:revision IS NULL OR revision = :revision)
    GROUP BY 1, 2, 3, 4, 5
"""

_IMPRESSIONS_QUERY = """
    SELECT {key} AS key, sum(n)
    FROM (SELECT substr(hour, 1, 10) AS day, revision, language, n FROM impressions
          WHERE hour >= :since AND hour < :until
            AND (:revision IS NULL OR revision = :revision))
    GROUP BY 1
"""

_ADD_IMPRESSIONS = """
    INSERT INTO impressions (hour, revision, language, n) VALUES (?, ?, ?, ?)
    ON CONFLICT (hour, revision, language) DO UPDATE SET n = n + excluded.n
"""

_COLUMNS = (
    "receipt_id, consent_id, time, granted, denied, revision, language, method, path,"
    " user_agent, ip_hash, region, rule"
)
# INSERT OR IGNORE on the unique receipt_id: replaying a spooled receipt twice is harmless.
_INSERT = f"INSERT OR IGNORE INTO receipts ({_COLUMNS}) VALUES ({', '.join('?' * 13)})"

#: How long a writer waits for another process's lock before giving up.
DEFAULT_BUSY_TIMEOUT = 10.0


def _row(receipt: Receipt) -> tuple[object, ...]:
    data = receipt_to_dict(receipt)
    return (
        data["receipt_id"],
        data["consent_id"],
        data["time"],
        json.dumps(data["granted"]),
        json.dumps(data["denied"]),
        data["revision"],
        data["language"],
        data["method"],
        data["path"],
        data["user_agent"],
        data["ip_hash"],
        data["region"],
        data["rule"],
    )


def _receipt(row: sqlite3.Row) -> Receipt:
    data = dict(row)
    data["granted"] = json.loads(data["granted"])
    data["denied"] = json.loads(data["denied"])
    return receipt_from_dict(data)


class SQLiteStore:
    """Receipts in a SQLite file (stdlib ``sqlite3``).

    WAL mode with ``synchronous=FULL``: once :meth:`record` returns the receipt is on
    disk and survives ``kill -9`` or a power cut. Several worker processes may share one
    file; a writer waits up to ``busy_timeout`` seconds for another's lock. Within a
    process one connection is shared under a lock (SQLite serialises writers anyway).

    Nothing is opened until first use, so a bad path surfaces in :meth:`record` (where the
    spool catches it), not at application start-up.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    def _connect(self) -> sqlite3.Connection:
        # Called with self._lock held.
        if self._conn is not None:
            return self._conn
        try:
            # isolation_level=None: no implicit transactions; we BEGIN IMMEDIATE ourselves so
            # a writer takes the write lock up front (a deferred read-then-write transaction
            # in WAL mode fails with SQLITE_BUSY instead of waiting).
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise ReceiptError(f"cannot open SQLite receipts file {self.path!r}: {exc}") from exc
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            # WAL lets readers run while another process writes; FULL syncs the WAL on every
            # commit, which is what makes record() durable against power loss.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            self._migrate(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise ReceiptError(f"cannot use SQLite receipts file {self.path!r}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version == SCHEMA_VERSION:
            return
        # Several processes may start at once on a new file: the write lock makes exactly
        # one of them run each migration; the others re-read the version and skip it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            (version,) = conn.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise ReceiptError(
                    f"{self.path!r} has receipts schema version {version}, newer than this"
                    f" cookieguard understands ({SCHEMA_VERSION}); upgrade cookieguard"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[number]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _transaction(
        self, what: str, *, rejects: tuple[type[Exception], ...] = ()
    ) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any
        failure) on this thread's connection, under the lock. A :class:`sqlite3.Error`
        becomes :class:`ReceiptError` ("cannot ``what`` SQLite receipts file …"); one of
        ``rejects`` (the data, not the file, is at fault: retrying cannot help) becomes
        :class:`ReceiptRejected`."""
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except rejects as exc:
                raise ReceiptRejected(
                    f"cannot {what} SQLite receipts file {self.path!r}: {exc}"
                ) from exc
            except sqlite3.Error as exc:
                raise ReceiptError(
                    f"cannot {what} SQLite receipts file {self.path!r}: {exc}"
                ) from exc

    def _write(self, rows: Sequence[tuple[object, ...]]) -> None:
        data_errors = (sqlite3.IntegrityError, sqlite3.DataError, OverflowError, UnicodeError)
        with self._transaction("write to", rejects=data_errors) as conn:
            conn.executemany(_INSERT, rows)

    def record(self, receipt: Receipt) -> None:
        """Store ``receipt`` and return once it is on disk; a known ``receipt_id`` is a no-op."""
        check_receipt(receipt)
        self._write([_row(receipt)])

    def record_many(self, receipts: Iterable[Receipt]) -> None:
        """Store several receipts in one transaction (all or none); known ids are skipped."""
        batch = list(receipts)
        for receipt in batch:
            check_receipt(receipt)
        if batch:
            self._write([_row(receipt) for receipt in batch])

    def history(self, consent_id: str) -> list[Receipt]:
        """All receipts for ``consent_id``, oldest first (ties in the order they were kept)."""
        with self._lock:
            conn = self._connect()
            try:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM receipts WHERE consent_id = ? ORDER BY time, seq",
                    (consent_id,),
                ).fetchall()
            except sqlite3.Error as exc:
                raise ReceiptError(
                    f"cannot read SQLite receipts file {self.path!r}: {exc}"
                ) from exc
        return [_receipt(row) for row in rows]

    def purge(self, older_than: datetime) -> int:
        """Delete receipts with ``time`` before ``older_than``; return how many went."""
        cutoff = utc(older_than).isoformat(timespec="microseconds")
        with self._transaction("purge") as conn:
            deleted = conn.execute("DELETE FROM receipts WHERE time < ?", (cutoff,)).rowcount
        return deleted

    def _read(self, what: str, sql: str, params: Mapping[str, object]) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connect()
            try:
                return [tuple(row) for row in conn.execute(sql, params).fetchall()]
            except sqlite3.Error as exc:
                raise ReceiptError(
                    f"cannot {what} SQLite receipts file {self.path!r}: {exc}"
                ) from exc

    def statistics_rows(
        self, since: date, until: date, by: str, revision: int | None, group: str
    ) -> list[tuple[Any, ...]]:
        """Counts of receipts from ``since`` to ``until`` (exclusive), grouped for the report.

        Rows ``(key, kind, granted, denied, withdrawn, n)``, ``key`` being the period's
        first day (``group="series"``), the revision, language or region; see
        :func:`cookieguard.receipts.consent_stats`.
        """
        self._count_backlog()
        params = {"since": since.isoformat(), "until": until.isoformat(), "revision": revision}
        sql = _STATS_QUERY.format(key=_group_key(group, by))
        return self._read("read statistics from", sql, params)

    def _count_backlog(self) -> None:
        """Count receipts kept before the statistics existed (once; see migration 2)."""
        if not self._read(
            "count old receipts in", "SELECT 1 FROM consent_stats_backlog LIMIT 1", {}
        ):
            return
        with self._transaction("count old receipts in") as conn:
            # Another process may have counted them since: the backlog is then empty.
            for (upto,) in conn.execute("SELECT upto FROM consent_stats_backlog").fetchall():
                conn.execute(_BACKFILL, (upto,))
            conn.execute("DELETE FROM consent_stats_backlog")

    def impression_rows(
        self, since: date, until: date, by: str, revision: int | None, group: str
    ) -> list[tuple[Any, ...]]:
        """Banner views ``(key, n)`` from ``since`` to ``until``, grouped as for statistics."""
        if group == "region":
            return []  # banner views are counted per language, not per region
        params = {"since": since.isoformat(), "until": until.isoformat(), "revision": revision}
        sql = _IMPRESSIONS_QUERY.format(key=_group_key(group, by))
        return self._read("read impressions from", sql, params)

    def add_impressions(self, counts: Mapping[tuple[datetime, int, str], int]) -> None:
        """Add banner views per ``(UTC hour, revision, language)`` in one transaction."""
        rows = [
            (utc(hour).strftime("%Y-%m-%dT%H:00"), revision, language, n)
            for (hour, revision, language), n in counts.items()
            if n
        ]
        if not rows:
            return
        with self._transaction("write impressions to") as conn:
            conn.executemany(_ADD_IMPRESSIONS, rows)

    def close(self) -> None:
        """Close the connection; the store reopens it if used again."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
