"""cookieguard.django under Django's own test clients: the sync ``Client`` (WSGI handler) and
the ``AsyncClient`` (ASGI handler), which bypass wsgi.py/asgi.py entirely."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from django.http import HttpResponseBase
from django.test import AsyncClient, Client, override_settings

from tests.django.conftest import ADMIN_PASSWORD, COOKIES, MIDDLEWARE, SECRET

T = TypeVar("T")
BANNER = 'id="cookie-consent"'
TRACKERS = {"_ga", "likebox", "_fbp"}


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def set_cookie_lines(response: HttpResponseBase) -> list[str]:
    """The Set-Cookie values Django's handlers would send, as they would send them."""
    lines = [morsel.OutputString() for morsel in response.cookies.values()]
    by_hand = response.headers.get("Set-Cookie")
    return [*lines, by_hand] if by_hand else lines


def set_names(response: HttpResponseBase) -> set[str]:
    return {line.split("=", 1)[0].strip() for line in set_cookie_lines(response)}


def stored(response: HttpResponseBase) -> set[str]:
    """Names of cookies the response stores (deletions left out)."""
    return {
        line.split("=", 1)[0].strip()
        for line in set_cookie_lines(response)
        if "max-age=0" not in line.lower()
    }


def body(response: HttpResponseBase) -> bytes:
    if getattr(response, "is_async", False):  # an async view's stream, read in a sync test
        return run(abody(response))
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(response.content)  # type: ignore[attr-defined]


async def abody(response: HttpResponseBase) -> bytes:
    if not getattr(response, "is_async", False):
        return body(response)
    if response.streaming:
        return b"".join([c async for c in response.streaming_content])  # type: ignore[attr-defined]
    return bytes(response.content)  # type: ignore[attr-defined]


FORM = "action={}&next=/page"
URLENCODED = "application/x-www-form-urlencoded"


def choose(client: Client, action: str) -> HttpResponseBase:
    response = client.post("/_cookieguard/consent", FORM.format(action), content_type=URLENCODED)
    assert response.status_code == 303, response.content
    return response


async def achoose(client: AsyncClient, action: str) -> HttpResponseBase:
    response = await client.post(
        "/_cookieguard/consent", FORM.format(action), content_type=URLENCODED
    )
    assert response.status_code == 303, response.content
    return response


