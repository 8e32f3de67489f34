"""Hosts named in script text, however the URL around them is spelled (issue 19).

``Catalogue.mentions`` is a fast search (a regex anchored at ``.``, look-behinds on the last
letters of the registrable names); ``reference`` below is the rule it implements, written the
slow, obvious way (every occurrence of every registrable part, its boundaries checked by
hand). Both are read through ``Catalogue.vendors_named``: generated texts must name the same
vendors, at the same offsets, either way.
"""

from __future__ import annotations

import html.entities
import re

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cookieguard.catalogue import Catalogue, Vendor, _mentions, load_catalogue, merge
from cookieguard.catalogue._mentions import (
    FOLDING_REFERENCES,
    HostMentions,
    Keyed,
    folded,
    registrable,
)
from tests.slices import examples

CATALOGUE = load_catalogue()
HOST_CHARS = b"abcdefghijklmnopqrstuvwxyz0123456789.-"
PATH = re.compile(rb"(?::[0-9]*)?((?:\\?/[a-z0-9._~%\-]*)*)")


def reference(catalogue: Catalogue, text: bytes) -> list[tuple[int, str, str, list[str]]]:
    """``(offset, host, path, vendor names)`` of each host ``text`` names, found slowly."""
    low = text.lower()
    parts = {registrable(host) for vendor in catalogue.vendors for host in vendor.hosts}
    dots: dict[int, int] = {}  # where each host ends -> the dot before its suffix
    letters = HOST_CHARS.replace(b".", b"")
    for name, suffix in parts:
        whole = f"{name}.{suffix}".encode()
        at = low.find(whole)
        while at != -1:
            end = at + len(whole)
            before = low[at - 1 : at] if at else b""
            after, then = low[end : end + 1], low[end + 1 : end + 2]
            continues = after and (after in letters or (after == b"." and then and then in letters))
            if before == b"-" and len(name) >= 5:
                # A run of "-" that starts a host is not read as part of it ("<!--" or
                # "x--" before "cdn.cxense.com"): a name of five letters or more (whose
                # look-behind checks no boundary) counts after them.
                start = at
                while start and low[start - 1 : start] == b"-":
                    start -= 1
                before = low[start - 1 : start] if start else b""
            if not continues and (not before or before not in letters):
                dots[end] = min(dots.get(end, end), at + len(name))
            at = low.find(whole, at + 1)
    # Each host reads back over host characters, at most the 253 DNS allows a host.
    hosts = []
    for end, dot in sorted(dots.items()):
        start = dot
        while start > max(0, dot - 253) and low[start - 1] in HOST_CHARS:
            start -= 1
        hosts.append((start, end))
    found = []
    for start, end in hosts:
        host = low[start:end].lstrip(b"-")
        path = b""
        if low[end : end + 1] in (b":", b"/", b"\\"):
            path = PATH.match(low[end : end + 128]).group(1)  # type: ignore[union-attr]
        vendors = catalogue.vendors_named(host.decode(), path.decode())
        if vendors:
            found.append((start, host.decode(), path.decode(), [v.name for v in vendors]))
    return found


def fast(catalogue: Catalogue, text: bytes) -> list[tuple[int, str, str, list[str]]]:
    found = []
    for at, host, path in catalogue.mentions(text.lower()):
        vendors = catalogue.vendors_named(host.decode(), path.decode())
        if vendors:
            found.append((at, host.decode(), path.decode(), [v.name for v in vendors]))
    return found


def names(catalogue: Catalogue, text: str) -> list[str]:
    return [vendor.name for vendor in catalogue.vendors_in_text(text)]


HOSTS = [
    "cdn.cxense.com", "cxense.com", "edge.fullstory.com", "bam.nr-data.net", "quantserve.com",
    "secure.quantserve.com", "static.olark.com", "ads.adthrive.com", "pi.pardot.com",
    "code.snapengage.com", "www.googletagmanager.com", "connect.facebook.net",
    "www.google.com", "www.google.co.uk", "www.google.com.au", "static.hotjar.com",
    "storage.googleapis.com", "analytics.yahoo.com", "yahoo.com", "google.com", "facebook.net",
]  # fmt: skip
PIECES = [
    *HOSTS, *(f".{registrable(h)[0]}.{registrable(h)[1]}" for h in HOSTS), ".", "..", "-", "x",
    "evil", "/", "\\/", "/gtm.js", "/gtag/js", "/maps/embed", "/recaptcha", "/quant.js", ":443",
    "'", "+", " ", "@", "com", ".com", "co.uk", "\n", "é", "https://", "_", "%2e", "E", "?q=1",
]  # fmt: skip


