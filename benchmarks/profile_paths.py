"""cProfile of cookieguard's hot paths, in-process, with the same fixtures as run.py.

    python benchmarks/profile_paths.py [asgi|wsgi] [decided|all|undecided] [RESPONSE]
        [--requests 20000] [--top 25] [--sort tottime] [--markdown]

``all`` is the decided visitor who accepted all (nothing to auto-block). RESPONSE is one of
``_inproc.RESPONSES`` (text, cookies, hello, html, html_u, html_t, html_t_u, html100,
html100_t; ``_t`` pages carry five vendors' tracker snippets, ``_u`` pages differ on every
request, so a cache keyed on the body never hits). Profiles only the middleware's
share as far as cProfile can tell it apart: look at the ``cookieguard`` rows (tottime) against
the total of the bare app's rows. ``--markdown`` prints the compact table ``run.py`` puts in
RESULTS.md: the top functions inside cookieguard, per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _inproc


def profile(api: str, visitor: str, response: str, requests: int) -> pstats.Stats:
    """Profile ``requests`` requests of one case (after a warm-up that fills the caches)."""
    cases = _inproc.asgi_cases() if api == "asgi" else _inproc.wsgi_cases()
    app, request = cases[(f"cg_{visitor}", response)]
    loop = asyncio.new_event_loop()

    def run(n: int) -> None:
        if api == "asgi":
            loop.run_until_complete(_inproc._asgi_batch(app, request, n))
        else:
            _inproc._wsgi_batch(app, request, n)

    try:
        run(min(500, max(50, requests // 4)))  # warm caches
        # This thread's CPU time: time spent descheduled on a shared machine is left out.
        profiler = cProfile.Profile(time.thread_time_ns, 1e-9)
        profiler.enable()
        run(requests)
        profiler.disable()
    finally:
        loop.close()
    return pstats.Stats(profiler)


def _where(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":
        return name  # a builtin, e.g. "<method 'search' of 're.Pattern' objects>"
    short = path.split("/src/", 1)[-1] if "/src/" in path else Path(path).name
    return f"{short}:{line} {name}"


def _ours(func: tuple[str, int, str], stats: dict[Any, Any]) -> bool:
    """A cookieguard function, or a builtin called from one (re, bytes.join...)."""
    path = func[0]
    if "cookieguard" in path:
        return True
    if path != "~":
        return False
    callers = stats[func][4]
    return bool(callers) and all("cookieguard" in caller[0] for caller in callers)


def summary(stats: pstats.Stats, requests: int, top: int) -> tuple[float, float, list[list[str]]]:
    """(µs per request in all, µs per request in cookieguard's own code and the builtins it
    calls, the top rows by own time: function, calls per request, own µs, cumulative µs)."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    mine = [(func, entry) for func, entry in raw.items() if _ours(func, raw)]
    own = sum(entry[2] for _, entry in mine)
    mine.sort(key=lambda item: item[1][2], reverse=True)
    rows = [
        [
            f"`{_where(func)}`",
            f"{entry[1] / requests:.2g}",
            f"{entry[2] / requests * 1e6:.2f}",
            f"{entry[3] / requests * 1e6:.2f}",
        ]
        for func, entry in mine[:top]
    ]
    return total / requests * 1e6, own / requests * 1e6, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("api", nargs="?", default="asgi", choices=("asgi", "wsgi"))
    parser.add_argument(
        "visitor", nargs="?", default="decided", choices=("decided", "all", "undecided")
    )
    parser.add_argument("response", nargs="?", default="text", choices=_inproc.RESPONSES)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--markdown", action="store_true", help="cookieguard's rows only")
    args = parser.parse_args()

    stats = profile(args.api, args.visitor, args.response, args.requests)
    if args.markdown:
        total, own, rows = summary(stats, args.requests, args.top)
        print(f"{total:.1f} µs per request under the profiler, {own:.1f} µs in cookieguard")
        for row in rows:
            print(" | ".join(row))
        return
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
