"""Conditional requests never resurrect another consent state's page (issue 19 item 2), in
both adapters: an app that answers 304 by its own ETag and by If-Modified-Since, as
StaticFiles, werkzeug and Django's ConditionalGetMiddleware do."""

from __future__ import annotations

from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import AsgiDriver, Driver, Response, WsgiDriver, make_policy

GA = "https://www.googletagmanager.com/gtag/js?id=G-ETAG1"
PAGE = (
    f'<!doctype html><html><head><script async src="{GA}"></script></head>'
    "<body><p>page</p></body></html>"
).encode()
ETAG = '"v1"'
MODIFIED = "Mon, 07 Dec 2026 10:00:00 GMT"
DOCUMENT = [("Sec-Fetch-Dest", "document"), ("Accept", "text/html")]


def answer(path: str, inm: str | None, ims: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    """A naive app: 304 when any tag it sees is its own, or on any If-Modified-Since."""
    kind = "text/css" if path.endswith(".css") else "text/html; charset=utf-8"
    headers = [("Content-Type", kind), ("ETag", ETAG), ("Last-Modified", MODIFIED)]
    mine = inm is not None and any(t.strip().removeprefix("W/") == ETAG for t in inm.split(","))
    if mine and path == "/whole-304":  # a 304 that keeps the page's own fields
        return 304, headers, b""
    if mine or (inm is None and ims is not None):
        return 304, [("ETag", ETAG)], b""
    body = b"body{}" if path.endswith(".css") else PAGE
    return 200, [*headers, ("Content-Length", str(len(body)))], body


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    fields = {k.lower(): v.decode() for k, v in scope["headers"]}
    status, headers, body = answer(
        scope["path"], fields.get(b"if-none-match"), fields.get(b"if-modified-since")
    )
    encoded = [(k.lower().encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    status, headers, body = answer(
        environ["PATH_INFO"],
        environ.get("HTTP_IF_NONE_MATCH"),
        environ.get("HTTP_IF_MODIFIED_SINCE"),
    )
    start_response(f"{status} X", headers)
    return [body]


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> Driver:
    policy = make_policy()
    if request.param == "asgi":
        return AsgiDriver(AsgiMiddleware(asgi_app, policy=policy))
    return WsgiDriver(WsgiMiddleware(wsgi_app, policy))


def cookie(*granted: str) -> str:
    return f"cookie_consent={ConsentCodec(make_policy()).dumps(set(granted), 'c' * 22)}"


def get(driver: Driver, path: str, consent: str | None, *extra: tuple[str, str]) -> Response:
    return driver.get(path, cookie=consent, headers=[*DOCUMENT, *extra])


def test_each_consent_state_gets_its_own_etag_and_no_last_modified(driver: Driver) -> None:
    undecided = get(driver, "/", None)
    accepted = get(driver, "/", cookie("analytics", "marketing", "preferences"))
    rejected = get(driver, "/", cookie())
    tags = [r.header("etag") for r in (undecided, accepted, rejected)]
    assert len(set(tags)) == 3
    for tag in tags:
        assert tag is not None and tag.startswith('"v1-cg') and tag.endswith('"')
    assert all(r.header("last-modified") is None for r in (undecided, accepted, rejected))


def test_another_states_tag_gets_the_full_page(driver: Driver) -> None:
    """Accept, visit, reject, revisit with the accepted copy's tag: 200 and the page gated."""
    accepted = get(driver, "/", cookie("analytics", "marketing", "preferences"))
    stored = accepted.header("etag")
    assert stored is not None and GA.encode() in accepted.body
    again = get(driver, "/", cookie(), ("If-None-Match", stored), ("If-Modified-Since", MODIFIED))
    assert again.status == 200
    assert b'type="text/plain" data-cookieguard="analytics"' in again.body


def test_the_same_states_tag_may_get_a_304_with_that_tag(driver: Driver) -> None:
    first = get(driver, "/", cookie())
    stored = first.header("etag")
    assert stored is not None
    again = get(driver, "/", cookie(), ("If-None-Match", stored))
    assert again.status == 304
    assert again.header("etag") == stored
    weak = get(driver, "/", cookie(), ("If-None-Match", "W/" + stored))
    assert weak.status == 304


def test_if_modified_since_alone_never_revalidates_a_page(driver: Driver) -> None:
    again = get(driver, "/", cookie(), ("If-Modified-Since", MODIFIED))
    assert again.status == 200
    # A copy stored before cookieguard (the app's bare tag): a document gets the full page.
    bare = get(driver, "/", cookie(), ("If-None-Match", ETAG))
    assert bare.status == 200


def test_sub_resources_keep_their_validators(driver: Driver) -> None:
    css = driver.get("/site.css", headers=[("Sec-Fetch-Dest", "style"), ("If-None-Match", ETAG)])
    assert css.status == 304 and css.header("etag") == ETAG


def test_a_304_with_the_pages_own_fields_is_tagged_once_and_has_no_last_modified(
    driver: Driver,
) -> None:
    """The validator rule is one (cookieguard.site._head), whichever adapter: a page's 304 is
    a page's head (the ASGI adapter used to keep its Last-Modified)."""
    stored = get(driver, "/whole-304", cookie()).header("etag")
    assert stored is not None and stored != ETAG
    again = get(driver, "/whole-304", cookie(), ("If-None-Match", stored))
    assert again.status == 304
    assert again.header("etag") == stored
    assert again.header("last-modified") is None
