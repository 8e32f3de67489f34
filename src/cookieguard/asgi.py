"""Pure ASGI middleware (ASGI 3). Starlette, FastAPI, or any ASGI app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from cookieguard.core._guard import Decision
from cookieguard.core._headers import (
    ACCEPT_LANGUAGE,
    CONTENT_LENGTH,
    COOKIE,
    COOKIE_RESPELLED,
    HOST,
    IF_MODIFIED_SINCE,
    IF_NONE_MATCH,
    OTHER,
    REGION,
    SEC_GPC,
    known_role,
    name,
    role,
)
from cookieguard.core._messages import Reply, Request
from cookieguard.core._policy import Policy
from cookieguard.html._codings import Uneditable
from cookieguard.html._inject import BUFFER_LIMIT, BodyInjector, Injection
from cookieguard.receipts import ReceiptStore
from cookieguard.site._head import ASGI, response_head
from cookieguard.site._site import _DEFAULT, Site

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

_SECURE = ("https", "wss")

__all__ = ["ConsentMiddleware"]

logger = logging.getLogger("cookieguard")

#: Middleware that may run outside ConsentMiddleware because they never set a cookie
#: (by qualified class name, so that nothing here imports a framework).
COOKIE_FREE_MIDDLEWARE = frozenset(
    {
        "starlette.middleware.gzip.GZipMiddleware",
        "starlette.middleware.cors.CORSMiddleware",
        "starlette.middleware.trustedhost.TrustedHostMiddleware",
        "starlette.middleware.httpsredirect.HTTPSRedirectMiddleware",
        "starlette.middleware.errors.ServerErrorMiddleware",
        "uvicorn.middleware.proxy_headers.ProxyHeadersMiddleware",
    }
)


class ConsentMiddleware:
    """Gates cookies by consent for an ASGI app: ``app.add_middleware(ConsentMiddleware,
    policy=policy)`` or ``ConsentMiddleware(app, policy=policy)``.

    Lifespan and other non-HTTP scopes pass straight through; websocket handshakes get the
    same request-cookie filtering as HTTP, and ``Set-Cookie`` in their responses
    (``websocket.accept``, denial responses) is gated like HTTP. Exceptions from the app
    propagate untouched.

    In Starlette/FastAPI it must be the outermost middleware that can set a cookie (add it
    last with ``add_middleware``, or list it first in ``middleware=[...]``): a middleware
    outside it sends its cookies ungated, so start-up fails with a ``ValueError`` naming it.
    ``cookie_free`` lists further middleware classes allowed outside because they never set
    a cookie (GZip, CORS, TrustedHost, HTTPSRedirect and uvicorn's ProxyHeaders already are).
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: Policy,
        *,
        receipts: ReceiptStore | object | None = _DEFAULT,
        cookie_free: Iterable[type] = (),
    ) -> None:
        self.app = app
        self.site = Site(policy, receipts=receipts)
        self.cookie_free = tuple(cookie_free)
        self._order_checked = False
        self.guard = self.site.guard
        self.regions = self.guard.regions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            if kind == "lifespan":
                await self._lifespan(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not self._order_checked:
            self._check_order_once(scope)

        # The request's headers, read once: the fields the decision needs, and the
        # Accept-Language the banner needs (decoded for HTML pages only).
        cookie = language = None
        host = b""
        gpc = respelled = conditional = False
        region: list[tuple[bytes, bytes]] | None = None  # the region headers, if any
        for raw, value in scope["headers"]:
            what = known_role(raw)
            if what is OTHER:
                continue
            if what is None:
                what = role(raw)  # a name not seen before
            # HTTP/2 may split Cookie into several fields (RFC 9113 section 8.2.3).
            if what is COOKIE:
                cookie = value if cookie is None else cookie + b"; " + value
            elif what is HOST:
                host = value
            elif what is ACCEPT_LANGUAGE:
                language = value
            elif what is SEC_GPC:
                gpc = value.strip() == b"1"
            elif what is COOKIE_RESPELLED:
                cookie = value if cookie is None else cookie + b"; " + value
                respelled = True
            elif what is IF_NONE_MATCH or what is IF_MODIFIED_SINCE:
                conditional = True
            elif what is REGION:
                region = [(raw, value)] if region is None else [*region, (raw, value)]
        rule = self.regions.unknown  # the one rule when the policy reads no region
        if region is not None and self.regions.headers:
            rule = self.regions.from_pairs(region)[1]
        # Raw bytes to the core: a cached decision is found without decoding them.
        key = (cookie, gpc, host, scope.get("scheme") in _SECURE, rule)
        decision = self.guard.decide(key)
        if kind == "http":
            path = scope["path"]
            if path.startswith(self.guard.endpoint_starts) and self.guard.is_endpoint(path):
                # The endpoint reads the cookies as they were sent.
                await self._endpoint(scope, receive, send, decision)
                return
        scope["cookieguard.consent"] = decision.consent
        scope["cookieguard.site"] = self.site
        if decision.cookie_header is not None or respelled:
            # One lower-case Cookie field replaces every spelling the client sent.
            headers = [(k, v) for k, v in scope["headers"] if not _is_cookie(k)]
            if decision.cookie_header is not None:
                cookie = decision.cookie_header.encode("latin-1")
            if cookie:
                headers.append((b"cookie", cookie))
            scope["headers"] = headers
        ours = conditional and kind == "http" and self._conditions(scope, decision)
        if kind == "websocket":
            await self.app(scope, receive, self._websocket_send(decision, scope, send))
            return

        await self.app(scope, receive, _Response(self.site, send, decision, scope, language, ours))

    def _conditions(self, scope: Scope, decision: Decision) -> bool:
        """Translate the request's preconditions (``If-None-Match``, ``If-Modified-Since``)
        the way the site says, before the app sees them; True if they carried a tag of ours."""
        fields: dict[bytes, str] = {}
        for raw, value in scope["headers"]:
            key = name(raw)
            if key in _CONDITION_FIELDS and key not in fields:
                fields[key] = value.decode("latin-1")
        found = self.site.conditions(
            decision,
            fields.get(b"if-none-match"),
            fields.get(b"if-modified-since"),
            fields.get(b"sec-fetch-dest"),
            fields.get(b"accept"),
        )
        if found is None:
            return False
        inm, ims, ours = found
        headers = [
            (k, v)
            for k, v in scope["headers"]
            if (known_role(k) or role(k)) not in (IF_NONE_MATCH, IF_MODIFIED_SINCE)
        ]
        if inm is not None:
            headers.append((b"if-none-match", inm.encode("latin-1")))
        if ims is not None:
            headers.append((b"if-modified-since", ims.encode("latin-1")))
        scope["headers"] = headers
        return ours

    def _websocket_send(self, decision: Decision, scope: Scope, send: Send) -> Send:
        site = self.site

        async def send_websocket(message: Message) -> None:
            # The handshake answer and a denial response (the websocket.http.response
            # extension) are HTTP responses: their head goes through response_head like any
            # other (refused Set-Cookie dropped, the decision's cookies added). A denial's
            # body is not edited (edit=False), an HTML one still gets the page headers.
            kind = message["type"]
            if kind == "websocket.accept" or kind == "websocket.http.response.start":
                sent = message.get("headers") or ()
                if type(sent) is not list and type(sent) is not tuple:
                    sent = list(sent)  # any iterable will do (ASGI spec): read twice here
                headers, _, _ = response_head(
                    site,
                    decision,
                    message.get("status"),  # none in an accept: nothing a page gets is added
                    sent,
                    ASGI,
                    method="GET",
                    path=scope["path"],
                    query=scope.get("query_string", b""),
                    accept_language=None,
                    edit=False,
                )
                if headers is not sent:
                    message["headers"] = headers
            await send(message)

        return send_websocket

    # -- middleware order -------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self._order_problem(scope)
        if problem is None:
            await self.app(scope, receive, send)
            return
        # Fail start-up (ASGI lifespan spec): servers stop, and raising too makes test
        # clients that read only the exception (Starlette's TestClient) fail as well.
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.failed", "message": problem})
        raise ValueError(problem)

    def _check_order_once(self, scope: Scope) -> None:
        """Without a lifespan (``lifespan="off"``, a test client used without ``with``), the
        first request checks the order instead; it logs rather than fail the visitor."""
        self._order_checked = True
        problem = self._order_problem(scope)
        if problem is None and "session" in scope:
            # Starlette's SessionMiddleware (and others like it) fill scope["session"] before
            # calling the app they wrap: seen here, one of them runs outside cookieguard.
            problem = (
                "a session middleware runs outside cookieguard's ConsentMiddleware "
                "(scope['session'] is already set when it is called): the session cookie "
                "leaves ungated. Wrap the session middleware inside ConsentMiddleware."
            )
        if problem is not None:
            logger.error("%s", problem)

    def _order_problem(self, scope: Scope) -> str | None:
        """Why the middleware order lets cookies out ungated, or ``None`` if it does not.

        Starlette puts itself in ``scope["app"]`` before running its middleware stack (for
        lifespan too); ``user_middleware[0]`` is the outermost.
        """
        stack = getattr(scope.get("app"), "user_middleware", None)
        if not isinstance(stack, list):
            return None
        outside: list[str] = []
        for entry in stack:
            cls = getattr(entry, "cls", None)
            if isinstance(cls, type) and issubclass(cls, ConsentMiddleware):
                break
            if isinstance(cls, type) and cls in self.cookie_free:
                continue
            label = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"
            if label not in COOKIE_FREE_MIDDLEWARE:
                outside.append(label)
        else:
            return None  # not in this app's stack (wrapped by hand, or a mounted app)
        self._order_checked = True
        if not outside:
            return None
        names = ", ".join(label.rsplit(".", 1)[-1] for label in outside)
        return (
            f"cookieguard's ConsentMiddleware runs inside {names}, so cookies set there "
            f"leave ungated ({', '.join(outside)}). Make ConsentMiddleware the outermost: "
            "call app.add_middleware(ConsentMiddleware, policy=...) AFTER every other "
            "add_middleware (the last added runs first), or list it FIRST in "
            "Starlette(middleware=[...]). If a middleware outside it never sets a cookie, "
            "pass it as ConsentMiddleware(..., cookie_free=[ThatMiddleware])."
        )

    # -- pages and endpoints ----------------------------------------------------------------

    async def _endpoint(
        self, scope: Scope, receive: Receive, send: Send, decision: Decision
    ) -> None:
        site = self.site
        headers = tuple(
            (name(k).decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]
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
            client=(scope.get("client") or (None,))[0],
        )
        # Replies may read or write the receipt store: keep that off the event loop.
        loop = asyncio.get_running_loop()
        reply = await loop.run_in_executor(None, site.respond, request)
        await _send_reply(send, reply, head=scope["method"] == "HEAD")


#: Body messages a streamed page's start waits behind for the editor's first output (it
#: holds the first 1024 bytes to choose the charset, more only for an unfinished tag).
_WAIT_MESSAGES = 64


class _Response:
    """One HTTP response on its way out (the ``send`` the app is given): it gates the start
    message's head (:func:`response_head`) and edits an HTML body, holding the start back
    while its Content-Length or a fail-closed CSP may still change."""

    # The state of a response being edited: these defaults until it is.
    plan: Injection | None = None  # what to edit in this response's HTML body
    injector: BodyInjector | None = None  # made only for a body that is not sent whole
    held: list[Message] | None = None  # start + body messages, to fix Content-Length
    length_at = -1  # where the held start's Content-Length is (-1: look for it)
    cut = False  # a streamed page failed after its headers left: the rest is dropped
    # A streamed page's start (and the body messages the editor took in without giving
    # anything out yet, as the app wrote them), held until the editor's first output: a
    # page that fails before then still goes out under the enforcing CSP (fail closed).
    waiting: list[Message] | None = None

    def __init__(
        self,
        site: Site,
        send: Send,
        decision: Decision,
        scope: Scope,
        language: bytes | None,
        ours: bool,
    ) -> None:
        self.site = site
        self.send = send
        self.decision = decision
        self.scope = scope
        self.language = language  # the request's Accept-Language, raw
        self.ours = ours  # the request carried an entity-tag of ours
        # The vendors the site knew when the CSP was made (see csp_after_body).
        self.generation = -1

    async def __call__(self, message: Message) -> None:
        # Runs for every message of every response: the common one (no Set-Cookie to gate,
        # nothing to add, not HTML) costs one loop over its header names and one test.
        if message["type"] == "http.response.start":
            self.generation = self.site.vendors.generation
            edit = self.start(message)
            if edit is not None:
                self.plan, at = edit
                if at is not None:  # it has a Content-Length: hold it back
                    self.held = [message]
                    self.length_at = at
                    return
                self.injector = self.plan.injector()  # no length: the body streams through
                self.waiting = [message]
                return
            await self.send(message)
            return
        if self.plan is None:
            if not self.cut:
                await self.send(message)
            return
        if self.injector is None:
            if (
                self.held is not None
                and len(self.held) == 1
                and message["type"] == "http.response.body"
                and not message.get("more_body", False)
            ):
                # The whole body in one message (what most frameworks send): edit it in
                # place (the page memo's path), no buffer to join.
                start = self.held[0]
                self.held = None
                chunk = message.get("body", b"")
                try:
                    body = self.plan.rewrite(chunk)
                except Uneditable as failure:
                    body = chunk
                    self.fail_closed(start, failure)
                self.plan = None  # the body has ended: anything after it passes as sent
                if len(body) != len(chunk):
                    _set_length(start, len(body), self.length_at)
                self.csp_after_body(start)
                message["body"] = body
                await self.send(start)
                await self.send(message)
                return
            self.injector = self.plan.injector()
        if message["type"] != "http.response.body":
            # A file handed to the server (http.response.pathsend, zerocopysend) or
            # any other extension: the body is not ours to edit. The server must
            # get the start first, then the bytes held so far, then the message.
            if self.waiting is not None:
                self.held, self.waiting = self.waiting, None
            if self.held:
                self.fail_closed(self.held[0], _HANDED_OVER)
            await _give_up(self.send, self.held, self.injector)
            self.plan = self.injector = self.held = None
            await self.send(message)
            return
        more = message.get("more_body", False)
        if self.held is None:
            chunk = message.get("body", b"")
            try:
                out = self.injector.feed(chunk) if more else self.injector.feed_last(chunk)
            except Uneditable as failure:
                self.plan = self.injector = None
                if self.waiting is not None:
                    # Nothing has left yet: as the app wrote it, under the CSP.
                    self.fail_closed(self.waiting[0], failure)
                    for sent in self.waiting:
                        await self.send(sent)
                    self.waiting = None
                    await self.send(message)
                    return
                # The headers have left: a page that cannot be edited is cut off here
                # rather than sent on live (fail closed).
                self.site.fail_closed(self.decision, self.scope["path"], failure)
                self.cut = True
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if self.waiting is not None:
                if (
                    not out
                    and more
                    and len(self.waiting) < _WAIT_MESSAGES
                    and sum(len(m["body"]) for m in self.waiting[1:]) + len(chunk) <= BUFFER_LIMIT
                ):
                    self.waiting.append(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
                    return
                await self.send(self.waiting[0])
                self.waiting = None
            message["body"] = out
            await self.send(message)
            return
        self.held.append(message)
        if more and sum(len(m.get("body", b"")) for m in self.held[1:]) <= BUFFER_LIMIT:
            return
        try:
            await _flush(
                self.send, self.held, self.injector, done=not more, after=self.csp_after_body
            )
        except Uneditable as failure:
            # Nothing has left yet: the page goes out as the app wrote it, under the CSP.
            self.fail_closed(self.held[0], failure)
            for sent in self.held:
                await self.send(sent)
            self.plan = self.injector = None
        self.held = None
        return

    def start(self, message: Message) -> tuple[Injection, int | None] | None:
        """Translate a response start message for :func:`response_head` and back (its
        headers replaced when they change); for an HTML body to edit, return its plan and,
        when the message has a Content-Length (to hold it back until the body's new length
        is known), that field's index in the new header list (-1: look for it then)."""
        sent = message.get("headers", ())
        if type(sent) is not list and type(sent) is not tuple:
            # Any iterable will do for the server (ASGI spec), but it is read twice here.
            sent = list(sent)
        headers, plan, length = response_head(
            self.site,
            self.decision,
            message["status"],
            sent,
            ASGI,
            method=self.scope["method"],
            path=self.scope["path"],
            query=self.scope.get("query_string", b""),  # raw bytes: decoded for a new plan
            accept_language=self.language,
            ours=self.ours,
        )
        if headers is not sent or "headers" in message:
            message["headers"] = headers
        if plan is None:
            return None
        return plan, length

    def csp_after_body(self, start: Message) -> None:
        """A held page's CSP names the vendors its edit met for the first time too."""
        fresh = self.site.csp_after_body(self.decision, self.generation)
        if fresh is not None:
            name, value = fresh[0].encode("latin-1"), fresh[1].encode("latin-1")
            start["headers"] = [(k, value if k == name else v) for k, v in start["headers"]]

    def fail_closed(self, start: Message, failure: Uneditable) -> None:
        """A held page that cannot be edited goes out as the app wrote it, with the headers
        the site fails closed with (a CSP that enforces the visitor's grants)."""
        added = self.site.fail_closed(self.decision, self.scope["path"], failure)
        if added:
            start["headers"] = [*start["headers"], *ASGI.spelled(added)]


_CONDITION_FIELDS = frozenset(
    {b"if-none-match", b"if-modified-since", b"sec-fetch-dest", b"accept"}
)
_HANDED_OVER = Uneditable("error", "the app handed the body to the server (pathsend)")


def _is_cookie(raw: bytes) -> bool:
    what = role(raw)
    return what is COOKIE or what is COOKIE_RESPELLED


async def _send_reply(send: Send, reply: Reply, *, head: bool = False) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers]
    headers.append((b"content-length", str(len(reply.body)).encode()))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else reply.body})


