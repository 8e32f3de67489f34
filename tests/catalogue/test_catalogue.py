"""The known-tracker catalogue: its data, its lookups, its merge with a policy, its build."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cookieguard import Category, Policy
from cookieguard.catalogue._catalogue import (
    Catalogue,
    CookieFact,
    Vendor,
    load_catalogue,
    merge,
    split_url,
)
from cookieguard.core._guard import Guard

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 32
CATEGORIES = {"necessary", "preferences", "analytics", "marketing"}
COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]+$")
HOST = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")
FACTS = "open-cookie-database.facts.csv"


def _build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_catalogue", ROOT / "scripts" / "build_catalogue.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


# --- the data ------------------------------------------------------------------------------


def test_every_entry_has_the_right_shape(catalogue: Catalogue) -> None:
    names = [vendor.name for vendor in catalogue.vendors]
    assert len(names) == len(set(names))
    for vendor in catalogue.vendors:
        assert isinstance(vendor, Vendor)
        assert vendor.name.strip() and vendor.provider.strip(), vendor
        assert vendor.category in CATEGORIES, vendor.name
        assert vendor.hosts and isinstance(vendor.hosts, tuple), vendor.name
        assert all(HOST.match(host) for host in vendor.hosts), vendor.hosts
        assert isinstance(vendor.paths, tuple)
        assert all(path.startswith("/") for path in vendor.paths), vendor.paths
        assert isinstance(vendor.embed, bool)
        assert vendor.privacy_url == "" or vendor.privacy_url.startswith("https://"), vendor
        assert isinstance(vendor.cookies, tuple)
        for fact in vendor.cookies:
            assert isinstance(fact, CookieFact)
            assert fact.pattern and fact.pattern == fact.pattern.strip(), fact
            # A cookie name is an RFC 6265 token (plus glob characters); storage keys are free.
            assert fact.storage or COOKIE_NAME.match(fact.pattern), fact
            assert isinstance(fact.retention, str)
            assert fact.max_age is None or (isinstance(fact.max_age, int) and fact.max_age >= 0)
            assert isinstance(fact.storage, bool)


def test_covers_at_least_fifty_vendors_with_a_version(catalogue: Catalogue) -> None:
    assert len(catalogue.vendors) >= 50
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", catalogue.version)
    assert str(len(catalogue.vendors)) in repr(catalogue)


@pytest.mark.parametrize(
    ("name", "category", "embed"),
    [
        # DESIGN.md "Default categories of the best-known vendors".
        ("Google Analytics", "analytics", False),
        ("Google Tag Manager", "analytics", False),
        ("Hotjar", "analytics", False),
        ("Microsoft Clarity", "analytics", False),
        ("Matomo Cloud", "analytics", False),
        ("Google Ads", "marketing", False),
        ("Meta Pixel", "marketing", False),
        ("TikTok Pixel", "marketing", False),
        ("LinkedIn Insight Tag", "marketing", False),
        ("Microsoft Advertising UET", "marketing", False),
        ("YouTube", "marketing", True),
        ("Vimeo", "marketing", True),
        ("Google Maps", "marketing", True),
        ("X embeds", "marketing", True),
        ("Instagram embeds", "marketing", True),
        ("Spotify embeds", "marketing", True),
    ],
)
def test_best_known_vendors_have_their_default_category(
    catalogue: Catalogue, name: str, category: str, embed: bool
) -> None:
    vendor = {v.name: v for v in catalogue.vendors}[name]
    assert (vendor.category, vendor.embed) == (category, embed)


def test_retention_is_converted_to_seconds(catalogue: Catalogue) -> None:
    facts = {f.pattern: f for v in catalogue.vendors for f in v.cookies if not f.storage}
    assert facts["_ga"].max_age == 2 * 365 * 86400
    assert facts["_gid"].max_age == 86400
    assert facts["_ga_*"].retention == "2 years"
    build = _build_script()
    assert build.max_age("session") is None
    assert build.max_age("30 minutes after last activity") == 1800
    assert build.max_age("30 seconds till 1 year") == 365 * 86400  # the longest it can live
    assert build.max_age("Varies") is None


# --- hosts and URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("google-analytics.com", "Google Analytics"),
        ("www.google-analytics.com", "Google Analytics"),
        ("region1.google-analytics.com", "Google Analytics"),
        ("stats.g.doubleclick.net", "Google Ads"),
        ("WWW.Clarity.MS", "Microsoft Clarity"),
        ("static.hotjar.com.", "Hotjar"),
        ("static.hotjar.com:443", "Hotjar"),
        ("connect.facebook.net", "Meta Pixel"),
        ("snap.licdn.com", "LinkedIn Insight Tag"),
        ("www.googletagmanager.com", "Google Analytics"),  # gtag.js; gtm.js by its path
        ("evilhotjar.com", None),
        ("hotjar.com.evil.example", None),
        ("licdn.com", None),  # only snap.licdn.com is the tag; the rest is LinkedIn's CDN
        ("www.google.com", None),  # shared: Maps and Ads only by path
        ("example.com", None),
        ("", None),
        ("[::1]", None),
    ],
)
def test_vendor_for_host(catalogue: Catalogue, host: str, expected: str | None) -> None:
    vendor = catalogue.vendor_for_host(host)
    assert (vendor.name if vendor else None) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.googletagmanager.com/gtm.js?id=GTM-XXXX", "Google Tag Manager"),
        ("https://www.googletagmanager.com/ns.html?id=GTM-XXXX", "Google Tag Manager"),
        ("https://www.googletagmanager.com/gtag/js?id=G-XXXX", "Google Analytics"),
        ("//connect.facebook.net/en_US/fbevents.js", "Meta Pixel"),
        ("https://www.facebook.com/tr?id=1&ev=PageView&noscript=1", "Meta Pixel"),
        ("https://www.facebook.com/plugins/page.php?href=x", "Facebook social plugins"),
        ("HTTPS://Static.Hotjar.COM/c/hotjar-1.js?sv=6", "Hotjar"),
        ("http://www.clarity.ms/tag/abc", "Microsoft Clarity"),
        ("https://www.youtube.com/embed/dQw4w9WgXcQ", "YouTube"),
        ("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ", "YouTube"),
        ("https://player.vimeo.com/video/1", "Vimeo"),
        ("https://www.google.com/maps/embed?pb=!1m18", "Google Maps"),
        ("https://www.google.com/maps", "Google Maps"),
        ("https://www.google.com/mapsearch", None),  # a path prefix is whole segments
        # Red-team K4: Maps embeds on Google's country domains.
        ("https://www.google.de/maps/embed?pb=!1m1", "Google Maps"),
        ("https://www.google.co.uk/maps?q=London&output=embed", "Google Maps"),
        ("https://www.google.com.au/maps/embed?pb=!1m1", "Google Maps"),
        ("https://www.google.fr/search?q=x", None),  # only /maps on a country domain
        # TikTok embeds by their paths only (the whole host in frame-src was red-team K8).
        ("https://www.tiktok.com/embed/v2/7100000000000000000", "TikTok embeds"),
        ("https://www.tiktok.com/player/v1/7100000000000000000", "TikTok embeds"),
        ("https://www.tiktok.com/embed.js", "TikTok embeds"),
        ("https://www.google.com/pagead/1p-conversion/1/", "Google Ads conversions"),
        ("https://user:pw@px.ads.linkedin.com:443/collect?pid=1", "LinkedIn Insight Tag"),
        ("https://analytics.tiktok.com/i18n/pixel/events.js", "TikTok Pixel"),
        ("https://bat.bing.com/bat.js", "Microsoft Advertising UET"),
        # What a browser does with the attribute value, so must we (WHATWG URL parser).
        ("  https://www.google-analytics.com/g/collect \n", "Google Analytics"),
        ("https://www.google-\nanalytics.com/analytics.js", "Google Analytics"),
        ("https:\\\\connect.facebook.net\\en_US\\fbevents.js", "Meta Pixel"),
        ("https:connect.facebook.net/en_US/fbevents.js", "Meta Pixel"),
        ("https:///static.hotjar.com/c/x.js", "Hotjar"),
        ("https://www.google%2Danalytics.com/analytics.js", "Google Analytics"),
        ("https://www。google-analytics。com/analytics.js", "Google Analytics"),
        # Relative and first-party: never a vendor.
        ("/static/app.js", None),
        ("js/app.js", None),
        ("connect.facebook.net/en_US/fbevents.js", None),  # relative to the page, as written
        ("?v=1", None),
        ("#top", None),
        ("", None),
        ("data:text/javascript,alert(1)", None),
        ("javascript:void(0)", None),
        ("blob:https://connect.facebook.net/1", None),
        ("https://", None),
        ("https://[2001:db8::1]/x.js", None),
    ],
)
def test_vendor_for_url(catalogue: Catalogue, url: str, expected: str | None) -> None:
    vendor = catalogue.vendor_for_url(url)
    assert (vendor.name if vendor else None) == expected


def test_split_url_returns_host_and_path() -> None:
    assert split_url("https://A.Example:8443/p/q?x#y") == ("a.example", "/p/q")
    assert split_url("//a.example") == ("a.example", "/")
    assert split_url("ftp://a.example/x") is None


# Hosts that must never be treated as trackers: CDNs, payment providers, bot protection,
# fonts. Blocking them breaks sites (issue 10: "Never over-block").
NEVER_BLOCKED = [
    "https://js.stripe.com/v3/",
    "https://m.stripe.network/inner.html",
    "https://cdn.jsdelivr.net/npm/alpinejs@3/dist/cdn.min.js",
    "https://unpkg.com/htmx.org@1.9.10",
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js",
    "https://ajax.googleapis.com/ajax/libs/jquery/3.7.1/jquery.min.js",
    "https://www.paypal.com/sdk/js?client-id=x",
    "https://www.paypalobjects.com/api/checkout.js",
    "https://www.google.com/recaptcha/api.js",
    "https://www.gstatic.com/recaptcha/releases/x/recaptcha__en.js",
    "https://www.recaptcha.net/recaptcha/api.js",
    "https://js.hcaptcha.com/1/api.js",
    "https://hcaptcha.com/1/api.js",
    "https://challenges.cloudflare.com/turnstile/v0/api.js",
    "https://fonts.googleapis.com/css2?family=Inter",
    "https://fonts.gstatic.com/s/inter/v12/x.woff2",
    "https://js.braintreegateway.com/web/3.97.2/js/client.min.js",
    "https://checkout.razorpay.com/v1/checkout.js",
    "https://pay.google.com/gp/p/js/pay.js",
    "https://applepay.cdn-apple.com/jsapi/v1/apple-pay-sdk.js",
    "https://polyfill-fastly.io/v3/polyfill.min.js",
]


@pytest.mark.parametrize("url", NEVER_BLOCKED)
def test_never_over_blocks_cdns_payments_or_captchas(catalogue: Catalogue, url: str) -> None:
    assert catalogue.vendor_for_url(url) is None
    host = split_url(url)
    assert host is not None
    assert catalogue.vendor_for_host(host[0]) is None
    assert catalogue.vendors_in_text(f"s.src='{url}';") == ()


def test_no_catalogued_host_is_a_cdn_or_payment_provider(catalogue: Catalogue) -> None:
    forbidden = {"stripe", "paypal", "jsdelivr", "unpkg", "cdnjs", "recaptcha", "hcaptcha"}
    forbidden |= {"jquery", "cloudflare.com", "gstatic", "googleapis.com", "braintree", "adyen"}
    for vendor in catalogue.vendors:
        for host in vendor.hosts:
            assert not any(word in host for word in forbidden - {"googleapis.com"}), host
            assert host in {"maps.googleapis.com"} or not host.endswith("googleapis.com"), host
            assert host.count(".") >= 1 and host not in {"google.com", "com", "net"}, host


# --- text scan -----------------------------------------------------------------------------

# The snippets as the vendors publish them (IDs replaced).
SNIPPETS = {
    "Google Tag Manager": """(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-XXXX');""",
    "Meta Pixel": """!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '123');fbq('track', 'PageView');""",
    "Hotjar": """(function(h,o,t,j,a,r){
h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
h._hjSettings={hjid:1,hjsv:6};a=o.getElementsByTagName('head')[0];
r=o.createElement('script');r.async=1;r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
a.appendChild(r);})(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');""",
    "Microsoft Clarity": """(function(c,l,a,r,i,t,y){
c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};
t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;
y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);
})(window, document, "clarity", "script", "abcdef");""",
    "TikTok Pixel": """!function (w, d, t) {w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];
ttq.load=function(e,n){var r="https://analytics.tiktok.com/i18n/pixel/events.js";
ttq._i=ttq._i||{};var o=document.createElement("script");o.src=r+"?sdkid="+e;};
ttq.load('XXXX');ttq.page();}(window, document, 'ttq');""",
    "LinkedIn Insight Tag": """_linkedin_partner_id = "1";
(function(l) {var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);""",
    "Microsoft Advertising UET": """(function(w,d,t,r,u){var f,n,i;w[u]=w[u]||[],f=function()
{var o={ti:"1"};o.q=w[u],w[u]=new UET(o),w[u].push("pageLoad")},n=d.createElement(t),
n.src=r,n.async=1;i=d.getElementsByTagName(t)[0];i.parentNode.insertBefore(n,i)})
(window,document,"script","//bat.bing.com/bat.js","uetq");""",
    "Google Maps": '{"src":"https:\\/\\/www.google.com\\/maps\\/embed?pb=1"}',
}