@settings(max_examples=examples(800), deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_the_fast_search_finds_what_the_rule_says(parts: list[str]) -> None:
    text = "".join(parts).encode()
    assert fast(CATALOGUE, text) == reference(CATALOGUE, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # How published snippets spell their loaders (issue 19's GATE_GAPS).
        ("'http'+(ssl?'s://s':'://')+'cdn.cxense.com/cx.js'", ["Cxense"]),
        ("_fs_script = 'edge.fullstory.com/s/fs.js'", ["FullStory"]),
        (
            'NREUM.info={beacon:"bam.nr-data.net",errorBeacon:"bam.nr-data.net"}',
            ["New Relic Browser"],
        ),
        ("(ssl ? 'https://secure' : 'http://edge') + '.quantserve.com/quant.js'", ["Quantcast"]),
        ("y.src='//'+a; a='static.olark.com/jsclient/loader.js'", ["Olark"]),
        ("w.adthrive.host = 'ads.adthrive.com'", ["Raptive"]),
        ("('https://pi' : 'http://cdn') + '.pardot.com/pd.js'", ["Salesforce Account Engagement"]),
        ("'https://storage.googleapis.com/code.snapengage.com/js/x.js'", ["SnapEngage"]),
        # The end of a host whose start the script computes, followed by a path.
        ("'https://' + sub + '.googletagmanager.com/gtm.js?id=' + i", ["Google Tag Manager"]),
        ("'https://connect' + '.facebook.net/en_US/fbevents.js'", ["Meta Pixel"]),
        ("'https://www' + '.google.com/maps/embed?pb=' + pb", ["Google Maps"]),
        ("'https://www' + '.googletagmanager.com/gtag/js?id=' + id", ["Google Analytics"]),
        # JSON's "\/", a port, upper case, a trailing full stop.
        ('{"u":"https:\\/\\/www.google.com\\/maps\\/embed?pb=1"}', ["Google Maps"]),
        ("'STATIC.HOTJAR.COM:443/c/hotjar-1.js'", ["Hotjar"]),
        ("// loads from static.hotjar.com.", ["Hotjar"]),
    ],
)
def test_hosts_written_without_slashes_name_their_vendor(text: str, expected: list[str]) -> None:
    assert names(CATALOGUE, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "if (email.endsWith('@yahoo.com')) warn();",  # only analytics.yahoo.com is catalogued
        "if (document.referrer.indexOf('.google.com') > 0) {}",  # a fragment without a path
        "'.google.com/search?q=' + q",  # a fragment whose path no vendor under it claims
        "loadScript('www.google.com/recaptcha/api.js')",
        "var host = 'evilhotjar.com';",
        "var host = 'static.hotjar.com.attacker.example';",
        "var host = 'static.hotjar.community';",
        "var host = 'static.hotjar.com-mirror.example';",
        "a.b.c.d.e.f; x.com; co.uk; .com.com.com",
    ],
)
def test_hosts_no_vendor_loads_from_name_none(text: str) -> None:
    assert names(CATALOGUE, text) == []


def test_a_site_s_own_hosts_are_found_too() -> None:
    site = merge(
        CATALOGUE,
        [{"name": "Acme", "category": "analytics", "hosts": ["cdn.acme-stats.example"]}],
        [("marketing", ["px.shop-ads.co.uk"])],
    )
    assert names(site, "'https://cdn' + '.acme-stats.example/a.js'") == ["Acme"]
    assert names(site, "beacon: 'px.shop-ads.co.uk'") == ["px.shop-ads.co.uk"]
    assert names(CATALOGUE, "beacon: 'px.shop-ads.co.uk'") == []


def test_an_empty_catalogue_finds_nothing() -> None:
    empty = Catalogue([], "0")
    assert list(empty.mentions(b"cdn.cxense.com/cx.js")) == []
    assert empty.vendors_in_text("cdn.cxense.com/cx.js") == ()


def test_a_fragment_names_every_vendor_under_it_that_claims_the_path() -> None:
    vendors: list[Vendor] = list(CATALOGUE.vendors_named(".google.com", "/maps/embed"))
    assert [v.name for v in vendors] == ["Google Maps"]
    assert CATALOGUE.vendors_named(".google.com", "") == ()
    assert [v.name for v in CATALOGUE.vendors_named(".quantserve.com", "")] == ["Quantcast"]


