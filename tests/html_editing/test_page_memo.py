"""The memo of edited bodies and the cached plans (issue 14: speed on real pages).

A body served again under the same plan is looked up, not edited again. What must never
happen: one page's edit served for another (two bodies that share the memo's key), one
visitor's plan (banner, language, placeholders, refused categories) served to another, or a
memo that grows without bound.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.core._guard import Decision
from cookieguard.html._inject import Injection
from cookieguard.site._site import Site
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import UvicornServer, WaitressServer, make_policy, raw_get

PIXEL = b'<img src="https://www.facebook.com/tr?id=1&amp;ev=PageView" alt="">'
LOGO = b'<img src="https://cdn.example.org/static/logo-of-shop1.png" alt="">'
assert len(PIXEL) == len(LOGO)
YOUTUBE = b'<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>'


def twin(middle: bytes) -> bytes:
    """Pages that differ only in the middle: same length, same first and last 200 bytes."""
    head = b"<!doctype html><html><head><title>Shop</title></head><body>" + b"<p>intro</p>" * 12
    tail = b"<p>outro</p>" * 16 + b"</body></html>"
    return head + middle + tail


CLEAN, TRACKED = twin(LOGO), twin(PIXEL)
assert len(CLEAN) == len(TRACKED) and CLEAN[:200] == TRACKED[:200]
assert CLEAN[-200:] == TRACKED[-200:]


def decided(policy: Any, granted: Iterable[str]) -> str:
    return "cookie_consent=" + ConsentCodec(policy).dumps(set(granted), "m" * 22)


def plan_for(site: Site, decision: Decision, **request: Any) -> Injection:
    settings: dict[str, Any] = {
        "method": "GET",
        "status": 200,
        "content_type": "text/html; charset=utf-8",
        "content_encoding": None,
        "path": "/",
        "query": "",
        "accept_language": None,
    }
    settings.update(request)
    plan = site.injection(decision, **settings)
    assert plan is not None
    return plan


def edit(site: Site, decision: Decision, body: bytes, **request: Any) -> bytes:
    # A fresh bytes object each time, as a template renders one.
    return plan_for(site, decision, **request).injector().feed_last(bytes(bytearray(body)))


# -- twins: same key, different bodies -------------------------------------------------------


async def alternating_app(scope: Any, receive: Any, send: Any) -> None:
    body = next(BODIES)
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


BODIES = itertools.cycle([CLEAN, TRACKED])


def alternating_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = next(BODIES)
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]


@pytest.mark.parametrize("server", ["uvicorn", "waitress"])
def test_a_twin_of_a_clean_page_still_has_its_pixel_blocked(server: str) -> None:
    """A page with a tracker pixel that shares length and ends with a clean page served
    just before (the memo's key) is edited on its own, under a real server."""
    global BODIES
    policy = make_policy()
    cookie = [("Cookie", decided(policy, {"analytics", "preferences"}))]  # marketing refused
    BODIES = itertools.cycle([CLEAN, TRACKED])
    if server == "uvicorn":
        running: Any = UvicornServer(AsgiMiddleware(alternating_app, policy=policy))
    else:
        running = WaitressServer(WsgiMiddleware(alternating_wsgi, policy))
    with running:
        responses = [raw_get(running.port, "/shop", cookie) for _ in range(4)]
    for clean, tracked in (responses[0:2], responses[2:4]):
        assert LOGO in clean.body
        assert b'data-cookieguard="marketing"' not in clean.body
        assert PIXEL not in tracked.body
        assert b"data-cookieguard-src=" in tracked.body
        assert b'data-cookieguard="marketing"' in tracked.body


def test_the_memo_serves_the_same_bytes_a_fresh_rewrite_gives() -> None:
    policy = make_policy()
    site = Site(policy)
    decision = site.guard.read(decided(policy, {"analytics"}), host="shop.example.com")
    page = twin(PIXEL + YOUTUBE)
    fresh = plan_for(site, decision).rewriter().feed_last(page)
    assert b"data-cookieguard-src=" in fresh  # the pixel
    assert b"<template data-cookieguard-original>" + YOUTUBE in fresh  # a placeholder
    first = edit(site, decision, page)
    entries = site.cache_stats()["edited_bodies"][0]
    again = edit(site, decision, page)
    assert first == again == fresh
    assert site.cache_stats()["edited_bodies"][0] == entries  # a hit: nothing new stored


# -- plans: what a cached plan must not share -------------------------------------------------


def test_visitors_with_different_choices_do_not_share_an_edit() -> None:
    policy = make_policy()
    site = Site(policy)
    host = "shop.example.com"
    refused = site.guard.read(decided(policy, {"analytics"}), host=host)
    granted = site.guard.read(decided(policy, {"analytics", "marketing"}), host=host)
    assert b"data-cookieguard-src=" in edit(site, refused, TRACKED)
    assert PIXEL in edit(site, granted, TRACKED)
    assert b"data-cookieguard-src=" in edit(site, refused, TRACKED)


def test_the_banner_names_each_page_and_language_it_is_on() -> None:
    site = Site(make_policy(languages=["en", "de"]))
    undecided = site.guard.read(None)
    shop = edit(site, undecided, CLEAN, path="/shop", accept_language="de")
    cart = edit(site, undecided, CLEAN, path="/cart", accept_language="de")
    query = edit(site, undecided, CLEAN, path="/cart", query="x=1", accept_language="de")
    english = edit(site, undecided, CLEAN, path="/cart", query="x=1", accept_language="en")
    assert b'value="/shop"' in shop and b'lang="de"' in shop
    assert b'value="/cart"' in cart and b'lang="de"' in cart
    assert b'value="/cart?x=1"' in query and b'lang="de"' in query
    assert b'value="/cart?x=1"' in english and b'lang="en"' in english
    assert edit(site, undecided, CLEAN, path="/shop", accept_language="de") == shop


def test_a_placeholder_is_written_in_the_visitor_language_for_their_page() -> None:
    policy = make_policy(languages=["en", "de"])
    site = Site(policy)
    decision = site.guard.read(decided(policy, {"analytics"}), host="shop.example.com")
    page = twin(YOUTUBE)
    german = edit(site, decision, page, path="/video", accept_language="de")
    english = edit(site, decision, page, path="/clip", accept_language="en")
    assert german != english
    assert b"/video" in german and b"/clip" not in german
    assert b"/clip" in english and b"/video" not in english


def test_gpc_changes_the_banner_of_a_cached_plan() -> None:
    site = Site(make_policy())
    plain = edit(site, site.guard.read(None), CLEAN)
    signalled = edit(site, site.guard.read(None, gpc=True), CLEAN)
    assert plain != signalled


def test_head_requests_and_other_types_are_never_planned() -> None:
    site = Site(make_policy())
    undecided = site.guard.read(None)
    request: dict[str, Any] = {
        "status": 200,
        "content_encoding": None,
        "path": "/",
        "query": "",
        "accept_language": None,
    }
    assert site.injection(undecided, method="HEAD", content_type="text/html", **request) is None
    assert site.injection(undecided, method="GET", content_type="text/css", **request) is None
    # Compressed pages and pages in UTF-16 are planned (decoded, edited, encoded back), with
    # the codings in the plan; a plan for each is cached.
    gzip = dict(request, content_encoding="gzip")
    for _ in range(2):
        found = site.injection(undecided, method="GET", content_type="text/html", **gzip)
        assert found is not None and found.codings == ("gzip",)
        wide = site.injection(
            undecided, method="GET", content_type="text/html; charset=utf-16", **request
        )
        assert wide is not None and wide.charset == "utf-16"


# -- bounds -----------------------------------------------------------------------------------


def test_the_memo_stays_within_its_budget_under_distinct_pages() -> None:
    site = Site(make_policy())
    undecided = site.guard.read(None)
    big = b"<p>" + b"x" * 60_000 + b"</p>"
    for i in range(400):  # 400 different 60 KB pages: 24 MB of bodies
        edit(site, undecided, twin(b"%06d" % i + big), path=f"/p/{i}")
    size = site.cache_stats()["edited_bodies"][1]
    assert 0 < size <= make_policy().page_cache
    plans, plan_bytes = site.cache_stats()["plans"]
    assert plans <= 1024 and plan_bytes <= 4 << 20
    assert plan_bytes >= plans * 1000  # each plan's banner bytes are counted


def test_a_body_over_the_memo_limit_is_edited_every_time_and_not_kept() -> None:
    site = Site(make_policy())
    undecided = site.guard.read(None)
    huge = twin(b"<p>" + b"y" * (make_policy().page_cache // 8) + b"</p>")
    out = edit(site, undecided, huge)
    assert re.search(rb'id="cookie-consent"', out)
    assert site.cache_stats()["edited_bodies"] == (0, 0)


def test_tracker_verdicts_stay_bounded_and_stay_right() -> None:
    """Verdicts are kept per tag bytes: thousands of distinct pixels fill a bounded memo,
    and every one of them is still gated on a page of its own."""
    site = Site(make_policy())
    undecided = site.guard.read(None)
    for i in range(3000):
        pixel = b'<img src="https://www.facebook.com/tr?id=%d" alt="">' % i
        out = edit(site, undecided, twin(pixel + b"x" * 2000), path="/p")
        assert b'data-cookieguard-src="https://www.facebook.com/tr?id=%d"' % i in out
    entries, size = site.cache_stats()["tracker_verdicts"]
    assert 0 < entries <= 4096 and size <= 1 << 20


def test_page_cache_zero_turns_the_memo_off_and_bad_values_are_refused() -> None:
    site = Site(make_policy(page_cache=0))
    undecided = site.guard.read(None)
    assert b'id="cookie-consent"' in edit(site, undecided, CLEAN)
    assert b'id="cookie-consent"' in edit(site, undecided, CLEAN)
    assert site.cache_stats()["edited_bodies"] == (0, 0)
    for bad in (-1, 1.5, "8MB", True):
        with pytest.raises(ValueError, match="page_cache"):
            make_policy(page_cache=bad)


def test_the_plan_takes_its_request_by_keyword_only() -> None:
    """``path`` and ``query`` are both strings: passed by position they could be swapped
    without an error (issue 25 part 2)."""
    site = Site(make_policy())
    with pytest.raises(TypeError):
        site.injection(  # type: ignore[call-arg]
            site.guard.read(None), "GET", 200, "text/html", None, "/", "", None
        )