@pytest.mark.parametrize(("name", "snippet"), sorted(SNIPPETS.items()))
def test_vendors_in_text_finds_published_snippets(
    catalogue: Catalogue, name: str, snippet: str
) -> None:
    assert [vendor.name for vendor in catalogue.vendors_in_text(snippet)] == [name]


def test_vendors_in_text_gtag_finds_analytics(catalogue: Catalogue) -> None:
    text = "var s='https://www.googletagmanager.com/gtag/js?id=G-1'; gtag('config','G-1');"
    assert [v.name for v in catalogue.vendors_in_text(text)] == ["Google Analytics"]


def test_vendors_in_text_lists_each_vendor_once_in_order(catalogue: Catalogue) -> None:
    text = SNIPPETS["Hotjar"] + SNIPPETS["Meta Pixel"] + SNIPPETS["Hotjar"]
    assert [v.name for v in catalogue.vendors_in_text(text)] == ["Hotjar", "Meta Pixel"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "console.log('hello world'); fetch('/api/items');",
        "var host = 'evilhotjar.com';",
        "var host = 'static.hotjar.com.attacker.example';",
        "var host = 'notgoogle-analytics.com';",
        "loadScript('https://www.google.com/recaptcha/api.js');",
        "window.location = 'https://www.google.com/search?q=maps';",
        "https://www.google.com/mapsearch",
        "hotjar-analytics is a word; google analytics too",
    ],
)
def test_vendors_in_text_ignores_lookalikes(catalogue: Catalogue, text: str) -> None:
    assert catalogue.vendors_in_text(text) == ()


