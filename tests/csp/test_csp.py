"""The consent-aware Content-Security-Policy: the header per granted set, and the report endpoint.

Pure tests of the policy text first, then through :class:`Site`, then through both adapters
(the contract drivers), then hostile report bodies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cookieguard import Category, ConsentCodec, Policy
from cookieguard.core._consent import UNDECIDED
from cookieguard.core._guard import Decision
from cookieguard.core._messages import Request
from cookieguard.csp._csp import (
    ENFORCE_HEADER,
    REPORT_HEADER,
    ContentSecurity,
    CspReports,
    content_security,
    host_sources,
    is_document,
    parse_reports,
    path_sources,
)
from cookieguard.site._site import Site
from tests.harness import Driver, drivers, make_policy
from tests.slices import examples

CONSENT_ID = "c" * 22
ALL = frozenset({"preferences", "analytics", "marketing"})
PIXEL = "https://connect.facebook.net/en_US/fbevents.js"
#: The catalogue vendors a site uses (met in its pages or declared): all the CSP lists.
USED = frozenset(
    {
        "Google Analytics",
        "Google Tag Manager",
        "Hotjar",
        "Meta Pixel",
        "Google Ads",
        "YouTube",
        "Google Maps",
        "Facebook social plugins",
        "TikTok embeds",
    }
)


def directives(value: str) -> dict[str, list[str]]:
    """A policy text as {directive: [sources]} (CSP3 section 2.2.1 parsing, simplified)."""
    parsed: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            assert tokens[0] not in parsed, f"duplicate directive {tokens[0]}"
            parsed[tokens[0]] = tokens[1:]
    return parsed


def effective(value: str, directive: str) -> list[str]:
    """The sources a fetch directive ends up with, following the default-src fallback."""
    parsed = directives(value)
    return parsed.get(directive, parsed["default-src"])


def allows_host(value: str, directive: str, host: str) -> bool:
    """True if ``host`` matches a host source of ``directive`` (CSP3 section 6.7.2.7)."""
    for source in effective(value, directive):
        if source == host or (source.startswith("*.") and host.endswith(source[1:])):
            return True
        if source == "*" and "." in host:
            return True
    return False


def allows_url(value: str, directive: str, url: str) -> bool:
    """True if ``url`` matches a source of ``directive``, paths included (CSP3 6.7.2.8-12,
    scheme-less sources only, as we write them)."""
    split = urlsplit(url)
    host, path = split.hostname or "", split.path or "/"
    for source in effective(value, directive):
        if source in ("*", "'self'", "data:", "blob:") or source.startswith("'"):
            continue
        source_host, slash, source_path = source.partition("/")
        if not (
            source_host == host or (source_host.startswith("*.") and host.endswith(source_host[1:]))
        ):
            continue
        if not slash:
            return True
        source_path = "/" + source_path
        if source_path.endswith("/") and path.startswith(source_path):
            return True
        if path == source_path:
            return True
    return False


def csp_policy(**overrides: Any) -> Policy:
    return make_policy(csp="enforce", **overrides)


def header_of(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def consent_cookie(policy: Policy, granted: set[str]) -> str:
    return f"cookie_consent={ConsentCodec(policy).dumps(granted, CONSENT_ID)}"


# -- the policy text -----------------------------------------------------------------------


def test_host_sources_cover_subdomains_once() -> None:
    sources = host_sources(
        ["doubleclick.net", "stats.g.doubleclick.net", "connect.facebook.net", "www.x.com"]
    )
    assert sources == (
        "connect.facebook.net",
        "*.connect.facebook.net",
        "doubleclick.net",
        "*.doubleclick.net",
        "www.x.com",
    )


def test_hosts_under_one_domain_merge_unless_a_refused_host_shares_it() -> None:
    klaviyo = ["a.klaviyo.com", "static.klaviyo.com"]
    assert host_sources(klaviyo) == ("*.klaviyo.com",)
    assert host_sources(klaviyo, refused=["www.klaviyo.com"]) == (
        "a.klaviyo.com",
        "*.a.klaviyo.com",
        "static.klaviyo.com",
        "*.static.klaviyo.com",
    )
    # Granting analytics must not open www.google.com (a marketing embed) by a wildcard.
    assert "*.google.com" not in host_sources(
        ["analytics.google.com", "x.google.com"], refused=["www.google.com"]
    )
    # Shared hosting: anyone can publish under it.
    shared = host_sources(["a.cloudfront.net", "b.cloudfront.net"])
    assert "*.cloudfront.net" not in shared and "a.cloudfront.net" in shared
    # Country second levels count as part of the domain.
    assert host_sources(["a.shop.co.uk", "b.shop.co.uk"]) == ("*.shop.co.uk",)
    # broad (frame-src only) merges single hosts too.
    assert host_sources(["player.vimeo.com"], broad=True) == ("*.vimeo.com",)
    assert host_sources(["player.vimeo.com"]) == ("player.vimeo.com", "*.player.vimeo.com")


@pytest.mark.parametrize(
    "bad",
    [
        "evil.com; script-src *",
        "a b.com",
        "'unsafe-inline'",
        "x.com,y.com",
        "",
        "-a.com",
        "evil.com\n",
    ],
)
def test_malformed_hosts_never_reach_the_header(bad: str) -> None:
    assert host_sources([bad, "ok.example"]) == ("ok.example", "*.ok.example")


@pytest.mark.parametrize(
    ("status", "content_type", "expected"),
    [
        (200, "text/html; charset=utf-8", True),
        (404, "TEXT/HTML", True),
        (500, "application/xhtml+xml", True),
        (200, "text/plain", False),
        (200, "application/json", False),
        (200, None, False),
        (304, "text/html", False),
        (101, "text/html", False),
    ],
)
def test_only_documents_get_a_policy(status: int, content_type: str | None, expected: bool) -> None:
    assert is_document(status, content_type) is expected


def test_undecided_visitor_may_load_no_tracker() -> None:
    value = ContentSecurity(csp_policy()).value(frozenset(), USED)
    for directive in ("script-src", "connect-src", "img-src", "style-src"):
        sources = effective(value, directive)
        assert "'self'" in sources
        assert not [s for s in sources if "." in s], (directive, sources)
    assert not allows_host(value, "script-src", "connect.facebook.net")
    assert not allows_host(value, "connect-src", "region1.google-analytics.com")
    assert not allows_host(value, "img-src", "www.facebook.com")
    assert directives(value)["report-uri"] == ["/_cookieguard/csp-report"]


def test_granted_categories_open_their_vendors_hosts_only() -> None:
    security = ContentSecurity(csp_policy())
    analytics = security.value(frozenset({"analytics"}), USED)
    assert allows_host(analytics, "script-src", "www.googletagmanager.com")
    assert allows_host(analytics, "connect-src", "region1.google-analytics.com")
    assert allows_host(analytics, "script-src", "static.hotjar.com")
    assert not allows_host(analytics, "script-src", "connect.facebook.net")
    marketing = security.value(frozenset({"marketing"}), USED)
    assert allows_host(marketing, "script-src", "connect.facebook.net")
    assert allows_host(marketing, "img-src", "www.facebook.com")
    assert allows_host(marketing, "img-src", "stats.g.doubleclick.net")
    assert not allows_host(marketing, "connect-src", "region1.google-analytics.com")


def test_every_host_of_a_used_vendor_of_a_granted_category_is_allowed() -> None:
    policy = csp_policy()
    value = ContentSecurity(policy).value(ALL, USED)
    for vendor in policy.catalogue.vendors:
        if vendor.name not in USED:
            continue
        for host in vendor.hosts:
            for directive in ("script-src", "connect-src", "img-src", "frame-src", "style-src"):
                assert allows_host(value, directive, host), (directive, host)


def test_only_the_vendors_the_site_uses_are_listed() -> None:
    """Issue 24 / the 269-vendor catalogue: a granted category opens the hosts of the vendors
    the site uses (met in its pages or declared), not every catalogued one."""
    security = ContentSecurity(csp_policy())
    value = security.value(ALL, frozenset({"Google Analytics"}))
    assert allows_host(value, "script-src", "region1.google-analytics.com")
    for host in ("static.hotjar.com", "connect.facebook.net", "www.clarity.ms"):
        assert not allows_host(value, "script-src", host), host
    # A vendor met later joins the next header.
    later = security.value(ALL, frozenset({"Google Analytics", "Hotjar"}))
    assert allows_host(later, "script-src", "static.hotjar.com")


@pytest.mark.parametrize("granted", [(), ("analytics",), ("marketing",), tuple(ALL)])
def test_a_refused_categorys_host_is_never_allowed_whatever_the_site_uses(
    granted: tuple[str, ...],
) -> None:
    policy = csp_policy()
    everything = frozenset(v.name for v in policy.catalogue.vendors)
    value = ContentSecurity(policy).value(frozenset(granted), everything)
    granted_hosts = {h for v in policy.catalogue.vendors if v.category in granted for h in v.hosts}
    for category in ALL - set(granted):
        for host in policy.catalogue.hosts_for(category):
            parents = {host.split(".", i)[-1] for i in range(host.count("."))}
            if {host, *parents} & granted_hosts:
                # One host (or a parent: Yandex Maps' yandex.com) in two categories: granted.
                continue
            for directive in ("script-src", "connect-src", "img-src"):
                assert not allows_host(value, directive, host), (directive, host)


def test_necessary_hosts_and_csp_allow_are_always_there() -> None:
    categories = (
        Category("necessary", "Necessary", hosts=("auth.example.net",)),
        Category("analytics", "Analytics", hosts=("stats.example.org",)),
    )
    policy = csp_policy(
        categories=categories, cookies={}, csp_allow=["js.stripe.com", "https://cdn.example/x/"]
    )
    security = ContentSecurity(policy)
    none = security.value(frozenset())
    for directive in ("script-src", "connect-src", "img-src", "frame-src", "style-src"):
        assert allows_host(none, directive, "auth.example.net")
        assert allows_host(none, directive, "js.stripe.com")
        assert "https://cdn.example/x/" in effective(none, directive)
        assert not allows_host(none, directive, "stats.example.org")
    assert allows_host(security.value(frozenset({"analytics"})), "script-src", "stats.example.org")


def test_a_category_the_policy_lacks_is_ignored() -> None:
    security = ContentSecurity(csp_policy())
    assert security.value(frozenset({"nonsense"})) == security.value(frozenset())


def test_embed_hosts_stay_framable_for_click_to_load() -> None:
    # "Load once" puts a YouTube iframe back without granting marketing: frame-src must allow
    # it, and only frame-src.
    value = ContentSecurity(csp_policy()).value(frozenset(), USED)
    assert allows_host(value, "frame-src", "www.youtube.com")
    assert not allows_host(value, "script-src", "www.youtube.com")
    assert not allows_host(value, "frame-src", "www.googletagmanager.com")
    # An embed the site does not use is not listed.
    assert not allows_host(value, "frame-src", "player.vimeo.com")
    # Without auto-blocking there are no placeholders, so nothing is pre-allowed.
    plain = ContentSecurity(csp_policy(auto_block=False)).value(frozenset(), USED)
    assert not allows_host(plain, "frame-src", "www.youtube.com")
    # Once marketing is granted the host list already covers the embeds: no second copy.
    granted = ContentSecurity(csp_policy()).value(frozenset({"marketing"}), USED)
    assert "frame-src" not in directives(granted)


GATED_TOO = ("font-src", "media-src", "object-src", "manifest-src", "worker-src")


def test_fonts_media_objects_and_manifests_are_gated_like_scripts() -> None:
    """Red-team K8: font-src/media-src/object-src * let @font-face, new Audio(url) and an
    injected <object data> reach Meta before consent. They fall back to default-src now."""
    policy = csp_policy(csp_allow=["fonts.example-cdn.net"])
    security = ContentSecurity(policy)
    none = security.value(frozenset())
    parsed = directives(none)
    for directive in GATED_TOO:
        assert directive not in parsed  # the default-src fallback (CSP3 section 6.8.3)
        assert "*" not in effective(none, directive)
        assert "'self'" in effective(none, directive)
        assert "data:" in effective(none, directive)
        assert allows_host(none, directive, "fonts.example-cdn.net")  # csp_allow: the way out
        assert not allows_host(none, directive, "connect.facebook.net")
        assert not allows_host(none, directive, "www.facebook.com")
    granted = security.value(frozenset({"marketing"}), USED)
    for directive in GATED_TOO:
        assert allows_host(granted, directive, "connect.facebook.net")


def test_shared_embed_hosts_are_framable_by_their_embed_paths_only() -> None:
    """Red-team K8: frame-src held www.facebook.com, www.google.com and www.tiktok.com whole,
    so an injected <iframe src=https://www.facebook.com/tr?...> reached the pixel."""
    value = ContentSecurity(csp_policy()).value(frozenset(), USED)
    for url in (
        "https://www.google.com/maps/embed?pb=!1m18",
        "https://maps.google.com/maps/embed?pb=1",
        "https://www.google.de/maps/embed?pb=!1m1",
        "https://www.google.co.uk/maps/embed/v1/place?q=x",
        "https://www.facebook.com/plugins/page.php?href=x",
        "https://www.facebook.com/v2.0/plugins/like.php?href=x",
        "https://www.tiktok.com/embed/v2/7100000000000000000",
        "https://www.tiktok.com/player/v1/7100000000000000000",
        "https://www.youtube.com/embed/abc",
    ):
        assert allows_url(value, "frame-src", url), url
    for url in (
        "https://www.facebook.com/tr?id=1&ev=PageView",
        "https://www.facebook.com/pluginsx/",
        "https://www.google.com/pagead/1p-conversion/1/",
        "https://www.google.de/pagead/1p-user-list/1/",
        "https://www.google.com/",
        "https://www.tiktok.com/@someone",
    ):
        assert not allows_url(value, "frame-src", url), url
        assert not allows_url(value, "img-src", url), url
    # Granted, the vendor's hosts are allowed whole (they are in default-src).
    granted = ContentSecurity(csp_policy()).value(frozenset({"marketing"}), USED)
    assert allows_url(granted, "frame-src", "https://www.facebook.com/tr?id=1")


