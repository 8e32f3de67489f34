"""``make demo``: serve the Flask example site on ``$PORT`` (8000 by default) and print its URL.

Set ``COOKIEGUARD_SECRET`` to sign consent with your own secret (a loud warning says when the
public development secret is used). Stop with Ctrl+C.
"""

from __future__ import annotations

import contextlib
import os
import runpy
from pathlib import Path

APP = Path(__file__).resolve().parent / "flask_app" / "app.py"


def main() -> None:
    port = os.environ.setdefault("PORT", "8000")
    print(f"cookieguard demo: open http://127.0.0.1:{port}/ (Ctrl+C stops it)", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        runpy.run_path(str(APP), run_name="__main__")


if __name__ == "__main__":
    main()