# -- undecided visitors ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/page", "/async-page", "/streaming", "/async-streaming"])
def test_undecided_visitor_gets_banner_and_no_tracking_cookie_sync_client(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert not stored(response) & TRACKERS, set_cookie_lines(response)
    page = body(response)
    assert BANNER.encode() in page
    assert page.index(BANNER.encode()) < page.lower().rindex(b"</body>")
    assert "Cookie" in response["Vary"]


@pytest.mark.parametrize("path", ["/page", "/async-page", "/streaming", "/async-streaming"])
def test_undecided_visitor_gets_banner_and_no_tracking_cookie_async_client(path: str) -> None:
    async def visit() -> tuple[HttpResponseBase, bytes]:
        response = await AsyncClient().get(path)
        return response, await abody(response)

    response, page = run(visit())
    assert response.status_code == 200
    assert not stored(response) & TRACKERS, set_cookie_lines(response)
    assert BANNER.encode() in page


def test_content_length_follows_the_inserted_banner() -> None:
    # CommonMiddleware (inside ours) sets Content-Length on the page before the banner goes in.
    response = Client().get("/page")
    assert int(response["Content-Length"]) == len(response.content)
    assert len(response.content) > len(b"<!doctype html>") + 100


def test_streamed_files_stay_streaming_without_a_stale_length() -> None:
    response = Client().get("/file")
    assert response.streaming
    assert "Content-Length" not in response
    assert BANNER.encode() in body(response)


def test_cookie_set_by_hand_in_headers_is_gated_too() -> None:
    response = Client().get("/by-hand")
    assert "_ga" not in stored(response)


def test_non_html_responses_are_gated_and_not_edited() -> None:
    response = Client().get("/json")
    assert response.json() == {"ok": True}
    assert "_ga" not in stored(response)
    assert "necessary_undeclared" not in stored(response)  # undeclared: blocked by default


# -- choices -----------------------------------------------------------------------------------


def test_accept_all_lets_every_cookie_through_and_removes_the_banner() -> None:
    client = Client()
    choose(client, "accept_all")
    response = client.get("/page")
    assert {"_ga", "likebox", "_fbp"} <= stored(response)
    assert BANNER.encode() not in response.content


def test_accept_all_async_client() -> None:
    async def journey() -> tuple[HttpResponseBase, bytes]:
        client = AsyncClient()
        await achoose(client, "accept_all")
        response = await client.get("/async-streaming")
        return response, await abody(response)

    response, page = run(journey())
    assert {"_ga", "likebox", "_fbp"} <= stored(response)
    assert BANNER.encode() not in page


def test_reject_all_hides_refused_cookies_from_the_app_and_expires_them() -> None:
    client = Client()
    choose(client, "reject_all")
    client.cookies["_ga"] = "GA1.1.old"
    client.cookies["likebox"] = "harbour"
    client.cookies["sessionid"] = "abc"
    response = client.get("/echo")
    seen = response.json()
    assert seen["decided"] is True and seen["analytics"] is False
    assert "_ga" not in seen["cookies"] and "likebox" not in seen["cookies"]
    assert "sessionid" in seen["cookies"]  # Django's own cookie: declared necessary
    assert "_ga" not in seen["header"]
    deletions = [line for line in set_cookie_lines(response) if "max-age=0" in line.lower()]
    assert {"_ga", "likebox"} <= {line.split("=", 1)[0] for line in deletions}
    assert not stored(response) & TRACKERS


def test_a_choice_expires_refused_cookies_the_browser_already_had() -> None:
    # Set by a script before any choice: the consent endpoint must still see it to expire it.
    client = Client()
    client.cookies["_ga"] = "GA1.1.js"
    response = choose(client, "reject_all")
    deleted = [line for line in set_cookie_lines(response) if line.startswith("_ga=")]
    assert deleted and all("max-age=0" in line.lower() for line in deleted)


def test_a_visitor_whose_every_cookie_is_refused_sends_the_app_none() -> None:
    client = Client()
    client.cookies["_ga"] = "GA1.1.old"
    seen = client.get("/echo").json()
    assert seen["cookies"] == [] and seen["header"] == ""


def test_request_consent_is_published() -> None:
    client = Client()
    assert client.get("/echo").json()["decided"] is False
    choose(client, "accept_all")
    assert client.get("/echo").json()["analytics"] is True


def test_several_deletions_of_one_name_all_reach_the_browser() -> None:
    # On www.shop.example.com a cookie may be host-only or live on three domains: one
    # deletion each.
    client = Client(HTTP_HOST="www.shop.example.com")
    choose(client, "reject_all")
    client.cookies["_ga"] = "GA1.1.old"
    response = client.get("/echo")
    ga = [line for line in set_cookie_lines(response) if line.startswith("_ga=")]
    domains = sorted(re.findall(r"Domain=([^;]+)", " ".join(ga)))
    assert len(ga) == 4, ga
    assert domains == ["example.com", "shop.example.com", "www.shop.example.com"]


def test_endpoints_answer_under_django() -> None:
    client = Client()
    state = client.get("/_cookieguard/consent").json()
    assert state["decided"] is False
    script = client.get("/_cookieguard/banner.js")
    assert script.status_code == 200 and script["Content-Type"].startswith("text/javascript")
    assert int(script["Content-Length"]) == len(script.content)
    assert client.put("/_cookieguard/consent").status_code == 405
    too_big = client.post(
        "/_cookieguard/consent", data=b"x" * 5000, content_type="application/json"
    )
    assert too_big.status_code == 413
    refused = client.post(
        "/_cookieguard/consent",
        FORM.format("accept_all"),
        content_type=URLENCODED,
        HTTP_ORIGIN="https://evil.example",
    )
    assert refused.status_code == 403
    assert client.get("/_cookieguard/nothing").status_code == 404
    assert client.get("/_cookieguard/preferences").status_code == 200


def test_json_consent_and_head_under_the_async_client() -> None:
    async def calls() -> tuple[HttpResponseBase, HttpResponseBase]:
        client = AsyncClient()
        saved = await client.post(
            "/_cookieguard/consent",
            {"action": "save", "categories": ["analytics"]},
            content_type="application/json",
        )
        head = await client.head("/_cookieguard/consent")
        return saved, head

    saved, head = run(calls())
    assert saved.status_code == 200
    assert saved.json()["categories"]["analytics"] is True  # type: ignore[attr-defined]
    assert "cookie_consent" in stored(saved)
    assert head.status_code == 200 and head.content == b""  # type: ignore[attr-defined]


# -- Django's own cookies: admin, CSRF, language, messages -------------------------------------


def admin_login(client: Client) -> HttpResponseBase:
    form = client.get("/admin/login/?next=/admin/")
    assert "csrftoken" in stored(form)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.content)
    assert token is not None
    return client.post(
        "/admin/login/?next=/admin/",
        {
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": token.group(1).decode(),
        },
    )


