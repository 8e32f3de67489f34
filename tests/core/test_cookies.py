"""Cookie grammar: names, deletions, domains (table-driven)."""

from __future__ import annotations

import calendar
import math

import pytest

from cookieguard.core._cookies import (
    cookie_date,
    cookie_domains,
    deletion_headers,
    deletion_time,
    host_name,
    is_deletion,
    set_cookie_name,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("a=1", "a"),
        (" a =1; Path=/", "a"),
        ("a", "a"),
        ("=x", "x"),  # a nameless cookie comes back as `Cookie: x`
        ("=_ga=GA1.2; Max-Age=99", "_ga"),  # ... and this one as `Cookie: _ga=GA1.2`
        ("=", ""),
        ("a=b=c", "a"),
    ],
)
def test_set_cookie_name(value: str, name: str) -> None:
    assert set_cookie_name(value) == name


@pytest.mark.parametrize(
    ("value", "deleting"),
    [
        ("a=1", False),
        ("a=; Path=/", False),
        ("a=; Max-Age=0", True),
        ("a=; max-age = -1", True),
        ("a=1; Max-Age=10", False),
        ("a=1; Max-Age=10; Expires=Thu, 01 Jan 1970 00:00:00 GMT", False),  # Max-Age wins
        ("a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT", True),
        ("a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT", False),
        ("a=1; Expires=not a date", False),
        ("a=1; Max-Age=soon", False),
        # RFC 6265 section 5.2: names case-insensitive, WSP around names and values trimmed.
        ("a=; MAX-AGE=0", True),
        ("a=;\tmax-age\t=\t-5\t", True),
        ("a=; Max-Age=-0", True),
        ("a=; Max-Age=00", True),
        ("a=; Max-Age=-99999999999999999999999", True),
        ("a=; Max-Age=0; Path=/; Domain=example.com", True),
        ("a=; expires=Thursday, 01-Jan-70 00:00:00 GMT", True),  # RFC 850 style, 70 -> 1970
        ("a=; Expires=Thu Jan  1 00:00:00 1970", True),  # asctime style
        ("a=; Expires=1 jan 2025 23:59:59", True),
        ("a=; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Max-Age=0", True),  # Max-Age wins
        # Every reading ignores an invalid Max-Age when there is no valid one: Expires counts.
        ("a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=junk", True),
        # No name-value pair, or an empty name: RFC 6265 ignores the whole line.
        ("a; Max-Age=0", False),
        ("=a; Max-Age=0", False),
        (" =a; Max-Age=0", False),
        # The attacks of issue 15 (item 2): Chromium stored _ga from every one of them.
        ("_ga=GA1.1; Max-Age=-1; Max-Age=31536000", False),  # the last valid one wins
        (
            "_ga=GA1.1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
            "Expires=Fri, 01 Jan 2100 00:00:00 GMT",
            False,
        ),
        ("_ga=GA1.1; Max-Age=0x", False),  # 5.2.2: a non-digit makes it invalid
        ("_ga=GA1.1; Max-Age=0 1", False),
        ("_ga=GA1.1; Max-Age=0.5", False),
        ("_ga=GA1.1; Max-Age=+0", False),
        ("_ga=GA1.1; Max-Age=", False),
        ("_ga=GA1.1; Max-Age=-", False),
        ("_ga=GA1.1; Max-Age", False),
        ("_ga=GA1.1; Path=/max-age=0", False),  # an attribute's value, not a Max-Age
        ("_ga=GA1.1; X=max-age=0", False),
        ("_ga=GA1.1; Path=/expires=Thu, 01 Jan 1970 00:00:00 GMT", False),
        ("_ga=GA1.1; max-age=0=1", False),
        ("_ga=max-age=0; Path=/", False),  # in the cookie's own value
        ("_ga=GA1.1; Max-Ag=0", False),
        ("_ga=GA1.1; Expires=Thu, 31 Feb 1970 00:00:00 GMT", False),  # no such date
        ("_ga=GA1.1; Expires=Thu, 01 Jan 1600 00:00:00 GMT", False),  # before 1601: invalid
        ("_ga=GA1.1; Expires=Thu, 01 Jan 1970 24:00:00 GMT", False),
        ("_ga=GA1.1; Expires=Thu, 01 Jan 1970", False),  # no time
        ("_ga=GA1.1; Expires=01 Jan 1970 00:00:00 GMT; Path=/", True),
        # Where browsers and RFC 6265 read a value differently, it is not a deletion:
        # Chromium and Firefox take the *last* Max-Age and fall back to Expires when it is
        # invalid; RFC 6265 takes the last valid one.
        ("_ga=GA1.1; Max-Age=0; Max-Age=junk; Expires=Fri, 01 Jan 2100 00:00:00 GMT", False),
        ("_ga=GA1.1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=junk", False),
        # RFC 6265bis ignores attribute values over 1024 octets ...
        ("_ga=GA1.1; Max-Age=" + "0" * 1025, False),
        ("_ga=GA1.1; Max-Age=" + "0" * 1024, True),
        # ... and a line with a control character; old browsers cut it at NUL.
        ("_ga=GA1.1; Max-Age=31536000\x00; Max-Age=0", False),
        ("_ga=GA1.1\x01; Max-Age=0", False),
        # RFC 6265bis ignores a name and value over 4096 octets: nothing is deleted.
        ("_ga=" + "v" * 4094 + "; Max-Age=0", False),
        ("_ga=" + "v" * 4093 + "; Max-Age=0", True),
        ("_ga=GA1.1;\tMax-Age=0", True),  # HTAB is whitespace, not a control character here
    ],
)
def test_is_deletion(value: str, deleting: bool) -> None:
    assert is_deletion(value, now=NOW) is deleting


