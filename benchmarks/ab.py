"""A/B of two commits on `make bench`'s in-process rows, interleaved in one run (issue 25).

    python benchmarks/ab.py                              # d96d4ae (before the layout) vs HEAD
    python benchmarks/ab.py --before d96d4ae --after main --rounds 9 --api asgi

Each commit's ``src/`` is exported (``git archive``) to a temporary directory and driven by a
worker process of its own (``BENCH_SRC``, see ``_apps``) with the *same* harness, this
checkout's ``_inproc``/``_apps``: the same apps, pages, cookies and checks. The workers take
turns, one round each (A B, then B A, ...), so drift on a shared machine falls on both alike;
inside a round every case runs once, in a shuffled order, timed with the thread's CPU clock
like ``make bench``. Per round, each variant's overhead is paired with the bare app of the same
worker and round; rows report the median overhead of each commit, the change, and the change
of the ``÷ peer`` ratio (the number ``make bench`` prints: the peer, measured in the same
process, absorbs a process that happens to run slower). A row whose ratio moved by more than
``--tolerance`` (5 %) is listed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The commit before the layered layout and the adapters' move to response_head.
BEFORE = "d96d4ae"
#: The rows compared by default: the cookie path and the HTML pages of `make bench`.
RESPONSES = ("text", "cookies", "hello", "html", "html_u", "html_t", "html100", "html_gz")


def export(rev: str, into: Path) -> Path:
    """``rev``'s tree (``src/`` and the ``static/`` it reads) under ``into``; its ``src``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "src", "static"],
        check=True,
        capture_output=True,
    ).stdout
    into.mkdir(parents=True)
    path = into / "tree.tar"
    path.write_bytes(archive)
    with tarfile.open(path) as tar:
        tar.extractall(into, filter="data")
    path.unlink()
    return into / "src"


# -- the worker: one commit, the harness loaded once -------------------------------------------


def worker(api: str, responses: tuple[str, ...], batch_seconds: float) -> None:
    sys.path.insert(0, str(HERE))
    import _inproc

    cases = _inproc.asgi_cases() if api == "asgi" else _inproc.wsgi_cases()
    cases = {key: case for key, case in cases.items() if key[1] in responses}
    try:
        _inproc.check(api, cases)
        checked = "ok"
    except AssertionError as failure:  # an older commit may differ on a check: say so
        checked = f"check failed: {failure}"
    loop = asyncio.new_event_loop()
    timer = _inproc.CLOCKS["cpu"]

    def run(key: tuple[str, str], n: int) -> int:
        app, request = cases[key]
        if api == "asgi":
            return loop.run_until_complete(_inproc._asgi_batch(app, request, n, timer))
        return _inproc._wsgi_batch(app, request, n, timer)

    sizes: dict[tuple[str, str], int] = {}
    for key in cases:
        run(key, 50)
        per = run(key, 50) / 50
        sizes[key] = max(20, int(batch_seconds * 1e9 / max(per, 1.0)))
    import cookieguard

    print(json.dumps({"ready": checked, "package": cookieguard.__file__}), flush=True)
    for line in sys.stdin:
        round_index = int(line)
        order = list(cases)
        random.Random(round_index).shuffle(order)
        times: dict[str, float] = {}
        for key in order:
            n = sizes[key]
            times["/".join(key)] = run(key, n) / n
        print(json.dumps(times), flush=True)


# -- the driver -----------------------------------------------------------------------------


