"""The benchmark scripts measure what they claim (benchmarks/_apps.py, _inproc.py, _memory.py,
_loopback.py, run.py): pages are new objects per request, "every page different" pages
really differ, hand-written parts of RESULTS.md survive a run, wrk's report is read strictly.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
# The scripts import each other as top-level modules (they run as `python benchmarks/x.py`).
sys.path.insert(0, str(BENCH))

import _apps  # noqa: E402
import _inproc  # noqa: E402
import _loopback  # noqa: E402
import _memory  # noqa: E402
import run  # noqa: E402


@pytest.mark.parametrize("key", sorted(_apps.PAGES))
def test_every_rendering_is_a_new_object_of_the_same_size(key: str) -> None:
    template = _apps.PAGES[key]
    first, second = template.render(), template.render()
    assert first is not second
    if template.gzip:  # sent compressed: the page is what it decodes to
        assert (first != second) == template.unique
        first, second = gzip.decompress(first), gzip.decompress(second)
    assert len(first) == len(second) == template.size
    assert (first != second) == template.unique
    assert first.endswith(b"</body>\n</html>\n")
    # The token sits in the middle of the page, not at an end a prefix/suffix check would skip.
    at = first.index(b'name="csrf_token"')
    assert 0.3 < at / len(first) < 0.7


def test_the_plain_page_is_the_one_piece_page() -> None:
    assert _apps.PAGES["html"].render() == _apps.HTML == _apps.page(20 * 1024, trackers=False)


def _asgi_bodies(app: Any, path: str, n: int) -> list[bytes]:
    bodies: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            bodies.append(message["body"])

    async def main() -> None:
        for _ in range(n):
            scope = _inproc._asgi_scope(path, "session=x")
            await app(scope, receive, send)

    asyncio.run(main())
    return bodies


def _wsgi_bodies(app: Any, path: str, n: int) -> list[bytes]:
    bodies: list[bytes] = []
    for _ in range(n):
        environ = _inproc._environ(path, "session=x")
        environ["wsgi.input"] = io.BytesIO(b"")
        result = app(environ, lambda status, headers, exc_info=None: None)
        bodies += [chunk for chunk in result if chunk]
        getattr(result, "close", lambda: None)()
    return bodies


@pytest.mark.parametrize("api", ["asgi", "wsgi"])
@pytest.mark.parametrize("key", ["html", "html_u", "html100_t"])
def test_the_bare_apps_hand_out_a_new_body_per_request(api: str, key: str) -> None:
    """What the middleware receives: no cache can key on the object or its cached hash."""
    app = _apps.asgi_variant("bare") if api == "asgi" else _apps.wsgi_variant("bare")
    get = _asgi_bodies if api == "asgi" else _wsgi_bodies
    first, second = get(app, _apps.PATHS[key], 2)
    assert first is not second
    assert len(first) == len(second) == _apps.PAGES[key].size
    assert (first != second) == (key == "html_u")


class _Replay:
    """A broken content cache: answers every request with the first body it saw."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.body: bytes | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                if self.body is None:
                    self.body = message["body"]
                message = {**message, "body": self.body}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def test_check_catches_a_middleware_that_serves_a_stale_unique_page() -> None:
    scope = _inproc._asgi_scope(_apps.PATHS["html_u"], "session=x")
    _inproc.check("asgi", {("noop", "html_u"): (_apps.NoopASGI(_apps.starlette_app()), scope)})
    replay = _Replay(_apps.starlette_app())
    with pytest.raises(AssertionError, match="differ=False"):
        _inproc.check("asgi", {("noop", "html_u"): (replay, scope)})


@pytest.mark.parametrize("api", ["asgi", "wsgi"])
def test_cookieguard_passes_the_checks_on_unique_pages(api: str) -> None:
    cases = _inproc.asgi_cases() if api == "asgi" else _inproc.wsgi_cases()
    unique = {key: case for key, case in cases.items() if key[1] in _inproc.UNIQUE_RESPONSES}
    assert len(unique) == len(_inproc.UNIQUE_RESPONSES) * len(_inproc.VARIANTS)
    _inproc.check(api, unique)


def test_memory_mix_is_a_quarter_unique_pages() -> None:
    routes = Counter(
        "/p/N" if path.startswith("/p/") else path for path, _ in map(_memory.route, range(32 * 10))
    )
    assert routes == {
        "/": 190,
        "/unique": 70,
        "/unique-trackers": 10,
        "/trackers": 10,
        "/p/N": 40,
    }
    assert [n for n in range(64) if _memory.route(n)[1]] == [n for n in range(64) if n % 8 == 3]


def test_memory_script_runs_and_names_its_caches() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "_memory.py"), "--requests", "300", "--warmup", "50"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["requests"] == 300
    assert len(report["samples"]) == 10
    assert "decisions" in report["caches"], report["caches"]


_WRK = """Running 1s test @ http://127.0.0.1:8000/page
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.80ms  300.00us   5.00ms   90.00%
    Req/Sec     4.50k   100.00     4.60k    70.00%
  4500 requests in 1.00s, 90.00MB read
{extra}Requests/sec:   4498.12
Transfer/sec:     89.90MB
"""


