"""The page's own CSP nonces on every tag cookieguard writes (issue 20 part 1).

Pure: which nonce a policy gives scripts and stylesheets, from header fields and from a
``<meta http-equiv>``; the plan with them. Adapters (ASGI and WSGI, in process): two responses
with different nonces each get their own, although they share one cached plan, and no edited
body with a header's nonce is kept in the page memo. Browser journeys:
tests/browser/test_app_csp.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.html._inject import Injection
from cookieguard.html._nonces import (
    Nonces,
    _names_http_equiv,
    given_nonce,
    header_nonces,
    meta_nonces,
    policy_nonces,
    with_nonces,
)
from cookieguard.site._site import Site
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import make_policy

ASSETS = (
    b'<link rel="stylesheet" href="/_cookieguard/banner.css?v=1">'
    b'<script src="/_cookieguard/banner.js?v=1" data-cookieguard-prefix="/_cookieguard" defer>'
    b"</script>"
)


@pytest.mark.parametrize(
    ("policies", "expected"),
    [
        (["script-src 'self' 'nonce-abc123'"], Nonces("abc123", "")),
        (["default-src 'nonce-Zz+/_-9=='"], Nonces("Zz+/_-9==", "Zz+/_-9==")),
        # The most specific directive governs: script-src-elem over script-src, and a
        # directive without a nonce is not completed from a less specific one.
        (["script-src 'nonce-a'; script-src-elem 'nonce-b'"], Nonces("b", "")),
        (["script-src 'self'; default-src 'nonce-a'"], Nonces("", "a")),
        (["style-src 'nonce-s'; script-src 'NONCE-k'"], Nonces("k", "s")),
        # The first of a repeated directive wins; names are case-blind.
        (["SCRIPT-SRC 'nonce-first'; script-src 'nonce-second'"], Nonces("first", "")),
        # A header field holding a list of policies; several fields.
        (["object-src 'none', script-src 'nonce-x'"], Nonces("x", "")),
        (["style-src 'nonce-s'", "script-src 'nonce-k'"], Nonces("k", "s")),
        (["script-src 'self' 'sha256-abc='"], None),
        ([], None),
        # Not a base64 value: never copied into markup.
        (["script-src 'nonce-a\"><script>'"], None),
        (["script-src 'nonce-'"], None),
    ],
)
def test_policy_nonces(policies: list[str], expected: Nonces | None) -> None:
    assert policy_nonces(policies) == expected


def test_header_nonces_reads_both_fields_in_any_case_as_str_or_bytes() -> None:
    assert header_nonces([(b"Content-Security-Policy", b"script-src 'nonce-b'")]) == Nonces("b")
    assert header_nonces([("content-security-policy-report-only ", "script-src 'nonce-r'")]) == (
        Nonces("r")
    )
    assert header_nonces([("X-Content-Security-Policy", "script-src 'nonce-x'")]) is None
    assert header_nonces([("content-type", "text/html")]) is None


def test_given_nonce() -> None:
    assert given_nonce("dGVzdA==") == Nonces("dGVzdA==", "dGVzdA==")
    assert given_nonce('a" onload="x') is None
    assert given_nonce("") is None


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta http-equiv="Content-Security-Policy" content="script-src \'nonce-MiXeD\'">',
        b"<META HTTP-EQUIV=content-security-policy CONTENT=\"script-src 'nonce-MiXeD'\">",
        b"<meta content=\"script-src 'nonce-MiXeD'\" http-equiv='Content-Security-Policy'>",
        b'<meta http-equiv="Content-Security-Policy" content="script-src &#39;nonce-MiXeD&#39;">',
    ],
)
def test_meta_nonces_finds_the_policy_in_the_head_and_keeps_the_nonces_case(meta: bytes) -> None:
    page = b"<!doctype html><html><head><meta charset=utf-8>" + meta + b"</head><body></body>"
    assert meta_nonces(page) == Nonces("MiXeD", "")


def test_meta_nonces_ignores_report_only_and_other_metas() -> None:
    report = (
        b"<meta http-equiv=Content-Security-Policy-Report-Only content=\"script-src 'nonce-r'\">"
    )
    other = b"<meta name=content-security-policy content=\"script-src 'nonce-n'\">"
    assert meta_nonces(b"<head>" + report + other + b"</head>") is None
    assert meta_nonces(b"<p>No policy here</p>" * 100) is None


def test_with_nonces_marks_our_script_and_stylesheet() -> None:
    out = with_nonces(ASSETS, Nonces("sn", "st"))
    assert out == (
        b'<link nonce="st" rel="stylesheet" href="/_cookieguard/banner.css?v=1">'
        b'<script nonce="sn" src="/_cookieguard/banner.js?v=1" '
        b'data-cookieguard-prefix="/_cookieguard" defer></script>'
    )
    assert with_nonces(ASSETS, Nonces("sn", "")).startswith(b'<link rel="stylesheet"')
    assert with_nonces(out, Nonces("other", "other")) == out  # never a second nonce
    assert with_nonces(b"", Nonces("a", "b")) == b""


PAGE = b"<!doctype html><html><head><title>T</title></head><body><p>Hi</p></body></html>"


def test_a_nonced_plan_carries_the_nonce_and_keeps_no_edited_body() -> None:
    from cookieguard._cache import Memo

    memo: Memo[tuple[object, ...], tuple[bytes, bytes]] = Memo(64, 1 << 20)
    plan = Injection(ASSETS, memo=memo)
    assert plan.nonced(None) is plan
    nonced = plan.nonced(Nonces("n1", "n1"))
    out = nonced.injector().feed_last(PAGE)
    assert b'<script nonce="n1" src="/_cookieguard/banner.js' in out
    assert b'<link nonce="n1" rel="stylesheet"' in out
    assert len(memo) == 0  # a nonce differs per response: its body is never kept
    assert b"nonce=" not in plan.injector().feed_last(PAGE)
    assert len(memo) == 1  # the plan without a nonce still uses the memo


def test_a_meta_policy_in_the_page_gives_its_nonce_whole_or_streamed() -> None:
    meta = b"<meta http-equiv=Content-Security-Policy content=\"script-src 'nonce-m1'\">"
    page = PAGE.replace(b"<title>", meta + b"<title>")
    plan = Injection(ASSETS)
    whole = plan.injector().feed_last(page)
    assert b'<script nonce="m1" src="/_cookieguard/banner.js' in whole
    editor = plan.injector()
    streamed = (
        b"".join([editor.feed(page[:40]), editor.feed(page[40:]), editor.feed(b" " * 2000)])
        + editor.finish()
    )
    assert b'<script nonce="m1" src="/_cookieguard/banner.js' in streamed


def test_a_late_banner_is_nonced_too() -> None:
    plan = Injection(b"<div>banner</div>" + ASSETS, refresh=lambda: b"<div>newer</div>" + ASSETS)
    out = plan.nonced(Nonces("late", "")).injector().feed_last(PAGE)
    assert b"<div>newer</div>" in out
    assert b'<script nonce="late" src=' in out


# -- through the adapters: one cached plan, a nonce per response ---------------------------

NONCES = iter(f"n{i}abc" for i in range(100))


def _page_for(nonce: str) -> bytes:
    return PAGE.replace(b"<p>Hi</p>", f'<script nonce="{nonce}">1</script>'.encode())


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    nonce = next(NONCES)
    body = _page_for(nonce)
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (
            b"Content-Security-Policy",
            f"script-src 'nonce-{nonce}' 'strict-dynamic'; style-src 'nonce-{nonce}'".encode(),
        ),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    nonce = next(NONCES)
    body = _page_for(nonce)
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Content-Security-Policy", f"default-src 'self' 'nonce-{nonce}'"),
        ],
    )
    return [body]


def _asgi_get(app: Any) -> bytes:
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"",
        "headers": [(b"host", b"shop.example.com")], "scheme": "http", "http_version": "1.1",
        "asgi": {"version": "3.0"}, "server": ("shop.example.com", 80), "client": ("1.2.3.4", 1),
        "root_path": "",
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _wsgi_get(app: Any) -> bytes:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SERVER_NAME": "shop",
        "SERVER_PORT": "80", "HTTP_HOST": "shop.example.com", "wsgi.url_scheme": "http",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }  # fmt: skip
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))


@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_each_response_gets_its_own_nonce_from_one_cached_plan(adapter: str) -> None:
    policy = make_policy()
    if adapter == "asgi":
        middleware: Any = AsgiMiddleware(asgi_app, policy=policy)
        get = _asgi_get
    else:
        middleware = WsgiMiddleware(wsgi_app, policy)
        get = _wsgi_get
    site: Site = middleware.site
    bodies = [get(middleware) for _ in range(3)]
    nonces = [b.split(b'<script nonce="')[1].split(b'"')[0] for b in bodies]
    assert len(set(nonces)) == 3
    for body, nonce in zip(bodies, nonces, strict=True):
        assert b'<script nonce="' + nonce + b'" src="/_cookieguard/banner.js' in body
        assert b'<link nonce="' + nonce + b'" rel="stylesheet"' in body  # default-src's
    assert site.cache_stats()["plans"][0] == 1  # one plan, nonced per response
    assert site.cache_stats()["edited_bodies"][0] == 0  # no nonce kept for later


@given(st.text(alphabet="httpHTTP-equivEQUIVq <>x", max_size=80))
def test_the_policy_prefilter_finds_every_letter_case_of_http_equiv(text: str) -> None:
    """The memchr scan for "q"/"Q" that spares lowering the head agrees with lowering it."""
    head = text.encode("ascii")
    assert _names_http_equiv(head, len(head)) == (b"http-equiv" in head.lower())
    assert _names_http_equiv(head, 20) == (b"http-equiv" in head[:20].lower())


@pytest.mark.parametrize("qs", [0, 31, 32, 33, 500])
def test_the_policy_prefilter_past_many_qs_still_finds_it(qs: int) -> None:
    for head in (b"q" * qs + b"HTTP-equiv", b"Q" * qs + b"http-EQUIV", b"q" * qs):
        assert _names_http_equiv(head, len(head)) == (b"http-equiv" in head.lower())


@pytest.mark.parametrize("at", [0, 1, 7, 8, 9, (1 << 15) - 16, (1 << 15) - 15, 1 << 15])
def test_meta_nonces_finds_a_policy_anywhere_in_the_first_32_kb(at: int) -> None:
    meta = b"<meta http-equiv=CONTENT-SECURITY-policy content=\"script-src 'nonce-n1'\">"
    page = b"x" * at + meta
    found = meta_nonces(page)
    if at + len(meta) <= 1 << 15:
        assert found == Nonces("n1", "")
    else:
        assert found is None  # past the head the policy is not looked for
