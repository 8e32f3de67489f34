"""The e2e fixture's example server (``ExampleServer``) on a loaded machine (issue 20 part 4):
the free port it probed may be taken before the example binds it."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ExampleServer

#: A stand-in for an example: answers ``/collect/count`` on $PORT, as the examples do.
STAND_IN = """
import http.server, os
class Count(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/collect/count" else 404)
        self.end_headers()
        self.wfile.write(b'{"count": 0}')
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Count).serve_forever()
"""


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process holds."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


def test_a_port_taken_between_probe_and_bind_starts_the_example_on_another(
    tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    probed = socket.socket.getsockname
    monkeypatch.setattr(socket.socket, "getsockname", lambda self: ("127.0.0.1", taken_port))
    server = ExampleServer("stand-in", tmp_path, argv=[sys.executable, "-c", STAND_IN])
    monkeypatch.setattr(socket.socket, "getsockname", probed)
    try:
        server.wait_until_ready()
        assert server.url != f"http://127.0.0.1:{taken_port}"
        assert "address already in use" not in server.output().lower()  # the second start's
    finally:
        server.stop()
