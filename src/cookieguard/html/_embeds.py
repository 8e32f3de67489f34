"""Click-to-load placeholders for content embeds (YouTube, Vimeo, Google Maps...).

The markup is a contract with ``static/banner.js``: the root ``.cg-embed`` carries the
categories (``data-cookieguard-embed``), the provider and the original size; the buttons carry
``data-cookieguard-action="load_once"`` / ``"allow"``; the untouched original ``<iframe>``
waits in ``<template data-cookieguard-original>``. No inline style (pages stay valid under a
strict CSP): banner.js sizes the placeholder from the data attributes, banner.css styles it.
Without JavaScript the placeholder still works (issue 24 part 6): a link opens the content
on the vendor's site, and each "Always allow" button submits a real form to
``{prefix}/consent`` that grants the category, keeps what the visitor already granted and comes
back to the page (303 to ``next``). "Load once" needs the script, so it starts ``hidden`` and
banner.js shows it. A page that puts the iframe inside its own ``<form>`` gets the allow form
dropped by the HTML parser (forms do not nest): the link and the settings page remain.
"""

from __future__ import annotations

import functools
import re
from html import escape
from urllib.parse import quote, urlsplit

from cookieguard.core._i18n import text

_SIZE = re.compile(r"^\s*(\d{1,5}(?:\.\d+)?(?:px|%)?)\s*$")


def size(value: str | None) -> str:
    """A width or height attribute as a safe CSS-ish length (``"560"``, ``"100%"``), or ``""``."""
    if not value:
        return ""
    m = _SIZE.match(value)
    return m.group(1) if m else ""


def vendor_link(url: str) -> str:
    """The embed's own URL as a link target on the vendor's site: ``https:`` for a
    protocol-relative one; ``""`` for anything that is not an absolute web URL."""
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.hostname else ""


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
    url: str = "",
    granted: tuple[str, ...] = (),
) -> tuple[str, str]:
    """The placeholder markup before and after the original iframe (which goes in between).

    ``labels`` are the translated names of ``categories``, in the same order; ``allow=False``
    leaves out the "Always allow" buttons (categories the visitor cannot grant). ``url`` is
    the embed's source (the no-JavaScript link); ``granted`` what the visitor already allows
    (kept by the allow forms).
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
    keep = "".join(
        f'<input type="hidden" name="category" value="{escape(category)}">'
        for category in sorted(set(granted) - set(categories))
    )
    forms = "".join(
        f'<form method="post" action="{escape(prefix)}/consent">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<input type="hidden" name="action" value="save">'
        f'{keep}<input type="hidden" name="category" value="{escape(category)}">'
        f'<button type="submit" class="cg-button" data-cookieguard-action="allow"'
        f' data-cookieguard-category="{escape(category)}">'
        f"{escape(text(language, 'embed_allow').format(category=category_label))}</button></form>"
        for category, category_label in zip(categories, labels, strict=True)
        if allow
    )
    link = vendor_link(url)
    opener = (
        f'<a href="{escape(link)}" rel="noopener">'
        f"{escape(text(language, 'embed_open').format(provider=provider))}</a> "
        if link
        else ""
    )
    settings = f"{prefix}/preferences?next={quote(next_path, safe='/')}"
    before = (
        f'<div class="cg-embed" data-cookieguard-embed="{escape(cats)}"'
        f' data-cookieguard-provider="{name}"{size_attrs} role="region" aria-label="{aria}">'
        f'<p class="cg-embed-text">{message}</p>'
        f'<div class="cg-actions"><button type="button" class="cg-button"'
        f' data-cookieguard-action="load_once" hidden>{escape(text(language, "embed_load_once"))}'
        f"</button>{forms}</div>"
        f'<p>{opener}<a href="{escape(settings)}" data-cookieguard-action="open">'
        f"{escape(text(language, 'settings'))}</a></p>"
        "<template data-cookieguard-original>"
    )
    return before, "</template></div>"
