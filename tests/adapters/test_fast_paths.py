"""The fast paths of the cookie path (issue 14): what the adapters' shortcuts must still get
right. Each shortcut is a memo or a lookup in place of work; these tests pin the answers to
the ones the long way gives, including the cases the shortcuts skip."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard._cache import ENTRY_OVERHEAD, Memo
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.core import _headers
from cookieguard.core._guard import Guard
from cookieguard.core._headers import maybe_html
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import PAGE, make_policy, run

CID = "s" * 22

# -- ASGI: a response whose headers are any iterable ---------------------------------------


async def _asgi_collect(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _write(data: bytes) -> None:
    pass


def _ignore(status: str, headers: Any, exc_info: Any = None) -> Any:
    return _write


def _recording(into: list[Any]) -> Any:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        into.append(headers)
        return _write

    return start_response


def _scope(cookie: bytes = b"", path: str = "/") -> dict[str, Any]:
    headers = [(b"host", b"shop.example.com")]
    if cookie:
        headers.append((b"cookie", cookie))
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "scheme": "https",
        "headers": headers,
    }


@pytest.mark.parametrize("refused", [True, False])
def test_asgi_start_headers_as_a_generator_are_read_once_and_kept(refused: bool) -> None:
    """The ASGI spec types headers as an iterable: a generator must not be consumed by the
    gate and then sent on empty (it lost Content-Type and every cookie)."""
    cookies = [b"_fbp=1; Path=/"] if refused else []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        fields = [(b"content-type", b"text/plain"), (b"x-kept", b"1")]
        fields += [(b"set-cookie", c) for c in cookies]
        await send({"type": "http.response.start", "status": 200, "headers": (f for f in fields)})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = AsgiMiddleware(app, policy=make_policy())
    start = run(_asgi_collect(middleware, _scope()))[0]
    headers = list(start["headers"])
    assert (b"content-type", b"text/plain") in headers
    assert (b"x-kept", b"1") in headers
    assert not any(k == b"set-cookie" for k, _ in headers)


def test_asgi_start_without_headers_key() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    middleware = AsgiMiddleware(app, policy=make_policy())
    sent = run(_asgi_collect(middleware, _scope()))
    assert sent[0] == {"type": "http.response.start", "status": 204}


def test_asgi_refused_cookie_value_in_another_field_is_not_dropped() -> None:
    """The gate drops Set-Cookie fields by value: a field of another name that happens to
    hold the same text stays."""
    value = b"_fbp=1; Path=/"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"set-cookie", value), (b"x-echo", value), (b"Set-Cookie", value)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    middleware = AsgiMiddleware(app, policy=make_policy())
    headers = run(_asgi_collect(middleware, _scope()))[0]["headers"]
    assert headers == [(b"x-echo", value)]


def test_asgi_app_header_list_is_not_changed_in_place() -> None:
    """An app may send the same header list object on every response (a module constant):
    fields cookieguard adds go on a copy."""
    shared = [(b"content-type", b"text/html; charset=utf-8")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": shared})
        await send({"type": "http.response.body", "body": PAGE})

    middleware = AsgiMiddleware(app, policy=make_policy())
    token = ConsentCodec(make_policy()).dumps(set(), CID).encode()
    for _ in range(3):
        # Withdrawn cookies are deleted: the response gets Set-Cookie fields and a Vary.
        sent = run(_asgi_collect(middleware, _scope(b"cookie_consent=" + token + b"; _ga=1")))
        assert any(k == b"set-cookie" for k, _ in sent[0]["headers"])
    assert shared == [(b"content-type", b"text/html; charset=utf-8")]


# -- the decision cache: raw bytes from ASGI, text from WSGI -------------------------------


def test_guard_reads_raw_bytes_like_text() -> None:
    policy = make_policy()
    guard = Guard(policy)
    token = ConsentCodec(policy).dumps({"analytics"}, CID)
    header = f"cookie_consent={token}; _ga=1; _fbp=2; likebox=3"
    text = guard.read(header, False, "shop.example.com", True)
    raw = guard.read(header.encode("latin-1"), False, b"shop.example.com", True)
    assert raw == text
    assert raw.cookie_header == f"cookie_consent={token}; _ga=1"
    assert guard.read(header.encode("latin-1"), False, b"shop.example.com", True) is raw
    assert (
        guard._decisions.get((header.encode("latin-1"), False, b"shop.example.com", True, "opt-in"))
        is not None
    )


def test_guard_raw_host_too_long_is_no_host() -> None:
    guard = Guard(make_policy())
    decision = guard.read(b"_fbp=1", False, b"h" * 400, False)
    assert decision.set_cookies and all("Domain=" not in c for c in decision.set_cookies)
    assert all(key[2] == "" for key in guard._decisions)


def test_asgi_cached_decision_expires_with_the_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapters look the decision up themselves: they must check its expiry too."""
    policy = make_policy(max_age=3600)
    seen: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["cookieguard.consent"].decided)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ["cookieguard.consent"].decided)
        start_response("204 No Content", [])
        return []

    signed = time.time() - 3000
    token = ConsentCodec(policy).dumps({"analytics"}, CID, now=signed)
    asgi_mw = AsgiMiddleware(app, policy=policy)
    wsgi_mw = WsgiMiddleware(wsgi, policy)
    scope = _scope(f"cookie_consent={token}".encode())
    environ = {"PATH_INFO": "/", "HTTP_COOKIE": f"cookie_consent={token}", "HTTP_HOST": "a"}
    run(_asgi_collect(asgi_mw, dict(scope)))
    list(wsgi_mw(dict(environ), _ignore))
    assert seen == [True, True]
    later = signed + 3601
    monkeypatch.setattr("cookieguard.core._guard.time.time", lambda: later)
    monkeypatch.setattr("cookieguard.core._consent.time.time", lambda: later)
    run(_asgi_collect(asgi_mw, dict(scope)))
    list(wsgi_mw(dict(environ), _ignore))
    assert seen == [True, True, False, False]


