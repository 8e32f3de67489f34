"""Receipts record where the visitor was and the rule that applied there (issue 21)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cookieguard.receipts import SQLiteStore, open_store
from cookieguard.receipts._export import receipts_to_csv
from cookieguard.receipts._model import check_receipt, receipt_from_dict, receipt_to_dict
from tests.harness import drivers, make_policy
from tests.receipts._helpers import CONSENT_ID, make_receipt, raw_store

JSON = [("Content-Type", "application/json")]
CA = [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")]


def test_region_and_rule_are_stored_and_read_back(store_url: str) -> None:
    store = raw_store(store_url)
    store.record(make_receipt(region="US-CA", rule="opt-out", seconds=1))
    store.record(make_receipt(seconds=2))  # no geo: both NULL
    history = store.history(CONSENT_ID)
    store.close()
    assert [(r.region, r.rule) for r in history] == [("US-CA", "opt-out"), (None, None)]


def test_a_version_2_sqlite_file_gains_the_columns_and_keeps_its_receipts(tmp_path: Path) -> None:
    from cookieguard.receipts import _sqlite

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        for migration in _sqlite._MIGRATIONS[:2]:
            for statement in migration:
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        columns = (
            "receipt_id, consent_id, time, granted, denied, revision, language, method, path,"
            " user_agent, ip_hash"
        )
        conn.execute(
            f"INSERT INTO receipts ({columns}) VALUES ({', '.join('?' * 11)})",
            _sqlite._row(make_receipt())[:11],
        )
    conn.close()
    store = SQLiteStore(path)
    store.record(make_receipt(seconds=5, region="DE", rule="opt-in"))
    history = store.history(CONSENT_ID)
    store.close()
    assert [(r.region, r.rule) for r in history] == [(None, None), ("DE", "opt-in")]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"region": "us-ca"}, "Receipt.region must be None or a region code"),
        ({"region": "US-CA; DROP"}, "Receipt.region must be None or a region code"),
        ({"rule": "optout"}, "Receipt.rule must be None or one of"),
    ],
)
def test_a_bad_region_or_rule_is_refused_up_front(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_receipt(make_receipt(**fields))


def test_exports_and_old_spool_lines_carry_region_and_rule() -> None:
    receipt = make_receipt(region="US-CA", rule="opt-out")
    data = receipt_to_dict(receipt)
    assert (data["region"], data["rule"]) == ("US-CA", "opt-out")
    assert receipt_from_dict(data) == receipt
    del data["region"], data["rule"]  # a line spooled before regions existed
    assert receipt_from_dict(data).region is None
    header, row = receipts_to_csv([receipt]).splitlines()
    assert header.endswith(",region,rule") and row.endswith(",US-CA,opt-out")


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_the_consent_endpoint_records_the_visitors_region_and_rule(
    adapter: str, tmp_path: Path
) -> None:
    path = tmp_path / "receipts.sqlite3"
    geo = drivers(make_policy(receipts=str(path), region_header="cloudflare"))[adapter]
    body = b'{"action": "save", "categories": ["analytics"], "source": "banner"}'
    saved = geo.request("POST", "/_cookieguard/consent", headers=[*JSON, *CA], body=body)
    assert saved.status == 200
    from_de = geo.request(
        "POST", "/_cookieguard/consent", headers=[*JSON, ("CF-IPCountry", "DE")], body=body
    )
    assert from_de.status == 200
    # Without region_header, a client's header is not a region: the rule is the default.
    plain = drivers(make_policy(receipts=str(path)))[adapter]
    spoofed = plain.request("POST", "/_cookieguard/consent", headers=[*JSON, *CA], body=body)
    assert spoofed.status == 200
    store = open_store(str(path))
    ids = [json.loads(r.body)["consent_id"] for r in (saved, from_de, spoofed)]
    found = [(r.region, r.rule) for i in ids for r in store.history(i)]
    store.close()
    assert found == [("US-CA", "opt-out"), ("DE", "opt-in"), (None, "opt-in")]
