"""The visitor's own auto-answer tool (issue 24 part 7): DuckDuckGo's ``@duckduckgo/autoconsent``
(from the npm registry, pinned by integrity) runs our rule ``autoconsent/cookieguard.json`` in
Chromium the way its own Playwright runner does. The refusal is applied, no tracker loads, the
banner goes away, and a receipt records the choice and how it was made."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Frame, Page, Route, expect

from tests.browser.site import Extras, _cache_dir, build_app
from tests.browser.site import Page as SitePage
from tests.harness import UvicornServer

ROOT = Path(__file__).resolve().parents[2]
RULE = json.loads((ROOT / "autoconsent" / "cookieguard.json").read_text("utf-8"))
AUTOCONSENT_VERSION = "16.23.0"
AUTOCONSENT_INTEGRITY = (
    "sha512-NTmDhASFf5pUsSwg2TyT9R75GYUcuYZXPyBnRcYgJgozg6RLeXX"
    "P9uH8ADxA364yQ2gJBMu83AN/D24Y4nkPKg=="
)
GTAG = "https://www.googletagmanager.com/gtag/js?id=G-TEST"
ARTICLE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Article</title>
<script async src="{GTAG}"></script></head>
<body><main><h1>Article</h1><p>Text.</p>
<script type="text/plain" data-cookieguard="marketing" src="/static/m.js"></script>
</main></body></html>"""


def fetch_autoconsent() -> Path:
    """autoconsent.playwright.js: ``$COOKIEGUARD_AUTOCONSENT_JS``, the cache, or ``npm pack``
    (checked against the pinned integrity), the way tests/browser/site.py gets axe-core."""
    configured = os.environ.get("COOKIEGUARD_AUTOCONSENT_JS")
    if configured:
        return Path(configured)
    target = _cache_dir() / f"autoconsent-{AUTOCONSENT_VERSION}.playwright.js"
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "the autoconsent test needs @duckduckgo/autoconsent: install npm (apt-get install"
            " npm) or set COOKIEGUARD_AUTOCONSENT_JS to an autoconsent.playwright.js"
        )
    package = f"@duckduckgo/autoconsent@{AUTOCONSENT_VERSION}"
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [npm, "pack", package, "--json", "--pack-destination", tmp],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            cwd=tmp,
        )
        if result.returncode != 0:
            pytest.fail(f"npm pack {package} failed:\n{result.stderr}")
        tarball = (Path(tmp) / json.loads(result.stdout)[0]["filename"]).read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if digest != AUTOCONSENT_INTEGRITY:
        pytest.fail(f"{package} tarball has integrity {digest}, not the pinned one")
    with tarfile.open(fileobj=io.BytesIO(tarball)) as archive:
        member = archive.extractfile("package/dist/autoconsent.playwright.js")
        assert member is not None
        script = member.read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(script)
    return target


@pytest.fixture(scope="module")
def autoconsent_js() -> str:
    return fetch_autoconsent().read_text("utf-8")


@pytest.fixture(scope="module")
def site(axe_js: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    receipts = tmp_path_factory.mktemp("autoconsent") / "receipts.sqlite3"
    extras = Extras(pages={"article": SitePage(ARTICLE)})
    with UvicornServer(build_app(axe_js, extras, receipts=str(receipts))) as server:
        yield server.url


class Autoconsent:
    """The background side of autoconsent's Playwright runner: answers the content script's
    ``init`` with our rule and ``autoAction``, runs its ``eval`` requests, keeps every message."""

    def __init__(self, page: Page, script: str, action: str) -> None:
        self.page = page
        self.script = script
        self.action = action
        self.received: list[dict[str, Any]] = []
        self.pending: list[tuple[Frame, dict[str, Any]]] = []
        page.expose_binding("autoconsentSendMessage", self._message)

    def _message(self, source: dict[str, Any], message: dict[str, Any]) -> None:
        # Answered from the test's loop (pump), not from inside the binding call.
        self.received.append(message)
        self.pending.append((source["frame"], message))

    def start(self) -> None:
        self.page.evaluate(self.script)

    def pump(self) -> None:
        while self.pending:
            frame, message = self.pending.pop(0)
            if message["type"] == "init":
                config = {
                    "enabled": True,
                    "autoAction": self.action,
                    "disabledCmps": [],
                    "enablePrehide": True,
                    "enableCosmeticRules": False,
                    "enableHeuristicDetection": False,
                    "detectRetries": 20,
                }
                resp = {"type": "initResp", "config": config, "rules": {"autoconsent": [RULE]}}
                frame.evaluate(f"autoconsentReceiveMessage({json.dumps(resp)})")
            elif message["type"] == "eval":
                result = frame.evaluate(message["code"])
                reply = {"id": message["id"], "type": "evalResp", "result": result}
                frame.evaluate(f"autoconsentReceiveMessage({json.dumps(reply)})")

    def wait_for(self, kind: str, timeout_ms: int = 20000) -> dict[str, Any]:
        for _ in range(timeout_ms // 100):
            self.pump()
            for message in self.received:
                if message["type"] == kind:
                    return message
            self.page.wait_for_timeout(100)
        raise AssertionError(f"no {kind!r} message; got {[m['type'] for m in self.received]}")


def test_the_rule_is_in_autoconsents_format() -> None:
    assert RULE["name"] == "cookieguard"
    for step in ("detectCmp", "detectPopup", "optIn", "optOut", "test"):
        assert isinstance(RULE[step], list) and RULE[step], step
    # It finds the banner by the markup contract (DESIGN.md), not by texts that get translated.
    assert "#cookie-consent" in json.dumps(RULE["detectCmp"])
    assert "data-cookieguard-action='reject_all'" in json.dumps(RULE["optOut"])


def test_autoconsent_refuses_for_the_visitor(page: Page, site: str, autoconsent_js: str) -> None:
    trackers: list[str] = []

    def tracker(route: Route) -> None:
        trackers.append(route.request.url)
        route.fulfill(body="window.__tracked = true;", content_type="text/javascript")

    page.context.route("https://www.googletagmanager.com/**", tracker)
    local: list[str] = []
    page.on("request", lambda r: local.append(r.url) if "/static/m.js" in r.url else None)
    robot = Autoconsent(page, autoconsent_js, "optOut")
    page.goto(site + "/page/article")
    robot.start()
    assert robot.wait_for("cmpDetected")["cmp"] == "cookieguard"
    assert robot.wait_for("popupFound")["cmp"] == "cookieguard"
    result = robot.wait_for("optOutResult")
    assert result["result"] is True, robot.received
    robot.wait_for("autoconsentDone")

    # The banner went away and the refusal holds on the server.
    expect(page.locator("#cookie-consent")).to_be_hidden()
    state = page.request.get(site + "/_cookieguard/consent").json()
    assert state["decided"] is True
    assert {name for name, on in state["categories"].items() if on} == {"necessary"}
    # No tracker loaded, before or after the choice; the next page has no banner either.
    page.wait_for_timeout(300)
    assert trackers == [] and local == []
    page.goto(site + "/page/article")
    expect(page.locator("#cookie-consent")).to_have_count(0)
    page.wait_for_timeout(300)
    assert trackers == [] and local == []
    # The receipt: the refusal, made on the banner (the rule clicks its Reject all).
    history = page.request.get(site + "/_cookieguard/receipts").json()["receipts"]
    assert len(history) == 1, history
    assert history[0]["granted"] == [] or history[0]["granted"] == ["necessary"]
    assert set(history[0]["denied"]) >= {"preferences", "analytics", "marketing"}
    assert history[0]["method"] == "banner"
    assert history[0]["path"] == "/page/article"