def test_granted_hosts_keep_their_subdomains_framable() -> None:
    # frame-src repeats the granted hosts as domain wildcards (Hotjar frames vars.hotjar.com).
    value = ContentSecurity(csp_policy()).value(frozenset({"analytics"}), USED)
    assert "frame-src" in directives(value)
    assert allows_host(value, "frame-src", "vars.hotjar.com")
    assert allows_host(value, "frame-src", "www.googletagmanager.com")
    assert allows_host(value, "frame-src", "www.youtube.com")  # click-to-load
    assert not allows_url(value, "frame-src", "https://www.facebook.com/tr?id=1")


def test_site_declared_hosts_keep_their_bare_name_in_frame_src() -> None:
    categories = (
        Category("analytics", "Analytics", hosts=("stats.example",)),
        Category("marketing", "Marketing"),
    )
    value = ContentSecurity(csp_policy(categories=categories, cookies={})).value(
        frozenset({"analytics"}), USED
    )
    assert "frame-src" in directives(value)  # the embeds (marketing) are not granted
    assert allows_host(value, "frame-src", "stats.example")
    assert allows_host(value, "frame-src", "www.stats.example")


def test_path_sources() -> None:
    assert path_sources("www.google.com", ["/maps"]) == ("www.google.com/maps/",)
    assert path_sources("WWW.Google.com.", ["/maps/"]) == ("www.google.com/maps/",)
    assert path_sources("www.tiktok.com", ["/embed.js", "/player"]) == (
        "www.tiktok.com/embed.js",
        "www.tiktok.com/player/",
    )
    # Separators, quotes, spaces and control characters never reach the header.
    bad = ["/a;script-src *", "/a,b", "/a b", "/a'", "/a\n", "maps", "/a\r\nX: y"]
    assert path_sources("www.google.com", bad) == ()
    assert path_sources("bad host", ["/maps"]) == ()


