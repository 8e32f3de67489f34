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

    Several processes may share one spool file: appends hold an ``flock`` on it for the
    length of one append; one replay at a time (per spool, across processes) holds
    ``<spool>.replay.lock`` and takes the spool's lock only to read it and, at the end, to
    drop what it replayed (receipts appended meanwhile are kept).

    One ``record()`` waits at most ``max_wait`` seconds (the primary's own ``max_wait``, for
    :class:`PostgresStore` its three timeouts; a SQLite file's ``busy_timeout``), plus one
    fsynced append: a receipt recorded while the store is known to be down (or while older
    receipts wait) is appended to the spool, and the replay runs in a background thread that
    ``record()`` waits for only while its ``max_wait`` lasts.
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
        self.max_wait = float(
            getattr(primary, "max_wait", None) or getattr(primary, "busy_timeout", None) or 10.0
        )
        self._lock = threading.Lock()  # one replay at a time in this process
        self._state = threading.Lock()  # _outage and _next_retry; never held during I/O
        self._outage = False  # a warning was logged and no replay has succeeded since
        self._next_retry = 0.0
        self._replayer: threading.Thread | None = None

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

    def _replay_lock(self) -> contextlib.AbstractContextManager[int]:
        """Held for a whole replay: one replay of this spool at a time, across processes."""
        return _locked(self.spool_path.removesuffix(".jsonl") + ".replay.lock")

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

    def retry_quarantined(self) -> tuple[int, int]:
        """Offer every quarantined receipt to the primary store again (after a fix: a column
        widened, a constraint changed); return how many went in and how many it still refuses.

        What went in leaves the quarantine file; what is refused again stays, with the new
        error. An outage raises (the file is then left as it was: replaying it again is safe,
        stores insert by ``receipt_id``).
        """
        stored = 0
        kept: list[bytes] = []
        with _locked(self.quarantine_path) as fd:
            size = os.fstat(fd).st_size
            raw = os.pread(fd, size, 0) if size else b""
            for line in raw.split(b"\n"):
                if not line.strip():
                    continue
                try:
                    receipt = receipt_from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    kept.append(line)  # not ours to judge: a person looks at it
                    continue
                try:
                    check_receipt(receipt)
                    self.primary.record(receipt)
                except (ReceiptRejected, ValueError) as exc:
                    entry = {**receipt_to_dict(receipt), "error": _one_line(exc)}
                    kept.append(json.dumps(entry, separators=(",", ":")).encode())
                else:
                    stored += 1
            _replace(self.quarantine_path, b"".join(line + b"\n" for line in kept))
        if stored:
            logger.info(
                "%d quarantined receipt(s) stored in %r; %d still refused",
                stored,
                self.primary,
                len(kept),
            )
        return stored, len(kept)

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
        return [receipt for receipt, _ in self._parse(raw)]

    def _parse(self, raw: bytes) -> list[tuple[Receipt, int]]:
        """The receipts in ``raw``, each with the offset just past its line."""
        receipts = []
        offset = 0
        for number, line in enumerate(raw.split(b"\n"), start=1):
            offset += len(line) + 1
            if not line.strip():
                continue
            try:
                receipts.append((receipt_from_dict(json.loads(line)), min(offset, len(raw))))
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
        Raises whatever the primary raises for an outage; the spool then keeps every receipt
        not yet committed.
        """
        with self._lock, self._replay_lock():
            return self._replay()

    def _replay(self) -> int:
        # The spool's own lock is held only to read it and to drop what went in: appends
        # (other threads' record()) never wait for the primary.
        with self._locked_spool() as fd:
            size = os.fstat(fd).st_size
            raw = os.pread(fd, size, 0) if size else b""
        receipts = self._parse(raw)
        stored = done = 0
        try:
            for start in range(0, len(receipts), _REPLAY_BATCH):
                batch = receipts[start : start + _REPLAY_BATCH]
                stored += self._write_batch([receipt for receipt, _ in batch])
                done = batch[-1][1]
            done = size  # every line read (a torn one skipped) is dealt with
        finally:
            # What is committed in the primary (or quarantined), and only that, may go.
            if done:
                self._drop(done)
        if receipts or self._outage:
            logger.info(
                "receipts store %r is back; replayed %d receipt(s) from %s",
                self.primary,
                stored,
                self.spool_path,
            )
        self._outage = False
        return stored

    def _drop(self, offset: int) -> None:
        """Forget the spool's first ``offset`` bytes (replayed), keeping what follows."""
        with self._locked_spool() as fd:
            size = os.fstat(fd).st_size
            if size <= offset:
                os.ftruncate(fd, 0)
                os.fsync(fd)
                return
            rest = os.pread(fd, size - offset, offset)
            if fcntl is None:  # pragma: no cover - Windows: an open file cannot be renamed over
                os.ftruncate(fd, 0)
                os.write(fd, rest)
                os.fsync(fd)
                return
            # Receipts were appended during the replay: the rest goes to a new file that
            # replaces the spool in one rename (a crash leaves the old file or the new one);
            # a writer waiting for the old file's lock sees it was replaced and reopens.
            _replace(self.spool_path, rest)

    # -- the store -------------------------------------------------------------------------

    def record(self, receipt: Receipt) -> None:
        """Keep ``receipt`` in the primary store, or durably in the spool if that fails.

        Waits at most :attr:`max_wait` seconds plus one fsynced append (see the class).
        """
        check_receipt(receipt)
        started = time.monotonic()
        if not self._outage and not self._spool_size():
            try:
                self.primary.record(receipt)
                return
            except ReceiptRejected as exc:
                self._quarantine(receipt, exc)
                return
            except Exception as exc:  # any failure: the visitor's choice must still be kept
                self._spool(receipt, exc)
                return
        # The store is down or older receipts wait: queue behind them (order is kept), then
        # let a replay run if one is due, waiting for it only while max_wait lasts.
        self._spool(receipt, None)
        replayer = self._start_replay()
        if replayer is not None:
            replayer.join(max(0.0, self.max_wait - (time.monotonic() - started)))

    def _start_replay(self) -> threading.Thread | None:
        with self._state:
            now = time.monotonic()
            running = self._replayer is not None and self._replayer.is_alive()
            if running or now < self._next_retry or not self._spool_size():
                return None
            self._next_retry = now + self.retry_interval
            self._replayer = threading.Thread(
                target=self._background_replay, name="cookieguard-receipts-replay", daemon=True
            )
            self._replayer.start()
            return self._replayer

    def _background_replay(self) -> None:
        try:
            with self._lock, self._replay_lock():
                self._replay()
        except Exception as exc:  # an outage still: the receipts stay in the spool
            self._failed(exc)

    def _failed(self, error: Exception) -> None:
        """Note an outage of the primary: retry later, warn once per outage."""
        with self._state:
            self._next_retry = time.monotonic() + self.retry_interval
            if self._outage:
                return
            self._outage = True
        logger.warning(
            "cannot write consent receipts to %r (%s: %s); keeping them"
            " in the local spool %s and replaying them once the store is back",
            self.primary,
            type(error).__name__,
            _one_line(error),
            self.spool_path,
        )

    def _spool(self, receipt: Receipt, error: Exception | None) -> None:
        if error is not None:
            self._failed(error)
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
    """``path`` opened for read and append (created if missing), under an exclusive flock.

    A replay may replace the file (see ``SpooledStore._drop``) while this waits for the lock:
    then the lock is on a file nobody reads any more, so it opens the path again.
    """
    while True:
        created = not os.path.exists(path)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if created:
                # The new directory entry must reach the disk too, or a crash could lose
                # the whole file even though its contents were fsynced.
                _fsync_dir(os.path.dirname(path))
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
        except BaseException:
            os.close(fd)
            raise
        if current:
            break
        os.close(fd)
    try:
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


def _replace(path: str, data: bytes) -> None:
    """Make ``data`` the content of ``path`` in one rename (a crash leaves the old file or the
    new one); a writer waiting for the old file's lock sees it was replaced and reopens."""
    temporary = path + ".tmp"
    out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if data and os.write(out, data) != len(data):
            raise OSError(f"short write to {temporary}")
        os.fsync(out)
    finally:
        os.close(out)
    os.replace(temporary, path)
    _fsync_dir(os.path.dirname(path))


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows, where directories cannot be opened
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