# -- header roles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"cookie", _headers.COOKIE),
        (b"Cookie", _headers.COOKIE_RESPELLED),
        (b" cookie", _headers.COOKIE_RESPELLED),
        (b"COOKIE\t", _headers.COOKIE_RESPELLED),
        (b"host", _headers.HOST),
        (b"Host", _headers.HOST),
        (b"sec-gpc", _headers.SEC_GPC),
        (b"Accept-Language", _headers.ACCEPT_LANGUAGE),
        (b"set-cookie", _headers.SET_COOKIE),
        (b"Set-Cookie ", _headers.SET_COOKIE),
        (b"content-type", _headers.CONTENT_TYPE),
        (b"Content-Encoding", _headers.CONTENT_ENCODING),
        (b"CONTENT-LENGTH", _headers.CONTENT_LENGTH),
        (b"Content-Security-Policy", _headers.CONTENT_SECURITY_POLICY),
        (b"content-security-policy-report-only", _headers.CONTENT_SECURITY_POLICY),
        (b"content-security-policy-x", _headers.OTHER),
        (b"x-cookie", _headers.OTHER),
        (b"cookies", _headers.OTHER),
        (b"", _headers.OTHER),
    ],
)
def test_header_roles(raw: bytes, expected: _headers.Role) -> None:
    assert _headers.role(raw) is expected
    assert _headers.role(raw) is expected  # from the memo
    text = _headers.text_role(raw.decode("latin-1"))
    # WSGI has no "respelled" Cookie: servers hand the request's Cookie over as HTTP_COOKIE.
    assert text is (_headers.COOKIE if expected is _headers.COOKIE_RESPELLED else expected)


def test_every_role_is_truthy_and_distinct() -> None:
    """``known_role(k) or role(k)`` relies on it: a falsy role would be looked up again."""
    roles = list(_headers.Role)
    assert len(roles) >= 10 and all(roles) and len(set(roles)) == len(roles)
    # The module-level names are the members themselves (compared with ``is``).
    assert all(getattr(_headers, n) is _headers.Role[n] for n in _headers.Role.__members__)


def test_the_role_memos_are_bounded_and_right_when_full() -> None:
    for i in range(5000):
        _headers.role(f"X-Flood-{i}".encode())
        _headers.text_role(f"X-Flood-{i}")
    _headers.role(b"X-" + b"a" * 500)
    assert len(_headers._roles) <= _headers._MEMO_ENTRIES
    assert len(_headers._text_roles) <= _headers._MEMO_ENTRIES
    assert all(len(k) <= _headers._MEMO_NAME_LENGTH for k in _headers._roles)
    assert _headers.role(b"Set-Cookie\t\t") is _headers.SET_COOKIE
    assert _headers.known_role(b"Set-Cookie\t\t") is None  # not remembered: the memo is full
    assert _headers.text_role("CONTENT-length ") is _headers.CONTENT_LENGTH


