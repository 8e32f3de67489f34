"""The Guard's decisions, including its decision cache."""

from __future__ import annotations

import time

import pytest

from cookieguard import ConsentCodec
from cookieguard.core._guard import Guard
from tests.harness import make_policy

CID = "g" * 22


def test_cached_decision_expires_with_the_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = make_policy(max_age=3600)
    guard = Guard(policy)
    signed_at = time.time() - 3000
    header = f"cookie_consent={ConsentCodec(policy).dumps({'analytics'}, CID, now=signed_at)}"
    assert guard.read(header).consent.decided
    assert guard.read(header) is guard.read(header)  # served from the cache
    later = signed_at + 3601
    monkeypatch.setattr("cookieguard.core._guard.time.time", lambda: later)
    monkeypatch.setattr("cookieguard.core._consent.time.time", lambda: later)
    assert not guard.read(header).consent.decided


def test_decision_cache_is_bounded_and_skips_huge_headers() -> None:
    guard = Guard(make_policy(cache_size=8))
    for i in range(100):
        guard.read(f"_ga={i}")
    assert len(guard._decisions) <= 8
    guard.read("_ga=" + "x" * 5000)
    assert all(isinstance(key[0], str | bytes) and len(key[0]) < 5000 for key in guard._decisions)


def test_cache_keys_include_gpc_host_and_scheme() -> None:
    policy = make_policy()
    guard = Guard(policy)
    header = f"cookie_consent={ConsentCodec(policy).dumps({'marketing'}, CID)}; _fbp=1"
    assert guard.read(header).consent.allows("marketing")
    assert not guard.read(header, gpc=True).consent.allows("marketing")
    http = guard.read(header, gpc=True, host="a.example")
    https = guard.read(header, gpc=True, host="a.example", secure=True)
    assert "Secure" not in http.set_cookies[0] and "Secure" in https.set_cookies[0]


def test_cache_disabled() -> None:
    guard = Guard(make_policy(cache_size=0))
    guard.read("_ga=1")
    assert len(guard._decisions) == 0


def test_set_cookie_verdicts_follow_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = Guard(make_policy())
    undecided = guard.read(None).consent
    expiring = "_ga=1; Expires=Thu, 01 Jan 2037 00:00:00 GMT"
    assert not guard.keep_set_cookie(undecided, expiring)
    assert not guard.keep_set_cookie(undecided, "_ga=1; Max-Age=60")
    assert guard.keep_set_cookie(undecided, "_ga=; Max-Age=0")
    # Only clock-free facts are cached: the category and the time deletion starts.
    assert guard._set_cookies.get(expiring) == ("analytics", 2114380800.0)
    assert guard._set_cookies.get("_ga=1; Max-Age=60") == ("analytics", None)
    # Once 2037 has come, that Expires value is a deletion and must pass.
    monkeypatch.setattr("cookieguard.core._guard.time.time", lambda: 2_200_000_000.0)
    assert guard.keep_set_cookie(undecided, expiring)
    assert not guard.keep_set_cookie(undecided, "_ga=1; Max-Age=60")


def test_set_cookie_verdicts_per_consent_from_one_cache_entry() -> None:
    policy = make_policy()
    guard = Guard(policy)
    undecided = guard.read(None).consent
    token = ConsentCodec(policy).dumps({"analytics"}, CID)
    granted = guard.read(f"cookie_consent={token}").consent
    value = "_ga=GA1.2; Max-Age=-1; Max-Age=31536000"  # issue 15: not a deletion
    assert not guard.keep_set_cookie(undecided, value)
    assert guard.keep_set_cookie(granted, value)
    assert not guard.keep_set_cookie(undecided, value)
    assert len(guard._set_cookies) == 1


def test_remember_evicts_oldest_first() -> None:
    from cookieguard._cache import remember

    cache: dict[int, int] = {}
    for i in range(10):
        remember(cache, i, i, 4)
    assert list(cache) == [6, 7, 8, 9]
    remember(cache, 99, 99, 0)
    assert 99 not in cache


def test_max_age_wins_over_expires() -> None:
    guard = Guard(make_policy())
    undecided = guard.read(None).consent
    value = "_fbp=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600"
    assert not guard.keep_set_cookie(undecided, value)
    assert guard._set_cookies.get(value) == ("marketing", None)
