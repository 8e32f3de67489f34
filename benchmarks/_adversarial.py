"""The adversarial table of ``make bench`` (issue 19 part 3): hostile bodies against a normal page.

    python benchmarks/_adversarial.py [--sizes 8192,65536,1048576] [--runs 3] [--shapes a,b]

Each shape of ``hostile.py`` and the normal page are rewritten whole, at each size, for an
undecided visitor under the default policy (banner, auto-blocking of every catalogued
vendor), the way one page view with a query string pays for it: no page memo, and the
blocker's verdict memos emptied before every run (an attacker's bodies are new each time).
Time is this thread's CPU time, best of ``runs``; the table gives µs per KB of body. The
target: at every size, the worst shape costs at most 3x the normal page per KB.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import hostile  # noqa: E402

from cookieguard import Policy  # noqa: E402
from cookieguard._cache import Memo  # noqa: E402
from cookieguard.core._consent import UNDECIDED  # noqa: E402
from cookieguard.core._guard import Decision  # noqa: E402
from cookieguard.html._inject import Injection  # noqa: E402
from cookieguard.site._site import Site  # noqa: E402

SIZES = (8 * 1024, 64 * 1024, 1024 * 1024)
#: At most this many times the normal page's µs/KB, at every size.
LIMIT = 3.0


def plan() -> Injection:
    site = Site(Policy(secret_keys=["bench-secret-0123456789abcdef"], receipts=None))
    injection = site.injection(
        Decision(UNDECIDED),
        method="GET",
        status=200,
        content_type="text/html; charset=utf-8",
        content_encoding=None,
        path="/comments",
        query="page=2",
        accept_language="en",
    )
    assert injection is not None and injection.blocker is not None
    return injection


def rewrite_cold(injection: Injection, body: bytes) -> float:
    """CPU seconds to rewrite ``body`` whole with the blocker's memos emptied first."""
    blocker = injection.blocker
    assert blocker is not None
    blocker.verdicts = Memo(4096, 1 << 20)
    blocker._hosts = Memo(4096, 1 << 20)
    blocker._urls = Memo(4096, 1 << 20)
    start = time.thread_time()
    injection.rewriter().feed_last(body)
    return time.thread_time() - start


def us_per_kb(injection: Injection, body: bytes, runs: int) -> float:
    best = min(rewrite_cold(injection, body) for _ in range(runs))
    return best * 1e6 / (len(body) / 1024)


@dataclass
class Result:
    sizes: tuple[int, ...]
    normal: dict[int, float]  # size -> µs/KB
    shapes: dict[str, dict[int, float]]  # shape -> size -> µs/KB

    def worst(self, size: int) -> tuple[str, float]:
        name = max(self.shapes, key=lambda shape: self.shapes[shape][size])
        return name, self.shapes[name][size]

    def met(self) -> bool:
        return all(self.worst(size)[1] <= LIMIT * self.normal[size] for size in self.sizes)


def measure(
    sizes: tuple[int, ...] = SIZES,
    runs: int = 3,
    progress: Callable[[str], None] = lambda _: None,
    only: tuple[str, ...] = (),
) -> Result:
    injection = plan()
    us_per_kb(injection, hostile.normal(sizes[0]), 1)  # warm-up: imports, first memos
    normal: dict[int, float] = {}
    chosen = {name: hostile.SHAPES[name] for name in only} if only else hostile.SHAPES
    shapes: dict[str, dict[int, float]] = {name: {} for name in chosen}
    for size in sizes:
        progress(f"adversarial: {size // 1024} KB")
        # Fewer runs for the large size: each is long enough to time well on its own.
        n = runs if size < 512 * 1024 else max(1, runs - 1)
        normal[size] = us_per_kb(injection, hostile.normal(size), n + 2)
        for name, (make, _) in chosen.items():
            shapes[name][size] = us_per_kb(injection, make(size), n)
    return Result(sizes, normal, shapes)


def _size(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size // 1024} KB"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


def section(result: Result) -> str:
    """The Markdown of the adversarial section (without its heading)."""
    rows = []
    for size in result.sizes:
        name, worst = result.worst(size)
        normal = result.normal[size]
        ratio = worst / normal
        rows.append(
            [
                _size(size),
                f"{normal:.1f}",
                f"{worst:.1f} ({name})",
                f"{ratio:.2f}",
                f"≤ {LIMIT:g}",
                "MET" if ratio <= LIMIT else "MISSED",
            ]
        )
    summary = _table(
        ["body", "normal page µs/KB", "worst hostile µs/KB (shape)", "worst ÷ normal", "target",
         "status"],
        rows,
    )  # fmt: skip
    detail_rows = [
        ["normal page", *(f"{result.normal[size]:.1f}" for size in result.sizes), "the shop page"]
    ]
    for name in result.shapes:
        what = hostile.SHAPES[name][1]
        detail_rows.append(
            [name, *(f"{result.shapes[name][size]:.1f}" for size in result.sizes), what]
        )
    detail = _table(["shape", *(_size(s) for s in result.sizes), "what it is"], detail_rows)
    return "\n\n".join(
        [
            "Each hostile body (`benchmarks/hostile.py`) and a normal shop page with a few "
            "vendors' snippets, rewritten whole for an undecided visitor under the default "
            "policy (banner, every catalogued vendor gated), as one page view with a query "
            "string pays for it: no page memo, the blocker's verdict memos emptied before each "
            "run. µs of this thread's CPU per KB of body, best of 3 runs (2 at 1 MB). "
            "Target: the worst shape at most 3x the normal page, at every size. "
            "`tests/html_editing/test_linear_time.py` checks that every shape grows linearly.",
            summary,
            detail,
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="comma-separated body sizes in bytes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shapes", help="comma-separated shapes of hostile.py (default: all)")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else SIZES
    only = tuple(args.shapes.split(",")) if args.shapes else ()
    unknown = [name for name in only if name not in hostile.SHAPES]
    if unknown:
        parser.error(f"unknown shapes: {', '.join(unknown)} (see benchmarks/hostile.py)")
    result = measure(sizes, args.runs, lambda m: print(f"  … {m}", file=sys.stderr), only)
    print(section(result))
    return 0 if result.met() else 1


if __name__ == "__main__":
    sys.exit(main())
