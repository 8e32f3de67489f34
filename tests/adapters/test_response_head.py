"""The response head every adapter sends (cookieguard.site._head.response_head), in both
spellings: the ASGI adapter's bytes and the WSGI (and Django) adapters' str."""

from __future__ import annotations

from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.site._head import ASGI, WSGI, Spelling, response_head
from cookieguard.site._site import Site
from tests.harness import make_policy

DELETE_FBP = "_fbp=; Max-Age=0; Path=/"


def spelled(spelling: Spelling[Any], pairs: list[tuple[str, str]]) -> list[tuple[Any, Any]]:
    if spelling is ASGI:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
    return list(pairs)


def text(pairs: Any) -> list[tuple[str, str]]:
    return [
        (k.decode("latin-1"), v.decode("latin-1")) if isinstance(k, bytes) else (k, v)
        for k, v in pairs
    ]


def head(
    site: Site,
    spelling: Spelling[Any],
    status: int | None,
    pairs: list[tuple[str, str]],
    cookie: str | None = None,
    **options: Any,
) -> tuple[Any, Any, Any, Any]:
    headers = spelled(spelling, pairs)
    decision = site.guard.read(cookie, host="shop.example.com")
    query: Any = b"" if spelling is ASGI else ""
    sent, plan, length = response_head(
        site,
        decision,
        status,
        headers,
        spelling,
        method="GET",
        path="/",
        query=query,
        accept_language=None,
        **options,
    )
    return headers, sent, plan, length


@pytest.fixture(params=["asgi", "wsgi"])
def spelling(request: pytest.FixtureRequest) -> Spelling[Any]:
    return ASGI if request.param == "asgi" else WSGI


def test_nothing_to_do_is_the_same_list(spelling: Spelling[Any]) -> None:
    site = Site(make_policy())
    headers, sent, plan, length = head(site, spelling, 200, [("Content-Type", "text/css")])
    assert sent is headers and plan is None and length is None


def test_refused_cookies_go_deletions_pass_the_decisions_own_are_added(
    spelling: Spelling[Any],
) -> None:
    site = Site(make_policy())
    token = ConsentCodec(site.policy).dumps({"analytics"}, "c" * 22)
    app = [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "_fbp=1; Path=/"),
        ("Set-Cookie", "_ga=2; Path=/"),
        ("set-cookie ", DELETE_FBP),
    ]
    # The browser still holds a refused cookie: the decision expires it.
    headers, sent, plan, _ = head(
        site, spelling, 200, app, cookie=f"cookie_consent={token}; _fbp=9"
    )
    assert text(headers) == app  # the app's list is never changed
    assert plan is None
    values = [v for k, v in text(sent) if k.strip().lower() == "set-cookie"]
    assert "_fbp=1; Path=/" not in values
    assert values[:2] == ["_ga=2; Path=/", DELETE_FBP]
    added = values[2:]
    assert added and all(v.startswith("_fbp=;") for v in added)
    name = "set-cookie" if spelling is ASGI else "Set-Cookie"
    assert text(sent)[-1][0] == name


@pytest.mark.parametrize(
    ("lengths", "found"),
    [([], None), (["95"], 2), (["95", "95"], -1)],
)
def test_a_page_gets_its_plan_vary_and_content_length_field(
    spelling: Spelling[Any], lengths: list[str], found: int | None
) -> None:
    site = Site(make_policy())
    app = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
    app += [("Content-Length", n) for n in lengths]
    headers, sent, plan, length = head(site, spelling, 200, app)
    assert plan is not None
    assert sent is not headers and text(headers) == app
    assert length == found
    if found is not None and found >= 0:
        assert text(sent)[found] == ("Content-Length", "95")
    assert [v for k, v in text(sent) if k.lower() == "vary"] == list(plan.vary)


@pytest.mark.parametrize("status", [None, 200])
def test_no_plan_for_an_error_page_or_an_unreadable_status(
    spelling: Spelling[Any], status: int | None
) -> None:
    site = Site(make_policy(csp="enforce"))
    app = [("Content-Type", "text/html")]
    _, sent, plan, _ = head(site, spelling, status, app, edit=status is None)
    assert plan is None
    csp = [k for k, _ in text(sent) if k.lower().startswith("content-security-policy")]
    # The page headers follow a page with a status, edited or not.
    assert bool(csp) == (status is not None)
