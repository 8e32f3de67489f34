"""The host a browser fetches for a URL attribute value (WHATWG URL Standard, UTS #46).

Each row is what the URL Standard's parser gives for the input against a page's base (the
expected hosts are what ``new URL(value, base).hostname`` answers in Chromium, with the final
dot dropped: the same DNS name); ``tests/browser/test_host_spellings.py`` checks the tracker
spellings in a real Chromium.
"""

from __future__ import annotations

import pytest

from cookieguard.catalogue import load_catalogue, normalise_host, split_url
from cookieguard.catalogue._hosts import host_of

BASE = "https://shop.example/dir/page.html"
FB = "www.facebook.com"

#: value -> (host, path) against BASE, or None when the browser fetches no http(s) host.
AGAINST_A_PAGE: list[tuple[str, tuple[str, str] | None]] = [
    # the usual spellings
    ("https://www.facebook.com/tr?id=1", (FB, "/tr")),
    ("//www.facebook.com/tr", (FB, "/tr")),
    ("HTTPS://WWW.FACEBOOK.COM/tr", (FB, "/tr")),
    # leading/trailing C0 controls and spaces are stripped; tab, LF, CR dropped anywhere
    (" \x00\x1f https://www.facebook.com/tr \x0c", (FB, "/tr")),
    ("ht\ttps://www.face\nbook.c\rom/tr", (FB, "/tr")),
    ("/\t/www.facebook.com/tr", (FB, "/tr")),
    # special schemes: "\" is "/", any run of slashes before the authority
    ("https:\\\\www.facebook.com/tr", (FB, "/tr")),
    ("https:/\\www.facebook.com", (FB, "/")),
    ("https:////www.facebook.com", (FB, "/")),
    ("\\\\www.facebook.com/tr", (FB, "/tr")),
    ("/\\www.facebook.com", (FB, "/")),
    ("\\/www.facebook.com", (FB, "/")),
    ("///www.facebook.com", (FB, "/")),
    ("https://www.facebook.com\\tr", (FB, "/tr")),
    # "http:host" on an https page: another scheme, so an authority follows
    ("http:www.facebook.com/tr", (FB, "/tr")),
    ("http:/www.facebook.com", (FB, "/")),
    # ... but the page's own scheme without "//" is a path on the page's host
    ("https:www.facebook.com/tr", ("shop.example", "/dir/www.facebook.com/tr")),
    ("https:/www.facebook.com", ("shop.example", "/www.facebook.com")),
    ("https:\\\\www.facebook.com", (FB, "/")),
    # user info, ports
    ("//user@www.facebook.com/tr", (FB, "/tr")),
    ("//user:pass@www.facebook.com:443/tr", (FB, "/tr")),
    ("https://evil.example@www.facebook.com/", (FB, "/")),
    ("https://a@b@www.facebook.com/", (FB, "/")),
    ("https://www.facebook.com@evil.example/", ("evil.example", "/")),
    ("https://www.facebook.com:8443/tr", (FB, "/tr")),
    # percent-encoding in the host
    ("https://www.f%61cebook.com/tr", (FB, "/tr")),
    ("//www%2Efacebook%2Ecom/tr", (FB, "/tr")),
    ("https://%77%77%77.facebook.com", (FB, "/")),
    ("https://www.f%C3%A4cebook.com", ("www.xn--fcebook-5wa.com", "/")),
    # UTS 46: full-width letters and dots, ideographic full stops, case folding, ignored
    ("https://ｗｗｗ．ｆａｃｅｂｏｏｋ．ｃｏｍ/tr", (FB, "/tr")),  # noqa: RUF001
    ("//www\u3002facebook\u3002com/tr", (FB, "/tr")),
    ("//www\uff61facebook\uff61com", (FB, "/")),
    ("//www\uff0efacebook\uff0ecom", (FB, "/")),
    ("https://WWW.FACEBOOK.COM./tr", (FB, "/tr")),
    ("https://www.face\u00adbook.com", (FB, "/")),  # soft hyphen: ignored
    ("https://www.face\u200bbook.com", (FB, "/")),  # zero width space: ignored
    ("https://\u24e6\u24e6\u24e6.facebook.com", (FB, "/")),  # circled letters
    ("https://www.faceboo\u212a.com", (FB, "/")),  # KELVIN SIGN is k
    ("https://%EF%BD%97ww.facebook.com", (FB, "/")),  # percent-encoded full-width w
    ("https://\U0001f4a9.www.facebook.com", ("xn--ls8h.www.facebook.com", "/")),
    ("https://stra\u00dfe.example", ("xn--strae-oqa.example", "/")),  # non-transitional
    # IPv4 forms
    ("https://0x7f.1/", ("127.0.0.1", "/")),
    ("https://0177.0.0.1/", ("127.0.0.1", "/")),
    ("https://2130706433/", ("127.0.0.1", "/")),
    ("https://127.1/", ("127.0.0.1", "/")),
    ("https://1.2.3.4.5/", None),
    ("https://foo.09/", None),
    ("https://256.256.256.256/", None),
    # hosts the browser refuses
    ("https://www.face<book.com/", None),
    ("https://a%zzb.com/", None),
    ("https://www.face%00book.com/", None),
    ("https://", None),
    ("https://@/", None),
    ("https://x\ufffdy.com/", None),
    # IPv6: a host, never a catalogued one
    ("https://[::1]/", ("[::1]", "/")),
    # not a network fetch of a host
    ("javascript:fetch('//www.facebook.com')", None),
    ("data:text/html,<img src=//www.facebook.com>", None),
    ("mailto:a@www.facebook.com", None),
    ("blob:https://www.facebook.com/uuid", None),
    ("ws://www.facebook.com/", None),
    ("www.facebook.com:443/tr", None),  # the scheme is "www.facebook.com"
    # relative references: the page's own host
    ("www.facebook.com/tr", ("shop.example", "/dir/www.facebook.com/tr")),
    ("/tr", ("shop.example", "/tr")),
    ("?q=1", ("shop.example", "/dir/page.html")),
    # paths as the server reads them (a path-restricted vendor: Google Maps embeds)
    ("https://www.google.com/maps/%65mbed?pb=1", ("www.google.com", "/maps/embed")),
    ("https://www.google.com/x/../maps/./embed", ("www.google.com", "/maps/embed")),
    ("https://www.google.com/x/%2e%2E/maps/embed", ("www.google.com", "/maps/embed")),
]


