"""Content codings (RFC 9110 section 8.4): a compressed HTML body decoded, bounded, and encoded
back in the same codings.

gzip (``x-gzip``) and deflate come from the standard library; ``br`` needs the ``brotli``
package and ``zstd`` the ``zstandard`` package (``pip install cookieguard[compression]``).
Decoding is bounded: no call produces more than the bytes still allowed, so a small body that
expands to gigabytes (a "zip bomb") costs at most the limit before it is refused. gzip, deflate
and br decode and encode chunk by chunk, so a streamed page stays streamed (each edited chunk
is flushed); zstd bodies are decoded whole.
"""

from __future__ import annotations

import importlib
import io
import zlib
from typing import Any, Protocol

#: The extra that installs the codings the standard library lacks.
EXTRA = "cookieguard[compression]"
#: The most decoded bytes one response may expand to before it is refused (a bomb).
DECODED_LIMIT = 16 * 1024 * 1024
#: The most compressed bytes held to decode a body whole (zstd): the adapters' buffer limit
#: (cookieguard.html._inject.BUFFER_LIMIT).
HELD_LIMIT = 2 * 1024 * 1024
#: The zlib level pages are compressed again at (gzip, deflate).
LEVEL = 1
_MODULES = {"br": "brotli", "zstd": "zstandard"}
_ALIASES = {"x-gzip": "gzip"}


