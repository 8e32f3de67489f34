"""Lumen Stock, the shop every example serves (Flask, Starlette, Django): its photos, what its
pages show and the cookies it sets, written once and free of any framework; each example
adapts it to its own requests and responses. The consent part at the bottom is the cookieguard
configuration the three examples share (their own block at the bottom of each app adds it).

The examples put this folder on ``sys.path`` (they run as scripts: ``python
examples/flask_app/app.py``), so this is ``import lumen``.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from cookieguard import DEFAULT_REGIONS

SITE = Path(__file__).resolve().parent  # templates, static files and photos.json
PHOTOS: dict[str, dict[str, str]] = json.loads((SITE / "photos.json").read_text("utf-8"))
ONE_YEAR = 365 * 24 * 3600


def liked_photos(likebox: str) -> list[str]:
    """The photos a ``likebox`` cookie value names (``harbour.dunes``)."""
    return [slug for slug in likebox.split(".") if slug in PHOTOS]


def page_context(*, liked: str | None, likebox: str, here: str) -> dict[str, Any]:
    """What every page's template gets: the photos, the visitor's likes (the one just made,
    ``?liked=``, shows on this page, cookie or not) and the page's own path."""
    liked = liked if liked in PHOTOS else None
    box = liked_photos(likebox)
    if liked and liked not in box:
        box.append(liked)
    return {"photos": PHOTOS, "likebox": box, "liked": liked, "here": here}


def tracking_cookies() -> list[tuple[str, str, int]]:
    """``(name, value, max_age)``: analytics and marketing, the way many sites set them: on
    every page, unconditionally."""
    return [
        ("_ga", f"GA1.1.{secrets.randbelow(10**9)}", 2 * ONE_YEAR),
        ("_fbp", f"fb.1.{secrets.randbelow(10**9)}", 90 * 24 * 3600),
    ]


def after_like(slug: str, *, likebox: str, back: str) -> tuple[str, str]:
    """Where a like of ``slug`` (a known photo) redirects, back to a path of this site only,
    and the new ``likebox`` value."""
    box = liked_photos(likebox)
    if slug not in box:
        box.append(slug)
    if not back.startswith("/") or back.startswith(("//", "/\\")):
        back = "/"
    return f"{back}?liked={slug}", ".".join(box)


# -- cookieguard: the consent settings every example uses ----------------------------------

DEV_SECRET = "dev-only-insecure-secret-do-not-deploy"
#: Every cookie the shop sets, with what the cookie declaration on /privacy says about it.
COOKIES: dict[str, str | dict[str, object]] = {
    "likebox": {
        "category": "preferences",
        "provider": "this site",
        "max_age": ONE_YEAR,
        "purpose": {
            "en": "Remembers the photos you liked.",
            "de": "Speichert die Fotos, die Ihnen gefallen.",
            "fr": "Retient les photos que vous avez aimées.",
        },
    },
    "_ga": "analytics",
    "_ga_js": "analytics",
    "_fbp": "marketing",
}


def secret() -> str:
    """``$COOKIEGUARD_SECRET``; else a public development secret, and a loud warning."""
    configured = os.environ.get("COOKIEGUARD_SECRET")
    if configured:
        return configured
    print(
        "\n" + "!" * 78 + "\n!! COOKIEGUARD_SECRET is not set: signing consent with a PUBLIC"
        " development\n!! secret. Anyone can forge consent. Set COOKIEGUARD_SECRET before"
        " deploying.\n" + "!" * 78 + "\n",
        file=sys.stderr,
        flush=True,
    )
    return DEV_SECRET


def policy_settings(example: str) -> dict[str, Any]:
    """The ``Policy`` keyword arguments of the example named ``example``."""
    return {
        "secret_keys": [secret()],
        "cookies": COOKIES,
        "privacy_url": "/privacy",
        # Regions (docs/regions.md): the visitor's region, from the header Cloudflare sets,
        # picks the rule: opt-in banner in the EEA, UK and Switzerland, "Do Not Sell or Share"
        # in the US states with privacy laws, opt-in anywhere else. Only name a header your CDN
        # sets (and overwrites); locally, send CF-IPCountry / CF-Region-Code yourself.
        "region_header": "cloudflare",
        "regions": {**DEFAULT_REGIONS, "JP": "notice"},
        "unknown_region": "opt-in",
        "receipts": os.environ.get("COOKIEGUARD_RECEIPTS")
        or str(Path(tempfile.gettempdir()) / f"lumen-stock-{example}-receipts.sqlite3"),
    }
