"""The plain values cookieguard's endpoints take and give: :class:`Request` and :class:`Reply`.

Both adapters build a :class:`Request` from their protocol's request and render a :class:`Reply`
in it; everything between is protocol-free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cookieguard.core._guard import Decision

Headers = tuple[tuple[str, str], ...]

NO_STORE = ("cache-control", "no-store")
SECURITY = (("x-content-type-options", "nosniff"),)


@dataclass(frozen=True, slots=True)
class Request:
    """A request to one of cookieguard's endpoints, as plain values."""

    method: str
    path: str
    query: str
    headers: Headers  # names lower-case
    scheme: str
    decision: Decision
    body: bytes = b""
    #: The address that connected (ASGI ``scope["client"]`` host, WSGI ``REMOTE_ADDR``), for
    #: per-client limits; ``None`` when the server does not say.
    client: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def cookie_header(self) -> str | None:
        """Every ``Cookie`` field joined with ``"; "``: HTTP/2 may split the header into
        several fields (RFC 9113 section 8.2.3)."""
        fields = [value for key, value in self.headers if key == "cookie"]
        return "; ".join(fields) if fields else None


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete response: status, header pairs (lower-case names), body."""

    status: int
    headers: Headers
    body: bytes


def json_reply(status: int, data: Any, *extra: tuple[str, str]) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    headers = (("content-type", "application/json"), NO_STORE, *SECURITY, *extra)
    return Reply(status, headers, body)


def error(status: int, message: str, **details: Any) -> Reply:
    """A JSON error reply."""
    return json_reply(status, {"error": message, **details})
