"""settings.COOKIEGUARD -> Policy, Django's own cookies, and what the integration must not do."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings

from cookieguard import Policy
from cookieguard.core._consent import UNDECIDED
from cookieguard.django import (
    ConfigurationError,
    assets_html,
    banner_html,
    consent,
    framework_cookie_names,
    policy_from_settings,
)
from cookieguard.django._middleware import SetCookie, add_set_cookie, site_from_settings
from tests.django.conftest import COOKIES, MIDDLEWARE, SECRET

BASE = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None}


def test_dict_settings_become_a_policy_with_djangos_cookies_necessary() -> None:
    policy = policy_from_settings()
    assert policy.category_of("_ga") == "analytics"
    for name in ("sessionid", "csrftoken", "django_language", "messages"):
        assert policy.category_of(name) == "necessary", name


def test_without_secret_keys_the_django_secret_key_signs() -> None:
    with override_settings(
        COOKIEGUARD={"cookies": COOKIES, "receipts": None},
        SECRET_KEY="x" * 50,
        SECRET_KEY_FALLBACKS=["y" * 50],
    ):
        assert policy_from_settings().secret_keys == ("x" * 50, "y" * 50)


def test_a_policy_object_is_used_as_it_is_plus_djangos_cookies() -> None:
    given = Policy(secret_keys=[SECRET], cookies={"sessionid": "preferences"}, receipts=None)
    with override_settings(COOKIEGUARD=given):
        policy = policy_from_settings()
    assert policy.category_of("sessionid") == "preferences"  # the site said otherwise
    assert policy.category_of("csrftoken") == "necessary"


def test_names_come_from_settings() -> None:
    with override_settings(
        SESSION_COOKIE_NAME="shop_session", CSRF_USE_SESSIONS=True, LANGUAGE_COOKIE_NAME="lang"
    ):
        assert framework_cookie_names() == ("shop_session", "lang", "messages")
        policy = policy_from_settings()
    assert policy.category_of("shop_session") == "necessary"
    assert policy.category_of("csrftoken") is None  # CSRF lives in the session


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (None, "settings.COOKIEGUARD is missing"),
        (["not", "a", "dict"], "must be a dict of Policy arguments or a Policy"),
        ({**BASE, "cookie": {}}, r"unknown key\(s\) \['cookie'\] \(did you mean 'cookies'\?\)"),
        ({**BASE, "cookies": {"_ga": "stats"}}, "settings.COOKIEGUARD: cookies: '_ga' maps to"),
        ({"cookies": {}, "secret_keys": ["short"]}, "at least 16 characters"),
    ],
)
def test_bad_settings_fail_at_start_up_naming_the_fix(config: object, message: str) -> None:
    with override_settings(COOKIEGUARD=config), pytest.raises(ConfigurationError, match=message):
        Client().get("/page")
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(ConfigurationError, ImproperlyConfigured)


def test_one_start_up_line_for_many_clients(caplog: pytest.LogCaptureFixture) -> None:
    with (
        override_settings(COOKIEGUARD={**BASE, "revision": 2}),
        caplog.at_level(logging.INFO, logger="cookieguard"),
    ):
        for _ in range(3):
            Client().get("/page")
        site = site_from_settings()
    lines = [r.getMessage() for r in caplog.records if "declared necessary" in r.getMessage()]
    assert lines == [
        "Django's own cookies sessionid, csrftoken, django_language, messages are declared "
        "necessary (session, CSRF, login); declare them in the policy's cookies to put them "
        "in another category."
    ]
    assert site.policy.revision == 2
    assert site_from_settings().policy.revision == 1  # override gone: the settings' own site


def test_consent_outside_the_middleware_is_undecided() -> None:
    assert consent(HttpRequest()) is UNDECIDED


def test_helpers_outside_the_middleware_render_nothing() -> None:
    assert banner_html(HttpRequest()) == "" and assets_html(None) == ""


def test_a_set_cookie_django_cannot_express_is_dropped_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = HttpResponse("x")
    add_set_cookie(response, "expires=1; Path=/")  # a reserved word: Morsel refuses the name
    assert not response.cookies
    assert "cannot send Set-Cookie 'expires=1; Path=/'" in caplog.text


def test_set_cookie_values_survive_pickling_for_the_cache_middleware() -> None:
    response = HttpResponse("x")
    raw = "_ga=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
    add_set_cookie(response, raw)
    add_set_cookie(response, raw.replace("Domain=example.com; ", ""))
    copy = pickle.loads(pickle.dumps(response.cookies))
    assert [m.OutputString() for m in copy.values()] == [
        raw,
        raw.replace("Domain=example.com; ", ""),
    ]
    assert isinstance(next(iter(copy.values())), SetCookie)


def test_importing_cookieguard_imports_no_django() -> None:
    code = (
        "import sys, cookieguard, cookieguard.wsgi, cookieguard.asgi, cookieguard.templates;"
        "assert not [m for m in sys.modules if m == 'django' or m.startswith('django.')], "
        "sorted(m for m in sys.modules if m.startswith('django'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- manage.py check ---------------------------------------------------------------------------


def run_checks() -> dict[str, str]:
    from django.core import checks

    return {message.id or "": message.msg for message in checks.run_checks()}


def test_checks_pass_for_a_good_project() -> None:
    assert not [key for key in run_checks() if key.startswith("cookieguard")]


def test_checks_report_bad_settings_and_order_before_any_request() -> None:
    order = ["django.contrib.sessions.middleware.SessionMiddleware", *MIDDLEWARE]
    with override_settings(COOKIEGUARD={"cookies": {"_ga": "stats"}}, MIDDLEWARE=order):
        found = run_checks()
    assert "maps to unknown category 'stats'" in found["cookieguard.E001"]
    assert "SessionMiddleware" in found["cookieguard.E002"]


def test_checks_warn_when_the_middleware_is_missing() -> None:
    with override_settings(MIDDLEWARE=MIDDLEWARE[1:]):
        assert "no cookie is gated" in run_checks()["cookieguard.W001"]
