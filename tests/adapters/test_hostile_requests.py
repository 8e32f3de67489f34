"""Issue 15 (items 1, 2, 7, 8, 9) and issue 9 (item 7): each attack as it was sent.

Servers are real (uvicorn and waitress in threads, on free ports of 127.0.0.1) and requests
are written byte by byte on a socket, so nothing between the attack and the middleware
cleans it up first.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from cookieguard import ConsentCodec
from cookieguard._cache import ENTRY_OVERHEAD, Memo, remember
from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.core._guard import MAX_DELETION_BYTES, MAX_DELETIONS, Guard
from cookieguard.receipts import SQLiteStore
from cookieguard.site._endpoints import safe_next
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import (
    AsgiDriver,
    Driver,
    WsgiDriver,
    asgi_app,
    drivers,
    make_policy,
    run,
    served,
    wsgi_app,
)

OPTIONAL = "likebox=1; _ga=GA1.2.3; _ga_X=GS1.1.1; _fbp=fb.1.2"
CID = "h" * 22

# -- real servers and raw requests ---------------------------------------------------------


MAX_READ = 1 << 20  # more than any sane response; the attack answered 146 MB of headers


def raw_request(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
) -> tuple[int, bytes, bytes]:
    """Send one HTTP/1.1 request exactly as given; status, raw header block, body."""
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall("\r\n".join(lines).encode("latin-1") + body)
        data = b""
        while len(data) < MAX_READ:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert len(data) < MAX_READ, f"response over {MAX_READ} bytes: {head[:200]!r}"
    status = int(head.split(b" ", 2)[1])
    return status, head, rest


def set_cookies(head: bytes) -> list[str]:
    out = []
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"set-cookie":
            out.append(value.strip().decode("latin-1"))
    return out


def header(head: bytes, wanted: str) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted.encode():
            return value.strip().decode("latin-1")
    return None


# -- item 1: Host-header amplification -----------------------------------------------------


def deep_host(labels: int) -> str:
    return ".".join(["a"] * labels) + ".example"


def test_host_amplification_is_bounded_on_a_real_server() -> None:
    middleware = AsgiMiddleware(asgi_app, policy=make_policy())
    guard = middleware.site.guard
    with served("uvicorn", middleware) as port:
        # The attack as sent: a 12 KB request, 6,000 labels, four optional cookies.
        host = deep_host(6000)
        status, head, _ = raw_request(port, "GET", "/", [("Host", host), ("Cookie", OPTIONAL)])
        assert status == 200
        assert len(head) < 2048, len(head)
        deletions = set_cookies(head)
        # An invalid host name: host-only deletions of the four cookies, nothing more.
        assert sorted(c.split("=", 1)[0] for c in deletions) == ["_fbp", "_ga", "_ga_X", "likebox"]
        assert not any("Domain=" in c for c in deletions)

        # 150 requests with distinct 2 KB Hosts (33 labels of 60 octets: too long a name).
        for i in range(150):
            host = f"n{i}." + ".".join(["b" * 60] * 33) + ".example"
            assert len(host) > 2000
            status, head, _ = raw_request(port, "GET", "/", [("Host", host), ("Cookie", OPTIONAL)])
            assert status == 200
            assert len(head) < 2048

        # A valid but deep host: 127 labels, 253 octets. Five parents at most, capped bytes.
        host = ".".join(["c"] * 123) + ".example"
        assert len(host) == 253
        status, head, _ = raw_request(port, "GET", "/", [("Host", host), ("Cookie", OPTIONAL)])
        assert status == 200
        deletions = set_cookies(head)
        domains = {c.split("Domain=", 1)[1].split(";")[0] for c in deletions if "Domain=" in c}
        assert len(domains) <= 6  # the host and five parents
        assert len(deletions) <= MAX_DELETIONS
        assert sum(map(len, deletions)) <= MAX_DELETION_BYTES
        assert len(head) < MAX_DELETION_BYTES + 1024

    stats = guard.cache_stats()
    # Invalid hosts are not part of any cache key, so 150 Hosts made no new entries.
    assert stats["decisions"][0] <= 2
    assert all(len(key[2]) <= 253 for key in guard._decisions)
    assert sum(size for _, size in stats.values()) < 256 * 1024, stats


def text_bytes(value: object) -> int:
    """The characters of every string inside ``value`` (tuples, dataclasses, frozensets)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, tuple | frozenset | list):
        return sum(text_bytes(v) for v in value)
    if hasattr(value, "__slots__"):
        return sum(text_bytes(getattr(value, name)) for name in value.__slots__)
    return 0


