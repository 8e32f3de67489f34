"""The tracker catalogue: which vendor loads from which host and sets which cookies.

Layer rules: plain data in, lookup tables out. This package imports nothing of cookieguard's
but the bounded memo helper (``cookieguard._cache``): it never sees a ``Policy`` (the core
merges a policy's own ``trackers`` over it: ``Policy.catalogue``).
"""

from cookieguard.catalogue._catalogue import (
    Catalogue,
    CookieFact,
    Vendor,
    load_catalogue,
    merge,
    normalise_host,
    split_url,
)

__all__ = [
    "Catalogue",
    "CookieFact",
    "Vendor",
    "load_catalogue",
    "merge",
    "normalise_host",
    "split_url",
]
