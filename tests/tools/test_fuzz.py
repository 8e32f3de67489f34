"""Properties: no Cookie header and no request body can make the middleware raise or 500;
Set-Cookie deletion verdicts agree with an independent RFC 6265 implementation; and a short
slice of the ``make fuzz`` campaign (fuzz/adapters.py) finds no problem."""

from __future__ import annotations

import calendar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cookieguard.core._cookies import cookie_date, is_deletion
from fuzz import adapters as fuzz
from tests import rfc6265
from tests.harness import drivers, make_policy
from tests.slices import FULL

# One client sends every example: the per-client limit (a 429 after 120) is not what is tested.
DRIVERS = drivers(make_policy(rate_limit=0))
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


# -- Set-Cookie verdicts against tests/rfc6265.py --------------------------------------------

NOW = 1_800_000_000.0
attribute_names = st.sampled_from(
    ["Max-Age", "max-age", "MAX-AGE", "Expires", "expires", "Path", "X", "", " max-age ", "Max-Ag"]
)
dates = st.builds(
    lambda day, month, year, clock, glue: glue.join([str(day), month, str(year), clock]),
    st.integers(0, 32),
    st.sampled_from(["Jan", "feb", "MAR", "December", "Ja", "x"]),
    st.one_of(st.integers(0, 99), st.integers(1590, 2110)),
    st.builds(
        lambda h, m, s: f"{h}:{m}:{s}", st.integers(0, 25), st.integers(0, 61), st.integers(0, 61)
    ),
    st.sampled_from([" ", "-", ", ", "/", "\t", ""]),
)
values = st.one_of(
    st.from_regex(r"-?[0-9]{1,4}", fullmatch=True),
    st.sampled_from(["0x", "0 1", "0.5", "+0", "-", "", "00", " 0 "]),
    dates,
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0xFF), max_size=12),
)
avs = st.builds(
    lambda name, sep, value: name + sep + value,
    attribute_names,
    st.sampled_from(["=", " = ", "", "=="]),
    values,
)
set_cookie_lines = st.builds(
    lambda head, attributes, glue: head + "".join(glue + a for a in attributes),
    st.sampled_from(["_ga=1", "_ga=", "=_ga", "_ga", " a = b ", "a=max-age=0"]),
    st.lists(avs, max_size=5),
    st.sampled_from([";", "; ", " ;"]),
)


@settings(max_examples=600, deadline=None)
@given(line=set_cookie_lines)
def test_deletion_verdict_matches_the_rfc_reference(line: str) -> None:
    assert is_deletion(line, now=NOW) is rfc6265.browser_deletes(line, NOW)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(dates, st.text(max_size=40)))
def test_cookie_date_matches_the_rfc_reference(text: str) -> None:
    theirs = rfc6265.parse_cookie_date(text)
    assert cookie_date(text) == (None if theirs is None else float(theirs))


def test_reference_reads_the_issue_attacks_as_browsers_did() -> None:
    """The reference itself, on the values Chromium stored in issue 15."""
    for line in [
        "_ga=1; Max-Age=-1; Max-Age=31536000",
        "_ga=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
        "_ga=1; Max-Age=0x",
        "_ga=1; Max-Age=0 1",
        "_ga=1; Max-Age=0.5",
        "_ga=1; Path=/max-age=0",
        "_ga=1; X=max-age=0",
        "_ga=1; Path=/expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ]:
        assert not rfc6265.browser_deletes(line, NOW), line
    assert rfc6265.browser_deletes("_ga=; Max-Age=0", NOW)
    assert rfc6265.rfc6265_deletes("_ga=1; Max-Age=0; Max-Age=junk", NOW)
    assert not rfc6265.browser_deletes("_ga=1; Max-Age=0; Max-Age=junk", NOW)  # Chromium
    epoch = calendar.timegm((1994, 11, 6, 8, 49, 37))
    assert rfc6265.parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT") == epoch


def test_fuzz_campaign_slice() -> None:
    """5,000 cases of `make fuzz` (seed 1; it runs a million), in one process: nothing may go
    wrong."""
    cases = 20_000 if FULL else 5_000
    tally, _ = fuzz.run(cases=cases, seed=1, workers=1)
    assert tally.cases == cases
    assert tally.problems == 0, "\n".join(tally.samples)
