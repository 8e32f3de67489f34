"""The differential oracle of the HTML gate: what a page makes a browser fetch, read by a
WHATWG tree builder (html5lib), independently of cookieguard's own scanner and URL code.

:func:`fetches` parses a page twice (scripting on: ``<noscript>`` is raw text; scripting off:
it is markup), walks both trees and returns every URL that an element, attribute or document
state (``<base href>``) would fetch or navigate to on its own, resolved the way the URL
Standard resolves it (against the document's base URL, for a page served over http and over
https: ``https:host`` is absolute on one and relative on the other). :func:`leaks` keeps the
ones on a catalogued host of a vendor the visitor has not granted.

Used only by tests and ``make fuzz``; html5lib is a ``dev`` dependency.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import html5lib  # type: ignore[import-untyped]

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
HTML_NS = ""  # namespaceHTMLElements=False: HTML elements carry no namespace
PAGES = ("http://site.example/dir/page", "https://site.example/dir/page")

#: Attributes that fetch (or navigate a frame or the page) without a click, on any element.
FETCHING = frozenset(
    {
        "src", "srcset", "imagesrcset", "poster", "background", "ping", "formaction",
        "codebase", "archive", "lowsrc", "dynsrc", "manifest", "icon",
    }
)  # fmt: skip
#: HTML elements on which none of those names, nor ``href``, ``xlink:href`` or ``data``, is a URL
#: the element fetches: the standard gives a ``<style>`` and a ``<plaintext>`` none, and
#: Chromium fetches none of them (tests/browser/test_oracle_beliefs.py). An HTML script's URL
#: is its ``src``, judged by its type below.
NO_URL_ATTRIBUTES = frozenset({"style", "plaintext"})
#: HTML elements the UA style sheet hides (``display: none``): their ``style`` attribute's
#: url() is fetched only once author CSS or a script shows the element, with ``display`` or
#: ``all`` (Chromium fetches it then, and not before: tests/browser/test_oracle_beliefs.py).
#: Only these two, where the gate leaves the attribute (it renames the others' anyway).
HIDDEN = frozenset({"style", "script"})
#: What may show a hidden element: a name of ``display`` or ``all``, or of what the oracle
#: cannot read (an imported or linked sheet; a backslash, CSS's and JS's escape).
_SHOWS = re.compile(r"display|(?<![\w-])all(?![\w-])|import|\\", re.IGNORECASE)
#: https://mimesniff.spec.whatwg.org/#javascript-mime-type
JS_TYPES = frozenset(
    {
        "", "module", "application/ecmascript", "application/javascript",
        "application/x-ecmascript", "application/x-javascript", "text/ecmascript",
        "text/javascript", "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
        "text/javascript1.3", "text/javascript1.4", "text/javascript1.5", "text/jscript",
        "text/livescript", "text/x-ecmascript", "text/x-javascript",
    }
)  # fmt: skip
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
# A URL in script or CSS text: "//host..." with any scheme before it (JSON's "\/" read as "/").
_TEXT_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//+([^\s/?#\"'()<>\\,;`]+)([^\s\"'()<>,;`]*)")
_C0_SPACE = "".join(map(chr, range(0x21)))
_FORBIDDEN = frozenset("\t\n\r #/:<>?@[\\]^|%\x7f" + "".join(map(chr, range(0x20))))
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


@dataclass(frozen=True)
class Fetch:
    """One thing the page would load: where in the tree, and the URL."""

    where: str
    url: str
    host: str
    path: str


def host_of(raw: str) -> str:
    """The host of an authority as the URL parser reads it (user info and port dropped,
    percent-decoded, IDNA to ASCII: full-width letters and dots become ASCII)."""
    raw = raw.rsplit("@", 1)[-1]
    if raw.startswith("["):
        return ""
    raw = raw.split(":", 1)[0]
    host = unquote(raw).translate(_DOTS)
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return ""
    host = host.lower()
    if any(c in _FORBIDDEN for c in host):
        return ""  # https://url.spec.whatwg.org/#forbidden-domain-code-point: not a URL
    return host.rstrip(".")


def resolve(value: str, base: tuple[str, str, str]) -> tuple[str, str] | None:
    """``(host, path)`` of ``value`` resolved against ``base`` (scheme, host, path); ``None``
    for a scheme that fetches nothing from a host (``data:``, ``javascript:``...)."""
    value = value.strip(_C0_SPACE)
    value = value.replace("\t", "").replace("\n", "").replace("\r", "")
    scheme, host, _ = base
    m = _SCHEME.match(value)
    if m:
        given = m.group(1).lower()
        if given not in ("http", "https"):
            return None
        rest = value[m.end() :].replace("\\", "/")
        if given == scheme and not rest.startswith("//"):
            # "https:x" and "https:/x" on an https page are relative: a host needs two
            # slashes after the base's own scheme (the relative slash state), any number
            # after another special one (https://url.spec.whatwg.org/#relative-slash-state).
            return host, _path(rest)
        return _authority(rest.lstrip("/"))
    value = value.replace("\\", "/")
    if value.startswith("//"):
        return _authority(value.lstrip("/"))
    return host, _path(value)


def _authority(rest: str) -> tuple[str, str]:
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if 0 <= at < end:
            end = at
    return host_of(rest[:end]), _path(rest[end:])


def _path(rest: str) -> str:
    for stop in "?#":
        rest = rest.split(stop, 1)[0]
    return rest if rest.startswith("/") else "/" + rest


def urls_in_text(text: str) -> Iterator[tuple[str, str]]:
    """``(host, path)`` of the URLs written in script or CSS text."""
    text = text.replace("\\/", "/")
    for m in _TEXT_URL.finditer(text):
        yield host_of(m.group(1)), _path(m.group(2))


def _srcset(value: str) -> list[str]:
    """The URLs of a srcset's image candidates
    (https://html.spec.whatwg.org/#parse-a-srcset-attribute): each is a run of anything but
    white space, commas at its end dropped; what follows it up to a comma outside
    parentheses is its descriptors, no URL. (Every candidate, even one whose descriptors
    the browser rejects: the oracle may see more fetches, never fewer.)"""
    urls: list[str] = []
    at, end = 0, len(value)
    while True:
        while at < end and value[at] in _SRCSET_SKIP:
            at += 1
        if at == end:
            return urls
        start = at
        while at < end and value[at] not in _ASCII_WS:
            at += 1
        url = value[start:at]
        urls.append(url.rstrip(","))
        if url.endswith(","):
            continue
        parenthesised = False
        while at < end and (parenthesised or value[at] != ","):
            parenthesised = (parenthesised or value[at] == "(") and value[at] != ")"
            at += 1


_ASCII_WS = frozenset("\t\n\x0c\r ")
_SRCSET_SKIP = _ASCII_WS | {","}


def _refreshes(attrs: dict[str, str]) -> bool:
    return attrs.get("http-equiv", "").strip().lower() == "refresh"


def _refresh(value: str) -> str | None:
    m = re.match(r"\s*[0-9.]*\s*[;,]?\s*(?:url\s*=\s*)?[\"']?([^\"']*)", value, re.IGNORECASE)
    return m.group(1) if m and m.group(1).strip() else None


def _local(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "#", ""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return "{" + ns + "}", name
    return HTML_NS, tag


def _attr_name(key: str) -> str:
    if key.startswith(XLINK):
        return "xlink:" + key[len(XLINK) :]
    if key.startswith("{"):
        return key.split("}", 1)[1]
    return key.lower()


def fetches(page: bytes | str) -> list[Fetch]:
    """Every URL the page would fetch on its own, under both scripting settings and both
    page schemes (see the module docstring)."""
    text = page.decode("utf-8", "replace") if isinstance(page, bytes) else page
    found: list[Fetch] = []
    for scripting in (True, False):
        parser = html5lib.HTMLParser(namespaceHTMLElements=False)
        root = parser.parse(text, scripting=scripting)
        for page_url in PAGES:
            found.extend(_walk(root, page_url, scripting))
    return found


def holds(page: bytes, element_id: str, *, scripting: bool) -> bool:
    """Whether the page's tree holds an HTML ``<div>`` with this id: an insert that the
    tree builder reads as an element (not as text, an attribute, or dropped)."""
    parser = html5lib.HTMLParser(namespaceHTMLElements=False)
    root = parser.parse(page.decode("utf-8", "replace"), scripting=scripting)
    return any(div.get("id") == element_id for div in root.iter("div"))


def _walk(root: Any, page_url: str, scripting: bool) -> Iterator[Fetch]:
    scheme, _, rest = page_url.partition("://")
    host, _, path = rest.partition("/")
    base = (scheme, host, "/" + path)
    elements = list(_elements(root))
    for element in elements:
        if element.tag == "base" and element.get("href") is not None:
            where = resolve(element.get("href"), base)
            if where is not None:
                yield Fetch("<base href>", element.get("href"), *where)
                base = (base[0], *where)
            break

    def check(where: str, value: str) -> Iterator[Fetch]:
        target = resolve(value, base)
        if target is not None:
            yield Fetch(where, value, *target)

    mode = "scripting on" if scripting else "scripting off"
    may_show = functools.cache(lambda: _may_show(root))  # (read once, if a hidden one asks)
    for element in elements:
        ns, name = _local(element.tag)
        attrs = {_attr_name(k): v for k, v in element.attrib.items()}
        label = f"<{name}> ({mode}, {base[0]})"
        for key, value in attrs.items():
            if key in FETCHING:
                if name == "script" or name in NO_URL_ATTRIBUTES or ns != HTML_NS:
                    continue  # an HTML script is judged below, by its type; a <style> has
                    # no src, background... (fuzz 9711/10015), a <plaintext> none (fuzz
                    # 2030/673709), an SVG or MathML element none (a <video> there is none)
                if key in ("srcset", "imagesrcset"):
                    for url in _srcset(value):
                        yield from check(f"{label} {key}", url)
                else:
                    yield from check(f"{label} {key}", value)
            elif key in ("href", "xlink:href"):
                if name in ("a", "area") and ns in (HTML_NS, SVG):
                    continue  # navigates on a click only
                if name == "script" and ns == HTML_NS:
                    continue  # an HTML script's URL is its src (an SVG script's, its href)
                if name == "style" or (name in NO_URL_ATTRIBUTES and ns == HTML_NS):
                    continue  # a style has none, HTML or SVG (Chromium: fuzz 2030/307771)
                yield from check(f"{label} {key}", value)
            elif key == "data" and name in ("object", "embed") and ns == HTML_NS:
                yield from check(f"{label} data", value)
            elif key == "style" and name in HIDDEN and ns == HTML_NS and not may_show():
                continue  # never rendered, on a page that shows none (fuzz 2030/529439)
            elif (key.startswith("on") and len(key) > 2) or key == "style":  # ("on": no event)
                for host_, path_ in urls_in_text(value):
                    yield Fetch(f"{label} {key}", value[:80], host_, path_)
            elif key == "srcdoc" and name == "iframe" and ns == HTML_NS:  # (an iframe's only)
                for inner in fetches(value):
                    yield Fetch(
                        f"{label} srcdoc > {inner.where}", inner.url, inner.host, inner.path
                    )
            elif key == "content" and name == "meta" and _refreshes(attrs):
                target = _refresh(value)
                if target is not None:
                    yield from check(f"{label} refresh", target)
        if name == "script":
            kind = attrs.get("type")
            kind = "" if kind is None else kind.strip().lower()
            runs = kind in JS_TYPES
            if ns == HTML_NS and "src" in attrs:
                # An import map or speculation rules with a src fire "error" and read
                # nothing (https://html.spec.whatwg.org/#prepare-the-script-element).
                if runs:
                    yield from check(f"{label} src", attrs["src"])
            elif ns != HTML_NS and (attrs.get("href") or attrs.get("xlink:href")):
                pass  # an SVG script with an href loads it (judged above), not its text
            elif runs or (ns == HTML_NS and kind in ("importmap", "speculationrules")):
                for host_, path_ in urls_in_text(_text(element)):
                    yield Fetch(f"{label} {kind or 'inline'} text", "", host_, path_)
        elif name == "style":
            kind = attrs.get("type", "").strip().lower()
            if kind in ("", "text/css"):
                for host_, path_ in urls_in_text(_text(element)):
                    yield Fetch(f"{label} text", "", host_, path_)


def _may_show(root: Any) -> bool:
    """Whether the page may show an element the UA style sheet hides: any text or attribute
    value in its tree (style sheets, scripts, event handlers, ``style`` attributes, a
    ``<link>``'s ``rel``) names ``display``, ``all``, an import, or holds a backslash; or a
    ``<link>`` may load a style sheet."""
    for node in root.iter():
        for text in (node.text, node.tail, *node.attrib.values()):
            if text and _SHOWS.search(text):
                return True
        if node.tag == "link" and "stylesheet" in node.get("rel", "").lower():
            return True
    return False


def _text(element: Any) -> str:
    """An element's child text content: its own text nodes, not its children's or comments'
    (https://dom.spec.whatwg.org/#concept-child-text-content, what a script runs and a style
    sheet is read from)."""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def _elements(root: Any) -> Iterator[Any]:
    """Every element in document order, except the originals cookieguard's click-to-load
    placeholders keep in an inert ``<template data-cookieguard-original>``."""
    stack = [root]
    while stack:
        element = stack.pop()
        if element.tag == "template" and element.get("data-cookieguard-original") is not None:
            continue
        if isinstance(element.tag, str):
            yield element
        stack.extend(reversed(list(element)))


def leaks(page: bytes, blocked: Any) -> list[Fetch]:
    """The fetches of ``page`` on a host of a vendor in ``blocked`` (a callable taking
    ``(host, path)`` and returning a truthy vendor or None)."""
    return [f for f in fetches(page) if f.host and blocked(f.host, f.path)]
