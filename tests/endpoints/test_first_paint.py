"""A lighter first paint (issue 24 part 5), through both adapters: the page's banner.js tag
carries the consent state it was rendered for (banner.js then asks nothing per page view), the
storage rules are a cacheable file, and the lazily loaded assets are served like the others."""

from __future__ import annotations

import json
import re

import pytest

from tests.harness import Driver, drivers, make_policy

JSON = [("Content-Type", "application/json")]


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return drivers(make_policy(storage={"acme_*": "analytics"}))[request.param]


def tag(html: str) -> str:
    found = re.search(r"<script [^>]*/banner\.js[^>]*>", html)
    assert found is not None, html[-600:]
    return found.group()


def choose(driver: Driver, body: dict[str, object]) -> str:
    reply = driver.request(
        "POST", "/_cookieguard/consent", headers=JSON, body=json.dumps(body).encode()
    )
    assert reply.status == 200, reply.text
    return next(c.split(";")[0] for c in reply.set_cookies if c.startswith("cookie_consent="))


def test_an_undecided_page_carries_its_state(driver: Driver) -> None:
    script = tag(driver.get("/html").text)
    assert 'data-cookieguard-granted="necessary"' in script
    assert "data-cookieguard-decided" not in script
    assert "data-cookieguard-vendors" not in script
    version = re.search(r'data-cookieguard-storage="([0-9a-f]{12})"', script)
    assert version is not None


def test_a_decided_page_carries_the_grants_and_varies_on_cookie(driver: Driver) -> None:
    cookie = choose(driver, {"action": "save", "categories": ["analytics"]})
    page = driver.get("/html", cookie=cookie)
    script = tag(page.text)
    assert 'data-cookieguard-granted="necessary analytics"' in script
    assert "data-cookieguard-decided" in script
    assert "cookie" in (page.header("vary") or "").lower()


def test_storage_rules_are_a_file_the_browser_keeps(driver: Driver) -> None:
    version = re.search(r'data-cookieguard-storage="(\w+)"', tag(driver.get("/html").text))
    assert version is not None
    reply = driver.get("/_cookieguard/storage.json", query="v=" + version.group(1))
    assert reply.status == 200
    assert reply.header("cache-control") == "public, max-age=31536000"
    rules = json.loads(reply.body)
    assert re.fullmatch(rules["analytics"], "acme_visitor")
    state = driver.get("/_cookieguard/consent").body
    assert json.loads(state)["storage"] == rules  # the same rules the JSON state gives
    etag = reply.header("etag")
    assert etag is not None
    again = driver.get("/_cookieguard/storage.json", headers=[("If-None-Match", etag)])
    assert again.status == 304 and again.body == b""


@pytest.mark.parametrize("name", ["banner-more.js", "banner-more.css"])
def test_the_later_assets_are_served_and_cached(driver: Driver, name: str) -> None:
    reply = driver.get("/_cookieguard/" + name)
    assert reply.status == 200
    assert reply.header("cache-control") == "public, max-age=31536000"
    assert reply.header("etag")
