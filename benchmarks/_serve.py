"""Serve one benchmark app on 127.0.0.1 with one worker.

python benchmarks/_serve.py uvicorn|waitress bare|cg PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _apps import asgi_variant, wsgi_variant


def main() -> None:
    server, variant, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    name = "cg_decided" if variant == "cg" else variant
    if server == "uvicorn":
        import uvicorn

        uvicorn.run(
            asgi_variant(name),
            host="127.0.0.1",
            port=port,
            workers=1,
            log_level="warning",
            access_log=False,
        )
    elif server == "waitress":
        import logging

        import waitress  # type: ignore[import-untyped]

        logging.getLogger("waitress").setLevel(logging.ERROR)
        waitress.serve(wsgi_variant(name), host="127.0.0.1", port=port, threads=1, _quiet=True)
    else:
        raise SystemExit(f"unknown server {server!r}")


if __name__ == "__main__":
    main()