def test_every_guard_cache_is_bounded_by_bytes() -> None:
    policy = make_policy(cache_size=4096)
    guard = Guard(policy)
    token = ConsentCodec(policy).dumps({"preferences"}, CID)
    undecided = guard.read(None).consent
    for i in range(3000):
        # 2 KB Cookie headers, each distinct, each with an optional cookie to expire.
        header = f"cookie_consent={token}; _ga=GA{i}; {'x' * 1990}={i}"[:2048]
        guard.read(header, host=f"h{i}.shop.example")
        # Distinct long Set-Cookie values, and long undeclared names.
        guard.keep_set_cookie(undecided, f"_ga=GA{i}{'v' * 1000}; Max-Age=10")
        guard.keep_set_cookie(undecided, f"{'n' * 3000}{i}=1")
    stats = guard.cache_stats()
    budgets = {
        "decisions": 4 << 20,
        "set_cookies": 1 << 20,
        "categories": 1 << 19,
        "deletions": 1 << 20,
        "consents": 4 << 20,
    }
    for name, budget in budgets.items():
        assert stats[name][1] <= budget, (name, stats[name])
    # The estimates are honest: the text actually held stays under them.
    memos: tuple[Memo[Any, Any], ...] = (
        guard._decisions,
        guard._set_cookies,
        guard._categories,
        guard._deletions,
    )
    for memo in memos:
        held = sum(text_bytes(key) + text_bytes(memo.get(key)) for key in memo)
        assert held <= memo.size
    assert stats["logged_names"][1] <= 1024 * 128


def test_memo_evicts_by_entries_and_bytes() -> None:
    memo: Memo[str, str] = Memo(limit=4, budget=8 * (ENTRY_OVERHEAD + 100))
    for i in range(10):
        memo.put(f"k{i}", "v", 1)
    assert list(memo) == ["k6", "k7", "k8", "k9"]
    memo.put("big", "v", 100)  # the largest entry allowed: an eighth of the budget
    assert "big" in memo and memo.size <= memo.budget
    memo.put("huge", "v", 101)
    assert "huge" not in memo
    memo.clear()
    assert len(memo) == 0 and memo.size == 0
    small: Memo[int, int] = Memo(limit=100, budget=8 * (ENTRY_OVERHEAD + 10))
    for i in range(20):
        small.put(i, i, 10)
    assert list(small) == list(range(12, 20))
    assert small.size == 8 * (ENTRY_OVERHEAD + 10)
    small.put(19, 0, 10)  # replacing an entry does not count it twice
    assert small.size == 8 * (ENTRY_OVERHEAD + 10) and small.get(19) == 0
    small.pop(19)
    small.pop(19)
    assert small.size == 7 * (ENTRY_OVERHEAD + 10)
    off: Memo[int, int] = Memo(limit=0, budget=10_000)
    off.put(1, 1, 1)
    assert len(off) == 0