class Side:
    def __init__(self, name: str, src: Path, args: argparse.Namespace, api: str) -> None:
        env = dict(os.environ, BENCH_SRC=str(src))
        env.pop("PYTHONPATH", None)
        self.name = name
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                "--api",
                api,
                "--responses",
                ",".join(args.responses),
                "--batch-ms",
                str(args.batch_ms),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=str(ROOT),
        )
        ready = json.loads(self.readline())
        self.checked = ready["ready"]
        self.package = ready["package"]
        self.rounds: list[dict[str, float]] = []

    def readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker stopped")
        return line

    def round(self, index: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{index}\n")
        self.process.stdin.flush()
        self.rounds.append(json.loads(self.readline()))

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)

    def overheads(self, variant: str, response: str) -> list[float]:
        return [r[f"{variant}/{response}"] - r[f"bare/{response}"] for r in self.rounds]

    def overhead(self, variant: str, response: str) -> float:
        return statistics.median(self.overheads(variant, response))

    def ratio(self, variant: str, response: str) -> float:
        peer = self.overhead("session", response)
        return self.overhead(variant, response) / peer if peer > 0 else float("inf")


def compare(
    api: str, before: Side, after: Side, responses: tuple[str, ...], tolerance: float
) -> tuple[str, list[tuple[str, float, float, float]]]:
    header = (
        f"| {api.upper()} row | before µs | after µs | change | before ÷peer | after ÷peer |"
        " ratio change |"
    )
    lines = [header, "|---|---|---|---|---|---|---|"]
    flagged = []
    for response in responses:
        for variant in ("cg_decided", "cg_all", "cg_undecided", "noop"):
            a, b = before.overhead(variant, response), after.overhead(variant, response)
            ra, rb = before.ratio(variant, response), after.ratio(variant, response)
            change = (rb - ra) / ra if ra > 0 else float("inf")
            row = f"{variant} / {response}"
            lines.append(
                f"| {row} | {a / 1000:.2f} | {b / 1000:.2f} | {b - a:+.0f} ns |"
                f" {ra:.3f} | {rb:.3f} | {change:+.1%} |"
            )
            # The floor (noop) costs under a µs: its ratio moves with noise, not the code.
            if variant != "noop" and abs(change) > tolerance:
                flagged.append((row, change, a, b))
    return "\n".join(lines), flagged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default=BEFORE)
    parser.add_argument("--after", default="HEAD")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--api", default="asgi,wsgi")
    parser.add_argument("--responses", type=lambda s: tuple(s.split(",")), default=RESPONSES)
    parser.add_argument("--batch-ms", type=float, default=20.0)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.api, args.responses, args.batch_ms / 1000)
        return 0

    out: list[str] = []
    every_flag: list[tuple[str, str, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="cookieguard-ab-") as tmp:
        srcs = {
            rev: export(rev, Path(tmp) / name)
            for name, rev in (("a", args.before), ("b", args.after))
        }
        for api in args.api.split(","):
            before = Side(args.before, srcs[args.before], args, api)
            after = Side(args.after, srcs[args.after], args, api)
            try:
                for index in range(args.rounds):
                    pair = (before, after) if index % 2 == 0 else (after, before)
                    for side in pair:
                        side.round(index)
                    print(f"  … {api} round {index + 1}/{args.rounds}", file=sys.stderr, flush=True)
            finally:
                before.close()
                after.close()
            text, flagged = compare(api, before, after, args.responses, args.tolerance)
            out += [
                f"### {api.upper()}: {args.before} (before) vs {args.after} (after)",
                f"checks: before {before.checked}; after {after.checked}",
                text,
            ]
            every_flag += [(api, *f) for f in flagged]
    out.append(
        f"{args.rounds} rounds, interleaved (A B, B A, ...), thread CPU clock, medians;"
        f" overhead = variant - bare of the same worker and round; ÷peer as `make bench`."
    )
    if every_flag:
        out.append(
            f"Rows whose ÷peer ratio moved by more than {args.tolerance:.0%}: "
            + "; ".join(
                f"{api} {row} {change:+.1%} ({a / 1000:.2f} → {b / 1000:.2f} µs)"
                for api, row, change, a, b in every_flag
            )
        )
    else:
        out.append(f"Every row within {args.tolerance:.0%} of before (÷peer ratio).")
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
