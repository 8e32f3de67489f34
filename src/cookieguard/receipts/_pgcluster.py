"""A throwaway PostgreSQL server in a temporary directory, for tests and benchmarks.

Not part of the runtime: nothing in the middleware imports this. It finds the server
binaries (Debian's ``/usr/lib/postgresql/<version>/bin`` or ``PATH``), runs ``initdb``
into a temporary directory and serves on ``127.0.0.1`` only, on a free port, with its unix
socket inside that directory. ``initdb`` refuses to run as root, so as root the commands
run as the ``postgres`` OS user through ``runuser``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

#: How to get the binaries, for messages shown when they are missing.
INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql;"
    " macOS: brew install postgresql) or put its bin directory (initdb, pg_ctl) on PATH"
)


#: How many free ports the first start tries; how long pg_ctl waits for a start or a stop
#: (seconds when idle; the bound is for a loaded machine).
START_ATTEMPTS = 5
WAIT_SECONDS = "120"


class PostgresNotFound(RuntimeError):
    """``initdb``/``pg_ctl`` are not installed."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, newest version first; or None."""

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresCluster:
    """A private PostgreSQL server; use as a context manager or call start()/stop()/remove().

    ``fsync=False`` trades crash safety of the *server* for speed, which suits tests; the
    benchmark keeps the default (on) to compare fairly with SQLite's ``synchronous=FULL``.
    """

    def __init__(self, *, fsync: bool = True, bindir: Path | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresNotFound(f"PostgreSQL server binaries not found: {INSTALL_HINT}")
        self.bindir = found
        self.fsync = fsync
        self.port = _free_port()
        self._started = False
        self.root = Path(tempfile.mkdtemp(prefix="cookieguard-pg-"))
        self.datadir = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses root; hand the directory to the postgres user and run as it.
            if shutil.which("runuser") is None:
                raise PostgresNotFound("running as root but runuser is not available")
            shutil.chown(self.root, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        try:
            self._run("initdb", "-D", str(self.datadir), "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")  # fmt: skip
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    @property
    def url(self) -> str:
        """A libpq URL for the ``postgres`` database as the ``postgres`` superuser."""
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """A libpq URL for ``database`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_postgres, str(self.bindir / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root, check=False)
        if result.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}\n{log[-2000:]}"
            )

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        The port was free when probed, but on a busy machine another process may take it
        before the server binds it: the first start then moves to another free port (up to
        :data:`START_ATTEMPTS` times). A restart keeps the port its clients know.
        """
        for attempt in range(1, START_ATTEMPTS + 1):
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                f" -c fsync={'on' if self.fsync else 'off'}"
            )
            try:
                self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile),
                          "-o", options, "-w", "-t", WAIT_SECONDS, "start")  # fmt: skip
            except RuntimeError as exc:
                taken = "address already in use" in str(exc).lower()
                if self._started or not taken or attempt == START_ATTEMPTS:
                    raise RuntimeError(
                        f"PostgreSQL did not start on port {self.port}"
                        f" (attempt {attempt} of {START_ATTEMPTS}): {exc}"
                    ) from exc
                self.port = _free_port()
            else:
                self._started = True
                return

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are ended, like a real outage)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", WAIT_SECONDS,
                  "stop")  # fmt: skip

    def running(self) -> bool:
        """Whether the server process is up."""
        command = [
            *self._as_postgres,
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "status",
        ]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def pids(self) -> list[int]:
        """The postmaster's process id, then its children's (backends, background workers)."""
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            # Fields after the parenthesised command name: state, ppid, ... (proc(5)).
            if int(stat.rpartition(")")[2].split()[1]) == postmaster:
                children.append(int(entry))
        return [postmaster, *children]

    def freeze(self) -> list[int]:
        """SIGSTOP the server and every backend (a hung host, as far as clients can tell).

        The kernel still accepts TCP connections and acknowledges data, so nothing fails:
        clients simply never hear back. Returns the process ids; pass them to :meth:`thaw`.
        Linux only (reads ``/proc``).
        """
        pids = self.pids()
        for pid in pids:  # the postmaster first, so it forks no new backend meanwhile
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        return pids

    def thaw(self, pids: list[int]) -> None:
        """SIGCONT the processes :meth:`freeze` stopped."""
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def remove(self) -> None:
        """Stop the server if it runs and delete its directory."""
        try:
            if self.running():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()
