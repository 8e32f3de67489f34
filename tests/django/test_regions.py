"""Regions under Django's own test clients (cookieguard.django reads the region from META)."""

from __future__ import annotations

import pytest
from django.test import AsyncClient, Client, override_settings

from tests.django.conftest import COOKIES, SECRET
from tests.django.test_client import BANNER, TRACKERS, abody, body, run, stored

GEO = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None, "region_header": "cloudflare"}
CA = {"HTTP_CF_IPCOUNTRY": "US", "HTTP_CF_REGION_CODE": "CA"}


@override_settings(COOKIEGUARD=GEO)
def test_a_californian_gets_the_opt_out_notice_and_optional_cookies() -> None:
    response = Client().get("/page", **CA)  # type: ignore[arg-type]
    assert stored(response) >= TRACKERS
    page = body(response)
    assert b'data-cookieguard-rule="opt-out"' in page
    assert "cf-ipcountry" in response["Vary"]

    async def visit() -> bytes:
        answer = await AsyncClient().get(
            "/async-page", headers={"CF-IPCountry": "US", "CF-Region-Code": "CA"}
        )
        return await abody(answer)

    assert b'data-cookieguard-rule="opt-out"' in run(visit())


@override_settings(COOKIEGUARD=GEO)
def test_a_german_gets_the_opt_in_banner() -> None:
    response = Client().get("/page", HTTP_CF_IPCOUNTRY="DE")
    assert not stored(response) & TRACKERS
    assert b'data-cookieguard-action="accept_all"' in body(response)


@pytest.mark.parametrize("path", ["/page", "/async-page"])
def test_a_spoofed_region_header_changes_nothing_without_region_header(path: str) -> None:
    response = Client().get(path, **CA)  # type: ignore[arg-type]
    assert not stored(response) & TRACKERS
    page = body(response)
    assert BANNER.encode() in page and b"data-cookieguard-rule" not in page
