"""Requests per second over 127.0.0.1: uvicorn and waitress, bare app vs cookieguard decided,
on one path of the benchmark apps (run.py loads the 20 KB HTML page).

Each server runs in its own subprocess (``_serve.py``) with one worker; the load comes from
``wrk`` in another process when it is on PATH (``apt-get install wrk``), else a small Python
load generator in a subprocess (``--load-tool`` in run.py picks one).
Bare and cookieguard servers run side by side and are loaded alternately, a few seconds at a
time; every server is killed at the end, also on error.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRK = shutil.which("wrk") or ("/usr/bin/wrk" if os.path.exists("/usr/bin/wrk") else None)


@dataclass
class Loopback:
    server: str
    path: str
    tool: str
    seconds: float
    bare: list[float]  # requests/s per run
    guarded: list[float]
    #: The server process's CPU time (all threads, user + system) per request of each run, µs.
    bare_cpu: list[float] = field(default_factory=list)
    guarded_cpu: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios: each round's two runs are back to back, so they
        share the machine's state of the moment better than two medians do."""
        return statistics.median(self.ratios())

    def ratios(self) -> list[float]:
        return [g / b for g, b in zip(self.guarded, self.bare, strict=True)]

    @property
    def cpu_ratio(self) -> float:
        """The req/s ratio a server bound by its own CPU would reach: bare CPU per request ÷
        guarded CPU per request, median of the rounds. A cross-check of ``ratio`` that does
        not move when other jobs take the CPUs, since it counts only the server's own time."""
        pairs = zip(self.bare_cpu, self.guarded_cpu, strict=True)
        return statistics.median(b / g if g > 0 else float("inf") for b, g in pairs)


def process_cpu_us(pid: int) -> float:
    """CPU time used so far by process ``pid`` and all its threads (user + system), µs."""
    with open(f"/proc/{pid}/stat") as stat:
        # The fields after the command name (which may hold spaces) start at ')'; utime and
        # stime are fields 14 and 15 of proc(5), in clock ticks.
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks * 1e6 / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    server: str, variant: str, cpus: frozenset[int] | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A server on a free port, its process (and every thread it starts) on ``cpus``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "_serve.py"), server, variant, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_pinned(cpus),
    )
    try:
        _wait_ready(port, process)
        yield port, process
    finally:
        _stop(process)


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"server exited early ({process.returncode}): {err[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not answer within {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
    if process.stderr:
        process.stderr.close()


def parse_wrk(out: str) -> tuple[float, int]:
    """(requests/s, requests) from wrk's report; an error if any response was not 2xx/3xx or
    any socket failed (a server that drops connections must not look fast)."""
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    count = re.search(r"(\d+) requests in ", out)
    if match is None or count is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw {errors.group(1)} error responses:\n{out}")
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sockets and any(int(n) for n in sockets.groups()):
        raise RuntimeError(f"wrk saw socket errors:\n{out}")
    return float(match.group(1)), int(count.group(1))


def split_cpus(available: set[int]) -> tuple[frozenset[int], frozenset[int]] | None:
    """(the server's CPU, the load generator's CPUs), or None on a single CPU. Pinned apart,
    the two never fight over one core and do not migrate between runs. On the shared 2-CPU
    machine of issue 14 (other jobs running), over two sets of 5 pairs per server and tool,
    pinning narrowed the spread of the CPU-bound ratio (``Loopback.cpu_ratio``) in most
    cases but not that of req/s, which other jobs move either way (``--no-pin`` to compare).
    """
    if len(available) < 2:
        return None
    first, *rest = sorted(available)
    return frozenset({first}), frozenset(rest)


def _pinned(cpus: frozenset[int] | None) -> Callable[[], None] | None:
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def wrk(
    port: int,
    cookie: str,
    seconds: float,
    connections: int,
    path: str = "/",
    cpus: frozenset[int] | None = None,
) -> tuple[float, int]:
    """One wrk run (1 thread, keep-alive, bounded in time) against 127.0.0.1 only:
    (requests/s, requests)."""
    if WRK is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    out = subprocess.run(
        [
            WRK,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-H",
            f"Cookie: {cookie}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
        preexec_fn=_pinned(cpus),
    ).stdout
    return parse_wrk(out)


def pyload(
    port: int,
    cookie: str,
    seconds: float,
    connections: int,
    path: str = "/",
    cpus: frozenset[int] | None = None,
) -> tuple[float, int]:
    """One run of the python load generator: (requests/s, requests)."""
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "_pyload.py"),
            str(port),
            str(seconds),
            str(connections),
            path,
        ],
        input=cookie,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
        preexec_fn=_pinned(cpus),
    ).stdout
    rate, count = out.split()
    return float(rate), int(count)


def measure(
    server: str,
    cookie: str,
    *,
    seconds: float,
    rounds: int,
    connections: int = 8,
    path: str = "/",
    tool: str = "auto",
    pin: bool = True,
    progress: Callable[[str], None] = lambda s: None,
) -> Loopback:
    """``tool``: ``wrk``, ``python`` (the fallback generator) or ``auto`` (wrk when on PATH).
    ``pin``: the servers on one CPU, the load generator on the others (``split_cpus``)."""
    if tool == "auto":
        tool = "wrk" if WRK else "python"
    if tool not in TOOLS:
        raise ValueError(f"load tool {tool!r}: use one of auto, {', '.join(TOOLS)}")
    load = TOOLS[tool]
    bare: list[float] = []
    guarded: list[float] = []
    cpu: dict[int, list[float]] = {}
    split = split_cpus(os.sched_getaffinity(0)) if pin else None
    server_cpus, load_cpus = split or (None, None)
    with (
        serving(server, "bare", server_cpus) as (bare_port, bare_process),
        serving(server, "cg", server_cpus) as (cg_port, cg_process),
    ):
        load(bare_port, cookie, 1, connections, path, load_cpus)  # warm-up, discarded
        load(cg_port, cookie, 1, connections, path, load_cpus)
        for index in range(rounds):
            # Alternate which goes first so slow drift does not favour one side.
            pairs = [(bare, bare_port, bare_process.pid), (guarded, cg_port, cg_process.pid)]
            for results, port, pid in pairs if index % 2 == 0 else pairs[::-1]:
                before = process_cpu_us(pid)
                rate, count = load(port, cookie, seconds, connections, path, load_cpus)
                used = process_cpu_us(pid) - before
                results.append(rate)
                cpu.setdefault(port, []).append(used / max(count, 1))
            progress(f"{server} round {index + 1}/{rounds}")
    label = (
        f"wrk, 1 thread, {connections} connections"
        if tool == "wrk"
        else f"python load generator, {connections} connections"
    )
    if split:
        label += f"; server on CPU {_cpus(server_cpus)}, load on CPU {_cpus(load_cpus)}"
    return Loopback(server, path, label, seconds, bare, guarded, cpu[bare_port], cpu[cg_port])


def _cpus(cpus: frozenset[int] | None) -> str:
    return ",".join(map(str, sorted(cpus or ())))


#: Load generators by name.
TOOLS: dict[
    str, Callable[[int, str, float, int, str, frozenset[int] | None], tuple[float, int]]
] = {
    "wrk": wrk,
    "python": pyload,
}
