"""cookieguard's speed budget (issues 6 and 14): one table, every target marked MET or MISSED.

    python benchmarks/run.py                 # the full run (`make bench`), 3-4 min when idle
    python benchmarks/run.py --quick         # about a minute, same tables, noisier
    python benchmarks/run.py --memory-requests 200000 --skip-loopback --skip-profiles

Cases: small text and a response setting two cookies (the cookie path); Flask's HTML hello,
20 KB and 100 KB pages with and without five vendors' tracker snippets, and 20 KB pages that
differ on every request (a per-request token in the middle, so no cache keyed on the body
ever hits: reported as information) (the HTML path); each for the bare app, a no-op
middleware (the floor), cookieguard with three visitors and the peer (Starlette's
SessionMiddleware, Flask's session); loopback req/s on the 20 KB page under uvicorn and
waitress, and on its every-page-different twin (wrk when on PATH, else a Python load
generator; server and load pinned to different CPUs); RSS over a million distinct visitors
on HTML pages, a quarter of them on pages seen once; a profile of each HTML case. Every HTML
page is a new bytes object per request, in every variant (see ``_apps.Template``).

All variants of one section are measured in the same run, interleaved (shuffled each round),
several rounds. Overheads are paired per round against the bare app of the same round and
reported as median [min-max] over rounds; ratios are median overhead ÷ median peer overhead
(in-process time is this thread's CPU time by default, see --clock).
The table is also written to benchmarks/RESULTS.md with the command and date; sections of
that file written by hand (an analysis under a generated section, ``## Load``) are kept.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _adversarial  # noqa: E402
import _inproc  # noqa: E402
import _loopback  # noqa: E402
from _apps import PATHS, cookie_header, make_policy, starlette_session_value  # noqa: E402


@dataclass
class Target:
    measure: str
    value: float | None  # None: not measured in this run
    detail: str
    limit: float | None  # None: information, no target
    at_most: bool = True  # True: value <= limit; False: value >= limit
    fmt: str = "{:.3f}"

    @property
    def met(self) -> bool | None:
        if self.value is None or self.limit is None:
            return None
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def status(self) -> str:
        if self.value is None:
            return "not run"
        if self.limit is None:
            return "info"
        return "MET" if self.met else "MISSED"

    def row(self) -> list[str]:
        value = "—" if self.value is None else self.fmt.format(self.value)
        sign = "≤" if self.at_most else "≥"
        limit = "—" if self.limit is None else f"{sign} {self.fmt.format(self.limit)}"
        return [self.measure, value, self.detail, limit, self.status]


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
    "cg_all": "cookieguard, decided, accepted all",
    "cg_undecided": "cookieguard, undecided visitor",
    "session": "",  # filled per API
}
PEER = {"asgi": "Starlette SessionMiddleware", "wsgi": "Flask session"}
COOKIE_PATH = ("text", "cookies")
#: Pages loaded over loopback: the target's, then its every-page-different twin (info).
LOOPBACK = ("html", "html_u")
HTML_PATH = _inproc.HTML_RESPONSES
#: How the pages are served, said under the in-process tables (what keeps them honest).
PAGES_NOTE = (
    "Every HTML page, in every variant (the bare app too, so overheads stay comparable) and "
    "in every run (in-process, loopback, memory, profiles), is a new bytes object per "
    "request, joined from its parts as a template renders it: nothing can recognise a page "
    "by the identity of the object or by the hash CPython caches on a long-lived one, so a "
    "cache of the rewrite keyed on the body pays for reading the body each time. Every "
    "20 KB and 100 KB page has an add-to-cart form with a 20-digit token in the middle of its "
    "product list; on the pages marked *every page different* the token changes with every "
    "request (like a CSRF token, same length), so a content cache never hits there: those "
    "columns are what a page costs the first time it is seen (the rows marked info above)."
)
#: The HTML cases in two tables (one would be too wide to read).
HTML_TABLES = (
    ("hello", "html", "html_u", "html_t", "html_t_u"),
    ("html100", "html100_t", "html_gz", "html100_u", "html100_t_u"),
    ("html_s", "html100_s"),
)
#: Streamed pages (4 KB chunks, no Content-Length) -> the same page sent whole; both differ
#: on every request, so neither can be a page-memo hit.
STREAMED = {"html_s": "html_u", "html100_s": "html100_u"}
VISITORS = (
    ("accepted all", "cg_all"),
    ("decided", "cg_decided"),
    ("undecided", "cg_undecided"),
)
#: The HTML cases profiled for RESULTS.md: (api, visitor, response).
PROFILES = [
    *(
        ("asgi", visitor, response)
        for response in ("hello", "html", "html_u", "html_t", "html_t_u", "html100", "html100_t")
        for visitor in ("decided", "undecided")
    ),
    ("asgi", "all", "html_u"),
    ("asgi", "all", "html_s"),
    ("asgi", "decided", "html_s"),
    ("wsgi", "decided", "hello"),
    ("wsgi", "decided", "html"),
]


def overhead_table(result: _inproc.Result, responses: tuple[str, ...]) -> str:
    """µs per request over bare (median [min-max] of paired rounds), and ÷ peer overhead."""
    api = result.api
    rows = []
    for variant in _inproc.VARIANTS:
        label = LABELS[variant] or PEER[api] + " (peer)"
        cells = [label]
        for response in responses:
            if variant == "bare":
                ns = result.times[("bare", response)]
                cells.append(f"{us(statistics.median(ns))} µs abs")
                continue
            over = span(result.overheads(variant, response))
            ratio = result.ratio(variant, "session", response, response)
            cells.append(f"{over} (x{ratio:.3f})")
        rows.append(cells)
    header = [f"{api.upper()} in-process"] + [
        f"{_inproc.RESPONSE_LABELS[r]}: +µs (÷peer)" for r in responses
    ]
    return table(header, rows)


def table_note(result: _inproc.Result) -> str:
    return (
        f"{result.rounds} rounds x {result.batch[0]}-{result.batch[1]} requests per case (a batch"
        f" of about the same time each), {result.clock} clock; "
        f"peer = {PEER[result.api]} overhead on the same response = x1"
    )


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


def ratio_target(
    measure: str, result: _inproc.Result, variant: str, response: str, limit: float | None
) -> Target:
    return Target(
        measure,
        result.ratio(variant, "session", response, response),
        ratio_detail(result, variant, response),
        limit,
        at_most=True,
    )


def gzip_target(measure: str, result: _inproc.Result, variant: str) -> Target:
    mine = statistics.median(result.overheads(variant, "html_gz"))
    plain = statistics.median(result.overheads(variant, "html_u"))
    return Target(
        measure,
        result.ratio(variant, variant, "html_gz", "html_u"),
        f"{mine / 1000:.1f} µs ÷ {plain / 1000:.1f} µs (decode, edit, encode at level 1)",
        None,
    )


def stream_target(
    measure: str, result: _inproc.Result, variant: str, streamed: str, limit: float
) -> Target:
    """A streamed page's overhead ÷ the overhead of the same page sent whole."""
    whole = STREAMED[streamed]
    mine = statistics.median(result.overheads(variant, streamed))
    theirs = statistics.median(result.overheads(variant, whole))
    ratios = result.ratios(variant, variant, streamed, whole)
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return Target(
        measure,
        result.ratio(variant, variant, streamed, whole),
        f"{mine / 1000:.2f} µs ÷ {theirs / 1000:.2f} µs (the same page whole);"
        f" per-round IQR {q1:.3f}-{q3:.3f}",
        limit,
    )


