"""Consent receipts: proof of what each visitor agreed to, and when."""

from cookieguard.receipts._export import receipts_to_csv, receipts_to_json
from cookieguard.receipts._impressions import ImpressionCounter, impression_counter
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
from cookieguard.receipts._stats import ConsentStats, consent_stats, parse_when
from cookieguard.receipts._stats_html import render_stats_html
from cookieguard.receipts._stats_text import render_stats_text

__all__ = [
    "USER_AGENT_LIMIT",
    "ConsentStats",
    "ImpressionCounter",
    "Method",
    "PostgresStore",
    "Receipt",
    "ReceiptError",
    "ReceiptRejected",
    "ReceiptStore",
    "SQLiteStore",
    "SpooledStore",
    "consent_stats",
    "hash_ip",
    "impression_counter",
    "open_store",
    "parse_age",
    "parse_when",
    "receipts_to_csv",
    "receipts_to_json",
    "render_stats_html",
    "render_stats_text",
]
