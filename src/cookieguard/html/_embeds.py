"""Click-to-load placeholders for content embeds (YouTube, Vimeo, Google Maps...).

The markup is a contract with ``static/banner.js``: the root ``.cg-embed`` carries the
categories (``data-cookieguard-embed``), the provider and the original size; the buttons carry
``data-cookieguard-action="load_once"`` / ``"allow"``; the untouched original ``<iframe>``
waits in ``<template data-cookieguard-original>``. No inline style (pages stay valid under a
strict CSP): banner.js sizes the placeholder from the data attributes, banner.css styles it.
Without JavaScript the placeholder still names the provider and links to the settings page.
"""

from __future__ import annotations

import functools
import re
from html import escape
from urllib.parse import quote

from cookieguard.core._i18n import text

_SIZE = re.compile(r"^\s*(\d{1,5}(?:\.\d+)?(?:px|%)?)\s*$")


def size(value: str | None) -> str:
    """A width or height attribute as a safe CSS-ish length (``"560"``, ``"100%"``), or ``""``."""
    if not value:
        return ""
    m = _SIZE.match(value)
    return m.group(1) if m else ""


@functools.lru_cache(maxsize=1024)  # bounded: a page's embeds and paths
def placeholder_parts(
    *,
    provider: str,
    categories: tuple[str, ...],
    labels: tuple[str, ...],
    width: str,
    height: str,
    language: str,
    prefix: str,
    next_path: str,
    allow: bool = True,
) -> tuple[str, str]:
    """The placeholder markup before and after the original iframe (which goes in between).

    ``labels`` are the translated names of ``categories``, in the same order; ``allow=False``
    leaves out the "Always allow" buttons (categories the visitor cannot grant).
    """
    cats = " ".join(categories)
    label = ", ".join(labels)
    name = escape(provider)
    aria = escape(text(language, "embed_label").format(provider=provider))
    message = escape(text(language, "embed_text").format(provider=provider, category=label))
    size_attrs = ""
    if width:
        size_attrs += f' data-cookieguard-width="{escape(width)}"'
    if height:
        size_attrs += f' data-cookieguard-height="{escape(height)}"'
    buttons = "".join(
        f'<button type="button" class="cg-button" data-cookieguard-action="allow"'
        f' data-cookieguard-category="{escape(category)}">'
        f"{escape(text(language, 'embed_allow').format(category=category_label))}</button>"
        for category, category_label in zip(categories, labels, strict=True)
        if allow
    )
    settings = f"{prefix}/preferences?next={quote(next_path, safe='/')}"
    before = (
        f'<div class="cg-embed" data-cookieguard-embed="{escape(cats)}"'
        f' data-cookieguard-provider="{name}"{size_attrs} role="region" aria-label="{aria}">'
        f'<p class="cg-embed-text">{message}</p>'
        f'<div class="cg-actions"><button type="button" class="cg-button"'
        f' data-cookieguard-action="load_once">{escape(text(language, "embed_load_once"))}'
        f"</button>{buttons}</div>"
        f'<a href="{escape(settings)}" data-cookieguard-action="open">'
        f"{escape(text(language, 'settings'))}</a>"
        "<template data-cookieguard-original>"
    )
    return before, "</template></div>"