def every_vendor_named(catalogue: Catalogue, text: str) -> list[str]:
    """Vendors in order of first mention, every hit read (what ``vendors_in_text`` returns
    without settling windows)."""
    found: dict[str, None] = {}
    for _, host, path in catalogue.mentions(text.encode("utf-8", "surrogateescape").lower()):
        for vendor in catalogue.vendors_named(host.decode(), path.decode()):
            found.setdefault(vendor.name)
    return list(found)


#: Hosts whose keys several vendors share (``oogle.com``: Google Analytics, Ads and Maps;
#: ``ytics.com``: Google Analytics, Heap, ShareASale...), and hosts under them naming none.
SHARED_KEYS = [
    "www.google.com", "analytics.google.com", "adservice.google.com", "x.google.com",
    ".google.com", "heapanalytics.com", "google-analytics.com", "shareasale-analytics.com",
    "xanalytics.com", "www.facebook.com", "facebook.com", ".facebook.com", "mc.yandex.ru",
    "yandex.ru", "www.googletagmanager.com", ".googletagmanager.com",
]  # fmt: skip
SHARED_PIECES = [
    *SHARED_KEYS, "/maps/embed", "/plugins/like.php", "/gtm.js", "/2.1/", "/x", " ", "'",
    "+", "\\/", "x", ".", "-", "a.", ".www", "maps.", "analytics",
]  # fmt: skip


@settings(max_examples=examples(600), deadline=None)
@given(
    st.lists(st.sampled_from(SHARED_PIECES), max_size=10)
    | st.lists(st.sampled_from(PIECES), max_size=10),
    st.integers(1, 4),
)
def test_settled_windows_lose_no_vendor(parts: list[str], times: int) -> None:
    """A window is passed over once every vendor its key may name is found, a hit whose
    bytes around it were read before is not read again: the text, repeated so windows come
    back (and padded, so every hit has those bytes), names what reading every hit names."""
    text = "".join(parts) * times
    assert names(CATALOGUE, text) == every_vendor_named(CATALOGUE, text)
    padded = " " * 60 + text + " " * 140
    assert names(CATALOGUE, padded) == every_vendor_named(CATALOGUE, padded)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x.google.com; www.google.com/maps/embed", ["Google Maps"]),
        (
            "analytics.google.com www.google.com/maps/embed adservice.google.com",
            ["Google Analytics", "Google Maps", "Google Ads"],
        ),
        ("google-analytics.com heapanalytics.com", ["Google Analytics", "Heap"]),
        # The same bytes before the suffix, another path after it (hits read once are
        # those with the same bytes up to the end of the path they may read).
        (
            " " * 60 + "'www.google.com/mapx/'" + " " * 60 + "'www.google.com/maps/'" + " " * 140,
            ["Google Maps"],
        ),
        (
            " " * 60 + "'x.google.com/maps'" + " " * 140 + "'.google.com/maps'" + " " * 140,
            ["Google Maps"],
        ),
        (
            " " * 60 + "'.google.com/x'" + " " * 140 + "'.google.com/maps'" + " " * 140,
            ["Google Maps"],
        ),
        (
            "facebook.com www.facebook.com/plugins/like.php",
            ["Meta Pixel", "Facebook social plugins"],
        ),
    ],
)
def test_a_window_is_settled_only_by_every_vendor_of_its_key(
    text: str, expected: list[str]
) -> None:
    assert names(CATALOGUE, text) == expected


def test_each_hit_s_vendors_are_among_its_key_s() -> None:
    """What settling rests on: the vendors a hit names are among ``vendors_by_key`` of its
    key, for every catalogued host, written whole or as a fragment, with a path or not."""
    for vendor in CATALOGUE.vendors:
        for host in vendor.hosts:
            name, suffix = registrable(host)
            for text in (host, f"x.{host}", f".{host}", f"'.{name}.{suffix}/"):
                for path in ("", *(vendor.paths or ())):
                    low = (text + path).lower().encode()
                    for _, key, _, found, found_path in CATALOGUE.mentions_keyed(low, 0, None, ()):
                        named = CATALOGUE.vendors_named(found.decode(), found_path.decode())
                        assert set(named) <= set(CATALOGUE.vendors_by_key(key)), (text, key)


