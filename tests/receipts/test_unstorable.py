"""Values a store cannot keep (issue 15, item 10): cleaned before writing, never a stuck spool.

A User-Agent with a NUL byte used to fail in PostgreSQL ("text fields cannot contain NUL"),
go to the spool, and block every later replay: 1 row stored, 6 stuck. What the visitor
sends is now cleaned before it is stored, and a spooled row that a store refuses for good
is moved aside to a quarantine file with a log line instead of holding up the rest.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from cookieguard.receipts import ReceiptRejected, SpooledStore, open_store
from cookieguard.receipts._model import (
    LANGUAGE_LIMIT,
    PATH_LIMIT,
    USER_AGENT_LIMIT,
    receipt_to_dict,
)
from tests.receipts._helpers import CONSENT_ID, make_receipt, raw_store
from tests.receipts.test_stores import count_rows


def errors_from(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "cookieguard.receipts" and record.levelno >= logging.ERROR
    ]


def test_nul_in_user_agent_neither_fails_nor_blocks_the_spool(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The attack as measured: the second of seven receipts carries a NUL byte.
    spool = tmp_path / "spool.jsonl"
    store = open_store(store_url, spool_path=spool, retry_interval=0)
    receipts = [make_receipt(seconds=n) for n in range(7)]
    receipts[1] = make_receipt(seconds=1, user_agent="Mozilla/5.0\x00<evil>")
    for receipt in receipts:
        store.record(receipt)
    assert isinstance(store, SpooledStore)
    assert store.spooled() == []
    assert count_rows(store_url) == (7, 7)
    kept = store.history(CONSENT_ID)
    assert [r.receipt_id for r in kept] == [r.receipt_id for r in receipts]
    assert kept[1].user_agent == "Mozilla/5.0<evil>"
    assert errors_from(caplog) == []
    store.close()


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("user_agent", "a\x00b\tc\r\nd\x1be\x7ff\x85g", "abcdefg"),
        ("user_agent", "caf\udce9 bar", "caf? bar"),  # lone surrogate (surrogateescape)
        ("user_agent", "Ünïcödé 😀 ok", "Ünïcödé 😀 ok"),  # printable text is kept
        ("user_agent", "x" * 1000, "x" * USER_AGENT_LIMIT),
        ("path", "/a\x00b?q=\r\n1", "/ab?q=1"),
        ("path", "/" + "p" * 5000, "/" + "p" * (PATH_LIMIT - 1)),
        ("language", "de\x00", "de"),
        ("language", "x" * 100, "x" * LANGUAGE_LIMIT),
    ],
)
def test_visitor_text_is_cleaned_before_it_is_stored(
    store_url: str, field: str, sent: str, stored: str
) -> None:
    store = raw_store(store_url)
    fields: dict[str, Any] = {field: sent}
    store.record(make_receipt(**fields))
    (kept,) = store.history(CONSENT_ID)
    assert getattr(kept, field) == stored
    store.close()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"consent_id": "id\x00"}, "consent_id"),
        ({"consent_id": "a b"}, "consent_id"),
        ({"consent_id": "x" * 129}, "consent_id"),
        ({"receipt_id": "r\n"}, "receipt_id"),
        ({"granted": ("analytics\x00",)}, "granted"),
        ({"denied": ("Marketing",)}, "denied"),
        ({"revision": 2**31}, "revision"),
        ({"revision": -1}, "revision"),
        ({"ip_hash": "ab\x00"}, "ip_hash"),
        ({"ip_hash": "a" * 200}, "ip_hash"),
    ],
)
def test_identifiers_that_no_store_can_keep_are_refused_up_front(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    # Ours, not the visitor's: a bad one is a caller's bug, refused before anything is
    # written so it can never reach the spool.
    spool = tmp_path / "spool.jsonl"
    store = open_store(str(tmp_path / "r.sqlite3"), spool_path=spool)
    with pytest.raises(ValueError, match=message):
        store.record(make_receipt(**fields))
    assert not spool.exists()
    store.close()


def test_a_spool_left_by_an_older_version_with_nul_rows_replays(
    store_url: str, tmp_path: Path
) -> None:
    # cookieguard 0.1 spooled receipts as they came, NUL and all; they must not stay stuck.
    spool = tmp_path / "spool.jsonl"
    receipts = [make_receipt(seconds=n) for n in range(5)]
    lines = [receipt_to_dict(receipt) for receipt in receipts]
    lines[0]["user_agent"] = "Mozilla\x00/5.0"
    lines[3]["path"] = "/x\x00y"
    spool.write_text("".join(json.dumps(line) + "\n" for line in lines))
    store = open_store(store_url, spool_path=spool, retry_interval=0)
    assert store.history(CONSENT_ID)  # spooled ones are visible before the replay
    assert isinstance(store, SpooledStore)
    assert store.replay() == 5
    assert spool.stat().st_size == 0
    kept = store.history(CONSENT_ID)
    assert (kept[0].user_agent, kept[0].path) == ("Mozilla/5.0", "/photos?p=1")
    assert kept[3].path == "/xy"
    assert count_rows(store_url) == (5, 5)
    store.close()


def _refuse_path(pg_url: str, path: str) -> None:
    """A rule the table will always enforce, as a DBA might add one."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE cookieguard_receipts ADD CONSTRAINT no_forbidden_path"
            f" CHECK (path <> '{path}')"
        )