@pytest.mark.parametrize(("value", "expected"), AGAINST_A_PAGE)
def test_the_host_a_browser_fetches(value: str, expected: tuple[str, str] | None) -> None:
    assert host_of(value, BASE) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https:www.facebook.com", (FB, "/")),  # without a base: the scheme may differ
        ("https:/www.facebook.com", (FB, "/")),
        ("www.facebook.com/tr", None),  # relative: the site's own
        ("/tr", None),
        ("//www.f%61cebook.com/tr", (FB, "/tr")),
    ],
)
def test_without_a_base_every_reading_that_may_reach_a_host_counts(
    value: str, expected: tuple[str, str] | None
) -> None:
    assert host_of(value) == expected
    assert split_url(value) == expected


def test_a_page_that_is_not_http_fetches_no_host_by_a_scheme_relative_url() -> None:
    assert host_of("//www.facebook.com", "about:blank") is None
    assert host_of("/tr", "about:blank") is None


@pytest.mark.parametrize(
    "written",
    [
        "www.f%61cebook.com",
        "ｗｗｗ．facebook．com",  # noqa: RUF001
        "WWW.FACEBOOK.COM.",
        "user@www.facebook.com:443",
        " www.facebook.com\t",
    ],
)
def test_normalise_host_reads_a_host_as_a_browser_does(written: str) -> None:
    assert normalise_host(written) == FB


@pytest.mark.parametrize("written", ["", "[::1]", "a<b.com", "x\ufffd.com", "@"])
def test_normalise_host_gives_nothing_for_what_is_no_host(written: str) -> None:
    assert normalise_host(written) == ""


SPELLINGS = [
    "https://www.f%61cebook.com/tr",
    "https://ｗｗｗ．facebook．com/tr",  # noqa: RUF001
    "https://WWW.FACEBOOK.COM./tr",
    "https:\\\\www.facebook.com/tr",
    "//user@www.facebook.com/tr",
    "//www\u3002facebook\u3002com/tr",
    "http:www.facebook.com/tr",
]


@pytest.mark.parametrize("url", SPELLINGS)
def test_the_catalogue_knows_every_spelling_of_a_tracker_host(url: str) -> None:
    vendor = load_catalogue().vendor_for_url(url)
    assert vendor is not None and vendor.name == "Meta Pixel"
    assert load_catalogue().vendor_for_url(url, BASE) is not None or url.startswith("https:w")


def test_a_path_restricted_vendor_is_found_through_escapes_and_dot_segments() -> None:
    catalogue = load_catalogue()
    plain = catalogue.vendor_for_url("https://www.google.com/maps/embed?pb=1")
    assert plain is not None
    assert catalogue.vendor_for_url("https://www.google.com/maps/%65mbed?pb=1") is plain
    assert catalogue.vendor_for_url("https://www.google.com/a/../maps/./embed") is plain
