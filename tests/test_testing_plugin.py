"""The QA plugin ``cookieguard.testing``: its helpers directly, its fixtures through pytester."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pytest

from cookieguard import ConsentCodec, Policy
from cookieguard.testing import (
    UNDECLARED,
    assert_no_cookies,
    consent_cookie,
    cookies_by_category,
    seed_consent_cookie,
)

pytest_plugins = ("pytester",)

POLICY = Policy(
    secret_keys=["plugin-test-secret-0123456789"],
    cookies={"likebox": "preferences", "_ga": "analytics", "_ga_*": "analytics"},
    receipts=None,
)


class Jar:
    """Just enough of a Playwright BrowserContext."""

    def __init__(self, *names: str) -> None:
        self.jar: list[Mapping[str, Any]] = [
            {"name": name, "value": "1", "domain": "127.0.0.1", "path": "/"} for name in names
        ]

    def cookies(self, urls: Any = None) -> list[Mapping[str, Any]]:
        return self.jar

    def add_cookies(self, cookies: Any) -> None:
        self.jar.extend(cookies)


def test_consent_cookie_is_signed_and_verifies() -> None:
    cookie = consent_cookie(POLICY, "http://127.0.0.1:8000/x", ["analytics", "necessary"])
    assert cookie["name"] == "cookie_consent"
    assert (cookie["domain"], cookie["path"], cookie["httpOnly"], cookie["secure"]) == (
        "127.0.0.1",
        "/",
        True,
        False,
    )
    verdict = ConsentCodec(POLICY).loads(cookie["value"])
    assert verdict.consent.allows("analytics") and verdict.consent.decided
    assert not verdict.consent.allows("preferences")
    assert consent_cookie(POLICY, "https://example.org", [])["secure"] is True


def test_consent_cookie_refuses_typos_and_relative_urls() -> None:
    with pytest.raises(ValueError, match="analytcs"):
        consent_cookie(POLICY, "http://127.0.0.1", ["analytcs"])
    with pytest.raises(ValueError, match="absolute"):
        consent_cookie(POLICY, "/", [])


def test_seed_cookies_by_category_and_assert_no_cookies() -> None:
    jar = Jar("_ga", "_ga_X1", "likebox", "session")
    consent_id = seed_consent_cookie(jar, POLICY, "http://127.0.0.1:8000", ["preferences"])
    assert consent_id
    grouped = cookies_by_category(jar, POLICY)
    assert {k: [c["name"] for c in v] for k, v in grouped.items()} == {
        "necessary": ["cookie_consent"],
        "preferences": ["likebox"],
        "analytics": ["_ga", "_ga_X1"],
        "marketing": [],
        UNDECLARED: ["session"],
    }
    assert_no_cookies(jar, POLICY, "marketing")
    with pytest.raises(AssertionError, match=r"analytics cookies, found: _ga \(127.0.0.1/\)"):
        assert_no_cookies(jar, POLICY, "analytics")
    with pytest.raises(KeyError):
        assert_no_cookies(jar, POLICY, "analytcs")


def test_importing_the_plugin_does_not_import_playwright(pytester: pytest.Pytester) -> None:
    result = pytester.run(
        sys.executable,
        "-c",
        "import sys, cookieguard.testing.plugin, cookieguard.testing;"
        " print(sorted(m for m in sys.modules if m.startswith('playwright')))",
    )
    assert result.ret == 0
    assert result.outlines[-1] == "[]"


def test_policy_fixture_says_to_override_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(seed_consent):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cookieguard_policy is not configured*conftest.py*"])


def test_seed_consent_fixture_with_overridden_policy(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
import pytest
from cookieguard import Policy

@pytest.fixture(scope="session")
def cookieguard_policy():
    return Policy(secret_keys=["a-secret-of-some-length"], receipts=None)
"""
    )
    pytester.makepyfile(
        """
class Jar:
    added = []
    def add_cookies(self, cookies):
        self.added.extend(cookies)

def test_it(seed_consent):
    jar = Jar()
    assert seed_consent(jar, "http://127.0.0.1:9", ["marketing"])
    assert [c["name"] for c in jar.added] == ["cookie_consent"]
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


LAUNCH_ARGS_TEST = """
def test_it(browser_type_launch_args, pytestconfig):
    print("EXECUTABLE", browser_type_launch_args.get("executable_path"))
"""


def test_system_chromium_option_sets_the_executable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAUNCH_ARGS_TEST)
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:cacheprovider", f"--cookieguard-chromium={sys.executable}"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["cookieguard: browser *", f"*EXECUTABLE {sys.executable}"])


def test_playwright_own_browser_leaves_launch_args_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAUNCH_ARGS_TEST)
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:cacheprovider", "--cookieguard-chromium=playwright"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*EXECUTABLE None"])


def test_a_missing_chromium_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LAUNCH_ARGS_TEST)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--cookieguard-chromium=/no/such/chromium"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cookieguard-chromium*not an executable*"])


def test_without_pytest_playwright_only_the_plain_fixtures_exist(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:playwright")
    assert result.ret == 0
    shown = result.stdout.str()
    assert "seed_consent" in shown and "cookieguard_policy" in shown
    assert "consent_banner" not in shown and "browser_type_launch_args" not in shown
    with_playwright = pytester.runpytest_subprocess("--fixtures").stdout.str()
    assert "consent_banner" in with_playwright
