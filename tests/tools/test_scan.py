"""`cookieguard scan` against real servers in a real Chromium: exit codes, findings, outputs.

Two sites built here: one with no consent tool that sets an analytics cookie from the server
and a pixel and a storage key from a script (it must fail the scan), and the same site behind
cookieguard (it must pass). The scanner runs as users run it: `python -m cookieguard scan`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints
import pytest

from cookieguard import Policy
from cookieguard.scan import render_suggestion, scan
from cookieguard.wsgi import ConsentMiddleware
from tests.harness import WaitressServer

KEY = "scan-test-key-0123456789"
HANG = 24  # seconds /hang.js takes: a load event that never comes within the page timeout
SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "scan-report.schema.json"

PAGE = """<!doctype html><html lang="en"><head><title>{title}</title></head><body>
<h1>{title}</h1>
<a href="/about">About</a> <a href="/private">Private</a> <a href="https://elsewhere.example/">x</a>
<script src="/static/app.js"></script>
</body></html>"""

# A first-party script, as sites paste them: writes a Hotjar-style storage key and beacons to a
# catalogued tracker host (the request fails here, but the browser makes it: that is the leak).
APP_JS = b"""
localStorage.setItem('_hjid', 'visitor-1');
document.cookie = '_gid=GA1.2.3; max-age=2592000; path=/';
new Image().src = 'https://www.facebook.com/tr?id=1&ev=PageView';
"""

Start = Callable[..., Iterator[tuple[int, bytes]]]


def leaky_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/robots.txt":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"User-agent: *\nDisallow: /private\n"]
    if path == "/static/app.js":
        start_response("200 OK", [("Content-Type", "text/javascript")])
        return [APP_JS]
    if path == "/broken":
        start_response("500 Internal Server Error", [("Content-Type", "text/html")])
        return [b"<!doctype html><title>oops</title><p>oops</p>"]
    if path == "/away":
        # Another origin for the same server: "localhost" instead of "127.0.0.1".
        port = environ["SERVER_PORT"]
        start_response("302 Found", [("Location", f"http://localhost:{port}/")])
        return [b""]
    if path == "/never":
        # A page whose load event never comes: a script that never finishes loading.
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b'<!doctype html><title>never</title><script src="/hang.js"></script>']
    if path == "/hang.js":
        time.sleep(HANG)
        start_response("200 OK", [("Content-Type", "text/javascript")])
        return [b""]
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Set-Cookie", "_ga=GA1.1.1; Max-Age=31536000; Path=/"),
    ]
    start_response("200 OK", headers)
    return [PAGE.format(title=path.strip("/") or "home").encode()]


def quiet_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The same site without the script (its trackers would need the rewriter to block)."""
    if environ.get("PATH_INFO") == "/static/app.js":
        start_response("200 OK", [("Content-Type", "text/javascript")])
        return [b"/* first-party, tracks nothing */"]
    return leaky_app(environ, start_response)


@pytest.fixture(scope="module")
def leaky_site() -> Iterator[str]:
    with WaitressServer(leaky_app, threads=4) as server:
        yield server.url + "/"


@pytest.fixture(scope="module")
def guarded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    policy = Policy(secret_keys=[KEY], cookies={"_ga": "analytics"}, receipts=None)
    with WaitressServer(ConsentMiddleware(quiet_app, policy), threads=4) as server:
        yield server.url + "/"


def run_scan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cookieguard", "scan", *args],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        check=False,
    )


def test_a_leaky_site_fails_with_every_kind_of_violation(leaky_site: str, tmp_path: Path) -> None:
    report_file = tmp_path / "report.html"
    done = run_scan(leaky_site, "--json", "--html", str(report_file), "--pages", "5")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert not report["clean"]
    seen = {(v["phase"], v["kind"], v["subject"]) for v in report["violations"]}
    for phase in ("before", "reject"):
        assert (phase, "cookie", "_ga") in seen
        assert (phase, "cookie", "_gid") in seen
        assert (phase, "storage", "localStorage _hjid") in seen
        assert (phase, "request", "www.facebook.com") in seen
    # _gid is declared for 24 hours by its vendor and kept 30 days here.
    assert ("before", "lifetime", "_gid") in seen
    before = report["phases"]["before"]
    # robots.txt is honoured; other sites are not crawled.
    assert sorted(before["pages"]) == [leaky_site, leaky_site + "about"]
    by_name = {c["name"]: c for c in before["cookies"]}
    assert by_name["_ga"]["set_by"] == "header"
    assert by_name["_gid"]["set_by"] == "script"
    assert by_name["_ga"]["vendor"] == "Google Analytics"
    assert by_name["_ga"]["party"] == "first"
    pixel = next(r for r in before["requests"] if r["host"] == "www.facebook.com")
    assert pixel["category"] == "marketing" and pixel["vendor"] == "Meta Pixel"
    # What Chromium reports as the cause: for an Image() it names the document, for a script
    # tag the script.
    assert pixel["initiator"] in (pixel["page"], leaky_site + "static/app.js")
    # No banner to click on this site: the phases say so rather than pretending.
    assert report["phases"]["reject"]["clicked"] is None
    assert any("no reject button" in e for e in report["phases"]["reject"]["errors"])
    html = report_file.read_text()
    assert "violation(s)" in html and "data:image/png;base64," in html
    assert "<script" not in html


