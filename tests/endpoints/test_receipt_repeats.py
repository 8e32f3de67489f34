"""One receipt per change of choice, and the store's size guard (issue 23, part 2).

Every consent POST used to write a receipt: a client repeating its choice could fill the disk.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cookieguard import ConsentCodec
from cookieguard.receipts import SQLiteStore
from cookieguard.receipts._guard import ReceiptGuard
from tests.harness import Driver, drivers, make_policy
from tests.receipts._helpers import make_receipt

JSON = [("Content-Type", "application/json")]
ACCEPT = b'{"action": "accept_all"}'
REJECT = b'{"action": "reject_all"}'


@pytest.fixture(params=["asgi", "wsgi"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Driver, Path]:
    path = tmp_path / "receipts.sqlite3"
    return drivers(make_policy(receipts=str(path)))[request.param], path


def post(driver: Driver, body: bytes, cookie: str | None = None) -> str:
    """POST a choice; return the consent cookie it sets (name=value)."""
    headers = [*JSON] + ([("Cookie", cookie)] if cookie else [])
    response = driver.request("POST", "/_cookieguard/consent", headers=headers, body=body)
    assert response.status == 200
    return next(c.split(";")[0] for c in response.set_cookies if c.startswith("cookie_consent="))


def stored(path: Path, cookie: str) -> list[tuple[str, ...]]:
    consent_id = ConsentCodec(make_policy()).loads(cookie.split("=", 1)[1]).consent.id
    assert consent_id
    store = SQLiteStore(str(path))
    try:
        return [r.granted for r in store.history(consent_id)]
    finally:
        store.close()


def test_the_same_choice_repeated_writes_one_receipt(site: tuple[Driver, Path]) -> None:
    driver, path = site
    cookie = post(driver, ACCEPT)
    for _ in range(30):
        cookie = post(driver, ACCEPT, cookie)
    assert len(stored(path, cookie)) == 1


def test_every_change_of_choice_is_written(site: tuple[Driver, Path]) -> None:
    driver, path = site
    cookie = post(driver, ACCEPT)
    cookie = post(driver, REJECT, cookie)
    cookie = post(driver, ACCEPT, cookie)
    cookie = post(driver, ACCEPT, cookie)  # a repeat
    assert stored(path, cookie) == [
        ("analytics", "marketing", "preferences"),
        (),
        ("analytics", "marketing", "preferences"),
    ]


def test_a_change_made_in_another_worker_process_is_not_lost(tmp_path: Path) -> None:
    """Two processes share one store: A records accept, B reject, then A accept again. A's
    memory says "accept was last": only the cookie knows better."""
    path = tmp_path / "receipts.sqlite3"
    policy = make_policy(receipts=str(path))
    first, second = drivers(policy)["wsgi"], drivers(policy)["wsgi"]
    cookie = post(first, ACCEPT)
    cookie = post(second, REJECT, cookie)
    cookie = post(first, ACCEPT, cookie)
    assert len(stored(path, cookie)) == 3


def test_an_old_cookie_replayed_in_a_loop_writes_once(site: tuple[Driver, Path]) -> None:
    """A cookie issued an hour ago holding the choice it repeats: past the window, so the first
    repeat is written; this process then remembers it for the window."""
    driver, path = site
    policy = make_policy()
    hour_ago = time.time() - 3600
    token = ConsentCodec(policy).dumps(set(policy.optional_categories), "o" * 22, now=hour_ago)
    for _ in range(20):
        post(driver, ACCEPT, f"cookie_consent={token}")
    assert len(stored(path, f"cookie_consent={token}")) == 1


def test_past_the_size_guard_changes_are_written_repeats_are_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(str(tmp_path / "receipts.sqlite3"))
    store.record(make_receipt("first-visitor-0001"))
    guard = ReceiptGuard(store, repeat_window=600, max_bytes=1)  # already over
    now = datetime.now(UTC)
    day_ago = now - timedelta(days=1)
    caplog.set_level(logging.ERROR, logger="cookieguard.receipts")
    held = make_receipt().granted
    same = make_receipt("first-visitor-0001", time=now)
    # The cookie holding this choice is a day old: a repeat, dropped past the guard.
    assert not guard.record(same, held=held, issued=day_ago)
    again = make_receipt("first-visitor-0001", time=now)
    assert not guard.record(again, held=held, issued=day_ago)
    changed = make_receipt("first-visitor-0001", time=now, granted=(), denied=("marketing",))
    assert guard.record(changed, held=held, issued=day_ago)  # a change: always written
    assert guard.record(make_receipt("new-visitor-00001", time=now))  # a first choice too
    assert len(store.history("first-visitor-0001")) == 2
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "over the size guard" in logged and "cookieguard receipts purge" in logged
    # Under the guard, the day-old cookie's repeat would have been written.
    roomy = ReceiptGuard(store, repeat_window=600, max_bytes=None)
    assert roomy.record(make_receipt("first-visitor-0001", time=now), held=held, issued=day_ago)
    store.close()


def test_a_repeat_window_of_zero_writes_every_post(tmp_path: Path) -> None:
    path = tmp_path / "receipts.sqlite3"
    driver = drivers(make_policy(receipts=str(path), receipts_repeat_window=0))["wsgi"]
    cookie = post(driver, ACCEPT)
    cookie = post(driver, ACCEPT, cookie)
    assert len(stored(path, cookie)) == 2
    assert json.loads(driver.get("/_cookieguard/receipts", cookie=cookie).body)["receipts"]


def test_an_old_cookie_replayed_with_another_choice_writes_once(site: tuple[Driver, Path]) -> None:
    """The cookie holds "accept all" from an hour ago; the replay keeps asking for "reject
    all": the first is a change (written), the rest repeat what this process wrote since."""
    driver, path = site
    policy = make_policy()
    token = ConsentCodec(policy).dumps(
        set(policy.optional_categories), "p" * 22, now=time.time() - 3600
    )
    for _ in range(20):
        post(driver, REJECT, f"cookie_consent={token}")
    assert stored(path, f"cookie_consent={token}") == [()]