def test_vendors_in_text_on_a_large_script_finds_a_late_mention(catalogue: Catalogue) -> None:
    text = "var a = 1;\n" * 50_000 + "s.src='https://cdn.segment.com/analytics.js/v1/k';"
    assert [v.name for v in catalogue.vendors_in_text(text)] == ["Segment"]


# --- cookies and storage -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "vendor", "pattern"),
    [
        ("_ga", "Google Analytics", "_ga"),
        ("_ga_ABC123DEF", "Google Analytics", "_ga_*"),
        ("_gid", "Google Analytics", "_gid"),
        ("_gat_UA-1-1", "Google Analytics", "_gat*"),
        ("_gat_gtag_UA_1_1", "Google Analytics", "_gat_gtag_*"),  # the longest glob wins
        ("_gcl_au", "Google Ads", "_gcl_au"),
        ("_fbp", "Meta Pixel", "_fbp"),
        ("_hjSessionUser_123", "Hotjar", "_hjSessionUser_*"),
        ("_hjid", "Hotjar", "_hjid"),
        ("_clck", "Microsoft Clarity", "_clck"),
        ("_ttp", "TikTok Pixel", "_ttp"),
        ("_uetvid", "Microsoft Advertising UET", "_uetvid"),
        ("_pk_id.1.abcd", "Matomo Cloud", "_pk_id*"),
        ("li_fat_id", "LinkedIn Insight Tag", "li_fat_id"),
        ("mp_0123_mixpanel", "Mixpanel", "mp_*"),
    ],
)
def test_cookie_vendor(catalogue: Catalogue, name: str, vendor: str, pattern: str) -> None:
    found = catalogue.cookie_vendor(name)
    assert found is not None
    assert (found[0].name, found[1].pattern) == (vendor, pattern)
    assert catalogue.cookie_category(name) == found[0].category


