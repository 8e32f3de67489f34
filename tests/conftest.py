"""Lanes of the suite: tests that need a browser, PostgreSQL, real servers or a fresh install,
or run long slices, are marked (``browser``, ``postgres``, ``servers``, ``install``, ``slow``)
so `make check` can leave them out.

Marks come from where a test lives and what it uses, so a new test lands in the right lane
without remembering to mark it; a module may also mark itself (``pytestmark``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.slices import FULL

# Property tests are judged by what they find, never by the clock: Hypothesis's default
# 200 ms deadline per example and its too_slow health check fail a test when the machine is
# busy (test_chunking's insert-only test failed so, at a load of 15 on 2 CPUs, 444 ms for an
# example that then took 0.25 ms). A test's own settings still win; these are the defaults.
settings.register_profile(
    "cookieguard", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("cookieguard")

HERE = Path(__file__).resolve().parent

# Folders whose every test drives a real Chromium.
_BROWSER_FOLDERS = ("browser", "e2e", "django/browser")
# Fixtures that mean a real Chromium, a PostgreSQL cluster, or a server on a socket.
_BROWSER_FIXTURES = frozenset(
    {"page", "context", "new_context", "browser", "browser_type", "playwright", "visitor"}
    | {"consent_banner", "cookieguard_scan"}  # the QA plugin's (cookieguard.testing)
)
_POSTGRES_FIXTURES = frozenset({"pg_installed", "pg_cluster", "pg_url"})
_SERVER_FIXTURES = frozenset({"server", "example", "live_server"})
# Modules that launch Chromium or servers themselves (no fixture says so), or run long
# fuzz and concurrency slices: measured with `pytest --durations`, kept out of `make check`.
_MODULE_MARKS = {
    "tools/test_scan.py": ("browser", "servers"),
    "tools/test_scan_examples.py": ("browser", "servers"),
    "tools/test_scan_regions.py": ("browser", "servers"),
    "tools/test_testing_plugin.py": ("browser",),
    "tools/test_fuzz.py": ("slow",),
    "adapters/test_real_servers.py": ("servers",),
    "adapters/test_hostile_requests.py": ("servers",),
    "django/test_servers.py": ("servers",),
    "test_docs.py": ("slow",),
    "receipts/test_stores.py": ("slow",),
    "receipts/test_load.py": ("slow",),
}
# Single tests that are long slices, by ``module::function``.
_TEST_MARKS = {
    "html_editing/test_gate_markup.py::test_a_slice_of_the_gate_fuzzer_finds_nothing": ("slow",),
}
# Long runs only `make fuzz` runs (its slow lane, COOKIEGUARD_FULL_SLICES=1): `make test`
# leaves them out (pytest counts them as deselected). By module, or by test as pytest names
# it (``module::test[params]``). Only runs whose behaviour other tests in `make test` cover;
# never the test of a past defect. docs/development.md (Test lanes) says why each is here.
_FUZZ_ONLY = {
    # A full `cookieguard scan` (three Chromiums, four pages) of each example site: make test
    # scans the Django one wrapped and the Flask one bare (the control); the scanner itself is
    # tests/tools/test_scan.py, each example's behaviour the journeys of tests/e2e.
    "tools/test_scan_examples.py::test_every_example_scans_clean[flask]",
    "tools/test_scan_examples.py::test_every_example_scans_clean[starlette]",
    "tools/test_scan_examples.py::test_the_same_site_without_cookieguard_is_caught[starlette]",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    left: list[pytest.Item] = []
    for item in items:
        try:
            where = item.path.resolve().relative_to(HERE).as_posix()
        except ValueError:
            continue
        if where in _FUZZ_ONLY or f"{where}::{item.name}" in _FUZZ_ONLY:
            item.add_marker(pytest.mark.slow)
            if not FULL:
                left.append(item)
                continue
        used = frozenset(getattr(item, "fixturenames", ()))
        function = f"{where}::{getattr(item, 'originalname', item.name)}"
        for mark in (*_MODULE_MARKS.get(where, ()), *_TEST_MARKS.get(function, ())):
            item.add_marker(getattr(pytest.mark, mark))
        # A property test (hypothesis) searches as a fuzz slice does: a hundred examples
        # each, a quarter of the unit tests' time in 15 tests. They run in `make test`.
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.slow)
        if where.startswith(_BROWSER_FOLDERS) or used & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        postgres_param = any("postgres" in str(value) for value in params.values())
        if used & _POSTGRES_FIXTURES or ("store_url" in used and postgres_param):
            item.add_marker(pytest.mark.postgres)
        if used & _SERVER_FIXTURES:
            item.add_marker(pytest.mark.servers)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = [item for item in items if item not in left]


# A test that starts Chromium without the ``browser`` mark costs `make check` seconds per
# launch, unnoticed (tools/test_scan_regions.py did): such a test fails at teardown, naming
# the mark. An audit hook (PEP 578) sees Playwright's driver start however it is reached (a
# fixture, the scan API, a helper); it only takes note, since raising inside Playwright's
# event loop breaks pytest's report. `cookieguard scan` run as a subprocess is not seen,
# hence the module list above.
_unmarked: dict[str, bool] = {}  # the running test's id -> it started Playwright


def _note_unmarked_playwright(event: str, args: tuple[Any, ...]) -> None:
    if event == "subprocess.Popen" and _unmarked:
        executable, argv = args[0], args[1]
        command = " ".join(map(str, argv)) if isinstance(argv, list | tuple) else str(argv)
        if "playwright" in f"{executable} {command}":
            for nodeid in _unmarked:
                _unmarked[nodeid] = True


sys.addaudithook(_note_unmarked_playwright)


@pytest.fixture(autouse=True)
def _browser_lane(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("browser") is not None:
        yield
        return
    _unmarked[request.node.nodeid] = False
    try:
        yield
    finally:
        started = _unmarked.pop(request.node.nodeid)
    if started:
        pytest.fail(
            f"{request.node.nodeid} starts Playwright but is not marked `browser`, so it runs "
            "in `make check`: use a browser fixture, or list its module in _MODULE_MARKS in "
            "tests/conftest.py"
        )


#: The package logger's level before any test ran (read when pytest loads this conftest).
_LOGGER_LEVEL = logging.getLogger("cookieguard").level


@pytest.fixture(autouse=True)
def _cookieguard_logger_level() -> Iterator[None]:
    """Give the package logger its level from before the session after every test: the fuzz
    campaigns (fuzz/) quiet it for their worker processes, and a slice run in this process
    must not silence the log lines later tests read (a test passed alone and failed after
    tests/html_editing). The level from before the session, not from before the test: a
    module-scoped fixture that builds a ``fuzz.gate.Campaign`` quiets it before this fixture
    starts (tests/html_editing/test_insert_point.py), and every later test lost its logs."""
    logger = logging.getLogger("cookieguard")
    yield
    logger.setLevel(_LOGGER_LEVEL)