def test_our_policy_never_refuses_inline_code() -> None:
    # The app's own policy governs inline code; ours is about hosts only.
    value = ContentSecurity(csp_policy()).value(frozenset())
    assert "'unsafe-inline'" in effective(value, "script-src")
    assert "'unsafe-eval'" in effective(value, "script-src")
    assert "'unsafe-inline'" in effective(value, "style-src")
    assert "data:" in effective(value, "img-src")


# Issue 20 grew the catalogue to 269 vendors: listing every catalogued host of a granted
# category made a 7.7 KB (analytics) to 12.1 KB (everything) policy. It now lists the vendors
# the site uses (met in its pages or declared): a site with 30 of them stays well under.
THIRTY = frozenset(
    {
        "Google Analytics", "Google Tag Manager", "Hotjar", "Microsoft Clarity", "Matomo Cloud",
        "Meta Pixel", "Google Ads", "TikTok Pixel", "LinkedIn Insight Tag",
        "Microsoft Advertising UET",
        "YouTube", "Vimeo", "Google Maps", "X embeds", "Instagram embeds", "Spotify embeds",
        "Facebook social plugins", "TikTok embeds", "Pinterest widgets", "Calendly",
        "Segment", "Mixpanel", "Amplitude", "HubSpot", "Intercom", "Criteo", "Taboola",
        "Outbrain", "Pinterest Tag", "Snap Pixel",
    }
)  # fmt: skip


