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
    print("LAUNCH", sorted(browser_type_launch_args.items()))
"""


@pytest.fixture(autouse=True)
def no_chromium_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable is itself an opt-in: a CI machine that sets it must not skew these."""
    monkeypatch.delenv("COOKIEGUARD_CHROMIUM", raising=False)


def launch_args_of(pytester: pytest.Pytester, *args: str) -> tuple[str, str, str]:
    """(executable, launch arguments, report header) as a project's test run sees them."""
    pytester.makepyfile(LAUNCH_ARGS_TEST)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    out = result.stdout.lines
    # -s prints inline, after the test file's name on the progress line
    executable = next(line for line in out if "EXECUTABLE " in line)
    launch = next(line for line in out if "LAUNCH " in line)
    header = "\n".join(line for line in out if line.startswith("cookieguard:"))
    return executable.split("EXECUTABLE ", 1)[1], launch.split("LAUNCH ", 1)[1], header


def test_a_project_that_does_not_opt_in_keeps_pytest_playwrights_defaults(
    pytester: pytest.Pytester,
) -> None:
    """Issue 9 item 6: installed, the plugin changed an unrelated project's browser."""
    without_plugin = launch_args_of(pytester, "-p", "no:cookieguard")
    with_plugin = launch_args_of(pytester)
    assert with_plugin == without_plugin
    assert with_plugin[0] == "None" and with_plugin[2] == ""


def test_opting_in_on_the_command_line(pytester: pytest.Pytester) -> None:
    from cookieguard.testing._browser import chromium_executable

    executable, _, header = launch_args_of(pytester, "--cookieguard")
    assert executable == str(chromium_executable())
    assert header.startswith("cookieguard: browser ")


def test_system_chromium_option_sets_the_executable(pytester: pytest.Pytester) -> None:
    executable, _, header = launch_args_of(pytester, f"--cookieguard-chromium={sys.executable}")
    assert executable == sys.executable
    assert header == f"cookieguard: browser {sys.executable}"


def test_opting_in_by_ini_option(pytester: pytest.Pytester) -> None:
    from cookieguard.testing._browser import chromium_executable

    pytester.makeini("[pytest]\ncookieguard = true\n")
    assert launch_args_of(pytester)[0] == str(chromium_executable())


def test_choosing_the_browser_by_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\ncookieguard_browser = {sys.executable}\n")
    assert launch_args_of(pytester)[0] == sys.executable


def test_opting_in_by_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOKIEGUARD_CHROMIUM", sys.executable)
    assert launch_args_of(pytester)[0] == sys.executable


def test_playwright_own_browser_leaves_launch_args_alone(pytester: pytest.Pytester) -> None:
    without_plugin = launch_args_of(pytester, "-p", "no:cookieguard")
    assert launch_args_of(pytester, "--cookieguard-chromium=playwright")[:2] == without_plugin[:2]


@pytest.mark.parametrize("how", ["option", "ini", "environment"])
def test_a_missing_chromium_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    pytester.makepyfile(LAUNCH_ARGS_TEST)
    args = ["-p", "no:cacheprovider"]
    if how == "option":
        args.append("--cookieguard-chromium=/no/such/chromium")
    elif how == "ini":
        pytester.makeini("[pytest]\ncookieguard_browser = /no/such/chromium\n")
    else:
        monkeypatch.setenv("COOKIEGUARD_CHROMIUM", "/no/such/chromium")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*'/no/such/chromium' is not an executable*cookieguard_browser*"])


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