@pytest.mark.parametrize("choice", ["reject_all", None])
def test_admin_login_with_csrf_works_after_reject_all(choice: str | None) -> None:
    client = Client(enforce_csrf_checks=True)
    if choice:
        choose(client, choice)
    logged_in = admin_login(client)
    assert logged_in.status_code == 302 and logged_in["Location"] == "/admin/"
    assert "sessionid" in stored(logged_in)
    home = client.get("/admin/")
    assert home.status_code == 200
    assert b"Site administration" in home.content


def test_admin_login_after_reject_all_async_client() -> None:
    async def journey() -> tuple[HttpResponseBase, HttpResponseBase]:
        client = AsyncClient(enforce_csrf_checks=True)
        await achoose(client, "reject_all")
        form = await client.get("/admin/login/?next=/admin/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.content)
        assert token is not None
        login = await client.post(
            "/admin/login/?next=/admin/",
            {
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "csrfmiddlewaretoken": token[1].decode(),
            },
        )
        return login, await client.get("/admin/")

    login, home = run(journey())
    assert login.status_code == 302
    assert home.status_code == 200 and b"Site administration" in home.content  # type: ignore[attr-defined]


def test_csrf_failure_still_fails() -> None:
    client = Client(enforce_csrf_checks=True)
    choose(client, "reject_all")
    client.get("/admin/login/")
    response = client.post("/admin/login/", {"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 403


def test_language_and_messages_cookies_pass_after_reject_all() -> None:
    client = Client()
    choose(client, "reject_all")
    language = client.post("/i18n/setlang/", {"language": "de", "next": "/page"})
    assert "django_language" in stored(language)
    flash = client.get("/flash")
    assert "messages" in stored(flash)


def test_policy_may_put_a_framework_cookie_in_another_category() -> None:
    config = {"secret_keys": [SECRET], "cookies": {**COOKIES, "django_language": "preferences"}}
    with override_settings(COOKIEGUARD={**config, "receipts": None}):
        client = Client()
        choose(client, "reject_all")
        response = client.post("/i18n/setlang/", {"language": "de", "next": "/page"})
        assert "django_language" not in stored(response)
        assert "csrftoken" in stored(client.get("/admin/login/"))


def test_banner_speaks_the_pages_language() -> None:
    # Without LocaleMiddleware: the browser's Accept-Language.
    assert "Alle akzeptieren" in Client().get("/page", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    # With it: the language Django chose for the page (here from its language cookie), even
    # when the browser prefers another.
    at = MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware") + 1
    localized = [*MIDDLEWARE[:at], "django.middleware.locale.LocaleMiddleware", *MIDDLEWARE[at:]]
    with override_settings(MIDDLEWARE=localized):
        client = Client()
        client.cookies["django_language"] = "de"
        page = client.get("/page", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Alle akzeptieren" in page and "Tout accepter" not in page


def test_consent_aware_csp_on_html_pages() -> None:
    config = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None, "csp": "enforce"}
    with override_settings(COOKIEGUARD=config):
        client = Client()
        page = client.get("/page")
        assert "default-src" in page["Content-Security-Policy"]
        assert "Content-Security-Policy" not in client.get("/json")


def test_the_csp_of_a_pages_first_view_names_the_embed_it_loads() -> None:
    """Issue 24: the policy is made again once the body's edit met a vendor new to the site,
    so "Load once" can frame YouTube on the very first view."""
    config = {
        "secret_keys": [SECRET],
        "cookies": COOKIES,
        "receipts": None,
        "csp": "enforce",
        "csp_allow": ["first-view.example"],  # a site of its own: nothing met yet
    }
    with override_settings(COOKIEGUARD=config):
        page = Client().get("/video")
        assert b"data-cookieguard-embed" in page.content
        policy = page["Content-Security-Policy"]
        frames = policy.split("frame-src", 1)[1].split(";", 1)[0].split()
        assert any(s in ("www.youtube.com", "*.youtube.com") for s in frames), policy


# -- template tags and middleware order --------------------------------------------------------


def test_template_tags_place_banner_and_assets() -> None:
    config = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None}
    placed_by_hand = {"banner": False, "scripts": False}
    with override_settings(COOKIEGUARD={**config, **placed_by_hand}):
        client = Client()
        page = client.get("/tags").content.decode()
        assert page.count(BANNER) == 1
        assert page.count("banner.js") == 1
        assert page.index("banner.css") < page.index("</head>")
        choose(client, "accept_all")
        decided = client.get("/tags").content.decode()
        assert BANNER not in decided and "banner.js" in decided


def test_gzip_outside_the_middleware_compresses_the_page_with_its_banner() -> None:
    outer = ["django.middleware.gzip.GZipMiddleware", *MIDDLEWARE]
    with override_settings(MIDDLEWARE=outer):
        response = Client().get("/page", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert BANNER.encode() in gzip.decompress(response.content)


@pytest.mark.parametrize(
    ("order", "named"),
    [
        (
            ["django.contrib.sessions.middleware.SessionMiddleware", *MIDDLEWARE],
            "SessionMiddleware",
        ),
    ],
)
def test_an_order_that_would_leak_cookies_fails_at_start_up(order: list[str], named: str) -> None:
    from cookieguard.django import ConfigurationError

    with override_settings(MIDDLEWARE=order), pytest.raises(ConfigurationError, match=named):
        Client().get("/page")


def test_pages_cached_by_djangos_cache_middleware_get_one_banner() -> None:
    cached = [
        MIDDLEWARE[0],
        "django.middleware.cache.UpdateCacheMiddleware",
        *MIDDLEWARE[1:],
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(MIDDLEWARE=cached, CACHES=caches, CACHE_MIDDLEWARE_SECONDS=60):
        pages = [Client().get("/counted").content.decode() for _ in range(3)]
        choose(client := Client(), "accept_all")
        decided = client.get("/counted").content.decode()
    rendered = {re.search(r"Render \d+", page)[0] for page in pages}  # type: ignore[index]
    assert len(rendered) == 1  # the second and third came from the cache
    assert [page.count(BANNER) for page in pages] == [1, 1, 1]
    assert [page.count("banner.js?v=") for page in pages] == [1, 1, 1]
    assert BANNER not in decided and decided.count("banner.js?v=") == 1


def test_cache_middleware_outside_ours_is_refused() -> None:
    from cookieguard.django import ConfigurationError

    outside = ["django.middleware.cache.UpdateCacheMiddleware", *MIDDLEWARE]
    with (
        override_settings(MIDDLEWARE=outside),
        pytest.raises(ConfigurationError, match="UpdateCacheMiddleware"),
    ):
        Client().get("/page")


def test_own_cookie_free_middleware_may_come_first_when_named() -> None:
    order = ["tests.django.outer.CookieFree", *MIDDLEWARE]
    with override_settings(
        MIDDLEWARE=order, COOKIEGUARD_OUTER_MIDDLEWARE=["tests.django.outer.CookieFree"]
    ):
        assert Client().get("/page").status_code == 200


def test_first_choices_are_limited_per_remote_addr() -> None:
    """Issue 23: the Django adapter passes REMOTE_ADDR, so one address over its budget gets
    429 and another address's first choice still goes through."""
    config = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None, "rate_limit": 3}
    with override_settings(COOKIEGUARD=config):
        flood = Client(REMOTE_ADDR="192.0.2.66")
        statuses = [
            flood.post(
                "/_cookieguard/consent", FORM.format("accept_all"), content_type=URLENCODED
            ).status_code
            for _ in range(5)
        ]
        assert statuses == [303, 303, 303, 429, 429]
        choose(Client(REMOTE_ADDR="192.0.2.67"), "accept_all")