def test_thirty_vendors_are_in_the_catalogue() -> None:
    names = {v.name for v in csp_policy().catalogue.vendors}
    assert names >= THIRTY, sorted(THIRTY - names)


@pytest.mark.parametrize("granted", [(), ("analytics",), ("marketing",), tuple(ALL)])
def test_header_stays_small(granted: tuple[str, ...]) -> None:
    # nginx's default proxy_buffer_size is one memory page (4 KB on x86-64) for all response
    # headers together; a bigger policy means a 502. Growing the catalogue must keep this.
    value = ContentSecurity(csp_policy()).value(frozenset(granted), THIRTY)
    assert len(value) < 2048, len(value)


def test_report_uri_follows_the_prefix() -> None:
    value = ContentSecurity(csp_policy(prefix="/consent")).value(frozenset())
    assert directives(value)["report-uri"] == ["/consent/csp-report"]


def test_modes_pick_the_header_and_vary_on_cookie() -> None:
    enforce = ContentSecurity(csp_policy()).headers(frozenset())
    assert [k for k, _ in enforce] == [ENFORCE_HEADER, "vary"]
    assert header_of(enforce, "vary") == "Cookie"
    report = ContentSecurity(make_policy(csp="report")).headers(frozenset())
    assert [k for k, _ in report] == [REPORT_HEADER, "vary"]