@pytest.mark.parametrize(
    "name",
    # A site's own cookies must never be labelled a tracker's by a generic name.
    [
        "session",
        "sessionid",
        "csrftoken",
        "JSESSIONID",
        "PHPSESSID",
        "lang",
        "locale",
        "s",
        "ID",
        "A",
        "sp",
        "i",
        "td",
        "fid",
        "test",
        "cookiePreferences",
        "cookie_consent",
        "wd",
        "presence",
        "SM",
    ],
)
def test_generic_names_are_not_claimed(catalogue: Catalogue, name: str) -> None:
    assert catalogue.cookie_vendor(name) is None
    assert catalogue.cookie_category(name) is None


def test_cookie_lookup_memo_is_bounded(catalogue: Catalogue) -> None:
    for number in range(5000):
        catalogue.cookie_category(f"visitor_cookie_{number}")
    assert catalogue.cookie_category("x" * 5000) is None
    assert len(catalogue._cookies._memo) <= 4096
    assert "x" * 5000 not in catalogue._cookies._memo


def test_storage_vendor_and_patterns(catalogue: Catalogue) -> None:
    found = catalogue.storage_vendor("tt_sessionId")
    assert found is not None and found[0].name == "TikTok Pixel" and found[1].storage
    found = catalogue.storage_vendor("_ga")  # no storage fact: the cookie name is reused
    assert found is not None and found[0].name == "Google Analytics"
    assert catalogue.cookie_vendor("tt_sessionId") is None  # a storage key, not a cookie
    assert catalogue.storage_vendor("theme") is None
    analytics = catalogue.storage_patterns("analytics")
    assert "_hjid" in analytics and "ajs_anonymous_id" in analytics
    assert "tt_sessionId" not in analytics
    assert "tt_sessionId" in catalogue.storage_patterns("marketing")
    assert catalogue.storage_patterns("nope") == ()