def test_memo_byte_count_stays_exact_across_threads() -> None:
    memo: Memo[int, int] = Memo(limit=64, budget=64 * (ENTRY_OVERHEAD + 8))

    def work(offset: int) -> None:
        for i in range(3000):
            memo.put((offset + i) % 500, i, 8)

    threads = [threading.Thread(target=work, args=(n * 97,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert memo.size == len(memo) * (ENTRY_OVERHEAD + 8)


# -- item 2: Set-Cookie attributes, through both adapters ----------------------------------

BYPASSES = [
    "_ga=GA1.1; Max-Age=-1; Max-Age=31536000",
    "_ga=GA1.1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
    "_ga=GA1.1; Max-Age=0x",
    "_ga=GA1.1; Max-Age=0 1",
    "_ga=GA1.1; Max-Age=0.5",
    "_ga=GA1.1; Path=/max-age=0",
    "_ga=GA1.1; X=max-age=0",
    "_ga=GA1.1; Path=/expires=Thu, 01 Jan 1970 00:00:00 GMT",
    "=_ga=GA1.1; Max-Age=31536000",  # a nameless cookie the browser sends back as _ga
]
DELETIONS = [
    "_ga=; Max-Age=0; Path=/",
    "_ga=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
    "_ga=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/",  # werkzeug, Django
    "_ga=x; Max-Age=31536000; Max-Age=-1",  # the last valid one wins
]


def apps_setting(values: list[str]) -> tuple[Any, Any]:
    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/plain")] + [("Set-Cookie", v) for v in values]
        )
        return [b"ok"]

    async def asgi(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/plain")]
        headers += [(b"set-cookie", v.encode("latin-1")) for v in values]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    return wsgi, asgi


@pytest.mark.parametrize("kind", ["uvicorn", "waitress"])
def test_set_cookie_bypasses_do_not_reach_an_undecided_visitor(kind: str) -> None:
    wsgi, asgi = apps_setting(BYPASSES + DELETIONS)
    policy = make_policy()
    if kind == "uvicorn":
        app: Any = AsgiMiddleware(asgi, policy=policy)
    else:
        app = WsgiMiddleware(wsgi, policy)
    with served(kind, app) as port:
        status, head, _ = raw_request(port, "GET", "/", [("Host", "shop.example")])
    assert status == 200
    assert sorted(set_cookies(head)) == sorted(DELETIONS)


def test_set_cookie_bypasses_pass_once_analytics_is_granted() -> None:
    policy = make_policy()
    wsgi, asgi = apps_setting(BYPASSES)
    cookie = "cookie_consent=" + ConsentCodec(policy).dumps({"analytics"}, CID)
    pair: list[Driver] = [
        AsgiDriver(AsgiMiddleware(asgi, policy=policy)),
        WsgiDriver(WsgiMiddleware(wsgi, policy)),
    ]
    for driver in pair:
        response = driver.get("/", cookie=cookie)
        assert sorted(response.set_cookies) == sorted(BYPASSES)


# -- items 7, 8, 9 and issue 9 item 7: the consent endpoint --------------------------------


@pytest.mark.parametrize("kind", ["uvicorn", "waitress"])
def test_deeply_nested_json_is_a_400(kind: str) -> None:
    policy = make_policy(max_body=1 << 16)
    if kind == "uvicorn":
        app: Any = AsgiMiddleware(asgi_app, policy=policy)
    else:
        app = WsgiMiddleware(wsgi_app, policy)
    with served(kind, app) as port:
        for body in (b"[" * 3000, b'{"a":' * 3000, b"[" * 3000 + b"]" * 3000):
            status, _, reply = raw_request(
                port,
                "POST",
                "/_cookieguard/consent",
                [("Host", "shop.example"), ("Content-Type", "application/json")],
                body,
            )
            assert status == 400
            assert json.loads(reply)["error"]


@pytest.mark.parametrize(
    "body",
    [b"null", b"[]", b'"accept_all"', b"1e999", b'{"action": ["accept_all"]}', b"\xff\xfe"],
)
def test_any_bad_json_shape_is_a_400(body: bytes) -> None:
    for driver in drivers(make_policy()).values():
        response = driver.request(
            "POST",
            "/_cookieguard/consent",
            headers=[("Content-Type", "application/json")],
            body=body,
        )
        assert response.status == 400
        assert response.set_cookies == []


@pytest.mark.parametrize(
    "value",
    ["/x\n", "/x\r", "/x\r\n", "/\nx", "/x\t", "/x\x00", "/x\x7f", "/x ", "/x\x85", "/x\u2028"],
)
def test_safe_next_refuses_control_characters(value: str) -> None:
    assert safe_next(value) == "/"
    assert safe_next("/x?a=1") == "/x?a=1"


def test_next_with_a_trailing_line_feed_redirects_home_on_waitress(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "receipts.db")
    policy = make_policy()
    app = WsgiMiddleware(wsgi_app, policy, receipts=store)
    body = f"action=accept_all&next={quote('/x' + chr(10))}".encode()
    with served("waitress", app) as port:
        status, head, _ = raw_request(
            port,
            "POST",
            "/_cookieguard/consent",
            [("Host", "shop.example"), ("Content-Type", "application/x-www-form-urlencoded")],
            body,
        )
    assert status == 303
    assert header(head, "location") == "/"
    (consent_cookie,) = [c for c in set_cookies(head) if c.startswith("cookie_consent=")]
    token = consent_cookie.split(";", 1)[0].split("=", 1)[1]
    consent = ConsentCodec(policy).loads(token).consent
    assert consent.id is not None
    assert len(store.history(consent.id)) == 1  # one answered request, one receipt


def test_withdrawal_expires_cookies_from_every_split_cookie_field() -> None:
    # Several Cookie fields, as HTTP/2 sends them (RFC 9113 section 8.2.3); h11 keeps them
    # apart, so uvicorn hands the app (and cookieguard's endpoint) three fields.
    policy = make_policy()
    token = ConsentCodec(policy).dumps({"preferences", "analytics", "marketing"}, CID)
    with served("uvicorn", AsgiMiddleware(asgi_app, policy=policy)) as port:
        status, head, _ = raw_request(
            port,
            "POST",
            "/_cookieguard/consent",
            [
                ("Host", "shop.example"),
                ("Cookie", f"cookie_consent={token}"),
                ("Cookie", "_ga=GA1.2; likebox=1"),
                ("Cookie", "_fbp=fb.1"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            b"action=reject_all",
        )
    assert status == 303
    deleted = {c.split("=", 1)[0] for c in set_cookies(head) if "Max-Age=0" in c}
    assert deleted == {"_ga", "likebox", "_fbp"}


def test_post_and_get_agree_on_expires() -> None:
    policy = make_policy()
    for driver in drivers(policy).values():
        posted = driver.request(
            "POST",
            "/_cookieguard/consent",
            headers=[("Content-Type", "application/json")],
            body=b'{"action": "accept_all"}',
        )
        assert posted.status == 200
        state = json.loads(posted.body)
        assert state["expires"] is not None
        cookie = posted.set_cookies[0].split(";", 1)[0]
        got = json.loads(driver.get("/_cookieguard/consent", cookie=cookie).body)
        assert got["expires"] == state["expires"]
        assert got["consent_id"] == state["consent_id"]


def test_log_lines_do_not_repeat_the_logger_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cookieguard")
    guard = Guard(make_policy())
    guard.read("undeclared_thing=1")
    records = [r for r in caplog.records if r.name.startswith("cookieguard")]
    assert records
    formatter = logging.Formatter("%(name)s: %(message)s")
    for record in records:
        line = formatter.format(record)
        assert not line.startswith("cookieguard: cookieguard:"), line
        assert not record.getMessage().startswith("cookieguard:")


def test_split_cookie_fields_are_joined_for_endpoints_in_asgi() -> None:
    """The same as the server test, without a socket: the Request the endpoint sees."""
    policy = make_policy()
    app = AsgiMiddleware(asgi_app, policy=policy)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"action=reject_all", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/_cookieguard/consent",
        "query_string": b"",
        "scheme": "http",
        "headers": [
            (b"host", b"shop.example"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"cookie", b"likebox=1"),
            (b"cookie", b"_fbp=2"),
        ],
    }
    run(app(scope, receive, send))
    headers = sent[0]["headers"]
    deleted = {v.split(b"=", 1)[0] for k, v in headers if k == b"set-cookie" and b"Max-Age=0" in v}
    assert deleted == {b"likebox", b"_fbp"}


# -- issue 9 item 5: undeclared cookies the tracker catalogue knows ------------------------


def test_catalogued_undeclared_cookies_are_gated_and_expired(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="cookieguard")
    policy = make_policy()  # declares _ga, but not Google's _gid nor Hotjar's cookies
    guard = Guard(policy)
    decision = guard.read("_gid=GA1.2; _hjSessionUser_42=x; homegrown=1", host="shop.example")
    assert decision.cookie_header == ""  # nothing optional or undeclared reaches the app
    expired = {c.split("=", 1)[0] for c in decision.set_cookies}
    assert expired == {"_gid", "_hjSessionUser_42"}  # homegrown is blocked, not known: kept
    messages = [r.getMessage() for r in caplog.records]
    (gid,) = [m for m in messages if "'_gid'" in m]
    assert "analytics cookie of Google Analytics (Google)" in gid
    assert "Policy(cookies={'_gid': 'analytics'})" in gid
    (homegrown,) = [m for m in messages if "'homegrown'" in m]
    assert "not declared in the policy, so it is blocked" in homegrown

    token = ConsentCodec(policy).dumps({"analytics"}, CID)
    granted = guard.read(f"cookie_consent={token}; _gid=GA1.2; homegrown=1")
    assert granted.cookie_header is not None and "_gid=GA1.2" in granted.cookie_header
    assert guard.keep_set_cookie(granted.consent, "_gid=GA1.3; Max-Age=86400")
    assert not guard.keep_set_cookie(guard.read(None).consent, "_gid=GA1.3; Max-Age=86400")


def test_catalogued_cookies_are_gated_even_when_undeclared_are_allowed() -> None:
    guard = Guard(make_policy(undeclared="allow"))
    undecided = guard.read(None).consent
    assert not guard.keep_set_cookie(undecided, "_fbc=fb.1.2; Max-Age=7776000")  # Meta
    assert guard.keep_set_cookie(undecided, "homegrown=1")
    decision = guard.read("_fbc=fb.1; homegrown=1")
    assert decision.cookie_header == "homegrown=1"
    assert guard.policy.category_of("_fbc") is None  # the policy itself is unchanged


def test_no_log_message_in_the_package_repeats_the_logger_name() -> None:
    """Issue 9 item 7, for every module: the logger's name already says "cookieguard"."""
    import ast

    import cookieguard

    levels = {"debug", "info", "warning", "error", "exception", "critical", "log"}
    offenders = []
    for path in Path(cookieguard.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in levels
                and isinstance(node.func.value, ast.Name)
                and "log" in node.func.value.id
                and node.args
            ):
                continue
            first = node.args[1] if node.func.attr == "log" and len(node.args) > 1 else node.args[0]
            text = first.value if isinstance(first, ast.Constant) else None
            if isinstance(first, ast.JoinedStr) and isinstance(first.values[0], ast.Constant):
                text = first.values[0].value
            if isinstance(text, str) and text.lower().startswith("cookieguard:"):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _cpu(work: Callable[[], None]) -> float:
    """This thread's CPU seconds for ``work``, best of three (noise only slows a run)."""
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        work()
        best = min(best, time.thread_time() - start)
    return best


def test_a_full_memo_costs_no_more_per_entry_than_an_empty_one() -> None:
    # Keys a visitor makes up (a page of tracker URLs, each its own) fill every memo of the
    # gate, and from then on each new one evicts. Evicting the oldest entry one at a time left
    # the dicts' fronts empty, and each eviction walked every slot emptied so far: at 4,096
    # entries a write cost 5 µs instead of 0.6, and a 1 MB page of distinct tracker pixels
    # 1.8x as much per KB as a 64 KB one. A ratio of CPU times, like test_linear_time: 4x
    # the writes into a full memo (about 5x the time, evictions included; 35x before) may
    # cost at most 12x the writes that filled it (6x flaked at a load of 10).
    limit = 4096
    keys = [b"https://www.facebook.com/tr/%d" % i for i in range(5 * limit)]

    def fill() -> None:
        memo: Memo[bytes, None] = Memo(limit, 1 << 22)
        for key in keys[:limit]:
            memo.put(key, None, len(key))

    full: Memo[bytes, None] = Memo(limit, 1 << 22)
    for key in keys[:limit]:
        full.put(key, None, len(key))

    def more() -> None:
        for key in keys[limit:]:
            full.put(key, None, len(key))

    assert _cpu(more) <= 12 * _cpu(fill)
    assert len(full) <= limit and full.size <= full.budget

    cache: dict[bytes, None] = {}

    def fill_cache() -> None:
        cache.clear()
        for key in keys[:limit]:
            remember(cache, key, None, limit)

    def more_cache() -> None:
        for key in keys[limit:]:
            remember(cache, key, None, limit)

    filled = _cpu(fill_cache)
    assert _cpu(more_cache) <= 12 * filled
    assert len(cache) <= limit