def test_deletion_time_tells_clock_free_verdicts_apart() -> None:
    assert deletion_time("a=; Max-Age=0") == -math.inf
    assert deletion_time("a=1; Max-Age=10") is None
    assert deletion_time("a=1") is None
    assert deletion_time("a=; Expires=Thu, 01 Jan 1970 00:00:10 GMT") == 10.0
    assert is_deletion("a=; Expires=Thu, 01 Jan 2037 00:00:00 GMT", now=NOW) is False
    assert is_deletion("a=; Expires=Thu, 01 Jan 2037 00:00:00 GMT", now=2_200_000_000) is True
    assert is_deletion("a=; Max-Age=0") is True  # the real clock


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thu, 01 Jan 1970 00:00:00 GMT", (1970, 1, 1, 0, 0, 0)),
        ("Sun, 06 Nov 1994 08:49:37 GMT", (1994, 11, 6, 8, 49, 37)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", (1994, 11, 6, 8, 49, 37)),
        ("Sun Nov  6 08:49:37 1994", (1994, 11, 6, 8, 49, 37)),
        ("6 november 2069 8:9:7", (2069, 11, 6, 8, 9, 7)),
        ("06 NOV 69 08:49:37", (2069, 11, 6, 8, 49, 37)),  # 0-69 -> 20xx
        ("29 Feb 2024 00:00:00", (2024, 2, 29, 0, 0, 0)),
        ("1 Jan 1601 00:00:00", (1601, 1, 1, 0, 0, 0)),
        # The first token matching each part wins; later ones are ignored.
        ("01:02:03 04:05:06 jan 2000", (2000, 1, 4, 1, 2, 3)),
        ("1 2 jan feb 2000 2001 00:00:00", (2000, 1, 1, 0, 0, 0)),
        ("08:49:37abc 6x novx 1994y", (1994, 11, 6, 8, 49, 37)),  # trailing non-digits
        ("\x7fjan 1 2000 00:00:00", None),  # DEL is a non-delimiter: "\x7fjan" no month
        ("Sun, 06 Nov 1994 08:49:37", (1994, 11, 6, 8, 49, 37)),
    ],
)
def test_cookie_date(text: str, expected: tuple[int, ...] | None) -> None:
    parsed = cookie_date(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed == float(calendar.timegm((*expected, 0, 0, 0)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Thu, 01 Jan 1970",
        "Jan 1970 00:00:00",
        "01 1970 00:00:00",
        "01 Jan 00:00:00",
        "32 Jan 1970 00:00:00",
        "0 Jan 1970 00:00:00",
        "01 Jan 1970 00:60:00",
        "01 Jan 1970 00:00:60",
        "29 Feb 2100 00:00:00",
        "31 Apr 2000 00:00:00",
        "01 Jan 1970 000:00:00",
        "01 Jan 19700 00:00:00",
        "001 Jan 1970 00:00:00",
        "01 Ja 1970 00:00:00",
    ],
)
def test_cookie_date_failures(text: str) -> None:
    assert cookie_date(text) is None


@pytest.mark.parametrize(
    ("host", "domains"),
    [
        ("www.shop.example", ("www.shop.example", "shop.example")),
        ("Shop.Example:8443", ("shop.example",)),
        ("localhost", ()),
        ("localhost:8000", ()),
        ("127.0.0.1", ()),
        ("127.0.0.1:80", ()),
        ("[::1]:8000", ()),
        ("", ()),
        ("bad_host.example", ()),
        ("example.com.", ("example.com",)),
        ("example.com.:8000", ("example.com",)),
        ("-a.example", ()),
        ("a-.example", ()),
        ("a..example", ()),
        ("a.example:", ()),
        ("a.example:123456", ()),
        ("a.example:80:80", ()),
        ("a.example\n", ("a.example",)),  # surrounding whitespace is not the name
        ("a b.example", ()),
        ("x" * 63 + ".example", ("x" * 63 + ".example",)),
        ("x" * 64 + ".example", ()),  # RFC 1123: a label is at most 63 octets
        # Deep hosts: the host itself and at most five parents, nearest the top.
        (
            "a.b.c.d.e.f.g.example",
            (
                "a.b.c.d.e.f.g.example",
                "c.d.e.f.g.example",
                "d.e.f.g.example",
                "e.f.g.example",
                "f.g.example",
                "g.example",
            ),
        ),
        (".".join(["a"] * 6000) + ".example", ()),  # the 6,000-label Host
    ],
)
def test_cookie_domains(host: str, domains: tuple[str, ...]) -> None:
    assert cookie_domains(host) == domains


def test_host_name_length_limits() -> None:
    name = ".".join(["abcdefg"] * 31) + ".a"  # 8 * 31 + 1 = 249 octets
    assert host_name(name + ":8080") == name
    assert host_name(name + "bcde") == name + "bcde"  # 253 octets: the limit
    assert host_name(name + "bcde.") == name + "bcde"
    assert host_name(name + "bcdef") is None
    assert host_name("Shop.Example") == "shop.example"


def test_deletion_headers_cover_domains_and_paths() -> None:
    headers = deletion_headers(
        ["_ga"], domains=("a.example", "example"), paths=("/", "/shop"), secure=False
    )
    assert len(headers) == 6
    assert all(h.startswith("_ga=; ") for h in headers)
    assert all("Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0" in h for h in headers)
    assert sum("Domain=" not in h for h in headers) == 2


def test_deletion_headers_respect_prefixes_and_skip_bad_names() -> None:
    host = deletion_headers(["__Host-x"], domains=("a.example",), paths=("/a",), secure=False)
    assert host == ["__Host-x=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Secure; Path=/"]
    secure = deletion_headers(["__Secure-x"], domains=(), paths=("/",), secure=False)
    assert "Secure" in secure[0]
    assert deletion_headers(["bad name", "x\r\ny"], domains=(), paths=("/",), secure=False) == []
