"""Inserting the banner and asset tags into HTML bodies, streaming or whole."""

from __future__ import annotations

from dataclasses import dataclass

_MARK = b"</body"
_TAIL = len(_MARK) - 1
#: Bodies with a Content-Length up to this size are buffered so the length stays exact;
#: larger ones pass through untouched.
BUFFER_LIMIT = 2 * 1024 * 1024


_HTML_TYPES = ("text/html", "application/xhtml+xml")


def maybe_html(content_type: str) -> bool:
    """A cheap first look at a Content-Type: could this body be HTML we edit?"""
    return content_type[:24].lower().startswith(_HTML_TYPES)


def wants_injection(status: int, content_type: str | None, content_encoding: str | None) -> bool:
    """True for a response whose body is HTML we may edit.

    Compressed bodies are left alone (we would have to decompress them), and so are
    responses without a body to show (1xx, 204, 206, 3xx).
    """
    if status < 200 or 300 <= status < 400 or status in (204, 206):
        return False
    if content_encoding and content_encoding.strip().lower() != "identity":
        return False
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in _HTML_TYPES


@dataclass(frozen=True, slots=True)
class Injection:
    """What to insert before ``</body>`` of one response, and the headers that go with it."""

    insert: bytes
    vary: tuple[str, ...] = ()  # header names the body now depends on

    def injector(self) -> BodyInjector:
        return BodyInjector(self.insert)


def _find_mark(data: bytes) -> int:
    """Where the last ``</body`` in ``data`` starts, any letter case; -1 if none.

    The closing tag sits at the end of a page, so searching backwards finds it at once;
    lowering the whole body is the slow fallback for mixed-case tags and fragments.
    """
    at = data.rfind(_MARK)
    if at < 0:
        at = data.rfind(b"</BODY")
        if at < 0:
            at = data.lower().rfind(_MARK)
    return at


class BodyInjector:
    """Streams a body through, inserting bytes before ``</body>``.

    The insert goes before the last ``</body`` of the first chunk that holds one (a
    ``</body`` inside an inline script comes earlier than the real one).

    Chunk boundaries may split the marker, so up to five bytes are held back between
    chunks; nothing else is delayed, so streaming responses stay streaming.
    """

    __slots__ = ("_done", "_insert", "_tail")

    def __init__(self, insert: bytes) -> None:
        self._insert = insert
        self._tail = b""
        self._done = False

    def feed(self, chunk: bytes) -> bytes:
        if self._done:
            return chunk
        data = self._tail + chunk if self._tail else chunk
        at = _find_mark(data)
        if at >= 0:
            self._done = True
            self._tail = b""
            return data[:at] + self._insert + data[at:]
        if len(data) <= _TAIL:
            self._tail = data
            return b""
        self._tail = data[-_TAIL:]
        return data[:-_TAIL]

    def feed_last(self, chunk: bytes) -> bytes:
        """The final chunk plus anything held back: :meth:`feed` and :meth:`finish` in one,
        copying the body once."""
        if self._done:
            return self._tail + chunk if self._tail else chunk
        data = self._tail + chunk if self._tail else chunk
        self._tail = b""
        self._done = True
        at = _find_mark(data)
        if at < 0:
            return data
        view = memoryview(data)
        return b"".join((view[:at], self._insert, view[at:]))

    def stop(self) -> None:
        """Pass everything from now on through unchanged."""
        self._done = True

    def finish(self) -> bytes:
        """The held-back bytes, once the body has ended."""
        tail, self._tail = self._tail, b""
        return tail
