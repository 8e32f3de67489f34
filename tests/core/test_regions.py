"""Regions: where a visitor is (from a trusted header), the rule there, and what it decides."""

from __future__ import annotations

from typing import Any

import pytest

from cookieguard import ConsentCodec, Policy
from cookieguard.core._guard import Guard
from cookieguard.core._regions import DEFAULT_REGIONS, PROVIDERS, RegionLookup, region_code
from cookieguard.site._site import Site

SECRET = "test-secret-key-0123456789"
COOKIES = {"likebox": "preferences", "_ga": "analytics", "_fbp": "marketing"}
OPTIONAL = frozenset({"preferences", "analytics", "marketing"})
HTML = "text/html; charset=utf-8"


def policy(**overrides: Any) -> Policy:
    settings: dict[str, Any] = {"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None}
    settings.update(overrides)
    return Policy(**settings)


# -- where the region comes from -------------------------------------------------------------

# (provider, headers as a CDN sends them, region found)
PROVIDER_CASES = [
    ("cloudflare", [("CF-IPCountry", "DE")], "DE"),
    ("cloudflare", [("CF-IPCountry", "US"), ("cf-region-code", "CA")], "US-CA"),
    ("cloudflare", [("CF-IPCountry", "XX")], None),  # Cloudflare: unknown
    ("cloudflare", [("CF-IPCountry", "T1"), ("cf-region-code", "CA")], None),  # Tor
    ("cloudflare", [("CF-IPCountry", "XK")], "XK"),  # Kosovo, user-assigned but a country
    ("cloudfront", [("CloudFront-Viewer-Country", "FR")], "FR"),
    (
        "cloudfront",
        [("CloudFront-Viewer-Country", "US"), ("CloudFront-Viewer-Country-Region", "TX")],
        "US-TX",
    ),
    ("vercel", [("X-Vercel-IP-Country", "US"), ("X-Vercel-IP-Country-Region", "CA")], "US-CA"),
    ("vercel", [("x-vercel-ip-country", "GB"), ("x-vercel-ip-country-region", "ENG")], "GB-ENG"),
    ("appengine", [("X-AppEngine-Country", "US"), ("X-AppEngine-Region", "ca")], "US-CA"),
    ("appengine", [("X-AppEngine-Country", "ZZ"), ("X-AppEngine-Region", "?")], None),
    ("fastly", [("Fastly-Geo-Country", "US"), ("Fastly-Geo-Region", "CA")], "US-CA"),
    ("fastly", [("Fastly-Geo-Country", "AX"), ("Fastly-Geo-Region", "NO REGION")], "AX"),
    ("fastly", [("Fastly-Geo-Country", "**")], None),  # Fastly: unknown
    ("X-Country", [("X-Country", "US-CA")], "US-CA"),  # a site's own header, whole code
    ("X-Country", [("x-country", "de")], "DE"),
    ("X-Country", [("CF-IPCountry", "DE")], None),  # not the configured header
]


@pytest.mark.parametrize(("header", "sent", "region"), PROVIDER_CASES)
def test_every_provider_gives_the_region_from_its_documented_headers(
    header: str, sent: list[tuple[str, str]], region: str | None
) -> None:
    lookup = RegionLookup(header, DEFAULT_REGIONS, "opt-in")
    assert lookup.from_pairs(sent)[0] == region
    # As ASGI hands them over (bytes, lower-case names), the same answer.
    raw = [(k.lower().encode(), v.encode()) for k, v in sent]
    assert lookup.from_pairs(raw)[0] == region


def test_provider_header_names_are_lower_case_and_documented() -> None:
    assert set(PROVIDERS) == {"cloudflare", "cloudfront", "vercel", "appengine", "fastly"}
    assert PROVIDERS["cloudflare"].country == "cf-ipcountry"
    assert PROVIDERS["cloudfront"].subdivision == "cloudfront-viewer-country-region"
    assert PROVIDERS["appengine"].country == "x-appengine-country"
    for provider in PROVIDERS.values():
        assert provider.country == provider.country.lower()


# (country header value, subdivision header value, region)
MALFORMED = [
    ("", None, None),
    (None, "CA", None),
    ("U", None, None),
    ("USA", None, None),
    ("12", None, None),
    ("U$", None, None),
    ("D E", None, None),
    ("DE;US", None, None),
    ("US, DE", None, None),  # two values folded into one by a server
    ("XX", None, None),
    ("ZZ", None, None),
    ("EU", None, None),
    ("QZ", None, None),
    ("US" + " " * 100, None, None),  # too long to be a code
    ("US-CALIF", None, None),
    ("US-", None, None),
    ("ÜS", None, None),
    (b"\xc4E", None, None),
    (" us ", " ca ", "US-CA"),  # whitespace and case are forgiven
    (b"US", b"CA", "US-CA"),
    ("US", "US-CA", "US-CA"),  # a whole subdivision code of the same country
    ("US", "CA-ON", "US"),  # another country's subdivision: the country alone
    ("US", "CALIF", "US"),
    ("US", "NO REGION", "US"),
    ("US", "?", "US"),
    ("US", "", "US"),
    ("US", "C A", "US"),
    ("US", "x" * 40, "US"),
    ("JP", "13", "JP-13"),
]


@pytest.mark.parametrize(("country", "subdivision", "region"), MALFORMED)
def test_a_malformed_value_counts_as_unknown(
    country: str | bytes | None, subdivision: str | bytes | None, region: str | None
) -> None:
    assert region_code(country, subdivision) == region


def test_a_header_sent_twice_with_different_values_is_unknown() -> None:
    lookup = RegionLookup("cloudflare", {"US": "opt-out"}, "opt-in")
    assert lookup.from_pairs([("cf-ipcountry", "US"), ("cf-ipcountry", "DE")]) == (None, "opt-in")
    assert lookup.from_pairs([("cf-ipcountry", "US"), ("cf-ipcountry", "US")]) == ("US", "opt-out")


# -- which rule applies ------------------------------------------------------------------------

RULE_CASES = [
    # (regions, unknown_region, country, subdivision, rule)
    (DEFAULT_REGIONS, "opt-in", "US", "CA", "opt-out"),
    (DEFAULT_REGIONS, "opt-in", "US", "TX", "opt-out"),
    (DEFAULT_REGIONS, "opt-in", "US", "NY", "opt-in"),  # no comprehensive law: unknown_region
    (DEFAULT_REGIONS, "notice", "US", "NY", "notice"),
    (DEFAULT_REGIONS, "opt-in", "DE", None, "opt-in"),
    (DEFAULT_REGIONS, "notice", "DE", None, "opt-in"),  # EEA stays opt-in whatever the rest
    (DEFAULT_REGIONS, "notice", "GB", "ENG", "opt-in"),  # country rule for a subdivision
    (DEFAULT_REGIONS, "notice", "CH", None, "opt-in"),
    (DEFAULT_REGIONS, "notice", "NO", None, "opt-in"),
    (DEFAULT_REGIONS, "notice", "JP", None, "notice"),
    (DEFAULT_REGIONS, "notice", "XX", None, "notice"),  # unknown
    ({"US": "opt-out", "US-CA": "notice"}, "opt-in", "US", "CA", "notice"),  # subdivision wins
    ({"US": "opt-out", "US-CA": "notice"}, "opt-in", "US", "WA", "opt-out"),
    ({"US": "opt-out"}, "opt-in", "US", None, "opt-out"),
    ({}, "opt-out", "DE", None, "opt-out"),
]


@pytest.mark.parametrize(("table", "unknown", "country", "subdivision", "rule"), RULE_CASES)
def test_subdivision_then_country_then_unknown_region(
    table: dict[str, Any], unknown: Any, country: str, subdivision: str | None, rule: str
) -> None:
    guard = Guard(policy(region_header="cloudflare", regions=table, unknown_region=unknown))
    assert guard.rule(country, subdivision) == rule


def test_without_region_header_every_header_is_ignored() -> None:
    """A client cannot choose its region on a site that did not opt in to geo."""
    guard = Guard(policy(regions={"US": "opt-out", "DE": "opt-out"}, unknown_region="opt-in"))
    assert guard.regions.headers == ()
    assert not guard.regions.varies
    assert guard.rule("US", "CA") == "opt-in"
    assert guard.regions.from_pairs([("cf-ipcountry", "US"), ("x-country", "US")]) == (
        None,
        "opt-in",
    )


def test_default_table_covers_the_eea_uk_switzerland_and_us_state_laws() -> None:
    eea = (
        "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO"
    )
    for code in [*eea.split(), "GB", "CH"]:
        assert DEFAULT_REGIONS[code] == "opt-in"
    for state in ("CA", "CO", "CT", "VA", "UT", "TX", "OR", "MT", "NJ", "MN", "MD"):
        assert DEFAULT_REGIONS[f"US-{state}"] == "opt-out"
    assert "US" not in DEFAULT_REGIONS  # the rest of the US: as the site chooses
    assert policy().regions == DEFAULT_REGIONS


# -- validation --------------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"region_header": "X Country"}, "region_header must be None, a provider"),
    ({"region_header": ""}, "region_header must be None, a provider"),
    ({"region_header": 42}, "region_header must be None, a provider"),
    ({"regions": {"de": "opt-in"}}, "'de' is not a region code"),
    ({"regions": {"DEU": "opt-in"}}, "'DEU' is not a region code"),
    ({"regions": {"US-CALIF": "opt-out"}}, "'US-CALIF' is not a region code"),
    ({"regions": {"DE": "optin"}}, "'DE' has rule 'optin'; use one of 'opt-in'"),
    ({"regions": ["DE"]}, "regions must map a region code to a rule"),
    ({"unknown_region": "opt_in"}, "unknown_region must be one of 'opt-in', 'opt-out'"),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS)