def test_an_old_cookie_replayed_with_ever_changing_choices_is_limited(tmp_path: Path) -> None:
    """Each POST is a change relative to the cookie and to the last write: they count against
    the client's budget (the ASGI driver's client is 127.0.0.1)."""
    path = tmp_path / "receipts.sqlite3"
    driver = drivers(make_policy(receipts=str(path), rate_limit=5))["asgi"]
    policy = make_policy()
    token = ConsentCodec(policy).dumps(
        set(policy.optional_categories), "q" * 22, now=time.time() - 3600
    )
    statuses = [
        driver.request(
            "POST",
            "/_cookieguard/consent",
            headers=[*JSON, ("Cookie", f"cookie_consent={token}")],
            body=REJECT if n % 2 else b'{"action": "save", "categories": ["analytics"]}',
        ).status
        for n in range(12)
    ]
    assert statuses == [200] * 5 + [429] * 7
    assert len(stored(path, f"cookie_consent={token}")) == 5


def test_the_size_guard_counts_the_sqlite_file_the_spool_and_the_quarantine(
    tmp_path: Path,
) -> None:
    from cookieguard.receipts import open_store
    from cookieguard.receipts._guard import store_bytes

    store = open_store(str(tmp_path / "r.sqlite3"))
    assert store_bytes(store) is None  # nothing on disk yet
    store.record(make_receipt())
    on_disk = store_bytes(store)
    assert on_disk is not None and on_disk >= (tmp_path / "r.sqlite3").stat().st_size
    (tmp_path / "r.sqlite3.spool.jsonl").write_bytes(b"x" * 1000)
    (tmp_path / "r.sqlite3.spool.quarantine.jsonl").write_bytes(b"y" * 500)
    assert store_bytes(store) == on_disk + 1500
    store.close()
