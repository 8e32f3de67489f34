"""The consent codec: signing, verification, rotation, expiry, caching."""

from __future__ import annotations

import time

from itsdangerous import URLSafeTimedSerializer

from cookieguard import ConsentCodec, Policy
from cookieguard.core._consent import UNDECIDED, new_consent_id

OLD, NEW = "old-secret-0123456789", "new-secret-0123456789"
CID = new_consent_id()


def codec(**kw: object) -> ConsentCodec:
    settings: dict[str, object] = {"secret_keys": [OLD]}
    settings.update(kw)
    return ConsentCodec(Policy(**settings))  # type: ignore[arg-type]


def test_round_trip_drops_unknown_and_locked_categories() -> None:
    c = codec()
    token = c.dumps({"analytics", "necessary", "bogus"}, CID)
    verdict = c.loads(token)
    assert verdict.consent.decided
    assert verdict.consent.granted == {"analytics"}
    assert verdict.consent.id == CID
    assert verdict.consent.allows("necessary")
    assert not verdict.resign
    assert len(token) < 120


def test_consent_ids_are_random_and_url_safe() -> None:
    ids = {new_consent_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 22 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


def test_tampered_token_is_undecided() -> None:
    c = codec()
    token = c.dumps({"analytics"}, CID)
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]  # payload changed
    sig_start = token.rindex(".") + 1
    bad_sig = token[:sig_start] + ("A" if token[sig_start] != "A" else "B") + token[sig_start + 1 :]
    for bad in (flipped, bad_sig, token + "x", "x" + token, token.replace(".", "", 1), ""):
        assert c.loads(bad).consent == UNDECIDED


def test_unknown_key_is_undecided() -> None:
    assert codec().loads(codec(secret_keys=[NEW]).dumps({"analytics"}, CID)).consent == UNDECIDED


def test_rotation_old_key_verifies_and_asks_for_resign() -> None:
    token = codec(secret_keys=[OLD]).dumps({"marketing"}, CID)
    rotated = codec(secret_keys=[NEW, OLD])
    verdict = rotated.loads(token)
    assert verdict.consent.granted == {"marketing"} and verdict.resign
    fresh = rotated.dumps({"marketing"}, CID)
    assert not rotated.loads(fresh).resign
    # once the old key is retired its tokens no longer verify
    assert codec(secret_keys=[NEW]).loads(token).consent == UNDECIDED


def test_expired_token_is_undecided() -> None:
    c = codec(max_age=3600)
    old = c.dumps({"analytics"}, CID, now=time.time() - 7200)
    assert c.loads(old).consent == UNDECIDED


def test_future_token_is_undecided() -> None:
    c = codec()
    assert c.loads(c.dumps({"analytics"}, CID, now=time.time() + 3600)).consent == UNDECIDED


def test_cache_rechecks_expiry() -> None:
    c = codec(max_age=3600)
    now = time.time()
    token = c.dumps({"analytics"}, CID, now=now - 3000)
    assert c.loads(token, now=now).consent.decided
    assert c.loads(token, now=now).consent.decided  # served from cache
    assert c.loads(token, now=now + 1000).consent == UNDECIDED  # cached entry expired


def test_cache_is_bounded() -> None:
    c = codec(cache_size=10)
    for _ in range(50):
        c.loads(c.dumps({"analytics"}, new_consent_id()))
    assert len(c._cache) <= 10


def test_cache_can_be_disabled() -> None:
    c = codec(cache_size=0)
    assert c.loads(c.dumps({"analytics"}, CID)).consent.decided
    assert len(c._cache) == 0


def test_stale_revision_is_undecided() -> None:
    token = codec(revision=1).dumps({"analytics"}, CID)
    assert codec(revision=2).loads(token).consent == UNDECIDED


def test_wrong_shapes_signed_with_the_right_key() -> None:
    serializer = URLSafeTimedSerializer(OLD, salt="cookieguard.consent")
    c = codec()
    for payload in (
        None,
        "x",
        [],
        [2, ["analytics"], 1, CID],
        [1, "analytics", 1, CID],
        [1, [1, 2], 1, CID],
        [1, ["analytics"], "1", CID],
        [1, ["analytics"], True, CID],
        [1, ["analytics"], 1, 5],
        [1, ["analytics"], 1, "short"],
        [1, ["analytics"], 1, "x" * 65],
    ):
        assert c.loads(serializer.dumps(payload)).consent == UNDECIDED, payload


def test_other_salt_is_undecided() -> None:
    serializer = URLSafeTimedSerializer(OLD, salt="someone.else")
    assert codec().loads(serializer.dumps([1, ["analytics"], 1, CID])).consent == UNDECIDED


# -- re-asking rules (issue 12 item 6) ---------------------------------------------------

DAY = 24 * 3600


def test_reject_all_holds_for_reject_max_age_not_max_age() -> None:
    # Refusal kept for a year, grants for six months (the EU one-click-refusal proposal asks
    # that a refusal is not re-asked for at least six months).
    c = codec(max_age=183 * DAY, reject_max_age=365 * DAY)
    now = time.time()
    issued = now - 200 * DAY
    refused = c.dumps(set(), CID, now=issued)
    granted = c.dumps({"analytics"}, CID, now=issued)
    assert c.loads(refused, now=now).consent.decided
    assert not c.loads(granted, now=now).consent.decided
    assert not c.loads(refused, now=issued + 366 * DAY).consent.decided


def test_a_category_with_a_shorter_life_asks_again_when_it_ends() -> None:
    from cookieguard import DEFAULT_CATEGORIES, Category

    thirteen_months = 395 * DAY
    categories = [
        c if c.name != "analytics" else Category("analytics", "Analytics", max_age=thirteen_months)
        for c in DEFAULT_CATEGORIES
    ]
    policy = Policy(secret_keys=[OLD], max_age=500 * DAY, categories=categories)
    c = ConsentCodec(policy)
    now = time.time()
    issued = now - 400 * DAY
    assert not c.loads(
        c.dumps({"analytics", "preferences"}, CID, now=issued), now=now
    ).consent.decided
    assert c.loads(c.dumps({"preferences"}, CID, now=issued), now=now).consent.decided
    assert policy.lifetime(frozenset({"analytics", "marketing"})) == thirteen_months
    assert policy.lifetime(frozenset()) == 500 * DAY


def test_the_consent_cookie_lives_as_long_as_the_choice() -> None:
    from cookieguard.core._guard import Guard

    guard = Guard(Policy(secret_keys=[OLD], max_age=183 * DAY, reject_max_age=365 * DAY))
    refused = guard.consent_cookie(frozenset(), CID, secure=False)
    granted = guard.consent_cookie(frozenset({"analytics"}), CID, secure=False)
    assert f"Max-Age={365 * DAY}" in refused
    assert f"Max-Age={183 * DAY}" in granted


def test_lifetimes_are_validated() -> None:
    import pytest

    from cookieguard import Category

    with pytest.raises(ValueError, match="reject_max_age"):
        Policy(secret_keys=[OLD], reject_max_age=10)
    with pytest.raises(ValueError, match="max_age must be whole seconds"):
        Category("analytics", "Analytics", max_age=1.5)  # type: ignore[arg-type]
