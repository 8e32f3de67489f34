"""The receipt record and the interface every receipt store keeps."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, cast, get_args

#: How a consent change was given.
Method = Literal["banner", "preferences", "api", "gpc"]

#: User agents are cut to this many characters before they are stored.
USER_AGENT_LIMIT = 200

_METHODS: frozenset[str] = frozenset(get_args(Method))


def _new_receipt_id() -> str:
    return uuid.uuid4().hex


class ReceiptError(Exception):
    """A receipt could not be kept or read.

    Raised when both the store and its local spool fail on ``record()``, and when a
    store cannot be read (``history``/``purge``). The middleware still sets the visitor's
    cookie: the page never fails because the log is down.
    """


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one consent change (GDPR Art. 7(1)).

    ``consent_id`` is the random id inside the visitor's signed cookie; it is the only
    subject identifier kept. No raw IP address is stored.

    ``receipt_id`` identifies this one record. Stores use it as their primary key and
    insert idempotently, so a receipt replayed from the local spool is never stored twice.
    """

    consent_id: str
    time: datetime  # timezone-aware, UTC
    granted: tuple[str, ...]
    denied: tuple[str, ...]
    revision: int
    language: str
    method: Method
    path: str
    user_agent: str
    ip_hash: str | None = None
    receipt_id: str = field(default_factory=_new_receipt_id)


class ReceiptStore(Protocol):
    """Where receipts are kept. Implementations are synchronous and thread-safe."""

    def record(self, receipt: Receipt) -> None:
        """Keep ``receipt`` durably before returning.

        If the backing store is unreachable the receipt goes to a local durable spool
        (replayed later) and this returns normally: a visitor's choice never fails
        because the log is down.
        """

    def history(self, consent_id: str) -> Sequence[Receipt]:
        """All receipts for ``consent_id``, oldest first."""

    def purge(self, older_than: datetime) -> int:
        """Delete receipts older than ``older_than``; return how many were deleted."""

    def close(self) -> None:
        """Release connections and files."""


def hash_ip(ip: str, key: str | bytes) -> str:
    """Return a keyed HMAC-SHA256 (hex) of the visitor's IP address, for ``Receipt.ip_hash``.

    Off by default: only call this if the site has a reason to keep it. A plain hash of an
    IPv4 address is reversible by brute force in minutes, hence the secret ``key``; keep the
    key out of the receipts database. The address is normalised first (``2001:DB8::1`` and
    ``2001:db8:0::1`` hash alike); a value that is not an IP address (a unix socket name)
    is hashed as given.
    """
    if not key:
        raise ValueError("hash_ip needs a non-empty secret key: an unkeyed IP hash is reversible")
    key_bytes = key.encode() if isinstance(key, str) else key
    text = ip.strip()
    with contextlib.suppress(ValueError):  # not an IP address: hash it as given
        text = ipaddress.ip_address(text).compressed
    return hmac.new(key_bytes, text.encode(), hashlib.sha256).hexdigest()


def check_receipt(receipt: Receipt) -> None:
    """Raise ``ValueError`` for a receipt no store should accept (a caller's bug).

    Checked before anything is written, so a bad receipt can never get stuck in the spool
    and block the replay of good ones.
    """
    if receipt.time.tzinfo is None or receipt.time.utcoffset() is None:
        raise ValueError(f"Receipt.time must be timezone-aware (UTC), got {receipt.time!r}")
    if not receipt.consent_id:
        raise ValueError("Receipt.consent_id must not be empty")
    if not receipt.receipt_id:
        raise ValueError("Receipt.receipt_id must not be empty")
    if receipt.method not in _METHODS:
        raise ValueError(
            f"Receipt.method must be one of {sorted(_METHODS)}, got {receipt.method!r}"
        )


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def receipt_to_dict(receipt: Receipt) -> dict[str, Any]:
    """A JSON-ready mapping of ``receipt``: ISO 8601 UTC time, lists, user agent cut."""
    return {
        "receipt_id": receipt.receipt_id,
        "consent_id": receipt.consent_id,
        "time": utc(receipt.time).isoformat(timespec="microseconds"),
        "granted": list(receipt.granted),
        "denied": list(receipt.denied),
        "revision": receipt.revision,
        "language": receipt.language,
        "method": receipt.method,
        "path": receipt.path,
        "user_agent": receipt.user_agent[:USER_AGENT_LIMIT],
        "ip_hash": receipt.ip_hash,
    }


def receipt_from_dict(data: Mapping[str, Any]) -> Receipt:
    """The inverse of :func:`receipt_to_dict`."""
    return Receipt(
        receipt_id=str(data["receipt_id"]),
        consent_id=str(data["consent_id"]),
        time=utc(datetime.fromisoformat(data["time"])),
        granted=tuple(str(name) for name in data["granted"]),
        denied=tuple(str(name) for name in data["denied"]),
        revision=int(data["revision"]),
        language=str(data["language"]),
        method=cast(Method, data["method"]),
        path=str(data["path"]),
        user_agent=str(data["user_agent"]),
        ip_hash=None if data["ip_hash"] is None else str(data["ip_hash"]),
    )
