"""Issue 15 item 2 in real Chromium: Set-Cookie values that look like deletions but store.

The same app is served bare and behind cookieguard by real uvicorn. Bare, Chromium keeps
``_ga`` from every attack value (so each value really does store a cookie); behind
cookieguard, an undecided visitor keeps nothing, while real deletions still delete.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Browser

from cookieguard.asgi import ConsentMiddleware
from tests.harness import UvicornServer, make_policy

# The eight values Chromium stored `_ga` from in issue 15 (item 2).
ATTACKS = [
    "_ga=GA1.1; Max-Age=-1; Max-Age=31536000",
    "_ga=GA1.1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
    "_ga=GA1.1; Max-Age=0x",
    "_ga=GA1.1; Max-Age=0 1",
    "_ga=GA1.1; Max-Age=0.5",
    "_ga=GA1.1; Path=/max-age=0",
    "_ga=GA1.1; X=max-age=0",
    "_ga=GA1.1; Path=/expires=Thu, 01 Jan 1970 00:00:00 GMT",
]
DELETIONS = [
    "_ga=; Max-Age=0; Path=/",
    "_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
    "_ga=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",  # werkzeug, Django
    "_ga=x; Max-Age=31536000; Max-Age=-1",  # the last valid one wins
]
VALUES = ATTACKS + DELETIONS


async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """``/set?i=N`` answers with ``Set-Cookie: VALUES[N]``."""
    index = int(parse_qs(scope["query_string"].decode()).get("i", ["-1"])[0])
    headers = [(b"content-type", b"text/plain")]
    if 0 <= index < len(VALUES):
        headers.append((b"set-cookie", VALUES[index].encode("latin-1")))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    with (
        UvicornServer(app) as bare,
        UvicornServer(ConsentMiddleware(app, policy=make_policy())) as guarded,
    ):
        yield {"bare": bare.url, "guarded": guarded.url}


def ga_cookies(browser: Browser, base: str, index: int, *, preset: bool) -> list[str]:
    """The ``_ga``-ish cookies Chromium keeps after one response setting ``VALUES[index]``."""
    context = browser.new_context()
    try:
        if preset:
            context.add_cookies([{"name": "_ga", "value": "GA1.old", "url": base + "/"}])
        response = context.request.get(f"{base}/set?i={index}")
        assert response.ok
        kept = []
        for cookie in context.cookies():
            name, value = cookie["name"], cookie["value"]
            if name.startswith("_ga") or value.startswith("_ga"):  # nameless: value "_ga=..."
                kept.append(f"{name}={value}")
        return kept
    finally:
        context.close()


@pytest.mark.parametrize("index", range(len(ATTACKS)), ids=[v[:40] for v in ATTACKS])
def test_attack_values_store_in_chromium_but_not_through_cookieguard(
    browser: Browser, servers: dict[str, str], index: int
) -> None:
    assert ga_cookies(browser, servers["bare"], index, preset=False)  # Chromium stores it
    assert ga_cookies(browser, servers["guarded"], index, preset=False) == []


@pytest.mark.parametrize("index", range(len(ATTACKS), len(VALUES)), ids=[v[:40] for v in DELETIONS])
def test_real_deletions_still_delete(browser: Browser, servers: dict[str, str], index: int) -> None:
    assert ga_cookies(browser, servers["guarded"], index, preset=True) == []
