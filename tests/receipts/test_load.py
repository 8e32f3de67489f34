"""A short slice of ``make load`` (benchmarks/load.py), so the load test cannot rot.

The full run (60 s per server) lives in ``make load``; the behaviour it exercises is
covered by the store tests (test_frozen, test_unstorable, test_spool). Here: waitress
for 4 s through a 1 s PostgreSQL outage and a 1 s freeze, which must end with 0 errors and
every receipt accounted for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cookieguard.receipts._pgcluster import PostgresCluster

LOAD = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"


def load(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(LOAD), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_postgres_outage_and_freeze_lose_no_receipt(pg_cluster: PostgresCluster) -> None:
    del pg_cluster  # only for its skip-or-fail rule when PostgreSQL is not installed
    out = load(
        "--seconds", "4", "--concurrency", "2", "--servers", "waitress",
        "--postgres", "--outage", "--freeze", "--hold", "1", "--retry-interval", "1",
    )  # fmt: skip
    assert "event          outage" in out and "event          freeze" in out
    assert "1 server(s): 0 errors, 0 lost receipts, 0 duplicates: OK" in out


def test_a_flood_from_one_address_leaves_real_visitors_recorded() -> None:
    """``make load LOAD_ARGS=--flood`` (issue 23), 3 s on waitress: the store grows by at most
    a few MB and every change the real visitors made is stored."""
    out = load("--flood", "--seconds", "3", "--servers", "waitress", "--flood-rate", "2000")
    assert "0 not stored as made" in out and "429 x" in out
    assert "1 server(s) flooded: OK" in out
