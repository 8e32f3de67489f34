"""``cookieguard receipts purge|export``, called in-process and once as ``python -m``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cookieguard import cli
from cookieguard.receipts import SQLiteStore
from tests.receipts._helpers import CONSENT_ID, make_receipt, raw_store

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)


def fill(url: str) -> None:
    store = raw_store(url)
    for days in (500, 400, 30, 1):
        store.record(make_receipt(time=NOW - timedelta(days=days), revision=days))
    store.record(make_receipt("another-visitor-0001", time=NOW - timedelta(days=500)))
    store.close()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_purge_then_export_json(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    fill(store_url)
    status, out, err = run(
        ["receipts", "purge", "--older-than", "13mo", "--store", store_url], capsys
    )
    assert (status, err) == (0, "")
    assert out.startswith("deleted 3 receipt(s) older than 13mo")
    status, out, _ = run(
        ["receipts", "export", "--consent-id", CONSENT_ID, "--store", store_url], capsys
    )
    assert status == 0
    exported = json.loads(out)
    assert [item["revision"] for item in exported] == [30, 1]
    assert exported[0]["granted"] == ["preferences", "analytics"]
    assert datetime.fromisoformat(exported[0]["time"]).utcoffset() == timedelta(0)


def test_export_csv_from_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "receipts.sqlite3")
    store = SQLiteStore(path)
    store.record(make_receipt(seconds=0, user_agent='=HYPERLINK("http://evil")'))
    store.record(make_receipt(seconds=1, granted=(), ip_hash="f" * 64))
    store.close()
    monkeypatch.setenv("COOKIEGUARD_RECEIPTS", f"sqlite:///{path}")
    status, out, err = run(
        ["receipts", "export", "--consent-id", CONSENT_ID, "--format", "csv"], capsys
    )
    assert (status, err) == (0, "")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [row["granted"] for row in rows] == ["preferences analytics", ""]
    assert rows[0]["user_agent"] == '\'=HYPERLINK("http://evil")'  # not a live formula
    assert rows[0]["ip_hash"] == "" and rows[1]["ip_hash"] == "f" * 64


def test_unknown_consent_id_exports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "receipts.sqlite3")
    fill(path)
    argv = ["receipts", "export", "--consent-id", "nobody-has-this-id-00", "--store", path]
    assert run(argv, capsys)[:2] == (0, "[]\n")
    status, out, _ = run([*argv[:-1], path, "--format", "csv"], capsys)
    assert (status, out.splitlines()[1:]) == (0, [])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["receipts"], "required: ACTION"),
        (["receipts", "purge", "--store", "x.db"], "required: --older-than"),
        (["receipts", "purge", "--older-than", "13m", "--store", "x.db"], "use 'mo' for months"),
        (["receipts", "purge", "--older-than", "0d", "--store", "x.db"], "greater than zero"),
        (["receipts", "purge", "--older-than=-3d", "--store", "x.db"], "invalid age"),
        (["receipts", "purge", "--older-than", "1 year", "--store", "x.db"], "invalid age"),
        (["receipts", "export", "--consent-id", "short", "--store", "x.db"], "invalid consent id"),
        (["receipts", "export", "--consent-id", "x" * 65, "--store", "x.db"], "invalid consent id"),
        (["receipts", "export", "--consent-id", "' OR 1=1 --aaaaaaaaaa"], "invalid consent id"),
        (["receipts", "export", "--consent-id", CONSENT_ID + "\n"], "invalid consent id"),
        (["receipts", "export", "--consent-id", CONSENT_ID, "--format", "xml"], "invalid choice"),
        (["receipts", "export", "--consent-id", CONSENT_ID], "no receipts store"),
        (
            ["receipts", "export", "--consent-id", CONSENT_ID, "--store", "mysql://h/db"],
            "unsupported",
        ),
        (
            ["receipts", "export", "--consent-id", CONSENT_ID, "--store", "/nonexistent/r.db"],
            "does not exist",
        ),
        (["receipts", "vacuum"], "invalid choice: 'vacuum'"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COOKIEGUARD_RECEIPTS", raising=False)
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert not os.path.exists("x.db")


def test_unreachable_store_exits_1_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused.
    argv = ["receipts", "purge", "--older-than", "1y", "--store", "postgresql://u@127.0.0.1:9/db"]
    status, _, err = run(argv, capsys)
    assert status == 1
    assert err.startswith("cookieguard: error: cannot purge PostgreSQL receipts")
    assert "\n" not in err.rstrip("\n")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["receipts", "purge", "--help"], capsys)
    assert status == 0 and "--older-than AGE" in out


def test_python_m_cookieguard(tmp_path: Path) -> None:
    path = str(tmp_path / "receipts.sqlite3")
    fill(path)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COOKIEGUARD_RECEIPTS": path}
    command = [sys.executable, "-m", "cookieguard", "receipts"]
    purge = subprocess.run(
        [*command, "purge", "--older-than", "48h"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert purge.returncode == 0, purge.stderr
    assert purge.stdout.startswith("deleted 4 receipt(s) older than 48h")
    export = subprocess.run(
        [*command, "export", "--consent-id", CONSENT_ID],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert export.returncode == 0, export.stderr
    assert [item["revision"] for item in json.loads(export.stdout)] == [1]
    bad = subprocess.run(
        [*command, "export", "--consent-id", "../../etc/passwd"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (
        bad.returncode == 2 and "invalid consent id" in bad.stderr and "Traceback" not in bad.stderr
    )
