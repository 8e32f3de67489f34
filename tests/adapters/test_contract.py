"""One behaviour contract, run against both the ASGI and the WSGI adapter."""

from __future__ import annotations

import json
import logging

import pytest

from cookieguard import ConsentCodec, Policy
from tests.harness import PAGE, Driver, drivers, make_policy

ALL = {"preferences", "analytics", "marketing"}
CONSENT_ID = "c" * 22


@pytest.fixture(params=["asgi", "wsgi"])
def driver(request: pytest.FixtureRequest) -> Driver:
    return drivers(make_policy())[request.param]


def consent_cookie(granted: set[str], policy: Policy | None = None) -> str:
    token = ConsentCodec(policy or make_policy()).dumps(granted, CONSENT_ID)
    return f"cookie_consent={token}"


def form(**fields: str | list[str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields, doseq=True).encode()


FORM = [("Content-Type", "application/x-www-form-urlencoded")]
JSON = [("Content-Type", "application/json")]


# -- gating --------------------------------------------------------------------------------


def test_undecided_visitor_gets_no_optional_cookie(driver: Driver) -> None:
    response = driver.get("/")
    assert response.status == 200
    for name in ("likebox", "_ga", "_fbp"):
        assert not response.sets(name)


def test_undeclared_cookie_is_blocked_and_logged(
    driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        response = driver.get("/")
    assert not response.sets("session")
    assert "'session' is not declared" in caplog.text
    assert "Policy(cookies={'session': 'necessary'})" in caplog.text


def test_declared_necessary_cookie_passes() -> None:
    for driver in drivers(make_policy(cookies={"session": "necessary"})).values():
        assert driver.get("/").sets("session")


def test_undeclared_allowed_when_policy_relaxes_it() -> None:
    for driver in drivers(make_policy(undeclared="allow")).values():
        response = driver.get("/", cookie="other=1")
        assert response.sets("session")
        assert driver.get("/echo", cookie="other=1").text == "other=1"


def test_app_cannot_read_refused_cookies(driver: Driver) -> None:
    response = driver.get("/echo", cookie="likebox=1; _ga=2; _fbp=3")
    assert response.text == ""


def test_granted_cookies_reach_the_app_and_client(driver: Driver) -> None:
    cookie = consent_cookie({"preferences"})
    echoed = driver.get("/echo", cookie=f"{cookie}; likebox=1; _ga=2").text
    assert echoed == f"{cookie}; likebox=1"
    response = driver.get("/", cookie=cookie)
    assert response.sets("likebox")
    assert not response.sets("_ga")
    assert not response.sets("_fbp")


def test_accept_all_lets_every_category_through(driver: Driver) -> None:
    response = driver.get("/", cookie=consent_cookie(ALL))
    assert all(response.sets(n) for n in ("likebox", "_ga", "_fbp"))
    assert response.set_cookies[:3] == [
        "likebox=1,2; Path=/",
        "_ga=GA1.2.3; Path=/; Max-Age=3600",
        "_fbp=fb.1; Path=/",
    ]


def test_refused_cookies_the_browser_holds_are_expired(driver: Driver) -> None:
    response = driver.get("/", cookie=f"{consent_cookie(set())}; likebox=1; _ga_XYZ=2")
    assert response.deletes("likebox")
    assert response.deletes("_ga_XYZ")
    # host-only, and the host and its parent domain
    domains = [c for c in response.set_cookies if c.startswith("likebox=")]
    assert len(domains) == 3
    assert any("Domain=shop.example.com" in c for c in domains)
    assert any("Domain=example.com" in c for c in domains)


def test_app_deletions_always_pass(driver: Driver) -> None:
    response = driver.get("/delete")
    assert response.deletes("_ga")
    assert "_fbp=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/" in response.set_cookies


def test_duplicate_cookie_names_all_stripped(driver: Driver) -> None:
    echoed = driver.get("/echo", cookie="_ga=1; a=b; _ga=2").text
    assert "_ga" not in echoed


def test_consent_published_to_the_app() -> None:
    seen = []

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        seen.append(environ["cookieguard.consent"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    from cookieguard.wsgi import ConsentMiddleware
    from tests.harness import WsgiDriver

    WsgiDriver(ConsentMiddleware(app, make_policy())).get("/", cookie=consent_cookie({"analytics"}))
    consent = seen[0]
    assert consent.decided and consent.allows("analytics") and not consent.allows("marketing")
    assert consent.allows("necessary") and consent.id == CONSENT_ID


# -- the consent endpoint ------------------------------------------------------------------


def test_form_accept_all_redirects_and_sets_signed_cookie(driver: Driver) -> None:
    response = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=FORM,
        body=form(action="accept_all", next="/photos?p=2"),
    )
    assert response.status == 303
    assert response.header("location") == "/photos?p=2"
    (cookie,) = response.set_cookies
    assert cookie.startswith("cookie_consent=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie
    value = cookie.split(";")[0]
    after = driver.get("/", cookie=value)
    assert after.sets("_fbp")


def test_secure_flag_on_https(driver: Driver) -> None:
    response = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=FORM,
        body=form(action="reject_all"),
        scheme="https",
    )
    assert "Secure" in response.set_cookies[0]


def test_json_save_returns_state(driver: Driver) -> None:
    body = json.dumps({"action": "save", "categories": ["preferences"]}).encode()
    response = driver.request("POST", "/_cookieguard/consent", headers=JSON, body=body)
    assert response.status == 200
    state = json.loads(response.body)
    assert state["decided"] is True
    assert state["categories"] == {
        "necessary": True,
        "preferences": True,
        "analytics": False,
        "marketing": False,
    }
    assert len(state["consent_id"]) >= 16


def test_reject_all_expires_withdrawn_cookies_and_keeps_consent_id(driver: Driver) -> None:
    held = f"{consent_cookie(ALL)}; likebox=1; _ga=2; _fbp=3"
    response = driver.request(
        "POST",
        "/_cookieguard/consent",
        headers=[*JSON, ("Cookie", held)],
        body=b'{"action": "reject_all"}',
    )
    assert response.status == 200
    assert all(response.deletes(n) for n in ("likebox", "_ga", "_fbp"))
    assert json.loads(response.body)["consent_id"] == CONSENT_ID


def test_get_consent_state(driver: Driver) -> None:
    undecided = json.loads(driver.get("/_cookieguard/consent").body)
    assert undecided["decided"] is False and undecided["consent_id"] is None
    assert undecided["categories"]["necessary"] is True
    assert undecided["categories"]["analytics"] is False
    decided = json.loads(
        driver.get("/_cookieguard/consent", cookie=consent_cookie({"analytics"})).body
    )
    assert decided["decided"] is True and decided["categories"]["analytics"] is True
    assert decided["expires"] is not None and decided["revision"] == 1


def test_gpc_refuses_marketing(driver: Driver) -> None:
    gpc = [("Sec-GPC", "1")]
    response = driver.get("/", cookie=consent_cookie(ALL), headers=gpc)
    assert response.sets("_ga") and not response.sets("_fbp")
    state = json.loads(driver.get("/_cookieguard/consent", headers=gpc).body)
    assert state["gpc"] is True
    saved = driver.request(
        "POST", "/_cookieguard/consent", headers=[*JSON, *gpc], body=b'{"action": "accept_all"}'
    )
    assert json.loads(saved.body)["categories"]["marketing"] is False


def test_gpc_support_resource(driver: Driver) -> None:
    response = driver.get("/.well-known/gpc.json")
    assert response.status == 200
    assert json.loads(response.body)["gpc"] is True


def test_preferences_page_works_without_js(driver: Driver) -> None:
    response = driver.get("/_cookieguard/preferences", query="next=/photos")
    assert response.status == 200
    assert response.header("content-type") == "text/html; charset=utf-8"
    assert '<form method="post" action="/_cookieguard/consent"' in response.text
    assert 'value="/photos"' in response.text
    assert 'name="category" value="analytics"' in response.text


def test_assets_have_strong_etag_and_long_cache(driver: Driver) -> None:
    response = driver.get("/_cookieguard/banner.js")
    assert response.status == 200
    assert response.header("content-type") == "text/javascript; charset=utf-8"
    etag = response.header("etag")
    assert etag and etag.startswith('"')
    assert "max-age=31536000" in (response.header("cache-control") or "")
    again = driver.get("/_cookieguard/banner.js", headers=[("If-None-Match", etag)])
    assert again.status == 304 and again.body == b""
    assert driver.get("/_cookieguard/banner.css").status == 200


# -- bad input: a clear 4xx, never a changed cookie ----------------------------------------


@pytest.mark.parametrize(
    ("headers", "body", "status", "needle"),
    [
        (FORM, b"action=delete_everything", 400, "unknown action"),
        (FORM, b"action=save&category=spying", 400, "spying"),
        (JSON, b'{"action": "save", "categories": ["spying"]}', 400, "spying"),
        (JSON, b"{not json", 400, "malformed JSON"),
        (JSON, b"[1, 2]", 400, "object"),
        (JSON, b'{"action": "save", "categories": "analytics"}', 400, "list"),
        (JSON, b'{"action": 7}', 400, "unknown action"),
        ([("Content-Type", "multipart/form-data; boundary=x")], b"--x--", 415, "unsupported"),
        (FORM, b"action=accept_all&next=" + b"a" * 5000, 413, "bytes"),
        ([*FORM, ("Origin", "https://evil.example")], b"action=accept_all", 403, "cross-site"),
        ([*FORM, ("Origin", "null")], b"action=accept_all", 403, "cross-site"),
        ([*FORM, ("Origin", "http://[::1")], b"action=accept_all", 403, "cross-site"),
        ([*FORM, ("Sec-Fetch-Site", "cross-site")], b"action=accept_all", 403, "cross-site"),
        ([*FORM, ("Sec-Fetch-Site", "same-site")], b"action=accept_all", 403, "cross-site"),
        (FORM, b"action=accept_all&" + b"&".join([b"x=1"] * 100), 400, "too many"),
        (FORM, b"action=accept_all&next=\xff\xfe", 400, "UTF-8"),
    ],
)
def test_rejected_posts_change_nothing(
    driver: Driver, headers: list[tuple[str, str]], body: bytes, status: int, needle: str
) -> None:
    response = driver.request("POST", "/_cookieguard/consent", headers=headers, body=body)
    assert response.status == status
    assert needle in json.loads(response.body)["error"]
    assert response.set_cookies == []


def test_same_origin_post_is_accepted(driver: Driver) -> None:
    headers = [*FORM, ("Origin", "http://shop.example.com"), ("Sec-Fetch-Site", "same-origin")]
    response = driver.request(
        "POST", "/_cookieguard/consent", headers=headers, body=b"action=reject_all"
    )
    assert response.status == 303


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "/ok\nLocation: //evil",
        "evil",
        "",
        "/%0d%0aX: 1\r\n",
    ],
)
def test_off_site_next_redirects_home(driver: Driver, target: str) -> None:
    response = driver.request(
        "POST", "/_cookieguard/consent", headers=FORM, body=form(action="reject_all", next=target)
    )
    assert response.status == 303
    assert response.header("location") == "/"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/_cookieguard/consent", "GET, HEAD, POST"),
        ("DELETE", "/_cookieguard/preferences", "GET, HEAD"),
        ("POST", "/_cookieguard/banner.js", "GET, HEAD"),
        ("POST", "/.well-known/gpc.json", "GET, HEAD"),
        ("POST", "/_cookieguard/receipts", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405(driver: Driver, method: str, path: str, allow: str) -> None:
    response = driver.request(method, path, headers=FORM, body=b"action=accept_all")
    assert response.status == 405
    assert response.header("allow") == allow
    assert response.set_cookies == []


def test_unknown_endpoint_is_404(driver: Driver) -> None:
    response = driver.get("/_cookieguard/nope")
    assert response.status == 404


@pytest.mark.parametrize(
    "cookie",
    [
        "cookie_consent=garbage",
        "cookie_consent=",
        "cookie_consent",
        "cookie_consent=" + "A" * 5000,
        "=; ;;; =x; cookie_consent==",
        "cookie_consent=\u00e9t\u00e9; likebox=\u00ff",
        'cookie_consent="quoted"',
    ],
)
def test_malformed_consent_cookie_means_undecided(driver: Driver, cookie: str) -> None:
    response = driver.get("/html", cookie=cookie)
    assert response.status == 200
    assert 'id="cookie-consent"' in response.text
    assert not response.sets("_ga")


def test_forged_cookie_signed_with_another_key_is_undecided(driver: Driver) -> None:
    forged = consent_cookie(ALL, make_policy(secret_keys=["attacker-key-0123456789"]))
    response = driver.get("/", cookie=forged)
    assert not response.sets("_ga")


def test_right_key_wrong_shape_is_undecided(driver: Driver) -> None:
    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer("test-secret-key-0123456789", salt="cookieguard.consent")
    for payload in ({"granted": ["analytics"]}, [1, "analytics", 1, CONSENT_ID], [1, [], 1, "x"]):
        token = serializer.dumps(payload)
        assert not driver.get("/", cookie=f"cookie_consent={token}; _ga=1").sets("_ga")


# -- HTML injection ------------------------------------------------------------------------


def test_banner_injected_for_undecided_with_correct_length(driver: Driver) -> None:
    response = driver.get("/html")
    assert 'id="cookie-consent"' in response.text
    assert response.text.index('id="cookie-consent"') < response.text.index("</body>")
    assert "/_cookieguard/banner.js?v=" in response.text
    assert response.header("content-length") == str(len(response.body))
    assert {"Cookie", "Accept-Language"} <= set(response.headers_named("vary"))


def test_decided_visitor_gets_script_but_no_banner(driver: Driver) -> None:
    response = driver.get("/html", cookie=consent_cookie(set()))
    assert 'id="cookie-consent"' not in response.text
    assert "/_cookieguard/banner.js?v=" in response.text
    assert response.header("content-length") == str(len(response.body))


def test_streaming_stays_streaming(driver: Driver) -> None:
    response = driver.get("/stream-long")
    assert 'id="cookie-consent"' in response.text
    assert response.header("content-length") is None
    assert len([c for c in response.chunks if c]) >= 2
    assert response.text.endswith("</body></html>")
    # Bytes before the closing tags are not held back until the end.
    assert response.chunks[0].startswith(b"<!doctype html>") and b"photo" in response.chunks[0]


def test_a_streamed_page_for_a_visitor_with_nothing_to_block(driver: Driver) -> None:
    """Issue 26: such a page streams through unparsed up to its first ``</body`` and is
    edited whole at its end, the same bytes as the page sent in one piece."""
    from tests.harness import _route

    page = b"".join(_route("/stream-long", "")[2])
    response = driver.get("/stream-long", cookie=consent_cookie(ALL))
    assert response.header("content-length") is None
    assert len([c for c in response.chunks if c]) >= 2
    assert response.chunks[0].startswith(b"<!doctype html>") and b"photo" in response.chunks[0]
    at = page.rindex(b"</body>")
    inserted = response.body[at : len(response.body) - (len(page) - at)]
    assert response.body == page[:at] + inserted + page[at:]
    assert b"/_cookieguard/banner.js?v=" in inserted and b'id="cookie-consent"' not in inserted


@pytest.mark.parametrize("path", ["/as-written/html", "/as-written/stream", "/as-written/"])
def test_header_names_in_the_case_the_app_wrote(driver: Driver, path: str) -> None:
    """Django's ASGIHandler sends b"Set-Cookie" and b"Content-Type" (issue 9 item 1)."""
    response = driver.get(path)
    for name in ("likebox", "_ga", "_fbp", "session"):
        assert not response.sets(name)
    if path != "/as-written/":
        assert response.text.count('id="cookie-consent"') == 1
    length = response.header("content-length")
    assert length is None or length == str(len(response.body))
    if path != "/as-written/stream":  # that route sets no cookie
        granted = driver.get(path, cookie=consent_cookie(ALL))
        assert all(granted.sets(n) for n in ("likebox", "_ga", "_fbp"))


def test_small_streamed_page_gets_the_banner(driver: Driver) -> None:
    response = driver.get("/stream")
    assert response.text.count('id="cookie-consent"') == 1
    assert response.header("content-length") is None
    assert response.text.endswith("</body></html>")


def test_a_damaged_compressed_page_fails_closed_and_other_bodies_pass(driver: Driver) -> None:
    """A gzip body cut short cannot be edited: it goes out as the app wrote it, under a CSP
    that enforces the visitor's (empty) grants (issue 19 item 1)."""
    response = driver.get("/gzip")
    assert response.body == b"\x1f\x8b\x08"
    assert "googletagmanager" not in (response.header("content-security-policy") or "x")
    assert response.header("content-security-policy") is not None
    assert driver.get("/").body == b"hello"


def test_head_request_is_not_injected(driver: Driver) -> None:
    response = driver.request("HEAD", "/html")
    assert response.header("content-length") == str(len(PAGE))


def test_german_banner(driver: Driver) -> None:
    response = driver.get("/html", headers=[("Accept-Language", "de-DE,de;q=0.9,en;q=0.5")])
    assert "Alle akzeptieren" in response.text and 'lang="de"' in response.text
    fallback = driver.get("/html", headers=[("Accept-Language", "ja")])
    assert "Accept all" in fallback.text


def test_banner_next_is_the_current_page_escaped(driver: Driver) -> None:
    response = driver.request("GET", "/html", query='q="><script>')
    assert "<script>" not in response.text.split("<h1>")[1].split("banner.js")[0]


def test_exceptions_propagate(driver: Driver) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        driver.get("/boom")


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("http://shop.example.com/photos?p=3", 'value="/photos?p=3"'),
        ("https://evil.example/phish", 'value="/"'),
        ("http://shop.example.com/_cookieguard/preferences", 'value="/"'),
        ("garbage", 'value="/"'),
        ("http://[broken", 'value="/"'),
    ],
)
def test_preferences_without_next_returns_to_the_referring_page(
    driver: Driver, referer: str, expected: str
) -> None:
    page = driver.get("/_cookieguard/preferences", headers=[("Referer", referer)]).text
    assert f'name="next" {expected}' in page
