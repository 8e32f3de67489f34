"""A durable local spool that keeps receipts while the real store is down, then replays them."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime

from cookieguard.receipts._model import (
    Receipt,
    ReceiptError,
    ReceiptRejected,
    ReceiptStore,
    check_receipt,
    receipt_from_dict,
    receipt_to_dict,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool file there
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("cookieguard.receipts")

#: At most one replay attempt per this many seconds while the spool is not empty.
DEFAULT_RETRY_INTERVAL = 5.0
#: Receipts per transaction when replaying.
_REPLAY_BATCH = 500


class SpooledStore:
    """Wraps a store so :meth:`record` still succeeds while that store is down.

    When ``primary.record`` raises, one warning names the error and the spool file, and
    the receipt is appended to ``spool_path`` (JSON lines, fsynced per receipt, so it is
    as durable as a database commit). While the spool holds receipts, each ``record()``
    first tries (at most every ``retry_interval`` seconds) to replay them into the primary
    in order; new receipts queue behind them so the order is kept. Replay is idempotent
    (inserts keyed by ``receipt_id``) and the spool is truncated only after every receipt
    in it is committed, so a process killed mid-replay replays again without duplicates.
    If the spool cannot be written either, an error is logged and :class:`ReceiptError`
    is raised.

    A receipt the primary refuses for good (:class:`ReceiptRejected`: a constraint, a
    value the database cannot hold) is not retried: it goes to ``quarantine_path``
    (default: the spool's name with ``.quarantine.jsonl``, each line the receipt plus the
    ``error``) with an error log line, so one bad row never holds up the others. Read them
    with :meth:`quarantined`.

    Several processes may share one spool file: appends and replays hold an ``flock``.

    With a bounded primary (:class:`PostgresStore` gives up after ``max_wait`` seconds),
    one ``record()`` waits at most that long for its own attempt, plus as long again when
    another thread's replay attempt holds the spool; receipts recorded while the store is
    known to be down go straight to the spool.
    """

    def __init__(
        self,
        primary: ReceiptStore,
        spool_path: str | os.PathLike[str],
        *,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        quarantine_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.primary = primary
        self.spool_path = os.path.abspath(os.fspath(spool_path))
        if quarantine_path is None:
            stem = self.spool_path.removesuffix(".jsonl")
            self.quarantine_path = stem + ".quarantine.jsonl"
        else:
            self.quarantine_path = os.path.abspath(os.fspath(quarantine_path))
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._outage = False  # a warning was logged and no replay has succeeded since
        self._next_retry = 0.0

    def __repr__(self) -> str:
        return f"SpooledStore({self.primary!r}, spool_path={self.spool_path!r})"

    # -- the spool file --------------------------------------------------------------------

    def _spool_size(self) -> int:
        try:
            return os.stat(self.spool_path).st_size
        except OSError:  # missing, or unreachable: then appending will say why
            return 0

    def _locked_spool(self) -> contextlib.AbstractContextManager[int]:
        """The spool file, opened for read and append, locked against other processes."""
        return _locked(self.spool_path)

    def _append(self, receipt: Receipt) -> None:
        line = json.dumps(receipt_to_dict(receipt), separators=(",", ":")) + "\n"
        with self._locked_spool() as fd:
            _append_line(fd, line)

    # -- the quarantine --------------------------------------------------------------------

    def _quarantine(self, receipt: Receipt, error: Exception) -> None:
        """Move ``receipt`` aside for good, once, with an error log line naming it."""
        try:
            with _locked(self.quarantine_path) as fd:
                size = os.fstat(fd).st_size
                raw = os.pread(fd, size, 0) if size else b""
                if receipt.receipt_id in _receipt_ids(raw):
                    return  # a replay cut short after quarantining it left it in the spool
                entry = {**receipt_to_dict(receipt), "error": _one_line(error)}
                _append_line(fd, json.dumps(entry, separators=(",", ":")) + "\n")
        except OSError as exc:
            logger.error(
                "consent receipt %s for consent id %s was NOT kept: the store"
                " refused it (%s) and the quarantine file %s failed (%s)",
                receipt.receipt_id,
                receipt.consent_id,
                _one_line(error),
                self.quarantine_path,
                exc,
            )
            raise ReceiptError(
                f"consent receipt not kept: store refused it ({error}) and quarantine"
                f" {self.quarantine_path} failed ({exc})"
            ) from exc
        logger.error(
            "consent receipt %s for consent id %s was refused by %r and will"
            " not be retried (%s); it is kept in %s for a person to look at",
            receipt.receipt_id,
            receipt.consent_id,
            self.primary,
            _one_line(error),
            self.quarantine_path,
        )

    def quarantined(self) -> list[tuple[Receipt, str]]:
        """The receipts the store refused for good, each with the error, oldest first."""
        try:
            with open(self.quarantine_path, "rb") as file:
                raw = file.read()
        except FileNotFoundError:
            return []
        entries = []
        for line in raw.split(b"\n"):
            if line.strip():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    data = json.loads(line)
                    entries.append((receipt_from_dict(data), str(data.get("error", ""))))
        return entries

    def _write_batch(self, batch: list[Receipt]) -> int:
        """Write ``batch`` to the primary; quarantine what it refuses; return how many went in.

        Raises what the primary raises for an outage (the spool then stays as it is).
        """
        record_many = getattr(self.primary, "record_many", None)
        if record_many is not None:
            try:
                record_many(batch)
                return len(batch)
            except (ReceiptRejected, ValueError):
                pass  # one of them is bad: find it, one by one
        stored = 0
        for receipt in batch:
            try:
                check_receipt(receipt)
                self.primary.record(receipt)
            except (ReceiptRejected, ValueError) as exc:
                # ValueError: a spool written by an older version that did not check.
                self._quarantine(receipt, exc)
            else:
                stored += 1
        return stored

    def _read(self, fd: int) -> list[Receipt]:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, size, 0) if size else b""
        receipts = []
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                receipts.append(receipt_from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                # Only a write cut short by a crash looks like this, and its record() never
                # returned, so nobody was told that receipt was kept.
                logger.warning(
                    "skipping unreadable line %d of receipts spool %s (%s)",
                    number,
                    self.spool_path,
                    exc,
                )
        return receipts

    def spooled(self) -> list[Receipt]:
        """The receipts waiting in the spool, in the order they were recorded."""
        if not self._spool_size():
            return []
        with self._locked_spool() as fd:
            return self._read(fd)

    def replay(self) -> int:
        """Move every spooled receipt into the primary store now; return how many went in.

        A receipt the primary refuses for good is quarantined instead (not counted).
        Raises whatever the primary raises for an outage; the spool is then left as it was.
        """
        with self._lock:
            return self._replay()

    def _replay(self) -> int:
        stored = 0
        with self._locked_spool() as fd:
            receipts = self._read(fd)
            for start in range(0, len(receipts), _REPLAY_BATCH):
                stored += self._write_batch(receipts[start : start + _REPLAY_BATCH])
            # Everything is committed in the primary (or quarantined): only now may the
            # spool forget it.
            os.ftruncate(fd, 0)
            os.fsync(fd)
        if receipts or self._outage:
            logger.info(
                "receipts store %r is back; replayed %d receipt(s) from %s",
                self.primary,
                stored,
                self.spool_path,
            )
        self._outage = False
        return stored

    # -- the store -------------------------------------------------------------------------

    def record(self, receipt: Receipt) -> None:
        """Keep ``receipt`` in the primary store, or durably in the spool if that fails."""
        check_receipt(receipt)
        if not self._outage and not self._spool_size():
            try:
                self.primary.record(receipt)
                return
            except ReceiptRejected as exc:
                self._quarantine(receipt, exc)
                return
            except Exception as exc:  # any failure: the visitor's choice must still be kept
                with self._lock:
                    self._spool(receipt, exc)
                return
        with self._lock:
            now = time.monotonic()
            if self._spool_size() and now >= self._next_retry:
                self._next_retry = now + self.retry_interval
                try:
                    self._replay()
                except Exception as exc:
                    self._spool(receipt, exc)
                    return
            if self._spool_size():
                # Still waiting to retry: queue behind the earlier receipts, keeping order.
                self._spool(receipt, None)
                return
            try:
                self.primary.record(receipt)
            except ReceiptRejected as exc:
                self._quarantine(receipt, exc)
                return
            except Exception as exc:
                self._spool(receipt, exc)
                return
            # Another process may have replayed the shared spool for us.
            self._outage = False

    def _spool(self, receipt: Receipt, error: Exception | None) -> None:
        # Called with self._lock held.
        if error is not None:
            self._next_retry = time.monotonic() + self.retry_interval
            if not self._outage:
                self._outage = True
                logger.warning(
                    "cannot write consent receipts to %r (%s: %s); keeping them"
                    " in the local spool %s and replaying them once the store is back",
                    self.primary,
                    type(error).__name__,
                    _one_line(error),
                    self.spool_path,
                )
        try:
            self._append(receipt)
        except OSError as exc:
            logger.error(
                "consent receipt %s for consent id %s was NOT kept: the store"
                " failed (%s) and so did the spool %s (%s)",
                receipt.receipt_id,
                receipt.consent_id,
                _one_line(error),
                self.spool_path,
                exc,
            )
            raise ReceiptError(
                f"consent receipt not kept: store failed ({error}) and spool"
                f" {self.spool_path} failed ({exc})"
            ) from exc

    def history(self, consent_id: str) -> Sequence[Receipt]:
        """Receipts for ``consent_id`` from the store plus any still spooled, oldest first."""
        stored = list(self.primary.history(consent_id))
        known = {receipt.receipt_id for receipt in stored}
        waiting = [
            receipt
            for receipt in self.spooled()
            if receipt.consent_id == consent_id and receipt.receipt_id not in known
        ]
        if not waiting:
            return stored
        # sorted() is stable: equal times keep store order, then spool order.
        return sorted(stored + waiting, key=lambda receipt: receipt.time)

    def purge(self, older_than: datetime) -> int:
        """Purge the primary store (spooled receipts are purged once replayed)."""
        return self.primary.purge(older_than)

    def close(self) -> None:
        """Close the primary store (the spool file is only open while in use)."""
        self.primary.close()


def _one_line(error: BaseException | None) -> str:
    # libpq errors span several lines; a log line should not.
    return " ".join(str(error).split())


def _receipt_ids(raw: bytes) -> set[str]:
    ids = set()
    for line in raw.split(b"\n"):
        with contextlib.suppress(ValueError, AttributeError):
            ids.add(str(json.loads(line).get("receipt_id")))
    return ids


@contextlib.contextmanager
def _locked(path: str) -> Iterator[int]:
    """``path`` opened for read and append (created if missing), under an exclusive flock."""
    created = not os.path.exists(path)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if created:
            # The new directory entry must reach the disk too, or a crash could lose
            # the whole file even though its contents were fsynced.
            _fsync_dir(os.path.dirname(path))
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing drops the flock


def _append_line(fd: int, line: str) -> None:
    """Append one JSON line to the locked file ``fd`` and fsync it."""
    size = os.fstat(fd).st_size
    # A process killed mid-write leaves a partial last line; start on a fresh
    # line so that torn record cannot swallow this one.
    if size and os.pread(fd, 1, size - 1) != b"\n":
        line = "\n" + line
    data = line.encode()
    written = os.write(fd, data)
    if written != len(data):
        raise OSError(f"short write ({written} of {len(data)} bytes)")
    os.fsync(fd)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