def test_adapters_gate_set_cookie_spellings_unseen_once_the_memos_are_full() -> None:
    for i in range(5000):
        _headers.role(f"X-Fill-{i}".encode())
        _headers.text_role(f"X-Fill-{i}")
    spelling = "sEt-CoOkIe  "
    assert _headers.known_role(spelling.encode()) is None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(spelling.encode(), b"_fbp=1"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [(spelling, "_fbp=1"), ("Content-Type", "text/plain")])
        return [b"ok"]

    headers = run(_asgi_collect(AsgiMiddleware(app, policy=make_policy()), _scope()))[0]
    assert headers["headers"] == [(b"content-type", b"text/plain")]
    got: list[Any] = []
    WsgiMiddleware(wsgi, make_policy())({"PATH_INFO": "/"}, _recording(got))
    assert got == [[("Content-Type", "text/plain")]]


# -- Content-Type: could this body be HTML? ------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "text/html",
        "text/html; charset=utf-8",
        "TEXT/HTML",
        " \ttext/html",
        "\xa0text/html",  # str.lstrip strips it: the long way accepted it
        "\x1ctext/html",
        "application/xhtml+xml",
        "Application/XHTML+XML; charset=iso-8859-1",
        "text/plain",
        "text/htm",
        "application/json",
        "",
        "x" * 30 + "text/html",
        "text/html" + "x" * 100,
    ],
)
def test_html_type_answers_as_maybe_html_does(value: str) -> None:
    """The memo gives what decoding, stripping and ``maybe_html`` gave before it, for the
    bytes of ASGI and the text of WSGI."""
    expected = value.lstrip() if maybe_html(value.lstrip()) else ""
    for raw in (value, value.encode("latin-1")):
        assert _headers.html_type(raw) == expected
        assert _headers.html_type(raw) == expected  # from the memo when short enough


def test_html_type_memo_is_bounded() -> None:
    for i in range(1000):
        _headers.html_type(f"text/x-{i}".encode())
    assert len(_headers._html_types) <= _headers._MAX_TYPES
    assert _headers.html_type(b"text/html; charset=utf-8; x=never-seen") != ""


@pytest.mark.parametrize("content_type", [b"\xa0text/html", b"TEXT/HTML; charset=utf-8"])
def test_asgi_injects_into_html_whatever_the_content_type_spelling(content_type: bytes) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(PAGE))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    sent = run(_asgi_collect(AsgiMiddleware(app, policy=make_policy()), _scope()))
    body = sent[1]["body"]
    assert b'id="cookie-consent"' in body
    assert (b"content-length", b"%d" % len(body)) in sent[0]["headers"]


# -- WSGI: the body object only when it may be edited --------------------------------------


def test_wsgi_non_html_gets_the_apps_own_iterable_and_start_response_directly() -> None:
    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"ok"

        def close(self) -> None:
            pass

    body = Body()
    calls: list[tuple[str, Any, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "_ga=1")])
        return body

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        calls.append((status, headers, exc_info))
        return _write

    result = WsgiMiddleware(app, make_policy())({"PATH_INFO": "/"}, start_response)
    assert result is body
    assert calls == [("200 OK", [("Content-Type", "text/plain")], None)]


def test_wsgi_error_page_after_a_plain_start_goes_to_the_server() -> None:
    """A second start_response with exc_info (PEP 3333) after headers were started goes to
    the server unchanged, which decides whether it may still replace them."""
    calls: list[tuple[str, Any]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            start_response("500 Error", [("Content-Type", "text/html")], sys.exc_info())
        return [PAGE]

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        calls.append((status, exc_info))
        return _write

    result = WsgiMiddleware(app, make_policy())({"PATH_INFO": "/"}, start_response)
    assert b"".join(result) == PAGE  # not edited: it is an error page
    assert [c[0] for c in calls] == ["200 OK", "500 Error"]
    assert calls[1][1] is not None


def test_wsgi_late_start_of_a_plain_response_passes_through() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "_fbp=1")])
        yield b"a"
        yield b"b"

    got: list[Any] = []
    result = WsgiMiddleware(app, make_policy())({"PATH_INFO": "/"}, _recording(got))
    assert b"".join(result) == b"ab"
    assert got == [[("Content-Type", "text/plain")]]


# -- the bounded memo's fast get -----------------------------------------------------------