def first_seen_targets(
    asgi: _inproc.Result,
    wsgi: _inproc.Result,
    loopbacks: dict[tuple[str, str], _loopback.Loopback],
) -> list[Target]:
    """Issue 26: pages that differ on every request (no page-memo hit), and streamed ones."""
    targets = [
        ratio_target(
            f"{who}, 20 KB HTML, every page different ÷ peer, ASGI", asgi, variant, "html_u", limit
        )
        for who, variant, limit in (
            ("accepted all", "cg_all", 0.30),
            ("decided (marketing refused)", "cg_decided", 0.50),
            ("undecided", "cg_undecided", 0.50),
        )
    ]
    targets += [
        ratio_target(
            "five vendors' snippets, undecided, 20 KB, every page different ÷ peer, ASGI",
            asgi,
            "cg_undecided",
            "html_t_u",
            2.0,
        ),
        ratio_target(
            "five vendors' snippets, undecided, 100 KB, every page different ÷ peer, ASGI",
            asgi,
            "cg_undecided",
            "html100_t_u",
            3.0,
        ),
    ]
    targets += [
        stream_target(
            f"streamed in 4 KB chunks, {size}, {who}, ÷ the same page whole, {api.upper()}",
            result,
            variant,
            streamed,
            1.5,
        )
        for api, result in (("asgi", asgi), ("wsgi", wsgi))
        for streamed, size in (("html_s", "20 KB"), ("html100_s", "100 KB"))
        for who, variant in VISITORS
    ]
    targets += [
        Target(
            f"{server} req/s over loopback, 20 KB, every page different, decided ÷ bare",
            None if lb is None else lb.ratio,
            loopback_detail(lb),
            0.90,
            at_most=False,
        )
        for server in ("uvicorn", "waitress")
        for lb in [loopbacks.get((server, "html_u"))]
    ]
    targets += [  # (the issue-14 rows again, next to them: the same runs)
        Target(
            f"{server} req/s over loopback, 20 KB, the same page repeated, decided ÷ bare",
            None if lb is None else lb.ratio,
            loopback_detail(lb),
            0.95,
            at_most=False,
        )
        for server in ("uvicorn", "waitress")
        for lb in [loopbacks.get((server, "html"))]
    ]
    return targets


