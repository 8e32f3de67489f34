"""Validators follow the body: an HTML page's ``ETag`` differs per consent state.

cookieguard edits a page per visitor (banner, blocked trackers, Consent Mode), so the app's
validator no longer names the bytes the browser stored. Left as it is, a browser that stored a
page while the visitor had accepted revalidates it after "Reject all" with that copy's
``If-None-Match``; the app answers 304 and the browser shows the accepted copy, trackers live
(issue 19 item 2). The rule, written once here and applied by every adapter:

- **Response.** An HTML page's ``ETag`` gets a suffix naming the consent state it was made
  for (``"abc"`` -> ``"abc-cg0123456789"``, weak stays weak, strong stays strong: the edit of
  the same bytes for the same state is the same bytes), as servers that compress on the fly tag
  each variant (RFC 9110 section 8.8.3.3). ``Last-Modified`` is dropped from it: a date cannot
  say which state a copy was made for.
- **Request.** ``If-None-Match`` is translated before the app sees it: a tag carrying the
  current state's suffix becomes the app's own tag (so the app may answer 304, legitimately);
  a tag of another state is removed; on a request for a document (``Sec-Fetch-Dest``, or an
  ``Accept`` naming HTML) a tag with no suffix is removed too (a copy stored before
  cookieguard, or by another state without an ETag of ours). ``If-Modified-Since`` is removed
  from such requests and from any request that carried one of our tags.
- A 304 the app answers to a translated tag gets the state's suffix back on its ``ETag``.
"""

from __future__ import annotations

import re

#: What separates the app's tag from the consent state's suffix.
MARK = "-cg"
_STATE = re.compile(r"-cg([0-9a-f]{10})\"?$")
_BLANKS = re.compile(r"[, \t]*")
#: Sec-Fetch-Dest values of a request that renders HTML (Fetch standard, "destination").
_DOCUMENTS = frozenset({"document", "iframe", "frame", "embed", "object"})


def tagged(etag: str, state: str) -> str:
    """The app's ``etag`` for its body as edited for ``state`` (the suffix inside the
    quotes: ``W/"abc"`` -> ``W/"abc-cg<state>"``)."""
    value = etag.strip()
    if value.endswith('"') and len(value) > 1:
        return f'{value[:-1]}{MARK}{state}"'
    return value + MARK + state


def is_document(sec_fetch_dest: str | None, accept: str | None) -> bool:
    """True for a request that may render an HTML page (a navigation, a frame)."""
    if sec_fetch_dest:
        return sec_fetch_dest.strip().lower() in _DOCUMENTS
    return accept is not None and "text/html" in accept.lower()


def translate(if_none_match: str, state: str, *, document: bool) -> tuple[str | None, bool]:
    """The ``If-None-Match`` the app may see for a visitor in ``state`` (``None``: none at
    all), and whether the request carried a tag of ours (any state's)."""
    kept: list[str] = []
    ours = False
    for tag in _entity_tags(if_none_match):
        if tag == "*":
            kept.append(tag)
            continue
        found = _STATE.search(tag)
        if found is None:
            if not document:
                kept.append(tag)
            continue
        ours = True
        if found.group(1) == state:
            kept.append(tag[: found.start()] + ('"' if tag.endswith('"') else ""))
    return (", ".join(kept) or None), ours


def _entity_tags(value: str) -> list[str]:
    """The entity-tags of an ``If-None-Match`` list (RFC 9110 section 13.1.2): quoted tags may
    hold commas; anything else runs to the next comma. One pass, no backtracking (the value
    comes from the visitor)."""
    tags = []
    at, end = 0, len(value)
    while True:
        at = _BLANKS.match(value, at).end()  # type: ignore[union-attr]  # always matches
        if at >= end:
            break
        quote = at + 2 if value.startswith('W/"', at) else at if value[at] == '"' else -1
        if quote >= 0:
            close = value.find('"', quote + 1)
            stop = end if close < 0 else close + 1
        else:
            comma = value.find(",", at)
            stop = end if comma < 0 else comma
        tags.append(value[at:stop].strip())
        at = stop
    return tags
