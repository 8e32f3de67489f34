"""declare_necessary: the framework helpers' shared step (Flask, Django, Starlette)."""

from __future__ import annotations

import logging

import pytest

from cookieguard import Policy
from cookieguard.core._frameworks import declare_necessary

SECRET = "frameworks-secret-0123456789abcdef"


def test_declares_only_what_the_policy_leaves_undeclared(caplog: pytest.LogCaptureFixture) -> None:
    policy = Policy(secret_keys=[SECRET], cookies={"sess*": "preferences"}, receipts=None)
    with caplog.at_level(logging.INFO, logger="cookieguard"):
        declared = declare_necessary(
            policy,
            ["session", "csrftoken", None, "", "bad name", "csrftoken", "cookie_consent"],
            framework="Acme",
        )
    assert declared.category_of("session") == "preferences"  # the glob said otherwise
    assert declared.category_of("csrftoken") == "necessary"
    assert declared.category_of("bad name") is None
    assert [r.getMessage() for r in caplog.records] == [
        "Acme's own cookies csrftoken are declared necessary (session, CSRF, login); declare "
        "them in the policy's cookies to put them in another category."
    ]
    assert declared.secret_keys == policy.secret_keys and policy.category_of("csrftoken") is None


def test_nothing_to_declare_keeps_the_policy_and_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy(secret_keys=[SECRET], cookies={"session": "necessary"}, receipts=None)
    with caplog.at_level(logging.INFO, logger="cookieguard"):
        assert declare_necessary(policy, ["session"], framework="Acme") is policy
        quiet = declare_necessary(policy, ["csrftoken"], framework="Acme", log=False)
    assert quiet.category_of("csrftoken") == "necessary"
    assert not caplog.records