def loopback_detail(lb: _loopback.Loopback | None) -> str:
    if lb is None:
        return "not run"
    return (
        f"{statistics.median(lb.guarded):,.0f} ÷ {statistics.median(lb.bare):,.0f} req/s"
        f" on {lb.path} ({lb.tool}; median of {len(lb.bare)} back-to-back"
        f" pairs of {lb.seconds:g} s, range {min(lb.ratios()):.3f}-{max(lb.ratios()):.3f});"
        f" server CPU per request {statistics.median(lb.bare_cpu):.0f} µs bare,"
        f" {statistics.median(lb.guarded_cpu):.0f} µs guarded: CPU-bound ratio"
        f" {lb.cpu_ratio:.3f}"
    )


def profile_section(requests: int, top: int, progress: Callable[[str], None]) -> str:
    """The top cookieguard functions of each HTML case, per request, under cProfile."""
    import profile_paths

    parts = [
        "cProfile with this thread's CPU clock, "
        f"{requests:,} requests per case ({max(50, requests // 10):,} on pages with trackers)"
        " after a warm-up; own µs = time in the function itself "
        "(builtins such as `re.Pattern.search` listed apart when only cookieguard calls them), "
        "cumulative µs = with what it calls. Profiling inflates every call about 2-3x: read "
        "the shares, not the absolute values. Reproduce one with `python "
        "benchmarks/profile_paths.py API VISITOR RESPONSE`.",
    ]
    for api, visitor, response in PROFILES:
        progress(f"profile {api} {visitor} {response}")
        # Pages with trackers cost a hundred times more per request: fewer of them.
        n = max(50, requests // 10) if response in _inproc.TRACKER_RESPONSES else requests
        stats = profile_paths.profile(api, visitor, response, n)
        total, own, rows = profile_paths.summary(stats, n, top)
        parts.append(
            f"**{api.upper()}, {visitor} visitor, {_inproc.RESPONSE_LABELS[response]}** — "
            f"{total:.1f} µs per request under the profiler, {own:.1f} µs ({own / total:.0%}) "
            "in cookieguard and the builtins it calls"
        )
        parts.append(table(["function", "calls/req", "own µs", "cumulative µs"], rows))
    return "\n\n".join(parts)


ADVERSARIAL = "Hostile bodies (issue 19: linear time on any input)"
FIRST_SEEN = "Targets (issue 26: pages seen for the first time, streamed bodies)"
#: The level-2 headings run.py writes; any other section of RESULTS.md was written by hand.
GENERATED = (
    "Targets (issue 14: speed on real pages)",
    FIRST_SEEN,
    "Cookie-path targets (issue 6)",
    "In-process overhead over the bare app",
    "Memory",
    "Loopback errors",
    "Where the time goes (profiles of the HTML cases)",
    ADVERSARIAL,
)


def _blocks(text: str) -> list[tuple[str, str, str]]:
    """(heading level ``##``/``###`` or "" before the first, heading text, block text) for each
    block of a Markdown file, a block running from its heading to the next ## or ### one."""
    blocks: list[tuple[str, str, str]] = []
    level, heading, lines = "", "", list[str]()
    for line in text.splitlines():
        if line.startswith(("## ", "### ")):
            blocks.append((level, heading, "\n".join(lines).strip()))
            level, _, heading = line.partition(" ")
            heading, lines = heading.strip(), [line]
        else:
            lines.append(line)
    blocks.append((level, heading, "\n".join(lines).strip()))
    return blocks


def carry_over(old: str, new: str, generated: tuple[str, ...] = GENERATED) -> str:
    """``new`` (run.py's sections) with the hand-written parts of ``old`` carried over: a
    ``###`` section written by hand inside a generated ``##`` one (the analysis of a run) goes
    back at the end of that section; a ``##`` section run.py does not write (``Load``) goes,
    with its subsections, after everything generated."""
    parents: dict[str, list[str]] = {}
    tail: list[str] = []
    parent, parent_generated = "", True
    for level, heading, block in _blocks(old):
        if level == "##":
            parent, parent_generated = heading, heading in generated
            if not parent_generated:
                tail.append(block)
        elif level == "###":
            if not parent_generated:
                tail.append(block)
            elif parent in generated:
                parents.setdefault(parent, []).append(block)
    out: list[str] = []
    current = ""
    for level, heading, block in _blocks(new):
        if level == "##":
            out += parents.pop(current, [])
            current = heading
        if block:
            out.append(block)
    out += parents.pop(current, [])
    for blocks in parents.values():  # a section this run did not write: keep its analysis
        out += blocks
    return "\n\n".join(out + tail).strip() + "\n"


def replace_section(old: str, heading: str, block: str) -> str:
    """``old`` with its ``## heading`` block replaced by ``block`` (its hand-written ``###``
    subsections kept), or with ``block`` added after the generated sections if it has none:
    what a run of one section (``--only-adversarial``) writes, every other section untouched."""
    blocks = _blocks(old)
    out: list[str] = []
    placed = False
    for level, name, text in blocks:
        if level == "##" and name == heading:
            out.append(block)
            placed = True
        elif level == "##" and not placed and name not in GENERATED and out:
            out.append(block)  # before the first hand-written section (``## Load``)
            placed = True
            out.append(text)
        elif text:
            out.append(text)
    if not placed:
        out.append(block)
    return "\n\n".join(out).strip() + "\n"


def adversarial_section(result: _adversarial.Result, footer: str) -> str:
    return f"## {ADVERSARIAL}\n\n" + _adversarial.section(result) + f"\n\n{footer}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute in all, noisier")
    parser.add_argument("--rounds", type=int, help="in-process rounds (default 11, quick 5)")
    parser.add_argument("--batch-ms", type=float, help="target ms per batch (default 30)")
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
        help="distinct visitors on HTML pages (default 1,000,000; quick 50,000)",
    )
    parser.add_argument(
        "--loopback-seconds", type=float, help="seconds per load run (default 2, quick 1)"
    )
    parser.add_argument(
        "--load-tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="loopback load generator: wrk when on PATH (default), else the python one",
    )
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="loopback: let the scheduler place servers and load generator (default: pinned"
        " to different CPUs)",
    )
    parser.add_argument(
        "--profile-requests",
        type=int,
        help="requests per profiled case (default 2000; a tenth on pages with trackers)",
    )
    parser.add_argument("--skip-loopback", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-profiles", action="store_true")
    parser.add_argument("--skip-adversarial", action="store_true")
    parser.add_argument(
        "--only-adversarial",
        action="store_true",
        help="run only the hostile-bodies table and replace just that section of RESULTS.md",
    )
    parser.add_argument("--output", default=str(HERE / "RESULTS.md"), help="'' to not write")
    args = parser.parse_args()

    quick = args.quick
    rounds = args.rounds or (5 if quick else 11)
    batch_s = (args.batch_ms or (10 if quick else 30)) / 1000
    memory_n = args.memory_requests or (50_000 if quick else 1_000_000)
    loop_s = args.loopback_seconds or (1 if quick else 2)
    loop_rounds = 1 if quick else 5
    profile_n = args.profile_requests or (300 if quick else 2000)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    if args.only_adversarial:
        return only_adversarial(args.output, started)

    # The memory run is long and single-threaded: it runs in its own process alongside the
    # in-process timings (which count this thread's CPU time, so it barely disturbs them)
    # and is waited for before the loopback runs, which need the whole machine.
    memory_process = None
    if not args.skip_memory:
        log(f"memory: {memory_n:,} distinct visitors on HTML pages (in the background)")
        memory_process = subprocess.Popen(
            [sys.executable, str(HERE / "_memory.py"), "--requests", str(memory_n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    log(f"in-process ASGI: {rounds} rounds")
    asgi = _inproc.measure(
        "asgi", rounds=rounds, batch_seconds=batch_s, clock=args.clock, progress=log
    )
    log(f"in-process WSGI: {rounds} rounds")
    wsgi = _inproc.measure(
        "wsgi", rounds=rounds, batch_seconds=batch_s, clock=args.clock, progress=log
    )
    profiles = None
    if not args.skip_profiles:
        profiles = profile_section(profile_n, 8, log)

    memory: dict[str, object] | None = None
    memory_error = ""
    if memory_process is not None:
        log("waiting for the memory run")
        out, err = memory_process.communicate()
        if memory_process.returncode == 0:
            memory = json.loads(out.strip().splitlines()[-1])
        else:
            memory_error = f"exit status {memory_process.returncode}: {err[-2000:]}"
            log(memory_error)

    loopbacks: dict[tuple[str, str], _loopback.Loopback] = {}
    loop_errors: list[str] = []
    if not args.skip_loopback:
        cookie = cookie_header(make_policy(), starlette_session_value())
        # The 20 KB page (the target), then the same page differing on every request (info).
        for response, server in itertools.product(LOOPBACK, ("uvicorn", "waitress")):
            log(f"loopback {server} {response}: {loop_rounds} x 2 runs of {loop_s:g} s")
            try:
                loopbacks[(server, response)] = _loopback.measure(
                    server,
                    cookie,
                    seconds=loop_s,
                    rounds=loop_rounds,
                    path=PATHS[response],
                    tool=args.load_tool,
                    pin=not args.no_pin,
                    progress=log,
                )
            except Exception as error:  # report, keep going: the other sections still count
                loop_errors.append(f"{server} {response}: {type(error).__name__}: {error}")
                log(loop_errors[-1])

    targets = [
        ratio_target(
            "decided visitor, 20 KB HTML page, overhead ÷ peer session overhead, ASGI",
            asgi,
            "cg_decided",
            "html",
            0.10,
        ),
        ratio_target("the same, WSGI (Flask)", wsgi, "cg_decided", "html", 0.06),
        ratio_target(
            'decided visitor, Flask default HTML "hello" ÷ Flask session',
            wsgi,
            "cg_decided",
            "hello",
            0.06,
        ),
        ratio_target(
            "undecided visitor, 20 KB HTML (banner injected) ÷ peer, ASGI",
            asgi,
            "cg_undecided",
            "html",
            0.30,
        ),
        ratio_target(
            "20 KB page with five tracker tags, auto-blocking on, undecided ÷ peer, ASGI",
            asgi,
            "cg_undecided",
            "html_t",
            0.50,
        ),
        ratio_target(
            "100 KB page, auto-blocking on, no tracker, decided ÷ peer, ASGI",
            asgi,
            "cg_decided",
            "html100",
            0.20,
        ),
    ]
    for server in ("uvicorn", "waitress"):
        lb = loopbacks.get((server, "html"))
        targets.append(
            Target(
                f"{server} req/s over loopback on the 20 KB page, decided ÷ bare",
                None if lb is None else lb.ratio,
                loopback_detail(lb),
                0.95,
                at_most=False,
            )
        )
    targets.append(
        Target(
            f"memory: RSS growth over {memory_n:,} distinct visitors on HTML pages (MB)",
            None if memory is None else float(memory["growth_mb"]),  # type: ignore[arg-type]
            ("not run " + memory_error).strip()
            if memory is None
            else (
                f"{memory['rss_before_mb']} → {memory['rss_after_mb']} MB via {memory['path']};"
                f" caches (entries): {memory['caches']}"
            ),
            50.0,
            at_most=True,
            fmt="{:.1f}",
        )
    )
    # Information (issue 19): a 20 KB page the app sends gzip-compressed (every page different,
    # so the page memo cannot hide the work) costs a decode, the edit and an encode; its
    # overhead ÷ the overhead on the same page uncompressed.
    targets += [
        gzip_target(f"20 KB gzip page, {who}, overhead ÷ the same page uncompressed, {api}", r, v)
        for api, r in (("ASGI", asgi), ("WSGI", wsgi))
        for who, v in (("undecided", "cg_undecided"), ("decided", "cg_decided"))
    ]
    earlier = [
        ratio_target(
            "ASGI decided overhead ÷ SessionMiddleware overhead (small text)",
            asgi,
            "cg_decided",
            "text",
            0.10,
        ),
        ratio_target(
            "ASGI decided overhead ÷ SessionMiddleware overhead (sets 2 cookies)",
            asgi,
            "cg_decided",
            "cookies",
            0.10,
        ),
        ratio_target(
            "WSGI decided overhead ÷ Flask session overhead (small text)",
            wsgi,
            "cg_decided",
            "text",
            0.06,
        ),
        ratio_target(
            "WSGI decided overhead ÷ Flask session overhead (sets 2 cookies)",
            wsgi,
            "cg_decided",
            "cookies",
            0.06,
        ),
    ]

    header = ["measure", "value", "how", "target", "status"]
    sections = [
        "## Targets (issue 14: speed on real pages)",
        table(header, [t.row() for t in targets]),
        f"## {FIRST_SEEN}",
        "Every page different: a per-request token in the middle of the page, so the page memo "
        "never hits (the cost of a page the first time it is seen). Streamed: the same page "
        "sent in 4 KB chunks with no Content-Length (Starlette's StreamingResponse, a Flask "
        "generator), its overhead ÷ the overhead of the same page sent whole, per visitor.",
        table(header, [t.row() for t in first_seen_targets(asgi, wsgi, loopbacks)]),
        "## Cookie-path targets (issue 6)",
        "Small text responses, same run (issue 6's loopback and memory rows are superseded by "
        "issue 14's HTML ones above).",
        table(header, [t.row() for t in earlier]),
        "## In-process overhead over the bare app",
        "µs per request added, median [min-max] over paired rounds; (xn) = ÷ peer overhead. "
        "The decided visitor granted analytics and preferences and refused marketing (so "
        "auto-blocking still looks for Meta Pixel and LinkedIn); the one who accepted all has "
        "nothing to block. The five trackers are GA4 (gtag.js), Google Tag Manager, Meta "
        "Pixel, Hotjar and LinkedIn Insight as their vendors publish them. The HTML hello is "
        "Flask's quickstart view (`<p>Hello, World!</p>`, text/html): a fragment, never edited.",
        PAGES_NOTE,
    ]
    for result in (asgi, wsgi):
        sections += [
            overhead_table(result, COOKIE_PATH),
            *(overhead_table(result, responses) for responses in HTML_TABLES),
            table_note(result),
        ]
    if memory is not None:
        sections += [
            "## Memory",
            f"{memory['mix']}\n\n"
            f"RSS growth (MB) after n visitors: {memory['samples']} ({memory['seconds']} s)",
        ]
    if loop_errors:
        sections += ["## Loopback errors", "\n".join(loop_errors)]
    if profiles is not None:
        sections += ["## Where the time goes (profiles of the HTML cases)", profiles]
    if not args.skip_adversarial:
        log("hostile bodies: 8 KB, 64 KB, 1 MB")
        hostile = _adversarial.measure(progress=log)
        sections += [f"## {ADVERSARIAL}", _adversarial.section(hostile)]
    elapsed = time.perf_counter() - started
    command = "python benchmarks/run.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"Python {platform.python_version()}, {platform.machine()}, {_cpus()} CPUs"
    alias = "" if sys.argv[1:] else " (= `make bench`)"
    footer = f"`{command}`{alias} — {stamp} — {machine} — {elapsed:.0f} s — {_load(load_before)}"
    text = "\n\n".join(sections) + "\n\n" + footer + "\n"
    print(text)
    if args.output:
        output = Path(args.output)
        old = output.read_text() if output.exists() else ""
        output.write_text(carry_over(old, "# cookieguard benchmark results\n\n" + text))
        log(f"wrote {args.output}")
    return 0


def only_adversarial(output: str, started: float) -> int:
    """``--only-adversarial``: the hostile-bodies table alone, written into RESULTS.md in
    place of its own section (every other section stays as the last full run left it)."""
    log("hostile bodies: 8 KB, 64 KB, 1 MB")
    result = _adversarial.measure(progress=log)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"Python {platform.python_version()}, {platform.machine()}, {_cpus()} CPUs"
    elapsed = time.perf_counter() - started
    footer = (
        f"`python benchmarks/run.py --only-adversarial` — {stamp} — {machine} — {elapsed:.0f} s"
    )
    text = adversarial_section(result, footer)
    print(text)
    if output:
        path = Path(output)
        old = path.read_text() if path.exists() else "# cookieguard benchmark results\n"
        path.write_text(replace_section(old, ADVERSARIAL, text))
        log(f"wrote {output}")
    return 0 if result.met() else 1


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _load(before: float) -> str:
    """The machine's 1-minute load average at the start and the end of the run, and what it
    means for the numbers: a loaded machine leaves the ratios (paired, interleaved) readable
    and the absolute µs inflated."""
    after = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    busy = max(before, after) > 0.5 * cpus
    verdict = (
        "a LOADED machine: read the ratios, not the absolute µs" if busy else "a quiet machine"
    )
    return f"load average {before:.1f} → {after:.1f} on {cpus} CPUs: {verdict}"


if __name__ == "__main__":
    sys.exit(main())
