"""Pure helpers: retention ages, IP hashing, JSON and CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from cookieguard.receipts import hash_ip, parse_age, receipts_to_csv, receipts_to_json
from cookieguard.receipts._model import receipt_from_dict
from tests.receipts._helpers import make_receipt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("48h", timedelta(hours=48)),
        ("30d", timedelta(days=30)),
        ("12w", timedelta(weeks=12)),
        ("1y", timedelta(days=365.2425)),
        ("13mo", timedelta(days=365.2425 * 13 / 12)),
        (" 2Y ", timedelta(days=2 * 365.2425)),
    ],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected


def test_thirteen_months_is_longer_than_thirteen_thirty_day_months() -> None:
    assert timedelta(days=395) < parse_age("13mo") < timedelta(days=396)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid age ''"),
        ("13", "expected a whole number and a unit"),
        ("13m", "use 'mo' for months"),
        ("0d", "greater than zero"),
        ("-1d", "invalid age"),
        ("1.5y", "invalid age"),
        ("1y6mo", "invalid age"),
        ("10000000d", "invalid age"),
        ("d", "invalid age"),
        ("٣d", "invalid age"),  # Arabic-Indic digit: int() would take it, we do not
    ],
)
def test_parse_age_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_age(text)


def test_hash_ip_is_keyed_and_normalised() -> None:
    digest = hash_ip("2001:DB8::1", "key-1")
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert hash_ip("2001:db8:0:0::1", "key-1") == digest
    assert hash_ip("2001:db8::1", b"key-2") != digest
    assert hash_ip("192.0.2.1", "key-1") != hash_ip("192.0.2.2", "key-1")
    assert hash_ip("unix:/run/app.sock", "key-1") == hash_ip(" unix:/run/app.sock ", "key-1")
    with pytest.raises(ValueError, match="non-empty secret key"):
        hash_ip("192.0.2.1", "")


def test_json_export_round_trips() -> None:
    receipts = [make_receipt(seconds=0), make_receipt(seconds=1, ip_hash="ab" * 32, granted=())]
    data = json.loads(receipts_to_json(receipts))
    assert [receipt_from_dict(item) for item in data] == receipts
    assert receipts_to_json([]) == "[]\n"


def test_csv_export_columns_and_formula_guard() -> None:
    receipt = make_receipt(
        path="+cmd|' /C calc'!A0", language="@SUM(1)", consent_id="-starts-with-dash-0"
    )
    (row,) = csv.DictReader(io.StringIO(receipts_to_csv([receipt])))
    assert row["path"] == "'+cmd|' /C calc'!A0" and row["language"] == "'@SUM(1)"
    assert row["consent_id"] == "-starts-with-dash-0"  # ids are ours: never altered
    assert row["denied"] == "marketing" and row["revision"] == "3"
    assert receipts_to_csv([]).splitlines() == [
        "receipt_id,consent_id,time,granted,denied,revision,language,method,path,user_agent,ip_hash,"
        "region,rule"
    ]
