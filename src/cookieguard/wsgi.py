"""WSGI middleware (PEP 3333). Flask, or anything on werkzeug: ``app.wsgi_app =
ConsentMiddleware(app.wsgi_app, policy)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, cast

from cookieguard._cache import remember
from cookieguard.core._guard import Decision
from cookieguard.core._headers import (
    CONTENT_LENGTH,
    known_text_role,
    text_role,
)
from cookieguard.core._messages import Request
from cookieguard.core._policy import Policy
from cookieguard.html._codings import Uneditable
from cookieguard.html._inject import BUFFER_LIMIT, BodyInjector, Injection
from cookieguard.receipts import ReceiptStore
from cookieguard.site._head import WSGI, response_head
from cookieguard.site._site import _DEFAULT, Site

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
Headers = list[tuple[str, str]]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

__all__ = ["ConsentMiddleware"]


class ConsentMiddleware:
    """Gates cookies by consent for a WSGI app.

    Wraps ``start_response`` to filter ``Set-Cookie`` headers, forwards ``exc_info``, returns
    the server's ``write`` and hands back the app's own iterable whenever the body is not
    edited, so its ``close()`` still runs.
    """

    def __init__(
        self,
        app: WSGIApp,
        policy: Policy,
        *,
        receipts: ReceiptStore | object | None = _DEFAULT,
    ) -> None:
        self.app = app
        self.site = Site(policy, receipts=receipts)
        self.guard = self.site.guard
        self.regions = regions = self.guard.regions
        # The region headers' environ keys (PEP 3333: HTTP_ + the name upper-cased, '-' as
        # '_'): country, then subdivision ("": the provider sends none, and get("") is None).
        keys = ["HTTP_" + header.upper().replace("-", "_") for header in regions.headers]
        self._country_key = keys[0] if keys else None
        self._subdivision_key = keys[1] if len(keys) > 1 else ""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        gpc = environ.get("HTTP_SEC_GPC")
        rule = self.regions.unknown  # the one rule when the policy reads no region
        if self._country_key is not None:
            get = environ.get
            rule = self.regions.locate(get(self._country_key), get(self._subdivision_key))[1]
        key = (
            environ.get("HTTP_COOKIE"),
            gpc is not None and gpc.strip() == "1",
            environ.get("HTTP_HOST") or environ.get("SERVER_NAME", ""),
            environ.get("wsgi.url_scheme") == "https",
            rule,
        )
        decision = self.guard.decide(key)
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.guard.endpoint_starts) and self.guard.is_endpoint(path):
            return self._endpoint(environ, start_response, decision)

        environ["cookieguard.consent"] = decision.consent
        environ["cookieguard.site"] = self.site
        if decision.cookie_header is not None:
            if decision.cookie_header:
                environ["HTTP_COOKIE"] = decision.cookie_header
            else:
                del environ["HTTP_COOKIE"]
        ours = False
        if "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ:
            ours = self._conditions(environ, decision)

        # Made only for a body that may be edited (an HTML response, or an app that calls
        # start_response late); every other response goes straight to the server.
        body: _Body | None = None
        started = False

        def wrapped_start_response(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            nonlocal body, started
            sent, plan, length = response_head(
                self.site,
                decision,
                _status_code(status),
                headers,
                WSGI,
                method=environ.get("REQUEST_METHOD", "GET"),
                path=environ.get("PATH_INFO", ""),
                query=environ.get("QUERY_STRING", ""),
                accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
                ours=ours,
                edit=exc_info is None,  # an error page (PEP 3333) is not edited
            )
            if body is None:
                if plan is None:
                    started = True
                    return start_response(status, sent, exc_info)  # nothing to edit
                body = _Body(self.site, environ, decision, start_response)
            started = True
            return body.start(status, sent, exc_info, plan, length)

        result = self.app(environ, wrapped_start_response)
        if body is None:
            if started:
                return result  # nothing to edit: hand back the app's iterable as it is
            # start_response not called yet (a generator app calls it on its first step):
            # the wrapper finds this body then.
            body = _Body(self.site, environ, decision, start_response)
        elif body.started and body.injector is None:
            return result
        body.result = result
        return body

    def _conditions(self, environ: dict[str, Any], decision: Decision) -> bool:
        """Translate the request's preconditions the way the site says, before the app sees
        them (cookieguard.core._validators); True if they carried a tag of ours."""
        return self.site.translate_environ(decision, environ)

    def _endpoint(
        self, environ: dict[str, Any], start_response: StartResponse, decision: Decision
    ) -> Iterable[bytes]:
        site = self.site
        method = environ.get("REQUEST_METHOD", "GET")
        data = b""
        if method == "POST":
            limit = site.policy.max_body
            declared = environ.get("CONTENT_LENGTH") or ""
            if declared.isdigit() and int(declared) > limit:
                return _reply(start_response, site.too_large())
            stream = environ["wsgi.input"]
            # Without a length we read one byte past the limit to tell "too large" apart.
            data = stream.read(min(int(declared), limit) if declared.isdigit() else limit + 1)
            if len(data) > limit:
                return _reply(start_response, site.too_large())
        headers = tuple(
            (key[5:].replace("_", "-").lower(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ) + tuple(
            (key.replace("_", "-").lower(), environ[key])
            for key in ("CONTENT_TYPE", "CONTENT_LENGTH")
            if environ.get(key)
        )
        request = Request(
            method=method,
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            scheme=environ.get("wsgi.url_scheme", "http"),
            decision=decision,
            body=data,
            client=environ.get("REMOTE_ADDR"),
        )
        return _reply(start_response, site.respond(request), head=method == "HEAD")


def _reply(start_response: StartResponse, reply: Any, *, head: bool = False) -> list[bytes]:
    status = f"{reply.status} {_REASONS.get(reply.status, 'OK')}"
    headers = [*reply.headers, ("content-length", str(len(reply.body)))]
    start_response(status, headers)
    return [b"" if head else reply.body]


_REASONS = {
    200: "OK",
    303: "See Other",
    304: "Not Modified",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
}


#: Chunks a streamed page's headers wait behind for the editor's first output (it holds the
#: first 1024 bytes to choose the charset, more only for an unfinished tag).
_WAIT_CHUNKS = 64
_WRITTEN = Uneditable("error", "the app wrote the body with write(), which is not edited")


_CODES: dict[str, int | None] = {}


def _status_code(status: str) -> int | None:
    """The number of a WSGI status line (remembered: an app sends the same few)."""
    try:
        return _CODES[status]
    except KeyError:
        pass
    try:
        code: int | None = int(status.split(None, 1)[0])
    except (ValueError, IndexError):
        code = None
    remember(_CODES, status, code, 64)
    return code


class _Body:
    """The response body when the banner may be injected (made only for HTML responses).

    With a Content-Length the body is buffered (up to a limit) so the length can be
    corrected before the headers go out; without one it streams through an injector.
    """

    __slots__ = (
        "_csp",
        "_held",
        "_length",
        "_streamed",
        "_write",
        "decision",
        "environ",
        "injector",
        "result",
        "site",
        "start_response",
        "started",
    )

    def __init__(
        self, site: Site, environ: dict[str, Any], decision: Decision, start_response: StartResponse
    ) -> None:
        self.site = site
        self.environ = environ
        self.decision = decision
        self.start_response = start_response
        self.started = False
        self.injector: BodyInjector | None = None
        self.result: Iterable[bytes] = ()
        self._held: tuple[str, Headers, ExcInfo | None] | None = None
        self._length = -1  # the Content-Length field's index in the held headers
        self._streamed = False
        self._write: Callable[[bytes], object] | None = None
        self._csp = -1  # the site's vendor generation when a CSP was added (-1: none)

    def start(
        self,
        status: str,
        headers: Sequence[tuple[str, str]],
        exc_info: ExcInfo | None,
        plan: Injection | None,
        length: int | None,
    ) -> Callable[[bytes], object]:
        """``start_response`` for this body, with the head :func:`response_head` made:
        ``plan`` what to edit (``None``: nothing), ``length`` the index of its Content-Length
        field in ``headers`` (-1: several; ``None``: it has none)."""
        if exc_info is not None and self._held is None and self.started:
            # Headers already went out (PEP 3333): the server re-raises for us.
            return self.start_response(status, headers, exc_info)
        self.started = True
        if plan is None:
            self.injector = None
            self._held = None
            self._write = self.start_response(status, headers, exc_info)
            return self._write
        self.injector = plan.injector()
        # The vendors the site knew when its CSP was made (see _release).
        self._csp = self.site.vendors.generation
        # Held until the body is known (with a Content-Length, to correct it) or, streamed,
        # until its first chunk is edited: a page that fails there can still go out under
        # the enforcing CSP (fail closed). The server sends nothing before either.
        self._streamed = length is None
        self._length = -1 if length is None else length
        self._held = (status, list(headers), exc_info)
        return self._write_held

    def _fail_closed(self, headers: Headers, failure: Uneditable) -> Headers:
        """The headers a page that cannot be edited goes out with (see Site.fail_closed)."""
        path = self.environ.get("PATH_INFO", "")
        added = self.site.fail_closed(self.decision, path, failure)
        return [*headers, *added] if added else headers

    def _write_held(self, data: bytes) -> object:
        # A legacy app writing directly: give up on injection, send what it wrote (under
        # the enforcing CSP: it is not edited).
        if self._held is not None:
            status, headers, exc_info = self._held
            self._held = (status, self._fail_closed(headers, _WRITTEN), exc_info)
        self._release(inject=False, body=b"")
        return cast(Callable[[bytes], object], self._write)(data)

    def _release(self, *, inject: bool, body: bytes, stream: bool = False) -> bytes:
        """Send held headers; return ``body`` (injected when ``inject``).

        ``stream``: the body outgrew the buffer. It is still edited (an unedited page would
        load its trackers and show no banner), streamed on without a Content-Length, which
        the server then frames itself (chunked, PEP 3333 allows it).
        """
        held, self._held = self._held, None
        if held is None:
            return body
        status, headers, exc_info = held
        try:
            edited = body
            if stream and self.injector is not None:
                edited = self.injector.feed(body)
            elif inject and self.injector is not None:
                edited = self.injector.feed_last(body)
        except Uneditable as failure:
            # Nothing has left yet: the page goes out as the app wrote it, under the CSP.
            self.injector = None
            headers = self._fail_closed(headers, failure)
            self._write = self.start_response(status, headers, exc_info)
            return body
        if stream and self.injector is not None:
            headers = [
                (k, v)
                for k, v in headers
                if (known_text_role(k) or text_role(k)) is not CONTENT_LENGTH
            ]
            body = edited
        elif inject and self.injector is not None:
            size = len(body)
            body = edited
            if len(body) != size:
                length = str(len(body))
                at = self._length
                if at < 0:  # several fields: each one
                    headers = [
                        (k, length if (known_text_role(k) or text_role(k)) is CONTENT_LENGTH else v)
                        for k, v in headers
                    ]
                else:  # the one field the app sent
                    headers = [*headers]
                    headers[at] = (headers[at][0], length)
        elif self.injector is not None:
            self.injector.stop()
        if self._csp >= 0 and self.injector is not None:
            # The edit may have met vendors new to the site: the CSP names them too.
            fresh = self.site.csp_after_body(self.decision, self._csp)
            if fresh is not None:
                headers = [(k, fresh[1] if k == fresh[0] else v) for k, v in headers]
        self._write = self.start_response(status, headers, exc_info)
        return body

    def _first(self, taken: list[bytes], chunk: bytes, *, last: bool) -> bytes | None:
        """A streamed page's chunk while its headers are held: the editor's output, with the
        headers released once there is any (or at the end); ``None`` while there is none
        yet (``chunk`` is kept in ``taken``, as the app wrote it). A page that fails now goes
        out as the app wrote it, under the enforcing CSP."""
        injector = self.injector
        assert injector is not None and self._held is not None
        try:
            out = injector.feed_last(chunk) if last else injector.feed(chunk)
        except Uneditable as failure:
            status, headers, exc_info = self._held
            self._held = None
            self.injector = None
            headers = self._fail_closed(headers, failure)
            self._write = self.start_response(status, headers, exc_info)
            return b"".join((*taken, chunk))
        size = sum(map(len, taken)) + len(chunk)
        if not out and not last and len(taken) < _WAIT_CHUNKS and size <= BUFFER_LIMIT:
            taken.append(chunk)
            return None
        status, headers, exc_info = self._held
        self._held = None
        self._write = self.start_response(status, headers, exc_info)
        return out

    def __iter__(self) -> Iterator[bytes]:
        buffered: list[bytes] = []
        size = 0
        for chunk in self.result:
            if self._held is not None and self._streamed:
                out = self._first(buffered, chunk, last=False)
                if out is not None:
                    buffered = []
                    yield out
                continue
            if self._held is not None:
                buffered.append(chunk)
                size += len(chunk)
                if size > BUFFER_LIMIT:
                    yield self._release(inject=True, body=b"".join(buffered), stream=True)
                    buffered = []
                continue
            if self.injector is None:
                yield chunk
                continue
            try:
                yield self.injector.feed(chunk)
            except Uneditable as failure:
                self._cut(failure)
                return
        if self._held is not None and self._streamed:
            yield cast(bytes, self._first(buffered, b"", last=True))
        elif self._held is not None:
            yield self._release(inject=True, body=b"".join(buffered))
        elif self.injector is not None:
            try:
                yield self.injector.finish()
            except Uneditable as failure:
                self._cut(failure)

    def _cut(self, failure: Uneditable) -> None:
        """The headers have left: a page that cannot be edited is cut off here rather than
        sent on live (fail closed)."""
        self.injector = None
        self.site.fail_closed(self.decision, self.environ.get("PATH_INFO", ""), failure)

    def close(self) -> None:
        close = getattr(self.result, "close", None)
        if close is not None:
            close()
