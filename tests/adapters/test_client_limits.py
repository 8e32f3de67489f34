"""Per-client limits on the endpoints anyone can call (issue 23, part 3): one address
flooding cannot get another address's CSP reports or first choices refused.

Servers are real (uvicorn for ASGI, waitress for WSGI, on 127.0.0.1); the flood and the real
visitor connect from two loopback addresses (127.0.0.2 and 127.0.0.1).
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from cookieguard.asgi import ConsentMiddleware as AsgiMiddleware
from cookieguard.core._messages import Request
from cookieguard.receipts import SQLiteStore
from cookieguard.site._limits import ClientLimits
from cookieguard.wsgi import ConsentMiddleware as WsgiMiddleware
from tests.harness import asgi_app, make_policy, served, wsgi_app

pytestmark = pytest.mark.servers

FLOODER, VISITOR = "127.0.0.2", "127.0.0.1"
HOST = "shop.example.com"


@contextmanager
def site(kind: str, **settings: Any) -> Iterator[int]:
    policy = make_policy(**settings)
    if kind == "uvicorn":
        app: Any = AsgiMiddleware(asgi_app, policy=policy)
    else:
        app = WsgiMiddleware(wsgi_app, policy)
    with served(kind, app) as port:
        yield port


def report(blocked: str, page: str = "/checkout") -> bytes:
    return json.dumps(
        {
            "csp-report": {
                "document-uri": f"https://{HOST}{page}",
                "violated-directive": "script-src-elem",
                "effective-directive": "script-src-elem",
                "disposition": "enforce",
                "blocked-uri": blocked,
            }
        }
    ).encode()


class Client:
    """One keep-alive connection from a chosen loopback address."""

    def __init__(self, port: int, source: str) -> None:
        self.connection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=30, source_address=(source, 0)
        )
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def post(self, path: str, body: bytes, kind: str, **headers: str) -> tuple[int, bytes, Any]:
        self.connection.request(
            "POST", path, body=body, headers={"Host": HOST, "Content-Type": kind, **headers}
        )
        response = self.connection.getresponse()
        return response.status, response.read(), response

    def close(self) -> None:
        self.connection.close()


@pytest.mark.parametrize("kind", ["uvicorn", "waitress"])
def test_a_flood_of_csp_reports_from_one_address_leaves_another_addresss_reports_accepted(
    kind: str,
) -> None:
    """Issue 23: 2,400 distinct forged reports a minute from one client used to spend the one
    global budget, and every real browser's report was answered 429."""
    with site(kind, csp="report") as port:
        flood = Client(port, FLOODER)
        statuses = [
            flood.post(
                "/_cookieguard/csp-report",
                report(f"https://t{n}.example/x.js", page=f"/p{n}"),
                "application/csp-report",
            )[0]
            for n in range(2500)
        ]
        flood.close()
        assert statuses.count(204) == 120 and statuses.count(429) == 2380
        visitor = Client(port, VISITOR)
        status, _, _ = visitor.post(
            "/_cookieguard/csp-report",
            report("https://real.example/a.js"),
            "application/csp-report",
        )
        visitor.close()
        assert status == 204


@pytest.mark.parametrize("kind", ["uvicorn", "waitress"])
def test_a_flood_of_first_choices_from_one_address_leaves_real_visitors_recorded(
    kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "receipts.sqlite3"
    with site(kind, receipts=str(path), rate_limit=50) as port:
        flood = Client(port, FLOODER)
        answers = [
            flood.post("/_cookieguard/consent", b'{"action": "accept_all"}', "application/json")
            for _ in range(200)
        ]
        flood.close()
        statuses = [status for status, _, _ in answers]
        assert statuses.count(200) == 50 and statuses.count(429) == 150
        _, body, response = answers[-1]
        assert 1 <= int(response.getheader("Retry-After")) <= 60
        assert "too many requests from this address" in json.loads(body)["error"]
        # X-Forwarded-For is not believed from an address nobody declared a proxy.
        again = Client(port, FLOODER)
        status, _, _ = again.post(
            "/_cookieguard/consent",
            b'{"action": "accept_all"}',
            "application/json",
            **{"X-Forwarded-For": "203.0.113.9"},
        )
        again.close()
        assert status == 429
        visitor = Client(port, VISITOR)
        status, body, _ = visitor.post(
            "/_cookieguard/consent", b'{"action": "reject_all"}', "application/json"
        )
        visitor.close()
        assert status == 200
        consent_id = json.loads(body)["consent_id"]
    store = SQLiteStore(str(path))
    try:
        assert [r.granted for r in store.history(consent_id)] == [()]
    finally:
        store.close()


def test_behind_a_declared_proxy_each_forwarded_client_has_its_own_budget() -> None:
    # uvicorn: waitress drops X-Forwarded-For unless told its own trusted proxy, and uvicorn
    # reads it itself only from 127.0.0.1 (its forwarded_allow_ips), not from 127.0.0.2.
    with site("uvicorn", rate_limit=5, trusted_proxies=[FLOODER]) as port:
        proxy = Client(port, FLOODER)
        statuses = [
            proxy.post(
                "/_cookieguard/consent",
                b'{"action": "accept_all"}',
                "application/json",
                **{"X-Forwarded-For": f"198.51.100.{n % 3}, {FLOODER}"},
            )[0]
            for n in range(30)
        ]
        proxy.close()
    assert statuses.count(200) == 15  # three clients, five each


def limits(*trusted: str, per_client: int = 2, total: int = 0) -> ClientLimits:
    return ClientLimits(per_client=per_client, total=total, trusted_proxies=trusted)


def request(client: str | None, forwarded: str | None = None) -> Request:
    headers = (("x-forwarded-for", forwarded),) if forwarded is not None else ()
    return Request("POST", "/", "", headers, "http", None, client=client)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "counted"),
    [
        ((), "192.0.2.1", "203.0.113.5", "192.0.2.1"),  # never trusted by default
        (("10.0.0.0/8",), "192.0.2.1", "203.0.113.5", "192.0.2.1"),  # not from the proxy
        (("10.0.0.0/8",), "10.1.2.3", "203.0.113.5", "203.0.113.5"),
        # The right-most entry not itself a proxy: the left ones are the client's to write.
        (("10.0.0.0/8",), "10.1.2.3", "1.1.1.1, 203.0.113.5, 10.9.9.9", "203.0.113.5"),
        (("10.0.0.0/8",), "10.1.2.3", "10.2.2.2, 10.9.9.9", "10.2.2.2"),
        (("10.0.0.0/8",), "10.1.2.3", None, "10.1.2.3"),
        ((), "2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),  # IPv6 counted per /64
        ((), "::ffff:192.0.2.7", None, "192.0.2.7"),
        ((), None, "203.0.113.5", None),  # no address: the global budget only
        (("10.0.0.0/8",), None, "203.0.113.5", "203.0.113.5"),  # unix socket from the proxy
    ],
)
def test_the_address_a_request_counts_against(
    trusted: tuple[str, ...], peer: str | None, forwarded: str | None, counted: str | None
) -> None:
    assert limits(*trusted).client(request(peer, forwarded)) == counted


def test_the_global_cap_backs_up_the_per_client_one() -> None:
    cap = limits(per_client=2, total=3)
    answers = [cap.admit(request(f"192.0.2.{n}")) for n in range(5)]
    assert [a is None for a in answers] == [True, True, True, False, False]
    refused = answers[-1]
    assert refused is not None and b"from all clients" in refused.body
    assert limits().admit(request(None)) is None  # nothing to count per client