def test_header_is_built_once_per_granted_set() -> None:
    policy = csp_policy()
    security = content_security(policy)
    assert content_security(policy) is security
    first = security.headers(frozenset({"analytics"}))
    assert security.headers(frozenset({"analytics"})) is first
    assert security.headers(frozenset({"marketing"})) is not first


def test_the_per_policy_cache_does_not_keep_policies_alive() -> None:
    import gc
    import weakref

    policy = csp_policy()
    security = content_security(policy)
    assert content_security(policy) is security  # built once, kept with the policy
    security.headers(frozenset())
    ref = weakref.ref(policy)
    del policy, security
    gc.collect()
    assert ref() is None


def test_csp_off_cannot_build_a_policy() -> None:
    with pytest.raises(ValueError, match="csp="):
        ContentSecurity(make_policy())


# -- through Site --------------------------------------------------------------------------


def decision_for(site: Site, cookie: str | None, gpc: bool = False) -> Decision:
    return site.guard.read(cookie, gpc, "shop.example.com", False)


def test_site_adds_nothing_when_csp_is_off() -> None:
    site = Site(make_policy())
    assert site.page_headers(decision_for(site, None), status=200, content_type="text/html") == ()


def test_site_page_headers_follow_the_visitors_consent() -> None:
    policy = csp_policy()
    site = Site(policy)
    undecided = site.page_headers(decision_for(site, None), status=200, content_type="text/html")
    value = header_of(undecided, ENFORCE_HEADER)
    assert value is not None and not allows_host(value, "script-src", "connect.facebook.net")
    cookie = consent_cookie(policy, set(ALL))
    granted = site.page_headers(decision_for(site, cookie), status=200, content_type="text/html")
    value = header_of(granted, ENFORCE_HEADER)
    assert value is not None and allows_host(value, "script-src", "connect.facebook.net")
    plain = site.page_headers(decision_for(site, cookie), status=200, content_type="text/css")
    assert plain == ()


def test_gpc_keeps_marketing_hosts_out() -> None:
    policy = csp_policy()
    site = Site(policy)
    decision = decision_for(site, consent_cookie(policy, set(ALL)), gpc=True)
    value = header_of(
        site.page_headers(decision, status=200, content_type="text/html"), ENFORCE_HEADER
    )
    assert value is not None
    assert allows_host(value, "connect-src", "region1.google-analytics.com")
    assert not allows_host(value, "script-src", "connect.facebook.net")


# -- through both adapters -----------------------------------------------------------------


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return drivers(csp_policy())[request.param]


@pytest.mark.parametrize("path", ["/html", "/stream"])
def test_adapters_send_the_policy_with_html(driver: Driver, path: str) -> None:
    response = driver.get(path)
    values = response.headers_named(ENFORCE_HEADER)
    assert len(values) == 1
    assert not allows_host(values[0], "script-src", "connect.facebook.net")
    assert "Cookie" in [v.strip() for v in ",".join(response.headers_named("vary")).split(",")]
    accepted = driver.get(path, cookie=consent_cookie(csp_policy(), set(ALL)))
    assert allows_host(accepted.header(ENFORCE_HEADER) or "", "script-src", "connect.facebook.net")


@pytest.mark.parametrize("path", ["/echo", "/delete", "/_cookieguard/consent"])
def test_adapters_send_no_policy_with_other_responses(driver: Driver, path: str) -> None:
    assert driver.get(path).header(ENFORCE_HEADER) is None


def csp2_report(blocked: str = PIXEL, directive: str = "script-src-elem", **extra: str) -> bytes:
    body = {
        "document-uri": "https://shop.example.com/checkout?order=123",
        "referrer": "",
        "violated-directive": directive,
        "effective-directive": directive,
        "original-policy": "default-src 'self'",
        "disposition": "enforce",
        "blocked-uri": blocked,
        "status-code": 200,
        **extra,
    }
    return json.dumps({"csp-report": body}).encode()


def reporting_batch(*blocked: str, kind: str = "csp-violation") -> bytes:
    return json.dumps(
        [
            {
                "type": kind,
                "age": 10,
                "url": "https://shop.example.com/",
                "user_agent": "Chrome",
                "body": {
                    "documentURL": "https://shop.example.com/cart",
                    "blockedURL": url,
                    "effectiveDirective": "connect-src",
                    "originalPolicy": "default-src 'self'",
                    "disposition": "report",
                    "statusCode": 200,
                },
            }
            for url in blocked
        ]
    ).encode()


CSP_REPORT = [("Content-Type", "application/csp-report")]
REPORTS_JSON = [("Content-Type", "application/reports+json")]


def post(driver: Driver, body: bytes, headers: list[tuple[str, str]] | None = None) -> Any:
    return driver.request(
        "POST", "/_cookieguard/csp-report", headers=headers or CSP_REPORT, body=body
    )


