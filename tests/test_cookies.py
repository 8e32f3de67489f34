"""Cookie grammar: names, deletions, domains (table-driven)."""

from __future__ import annotations

import pytest

from cookieguard._cookies import cookie_domains, deletion_headers, is_deletion, set_cookie_name

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "name"),
    [("a=1", "a"), (" a =1; Path=/", "a"), ("a", "a"), ("=x", ""), ("a=b=c", "a")],
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
    ],
)
def test_is_deletion(value: str, deleting: bool) -> None:
    assert is_deletion(value, now=NOW) is deleting


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
    ],
)
def test_cookie_domains(host: str, domains: tuple[str, ...]) -> None:
    assert cookie_domains(host) == domains


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
