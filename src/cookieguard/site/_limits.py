"""Per-client request limits for the endpoints anyone can call without proof of anything.

``{prefix}/csp-report`` and consent POSTs that mint a new consent id (no valid signed cookie,
or one issued within the minute) are unauthenticated: a budget shared by everyone lets one
client spend it for all (issue 23: 2,400 forged reports a minute turned every real browser's
report into a 429). So each client address gets ``Policy.rate_limit`` requests a minute, and
all clients together ``Policy.rate_limit_total`` as a backstop.

The client is the address that connected (ASGI ``scope["client"]``, WSGI ``REMOTE_ADDR``).
``X-Forwarded-For`` is read only from ``Policy.trusted_proxies``: anyone else could write
any address there and get a fresh budget per request. IPv6 clients are counted per /64 (one
host usually has the whole network). A request without a client address (a server on a unix
socket reports none) counts against the global budget only, unless ``trusted_proxies`` is set:
then it comes from the local proxy and its ``X-Forwarded-For`` is read.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Sequence

from cookieguard.core._messages import Reply, Request, error
from cookieguard.core._policy import Policy

#: Seconds of one counting window.
WINDOW = 60.0
#: Client addresses tracked per window; past it, new clients share the global budget only.
MAX_CLIENTS = 65_536

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientLimits:
    """``per_client`` requests per client address a minute, ``total`` for all (0: no limit)."""

    def __init__(self, *, per_client: int, total: int, trusted_proxies: Sequence[str] = ()):
        self.per_client = per_client
        self.total = total
        self.trusted: tuple[_Network, ...] = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies
        )
        self._lock = threading.Lock()
        self._window_start = -math.inf
        self._count = 0
        self._clients: dict[str, int] = {}

    @classmethod
    def for_policy(cls, policy: Policy) -> ClientLimits:
        return cls(
            per_client=policy.rate_limit,
            total=policy.rate_limit_total,
            trusted_proxies=policy.trusted_proxies,
        )

    def admit(self, request: Request) -> Reply | None:
        """``None`` when ``request`` is within its client's and the global budget, else the
        429 to answer (with ``Retry-After``)."""
        key = self.client(request)
        now = time.monotonic()
        with self._lock:
            if now - self._window_start >= WINDOW:
                self._window_start = now
                self._count = 0
                self._clients.clear()
            wait = max(1, math.ceil(self._window_start + WINDOW - now))
            if self.per_client and key is not None:
                seen = self._clients.get(key, 0)
                if seen >= self.per_client:
                    return too_many(wait, "from this address")
                if seen or len(self._clients) < MAX_CLIENTS:
                    self._clients[key] = seen + 1
            if self.total:
                if self._count >= self.total:
                    return too_many(wait, "from all clients")
                self._count += 1
        return None

    def client(self, request: Request) -> str | None:
        """The client's address as counted: behind a trusted proxy, the right-most
        ``X-Forwarded-For`` entry that is not one of the trusted proxies; ``None`` when
        there is no address to count."""
        peer = _address(request.client)
        if peer is None and (request.client or not self.trusted):
            return request.client[:64] if request.client else None
        if peer is not None and (not self.trusted or not self._is_trusted(peer)):
            return _key(peer)
        forwarded = [
            item.strip()
            for key, value in request.headers
            if key == "x-forwarded-for"
            for item in value.split(",")
        ]
        found = peer
        for item in reversed(forwarded):
            address = _address(item)
            if address is None:
                # Not an address: what the proxy was handed. Count it as given (bounded).
                return item[:64] or (None if found is None else _key(found))
            found = address
            if not self._is_trusted(address):
                break
        return None if found is None else _key(found)

    def _is_trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.trusted)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:5000"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def too_many(wait: int, whom: str) -> Reply:
    reply = error(429, f"too many requests {whom}; try again later", retry_after=wait)
    return Reply(429, (*reply.headers, ("retry-after", str(wait))), reply.body)
