"""``cookieguard receipts quarantine [list|retry]``: the receipts a store refused for good, shown
and offered again once the store is fixed (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cookieguard import cli
from cookieguard.receipts import SpooledStore, SQLiteStore
from cookieguard.receipts._model import receipt_to_dict
from tests.receipts._helpers import CONSENT_ID, make_receipt


def create(path: Path) -> None:
    store = SQLiteStore(str(path))
    store.history(CONSENT_ID)  # connects, so the file exists
    store.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def quarantined(tmp_path: Path) -> tuple[str, Path, list[str]]:
    """A SQLite store and, where the middleware keeps it, a quarantine file with two receipts
    the store once refused and one that no store can take (a consent id with a space)."""
    path = tmp_path / "receipts.sqlite3"
    create(path)
    quarantine = tmp_path / "receipts.sqlite3.spool.quarantine.jsonl"
    good = [make_receipt(seconds=n) for n in range(2)]
    lines = [{**receipt_to_dict(r), "error": "value too long \x1b[2J"} for r in good]
    lines.append({**receipt_to_dict(make_receipt("bad id with spaces")), "error": "refused"})
    quarantine.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path), quarantine, [r.receipt_id for r in good]


def test_list_shows_each_quarantined_receipt_with_its_error(
    quarantined: tuple[str, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _, ids = quarantined
    status, out, err = run(["receipts", "quarantine", "--store", store], capsys)
    assert status == 0
    rows = out.splitlines()
    assert len(rows) == 3 and all(i in out for i in ids)
    assert "value too long \\x1b[2J" in rows[0] and "\x1b" not in out  # escaped
    assert "3 quarantined receipt(s)" in err
    status, out, _ = run(["receipts", "quarantine", "list", "--json", "--store", store], capsys)
    assert [json.loads(line)["receipt_id"] for line in out.splitlines()][:2] == ids


def test_retry_stores_what_the_store_now_takes_and_keeps_the_rest(
    quarantined: tuple[str, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    store, quarantine, ids = quarantined
    status, out, _ = run(["receipts", "quarantine", "retry", "--store", store], capsys)
    assert status == 1  # one is still refused
    assert "stored 2 quarantined receipt(s); 1 still refused" in out
    kept = SQLiteStore(store)
    assert [r.receipt_id for r in kept.history(CONSENT_ID)] == ids
    kept.close()
    (left,) = quarantine.read_text().splitlines()
    assert json.loads(left)["consent_id"] == "bad id with spaces"
    assert "visible ASCII" in json.loads(left)["error"]  # the new reason
    # Retrying again stores nothing twice.
    status, out, _ = run(["receipts", "quarantine", "retry", "--store", store], capsys)
    assert "stored 0 quarantined receipt(s); 1 still refused" in out


def test_an_explicit_quarantine_file_and_an_empty_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "receipts.sqlite3"
    create(path)
    other = tmp_path / "elsewhere.jsonl"
    argv = ["receipts", "quarantine", "--store", str(path), "--quarantine", str(other)]
    status, out, err = run(argv, capsys)
    assert (status, out) == (0, "") and "0 quarantined receipt(s)" in err
    status, out, _ = run([*argv[:2], "retry", *argv[2:]], capsys)
    assert status == 0 and "stored 0" in out


def test_spooled_store_retry_quarantined_api(tmp_path: Path) -> None:
    store = SpooledStore(SQLiteStore(str(tmp_path / "r.sqlite3")), tmp_path / "spool.jsonl")
    receipt = make_receipt()
    Path(store.quarantine_path).write_text(
        json.dumps({**receipt_to_dict(receipt), "error": "x"}) + "\n"
    )
    assert store.retry_quarantined() == (1, 0)
    assert store.history(CONSENT_ID) == [receipt] and store.quarantined() == []
    store.close()