async def _flush(
    send: Send,
    held: list[Message],
    injector: BodyInjector,
    *,
    done: bool,
    after: Callable[[Message], None] | None = None,
) -> None:
    """Send a held start message and the body buffered behind it.

    A complete body is injected and its Content-Length corrected. One that grew past the
    buffer limit is still edited (unedited, its trackers would load and it would show no
    banner) and streams on without a Content-Length: the server frames it (chunked).
    """
    start, bodies = held[0], held[1:]
    body = b"".join(m.get("body", b"") for m in bodies)
    if done:
        size = len(body)
        body = injector.feed_last(body)  # (Uneditable: the caller sends what it held)
        if len(body) != size:
            _set_length(start, len(body), -1)
    else:
        body = injector.feed(body)
        start["headers"] = [(k, v) for k, v in start["headers"] if role(k) is not CONTENT_LENGTH]
    if after is not None:
        after(start)  # (the body up to here was scanned)
    held.clear()
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": not done})


async def _give_up(send: Send, held: list[Message] | None, injector: BodyInjector) -> None:
    """Stop editing mid-response: send what is held back, as the app wrote it."""
    if held:
        start, bodies = held[0], held[1:]
        held.clear()
        await send(start)  # Content-Length untouched: the body is not edited
        body = b"".join(m.get("body", b"") for m in bodies)
    else:
        try:
            injector.stop()
            body = injector.finish()  # bytes the injector held back at a chunk boundary
        except Uneditable:
            body = b""  # (a compressed stream cut short: nothing more can be said of it)
    if body:
        await send({"type": "http.response.body", "body": body, "more_body": True})


def _set_length(start: Message, length: int, at: int) -> None:
    """Correct the Content-Length of a held start message (whose header list is ours) for
    an edited body; ``at`` is the field's index (-1: every such field, looked for)."""
    headers = start["headers"]
    value = str(length).encode()
    if at >= 0:
        headers[at] = (headers[at][0], value)
        return
    for i, (k, _) in enumerate(headers):
        if (known_role(k) or role(k)) is CONTENT_LENGTH:
            headers[i] = (k, value)
