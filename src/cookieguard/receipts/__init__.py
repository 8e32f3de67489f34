"""Consent receipts: proof of what each visitor agreed to, and when."""

from cookieguard.receipts._export import receipts_to_csv, receipts_to_json
from cookieguard.receipts._model import (
    USER_AGENT_LIMIT,
    Method,
    Receipt,
    ReceiptError,
    ReceiptRejected,
    ReceiptStore,
    hash_ip,
)
from cookieguard.receipts._open import open_store
from cookieguard.receipts._postgres import PostgresStore
from cookieguard.receipts._retention import parse_age
from cookieguard.receipts._spool import SpooledStore
from cookieguard.receipts._sqlite import SQLiteStore

__all__ = [
    "USER_AGENT_LIMIT",
    "Method",
    "PostgresStore",
    "Receipt",
    "ReceiptError",
    "ReceiptRejected",
    "ReceiptStore",
    "SQLiteStore",
    "SpooledStore",
    "hash_ip",
    "open_store",
    "parse_age",
    "receipts_to_csv",
    "receipts_to_json",
]
