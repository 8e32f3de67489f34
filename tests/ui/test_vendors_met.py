"""Issue 24 part 1: the site names every vendor whose code it serves, met in its pages or
declared, in the first layer, the declaration, ``{prefix}/cookies`` and the preferences page."""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import pytest

from cookieguard import ConsentCodec
from cookieguard.core._consent import UNDECIDED, Consent
from cookieguard.core._guard import Decision
from cookieguard.core._messages import Request
from cookieguard.csp._csp import ENFORCE_HEADER
from cookieguard.site._site import Site
from tests.csp.test_csp import allows_host
from tests.harness import make_policy

#: Google Analytics and Meta Pixel are declared (their cookies); Hotjar, YouTube and Google
#: Maps are only in the HTML.
PAGE = b"""<!doctype html><html><head><title>t</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>
<script src="https://connect.facebook.net/en_US/fbevents.js"></script>
<script src="https://static.hotjar.com/c/hotjar-1.js?sv=6"></script>
</head><body><p>Article</p>
<iframe src="https://www.youtube.com/embed/abc" width="560" height="315"></iframe>
<iframe src="https://www.google.com/maps/embed?pb=!1m18" width="600" height="450"></iframe>
<a href="https://www.linkedin.com/company/us">Follow us</a>
<p>Our channel: https://vimeo.com/us</p>
</body></html>"""
FIVE = ("Google Analytics", "Meta Pixel", "Hotjar", "YouTube", "Google Maps")


def site_for(**overrides: Any) -> Site:
    return Site(make_policy(**overrides), receipts=None)


def edit(site: Site, page: bytes, consent: Consent = UNDECIDED, path: str = "/a") -> bytes:
    plan = site.injection(
        Decision(consent),
        method="GET",
        status=200,
        content_type="text/html; charset=utf-8",
        content_encoding=None,
        path=path,
        query="",
        accept_language="en",
    )
    assert plan is not None
    return plan.rewrite(page)


def banner_text(body: bytes) -> str:
    found = re.search(rb"<p data-cookieguard-parties>(.*?)</p>", body, re.S)
    assert found is not None
    return found.group(1).decode()


def test_the_first_page_names_every_vendor_it_loads() -> None:
    site = site_for()
    parties = banner_text(edit(site, PAGE))
    for name in FIVE:
        assert name in parties, (name, parties)
    # Grouped by category, in the policy's order.
    assert parties.startswith("Third parties involved: Analytics: Google Analytics, Hotjar;")
    assert "Marketing: Meta Pixel, Google Maps, YouTube" in parties
    # A link to a vendor's site, or its URL in text, is not code the site serves.
    assert "LinkedIn" not in parties and "Vimeo" not in parties
    assert site.vendors.names == {"Google Analytics", "Meta Pixel", "Hotjar", "YouTube",
                                  "Google Maps"}  # fmt: skip


def test_the_first_page_streamed_names_them_too() -> None:
    site = site_for()
    plan = site.injection(
        Decision(UNDECIDED),
        method="GET",
        status=200,
        content_type="text/html",
        content_encoding=None,
        path="/s",
        query="",
        accept_language="en",
    )
    assert plan is not None
    editor = plan.injector()
    out = b"".join(editor.feed(PAGE[i : i + 100]) for i in range(0, len(PAGE), 100))
    out += editor.finish()
    for name in FIVE:
        assert name in banner_text(out)


def test_later_pages_and_other_paths_name_them_from_the_start() -> None:
    site = site_for()
    edit(site, PAGE)
    other = edit(site, b"<!doctype html><body><p>nothing here</p></body>", path="/b")
    for name in FIVE:
        assert name in banner_text(other)
    assert site.banner_markup(UNDECIDED, "en", "/c", "").count("Hotjar") == 1


def test_a_vendor_met_but_not_declared_is_logged_once_with_the_line_to_declare_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = site_for()
    with caplog.at_level(logging.WARNING, logger="cookieguard"):
        edit(site, PAGE)
        edit(site, PAGE.replace(b"Article", b"Another"), path="/b")
    lines = [r.getMessage() for r in caplog.records if "does not declare it" in r.getMessage()]
    assert len(lines) == 3, lines  # Hotjar, YouTube, Google Maps; not the two declared
    assert any("Policy(trackers=[..., {'name': 'Hotjar'}])" in line for line in lines)
    assert not any("Google Analytics" in line for line in lines)


