"""The static files cookieguard serves (banner script and style, the Consent Mode script).

Read once from inside the installed package (or the repository's ``static/`` in a checkout).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: The Consent Mode defaults script's file name under ``{prefix}/``.
CONSENT_MODE_SCRIPT = "consent-mode.js"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _static_dir() -> Path:
    # Installed wheels carry the files inside the package; a source checkout has them at the
    # top of the repository.
    packaged = Path(str(resources.files("cookieguard"))) / "static"
    if (packaged / "banner.js").is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "static"


def load_assets() -> dict[str, Asset]:
    """Read the static files once (``banner.js`` and ``banner.css`` for the first paint,
    ``banner-more.js`` and ``banner-more.css`` when first needed, ``consent-mode.js``); a
    missing file is a broken install."""
    folder = _static_dir()
    assets = {}
    for name, kind in (
        ("banner.js", "text/javascript"),
        ("banner.css", "text/css"),
        ("banner-more.js", "text/javascript"),
        ("banner-more.css", "text/css"),
        (CONSENT_MODE_SCRIPT, "text/javascript"),
    ):
        try:
            body = (folder / name).read_bytes()
        except OSError as exc:
            raise RuntimeError(
                f"cookieguard: cannot read {name} from {folder} ({exc}); reinstall the package."
            ) from None
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[name] = Asset(body, kind + "; charset=utf-8", etag)
    return assets
