"""`cookieguard scan --region`: a site scanned as seen from a region (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cookieguard import Policy
from cookieguard.scan import scan
from cookieguard.testing import region_headers
from cookieguard.wsgi import ConsentMiddleware
from tests.harness import WaitressServer
from tests.tools.test_scan import KEY, quiet_app, run_scan

GEO = Policy(
    secret_keys=[KEY], cookies={"_ga": "analytics"}, receipts=None, region_header="cloudflare"
)


@pytest.fixture(scope="module")
def geo_site() -> Iterator[str]:
    with WaitressServer(ConsentMiddleware(quiet_app, GEO), threads=4) as server:
        yield server.url + "/"


@pytest.mark.parametrize(("region", "sets_ga"), [("US-CA", True), ("DE", False)])
def test_a_scan_sees_the_site_as_a_visitor_from_the_region(
    geo_site: str, region: str, sets_ga: bool
) -> None:
    report = scan(
        [geo_site],
        pages=1,
        depth=0,
        timeout=120,
        screenshots=False,
        headers=region_headers(GEO, region),
    )
    before = {c.name for c in report.phases["before"].cookies}
    assert ("_ga" in before) is sets_ga


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region", "US-CA"], "--region needs --region-header NAME or a --policy"),
        (["--region-header", "cloudflare"], "--region-header needs --region CODE"),
        (["--region", "usa", "--region-header", "cloudflare"], "'usa' is not a region code"),
        (["--region", "DE", "--region-header", "X Country"], "region_header must be None"),
    ],
)
def test_region_arguments_are_checked(args: list[str], message: str) -> None:
    done = run_scan("http://127.0.0.1:1/", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_the_policy_names_the_header_to_send(tmp_path: Path) -> None:
    toml = tmp_path / "cookieguard.toml"
    toml.write_text('region_header = "vercel"\n')
    # A closed port: the scan fails (2), but only after the arguments were accepted.
    done = run_scan("http://127.0.0.1:1/", "--policy", str(toml), "--region", "US-CA")
    assert done.returncode == 2
    assert "--region" not in done.stderr
