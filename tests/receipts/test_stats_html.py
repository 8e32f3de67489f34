"""``cookieguard stats --html``: one page, matplotlib's charts inline, nothing fetched."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cookieguard import cli
from cookieguard.receipts import SQLiteStore, consent_stats, render_stats_html
from cookieguard.receipts._stats_html import portable_svg
from tests.receipts._helpers import make_receipt

ALL = ("analytics", "marketing", "preferences")
START = datetime(2026, 10, 1, 10, tzinfo=UTC)


def seeded(path: Path) -> SQLiteStore:
    """Five weeks of choices; revision 4 (from day 20) asks again, with fewer Accept all."""
    store = SQLiteStore(path)
    receipts = []
    for day in range(35):
        revision = 3 if day < 20 else 4
        for n in range(12 + day % 5):
            kind = (n + day) % (3 if revision == 3 else 4)
            granted: tuple[str, ...] = (ALL, (), ("analytics",), ())[kind]
            denied = tuple(c for c in ALL if c not in granted)
            language = ("en", "de", "fr", "en", "nl")[n % 5]
            moment = START + timedelta(days=day)
            receipts.append(make_receipt(f"v{day:02d}-{n:04d}-visitor", time=moment,
                                         granted=granted, denied=denied, revision=revision,
                                         language=language,
                                         region=("DE", "FR", "US-CA", "DE")[n % 4]))  # fmt: skip
        if day % 4 == 0:  # someone takes analytics back
            receipts.append(make_receipt(f"v{day:02d}-0000-visitor", revision=revision,
                                         time=START + timedelta(days=day, hours=2),
                                         granted=(), denied=ALL))  # fmt: skip
    store.record_many(receipts)
    store.add_impressions(
        {(START + timedelta(days=d), 3 if d < 20 else 4, "en"): 40 for d in range(35)}
    )
    return store


def test_portable_svg_leaves_nothing_for_csp_to_block() -> None:
    svg = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg width="1" xmlns="http://www.w3.org/2000/svg">'
        "<metadata><x/></metadata><defs><style>*{stroke: red}</style>"
        '<clipPath id="p1"><rect/></clipPath></defs>'
        '<path clip-path="url(#p1)" style="fill: #fff; stroke-width: 0.8"/>'
        '<use xlink:href="#g1"/></svg>'
    )
    out = portable_svg(svg, "c9-")
    assert out.startswith('<svg stroke-linejoin="round" stroke-linecap="butt" width="1"')
    assert "style" not in out and "metadata" not in out and "<?xml" not in out
    assert 'fill="#fff" stroke-width="0.8"' in out
    assert 'id="c9-p1"' in out and "url(#c9-p1)" in out and 'xlink:href="#c9-g1"' in out


@pytest.mark.browser
def test_report_renders_in_chromium_offline(tmp_path: Path) -> None:
    """No console error, no request but the page itself, all five charts drawn (issue 22)."""
    from playwright.sync_api import sync_playwright

    from cookieguard.testing._browser import launch_args

    store = seeded(tmp_path / "r.sqlite3")
    store.close()
    target = tmp_path / "report.html"
    status = cli.main(["stats", "--store", str(tmp_path / "r.sqlite3"), "--since", "2026-10-01",
                       "--until", "2026-11-04", "--html", str(target)])  # fmt: skip
    assert status == 0
    page_html = target.read_text()
    assert "<script" not in page_html and "http://" not in page_html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    ).replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    assert " style=" not in page_html

    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_args())
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 800})
            page = context.new_page()
            page.on(
                "console",
                lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("requestfailed", lambda r: problems.append("failed " + r.url))

            def route(route: Any) -> None:
                requests.append(route.request.url)
                if route.request.url == "https://stats.example/report":
                    route.fulfill(
                        status=200, content_type="text/html; charset=utf-8", body=page_html
                    )
                else:
                    route.abort()

            context.route("**/*", route)
            page.goto("https://stats.example/report")
            page.wait_for_load_state("load")
            charts = page.locator("svg[role=img]")
            assert charts.count() == 5
            for index in range(5):
                box = charts.nth(index).bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 80
            # The stylesheet applied (its hash is in the page's CSP): the KPI list is a row.
            assert page.locator(".kpi").evaluate("e => getComputedStyle(e).display") == "flex"
            assert "Each policy revision" in page.content()
            shot = os.environ.get("COOKIEGUARD_STATS_SCREENSHOT")
            if shot:
                page.screenshot(path=shot, full_page=True)

            # Served under a stricter policy than its own (no style at all): the stylesheet
            # is refused, the charts still draw (they need neither style nor script).
            strict = context.new_page()
            refused: list[str] = []
            strict.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)

            def strict_route(route: Any) -> None:
                requests.append(route.request.url)
                route.fulfill(status=200, content_type="text/html; charset=utf-8",
                              headers={"Content-Security-Policy": "default-src 'none'"},
                              body=page_html)  # fmt: skip

            context.unroute("**/*")
            context.route("**/*", strict_route)
            strict.goto("https://stats.example/strict")
            box = strict.locator("svg[role=img]").first.bounding_box()
            assert box is not None and box["width"] > 300
            assert refused and all("style" in text for text in refused)
        finally:
            browser.close()
    assert requests == ["https://stats.example/report", "https://stats.example/strict"]
    assert problems == []


def test_html_needs_matplotlib_and_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    store = seeded(tmp_path / "r.sqlite3")
    report = consent_stats(store, since="2026-10-01", until="2026-11-04")
    store.close()
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=re.escape("pip install 'cookieguard[stats]'")):
        render_stats_html(report)
    argv = ["stats", "--store", str(tmp_path / "r.sqlite3"), "--html", str(tmp_path / "x.html")]
    assert cli.main(argv) == 2
    assert "cookieguard[stats]" in capsys.readouterr().err
