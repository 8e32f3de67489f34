"""Pure ASGI middleware (ASGI 3). Starlette, FastAPI, or any ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cookieguard._core import Decision
from cookieguard._endpoints import Reply, Request
from cookieguard._inject import BUFFER_LIMIT, BodyInjector, Injection, maybe_html
from cookieguard._policy import Policy
from cookieguard._site import _DEFAULT, Site
from cookieguard.receipts import ReceiptStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["ConsentMiddleware"]


class ConsentMiddleware:
    """Gates cookies by consent for an ASGI app: ``app.add_middleware(ConsentMiddleware,
    policy=policy)`` or ``ConsentMiddleware(app, policy=policy)``.

    Lifespan and other non-HTTP scopes pass straight through; websocket handshakes get the
    same request-cookie filtering as HTTP. Exceptions from the app propagate untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        *,
        receipts: ReceiptStore | object | None = _DEFAULT,
    ) -> None:
        self.app = app
        self.site = Site(policy, receipts=receipts)
        # Bound once: these run on every request.
        self._read = self.site.guard.read
        self._is_endpoint = self.site.guard.is_endpoint
        self._keep = self.site.guard.keep_set_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        cookie = gpc = host = None
        for key, value in scope["headers"]:
            if key == b"cookie":
                # HTTP/2 may split Cookie into several fields (RFC 9113 section 8.2.3).
                text = value.decode("latin-1")
                cookie = text if cookie is None else cookie + "; " + text
            elif key == b"sec-gpc":
                gpc = value.strip() == b"1"
            elif key == b"host":
                host = value.decode("latin-1")
        site = self.site
        secure = scope.get("scheme") in ("https", "wss")
        decision = self._read(cookie, bool(gpc), host or "", secure)

        if kind == "http" and self._is_endpoint(scope["path"]):
            await self._endpoint(scope, receive, send, decision)
            return

        scope["cookieguard.consent"] = decision.consent
        scope["cookieguard.site"] = site
        if decision.cookie_header is not None:
            headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
            if decision.cookie_header:
                headers.append((b"cookie", decision.cookie_header.encode("latin-1")))
            scope["headers"] = headers
        if kind == "websocket":
            await self.app(scope, receive, send)
            return

        extra = (
            [(b"set-cookie", c.encode("latin-1")) for c in decision.set_cookies]
            if decision.set_cookies
            else ()
        )
        consent = decision.consent
        keep = self._keep
        injector = None
        held: list[Message] = []  # start + body messages buffered to fix Content-Length

        async def send_wrapper(message: Message) -> None:
            nonlocal injector
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                has_cookies = False
                content_type = encoding = None
                for key, value in headers:
                    if key == b"set-cookie":
                        has_cookies = True
                    elif key == b"content-type":
                        content_type = value.decode("latin-1")
                    elif key == b"content-encoding":
                        encoding = value.decode("latin-1")
                if has_cookies or extra:
                    headers = [
                        (k, v)
                        for k, v in headers
                        if k != b"set-cookie" or keep(consent, v.decode("latin-1"))
                    ]
                    headers.extend(extra)
                    message["headers"] = headers
                # Only HTML is ever edited: everything else leaves here.
                if content_type is None or not maybe_html(content_type):
                    await send(message)
                    return
                headers = list(headers)
                message["headers"] = headers
                injection = self._injection(
                    scope, decision, message["status"], content_type, encoding
                )
                if injection is None:
                    await send(message)
                    return
                _add_vary(headers, injection)
                injector = injection.injector()
                if any(k == b"content-length" for k, _ in headers):
                    held.append(message)
                    return
                await send(message)
                return
            if message["type"] != "http.response.body" or injector is None:
                await send(message)
                return
            more = message.get("more_body", False)
            if held:
                held.append(message)
                size = sum(len(m.get("body", b"")) for m in held[1:])
                if more and size <= BUFFER_LIMIT:
                    return
                await _flush(send, held, injector, done=not more)
                return
            chunk = message.get("body", b"")
            body = injector.feed(chunk) if more else injector.feed_last(chunk)
            message["body"] = body
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _injection(
        self,
        scope: Scope,
        decision: Decision,
        status: int,
        content_type: str,
        encoding: str | None,
    ) -> Injection | None:
        language = None
        for key, value in scope["headers"]:
            if key == b"accept-language":
                language = value.decode("latin-1")
        return self.site.injection(
            decision,
            method=scope["method"],
            status=status,
            content_type=content_type,
            content_encoding=encoding,
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            accept_language=language,
        )

    async def _endpoint(
        self, scope: Scope, receive: Receive, send: Send, decision: Decision
    ) -> None:
        site = self.site
        headers = tuple(
            (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
        )
        body = b""
        if scope["method"] == "POST":
            limit = site.policy.max_body
            declared = dict(headers).get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                await _send_reply(send, site.too_large())
                return
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _send_reply(send, site.too_large())
                    return
                chunks.append(chunk)
                more = message.get("more_body", False)
            body = b"".join(chunks)
        request = Request(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            scheme=scope.get("scheme", "http"),
            decision=decision,
            body=body,
        )
        # Replies may read or write the receipt store: keep that off the event loop.
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(None, site.respond, request)
        await _send_reply(send, reply, head=scope["method"] == "HEAD")


async def _send_reply(send: Send, reply: Reply, *, head: bool = False) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else reply.body})


async def _flush(send: Send, held: list[Message], injector: BodyInjector, *, done: bool) -> None:
    """Send a held start message and the body buffered behind it.

    A complete body is injected and its Content-Length corrected; one that grew past the
    buffer limit goes out as the app wrote it and the rest streams through untouched.
    """
    start, bodies = held[0], held[1:]
    held.clear()
    body = b"".join(m.get("body", b"") for m in bodies)
    if done:
        body = injector.feed_last(body)
        length = str(len(body)).encode()
        start["headers"] = [
            (k, length if k == b"content-length" else v) for k, v in start["headers"]
        ]
    else:
        injector.stop()
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": not done})


def _add_vary(headers: list[tuple[bytes, bytes]], injection: Injection) -> None:
    for name in injection.vary:
        headers.append((b"vary", name.encode()))