class Uneditable(Exception):
    """An HTML body the gate cannot edit. ``cause`` is one word for logs and statistics
    (``coding``, ``corrupt``, ``limit``, ``charset``, ``error``); the message says more."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


def codings(header: str | None) -> tuple[str, ...]:
    """The codings a ``Content-Encoding`` lists, in the order they were applied (``identity``
    and empty entries dropped, ``x-gzip`` read as ``gzip``)."""
    if not header:
        return ()
    found = []
    for part in header.split(","):
        name = part.strip().lower()
        if name and name != "identity":
            found.append(_ALIASES.get(name, name))
    return tuple(found)


def problem(applied: tuple[str, ...]) -> Uneditable | None:
    """Why bodies in ``applied`` cannot be decoded here (``None``: they can)."""
    for name in applied:
        if name in ("gzip", "deflate"):
            continue
        module = _MODULES.get(name)
        if module is None:
            return Uneditable("coding", f"Content-Encoding {name!r} is not one cookieguard knows")
        if _module(module) is None:
            return Uneditable(
                "coding",
                f"Content-Encoding {name!r} needs the {module!r} package: pip install '{EXTRA}'",
            )
    return None


_loaded: dict[str, Any] = {}


def _module(name: str) -> Any:
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(name)
        except ImportError:
            _loaded[name] = None
    return _loaded[name]


class _Stage(Protocol):
    def feed(self, data: bytes, room: int) -> bytes: ...
    def finish(self, room: int) -> bytes: ...


def _too_much(limit: int) -> Uneditable:
    return Uneditable("limit", f"the body decodes to more than {limit} bytes")


class _Zlib:
    """gzip (several members too) or deflate (zlib-wrapped, or raw as some servers send it)."""

    __slots__ = ("_gzip", "_head", "_inflate")

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._inflate: Any = zlib.decompressobj(31) if gzip else None
        self._head = b""

    def feed(self, data: bytes, room: int) -> bytes:
        if self._inflate is None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return b""
            # RFC 9110 says zlib (RFC 1950); raw deflate is what some servers send instead.
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inflate = zlib.decompressobj(15 if wrapped else -15)
        out: list[bytes] = []
        while data:
            try:
                part = self._inflate.decompress(data, room + 1)
            except zlib.error as exc:
                raise Uneditable("corrupt", f"the compressed body is damaged ({exc})") from None
            room -= len(part)
            if room < 0:
                raise _too_much(room + len(part))
            out.append(part)
            data = b""
            if self._inflate.eof and self._gzip and self._inflate.unused_data:
                data = self._inflate.unused_data  # the next gzip member
                self._inflate = zlib.decompressobj(31)
        return b"".join(out)

    def finish(self, room: int) -> bytes:
        if self._inflate is None or not self._inflate.eof:
            raise Uneditable("corrupt", "the compressed body ends early")
        return b""


class _Brotli:
    __slots__ = ("_decompressor",)

    def __init__(self) -> None:
        self._decompressor = _module("brotli").Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        if not data:
            return b""
        try:
            out: bytes = self._decompressor.process(data, output_buffer_limit=room + 1)
        except Exception as exc:  # brotli.error
            raise Uneditable("corrupt", f"the compressed body is damaged ({exc})") from None
        if len(out) > room or not self._decompressor.can_accept_more_data():
            raise _too_much(room)
        return out

    def finish(self, room: int) -> bytes:
        if not self._decompressor.is_finished():
            raise Uneditable("corrupt", "the compressed body ends early")
        return b""


class _Zstd:
    """zstd bodies are decoded whole: the package offers no bounded incremental decoder."""

    __slots__ = ("_held", "_size")

    def __init__(self) -> None:
        self._held: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes, room: int) -> bytes:
        self._held.append(data)
        self._size += len(data)
        if self._size > HELD_LIMIT:
            raise Uneditable("limit", f"a zstd body over {HELD_LIMIT} bytes is not held")
        return b""

    def finish(self, room: int) -> bytes:
        source = io.BytesIO(b"".join(self._held))
        self._held = []
        try:
            reader = (
                _module("zstandard")
                .ZstdDecompressor()
                .stream_reader(source, read_across_frames=True)
            )
            out: list[bytes] = []
            size = 0
            while size <= room:
                part = reader.read(min(room + 1 - size, 1 << 20))
                if not part:
                    break
                out.append(part)
                size += len(part)
        except Exception as exc:  # zstandard.ZstdError
            raise Uneditable("corrupt", f"the compressed body is damaged ({exc})") from None
        if size > room:
            raise _too_much(room)
        return b"".join(out)


def _stage(name: str) -> _Stage:
    if name in ("gzip", "deflate"):
        return _Zlib(name == "gzip")
    if name == "br":
        return _Brotli()
    return _Zstd()


class Decoder:
    """Undoes ``applied`` (as :func:`codings` lists them), chunk by chunk, never producing more
    than ``limit`` bytes in all (past it: :class:`Uneditable` with cause ``limit``)."""

    __slots__ = ("_room", "_stages")

    def __init__(self, applied: tuple[str, ...], limit: int = DECODED_LIMIT) -> None:
        failure = problem(applied)
        if failure is not None:
            raise failure
        self._stages = [_stage(name) for name in reversed(applied)]
        self._room = limit

    def feed(self, data: bytes) -> bytes:
        for stage in self._stages:
            data = stage.feed(data, self._room)
        self._room -= len(data)
        return data

    def finish(self) -> bytes:
        data = b""
        for stage in self._stages:
            data = stage.feed(data, self._room) + stage.finish(self._room)
            if len(data) > self._room:
                raise _too_much(self._room)
        self._room -= len(data)
        return data

    def whole(self, body: bytes) -> bytes:
        first = self.feed(body)
        return first + self.finish()


class Encoder:
    """Applies ``applied`` again to the edited body. Each :meth:`feed` returns bytes the
    client can decode at once (a sync flush), so a streamed page renders as it arrives."""

    __slots__ = ("_stages",)

    def __init__(self, applied: tuple[str, ...]) -> None:
        self._stages = [_encoder(name) for name in applied]

    def feed(self, data: bytes) -> bytes:
        if not data:
            return b""
        for stage in self._stages:
            data = stage.feed(data)
        return data

    def finish(self) -> bytes:
        data = b""
        for stage in self._stages:
            data = stage.feed(data) + stage.finish() if data else stage.finish()
        return data

    def whole(self, body: bytes) -> bytes:
        data = body
        for stage in self._stages:
            data = stage.whole(data)
        return data


class _ZlibOut:
    __slots__ = ("_deflate",)

    def __init__(self, gzip: bool) -> None:
        # Level 1, nginx's default: several times faster than 6 on a page, a few per cent
        # larger (make bench measures it); a zero mtime: the same page gives the same bytes.
        self._deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, 31 if gzip else 15)

    def feed(self, data: bytes) -> bytes:
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._deflate.flush(zlib.Z_FINISH)

    def whole(self, data: bytes) -> bytes:
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_FINISH)


class _BrotliOut:
    __slots__ = ("_compressor",)

    def __init__(self) -> None:
        self._compressor = _module("brotli").Compressor(quality=4)

    def feed(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data) + self._compressor.flush())

    def finish(self) -> bytes:
        return bytes(self._compressor.finish())

    def whole(self, data: bytes) -> bytes:
        return bytes(self._compressor.process(data) + self._compressor.finish())


class _ZstdOut:
    __slots__ = ("_compressor", "_zstd")

    def __init__(self) -> None:
        self._zstd = _module("zstandard")
        self._compressor = self._zstd.ZstdCompressor(level=3).compressobj()

    def feed(self, data: bytes) -> bytes:
        out = self._compressor.compress(data)
        return bytes(out + self._compressor.flush(self._zstd.COMPRESSOBJ_FLUSH_BLOCK))

    def finish(self) -> bytes:
        return bytes(self._compressor.flush())

    def whole(self, data: bytes) -> bytes:
        return bytes(self._compressor.compress(data) + self._compressor.flush())


class _Out(Protocol):
    def feed(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def whole(self, data: bytes) -> bytes: ...


def _encoder(name: str) -> _Out:
    if name in ("gzip", "deflate"):
        return _ZlibOut(name == "gzip")
    if name == "br":
        return _BrotliOut()
    return _ZstdOut()
