"""Property: no Cookie header and no request body can make the middleware raise or 500."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import drivers, make_policy

DRIVERS = drivers(make_policy())
# Header values are latin-1 on the wire; CR and LF cannot appear in one.
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=600)
cookie_like = st.lists(
    st.tuples(
        st.sampled_from(["cookie_consent", "_ga", "_ga_X", "likebox", "_fbp", "a", "", " "]),
        header_text,
    ),
    max_size=8,
).map(lambda pairs: "; ".join(f"{k}={v}" for k, v in pairs))
cookies = st.one_of(header_text, cookie_like)
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
        "application/json; charset=utf-8",
    ]
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(cookie=cookies)
def test_any_cookie_header(cookie: str) -> None:
    for driver in DRIVERS.values():
        for path in ("/", "/html", "/_cookieguard/consent", "/_cookieguard/preferences"):
            response = driver.get(path, cookie=cookie)
            assert response.status < 500


@FAST
@given(body=st.binary(max_size=5000), content_type=content_types, cookie=cookies)
def test_any_consent_post(body: bytes, content_type: str, cookie: str) -> None:
    for driver in DRIVERS.values():
        headers = [("Content-Type", content_type), ("Cookie", cookie)]
        response = driver.request("POST", "/_cookieguard/consent", headers=headers, body=body)
        assert response.status in (200, 303, 400, 413, 415)
        if response.status >= 400:
            assert response.set_cookies == []


@FAST
@given(
    action=st.one_of(st.text(max_size=20), st.sampled_from(["accept_all", "reject_all", "save"])),
    categories=st.lists(st.text(max_size=12), max_size=5),
    next_path=st.text(max_size=40),
)
def test_any_form_fields(action: str, categories: list[str], next_path: str) -> None:
    from urllib.parse import urlencode

    body = urlencode({"action": action, "category": categories, "next": next_path}, doseq=True)
    for driver in DRIVERS.values():
        response = driver.request(
            "POST",
            "/_cookieguard/consent",
            headers=[("Content-Type", "application/x-www-form-urlencoded")],
            body=body.encode(),
        )
        assert response.status in (303, 400, 413)
        if response.status == 303:
            location = response.header("location") or ""
            assert location.startswith("/") and not location.startswith(("//", "/\\"))
            assert "\r" not in location and "\n" not in location
