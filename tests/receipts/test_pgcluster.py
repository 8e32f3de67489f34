"""The throwaway PostgreSQL server the tests and benchmarks start (``PostgresCluster``) on a
loaded machine (issue 20 part 4): the free port it probed may be taken before it binds it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest

from cookieguard.receipts import _pgcluster
from cookieguard.receipts._pgcluster import PostgresCluster


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_a_port_taken_before_the_first_start_moves_the_server_to_another(
    pg_installed: None, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    free_port = _pgcluster._free_port
    monkeypatch.setattr(_pgcluster, "_free_port", lambda: taken_port)
    cluster = PostgresCluster(fsync=False)
    monkeypatch.setattr(_pgcluster, "_free_port", free_port)
    with cluster:
        assert cluster.port != taken_port
        with psycopg.connect(cluster.url, connect_timeout=60) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # A restart keeps the port its clients know.
        port = cluster.port
        cluster.stop()
        cluster.start()
        assert cluster.port == port


def test_a_taken_port_on_every_try_fails_naming_the_server_and_the_reason(
    pg_installed: None, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_pgcluster, "_free_port", lambda: taken_port)
    monkeypatch.setattr(_pgcluster, "START_ATTEMPTS", 2)
    with pytest.raises(RuntimeError, match="PostgreSQL did not start") as failed:
        PostgresCluster(fsync=False).__enter__()
    assert "attempt 2 of 2" in str(failed.value)
    assert "Address already in use" in str(failed.value)
