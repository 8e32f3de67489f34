"""The nonces a page's own Content-Security-Policy gives its scripts and stylesheets.

An app with a nonce-based policy (flask-talisman's ``content_security_policy_nonce_in``,
django-csp's ``CSP_NONCE``, Google's "strict CSP" with ``'strict-dynamic'``) refuses every
script without the response's nonce: ``'self'`` is ignored under ``'strict-dynamic'``, and
``'unsafe-inline'`` is ignored once a directive has a nonce or a hash (CSP3 section 6.7.3.2,
#allow-all-inline). So every tag cookieguard writes into such a page (the banner's script
and stylesheet, the Consent Mode script) carries the nonce the response declares, and
``banner.js`` gives it to the scripts it restores (read from its own element's ``nonce``
property: browsers hide the attribute, HTML section 2.6.4 "nonce attributes").

The policies come from the response's ``Content-Security-Policy`` and
``Content-Security-Policy-Report-Only`` fields and from a ``<meta http-equiv>`` in the page's
head (report-only is not honoured in ``<meta>``, CSP3 section 3.3). A nonce differs on every
response: it is applied to a plan per response, never kept in a memo key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from cookieguard.html._scanner import attributes
from cookieguard.html._urls import text_of

_ENFORCE = "content-security-policy"
_REPORT = "content-security-policy-report-only"
#: CSP3 section 2.3.1: ``nonce-source = "'nonce-" base64-value "'"``; base64-value is
#: ``1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" )*2( "=" )``. Anything else never reaches a tag.
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_-]+={0,2})'", re.IGNORECASE)
#: Which directive governs a script element and a stylesheet, in order of precedence (CSP3
#: section 6.8.1, "Get the effective directive" and its fallback lists).
_SCRIPT = ("script-src-elem", "script-src", "default-src")
_STYLE = ("style-src-elem", "style-src", "default-src")
#: A meta policy counts only in the head and only for what follows it, so it comes early:
#: the page's first 32 KB are searched.
_HEAD = 1 << 15
_META = re.compile(
    rb"<meta\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*?http-equiv[\t\n\f\r ]*=[\t\n\f\r ]*[\"']?"
    rb"[\t\n\f\r ]*content-security-policy[\t\n\f\r ]*[\"'\t\n\f\r />]"
    rb"(?:[^>\"']|\"[^\"]*\"|'[^']*')*>"
)  # searched in the lower-cased head


class Nonces(NamedTuple):
    """The nonce for our script tags and the one for our stylesheet (``""``: none needed)."""

    script: str = ""
    style: str = ""


def policy_nonces(policies: Iterable[str]) -> Nonces | None:
    """The nonces that serialized policies (header values, possibly comma-joined lists)
    give script and style elements; ``None`` when none of them names one."""
    script = style = ""
    for value in policies:
        if "nonce-" not in value.lower():
            continue
        for policy in value.split(","):
            directives: dict[str, str] = {}
            for directive in policy.split(";"):
                name, _, sources = directive.strip().partition(" ")
                # The first of a repeated directive wins (CSP3 section 2.2.1, step 2.4).
                directives.setdefault(name.lower(), sources)
            script = script or _nonce_for(directives, _SCRIPT)
            style = style or _nonce_for(directives, _STYLE)
    return Nonces(script, style) if script or style else None


def _nonce_for(directives: dict[str, str], order: tuple[str, ...]) -> str:
    for name in order:
        if name in directives:
            m = _NONCE.search(directives[name])
            return m.group(1) if m is not None else ""
    return ""


def header_nonces(headers: Iterable[tuple[str | bytes, str | bytes]]) -> Nonces | None:
    """The nonces a response's CSP header fields declare (header names in any case,
    ``str`` or Latin-1 ``bytes`` as either protocol gives them)."""
    values: list[str] = []
    for name, value in headers:
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if name.strip().lower() in (_ENFORCE, _REPORT):
            values.append(value.decode("latin-1") if isinstance(value, bytes) else value)
    return policy_nonces(values) if values else None


def given_nonce(value: str) -> Nonces | None:
    """One nonce a framework hands over (django-csp's ``request.csp_nonce``) for scripts
    and stylesheets alike, if it is a valid one."""
    return Nonces(value, value) if _NONCE.fullmatch(f"'nonce-{value}'") else None


def meta_nonces(page: bytes) -> Nonces | None:
    """The nonces a ``<meta http-equiv="Content-Security-Policy">`` in the head of ``page``
    (an ASCII-compatible encoding) declares."""
    if not _names_http_equiv(page, _HEAD):
        return None  # (the usual case, found without lowering and copying the head first)
    head = page[:_HEAD]
    lowered = head.lower()  # the same offsets: bytes.lower() maps ASCII letters only
    values: list[str] = []
    for m in _META.finditer(lowered):
        for attr in attributes(head[m.start() : m.end()], 5):
            if attr.name == b"content":
                values.append(text_of(attr.value).decode("utf-8", "replace"))
                break
    return policy_nonces(values) if values else None


# Every policy <meta> has an http-equiv, and every spelling of "http-equiv" a "q" or "Q" (rare
# in markup): found by memchr, each compared lower-cased. Lowering a 32 KB head to look for
# the policy cost more than the whole edit a visitor who accepted everything gets (issue 26).
# Past a few dozen q's the head is searched in one regex pass instead (a bound on the work).
_Q_CANDIDATES = 32
_HTTP_EQUIV = re.compile(rb"http-equiv", re.IGNORECASE)


def _names_http_equiv(page: bytes, end: int) -> bool:
    """True if the first ``end`` bytes of ``page`` hold "http-equiv" in any letter case."""
    seen = 0
    for q in (b"q", b"Q"):
        at = page.find(q, 6, end - 3)
        while at >= 0:
            if page[at - 6 : at + 4].lower() == b"http-equiv":
                return True
            seen += 1
            if seen > _Q_CANDIDATES:
                return _HTTP_EQUIV.search(page, 0, end) is not None
            at = page.find(q, at + 1, end - 3)
    return False


_OPENING = re.compile(rb"<(script|link|style)\b(?![^>]*\bnonce=)", re.IGNORECASE)


def with_nonces(markup: bytes, nonces: Nonces) -> bytes:
    """Our own ``markup`` (tags cookieguard writes, never the page's) with each
    ``<script>`` carrying the script nonce and each ``<link>``/``<style>`` the style nonce."""
    if not markup:
        return markup

    def nonced(m: re.Match[bytes]) -> bytes:
        nonce = nonces.script if m.group(1).lower() == b"script" else nonces.style
        return m.group(0) + b' nonce="' + nonce.encode("ascii") + b'"' if nonce else m.group(0)

    return _OPENING.sub(nonced, markup)
