"""The suite's servers in subprocesses (``tests.harness.ServerProcess``: granian, runserver, the
examples) on a loaded machine (issue 20 part 4): the free port probed may be taken before the
server binds it, by a process that may even answer HTTP there."""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ServerProcess, WaitressServer, _process_tree

pytestmark = pytest.mark.servers

#: A server as the examples are one: answers ``/collect/count`` on $PORT, naming itself.
STAND_IN = """
import http.server, os
class Count(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/collect/count" else 404)
        self.end_headers()
        self.wfile.write(b"stand-in")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Count).serve_forever()
"""


def other_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"someone else"]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another server holds, answering 200 to every GET."""
    with WaitressServer(other_app) as other:
        yield other.port


def stand_in(tmp_path: Path, argv: list[str], **options: Any) -> ServerProcess:
    env = {"PORT": "{port}", "PATH": "/usr/bin:/bin"}
    return ServerProcess("stand-in", argv, log=tmp_path / "out.log", env=env, **options)


def starts(server: ServerProcess) -> int:
    return server.output().count("-- stand-in on port ")


def test_a_port_taken_between_probe_and_bind_starts_the_server_on_another(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first probe gives the taken port; the listener there answers the readiness check
    (200), but it is not the server's own: the server, which could not bind, starts again."""
    probed = socket.socket.getsockname
    monkeypatch.setattr(socket.socket, "getsockname", lambda self: ("127.0.0.1", taken_port))
    server = stand_in(tmp_path, [sys.executable, "-c", STAND_IN], ready_path="/collect/count")
    monkeypatch.setattr(socket.socket, "getsockname", probed)
    with server:
        assert server.port != taken_port
        with urllib.request.urlopen(server.url + "/collect/count", timeout=30) as answer:
            assert answer.read() == b"stand-in"
    assert starts(server) == 2
    assert "address already in use" in server.output().lower()  # the first start's


def test_a_server_that_fails_for_another_reason_fails_at_once_naming_itself(
    tmp_path: Path,
) -> None:
    server = stand_in(tmp_path, [sys.executable, "-c", "print('no such app'); raise SystemExit(3)"])
    with pytest.raises(RuntimeError, match=r"stand-in did not start \(exit code 3") as failed:
        server.wait_until_ready()
    assert "no such app" in str(failed.value)
    assert starts(server) == 1


def test_starts_again_a_bounded_number_of_times(tmp_path: Path) -> None:
    always_taken = "print('OSError: [Errno 98] Address already in use'); raise SystemExit(1)"
    server = stand_in(tmp_path, [sys.executable, "-c", always_taken], attempts=3)
    with pytest.raises(RuntimeError, match="its port was taken; attempt 3 of 3") as failed:
        server.wait_until_ready()
    assert "Address already in use" in str(failed.value)
    assert starts(server) == 3


def test_a_server_that_never_listens_fails_after_the_bound_and_is_stopped(tmp_path: Path) -> None:
    silent = "import time; print('starting'); time.sleep(600)"
    server = stand_in(tmp_path, [sys.executable, "-c", silent])
    with pytest.raises(RuntimeError, match=r"stand-in did not answer on port \d+ within 1 s"):
        server.wait_until_ready(timeout=1)
    assert server.process.poll() is not None


def test_a_listener_a_worker_process_holds_is_the_servers(tmp_path: Path) -> None:
    """granian's workers, an autoreloader's child: the socket may be a descendant's."""
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {STAND_IN!r}])"
    server = stand_in(tmp_path, [sys.executable, "-c", parent], ready_path="/collect/count")
    with server, urllib.request.urlopen(server.url + "/collect/count", timeout=30) as answer:
        assert answer.read() == b"stand-in"
        worker = _process_tree(server.process.pid)[1]
    # Stopped with its server: no worker left serving.
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(worker, 0)
            time.sleep(0.1)
