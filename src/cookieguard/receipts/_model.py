"""The receipt record and the interface every receipt store keeps."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, cast, get_args

#: How a consent change was given.
Method = Literal["banner", "preferences", "api", "gpc"]

#: User agents are cut to this many characters before they are stored.
USER_AGENT_LIMIT = 200
#: Paths are cut to this many characters before they are stored.
PATH_LIMIT = 1024
#: Language tags are cut to this many characters (RFC 5646 section 4.4.1: 35 is enough for
#: every tag a registry can produce).
LANGUAGE_LIMIT = 35

_METHODS: frozenset[str] = frozenset(get_args(Method))
# Ids are ours (uuid hex, secrets.token_urlsafe, HMAC hex): visible ASCII, bounded.
_IDENTIFIER = re.compile(r"[\x21-\x7e]{1,128}")
# The same grammar as Policy's category names.
_CATEGORY = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# A choice per vendor beside the categories (issue 24): "vendor:YouTube".
_VENDOR = re.compile(r"vendor:[^\x00-\x1f\x7f]{1,64}")
# PostgreSQL ``integer``; SQLite would take more, but a receipt must fit every store.
_REVISION_MAX = 2**31 - 1
# Where the visitor was (ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision) and
# the rule that applied there (cookieguard.core._regions; this layer sits below the core).
_REGION = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
_RULES = frozenset({"opt-in", "opt-out", "notice"})
# Unicode category Cc: C0 controls (NUL among them), DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def _new_receipt_id() -> str:
    return uuid.uuid4().hex


class ReceiptError(Exception):
    """A receipt could not be kept or read.

    Raised when both the store and its local spool fail on ``record()``, and when a
    store cannot be read (``history``/``purge``). The middleware still sets the visitor's
    cookie: the page never fails because the log is down.
    """


class ReceiptRejected(ReceiptError):
    """The store refused this receipt and will refuse it again: its data is at fault.

    Raised by a store's ``record``/``record_many`` for a permanent error (a constraint,
    a value the database cannot hold), as opposed to an outage (connection refused, a
    timeout), which a later retry can cure. :class:`SpooledStore` quarantines such a
    receipt instead of retrying it forever.
    """


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of one consent change (GDPR Art. 7(1)).

    ``consent_id`` is the random id inside the visitor's signed cookie; it is the only
    subject identifier kept. No raw IP address is stored.

    ``receipt_id`` identifies this one record. Stores use it as their primary key and
    insert idempotently, so a receipt replayed from the local spool is never stored twice.

    ``region`` is where the visitor was, as the site's trusted region header said (``"US-CA"``;
    ``None``: unknown, or the site reads no region); ``rule`` the rule that applied there
    before the choice (``"opt-in"``, ``"opt-out"``, ``"notice"``; ``None`` in receipts kept
    before regions existed).
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
    region: str | None = None
    rule: str | None = None


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
    and block the replay of good ones. Only the fields the site controls are checked here;
    the visitor's text (path, user agent, language) is cleaned instead, see
    :func:`clean_text`.
    """
    if receipt.time.tzinfo is None or receipt.time.utcoffset() is None:
        raise ValueError(f"Receipt.time must be timezone-aware (UTC), got {receipt.time!r}")
    if not receipt.consent_id:
        raise ValueError("Receipt.consent_id must not be empty")
    if not receipt.receipt_id:
        raise ValueError("Receipt.receipt_id must not be empty")
    for name in ("consent_id", "receipt_id"):
        value = getattr(receipt, name)
        if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
            raise ValueError(
                f"Receipt.{name} must be 1 to 128 visible ASCII characters, got {value!r}"
            )
    if receipt.ip_hash is not None and not (
        isinstance(receipt.ip_hash, str) and _IDENTIFIER.fullmatch(receipt.ip_hash)
    ):
        raise ValueError(
            "Receipt.ip_hash must be None or up to 128 visible ASCII characters"
            f" (see hash_ip), got {receipt.ip_hash!r}"
        )
    if receipt.region is not None and not (
        isinstance(receipt.region, str) and _REGION.fullmatch(receipt.region)
    ):
        raise ValueError(
            f"Receipt.region must be None or a region code like 'US-CA', got {receipt.region!r}"
        )
    if receipt.rule is not None and receipt.rule not in _RULES:
        raise ValueError(
            f"Receipt.rule must be None or one of {sorted(_RULES)}, got {receipt.rule!r}"
        )
    if receipt.method not in _METHODS:
        raise ValueError(
            f"Receipt.method must be one of {sorted(_METHODS)}, got {receipt.method!r}"
        )
    for name in ("granted", "denied"):
        for category in getattr(receipt, name):
            if not isinstance(category, str) or not (
                _CATEGORY.fullmatch(category) or _VENDOR.fullmatch(category)
            ):
                raise ValueError(
                    f"Receipt.{name} holds {category!r}, which is not a category name"
                    " (lower-case letters, digits, - and _, up to 32 characters)"
                    " nor a vendor's ('vendor:' and its name, up to 64 characters)"
                )
    if (
        not isinstance(receipt.revision, int)
        or isinstance(receipt.revision, bool)
        or not 0 <= receipt.revision <= _REVISION_MAX
    ):
        raise ValueError(
            f"Receipt.revision must be an integer from 0 to {_REVISION_MAX},"
            f" got {receipt.revision!r}"
        )


def clean_text(value: str, limit: int) -> str:
    """``value`` as every store can keep it: no control characters, valid UTF-8, bounded.

    Visitor-supplied text (User-Agent, path, language) may hold anything a client sends.
    PostgreSQL refuses NUL in ``text``, and a lone surrogate (what ``surrogateescape``
    decoding leaves for undecodable bytes) cannot be encoded for either database, so both
    would fail the same way on every retry. Controls (Unicode category Cc: C0, DEL, C1)
    are dropped, lone surrogates become ``?``, and the result is cut to ``limit``
    characters.
    """
    cleaned = _CONTROL.sub("", value)
    if not cleaned.isascii():
        cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return cleaned[:limit]


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; naive datetimes are refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def receipt_to_dict(receipt: Receipt) -> dict[str, Any]:
    """A JSON-ready mapping of ``receipt``: ISO 8601 UTC time, lists, visitor text cleaned.

    Both stores and the spool write what this returns, so what the visitor sent is cleaned
    (:func:`clean_text`) the same way wherever it is kept.
    """
    return {
        "receipt_id": receipt.receipt_id,
        "consent_id": receipt.consent_id,
        "time": utc(receipt.time).isoformat(timespec="microseconds"),
        "granted": list(receipt.granted),
        "denied": list(receipt.denied),
        "revision": receipt.revision,
        "language": clean_text(receipt.language, LANGUAGE_LIMIT),
        "method": receipt.method,
        "path": clean_text(receipt.path, PATH_LIMIT),
        "user_agent": clean_text(receipt.user_agent, USER_AGENT_LIMIT),
        "ip_hash": receipt.ip_hash,
        "region": receipt.region,
        "rule": receipt.rule,
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
        # Receipts spooled or exported before regions existed have neither.
        region=None if data.get("region") is None else str(data["region"]),
        rule=None if data.get("rule") is None else str(data["rule"]),
    )