def test_parse_wrk() -> None:
    assert _loopback.parse_wrk(_WRK.format(extra="")) == (4498.12, 4500)
    with pytest.raises(RuntimeError, match="error responses"):
        _loopback.parse_wrk(_WRK.format(extra="  Non-2xx or 3xx responses: 3\n"))
    socket = "  Socket errors: connect 0, read 2, write 0, timeout 0\n"
    with pytest.raises(RuntimeError, match="socket errors"):
        _loopback.parse_wrk(_WRK.format(extra=socket))
    quiet = "  Socket errors: connect 0, read 0, write 0, timeout 0\n"
    assert _loopback.parse_wrk(_WRK.format(extra=quiet)) == (4498.12, 4500)
    with pytest.raises(RuntimeError, match="no Requests/sec"):
        _loopback.parse_wrk("wrk: connection refused")


def test_unknown_load_tool_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, wrk, python"):
        _loopback.measure("uvicorn", "", seconds=1, rounds=1, tool="ab")


def test_target_rows() -> None:
    assert run.Target("m", 0.05, "d", 0.1).row() == ["m", "0.050", "d", "≤ 0.100", "MET"]
    assert run.Target("m", 0.9, "d", 0.95, at_most=False).row()[-1] == "MISSED"
    assert run.Target("m", None, "not run", 0.1).row()[-1] == "not run"
    assert run.Target("m", 1.5, "d", None).row()[-2:] == ["—", "info"]


_OLD = """# cookieguard benchmark results

## Targets (issue 14: speed on real pages)

| old table |

### Why the targets are missed (by hand)

Analysis of the last run.

## Cookie-path targets (issue 6)

| old cookie table |

## Where the time goes (profiles of the HTML cases)

old profiles

`python benchmarks/run.py` — old footer

## Load

Hand-written load results.

### Load details

more
"""


def test_a_run_keeps_the_hand_written_sections() -> None:
    new = (
        "# cookieguard benchmark results\n\n## Targets (issue 14: speed on real pages)\n\n"
        "| new table |\n\n## Cookie-path targets (issue 6)\n\n| new cookie table |\n\n"
        "## Where the time goes (profiles of the HTML cases)\n\nnew profiles\n\n"
        "`python benchmarks/run.py` — new footer\n"
    )
    out = run.carry_over(_OLD, new)
    assert "old" not in out.replace("Analysis of the last run", "")
    assert out.index("| new table |") < out.index("### Why the targets") < out.index("## Cookie")
    assert out.index("new footer") < out.index("## Load") < out.index("### Load details")
    assert out.endswith("more\n")
    # A run over its own output changes nothing; a first run has nothing to keep.
    assert run.carry_over(out, new) == out
    assert run.carry_over("", new) == new


def test_a_hostile_bodies_run_replaces_only_its_own_section() -> None:
    command = "`python benchmarks/run.py --only-adversarial`"
    block = f"## {run.ADVERSARIAL}\n\n| hostile table |\n\n{command}"
    first = run.replace_section(_OLD, run.ADVERSARIAL, block)
    # Added after the generated sections, before the hand-written ones; nothing else moves.
    assert first.index("old footer") < first.index("| hostile table |") < first.index("## Load")
    assert first.replace(block + "\n\n", "") == _OLD.strip() + "\n"
    again = run.replace_section(first, run.ADVERSARIAL, block.replace("hostile", "newer"))
    assert "| newer table |" in again and "| hostile table |" not in again
    assert again.count(f"## {run.ADVERSARIAL}") == 1
    # A full run writes it too, and keeps what was written by hand under it.
    assert run.ADVERSARIAL in run.GENERATED


def test_the_adversarial_table_measures_every_shape_and_the_normal_page() -> None:
    import _adversarial
    import hostile

    result = _adversarial.measure((4096,), runs=1)
    assert set(result.shapes) == set(hostile.SHAPES)
    assert result.normal[4096] > 0
    text = _adversarial.section(result)
    assert "worst ÷ normal" in text and all(name in text for name in hostile.SHAPES)


def test_servers_and_load_generator_get_different_cpus() -> None:
    assert _loopback.split_cpus({0}) is None
    assert _loopback.split_cpus({3, 1}) == (frozenset({1}), frozenset({3}))
    assert _loopback.split_cpus({0, 1, 2, 3}) == (frozenset({0}), frozenset({1, 2, 3}))


def test_process_cpu_time_counts_every_thread() -> None:
    import os
    import threading

    def spin() -> None:
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass

    before = _loopback.process_cpu_us(os.getpid())
    worker = threading.Thread(target=spin)
    worker.start()
    worker.join()
    assert _loopback.process_cpu_us(os.getpid()) - before >= 30_000  # ticks of 10 ms


def test_cpu_ratio_is_bare_over_guarded_cpu_per_request() -> None:
    lb = _loopback.Loopback("uvicorn", "/", "wrk", 1, [100, 100, 100], [90, 80, 95])
    lb.bare_cpu, lb.guarded_cpu = [100.0, 100.0, 100.0], [125.0, 110.0, 200.0]
    assert lb.ratio == pytest.approx(0.9)
    assert lb.cpu_ratio == pytest.approx(0.8)
