"""The consent endpoint writes receipts; visitors read only their own history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cookieguard import ConsentCodec
from cookieguard.receipts import SQLiteStore, open_store
from tests.harness import Driver, drivers, make_policy

JSON = [("Content-Type", "application/json"), ("User-Agent", "Mozilla/5.0 " + "x" * 400)]


@pytest.fixture(params=["asgi", "wsgi"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Driver, Path]:
    path = tmp_path / "receipts.sqlite3"
    return drivers(make_policy(receipts=str(path)))[request.param], path


def cookie_from(set_cookies: list[str]) -> str:
    return next(c.split(";")[0] for c in set_cookies if c.startswith("cookie_consent="))


def test_each_change_is_recorded_and_readable_by_its_owner(site: tuple[Driver, Path]) -> None:
    driver, path = site
    first = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=[
            *JSON,
            ("Referer", "http://shop.example.com/photos?p=1"),
            ("Accept-Language", "de"),
        ],
        body=b'{"action": "accept_all", "source": "banner"}',
    )
    cookie = cookie_from(first.set_cookies)
    second = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=[*JSON, ("Cookie", cookie)],
        body=b'{"action": "save", "categories": ["preferences"]}',
    )
    assert json.loads(second.body)["consent_id"] == json.loads(first.body)["consent_id"]
    history = json.loads(driver.get("/_cookieguard/receipts", cookie=cookie).body)
    assert history["consent_id"] == json.loads(first.body)["consent_id"]
    receipts = history["receipts"]
    assert [r["method"] for r in receipts] == ["banner", "api"]
    assert receipts[0]["granted"] == ["analytics", "marketing", "preferences"]
    assert receipts[0]["language"] == "de" and receipts[0]["path"] == "/photos?p=1"
    assert receipts[1]["granted"] == ["preferences"]
    assert receipts[1]["denied"] == ["analytics", "marketing"]

    store = SQLiteStore(str(path))
    try:
        stored = store.history(history["consent_id"])
        assert len(stored) == 2
        assert len(stored[0].user_agent) <= 200
    finally:
        store.close()

    page = driver.get("/_cookieguard/preferences", cookie=cookie).text
    assert history["consent_id"] in page


def test_undecided_or_forged_visitor_reads_nothing(site: tuple[Driver, Path]) -> None:
    driver, _ = site
    driver.request("POST", "/_cookieguard/consent", headers=JSON, body=b'{"action": "accept_all"}')
    assert json.loads(driver.get("/_cookieguard/receipts").body) == {
        "consent_id": None,
        "receipts": [],
    }
    forged = ConsentCodec(make_policy(secret_keys=["attacker-key-0123456789"])).dumps(
        {"analytics"}, "f" * 22
    )
    body = json.loads(driver.get("/_cookieguard/receipts", cookie=f"cookie_consent={forged}").body)
    assert body == {"consent_id": None, "receipts": []}


def test_gpc_override_is_recorded(site: tuple[Driver, Path]) -> None:
    driver, _ = site
    response = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=[*JSON, ("Sec-GPC", "1")],
        body=b'{"action": "accept_all"}',
    )
    cookie = cookie_from(response.set_cookies)
    (receipt,) = json.loads(driver.get("/_cookieguard/receipts", cookie=cookie).body)["receipts"]
    assert receipt["method"] == "gpc" and "marketing" in receipt["denied"]


def test_store_outage_still_sets_the_cookie(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a directory should be")
    store = open_store(str(blocked / "receipts.sqlite3"), spool_path=tmp_path / "spool.jsonl")
    for driver in drivers(make_policy()).values():
        driver.app.site.endpoints.store = store  # type: ignore[attr-defined]
        response = driver.request(
            "POST", "/_cookieguard/consent", headers=JSON, body=b'{"action": "reject_all"}'
        )
        assert response.status == 200
        assert cookie_from(response.set_cookies)
    assert (tmp_path / "spool.jsonl").read_text().count("\n") == 2
    store.close()


def test_old_key_cookie_is_resigned_with_the_newest() -> None:
    old = make_policy(secret_keys=["old-key-0123456789abc"])
    token = ConsentCodec(old).dumps({"analytics"}, "r" * 22)
    rotated = make_policy(secret_keys=["new-key-0123456789abc", "old-key-0123456789abc"])
    for driver in drivers(rotated).values():
        response = driver.get("/", cookie=f"cookie_consent={token}")
        assert response.sets("_ga")
        fresh = cookie_from(response.set_cookies).split("=", 1)[1]
        assert fresh != token
        new_only = ConsentCodec(make_policy(secret_keys=["new-key-0123456789abc"]))
        verdict = new_only.loads(fresh)
        assert verdict.consent.granted == {"analytics"} and verdict.consent.id == "r" * 22
        # the original choice time is kept, so re-signing never extends consent
        assert verdict.consent.issued_at == ConsentCodec(old).loads(token).consent.issued_at


def test_bad_receipts_setting_fails_at_start() -> None:
    with pytest.raises(ValueError, match="unsupported receipts store"):
        drivers(make_policy(receipts="mysql://x"))


def test_unparseable_referer_is_recorded_as_home(site: tuple[Driver, Path]) -> None:
    driver, _ = site
    response = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=[*JSON, ("Referer", "http://[broken/x")],
        body=b'{"action": "reject_all"}',
    )
    assert response.status == 200
    cookie = cookie_from(response.set_cookies)
    (receipt,) = json.loads(driver.get("/_cookieguard/receipts", cookie=cookie).body)["receipts"]
    assert receipt["path"] == "/"
