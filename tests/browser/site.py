"""The browser tests' site: a small Starlette app behind cookieguard, served by real uvicorn.

Every response carries ``Content-Security-Policy: default-src 'self'``, so every browser test
also proves the banner needs no inline script or style.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cookieguard import Policy
from cookieguard.asgi import ConsentMiddleware

CSP = "default-src 'self'"

#: axe-core, fetched with npm at test time (MPL-2.0; not vendored). Pinned by version and hash.
AXE_VERSION = "4.14.1"
AXE_INTEGRITY = (
    "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5"
    "qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

#: Runs before any page script: records Content-Security-Policy violations.
RECORDER = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""

SCRIPTS = {
    # a.js is served slowly: if document order were not kept, b.js would run first.
    "a.js": "(window.__ran = window.__ran || []).push('a'); document.cookie = '_ga=GA1.1; path=/';",
    "b.js": "(window.__ran = window.__ran || []).push('b');",
    "m.js": "(window.__ran = window.__ran || []).push('m'); document.cookie = '_fbp=fb.1; path=/';",
    "p.js": "(window.__ran = window.__ran || []).push('p');",
    "site.js": "document.getElementById('like').addEventListener('click', () => {"
    " window.__liked = (window.__liked || 0) + 1; });",
}

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Photo club</title>
<link rel="stylesheet" href="/static/site.css">
</head><body>
<header><h1>{title}</h1><nav><a href="/">Home</a> <a href="/other?x=1">Gallery</a></nav></header>
<main>
<p>Welcome to the photo club. Every week members share their best pictures of the city,
its parks and its people. Browse the gallery, like the photos you enjoy and come back
for the monthly exhibition.</p>
<p>This week: long exposures at the harbour, street portraits and a series on rain.</p>
<p><button type="button" id="like">Like this week's photos</button></p>
<h2>Exhibition</h2>
<p>The monthly exhibition opens on the first Friday at the library. Members vote for the
twelve photos shown; the winner's print stays on the wall for a year.</p>
<h2>Workshops</h2>
<p>Beginners meet on Tuesdays for light and composition, the darkroom group on Thursdays.
Bring a camera of any kind: phones are welcome.</p>
<h2>Members' corner</h2>
<p>Share your prints, swap lenses and plan the next photo walk along the river.</p>
</main>
<script type="text/plain" data-cookieguard="analytics" src="/static/a.js"></script>
<script type="text/plain" data-cookieguard="marketing" src="/static/m.js"></script>
<script type="text/plain" data-cookieguard="analytics" src="/static/b.js"></script>
<script type="text/plain" data-cookieguard="preferences" src="/static/p.js"></script>
<script src="/static/site.js"></script>
<footer><p><a href="/_cookieguard/preferences?next=/">Cookie settings</a>
<button type="button" data-cookieguard-action="open">Privacy choices</button></p></footer>
</body></html>"""

SITE_CSS = """
body { font: 1rem/1.5 system-ui, sans-serif; margin: 0; }
header, main, footer { max-width: 48rem; margin: 0 auto; padding: 0 1rem; }
header { border-bottom: 1px solid #ccc; }
"""


def policy(**options: Any) -> Policy:
    settings: dict[str, Any] = {
        "secret_keys": ["browser-test-secret-0123456789"],
        "cookies": {"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"},
        "receipts": None,
        # These pages withdraw consent after their scripts ran and then check focus and
        # state on the same page; the reload on withdrawal has its own tests (test_scripts.py).
        "reload_on_withdrawal": False,
    }
    return Policy(**{**settings, **options})


class ContentSecurityPolicy:
    """Adds a strict CSP header to every HTTP response that has none of its own (pure ASGI,
    like the middleware). A page may send its own, e.g. a nonce-based one; never weaker than
    ``default-src 'self'`` plus the hosts and nonces it names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


@dataclass(frozen=True)
class Page:
    """An extra page of a test site: its HTML and, optionally, its own CSP."""

    html: str
    csp: str | None = None


@dataclass
class Extras:
    """What a test module adds to the site: pages, static files, and a beacon counter."""

    pages: dict[str, Page] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # name -> JavaScript
    beacons: list[str] = field(default_factory=list)  # bodies POSTed to /beacon


def build_app(axe_js: Path, extras: Extras | None = None, **policy_options: Any) -> ASGIApp:
    extras = extras or Extras()

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(TEMPLATE.format(title="Photo club"))

    async def other(request: Request) -> HTMLResponse:
        return HTMLResponse(TEMPLATE.format(title="Gallery"))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "site.css":
            return Response(SITE_CSS, media_type="text/css")
        source = extras.files.get(name, SCRIPTS.get(name))
        if source is None:
            return Response("not found", status_code=404)
        if name.startswith("slow-") or name == "a.js":
            await asyncio.sleep(0.3)
        return Response(source, media_type="text/javascript")

    async def extra(request: Request) -> Response:
        page = extras.pages.get(request.path_params["name"])
        if page is None:
            return Response("not found", status_code=404)
        headers = {"content-security-policy": page.csp} if page.csp else None
        return HTMLResponse(page.html, headers=headers)

    async def beacon(request: Request) -> Response:
        extras.beacons.append((await request.body()).decode())
        return Response(status_code=204)

    async def axe(request: Request) -> FileResponse:
        return FileResponse(axe_js, media_type="text/javascript")

    site = Starlette(
        routes=[
            Route("/", home),
            Route("/other", other),
            Route("/static/{name}", static),
            Route("/page/{name}", extra),
            Route("/beacon", beacon, methods=["POST"]),
            Route("/vendor/axe.min.js", axe),
        ]
    )
    return ContentSecurityPolicy(ConsentMiddleware(site, policy=policy(**policy_options)))


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "cookieguard"


def fetch_axe() -> Path:
    """axe.min.js: ``$COOKIEGUARD_AXE_JS``, the cache, or ``npm pack`` (checked against a hash)."""
    configured = os.environ.get("COOKIEGUARD_AXE_JS")
    if configured:
        return Path(configured)
    target = _cache_dir() / f"axe-core-{AXE_VERSION}.min.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "the accessibility tests need axe-core: install npm (apt-get install npm) or set "
            "COOKIEGUARD_AXE_JS to an axe.min.js"
        )
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--json", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp,
        )
        if result.returncode != 0:
            pytest.fail(f"npm pack axe-core@{AXE_VERSION} failed:\n{result.stderr}")
        tarball = (Path(tmp) / json.loads(result.stdout)[0]["filename"]).read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != AXE_INTEGRITY:
        pytest.fail(f"axe-core {AXE_VERSION} tarball has integrity {digest}, not the pinned one")
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None
        source = member.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(source)
    partial.replace(target)
    return target