#: Hosts whose windows a search may not mask, beside ones it may: ``store.co`` and
#: ``store.com`` start longer suffixes with the same tail (``store.com.au``), a mask of
#: ``cloud.com`` (``www.icloud.com``) makes ``stats.cloud`` end before a masked dot, and one
#: of ``oogle.co.uk`` would let ``co.uk`` (a host of its own here) match inside it.
MASKED_HOSTS = [
    *HOSTS, "cdn.store.co", "cdn.store.com", "cdn.store.com.au", "cdn.stats.cloud",
    "www.icloud.com", "px.shop.co.uk", "co.uk",
]  # fmt: skip
MASKED_WORDS = [
    "cdn.store.co", "cdn.store.com", "cdn.store.com.au", ".store.com", "cdn.stats.cloud",
    "cdn.stats.cloud.com", "www.icloud.com", "px.shop.co.uk", "px.shop.co", "x.quantserve.com",
    "quantserve.community", "www.google.com", "www.google.com.au", "www.google.co.uk",
    "cdn.cxense.com", "x", ".",
]  # fmt: skip
#: A word, then what follows it (nothing: the next word continues it).
MASKED_PIECES = st.tuples(
    st.sampled_from(MASKED_WORDS), st.sampled_from(["", " ", "/q/", "'", "."])
).map("".join)
MASKING = HostMentions(MASKED_HOSTS)


def settling_every_window(mentions: HostMentions, low: bytes) -> list[Keyed]:
    """Every hit ``find_keyed`` yields to a caller that settles each window it is given."""
    settled: set[bytes] = set()
    found = []
    for hit in mentions.find_keyed(low, 0, None, settled):
        found.append(hit)
        if hit[0]:
            settled.add(hit[0])
    return found


@settings(max_examples=examples(1000), deadline=None)
@given(st.lists(MASKED_PIECES, max_size=6), st.integers(1, 3), st.lists(MASKED_PIECES, max_size=6))
def test_masking_settled_windows_changes_no_hit(
    parts: list[str], times: int, then: list[str]
) -> None:
    """A search masks the windows it passes over often out of the text ahead: masking at
    every chance (after one hit passed over, a span of one byte and up) yields what
    passing over every hit one by one does, for hits of windows settled, repeated, and
    new after them."""
    low = ("".join(parts) * times + "".join(then)).encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_mentions, "_MASK_AFTER", 10**9)
        expected = settling_every_window(MASKING, low)
        patch.setattr(_mentions, "_MASK_AFTER", 1)
        patch.setattr(_mentions, "_MASK_SPAN", 1)
        assert settling_every_window(MASKING, low) == expected


@pytest.mark.parametrize(
    "text",
    [
        "cdn.store.com " * 70 + "cdn.store.com.au",  # a longer suffix, the same tail
        "www.icloud.com " * 70 + "cdn.stats.cloud.com",  # a mask would end "stats.cloud"
        "x.quantserve.com/q/" * 70 + "cdn.cxense.com",  # one masked, then another host
    ],
)
def test_masking_keeps_the_hits_around_a_masked_window(text: str) -> None:
    low = text.encode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_mentions, "_MASK_AFTER", 10**9)
        expected = settling_every_window(MASKING, low)
    assert settling_every_window(MASKING, low) == expected


def test_the_folding_references_are_those_the_url_parser_maps_to_host_characters() -> None:
    """Every named reference (``html.entities``, HTML 5's table) whose characters UTS 46
    maps to host characters or to nothing, and no other."""
    expected = set()
    for name, value in html.entities.html5.items():
        try:
            mapped = idna.uts46_remap(value, std3_rules=False, transitional=False)
        except idna.IDNAError:
            continue
        if set(mapped.encode()) <= set(HOST_CHARS):
            expected.add(name)
    assert sorted(FOLDING_REFERENCES) == sorted(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cdn.cx\U0001d556nse.com", "cdn.cxense.com"),  # double-struck small e
        ("CDN.CX\U0001d53cNSE\uff0eCOM", "CDN.CXeNSE.COM"),  # double-struck capital, full stop
        ("cdn.cx\u00adense\u3002com", "cdn.cxense.com"),  # soft hyphen, ideographic stop
        ("\ufb01le.example", "file.example"),  # a ligature
        ("caf\u00e9.example \u4e2d", "caf\u00e9.example \u4e2d"),  # kept: not host characters
        ("x\U000e0000y", "x\U000e0000y"),  # kept: disallowed, no host
        ("plain ascii", "plain ascii"),
    ],
)
def test_folded_writes_what_the_url_parser_maps_to_host_characters(
    text: str, expected: str
) -> None:
    assert folded(text.encode()) == expected.encode()
    assert folded(text.encode() + b"\xff") == expected.encode() + b"\xff"  # (not UTF-8)
