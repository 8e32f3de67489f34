"""cProfile of cookieguard's hot paths, in-process, with the same fixtures as run.py.

    python benchmarks/profile_paths.py [asgi|wsgi] [decided|undecided] [text|cookies|html]
        [--requests 20000] [--top 25] [--sort tottime]

Profiles only the middleware's share as far as cProfile can tell it apart: look at the
``cookieguard`` rows (tottime) against the total of the bare app's rows.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _inproc


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("api", nargs="?", default="asgi", choices=("asgi", "wsgi"))
    parser.add_argument("visitor", nargs="?", default="decided", choices=("decided", "undecided"))
    parser.add_argument("response", nargs="?", default="text", choices=_inproc.RESPONSES)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime")
    args = parser.parse_args()

    cases = _inproc.asgi_cases() if args.api == "asgi" else _inproc.wsgi_cases()
    app, request = cases[(f"cg_{args.visitor}", args.response)]
    loop = asyncio.new_event_loop()

    def run(n: int) -> None:
        if args.api == "asgi":
            loop.run_until_complete(_inproc._asgi_batch(app, request, n))
        else:
            _inproc._wsgi_batch(app, request, n)

    run(500)  # warm caches
    profile = cProfile.Profile()
    profile.enable()
    run(args.requests)
    profile.disable()
    loop.close()
    stats = pstats.Stats(profile)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
