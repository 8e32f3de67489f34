"""Print the banner's size on the wire: raw and gzip bytes of banner.js and banner.css.

Exits 1 when the two together are over the budget (4096 bytes gzip), so CI catches growth.
Usage: python scripts/size_report.py [--budget BYTES]
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Sequence
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"
FILES = ("banner.js", "banner.css")
BUDGET = 4096


def measure(folder: Path = STATIC) -> list[tuple[str, int, int]]:
    """``(name, raw bytes, gzip bytes)`` per file; gzip at level 9, as servers precompress."""
    sizes = []
    for name in FILES:
        data = (folder / name).read_bytes()
        sizes.append((name, len(data), len(gzip.compress(data, compresslevel=9, mtime=0))))
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=BUDGET, help="gzip bytes allowed in total")
    args = parser.parse_args(argv)
    sizes = measure()
    total_raw = sum(raw for _, raw, _ in sizes)
    total_gz = sum(gz for _, _, gz in sizes)
    print(f"{'file':<12}{'raw':>8}{'gzip':>8}")
    for name, raw, gz in sizes:
        print(f"{name:<12}{raw:>8}{gz:>8}")
    print(f"{'total':<12}{total_raw:>8}{total_gz:>8}  (budget {args.budget} gzip)")
    if total_gz > args.budget:
        print(f"over budget by {total_gz - args.budget} bytes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
