"""Consent signals to vendors: Google Consent Mode v2, Microsoft UET, Meta Pixel."""

from __future__ import annotations

from cookieguard._consent import Consent
from cookieguard._policy import Policy


def head_tags(policy: Policy, consent: Consent) -> str:
    """Markup placed before the page's first script (empty when no vendor signal is on)."""
    return ""
