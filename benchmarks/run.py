"""cookieguard's speed budget (issue 6): one table, every target marked MET or MISSED.

    python benchmarks/run.py                 # the full run (`make bench`), a few minutes
    python benchmarks/run.py --quick         # about 30 seconds, same table, noisier
    python benchmarks/run.py --memory-requests 200000 --skip-loopback

All variants of one section are measured in the same run, interleaved (shuffled each round),
several rounds. Overheads are paired per round against the bare app of the same round and
reported as median [min-max] over rounds; ratios are median overhead ÷ median peer overhead
(in-process time is this thread's CPU time by default, see --clock).
The table is also written to benchmarks/RESULTS.md with the command and date.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _inproc  # noqa: E402
import _loopback  # noqa: E402
from _apps import cookie_header, make_policy, starlette_session_value  # noqa: E402


@dataclass
class Target:
    measure: str
    value: float | None  # None: not measured in this run
    detail: str
    limit: float
    at_most: bool  # True: value <= limit; False: value >= limit
    fmt: str = "{:.3f}"

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    def row(self) -> list[str]:
        status = {True: "MET", False: "MISSED", None: "not run"}[self.met]
        value = "—" if self.value is None else self.fmt.format(self.value)
        sign = "≤" if self.at_most else "≥"
        return [self.measure, value, self.detail, f"{sign} {self.fmt.format(self.limit)}", status]


def log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def us(ns: float) -> str:
    return f"{ns / 1000:.2f}"


def span(values: list[float], scale: float = 1000.0, digits: int = 2) -> str:
    med = statistics.median(values) / scale
    return f"{med:.{digits}f} [{min(values) / scale:.{digits}f}-{max(values) / scale:.{digits}f}]"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


LABELS = {
    "bare": "bare app",
    "noop": "no-op middleware (floor)",
    "cg_decided": "cookieguard, decided visitor",
    "cg_undecided": "cookieguard, undecided visitor",
    "session": "",  # filled per API
}
PEER = {"asgi": "Starlette SessionMiddleware", "wsgi": "Flask session"}


def overhead_table(result: _inproc.Result) -> str:
    """µs per request over bare (median [min-max] of paired rounds), and ÷ peer overhead."""
    api = result.api
    rows = []
    for variant in _inproc.VARIANTS:
        label = LABELS[variant] or PEER[api] + " (peer)"
        cells = [label]
        for response in _inproc.RESPONSES:
            if variant == "bare":
                ns = result.times[("bare", response)]
                cells.append(f"{us(statistics.median(ns))} µs abs")
                continue
            over = span(result.overheads(variant, response))
            ratio = result.ratio(variant, "session", response, response)
            cells.append(f"{over} (x{ratio:.3f})")
        rows.append(cells)
    header = [
        f"{api.upper()} in-process",
        "small text: +µs (÷peer)",
        "sets 2 cookies: +µs (÷peer)",
        "20 KB HTML: +µs (÷peer)",
    ]
    note = (
        f"{result.rounds} rounds x {result.batch} requests per case, {result.clock} clock; "
        f"peer = {PEER[api]} overhead on the same response = x1"
    )
    return table(header, rows) + "\n\n" + note


def ratio_detail(result: _inproc.Result, variant: str, response: str) -> str:
    ratios = result.ratios(variant, "session", response, response)
    over = statistics.median(result.overheads(variant, response))
    peer = statistics.median(result.overheads("session", response))
    floor = result.ratio("noop", "session", response, response)
    # Quartiles of the per-round ratios: a single disturbed round (peer overhead <= 0 gives
    # inf) must not hide how stable the rest were.
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return (
        f"{over / 1000:.2f} µs ÷ {peer / 1000:.2f} µs; per-round IQR {q1:.3f}-{q3:.3f};"
        f" fastest rounds {result.best_ratio(variant, 'session', response, response):.3f};"
        f" floor {floor:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about 30 s in all, noisier")
    parser.add_argument("--rounds", type=int, help="in-process rounds (default 15, quick 5)")
    parser.add_argument("--batch-ms", type=float, help="target ms per batch (default 40)")
    parser.add_argument(
        "--clock",
        choices=sorted(_inproc.CLOCKS),
        default="cpu",
        help="in-process timer: this thread's CPU time (default; steadier on a shared machine)"
        " or wall time",
    )
    parser.add_argument(
        "--memory-requests",
        type=int,
        help="requests with distinct consent cookies (default 1,000,000; quick 100,000)",
    )
    parser.add_argument(
        "--loopback-seconds", type=float, help="seconds per wrk run (default 2, quick 1)"
    )
    parser.add_argument("--skip-loopback", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="'' to not write")
    args = parser.parse_args()

    quick = args.quick
    rounds = args.rounds or (5 if quick else 15)
    batch_s = (args.batch_ms or (15 if quick else 40)) / 1000
    memory_n = args.memory_requests or (100_000 if quick else 1_000_000)
    loop_s = args.loopback_seconds or (1 if quick else 2)
    loop_rounds = 1 if quick else 5
    started = time.perf_counter()

    log(f"in-process ASGI: {rounds} rounds")
    asgi = _inproc.measure(
        "asgi", rounds=rounds, batch_seconds=batch_s, clock=args.clock, progress=log
    )
    log(f"in-process WSGI: {rounds} rounds")
    wsgi = _inproc.measure(
        "wsgi", rounds=rounds, batch_seconds=batch_s, clock=args.clock, progress=log
    )

    loopbacks: dict[str, _loopback.Loopback] = {}
    loop_errors: list[str] = []
    if not args.skip_loopback:
        cookie = cookie_header(make_policy(), starlette_session_value())
        for server in ("uvicorn", "waitress"):
            log(f"loopback {server}: {loop_rounds} x 2 runs of {loop_s:g} s")
            try:
                loopbacks[server] = _loopback.measure(
                    server, cookie, seconds=loop_s, rounds=loop_rounds, progress=log
                )
            except Exception as error:  # report, keep going: the other sections still count
                loop_errors.append(f"{server}: {type(error).__name__}: {error}")
                log(loop_errors[-1])

    memory: dict[str, object] | None = None
    if not args.skip_memory:
        log(f"memory: {memory_n:,} requests with distinct consent cookies")
        out = subprocess.run(
            [sys.executable, str(HERE / "_memory.py"), "--requests", str(memory_n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        memory = json.loads(out.strip().splitlines()[-1])

    targets = [
        Target(
            "ASGI decided overhead ÷ SessionMiddleware overhead (small text)",
            asgi.ratio("cg_decided", "session", "text", "text"),
            ratio_detail(asgi, "cg_decided", "text"),
            0.10,
            at_most=True,
        ),
        Target(
            "ASGI decided overhead ÷ SessionMiddleware overhead (sets 2 cookies)",
            asgi.ratio("cg_decided", "session", "cookies", "cookies"),
            ratio_detail(asgi, "cg_decided", "cookies"),
            0.10,
            at_most=True,
        ),
        Target(
            "WSGI decided overhead ÷ Flask session overhead (small text)",
            wsgi.ratio("cg_decided", "session", "text", "text"),
            ratio_detail(wsgi, "cg_decided", "text"),
            0.06,
            at_most=True,
        ),
        Target(
            "WSGI decided overhead ÷ Flask session overhead (sets 2 cookies)",
            wsgi.ratio("cg_decided", "session", "cookies", "cookies"),
            ratio_detail(wsgi, "cg_decided", "cookies"),
            0.06,
            at_most=True,
        ),
        Target(
            "ASGI undecided 20 KB HTML overhead ÷ SessionMiddleware overhead",
            asgi.ratio("cg_undecided", "session", "html", "html"),
            ratio_detail(asgi, "cg_undecided", "html"),
            0.5,
            at_most=True,
        ),
    ]
    for server in ("uvicorn", "waitress"):
        lb = loopbacks.get(server)
        detail = (
            "not run"
            if lb is None
            else (
                f"{statistics.median(lb.guarded):,.0f} ÷ {statistics.median(lb.bare):,.0f} req/s"
                f" ({lb.tool}; median of {len(lb.bare)} back-to-back pairs of {lb.seconds:g} s,"
                f" range {min(lb.ratios()):.3f}-{max(lb.ratios()):.3f})"
            )
        )
        targets.append(
            Target(
                f"{server} req/s, cookieguard decided ÷ bare"
                + ("" if server == "uvicorn" else " (no target in issue 6; uvicorn's ≥ 0.90)"),
                None if lb is None else lb.ratio,
                detail,
                0.90,
                at_most=False,
            )
        )
    targets.append(
        Target(
            f"RSS growth over {memory_n:,} distinct consent cookies (MB)",
            None if memory is None else float(memory["growth_mb"]),  # type: ignore[arg-type]
            "not run"
            if memory is None
            else (
                f"{memory['rss_before_mb']} → {memory['rss_after_mb']} MB via {memory['path']};"
                f" caches {memory['decision_cache']}/{memory['token_cache']} entries"
            ),
            50.0,
            at_most=True,
            fmt="{:.1f}",
        )
    )

    summary = table(["measure", "value", "how", "target", "status"], [t.row() for t in targets])
    sections = [
        "## Targets (issue 6)",
        summary,
        "## In-process overhead over the bare app",
        "µs per request added, median [min-max] over paired rounds; (xn) = ÷ peer overhead.",
        overhead_table(asgi),
        overhead_table(wsgi),
    ]
    if memory is not None:
        sections += [
            "## Memory",
            f"RSS growth (MB) after n requests: {memory['samples']} ({memory['seconds']} s)",
        ]
    if loop_errors:
        sections += ["## Loopback errors", "\n".join(loop_errors)]
    elapsed = time.perf_counter() - started
    command = "python benchmarks/run.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"Python {platform.python_version()}, {platform.machine()}, {_cpus()} CPUs"
    footer = f"`{command}` — {stamp} — {machine} — {elapsed:.0f} s"
    text = "\n\n".join(sections) + "\n\n" + footer + "\n"
    print(text)
    if args.output:
        Path(args.output).write_text("# cookieguard benchmark results\n\n" + text)
        log(f"wrote {args.output}")
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
