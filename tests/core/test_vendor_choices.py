"""Issue 24 part 3: choices per vendor, from the consent cookie to every gate.

The cookie carries the choices that differ from their category; ``Consent.allows(category)``
is unchanged and ``Consent.allows_vendor(name)`` sits beside it; the endpoint takes vendor
choices (JSON and form) and refuses unknown vendors; the receipt, auto-blocking, embeds, the
CSP and Consent Mode follow them; the preferences dialog shows a switch per vendor.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from cookieguard import ConsentCodec
from cookieguard.core._consent import Consent
from cookieguard.core._guard import Decision, Guard
from cookieguard.core._messages import Request
from cookieguard.csp._csp import ENFORCE_HEADER
from cookieguard.receipts import open_store
from cookieguard.site._site import Site
from cookieguard.ui._banner import render_dialog, render_preferences_page
from cookieguard.ui._vendors import consent_mode_types
from tests.csp.test_csp import THIRTY, allows_host
from tests.harness import make_policy

CID = "c" * 22
NONE: frozenset[str] = frozenset()
PAGE = b"""<!doctype html><html><head>
<script src="https://static.hotjar.com/c/hotjar-1.js?sv=6"></script>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
</head><body>
<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>
<iframe src="https://player.vimeo.com/video/1" width="640" height="360"></iframe>
</body></html>"""


def consent_of(site: Site, **choice: frozenset[str]) -> Consent:
    codec = site.guard.codec
    vendors: dict[str, Any] = choice  # the same dict: what the pops below leave
    return Consent(
        True,
        choice.pop("granted", NONE),
        CID,
        1,
        0,
        vendor_categories=codec.vendor_categories,
        **vendors,
    )


# -- the cookie ----------------------------------------------------------------------------------


def test_the_cookie_carries_choices_per_vendor_and_allows_keeps_working() -> None:
    policy = make_policy()
    codec = ConsentCodec(policy)
    token = codec.dumps({"analytics"}, CID, vendors={"YouTube"}, refused_vendors={"Hotjar"})
    consent = codec.loads(token).consent
    assert consent.decided and consent.granted == {"analytics"}
    assert consent.allows("analytics") and not consent.allows("marketing")
    assert consent.allows_vendor("YouTube")  # marketing, allowed by name
    assert not consent.allows_vendor("Vimeo")  # the rest of marketing
    assert consent.allows_vendor("Google Analytics")  # analytics, granted
    assert not consent.allows_vendor("Hotjar")  # analytics, refused by name
    # Without choices per vendor the payload is the old one (version 1).
    plain = codec.loads(codec.dumps({"analytics"}, CID)).consent
    assert not plain.exceptions and plain.allows_vendor("Hotjar")


def test_a_cookie_with_thirty_vendor_choices_stays_small() -> None:
    """30 vendors chosen otherwise than their category: 150 characters of choices.

    Measured: a 270-character token (95 without choices per vendor) and a 382-character
    Set-Cookie with Secure, Max-Age, Expires, Path, SameSite and HttpOnly (207 without).
    """
    guard = Guard(make_policy())
    codec = guard.codec
    refused = frozenset(n for n in THIRTY if codec.vendor_categories[n] != "preferences")
    assert len(refused) == 30
    both = {"analytics", "marketing"}
    token = codec.dumps(both, CID, refused_vendors=refused)
    assert codec.loads(token).consent.refused_vendors == refused
    assert len(token) <= 280, len(token)
    assert len(codec.dumps(both, CID)) <= 100
    set_cookie = guard.consent_cookie(both, CID, secure=True, refused_vendors=refused)
    assert len(set_cookie) <= 400, len(set_cookie)


def test_forged_or_unknown_vendor_keys_are_ignored_or_undecided() -> None:
    policy = make_policy()
    codec = ConsentCodec(policy)
    signer = codec._newest  # the right key, a payload we shape ourselves
    unknown = signer.dumps([2, ["analytics"], 1, CID, "+zzzz"])
    consent = codec.loads(unknown).consent
    assert consent.decided and not consent.vendors
    for bad in ([2, [], 1, CID, "+abc"], [2, [], 1, CID, 7], [2, [], 1, CID]):
        assert not codec.loads(signer.dumps(bad)).consent.decided


# -- the endpoint --------------------------------------------------------------------------------


def post(
    site: Site, body: bytes, kind: str = "application/json"
) -> tuple[int, dict[str, Any], list[str]]:
    request = Request(
        "POST",
        "/_cookieguard/consent",
        "",
        (("content-type", kind), ("host", "shop.example")),
        "https",
        Decision(Consent(False, NONE, vendor_categories=site.guard.codec.vendor_categories)),
        body,
    )
    reply = site.respond(request)
    cookies = [v for k, v in reply.headers if k == "set-cookie"]
    data = json.loads(reply.body) if reply.body else {}
    return reply.status, data, cookies


def test_json_choices_per_vendor_set_the_cookie_and_the_state(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "r.db"))
    site = Site(make_policy(), receipts=store)
    body = json.dumps(
        {"action": "save", "categories": [], "vendors": {"YouTube": True, "Vimeo": False}}
    ).encode()
    status, state, cookies = post(site, body)
    assert status == 200
    assert state["categories"]["marketing"] is False
    assert state["vendors"] == {"YouTube": True}  # Vimeo follows its category: no exception
    token = cookies[0].split(";", 1)[0].split("=", 1)[1]
    consent = site.guard.codec.loads(token).consent
    assert consent.allows_vendor("YouTube") and not consent.allows_vendor("Vimeo")
    (receipt,) = store.history(state["consent_id"])
    assert "vendor:YouTube" in receipt.granted
    assert "marketing" in receipt.denied


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"action": "save", "vendors": {"NoSuchVendor": True}}, "unknown vendor 'NoSuchVendor'"),
        ({"action": "save", "vendors": ["YouTube"]}, "vendors must be an object"),
        ({"action": "save", "vendors": {"YouTube": "yes"}}, "vendors must be an object"),
    ],
)
def test_bad_vendor_choices_are_400_naming_them(body: dict[str, Any], needle: str) -> None:
    status, data, cookies = post(Site(make_policy(), receipts=None), json.dumps(body).encode())
    assert status == 400 and needle in data["error"] and cookies == []


def test_form_choices_a_touched_switch_counts_an_untouched_one_follows_its_category() -> None:
    site = Site(make_policy(), receipts=None)
    # Analytics turned on; Hotjar's switch (off when rendered) untouched: it follows analytics.
    # YouTube switched on (was off); Google Analytics was on, switched off.
    form = urlencode(
        [
            ("action", "save"),
            ("category", "analytics"),
            ("vendor", "YouTube"),
            ("vendor_was", "Google Analytics"),
        ]
    ).encode()
    status, _, cookies = post(site, form, "application/x-www-form-urlencoded")
    assert status == 303
    consent = site.guard.codec.loads(cookies[0].split(";", 1)[0].split("=", 1)[1]).consent
    assert consent.allows("analytics") and consent.allows_vendor("Hotjar")
    assert consent.allows_vendor("YouTube") and not consent.allows("marketing")
    assert not consent.allows_vendor("Google Analytics")
    unknown = urlencode([("action", "save"), ("vendor", "Nope")]).encode()
    assert post(site, unknown, "application/x-www-form-urlencoded")[0] == 400


def test_accept_all_and_reject_all_clear_choices_per_vendor() -> None:
    site = Site(make_policy(), receipts=None)
    body = json.dumps({"action": "reject_all", "vendors": {"YouTube": True}}).encode()
    _, state, _ = post(site, body)
    assert state["vendors"] == {}


# -- the gates -----------------------------------------------------------------------------------


def edit(site: Site, consent: Consent) -> bytes:
    plan = site.injection(
        Decision(consent),
        method="GET",
        status=200,
        content_type="text/html",
        content_encoding=None,
        path="/a",
        query="",
        accept_language="en",
    )
    assert plan is not None
    return plan.rewrite(PAGE)


def test_only_the_vendor_allowed_by_name_loads() -> None:
    site = Site(make_policy(), receipts=None)
    out = edit(site, consent_of(site, vendors=frozenset({"YouTube"})))
    assert b'<iframe src="https://www.youtube.com/embed/abc"' in out
    assert b'data-cookieguard-embed="marketing" data-cookieguard-provider="Vimeo"' in out
    assert b"data-cookieguard-embed" not in out.split(b"youtube.com/embed")[0].split(b"<body>")[1]


def test_a_vendor_refused_by_name_in_a_granted_category_is_blocked_and_never_started() -> None:
    site = Site(make_policy(), receipts=None)
    out = edit(
        site,
        consent_of(site, granted=frozenset({"analytics"}), refused_vendors=frozenset({"Hotjar"})),
    )
    hotjar = re.search(rb"<script[^>]*hotjar[^>]*>", out)
    assert hotjar is not None
    # banner.js starts a gated script when every token is granted: "vendor-choice" never is.
    assert b'type="text/plain" data-cookieguard="analytics vendor-choice"' in hotjar.group(0)
    assert b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1">' in out


def test_the_csp_follows_choices_per_vendor() -> None:
    site = Site(make_policy(csp="enforce"), receipts=None)
    edit(site, consent_of(site))  # the site meets its vendors
    youtube = consent_of(site, vendors=frozenset({"YouTube"}))
    value = dict(site.page_headers(Decision(youtube), status=200, content_type="text/html"))
    assert allows_host(value[ENFORCE_HEADER], "script-src", "www.youtube.com")
    assert not allows_host(value[ENFORCE_HEADER], "script-src", "player.vimeo.com")
    no_hotjar = consent_of(
        site, granted=frozenset({"analytics"}), refused_vendors=frozenset({"Hotjar"})
    )
    value = dict(site.page_headers(Decision(no_hotjar), status=200, content_type="text/html"))
    assert not allows_host(value[ENFORCE_HEADER], "script-src", "static.hotjar.com")
    assert allows_host(value[ENFORCE_HEADER], "script-src", "www.googletagmanager.com")


def test_consent_mode_follows_googles_vendors() -> None:
    policy = make_policy(google_consent_mode=True)
    site = Site(policy, receipts=None)
    no_ga = consent_of(
        site, granted=frozenset({"analytics"}), refused_vendors=frozenset({"Google Analytics"})
    )
    assert consent_mode_types(policy, no_ga)["analytics_storage"] == "denied"
    ads = consent_of(site, vendors=frozenset({"Google Ads"}))
    assert consent_mode_types(policy, ads)["ad_storage"] == "granted"
    assert consent_mode_types(policy, ads)["analytics_storage"] == "denied"
    plain = consent_of(site, granted=frozenset({"analytics"}))
    assert consent_mode_types(policy, plain)["analytics_storage"] == "granted"


# -- the switches --------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de", "ar"])
def test_each_category_lists_its_vendors_with_a_labelled_switch(language: str) -> None:
    site = Site(make_policy(), receipts=None)
    met = frozenset({"Hotjar", "YouTube"})
    consent = consent_of(
        site, granted=frozenset({"analytics"}), refused_vendors=frozenset({"Hotjar"})
    )
    for html in (
        render_dialog(site.policy, consent, language=language, next_path="/", met=met),
        render_preferences_page(
            site.policy, consent, language=language, next_path="/", history=(), version="v", met=met
        ),
    ):
        switches = re.findall(r'<input type="checkbox" role="switch"[^>]*name="vendor"[^>]*>', html)
        names = {re.search(r'value="([^"]+)"', s).group(1) for s in switches}  # type: ignore[union-attr]
        assert {"Hotjar", "YouTube", "Google Analytics", "Meta Pixel"} <= names
        for switch in switches:
            ident = re.search(r'id="([^"]+)"', switch).group(1)  # type: ignore[union-attr]
            assert f'<label for="{ident}">' in html  # labelled
        hotjar = next(s for s in switches if 'value="Hotjar"' in s)
        analytics = next(s for s in switches if 'value="Google Analytics"' in s)
        assert "checked" not in hotjar and "checked" in analytics
        assert 'name="vendor_was" value="Google Analytics"' in html
        assert 'name="vendor_was" value="Hotjar"' not in html
        assert "https://www.hotjar.com/legal/policies/privacy/" in html  # privacy link
        assert "_hjSessionUser_*" in html  # its cookies, with retention