def test_a_row_the_store_always_refuses_is_quarantined_not_retried_forever(
    pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool.jsonl"
    store = open_store(pg_url, spool_path=spool, retry_interval=0)
    assert isinstance(store, SpooledStore)
    store.record(make_receipt(seconds=0))  # creates the schema
    _refuse_path(pg_url, "/forbidden")
    # Queue receipts in the spool (as an outage would), one of them unwritable.
    receipts = [make_receipt(seconds=n) for n in range(1, 7)]
    receipts[2] = make_receipt(seconds=3, path="/forbidden")
    spool.write_text("".join(json.dumps(receipt_to_dict(receipt)) + "\n" for receipt in receipts))
    assert store.replay() == 5
    assert spool.stat().st_size == 0
    assert count_rows(pg_url) == (6, 6)
    ((quarantined, error),) = store.quarantined()
    assert quarantined == receipts[2]
    assert "no_forbidden_path" in error
    (logged,) = errors_from(caplog)
    assert receipts[2].receipt_id in logged and store.quarantine_path in logged
    # A receipt refused on first write goes straight to quarantine, not into the spool.
    direct = make_receipt(seconds=9, path="/forbidden")
    store.record(direct)
    store.record(make_receipt(seconds=10))
    assert store.spooled() == []
    assert [r for r, _ in store.quarantined()] == [receipts[2], direct]
    assert count_rows(pg_url) == (7, 7)
    store.close()


def test_quarantine_is_idempotent_when_a_replay_is_interrupted(pg_url: str, tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    store = open_store(pg_url, spool_path=spool, retry_interval=0)
    assert isinstance(store, SpooledStore)
    store.record(make_receipt(seconds=0))
    _refuse_path(pg_url, "/forbidden")
    bad = make_receipt(seconds=1, path="/forbidden")
    text = json.dumps(receipt_to_dict(bad)) + "\n"
    # The same refused row twice, as a replay interrupted after quarantining it leaves it.
    spool.write_text(text + text)
    assert store.replay() == 0
    assert store.replay() == 0
    assert [r for r, _ in store.quarantined()] == [bad]
    store.close()


def test_receipt_rejected_is_a_receipt_error(pg_url: str) -> None:
    store = raw_store(pg_url)
    store.record(make_receipt(seconds=0))
    _refuse_path(pg_url, "/forbidden")
    with pytest.raises(ReceiptRejected, match="no_forbidden_path"):
        store.record(make_receipt(seconds=1, path="/forbidden"))
    store.close()


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_consent_posts_with_nul_headers_are_all_stored(
    adapter: str, pg_url: str, tmp_path: Path
) -> None:
    # The attack end to end, through the middleware into PostgreSQL.
    from cookieguard import asgi, wsgi
    from tests.harness import AsgiDriver, Driver, WsgiDriver, asgi_app, make_policy, wsgi_app

    spool = tmp_path / "spool.jsonl"
    store = open_store(pg_url, spool_path=spool, retry_interval=0)
    policy = make_policy()
    driver: Driver = (
        AsgiDriver(asgi.ConsentMiddleware(asgi_app, policy=policy, receipts=store))
        if adapter == "asgi"
        else WsgiDriver(wsgi.ConsentMiddleware(wsgi_app, policy, receipts=store))
    )
    for user_agent in ["Mozilla/5.0\x00evil", "curl/8.0", "Mozilla/5.0 \x01\x7f(X11)", "ok"]:
        reply = driver.request(
            "POST",
            "/_cookieguard/consent",
            headers=[("Content-Type", "application/json"), ("User-Agent", user_agent)],
            body=b'{"action": "accept_all"}',
        )
        assert reply.status == 200
    store.close()
    assert count_rows(pg_url) == (4, 4)
    assert not spool.exists() or spool.stat().st_size == 0
