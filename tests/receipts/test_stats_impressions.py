"""Banner views: counted in memory, written in batches, never on the page view's time."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cookieguard.receipts import (
    ImpressionCounter,
    SQLiteStore,
    consent_stats,
    impression_counter,
    open_store,
)
from tests.receipts._helpers import make_receipt, raw_store

FORM = ("Content-Type", "application/x-www-form-urlencoded")
HOUR = datetime(2026, 11, 2, 9, tzinfo=UTC).timestamp()


class SlowStore:
    """A store whose writes wait until ``release`` is set (at most ``wait`` seconds; ``None``:
    for good), or fail while ``down``. ``entered`` is set once a write has begun."""

    def __init__(self, wait: float | None = 10) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.wait = wait
        self.down = False
        self.written: dict[tuple[datetime, int, str], int] = {}

    def add_impressions(self, counts: Mapping[tuple[datetime, int, str], int]) -> None:
        self.entered.set()
        self.release.wait(self.wait)
        if self.down:
            raise OSError("connection refused")
        for key, n in counts.items():
            self.written[key] = self.written.get(key, 0) + n


def test_views_are_added_per_hour_and_reported(store_url: str) -> None:
    store = raw_store(store_url)
    now = [HOUR + 10]
    counter = ImpressionCounter(store, interval=60, clock=lambda: now[0])

    def views() -> None:
        for _ in range(250):
            counter.count(3, "de")

    threads = [threading.Thread(target=views) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    now[0] = HOUR + 3600 + 5  # the next hour
    counter.count(3, "en")
    counter.count(4, "de")
    assert counter.flush() == 1002
    counter.count(3, "de")
    counter.close()  # writes the rest
    for n in range(10):
        store.record(make_receipt(f"visitor-{n:04d}-x", time=datetime.fromtimestamp(HOUR, UTC)))
    day = datetime.fromtimestamp(HOUR, UTC).date()
    report = consent_stats(store, since=day, until=day)
    assert report.total.banner_views == 1003
    assert report.to_dict()["impressions"] == {
        "banner_views": 1003,
        "choices": 10,
        "choice_rate": round(10 / 1003, 4),
        "basis": "page views",
    }
    assert {g.label: g.counts.banner_views for g in report.revisions} == {"3": 1002, "4": 1}
    store.close()


def test_a_page_view_never_waits_on_the_store() -> None:
    """While the store is stuck for good, 10,000 page views still count: a view that waited
    on the store (writing itself, or on a lock the write holds) would never end. No speed
    bound (a busy CI machine makes one flaky): the join's limit only keeps a broken counter
    from hanging the suite."""
    slow = SlowStore(wait=None)
    counter = ImpressionCounter(slow, interval=0.01)

    def view_many() -> None:
        for _ in range(10_000):
            counter.count(1, "en")

    views = threading.Thread(target=view_many)
    try:
        counter.count(1, "en")
        assert slow.entered.wait(30)  # the flusher took that view and is stuck in the store
        views.start()
        views.join(timeout=60)
        assert not views.is_alive()
        assert counter.pending() == 10_000  # held while the store is stuck
    finally:
        slow.release.set()
    counter.close()
    assert sum(slow.written.values()) == 10_001


def test_counts_survive_an_outage_and_the_background_thread_writes_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow = SlowStore()
    slow.release.set()
    slow.down = True
    counter = ImpressionCounter(slow, interval=0.02)
    for _ in range(5):
        counter.count(2, "fr")
    deadline = time.monotonic() + 5
    while "could not store banner view counts" not in caplog.text:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert counter.pending() == 5
    slow.down = False
    while sum(slow.written.values()) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert counter.pending() == 0
    counter.close()
    assert sum(slow.written.values()) == 5


def test_a_counter_for_a_spooled_store_writes_to_its_primary(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    store = open_store(str(path))
    counter = impression_counter(store, interval=60)
    assert counter is not None
    counter.count(1, "en")
    counter.close()
    store.close()
    direct = SQLiteStore(path)
    day = datetime.now(UTC).date()
    rows = direct.impression_rows(day, day + timedelta(days=1), "day", None, "language")
    assert rows == [("en", 1)]
    direct.close()
    assert impression_counter(object()) is None
    with pytest.raises(ValueError, match="interval must be a positive"):
        ImpressionCounter(SlowStore(), interval=0)


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_the_middleware_counts_each_banner_it_shows(adapter: str, tmp_path: Path) -> None:
    """One view per HTML page shown to an undecided visitor; none once they chose."""
    from cookieguard import asgi as cg_asgi
    from cookieguard import wsgi as cg_wsgi
    from tests.harness import AsgiDriver, WsgiDriver, asgi_app, make_policy, wsgi_app

    store = open_store(str(tmp_path / "r.sqlite3"))
    policy = make_policy()
    if adapter == "asgi":
        middleware: Any = cg_asgi.ConsentMiddleware(asgi_app, policy=policy, receipts=store)
        driver: Any = AsgiDriver(middleware)
    else:
        middleware = cg_wsgi.ConsentMiddleware(wsgi_app, policy, receipts=store)
        driver = WsgiDriver(middleware)
    counter = middleware.site.impressions
    assert counter is not None
    for language in ("de", "de", "fr-CH", "en"):
        page = driver.get("/html", headers=[("Accept-Language", language)])
        assert 'id="cookie-consent"' in page.text
    driver.request("HEAD", "/html")  # no body, no banner shown
    chose = driver.request(
        "POST", "/_cookieguard/consent", headers=[FORM], body=b"action=reject_all"
    )
    cookie = next(c.split(";")[0] for c in chose.set_cookies if c.startswith("cookie_consent="))
    assert 'id="cookie-consent"' not in driver.get("/html", cookie=cookie).text
    assert counter.flush() == 4
    counter.close()
    day = datetime.now(UTC).date()
    reader = SQLiteStore(tmp_path / "r.sqlite3")
    rows = reader.impression_rows(day, day + timedelta(days=1), "day", None, "language")
    reader.close()
    assert sorted(rows) == [("de", 2), ("en", 1), ("fr", 1)]
    store.close()


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_opt_out_and_notice_banners_are_not_counted_as_views(adapter: str, tmp_path: Path) -> None:
    """Only the opt-in consent request is a banner view: a US-CA visitor's opt-out notice and a
    notice region's banner inform, and counting them would lower the rates read from views."""
    from cookieguard import asgi as cg_asgi
    from cookieguard import wsgi as cg_wsgi
    from tests.harness import AsgiDriver, WsgiDriver, asgi_app, make_policy, wsgi_app

    store = open_store(str(tmp_path / "r.sqlite3"))
    policy = make_policy(
        region_header="cf-ipcountry", regions={"US": "opt-out", "JP": "notice", "DE": "opt-in"}
    )
    if adapter == "asgi":
        middleware: Any = cg_asgi.ConsentMiddleware(asgi_app, policy=policy, receipts=store)
        driver: Any = AsgiDriver(middleware)
    else:
        middleware = cg_wsgi.ConsentMiddleware(wsgi_app, policy, receipts=store)
        driver = WsgiDriver(middleware)
    counter = middleware.site.impressions
    assert counter is not None
    for country in ("US", "JP", "DE"):
        page = driver.get("/html", headers=[("CF-IPCountry", country)])
        assert 'id="cookie-consent"' in page.text
    assert counter.flush() == 1  # DE's opt-in request only
    counter.close()
    store.close()