def test_csp2_report_is_taken_and_logged_once_with_vendor_and_category(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        first = post(driver, csp2_report())
        second = post(driver, csp2_report())
    assert (first.status, second.status) == (204, 204)
    assert first.body == b""
    lines = [r.getMessage() for r in caplog.records if "CSP" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "connect.facebook.net" in lines[0]
    assert "Meta Pixel" in lines[0]
    assert "'marketing'" in lines[0]
    assert "/checkout" in lines[0] and "order=123" not in lines[0]  # no query strings logged


def test_reporting_api_batch_is_taken(driver: Driver, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        reply = post(
            driver,
            reporting_batch(
                "https://region1.google-analytics.com/g/collect", "https://cdn.acme.example/a.js"
            ),
            REPORTS_JSON,
        )
    assert reply.status == 204
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "would block region1.google-analytics.com (connect-src)" in text
    assert "'analytics'" in text
    # A host the catalogue does not know: named, but no csp_allow advice from one page (K10).
    assert "cdn.acme.example" in text and "csp_allow" not in text


@pytest.mark.parametrize(
    ("method", "status"), [("GET", 405), ("HEAD", 405), ("PUT", 405), ("DELETE", 405)]
)
def test_report_endpoint_is_post_only(driver: Driver, method: str, status: int) -> None:
    reply = driver.request(method, "/_cookieguard/csp-report", headers=CSP_REPORT)
    assert reply.status == status


BAD_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00",
    b"[]",
    b"{}",
    b"null",
    b"42",
    b'"csp-report"',
    b'{"csp-report": null}',
    b'{"csp-report": {"blocked-uri": 5, "violated-directive": "img-src"}}',
    b'{"csp-report": {"blocked-uri": "https://x.example"}}',
    b"[" * 1500 + b"]" * 1500,
    b'{"a":' * 600 + b"1" + b"}" * 600,
    b'[1, "two", null]',
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_malformed_reports_are_400(driver: Driver, body: bytes) -> None:
    assert post(driver, body).status == 400


def test_other_report_types_are_taken_silently(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        reply = post(
            driver, reporting_batch("https://x.example/", kind="deprecation"), REPORTS_JSON
        )
    assert reply.status == 204
    assert not [r for r in caplog.records if "CSP" in r.getMessage()]


@pytest.mark.parametrize("kind", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_415(driver: Driver, kind: str) -> None:
    assert post(driver, csp2_report(), [("Content-Type", kind)]).status == 415


def test_huge_body_is_413(driver: Driver) -> None:
    body = csp2_report(sample="x" * 10_000)
    assert post(driver, body).status == 413


def test_deep_nesting_never_reaches_the_parser_even_with_a_large_body_limit() -> None:
    big = drivers(csp_policy(max_body=1 << 20))
    for driver in big.values():
        assert post(driver, b"[" * 400_000 + b"]" * 400_000).status == 413  # over 64 KB
        assert post(driver, b"[" * 30_000 + b"]" * 30_000).status == 400


def test_endpoint_is_404_when_csp_is_off() -> None:
    for driver in drivers(make_policy()).values():
        assert post(driver, csp2_report()).status == 404


def test_log_lines_carry_no_control_characters(caplog: pytest.LogCaptureFixture) -> None:
    body = csp2_report(blocked="inline\r\nFAKE LOG LINE", directive="script-src\x1b[31m")
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        assert post(drivers(csp_policy())["wsgi"], body).status == 204
    text = "".join(r.getMessage() for r in caplog.records)
    assert "\n" not in text and "\r" not in text and "\x1b" not in text


# -- bounds: floods and memory -------------------------------------------------------------


def report_request(body: bytes, kind: str = "application/csp-report") -> Request:
    return Request(
        method="POST",
        path="/_cookieguard/csp-report",
        query="",
        headers=(("content-type", kind),),
        scheme="https",
        decision=Decision(UNDECIDED),
        body=body,
    )


def test_a_flood_gets_429_then_nothing_more_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    from cookieguard.csp import _csp

    reports = CspReports(csp_policy(), per_window=5)
    request = report_request(csp2_report())
    statuses = [reports.receive(request).status for _ in range(8)]
    assert statuses == [204] * 5 + [429] * 3
    reply = reports.receive(request)
    assert ("retry-after", "60") in reply.headers
    assert reports.summary()[0]["count"] == 5
    # 20 times per_window requests in all: then a 429 before the body is even parsed.
    for i in range(5 * 20 - 9):
        reports.receive(report_request(csp2_report(f"https://h{i}.example/")))
    parsed: list[bytes] = []
    monkeypatch.setattr(_csp, "parse_reports", lambda body: parsed.append(body))
    assert reports.receive(report_request(csp2_report("https://new.example/"))).status == 429
    assert parsed == []


def test_distinct_violations_kept_are_bounded_and_logging_is_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from cookieguard.csp import _csp

    reports = CspReports(csp_policy(), per_window=10_000)
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        for i in range(_csp._MAX_DISTINCT * 3):
            reply = reports.receive(report_request(csp2_report(f"https://h{i}.example/x.js")))
            assert reply.status == 204
    assert len(reports.summary()) <= _csp._MAX_DISTINCT
    assert {row["blocked"] for row in reports.summary()} >= {f"h{3071}.example"}  # the newest
    full = [r for r in caplog.records if "not logged" in r.getMessage()]
    assert len(full) == 1
    assert len(caplog.records) == _csp._LOG_PER_WINDOW + 1


def test_eviction_keeps_catalogued_and_frequently_reported_violations() -> None:
    from cookieguard.csp import _csp

    reports = CspReports(csp_policy(), per_window=10_000)

    def junk(start: int, stop: int) -> None:  # forged, each once
        for i in range(start, stop):
            reports.receive(report_request(csp2_report(f"https://junk{i}.attacker.example/")))

    junk(0, _csp._MAX_DISTINCT)  # the table is full before the real violations arrive
    for _ in range(3):
        reports.receive(report_request(csp2_report("https://fonts.real-cdn.example/a.woff2")))
    reports.receive(report_request(csp2_report(PIXEL)))
    junk(_csp._MAX_DISTINCT, _csp._MAX_DISTINCT * 4)
    kept = {row["blocked"]: row["count"] for row in reports.summary()}
    assert kept["connect.facebook.net"] == 1  # catalogued: evicted last
    assert kept["fonts.real-cdn.example"] == 3  # reported more often than the junk
    assert len(kept) <= _csp._MAX_DISTINCT


def test_csp_allow_advice_needs_a_second_page(caplog: pytest.LogCaptureFixture) -> None:
    """Red-team K10: one forged report made a log line advising csp_allow=['attacker...']."""
    reports = CspReports(csp_policy())
    host = "https://cdn.acme.example/a.js"
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        for _ in range(3):
            assert reports.receive(report_request(csp2_report(host))).status == 204
        assert not [r for r in caplog.records if "csp_allow" in r.getMessage()]
        other = csp2_report(host, **{"document-uri": "https://shop.example.com/about"})
        assert reports.receive(report_request(other)).status == 204
        reports.receive(report_request(other))
    advice = [r.getMessage() for r in caplog.records if "csp_allow" in r.getMessage()]
    assert len(advice) == 1, advice
    assert "csp_allow=['cdn.acme.example']" in advice[0]
    assert "/about" in advice[0] and "/checkout" in advice[0]
    assert "not authenticated" in advice[0]
    row = reports.summary()[0]
    assert (row["count"], row["pages"]) == (5, 2)


def host_request(body: bytes, *headers: tuple[str, str]) -> Request:
    return Request(
        method="POST",
        path="/_cookieguard/csp-report",
        query="",
        headers=(("content-type", "application/csp-report"), *headers),
        scheme="https",
        decision=Decision(UNDECIDED),
        body=body,
    )


def test_reports_count_only_for_pages_of_this_site(caplog: pytest.LogCaptureFixture) -> None:
    reports = CspReports(csp_policy())
    ours = csp2_report()  # document-uri https://shop.example.com/checkout
    theirs = csp2_report(**{"document-uri": "https://other.example/"})
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        assert reports.receive(host_request(theirs, ("host", "shop.example.com"))).status == 403
        assert reports.receive(host_request(theirs, ("host", "shop.example.com"))).status == 403
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1 and "X-Forwarded-Host" in refused[0]
    assert reports.summary() == []
    assert reports.receive(host_request(ours, ("host", "SHOP.example.com:8443"))).status == 204
    # Behind a proxy that rewrites Host: the original arrives in X-Forwarded-Host.
    proxied = host_request(
        ours, ("host", "127.0.0.1:8000"), ("x-forwarded-host", "shop.example.com, edge")
    )
    assert reports.receive(proxied).status == 204
    assert reports.summary()[0]["count"] == 2
    # A batch with pages of both: ours are taken, theirs dropped.
    batch = json.dumps(
        [
            {
                "type": "csp-violation",
                "body": {
                    "blockedURL": PIXEL,
                    "documentURL": url,
                    "effectiveDirective": "script-src-elem",
                },
            }
            for url in ("https://other.example/", "https://shop.example.com/x")
        ]
    ).encode()
    assert reports.receive(host_request(batch, ("host", "shop.example.com"))).status == 204
    assert sum(row["count"] for row in reports.summary()) == 3


def test_the_budget_is_per_page_and_blocked_host() -> None:
    """Red-team K10: one client spending the global budget got every browser's report 429'd."""
    reports = CspReports(csp_policy(), per_window=5)
    flood = report_request(csp2_report("https://junk.attacker.example/x.js"))
    assert [reports.receive(flood).status for _ in range(7)] == [204] * 5 + [429] * 2
    assert reports.receive(report_request(csp2_report())).status == 204  # another host
    elsewhere = csp2_report(**{"document-uri": "https://shop.example.com/"})
    assert reports.receive(report_request(elsewhere)).status == 204  # the same, another page


def test_a_full_budget_table_takes_new_reports_untracked(monkeypatch: pytest.MonkeyPatch) -> None:
    # Forged keys filling the per-window table must not refuse every new real one: past the
    # table's bound reports are taken untracked (the total budget still bounds the work).
    from cookieguard.csp import _csp

    monkeypatch.setattr(_csp, "_MAX_BUCKETS", 10)
    reports = CspReports(csp_policy(), per_window=2)
    for i in range(10):
        assert reports.receive(report_request(csp2_report(f"https://j{i}.example/"))).status == 204
    for _ in range(3):
        assert reports.receive(report_request(csp2_report())).status == 204
    assert reports.receive(report_request(csp2_report("https://j0.example/"))).status == 204
    assert reports.receive(report_request(csp2_report("https://j0.example/"))).status == 429


def test_forged_directive_names_are_one_entry() -> None:
    reports = CspReports(csp_policy(), per_window=10_000)
    for i in range(50):
        reports.receive(report_request(csp2_report(PIXEL, f"script-src-{i} x" + "y" * 60)))
        reports.receive(report_request(csp2_report(PIXEL, f"x{i};<b>")))
    directives_seen = {row["directive"] for row in reports.summary()}
    assert "unknown" in directives_seen and len(directives_seen) <= 51


def test_a_batch_entry_without_a_blocked_url_is_skipped() -> None:
    body = json.dumps([{"type": "csp-violation", "body": {"effectiveDirective": "img-src"}}])
    assert parse_reports(body.encode()) == []


def test_a_batch_is_read_only_so_far() -> None:
    urls = [f"https://h{i}.example/" for i in range(100)]
    found = parse_reports(reporting_batch(*urls))
    assert found is not None and len(found) == 20


def test_keywords_and_schemes_are_reported_as_such() -> None:
    for blocked, expected in [
        ("inline", "inline"),
        ("eval", "eval"),
        ("data:image/png", "data"),
        ("blob", "blob"),
        ("https://[::1", "?"),
    ]:
        found = parse_reports(csp2_report(blocked))
        assert found is not None and found[0].blocked == expected, blocked
    found = parse_reports(csp2_report(**{"document-uri": "http://[::1"}))
    assert found is not None and found[0].page == "?"


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=600)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "csp-report",
                        "type",
                        "body",
                        "blocked-uri",
                        "blockedURL",
                        "violated-directive",
                        "effectiveDirective",
                        "document-uri",
                        "documentURL",
                        "disposition",
                    ]
                )
                | st.text(max_size=5),
                inner,
                max_size=5,
            )
        ),
        max_leaves=30,
    ).map(lambda data: json.dumps(data).encode())
)
def test_any_body_gets_a_4xx_or_204(body: bytes) -> None:
    reports = CspReports(csp_policy(), per_window=1_000_000)
    for kind in ("application/csp-report", "application/reports+json"):
        status = reports.receive(report_request(body, kind)).status
        assert status in (204, 400), (status, body)


