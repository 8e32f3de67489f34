"""Fallback load generator when ``wrk`` is missing: keep-alive GETs for a few seconds.

echo COOKIE | python benchmarks/_pyload.py PORT SECONDS CONNECTIONS [PATH]

prints requests/s and the number of requests.
"""

from __future__ import annotations

import asyncio
import sys
import time


async def client(port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < deadline:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            counts[0] += 1
    finally:
        writer.close()


async def main() -> None:
    port, seconds, connections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/"
    cookie = sys.stdin.read().strip()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\r\n".encode(
        "latin-1"
    )
    counts = [0]
    start = time.monotonic()
    deadline = start + seconds
    await asyncio.gather(*(client(port, request, deadline, counts) for _ in range(connections)))
    print(counts[0] / (time.monotonic() - start), counts[0])


if __name__ == "__main__":
    asyncio.run(main())
