"""Fixtures for the receipts stores: a real PostgreSQL server, fresh databases, stores."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from cookieguard.receipts._pgcluster import INSTALL_HINT, PostgresCluster, find_bindir

_database_numbers = itertools.count()


def _postgres_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("COOKIEGUARD_REQUIRE_PG") == "1"


@pytest.fixture(scope="session")
def pg_installed() -> None:
    """Skip when the PostgreSQL server is not installed (fail in CI or when required)."""
    if find_bindir() is None:
        message = f"PostgreSQL server not installed: {INSTALL_HINT}"
        if _postgres_required():
            pytest.fail(f"{message} (required because CI or COOKIEGUARD_REQUIRE_PG=1 is set)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def pg_cluster(pg_installed: None) -> Iterator[PostgresCluster]:
    """A private PostgreSQL server for the whole session (127.0.0.1 only, temp directory)."""
    # fsync off: these tests stop and start the server cleanly, never crash it.
    with PostgresCluster(fsync=False) as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A URL for a new, empty database on the session server."""
    import psycopg

    if not pg_cluster.running():  # a failed outage test must not take the others down
        pg_cluster.start()
    name = f"receipts_{os.getpid()}_{next(_database_numbers)}"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_cluster.url_for(name)
    if pg_cluster.running():
        with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    """Each store in turn: a SQLite file path, then a PostgreSQL database URL."""
    if request.param == "sqlite":
        return os.path.join(tmp_path, "receipts.sqlite3")
    url: str = request.getfixturevalue("pg_url")
    return url
