"""Edges of the core that the contract suite does not reach on its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.html._inject import BUFFER_LIMIT
from cookieguard.receipts import Receipt
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import WsgiDriver, drivers, make_policy

JSON = [("Content-Type", "application/json")]


class BrokenStore:
    def record(self, receipt: Receipt) -> None:
        raise OSError("disk on fire")

    def history(self, consent_id: str) -> Sequence[Receipt]:
        raise OSError("disk on fire")

    def purge(self, older_than: datetime) -> int:
        return 0

    def close(self) -> None:
        pass


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_broken_store_never_breaks_the_visitor(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    driver = drivers(make_policy())[kind]
    driver.app.site.endpoints.store = BrokenStore()  # type: ignore[attr-defined]
    response = driver.request(
        "POST", "/_cookieguard/consent", headers=JSON, body=b'{"action": "accept_all"}'
    )
    assert response.status == 200 and response.set_cookies
    cookie = response.set_cookies[0].split(";")[0]
    assert json.loads(driver.get("/_cookieguard/receipts", cookie=cookie).body)["receipts"] == []
    assert driver.get("/_cookieguard/preferences", cookie=cookie).status == 200
    assert "could not record a consent receipt" in caplog.text
    assert "could not read consent history" in caplog.text


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_dialog_fragment(kind: str) -> None:
    driver = drivers(make_policy())[kind]
    response = driver.get("/_cookieguard/dialog", query="next=/photos")
    assert response.status == 200
    assert response.text.startswith("<dialog")
    assert 'id="cookie-preferences-dialog"' in response.text
    assert 'value="/photos"' in response.text


def test_configured_cookie_domain_is_cleared_too() -> None:
    policy = make_policy(cookie_domain=".brand.example")
    token = ConsentCodec(policy).dumps(set(), "d" * 22)
    for driver in drivers(policy).values():
        response = driver.get("/", cookie=f"cookie_consent={token}; _ga=1")
        cleared = [c for c in response.set_cookies if c.startswith("_ga=")]
        assert any("Domain=brand.example" in c for c in cleared)


def test_garbage_token_with_several_keys() -> None:
    codec = ConsentCodec(make_policy(secret_keys=["a" * 20, "b" * 20]))
    assert not codec.loads("not.a.token").consent.decided


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_origin_with_default_port_in_host(kind: str) -> None:
    driver = drivers(make_policy())[kind]
    headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Origin", "https://shop.example.com"),
        ("Host", "shop.example.com:443"),
    ]
    response = driver.request(
        "POST", "/_cookieguard/consent", headers=headers, body=b"action=reject_all"
    )
    assert response.status == 303


def test_wsgi_large_html_body_is_still_edited_and_streams_without_a_length() -> None:
    big = b"<html><body>" + b"x" * (BUFFER_LIMIT + 10) + b"</body></html>"

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(big)))])
        half = len(big) // 2
        return [big[:half], big[half:]]

    response = WsgiDriver(WsgiMiddleware(app, make_policy())).get("/")
    # Past the buffer the length can no longer be corrected, but the page is still edited
    # (red-team K6); the server frames the body itself.
    assert response.header("content-length") is None
    assert b'id="cookie-consent"' in response.body
    assert response.body.startswith(big[: -len(b"</body></html>")])
    assert response.body.endswith(b"</body></html>")


def test_wsgi_odd_status_line_is_left_alone() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("abc", [("Content-Type", "text/html")])
        return [b"<html><body></body></html>"]

    statuses: list[str] = []

    def start_response(
        status: str, headers: Any, exc_info: Any = None
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    environ = {"PATH_INFO": "/", "REQUEST_METHOD": "GET", "wsgi.url_scheme": "http"}
    middleware = WsgiMiddleware(app, make_policy())
    body = middleware(environ, start_response)
    assert b"".join(body) == b"<html><body></body></html>"
    assert statuses == ["abc"]