def test_declaring_the_line_logged_makes_it_declared() -> None:
    site = site_for(trackers=[{"name": "Hotjar"}])
    assert "Hotjar" in site.vendors.declared
    assert "Hotjar" in site.banner_markup(UNDECIDED, "en", "/", "")


def test_cookies_json_preferences_page_and_dialog_name_them() -> None:
    site = site_for()
    edit(site, PAGE)
    decision = Decision(UNDECIDED)

    def get(path: str) -> bytes:
        reply = site.respond(
            Request("GET", path, "", (("accept-language", "en"),), "https", decision)
        )
        assert reply.status == 200, reply.body
        return reply.body

    declared = json.loads(get("/_cookieguard/cookies"))
    parties = {p["name"]: p for p in declared["third_parties"]}
    for name in FIVE:
        assert name in parties
    assert parties["Hotjar"]["categories"] == ["analytics"]
    assert parties["Hotjar"]["privacy_url"].startswith("https://")
    for page in (get("/_cookieguard/preferences"), get("/_cookieguard/dialog")):
        text = page.decode()
        for name in FIVE:
            assert name in text, name


def test_an_all_granted_visitor_with_the_csp_on_teaches_the_site_too() -> None:
    policy = make_policy(csp="enforce")
    site = Site(policy, receipts=None)
    everything = frozenset({"preferences", "analytics", "marketing"})
    granted = Consent(True, everything, "c" * 22, 1, 0)
    out = edit(site, PAGE, granted)
    assert b'data-cookieguard="' not in out  # nothing blocked, nothing edited
    assert "Hotjar" in site.vendors.names
    cookie = f"cookie_consent={ConsentCodec(policy).dumps(set(everything), 'c' * 22)}"
    decision = site.guard.read(cookie, False, "shop.example", False)
    headers = dict(site.page_headers(decision, status=200, content_type="text/html"))
    assert allows_host(headers[ENFORCE_HEADER], "script-src", "static.hotjar.com")
    # A vendor the site does not use.
    assert not allows_host(headers[ENFORCE_HEADER], "script-src", "www.clarity.ms")
    undecided = dict(site.page_headers(Decision(UNDECIDED), status=200, content_type="text/html"))
    # Refused: never allowed; the embed stays framable for "Load once".
    assert not allows_host(undecided[ENFORCE_HEADER], "script-src", "static.hotjar.com")
    assert allows_host(undecided[ENFORCE_HEADER], "frame-src", "www.youtube.com")


def test_recording_is_thread_safe_and_bounded() -> None:
    site = site_for()
    vendors = list(site.policy.catalogue.vendors)
    barrier = threading.Barrier(8)

    def add_all() -> None:
        barrier.wait()
        for vendor in vendors:
            site.vendors.add(vendor)

    threads = [threading.Thread(target=add_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = {v.name for v in vendors}
    assert site.vendors.names == names
    assert site.vendors.generation == len(names)


def test_a_record_only_gate_skips_pages_whose_vendors_are_all_known() -> None:
    """With the CSP on, a visitor with nothing to block gets a gate that only records: once
    the vendors of a page are known, its prefilter finds nothing, so the page takes the fast
    path (no tag is parsed) instead of costing a full scan on every view."""
    site = Site(make_policy(csp="enforce"), receipts=None)
    everything = frozenset({"preferences", "analytics", "marketing"})
    granted = Consent(True, everything, "c" * 22, 1, 0)
    gate = site._blocker(granted)
    assert gate is not None and gate.record_only and not gate.active
    assert gate.positions(PAGE) != []  # new vendors: the tags are read, to record them
    edit(site, PAGE, granted)
    assert "Hotjar" in site.vendors.names
    assert gate.positions(PAGE) == []  # all known: nothing to read
    newcomer = PAGE.replace(
        b"</body>", b'<script src="https://www.clarity.ms/tag/x"></script></body>'
    )
    assert gate.positions(newcomer) != []
