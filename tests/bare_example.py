"""Serve an example site with cookieguard taken out: what the site does on its own.

``python tests/bare_example.py flask|starlette`` on ``$PORT``. The scan tests compare this with
the same site wrapped, as the scan issue asks ("the same sites with the middleware removed").
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(name: str) -> None:
    path = ROOT / "examples" / f"{name}_app" / "app.py"
    spec = importlib.util.spec_from_file_location(f"bare_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    port = int(os.environ["PORT"])
    if name == "flask":
        from waitress import serve  # type: ignore[import-untyped]  # waitress ships no type hints

        bare = module.app.wsgi_app.app  # ConsentMiddleware keeps the app it wraps as .app
        module.app.wsgi_app = bare
        serve(module.app, host="127.0.0.1", port=port)
    else:
        import uvicorn

        from cookieguard.asgi import ConsentMiddleware

        app = module.app
        app.user_middleware = [m for m in app.user_middleware if m.cls is not ConsentMiddleware]
        app.middleware_stack = None
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1])
