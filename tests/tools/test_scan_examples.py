"""`cookieguard scan` against the example sites: clean behind cookieguard, caught without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, ExampleServer

ROOT = Path(__file__).resolve().parents[2]


def scan(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cookieguard", "scan", url, "--json", "--pages", "4", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )


@pytest.fixture(params=sorted(EXAMPLES))
def wrapped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExampleServer]:
    server = ExampleServer(request.param, tmp_path)
    server.wait_until_ready()
    yield server
    server.stop()


@pytest.fixture(params=["flask", "starlette"])
def bare(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ExampleServer]:
    argv = [sys.executable, str(ROOT / "tests" / "bare_example.py"), request.param]
    server = ExampleServer(request.param, tmp_path, argv=argv)
    server.wait_until_ready()
    yield server
    server.stop()


def test_every_example_scans_clean(wrapped: ExampleServer) -> None:
    done = scan(wrapped.url + "/")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["clean"] and report["violations"] == []
    before = report["phases"]["before"]
    assert len(before["pages"]) >= 3  # home, photos, privacy: the crawl found the site
    assert {c["name"] for c in before["cookies"]} <= {"csrftoken", "sessionid"}
    accept = {c["name"] for c in report["phases"]["accept"]["cookies"]}
    assert {"cookie_consent", "_ga", "_fbp"} <= accept  # the site does set them, with consent
    reject = {c["name"] for c in report["phases"]["reject"]["cookies"]}
    assert reject <= {"cookie_consent", "csrftoken", "sessionid"}


def test_the_same_site_without_cookieguard_is_caught(bare: ExampleServer) -> None:
    done = scan(bare.url + "/")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    leaked = {(v["phase"], v["kind"], v["subject"]) for v in report["violations"]}
    for phase in ("before", "reject"):
        assert (phase, "cookie", "_ga") in leaked
        assert (phase, "cookie", "_fbp") in leaked
        assert (phase, "request", "www.googletagmanager.com") in leaked  # the gtag.js snippet