# -- the first view of a page names what it loads (issue 24) -----------------------------------

VIDEO_PAGE = (
    b"<!doctype html><html><head><title>t</title></head><body>"
    b'<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>'
    b"</body></html>"
)


def _video_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response(
        "200 OK",
        [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(VIDEO_PAGE)))],
    )
    return [VIDEO_PAGE]


async def _video_asgi(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(VIDEO_PAGE)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": VIDEO_PAGE})


@pytest.mark.parametrize("kind", ["asgi", "wsgi"])
def test_a_buffered_pages_policy_is_made_after_its_body_met_its_vendors(kind: str) -> None:
    """A fresh site's first page with a YouTube embed: its header, made when the headers
    were held, must already let "Load once" frame YouTube (the body's edit met it)."""
    from cookieguard import asgi as cg_asgi
    from cookieguard import wsgi as cg_wsgi
    from tests.harness import AsgiDriver, WsgiDriver

    policy = csp_policy()
    driver: Driver = (
        AsgiDriver(cg_asgi.ConsentMiddleware(_video_asgi, policy=policy))
        if kind == "asgi"
        else WsgiDriver(cg_wsgi.ConsentMiddleware(_video_wsgi, policy))
    )
    response = driver.get("/")
    assert b"data-cookieguard-embed" in response.body  # a placeholder: marketing refused
    (value,) = response.headers_named(ENFORCE_HEADER)
    assert allows_host(value, "frame-src", "www.youtube.com")
    assert not allows_host(value, "script-src", "www.youtube.com")