def test_the_same_site_behind_cookieguard_is_clean(guarded_site: str, tmp_path: Path) -> None:
    policy_file = tmp_path / "cookieguard.toml"
    policy_file.write_text('[cookies]\n_ga = "analytics"\n')
    done = run_scan(guarded_site, "--policy", str(policy_file), "--suggest", "--ignore-robots")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clean: nothing optional before a choice or after Reject all" in done.stdout
    assert "[cookies]" in done.stdout
    assert '"_ga" = "analytics"' in done.stdout  # set after Accept all, declared for the paste
    assert "Accept all" in done.stdout  # the button the accept phase clicked
    # --ignore-robots: the disallowed page is visited too.
    assert "private" in done.stdout or "private" in done.stderr


def test_scan_api_for_qa_suites(guarded_site: str) -> None:
    report = scan([guarded_site], pages=2, depth=1, timeout=120, screenshots=False)
    assert report.clean, report.violations
    accept = report.phases["accept"]
    assert accept.clicked == "Accept all"
    assert any(c.name == "_ga" and c.category == "analytics" for c in accept.cookies)
    assert not any(c.name == "_ga" for c in report.phases["reject"].cookies)
    assert '"_ga" = "analytics"' in render_suggestion(report)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://127.0.0.1:{port}/"], "cannot scan: could not load"),
        (["ftp://example.com/"], "not an http(s) URL"),
    ],
)
def test_exit_2_when_the_site_cannot_be_scanned(args: list[str], message: str) -> None:
    port = _closed_port()
    done = run_scan(*(a.format(port=port) for a in args), "--timeout", "30")
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("\n") <= 2 or "Traceback" not in done.stderr


def test_bad_arguments_are_usage_errors() -> None:
    done = run_scan("http://127.0.0.1:1/", "--pages", "0")
    assert done.returncode == 2
    assert "--pages" in done.stderr


def test_secret_prints_a_fresh_key() -> None:
    first, second = (
        subprocess.run(
            [sys.executable, "-m", "cookieguard", "secret"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    )
    assert first != second and len(first) >= 40
    Policy(secret_keys=[first])  # good enough to sign with


def test_broken_redirected_and_endless_pages_are_reported_not_crashed_on(leaky_site: str) -> None:
    urls = [leaky_site + "broken", leaky_site + "away", leaky_site + "never"]
    # The page timeout must let the other pages load on a loaded machine (with 2 s, a small
    # page could miss it there): "never" hangs well past it instead.
    report = scan(urls, pages=4, depth=0, timeout=240, screenshots=False, page_timeout=HANG / 2)
    before = report.phases["before"]
    errors = "\n".join(before.errors)
    assert leaky_site + "broken: HTTP 500" in errors
    assert leaky_site + "away: redirected off-site to http://localhost:" in errors
    assert leaky_site + "never: " in errors and "Timeout" in errors
    assert before.pages == [leaky_site + "broken"]  # the error page is still scanned


def test_the_pytest_fixture_scans_and_fails_with_the_table(
    cookieguard_scan: Callable[..., Any], guarded_site: str, leaky_site: str
) -> None:
    report = cookieguard_scan(guarded_site, pages=1, depth=0, screenshots=False)
    assert report.clean
    with pytest.raises(AssertionError, match=r"violation\(s\):\n== Before a choice") as failed:
        cookieguard_scan(leaky_site, pages=1, depth=0, screenshots=False)
    assert "[before] cookie _ga" in str(failed.value)


def test_a_catalogued_tracker_is_recorded_even_when_it_looks_first_party() -> None:
    from cookieguard.catalogue._catalogue import load_catalogue
    from cookieguard.scan import _Classifier, _recorded

    classify = _Classifier(None, load_catalogue()).host
    maps = "https://www.google.co.uk/maps/embed?pb=1"
    category, vendor = classify(maps)
    assert (category, vendor) == ("marketing", "Google Maps")
    # A shop under co.uk: by the two-label rule Google's host is "the same site".
    assert _recorded("www.google.co.uk", "shop.example.co.uk", vendor)
    assert not _recorded("cdn.shop.example", "www.shop.example", None)
    assert _recorded("cdn.elsewhere.example", "www.shop.example", None)
