"""``{% load cookieguard %}``: place the banner and its assets yourself.

Switch the middleware's injection off with ``COOKIEGUARD = {..., "banner": False, "scripts":
False}``, then write ``{% cookieguard_banner %}{% cookieguard_assets %}`` before ``</body>``.
Both need ``request`` in the context (``django.template.context_processors.request``).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from cookieguard.django import assets_html, banner_html

register = template.Library()


@register.simple_tag(takes_context=True)
def cookieguard_banner(context: dict[str, Any]) -> SafeString:
    """The banner markup for an undecided visitor; nothing once they chose."""
    return banner_html(context.get("request"))


@register.simple_tag(takes_context=True)
def cookieguard_assets(context: dict[str, Any]) -> SafeString:
    """The stylesheet and ``banner.js`` tags."""
    return assets_html(context.get("request"))
