"""Framework-free drivers and apps, so one contract suite runs against both adapters."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from cookieguard import Policy
from cookieguard import asgi as cg_asgi
from cookieguard import wsgi as cg_wsgi

T = TypeVar("T")

SECRET = "test-secret-key-0123456789"
COOKIES = {"likebox": "preferences", "_ga": "analytics", "_ga_*": "analytics", "_fbp": "marketing"}

PAGE = b"<!doctype html><html><head><title>t</title></head><body><h1>Photos</h1></body></html>"


def make_policy(**overrides: Any) -> Policy:
    settings: dict[str, Any] = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None}
    settings.update(overrides)
    return Policy(**settings)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunks: list[bytes] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        values = self.headers_named(name)
        return values[0] if values else None

    def headers_named(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def set_cookies(self) -> list[str]:
        return self.headers_named("set-cookie")

    def sets(self, name: str) -> bool:
        """True if a Set-Cookie stores (not deletes) ``name``."""
        return any(c.split("=", 1)[0] == name and "Max-Age=0" not in c for c in self.set_cookies)

    def deletes(self, name: str) -> bool:
        return any(c.split("=", 1)[0] == name and "Max-Age=0" in c for c in self.set_cookies)

    @property
    def text(self) -> str:
        return self.body.decode()


Headers = list[tuple[str, str]]


# -- the apps: the same site, written without consent in mind ----------------------------


def _route(path: str, cookie: str) -> tuple[int, Headers, list[bytes]]:
    tracking = [
        ("Set-Cookie", "likebox=1,2; Path=/"),
        ("Set-Cookie", "_ga=GA1.2.3; Path=/; Max-Age=3600"),
        ("Set-Cookie", "_fbp=fb.1; Path=/"),
        ("Set-Cookie", "session=abc; Path=/; HttpOnly"),
    ]
    if path == "/echo":
        return 200, [("Content-Type", "text/plain")], [cookie.encode("latin-1")]
    if path == "/html":
        return (
            200,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(PAGE))),
                *tracking,
            ],
            [PAGE],
        )
    if path == "/stream-long":
        # A page as real sites stream it: a head and a first screen well past the 1 KB a
        # charset sniff may read, then the rest, the closing tags split across chunks.
        first = PAGE[: PAGE.index(b"<h1>")] + b"<p>" + b"photo " * 400 + b"</p>"
        return 200, [("Content-Type", "text/html")], [first, b"<h1>Photos</h1></bo", b"dy></html>"]
    if path == "/stream":
        # No Content-Length, the marker split across chunks.
        return 200, [("Content-Type", "text/html")], [PAGE[:-10], PAGE[-10:-5], PAGE[-5:]]
    if path == "/gzip":
        return (
            200,
            [
                ("Content-Type", "text/html"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", "3"),
            ],
            [b"\x1f\x8b\x08"],
        )
    if path == "/delete":
        return (
            200,
            [
                ("Content-Type", "text/plain"),
                ("Set-Cookie", "_ga=; Max-Age=0; Path=/"),
                ("Set-Cookie", "_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"),
            ],
            [b"deleted"],
        )
    if path == "/boom":
        raise RuntimeError("boom")
    return 200, [("Content-Type", "text/plain"), *tracking], [b"hello"]


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"].removeprefix("/as-written")
    status, headers, body = _route(path, environ.get("HTTP_COOKIE", ""))
    start_response(f"{status} OK", headers)
    return body


async def asgi_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        return
    if scope["type"] == "websocket":
        await receive()
        cookie = dict(scope["headers"]).get(b"cookie", b"").decode("latin-1")
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": cookie})
        await send({"type": "websocket.close"})
        return
    cookie = b"; ".join(v for k, v in scope["headers"] if k == b"cookie").decode("latin-1")
    path = scope["path"]
    # Under /as-written/ header names keep the case the app wrote, as Django's handler does.
    as_written = path.startswith("/as-written/")
    status, headers, body = _route(path.removeprefix("/as-written"), cookie)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                ((k if as_written else k.lower()).encode(), v.encode()) for k, v in headers
            ],
        }
    )
    for i, chunk in enumerate(body):
        await send({"type": "http.response.body", "body": chunk, "more_body": i < len(body) - 1})


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to completion on a fresh event loop in its own thread.

    Playwright's sync API keeps a loop running on the main thread while a browser session is
    open, which makes a plain ``asyncio.run`` there fail.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# -- drivers ------------------------------------------------------------------------------


class Driver:
    name: str

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Headers | None = None,
        body: bytes = b"",
        query: str = "",
        scheme: str = "http",
    ) -> Response:
        headers = list(headers or [])
        if not any(k.lower() == "host" for k, _ in headers):
            headers.append(("Host", "shop.example.com"))
        return self._send(method, path, headers, body, query, scheme)

    def _send(
        self, method: str, path: str, headers: Headers, body: bytes, query: str, scheme: str
    ) -> Response:
        raise NotImplementedError

    def get(self, path: str, cookie: str | None = None, **kw: Any) -> Response:
        headers = list(kw.pop("headers", []))
        if cookie is not None:
            headers.append(("Cookie", cookie))
        return self.request("GET", path, headers=headers, **kw)


class AsgiDriver(Driver):
    name = "asgi"

    def __init__(self, app: Any) -> None:
        self.app = app

    def _send(
        self, method: str, path: str, headers: Headers, body: bytes, query: str, scheme: str
    ) -> Response:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": scheme,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 80),
        }
        return run(self._run(scope, body))

    async def _run(self, scope: dict[str, Any], body: bytes) -> Response:
        sent: list[MutableMapping[str, Any]] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if messages:
                return messages.pop(0)
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = sent[0]
        assert start["type"] == "http.response.start"
        chunks = [m.get("body", b"") for m in sent[1:]]
        assert not sent[-1].get("more_body", False)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        return Response(start["status"], headers, b"".join(chunks), chunks)


class WsgiDriver(Driver):
    name = "wsgi"

    def __init__(self, app: Any) -> None:
        self.app = app

    def _send(
        self, method: str, path: str, headers: Headers, body: bytes, query: str, scheme: str
    ) -> Response:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "shop.example.com",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scheme,
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
        for key, value in headers:
            name = key.upper().replace("-", "_")
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
            else:
                environ["HTTP_" + name] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, hdrs: Headers, exc_info: Any = None) -> Any:
            captured["status"] = int(status.split()[0])
            captured["headers"] = list(hdrs)
            return lambda data: None

        result = self.app(environ, start_response)
        try:
            chunks = list(_iterate(result))
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return Response(captured["status"], captured["headers"], b"".join(chunks), chunks)


def _iterate(result: Iterable[bytes]) -> Iterator[bytes]:
    yield from result


def drivers(policy: Policy) -> dict[str, Driver]:
    return {
        "asgi": AsgiDriver(cg_asgi.ConsentMiddleware(cast(Any, asgi_app), policy=policy)),
        "wsgi": WsgiDriver(cg_wsgi.ConsentMiddleware(wsgi_app, policy)),
    }


# -- real servers on 127.0.0.1, free ports -----------------------------------------------------


#: How long a server in a thread may take to start before a test fails: milliseconds when the
#: machine is idle; the bound is for a loaded one (ten times slower, and more).
SERVER_START = 60.0


class UvicornServer:
    """uvicorn in a thread on a free port of 127.0.0.1, the one helper every test uses:
    ``with UvicornServer(app) as server: server.port, server.url``.

    The listening socket is bound here, before uvicorn runs, so no other process can take the
    port in between. ``TCP_NODELAY`` is set on it (connections inherit it): without it each
    keep-alive request waits 40 ms for a delayed ACK. ``lifespan="on"`` runs the app's
    start-up; with ``must_start=False`` a start-up that fails is not an error here, and
    :attr:`started` and :attr:`exit_code` tell what happened.
    """

    def __init__(
        self,
        app: Any,
        *,
        lifespan: Literal["auto", "on", "off"] = "off",
        ws: str = "none",
        log_level: str = "warning",
        must_start: bool = True,
    ) -> None:
        import socket
        import threading

        import uvicorn

        self.socket = socket.socket()
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            lifespan=lifespan,
            ws=ws,
            http="h11",
            log_level=log_level,
            log_config=None,
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.must_start = must_start
        self.exit_code: int | str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        except SystemExit as exc:  # uvicorn exits this way when start-up fails
            self.exit_code = exc.code

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def __enter__(self) -> UvicornServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + SERVER_START
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"uvicorn did not start within {SERVER_START:.0f} s")
            self.thread.join(0.01)
        if not self.server.started and self.must_start:
            self.__exit__()
            raise RuntimeError(f"uvicorn stopped before it started (exit code {self.exit_code})")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_START)
        self.socket.close()


class WaitressServer:
    """waitress in a thread on a free port of 127.0.0.1 (bound at once, by ``create_server``):
    ``with WaitressServer(app) as server: server.port, server.url``."""

    def __init__(self, app: Any, *, threads: int = 2) -> None:
        import threading

        import waitress  # type: ignore[import-untyped]

        self.server: Any = waitress.create_server(
            # poll(), not select(): closing the server while its loop waits gives POLLNVAL,
            # not an EBADF that kills the thread (a teardown flake under pytest).
            app,
            host="127.0.0.1",
            port=0,
            threads=threads,
            asyncore_use_poll=True,
        )
        self.port = int(self.server.effective_port)  # waitress gives a str
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> WaitressServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.task_dispatcher.shutdown()
        self.server.close()
        # The loop ends once its connections are gone; a response still dripping out keeps
        # one open (test_scan_hostile), and the thread is a daemon: a short courtesy wait.
        self.thread.join(5)


@contextlib.contextmanager
def served(kind: str, app: Any) -> Iterator[int]:
    """``app`` under uvicorn or waitress in a thread, on a free port; yields the port."""
    with (UvicornServer if kind == "uvicorn" else WaitressServer)(app) as server:
        yield server.port


#: How long a server in a subprocess may take to answer before a test fails (an interpreter,
#: a framework and an app to import: a second or two when idle; the bound is for a loaded machine).
PROCESS_START = 90.0


class ServerProcess:
    """A server in a subprocess, on a free port of 127.0.0.1, its output in ``log``:
    ``with ServerProcess("granian", [..., "--port", "{port}"], log=...) as server: server.url``.

    ``{port}`` in ``argv`` and in the values of ``env`` becomes the port. The port is free when
    probed, but on a busy machine another process may take it before the server binds it: a
    server that exits saying its address is in use starts again on a new port, up to
    ``attempts`` times. It is ready once it listens on its port itself (on Linux, read from
    ``/proc``: not merely *a* listener there, which could be whoever took the port) and, with
    ``ready_path``, answers a GET there with 200. Failing to start is a RuntimeError naming the
    server, the port and the end of its output.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready_path: str | None = None,
        attempts: int = 5,
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.ready_path = ready_path
        self.attempts = attempts
        self._start()

    def _start(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        mark = str(self.port)
        argv = [arg.replace("{port}", mark) for arg in self.argv]
        env = {key: value.replace("{port}", mark) for key, value in self.env.items()}
        with self.log.open("ab") as out:
            out.write(f"-- {self.name} on port {self.port}: {' '.join(argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                argv, cwd=self.cwd, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_until_ready(self, timeout: float = PROCESS_START) -> None:
        """Return once the server is ready (at once when it starts fast); start it again on a
        new port while its port was taken; raise, naming it, when it cannot start."""
        for attempt in range(1, self.attempts + 1):
            deadline = time.monotonic() + timeout
            while self.process.poll() is None:
                if self._ready():
                    return
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"{self.name} did not answer on port {self.port} within {timeout:.0f} s;"
                        f" its output:\n{self.output_tail()}"
                    )
                time.sleep(0.05)
            taken = "in use" in self.output_tail().lower()
            if not taken or attempt == self.attempts:
                break
            self._start()
        why = "its port was taken" if taken else f"exit code {self.process.returncode}"
        raise RuntimeError(
            f"{self.name} did not start ({why}; attempt {attempt} of {self.attempts}, port"
            f" {self.port}); its output:\n{self.output_tail()}"
        )

    def _ready(self) -> bool:
        if not listens(self.port, self.process.pid):
            return False
        if self.ready_path is None:
            return True
        try:
            with urllib.request.urlopen(self.url + self.ready_path, timeout=10) as answer:
                return answer.status == 200 and self.process.poll() is None
        except OSError:
            return False

    def output(self) -> str:
        """Everything the server (each start of it) wrote."""
        return self.log.read_text("utf-8", "replace")

    def output_tail(self, size: int = 4000) -> str:
        """The end of the last start's output."""
        last = self.output().rpartition(f"-- {self.name} on port {self.port}: ")[2]
        return last[-size:]

    def stop(self) -> None:
        """Stop the server and any worker processes it left behind."""
        if self.process.poll() is None:
            workers = _process_tree(self.process.pid)[1:]
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)

    def __enter__(self) -> ServerProcess:
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def listens(port: int, pid: int) -> bool:
    """Whether process ``pid`` or one of its descendants listens on TCP ``port`` of this host.

    Read from /proc (the listening sockets' inodes, and the processes' open sockets). Where
    there is no /proc, whether anything accepts a connection on the port.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True
    listening = set()
    for table in tables:
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()  # sl local_address rem_address st ... inode (proc(5))
            if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                listening.add(f"socket:[{fields[9]}]")
    if not listening:
        return False
    for member in _process_tree(pid):
        try:
            fds = os.listdir(f"/proc/{member}/fd")
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{member}/fd/{fd}") in listening:
                    return True
            except OSError:
                continue
    return False


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server's workers), as the kernel lists each thread's
    children (/proc/PID/task/TID/children; without it, ``pid`` alone)."""
    tree = [pid]
    for member in tree:
        for children in Path(f"/proc/{member}/task").glob("*/children"):
            try:
                tree.extend(int(child) for child in children.read_text().split())
            except OSError:  # gone meanwhile
                continue
    return tree