def test_memo_get_follows_put_pop_and_clear() -> None:
    memo: Memo[str, int] = Memo(limit=2, budget=10_000)
    memo.put("a", 1, 1)
    memo.put("a", 2, 1)
    assert memo.get("a") == 2 and len(memo) == 1
    memo.put("b", 3, 1)
    memo.put("c", 4, 1)  # evicts "a", the oldest
    assert memo.get("a") is None and memo.get("b") == 3 and memo.get("c") == 4
    assert list(memo) == ["b", "c"]
    memo.pop("b")
    assert memo.get("b") is None and memo.size == ENTRY_OVERHEAD + 1
    get = memo.get
    memo.clear()
    assert get("c") is None and len(memo) == 0 and memo.size == 0
    memo.put("d", 5, 1)
    assert get("d") == 5  # the bound get stays valid across clear()


@pytest.mark.parametrize(
    "value",
    [
        "_ga=1; Max-Age=60",
        "_ga=; Max-Age=0",
        "_fbp=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "likebox=1; Path=/",
        "undeclared=1",
        "caf\xe9=1",
        "=_ga=GA1.1; Max-Age=31536000",
    ],
)
def test_set_cookie_verdicts_for_raw_bytes_match_text(value: str) -> None:
    """ASGI hands Set-Cookie values to the core as bytes (no decoding on a memo hit)."""
    policy = make_policy()
    guard = Guard(policy)
    token = ConsentCodec(policy).dumps({"preferences"}, CID)
    for consent in (guard.read(None).consent, guard.read(f"cookie_consent={token}").consent):
        expected = guard.keep_set_cookie(consent, value)
        assert guard.keep_set_cookie(consent, value.encode("latin-1")) is expected
        assert guard.keep_set_cookie(consent, value.encode("latin-1")) is expected  # memo


@pytest.mark.parametrize(
    "names",
    [["Content-Length"], ["content-length", "Content-Length"], ["Content-Length"] * 2],
)
def test_wsgi_every_content_length_field_is_corrected_after_an_edit(names: list[str]) -> None:
    """The one Content-Length field is found by identity; several (a malformed response)
    by role, so none keeps the old length."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", "text/html")]
        headers += [(name, str(len(PAGE))) for name in names]
        start_response("200 OK", headers)
        return [PAGE]

    got: list[Any] = []
    body = b"".join(WsgiMiddleware(app, make_policy())({"PATH_INFO": "/"}, _recording(got)))
    assert b'id="cookie-consent"' in body
    lengths = [v for k, v in got[0] if k.lower() == "content-length"]
    assert lengths == [str(len(body))] * len(names)


@pytest.mark.parametrize("refused", [False, True])
@pytest.mark.parametrize(
    "names",
    [[b"content-length"], [b"Content-Length", b"content-length"], [b"content-length"] * 2],
)
def test_asgi_every_content_length_field_is_corrected_after_an_edit(
    names: list[bytes], refused: bool
) -> None:
    """The one Content-Length field is remembered by its index in the final header list
    (after the gate dropped a refused Set-Cookie before it, and deletions were added); several
    (a malformed response) are looked for by role when the body is in. None keeps the old
    length."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"set-cookie", b"_fbp=1; Path=/")] if refused else []
        headers += [(b"content-type", b"text/html"), (b"x-before", b"1")]
        headers += [(name, str(len(PAGE)).encode()) for name in names]
        headers.append((b"x-after", b"2"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})

    # A decided visitor with a withdrawn cookie: the decision adds deletions at the end too.
    token = ConsentCodec(make_policy()).dumps({"analytics"}, CID).encode()
    middleware = AsgiMiddleware(app, policy=make_policy())
    for _ in range(2):  # the second time from the cached plan and edited page
        sent = run(_asgi_collect(middleware, _scope(b"cookie_consent=" + token + b"; _fbp=1")))
        body = sent[1]["body"]
        assert body != PAGE  # the asset tags went in
        headers = sent[0]["headers"]
        lengths = [v for k, v in headers if k.lower() == b"content-length"]
        assert lengths == [str(len(body)).encode()] * len(names)
        assert (b"x-before", b"1") in headers and (b"x-after", b"2") in headers
        assert any(k == b"set-cookie" and v.startswith(b"_fbp=;") for k, v in headers)
        assert (b"set-cookie", b"_fbp=1; Path=/") not in headers


def test_asgi_a_message_after_the_whole_body_passes_as_sent() -> None:
    """The whole-body path edits the page once; a stray body message after the last one (a
    protocol error the server will refuse) is not edited as a new page."""
    stray = b"<html><body>late</body></html>"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(PAGE)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE})
        await send({"type": "http.response.body", "body": stray})

    sent = run(_asgi_collect(AsgiMiddleware(app, policy=make_policy()), _scope()))
    assert b'id="cookie-consent"' in sent[1]["body"]
    assert sent[2]["body"] == stray
