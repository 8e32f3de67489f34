"""Receipts as JSON or CSV, for a data subject access request or an auditor."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from cookieguard.receipts._model import Receipt, receipt_to_dict

#: CSV columns, in order.
CSV_FIELDS = (
    "receipt_id",
    "consent_id",
    "time",
    "granted",
    "denied",
    "revision",
    "language",
    "method",
    "path",
    "user_agent",
    "ip_hash",
    "region",
    "rule",
)

# Path, user agent and language come from the visitor. A cell starting with one of these
# is run as a formula by spreadsheet programs (OWASP "CSV injection"), so it gets a
# leading apostrophe in CSV output. Ids and categories are ours and are left as they are.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_VISITOR_FIELDS = frozenset({"path", "user_agent", "language"})


def receipts_to_json(receipts: Iterable[Receipt]) -> str:
    """A JSON array of receipts (ISO 8601 UTC times, categories as lists), indented."""
    return json.dumps([receipt_to_dict(receipt) for receipt in receipts], indent=2) + "\n"


def receipts_to_csv(receipts: Iterable[Receipt]) -> str:
    """CSV with a header row; categories are space-separated; no ``ip_hash`` is ``""``.

    Visitor-supplied cells that a spreadsheet would run as a formula are prefixed with
    ``'``.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for receipt in receipts:
        data = receipt_to_dict(receipt)
        data["granted"] = " ".join(data["granted"])
        data["denied"] = " ".join(data["denied"])
        data["ip_hash"] = data["ip_hash"] or ""
        data["region"] = data["region"] or ""
        data["rule"] = data["rule"] or ""
        for name in _VISITOR_FIELDS:
            if str(data[name]).startswith(_FORMULA_START):
                data[name] = "'" + data[name]
        writer.writerow([data[name] for name in CSV_FIELDS])
    return out.getvalue()