def test_hosts_for_category(catalogue: Catalogue) -> None:
    analytics = catalogue.hosts_for("analytics")
    assert {"google-analytics.com", "clarity.ms", "hotjar.com"} <= set(analytics)
    assert "connect.facebook.net" in catalogue.hosts_for("marketing")
    assert "connect.facebook.net" not in analytics
    assert list(analytics) == sorted(set(analytics))
    assert catalogue.hosts_for("analytics") is analytics  # memoised
    assert catalogue.hosts_for("necessary") == ()


# --- merged with a policy ------------------------------------------------------------------


def test_catalogue_for_a_plain_policy_is_the_packaged_one() -> None:
    policy = Policy(secret_keys=[KEY])
    assert policy.catalogue is load_catalogue()


def test_catalogue_for_overrides_adds_and_disables() -> None:
    policy = Policy(
        secret_keys=[KEY],
        trackers=[
            {"name": "YouTube", "category": "preferences"},  # override one field
            {"name": "Hotjar", "disabled": True},
            {
                "name": "Acme Analytics",
                "category": "analytics",
                "hosts": ["cdn.acme.example"],
                "cookies": ["_acme_*", {"pattern": "acme_id", "retention": "1 year"}],
                "storage": ["acme:*"],
            },
            {
                "name": "Acme Video",
                "category": "marketing",
                "hosts": ["v.acme.example"],
                "embed": True,
                "paths": ["/embed"],
                "privacy_url": "https://acme.example/p",
            },
        ],
    )
    merged = policy.catalogue
    assert policy.catalogue is merged  # built once per policy
    youtube = merged.vendor_for_url("https://www.youtube.com/embed/x")
    assert youtube is not None
    assert (youtube.category, youtube.embed, youtube.provider) == ("preferences", True, "Google")
    assert youtube.cookies == {v.name: v for v in load_catalogue().vendors}["YouTube"].cookies
    assert merged.vendor_for_host("static.hotjar.com") is None
    assert merged.cookie_vendor("_hjid") is None
    acme = merged.vendor_for_url("https://cdn.acme.example/a.js")
    assert acme is not None and acme.name == "Acme Analytics" and acme.provider == "Acme Analytics"
    assert merged.cookie_category("_acme_visitor") == "analytics"
    found = merged.cookie_vendor("acme_id")
    assert found is not None and found[1].max_age is None and found[1].retention == "1 year"
    assert "acme:*" in merged.storage_patterns("analytics")
    assert [v.name for v in merged.vendors_in_text("load('//cdn.acme.example/a.js')")] == [
        "Acme Analytics"
    ]
    video = merged.vendor_for_url("https://v.acme.example/embed/1")
    assert video is not None and video.embed and video.privacy_url == "https://acme.example/p"
    assert merged.vendor_for_url("https://v.acme.example/other") is None
    assert merged.version.endswith("+site")
    # The packaged catalogue itself is untouched.
    assert load_catalogue().vendor_for_host("static.hotjar.com") is not None


def test_site_entries_win_a_host_the_catalogue_also_claims() -> None:
    policy = Policy(
        secret_keys=[KEY],
        trackers=[{"name": "Our video", "category": "preferences", "hosts": ["youtube.com"]}],
    )
    vendor = policy.catalogue.vendor_for_url("https://www.youtube.com/embed/x")
    assert vendor is not None and vendor.name == "Our video"