@dataclass
class RawResponse:
    """A response as the server put it on the wire: header lines byte for byte."""

    status: int
    lines: list[bytes]
    body: bytes

    def named(self, name: bytes) -> list[bytes]:
        """Values of the header lines whose name is ``name`` the way a lenient client reads it
        (any case, whitespace around the name ignored)."""
        found = []
        for line in self.lines:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower():
                found.append(value.strip())
        return found


def raw_get(port: int, path: str = "/", headers: Iterable[tuple[str, str]] = ()) -> RawResponse:
    """``GET path`` over HTTP/1.0 (no chunked framing to undo), read to the end."""
    import socket

    lines = [f"GET {path} HTTP/1.0", "Host: shop.example.com"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    return RawResponse(int(status_line.split()[1]), header_lines, body)


def file_site() -> Any:
    """A Starlette site serving ``$COOKIEGUARD_TEST_FILE`` with ``FileResponse`` behind the
    middleware: under a server with ``http.response.pathsend`` the file goes by path."""
    import os

    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Route

    async def page(request: Any) -> FileResponse:
        return FileResponse(os.environ["COOKIEGUARD_TEST_FILE"], media_type="text/html")

    app = Starlette(routes=[Route("/page.html", page)])
    app.add_middleware(cg_asgi.ConsentMiddleware, policy=make_policy())
    return app


#: How long a browser test waits for something that must happen (a request, a beacon, a
#: report) before it fails: generous, for a machine under load. A wait returns as soon as
#: the condition holds, so a passing run costs no more on an idle machine. Playwright's own
#: default for actions: what takes a second when idle can take ten on a loaded machine.
EVENTUALLY = 30.0

_Found = TypeVar("_Found")


def eventually(
    page: Any, check: Callable[[], _Found], what: str, timeout: float = EVENTUALLY
) -> _Found:
    """Poll ``check`` until it returns something truthy and return that; fail naming
    ``what`` after ``timeout`` seconds. Polls with ``page.wait_for_timeout``, not
    ``time.sleep``: Playwright's sync API runs route and request handlers only while it waits.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        page.wait_for_timeout(50)


def settle(page: Any, pause: float = 0.3) -> None:
    """Give what must *not* happen the time to happen, before a test says it did not: the
    page's load, then its network quiet (no request for 500 ms: Playwright's "networkidle",
    which a chain of scripts slowed by a loaded machine keeps away, where a fixed pause would
    end first), then ``pause`` seconds more for timers. What must happen is waited for with
    :func:`eventually` instead. A page whose network never goes quiet is given
    :data:`EVENTUALLY` seconds. After the first quiet of a page (a check after a click), only
    the pause is left."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_load_state("load")
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=EVENTUALLY * 1000)
    page.wait_for_timeout(pause * 1000)