def test_no_counter_without_a_store_or_a_banner(tmp_path: Path) -> None:
    from cookieguard.site._site import Site
    from tests.harness import make_policy

    assert Site(make_policy(receipts=None)).impressions is None
    store = open_store(str(tmp_path / "r.sqlite3"))
    assert Site(make_policy(banner=False), receipts=store).impressions is None
    store.close()


def test_views_still_counted_at_exit_are_written(tmp_path: Path) -> None:
    """A process that exits normally writes what its counter still holds (atexit)."""
    import subprocess
    import sys

    path = tmp_path / "r.sqlite3"
    script = (
        "from cookieguard.receipts import ImpressionCounter, SQLiteStore\n"
        f"counter = ImpressionCounter(SQLiteStore({str(path)!r}), interval=3600)\n"
        "for _ in range(7): counter.count(2, 'nl')\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"})  # fmt: skip
    store = SQLiteStore(path)
    day = datetime.now(UTC).date()
    assert store.impression_rows(day, day + timedelta(days=1), "day", None, "language") == [
        ("nl", 7)
    ]
    store.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")
def test_a_forked_child_drops_its_parents_counts() -> None:
    """A worker forked by a pre-forking server writes only its own views."""
    slow = SlowStore()
    slow.release.set()
    counter = ImpressionCounter(slow, interval=3600)
    counter.count(1, "en")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it holds, count one view, write it
        try:
            pending = counter.pending()
            counter.count(1, "de")
            written = counter.flush()
            os.write(write, f"{pending} {written}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        reported = pipe.read()
    os.waitpid(pid, 0)
    assert reported == "0 1"
    assert counter.pending() == 1  # the parent still has its own
    counter.close()