def test_bad_region_settings_fail_at_start_up_saying_what_to_change(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        policy(**settings)


def test_a_provider_name_is_case_insensitive_and_a_table_loads_from_toml(tmp_path: Any) -> None:
    assert policy(region_header="Cloudflare").region_header == "cloudflare"
    path = tmp_path / "policy.toml"
    path.write_text(
        'secret_keys = ["test-secret-key-0123456789"]\nregion_header = "vercel"\n'
        'unknown_region = "notice"\n[regions]\nDE = "opt-in"\n"US-CA" = "opt-out"\n'
    )
    loaded = Policy.from_toml(path)
    assert loaded.regions == {"DE": "opt-in", "US-CA": "opt-out"}
    assert loaded.region_lookup.headers == ("x-vercel-ip-country", "x-vercel-ip-country-region")


# -- what each rule decides --------------------------------------------------------------------


def cookie(granted: set[str], p: Policy) -> str:
    return "cookie_consent=" + ConsentCodec(p).dumps(granted, "c" * 22)


@pytest.mark.parametrize(
    ("rule", "gpc", "granted"),
    [
        ("opt-in", False, frozenset()),
        ("opt-in", True, frozenset()),
        ("opt-out", False, OPTIONAL),
        ("opt-out", True, OPTIONAL - {"marketing"}),  # GPC: a binding opt-out of sale/sharing
        ("notice", False, OPTIONAL),
        ("notice", True, OPTIONAL - {"marketing"}),
    ],
)
def test_an_undecided_visitor_gets_the_rules_default(
    rule: Any, gpc: bool, granted: frozenset[str]
) -> None:
    p = policy(region_header="cloudflare")
    guard = Guard(p)
    for header in (None, "_ga=1; _fbp=2", "cookie_consent=forged; _ga=1"):
        consent = guard.read(header, gpc, "shop.example.com", False, rule).consent
        assert not consent.decided
        assert consent.granted == granted
        assert consent.rule == rule
        assert consent.gpc is gpc


def test_opt_out_lets_optional_cookies_through_until_the_visitor_opts_out() -> None:
    p = policy(region_header="cloudflare")
    guard = Guard(p)
    undecided = guard.read("_ga=1; _fbp=2; likebox=3", rule="opt-out")
    assert undecided.cookie_header is None  # every cookie reaches the app
    assert guard.keep_set_cookie(undecided.consent, "_fbp=fb.1; Path=/")
    # The same request under opt-in: nothing optional.
    opt_in = guard.read("_ga=1; _fbp=2; likebox=3", rule="opt-in")
    assert opt_in.cookie_header == ""
    assert not guard.keep_set_cookie(opt_in.consent, "_fbp=fb.1; Path=/")
    # GPC from an opt-out region: marketing refused from the first request, and expired.
    gpc = guard.read("_ga=1; _fbp=2", True, rule="opt-out")
    assert gpc.cookie_header == "_ga=1"
    assert any(c.startswith("_fbp=;") for c in gpc.set_cookies)
    assert not guard.keep_set_cookie(gpc.consent, "_fbp=fb.1; Path=/")


@pytest.mark.parametrize("rule", ["opt-in", "opt-out", "notice"])
def test_a_choice_wins_over_the_regions_default_and_is_stored_alike(rule: Any) -> None:
    p = policy(region_header="cloudflare")
    guard = Guard(p)
    header = cookie({"analytics"}, p) + "; _fbp=2; _ga=1"
    decision = guard.read(header, rule=rule)
    assert decision.consent.decided
    assert decision.consent.granted == {"analytics"}
    assert decision.consent.rule == rule
    assert decision.cookie_header is not None and "_fbp" not in decision.cookie_header
    # The cookie that records a choice does not depend on the region.
    assert guard.consent_cookie({"analytics"}, "c" * 22, secure=False, issued_at=1) == (
        Guard(policy()).consent_cookie({"analytics"}, "c" * 22, secure=False, issued_at=1)
    )


def test_the_decision_cache_keys_on_the_rule() -> None:
    guard = Guard(policy(region_header="cloudflare"))
    out = guard.read("_fbp=2", False, "shop.example.com", False, "opt-out")
    inn = guard.read("_fbp=2", False, "shop.example.com", False, "opt-in")
    assert out.cookie_header is None and inn.cookie_header == ""
    assert guard._decisions.get(("_fbp=2", False, "shop.example.com", False, "opt-out"))[0] is out  # type: ignore[index]
    assert guard._decisions.get(("_fbp=2", False, "shop.example.com", False, "opt-in"))[0] is inn  # type: ignore[index]
    # No rule given: the policy's unknown_region.
    assert guard.read("_fbp=2", False, "shop.example.com", False) is inn


# -- the site's plans and Vary ---------------------------------------------------------------


def plan(site: Site, rule: Any, cookie_header: str | None = None, gpc: bool = False) -> Any:
    decision = site.guard.read(cookie_header, gpc, "shop.example.com", False, rule)
    return site.injection(
        decision,
        method="GET",
        status=200,
        content_type=HTML,
        content_encoding=None,
        path="/",
        query="",
        accept_language="en",
    )


def test_a_plan_for_an_opt_out_visitor_is_never_served_to_an_opt_in_one() -> None:
    site = Site(policy(region_header="cloudflare", banner=True), receipts=None)
    for _ in range(2):  # the second round comes from the memos
        opt_out, opt_in, notice = (plan(site, r) for r in ("opt-out", "opt-in", "notice"))
        assert b'data-cookieguard-rule="opt-out"' in opt_out.insert
        assert b"Do Not Sell or Share My Personal Information" in opt_out.insert
        assert b"data-cookieguard-rule" not in opt_in.insert
        assert b'data-cookieguard-action="accept_all"' in opt_in.insert
        assert b'data-cookieguard-rule="notice"' in notice.insert
        assert opt_in.blocker is not None and opt_out.blocker is None


def test_undecided_pages_vary_on_the_region_headers_where_the_rule_can_differ() -> None:
    site = Site(policy(region_header="cloudflare"), receipts=None)
    assert plan(site, "opt-out").vary[-2:] == ("cf-ipcountry", "cf-region-code")
    assert "cf-ipcountry" in plan(site, "opt-in").vary
    decided = cookie({"analytics"}, site.policy)
    assert "cf-ipcountry" not in plan(site, "opt-out", decided).vary  # a choice: no region
    # No geo, or a table where every region gets the same rule: nothing to vary on.
    for settings in ({}, {"region_header": "cloudflare", "regions": {"DE": "opt-in"}}):
        site = Site(policy(**settings), receipts=None)
        assert not any(name.startswith("cf-") for name in plan(site, "opt-in").vary)


def test_the_opt_out_notice_keeps_all_but_sale_and_sharing_and_says_gpc_was_honoured() -> None:
    site = Site(policy(region_header="cloudflare"), receipts=None)
    insert = plan(site, "opt-out").insert.decode()
    assert 'name="category" value="analytics" checked hidden' in insert
    assert 'name="category" value="preferences" checked hidden' in insert
    assert 'value="marketing"' not in insert
    assert 'data-cookieguard-action="customize">Your Privacy Choices</button>' in insert
    assert "data-cookieguard-gpc" not in insert
    assert "data-cookieguard-gpc" in plan(site, "opt-out", gpc=True).insert.decode()


def test_any_spelling_of_a_region_header_is_read_and_visitor_names_stay_bounded() -> None:
    lookup = RegionLookup("cloudflare", {"US-CA": "opt-out"}, "opt-in")
    for name in (
        b"CF-IPCountry",
        b"cf-ipcountry",
        b" cf-ipcountry",
        "Cf-Ipcountry",
        "cf-ipcountry",
    ):
        assert lookup.from_pairs([(name, "US"), ("CF-Region-Code", "CA")]) == ("US-CA", "opt-out")
    for n in range(5000):  # names a visitor makes up: remembered up to a bound
        lookup.from_pairs([(f"x-made-up-{n}".encode(), b"1")])
    assert len(lookup._index) <= 512


@pytest.mark.parametrize("header", ["Cookie", "host", "Sec-GPC", "Accept-Language"])
def test_a_header_cookieguard_reads_for_something_else_cannot_carry_the_region(
    header: str,
) -> None:
    with pytest.raises(ValueError, match="reads for something else"):
        policy(region_header=header)


def test_the_adapters_find_region_headers_in_their_one_loop_over_the_request() -> None:
    from cookieguard.core._headers import REGION, known_role, role, text_role

    Guard(policy(region_header="X-Geo-Test-Country"))
    assert role(b"x-geo-test-country") is REGION and role(b"X-Geo-Test-Country") is REGION
    # The memo answers for a name it holds; a full memo (another test may fill it) holds
    # nothing new and then role() answers, rightly.
    assert known_role(b"x-geo-test-country") in (REGION, None)
    assert text_role("X-Geo-Test-Country ") is REGION
    assert role(b"cookie") is not REGION


def test_the_cookies_json_says_which_rule_applies_where() -> None:
    from cookieguard.ui._declaration import declaration_json

    assert declaration_json(policy(), "en")["regions"] is None
    found = declaration_json(policy(region_header="vercel", regions={"US-CA": "opt-out"}), "en")
    assert found["regions"] == {
        "header": "vercel",
        "rules": {"US-CA": "opt-out"},
        "unknown_region": "opt-in",
    }


def test_untranslated_opt_out_wording_is_marked_english_and_translations_are_not() -> None:
    site = Site(policy(region_header="cloudflare"), receipts=None)

    def notice(language: str, rule: Any = "opt-out") -> str:
        decision = site.guard.read(None, False, "shop.example.com", False, rule)
        found = site.injection(
            decision,
            method="GET",
            status=200,
            content_type=HTML,
            content_encoding=None,
            path="/",
            query="",
            accept_language=language,
        )
        assert found is not None
        return found.insert.decode()

    german = notice("de")
    assert "Meine personenbezogenen Daten nicht verkaufen oder weitergeben" in german
    assert 'lang="en"' not in german
    swedish = notice("sv")
    assert '<span lang="en">Do Not Sell or Share My Personal Information</span>' in swedish
    assert "Den här webbplatsen använder kakor för" in notice("sv", "notice")
    assert 'lang="en"' not in notice("sv", "notice").split("<form", 1)[1].split("</p>", 1)[0]