def test_category_hosts_become_vendors_of_that_category() -> None:
    policy = Policy(
        secret_keys=[KEY],
        categories=[
            Category("analytics", "Analytics", hosts=("stats.acme.example",)),
            Category("marketing", "Marketing", hosts=("Ads.Acme.Example", "youtube.com")),
        ],
    )
    merged = policy.catalogue
    stats = merged.vendor_for_url("https://eu.stats.acme.example/s.js")
    assert stats is not None and (stats.name, stats.category) == ("stats.acme.example", "analytics")
    assert merged.vendor_for_host("ads.acme.example") is not None
    assert "stats.acme.example" in merged.hosts_for("analytics")
    assert [v.name for v in merged.vendors_in_text("x='https://ads.acme.example/p.js'")] == [
        "ads.acme.example"
    ]
    # The site's word wins over the catalogue's for the same host.
    youtube = merged.vendor_for_host("www.youtube.com")
    assert youtube is not None and youtube.name == "youtube.com"


def test_disable_then_re_add_by_name() -> None:
    merged = merge(
        load_catalogue(),
        [
            {"name": "Hotjar", "disabled": True},
            {"name": "Hotjar", "category": "analytics", "hosts": ["hj.example"]},
        ],
    )
    vendor = merged.vendor_for_host("hj.example")
    assert vendor is not None and vendor.name == "Hotjar"
    assert merged.vendor_for_host("static.hotjar.com") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "New", "category": "analytics"}, "give at least"),
        ({"name": "New", "hosts": ["a.example"]}, "give at least"),
        ({"name": "Hotjar", "host": ["a.example"]}, "unknown keys"),
        ({"name": "Hotjar", "hosts": "a.example"}, "must be a list"),
        ({"name": "Hotjar", "hosts": ["not a host"]}, "host names"),
        ({"name": "Hotjar", "paths": ["embed"]}, "start with '/'"),
        ({"name": "Hotjar", "provider": 3}, "must be a string"),
        ({"name": "Hotjar", "cookies": [3]}, "each cookie"),
        ({"name": "Hotjar", "cookies": [{"pattern": "a", "max_age": -1}]}, "max_age"),
    ],
)
def test_bad_tracker_entries_name_the_fix(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        merge(load_catalogue(), [entry])


def test_a_policys_catalogue_is_built_once_and_kept_with_it() -> None:
    policy = Policy(secret_keys=[KEY], trackers=[{"name": "Hotjar", "disabled": True}])
    assert policy.catalogue is policy.catalogue
    assert policy.catalogue.vendor_for_host("static.hotjar.com") is None


# --- packaging and the build ---------------------------------------------------------------


def test_licence_notice_ships_with_the_data() -> None:
    data = resources.files("cookieguard").joinpath("data")
    notice = data.joinpath("NOTICE").read_text("utf-8")
    assert "Open Cookie Database" in notice and "Apache License" in notice
    licence = data.joinpath("open-cookie-database.LICENSE").read_text("utf-8")
    assert "Apache License" in licence and "Version 2.0" in licence
    catalogue = json.loads(data.joinpath("trackers.json").read_text("utf-8"))
    assert catalogue["sources"]["cookies"]["license"] == "Apache-2.0"
    assert all(vendor["docs"] for vendor in catalogue["vendors"])


def test_shipped_catalogue_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_catalogue.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_build_is_deterministic_and_check_detects_staleness(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _build_script()
    assert build.build() == build.build()
    monkeypatch.setattr(build, "DATA", tmp_path)
    assert build.main(["--check"]) == 1  # nothing there yet
    assert build.main([]) == 0
    assert build.main(["--check"]) == 0
    shipped = tmp_path / "trackers.json"
    shipped.write_text(shipped.read_text("utf-8").replace('"Hotjar"', '"Hotjar2"'), "utf-8")
    assert build.main(["--check"]) == 1


def test_build_rejects_bad_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build_script()
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "catalogue.toml").write_text('[catalogue]\nversion = "2026.1.1"\n', "utf-8")
    for name in build.VENDOR_FILES:
        (sources / name).write_text("", "utf-8")
    monkeypatch.setattr(build, "SOURCES", sources)
    monkeypatch.setattr(build, "DATA", tmp_path / "out")
    valid = 'name = "A"\ncategory = "analytics"\nhosts = ["a.example"]\ndocs = ["https://a"]\n'
    cases = [
        'name = "A"\ncategory = "ads"\nhosts = ["a.example"]\ndocs = ["https://a"]',
        'name = "A"\ncategory = "analytics"\nhosts = ["A.example"]\ndocs = ["https://a"]',
        'name = "A"\ncategory = "analytics"\nhosts = ["a.example"]',
        'name = "A"\ncategory = "analytics"\nhosts = ["a.example"]\ndocs = ["x"]',  # no URL
        valid + 'ocd = ["Nope"]',
        valid + 'ocd = ["Hotjar"]\nocd_names = ["_nope"]',
        valid + "extra = 1",
        valid + "snippet = '<script src=\"https://b.example/x.js\"></script>'",  # not its host
        valid + 'cookies = [{ pattern = "a b", retention = "1 day" }]',  # not a cookie name
        valid + 'cookies = [{ pattern = "crisp-client/*", retention = "1 day" }]',
    ]
    for case in cases:
        (sources / "analytics.toml").write_text("[[vendor]]\n" + case + "\n", "utf-8")
        assert build.main([]) == 2, case
    (sources / "analytics.toml").write_text(f"[[vendor]]\n{valid}[[vendor]]\n{valid}", "utf-8")
    assert build.main([]) == 2  # duplicate names
    assert not (tmp_path / "out").exists()
    # A source file the build does not list would be left out silently: refused instead.
    (sources / "analytics.toml").write_text(f"[[vendor]]\n{valid}", "utf-8")
    (sources / "forgotten.toml").write_text(f"[[vendor]]\n{valid}", "utf-8")
    assert build.main([]) == 2
    (sources / "forgotten.toml").unlink()
    assert build.main([]) == 0
    assert build.main(["--check"]) == 0


def test_build_skips_open_cookie_database_names_no_cookie_header_carries() -> None:
    facts = _build_script().read_facts(ROOT / "scripts" / "catalogue_sources" / FACTS)
    odd = {r["Cookie / Data Key name"] for rows in facts.values() for r in rows}
    assert {"active_template::", "Site History"} <= odd  # in the source data...
    shipped = {f.pattern for v in load_catalogue().vendors for f in v.cookies}
    assert not {"active_template::*", "Site History"} & shipped  # ...never in the catalogue


def test_snippets_are_kept_in_the_sources_only() -> None:
    build = _build_script()
    snippets = build.snippets()
    assert snippets["AddThis"].startswith("<script") and "s7.addthis.com" in snippets["AddThis"]
    shipped = json.loads(build.build()["trackers.json"])
    assert all("snippet" not in vendor for vendor in shipped["vendors"])


def test_make_catalogue_check_verifies_the_shipped_file() -> None:
    make = shutil.which("make")
    if make is None:  # pragma: no cover - make is part of the dev setup (Makefile)
        pytest.fail("make is not installed; the Makefile's catalogue-check target needs it")
    for target in (["catalogue-check"], ["catalogue", "CATALOGUE_ARGS=--check", "-o", "bootstrap"]):
        result = subprocess.run(
            [make, "-s", "-C", str(ROOT), *target, f"PY={sys.executable}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, (target, result.stdout, result.stderr)


# --- what the log advises for a cookie the policy does not declare ----------------------------


def _advice(caplog: pytest.LogCaptureFixture, policy: Policy, header: str) -> dict[str, str]:
    caplog.set_level(logging.WARNING, logger="cookieguard")
    Guard(policy).read(header)
    said = {}
    for record in caplog.records:
        message = record.getMessage()
        if message.startswith("cookie "):
            said[message.split("'")[1]] = message
    return said


def test_a_catalogued_cookie_gets_its_category_never_necessary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Issue 20: AddThis's __atuvc was advised Policy(cookies={'__atuvc': 'necessary'}), and
    # the log said "a analytics cookie".
    said = _advice(
        caplog,
        Policy(secret_keys=[KEY]),
        "__atuvc=1; _gid=2; intercom-id-abc=3; __stid=4; crisp-client%2Fsession%2Fx=5",
    )
    assert "knows it as a marketing cookie of AddThis (Oracle)" in said["__atuvc"]
    assert "Policy(cookies={'__atuvc': 'marketing'})" in said["__atuvc"]
    assert "knows it as an analytics cookie of Google Analytics" in said["_gid"]
    assert "knows it as an analytics cookie of Intercom" in said["intercom-id-abc"]
    assert "Policy(cookies={'intercom-id-*': 'analytics'})" in said["intercom-id-abc"]  # its glob
    assert "knows it as a marketing cookie of ShareThis" in said["__stid"]
    assert "a preferences cookie of Crisp" in said["crisp-client%2Fsession%2Fx"]
    for message in said.values():
        assert "'necessary'}" not in message and " a analytics" not in message
        assert "not 'necessary'" in message


def test_a_catalogued_cookie_of_a_category_the_policy_lacks_names_the_policys_own(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = Policy(secret_keys=[KEY], categories=[Category("stats", label="Statistics")])
    (said,) = _advice(caplog, policy, "_gid=1").values()
    assert "This policy has no 'analytics' category" in said
    assert "Policy(cookies={'_gid': ...}) naming 'stats'" in said
    assert "'necessary'}" not in said


def test_an_unknown_cookie_is_offered_necessary_only_with_its_condition(
    caplog: pytest.LogCaptureFixture,
) -> None:
    (said,) = _advice(caplog, Policy(secret_keys=[KEY]), "homegrown=1").values()
    assert "so it is blocked" in said
    assert "Policy(cookies={'homegrown': 'necessary'}) only if the site cannot work" in said
    assert "('analytics', 'marketing' or 'preferences')" in said


def test_every_declaration_the_log_can_advise_is_a_valid_policy() -> None:
    catalogue = load_catalogue()
    cookies = {
        fact.pattern: vendor.category
        for vendor in catalogue.vendors
        for fact in vendor.cookies
        if not fact.storage
    }
    assert len(cookies) > 300
    policy = Policy(secret_keys=[KEY], cookies=cookies)
    for pattern in cookies:
        name = pattern.replace("*", "x").replace("[0-9]", "1").replace("?", "x")
        assert policy.category_of(name) is not None, pattern


def test_an_empty_catalogue_finds_nothing() -> None:
    empty = Catalogue((), "0")
    assert empty.vendors_in_text("https://www.google-analytics.com/g/collect") == ()
    assert empty.vendor_for_url("https://www.google-analytics.com/") is None
    assert empty.cookie_vendor("_ga") is None
    assert empty.hosts_for("analytics") == () and empty.storage_patterns("analytics") == ()


def test_hosts_that_are_not_idna_are_no_vendor(catalogue: Catalogue) -> None:
    assert catalogue.vendor_for_url("https://" + "é" * 70 + ".com/x.js") is None
    assert catalogue.vendor_for_host("ü" * 70) is None


def test_override_of_cookies_keeps_storage_and_the_reverse() -> None:
    base = {v.name: v for v in load_catalogue().vendors}["Hotjar"]
    merged = merge(load_catalogue(), [{"name": "Hotjar", "cookies": ["_hj_only"]}])
    hotjar = {v.name: v for v in merged.vendors}["Hotjar"]
    assert [f.pattern for f in hotjar.cookies if not f.storage] == ["_hj_only"]
    assert [f for f in hotjar.cookies if f.storage] == [f for f in base.cookies if f.storage]
    merged = merge(load_catalogue(), [{"name": "Hotjar", "storage": ["hj:*"]}])
    hotjar = {v.name: v for v in merged.vendors}["Hotjar"]
    assert [f.pattern for f in hotjar.cookies if f.storage] == ["hj:*"]
    assert [f for f in hotjar.cookies if not f.storage] == [
        f for f in base.cookies if not f.storage
    ]
    with pytest.raises(ValueError, match="non-empty strings"):
        merge(load_catalogue(), [{"name": "Hotjar", "hosts": [""]}])


def test_storage_patterns_are_memoised(catalogue: Catalogue) -> None:
    assert catalogue.storage_patterns("analytics") is catalogue.storage_patterns("analytics")


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.us1.list-manage.com/subscribe/post-json?u=1&id=2",  # newsletter forms
        "https://js.hsforms.net/forms/embed/v2.js",  # HubSpot forms
        "https://i.ytimg.com/vi/x/hqdefault.jpg",  # a video's thumbnail, not its player
        "https://i.vimeocdn.com/video/1_640.jpg",
        "https://www.google.com/search?q=x",
        "https://accounts.google.com/gsi/client",  # Sign in with Google
        "https://apis.google.com/js/platform.js",
    ],
)
def test_first_party_features_hosted_by_vendors_are_left_alone(
    catalogue: Catalogue, url: str
) -> None:
    assert catalogue.vendor_for_url(url) is None
