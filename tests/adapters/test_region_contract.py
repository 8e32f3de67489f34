"""Regions through both adapters: the same rule, cookies, banner and Vary from ASGI and WSGI."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from cookieguard import ConsentCodec
from tests.harness import Driver, Response, drivers, make_policy

CA = [("CF-IPCountry", "US"), ("CF-Region-Code", "CA")]
DE = [("CF-IPCountry", "DE")]
GPC = [("Sec-GPC", "1")]
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


def both(**settings: Any) -> list[Driver]:
    return list(drivers(make_policy(**settings)).values())


@pytest.fixture(params=["asgi", "wsgi"])
def geo(request: pytest.FixtureRequest) -> Driver:
    return drivers(make_policy(region_header="cloudflare"))[request.param]


def vary(response: Response) -> set[str]:
    return {v.strip().lower() for field in response.headers_named("vary") for v in field.split(",")}


def test_a_client_sent_region_header_changes_nothing_without_region_header() -> None:
    """Issue 21: a site that did not configure geo cannot be told a region by the client."""
    for driver in both():
        plain = driver.get("/html")
        spoofed = driver.get("/html", headers=[*CA, ("X-Vercel-IP-Country", "US")])
        assert spoofed.body == plain.body
        assert sorted(spoofed.headers) == sorted(plain.headers)
        assert b'data-cookieguard-action="accept_all"' in spoofed.body
        for name in ("likebox", "_ga", "_fbp"):
            assert not spoofed.sets(name)
        assert not vary(spoofed) & {"cf-ipcountry", "cf-region-code"}


def test_an_eu_visitor_gets_the_opt_in_banner_and_nothing_optional(geo: Driver) -> None:
    response = geo.get("/html", headers=DE)
    assert b'data-cookieguard-action="accept_all"' in response.body
    assert b"data-cookieguard-rule" not in response.body
    for name in ("likebox", "_ga", "_fbp"):
        assert not response.sets(name)
    assert {"cf-ipcountry", "cf-region-code"} <= vary(response)


def test_a_california_visitor_gets_optional_cookies_and_the_opt_out_notice(geo: Driver) -> None:
    response = geo.get("/html", headers=CA)
    for name in ("likebox", "_ga", "_fbp"):
        assert response.sets(name)
    assert b'data-cookieguard-rule="opt-out"' in response.body
    assert b"Do Not Sell or Share My Personal Information" in response.body
    assert b'data-cookieguard-action="accept_all"' not in response.body
    assert {"cf-ipcountry", "cf-region-code"} <= vary(response)
    # The app sees every cookie the browser sent.
    assert geo.get("/echo", "_ga=1; _fbp=2", headers=CA).text == "_ga=1; _fbp=2"
    state = json.loads(geo.get("/_cookieguard/consent", headers=CA).body)
    assert state["rule"] == "opt-out" and not state["decided"]
    assert state["categories"] == {
        "necessary": True,
        "preferences": True,
        "analytics": True,
        "marketing": True,
    }


def test_gpc_from_california_refuses_marketing_from_the_first_request(geo: Driver) -> None:
    response = geo.get("/html", "_fbp=old", headers=[*CA, *GPC])
    assert response.sets("_ga") and response.sets("likebox")
    assert not response.sets("_fbp")
    assert response.deletes("_fbp")
    assert b"data-cookieguard-gpc" in response.body  # shown as honoured
    assert geo.get("/echo", "_ga=1; _fbp=2", headers=[*CA, *GPC]).text == "_ga=1"


def test_opting_out_keeps_the_rest_and_stops_marketing_on_the_next_request(geo: Driver) -> None:
    body = urlencode(
        {"action": "save", "category": ["analytics", "preferences"], "next": "/html"}, doseq=True
    ).encode()
    saved = geo.request(
        "POST", "/_cookieguard/consent", headers=[*CA, *FORM, ("Cookie", "_fbp=x")], body=body
    )
    assert saved.status == 303
    assert saved.deletes("_fbp")
    stored = next(c for c in saved.set_cookies if c.startswith("cookie_consent="))
    token = stored.split(";", 1)[0]
    after = geo.get("/html", f"{token}; _fbp=x", headers=CA)
    assert after.sets("_ga") and not after.sets("_fbp") and after.deletes("_fbp")
    assert b"data-cookieguard-rule" not in after.body  # decided: no notice
    assert "cf-ipcountry" not in vary(after)  # a choice does not depend on the region
    # The same choice from Germany is the same choice.
    assert not geo.get("/html", f"{token}", headers=DE).sets("_fbp")
    assert geo.get("/html", f"{token}", headers=DE).sets("_ga")


def test_a_choice_made_anywhere_wins_over_the_region(geo: Driver) -> None:
    token = ConsentCodec(geo_policy()).dumps(set(), "c" * 22)
    refused = geo.get("/html", f"cookie_consent={token}", headers=CA)
    for name in ("likebox", "_ga", "_fbp"):
        assert not refused.sets(name)


def test_a_notice_region_grants_and_shows_a_dismissable_notice() -> None:
    for driver in both(region_header="X-Country", regions={"JP": "notice"}):
        response = driver.get("/html", headers=[("X-Country", "JP")])
        assert response.sets("_ga") and response.sets("_fbp")
        assert b'data-cookieguard-rule="notice"' in response.body
        assert b'data-cookieguard-action="dismiss"' in response.body
        assert "x-country" in vary(response)
        unknown = driver.get("/html", headers=[("X-Country", "??")])
        assert not unknown.sets("_ga")
        assert b'data-cookieguard-action="accept_all"' in unknown.body


def geo_policy() -> Any:
    return make_policy(region_header="cloudflare")
