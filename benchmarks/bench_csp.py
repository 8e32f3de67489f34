"""What the consent-aware CSP costs: header size, the per-response work, and the reload.

    python benchmarks/bench_csp.py [--rounds N] [--no-browser]

1. Header bytes for each granted set (the whole catalogue), and how long ``page_headers``
   takes per HTML response (cached per granted set; best of N rounds, nanoseconds).
2. In real Chromium (pages from uvicorn, the pixel host routed to a local stub): the time from
   the "Accept all" click to the Meta Pixel running, with ``csp="enforce"`` (banner.js reloads
   the page, so the new policy allows the host) and, for comparison, without a CSP (banner.js
   activates a gated copy of the same script in place). Median of N fresh visitors.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from cookieguard import Policy  # noqa: E402
from cookieguard.csp._csp import content_security  # noqa: E402
from cookieguard.site._site import Site  # noqa: E402

SECRET = "bench-csp-secret-0123456789"


def sizes() -> None:
    policy = Policy(secret_keys=[SECRET], csp="enforce", receipts=None)
    security = content_security(policy)
    optional = sorted(policy.optional_categories)
    print(f"catalogue: {security.catalogue!r}")
    print("granted                              header bytes")
    for n in range(len(optional) + 1):
        for granted in combinations(optional, n):
            value = security.value(frozenset(granted))
            print(f"  {', '.join(granted) or '(nothing)':<34} {len(value):>6}")


def per_response(rounds: int) -> None:
    policy = Policy(secret_keys=[SECRET], csp="enforce", receipts=None)
    site = Site(policy, receipts=None)
    decision = site.guard.read(None)
    inner = 100_000
    site.page_headers(decision, status=200, content_type="text/html")  # warm the cache
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(inner):
            site.page_headers(decision, status=200, content_type="text/html; charset=utf-8")
        best = min(best, (time.perf_counter_ns() - start) / inner)
    off = Site(Policy(secret_keys=[SECRET], receipts=None), receipts=None)
    best_off = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(inner):
            off.page_headers(decision, status=200, content_type="text/html; charset=utf-8")
        best_off = min(best_off, (time.perf_counter_ns() - start) / inner)
    print(f"page_headers per HTML response: {best:.0f} ns (csp=None: {best_off:.0f} ns)")


def browser(rounds: int) -> None:
    from playwright.sync_api import Route, sync_playwright
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route as Path_

    from cookieguard.asgi import ConsentMiddleware
    from cookieguard.testing._browser import launch_args
    from tests.browser.site import Server
    from tests.browser.test_csp import INJECT_JS, PAGE, PIXEL_JS

    gated = (
        '<script type="text/plain" data-cookieguard="marketing" '
        'src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    )

    def app(csp: str | None, scripts: str) -> ConsentMiddleware:
        async def home(request: Request) -> HTMLResponse:
            return HTMLResponse(PAGE.format(scripts=scripts))

        async def inject(request: Request) -> Response:
            return Response(INJECT_JS, media_type="text/javascript")

        site = Starlette(routes=[Path_("/", home), Path_("/static/inject.js", inject)])
        policy = Policy(secret_keys=[SECRET], receipts=None, csp=csp)  # type: ignore[arg-type]
        return ConsentMiddleware(site, policy=policy)

    def stub(route: Route) -> None:
        route.fulfill(status=200, content_type="text/javascript", body=PIXEL_JS)

    cases = {
        "csp=enforce, injected pixel (reload)": app(
            "enforce", '<script src="/static/inject.js"></script>'
        ),
        "no CSP, gated pixel (in place)": app(None, gated),
    }
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(**launch_args())
        for label, middleware in cases.items():
            times = []
            with Server(middleware) as server:
                for _ in range(rounds):
                    context = chromium.new_context(base_url=server.url)
                    context.route("https://connect.facebook.net/**", stub)
                    page = context.new_page()
                    page.goto("/")
                    page.wait_for_function("window.cookieguard && window.cookieguard.ready")
                    start = time.perf_counter()
                    page.get_by_role("button", name="Accept all").click()
                    page.wait_for_function("(window.__pixel || 0) >= 1", polling=5)
                    times.append((time.perf_counter() - start) * 1000)
                    context.close()
            print(
                f"{label:<40} click -> pixel running: median {statistics.median(times):.0f} ms "
                f"(min {min(times):.0f}, max {max(times):.0f}, n={rounds})"
            )
        chromium.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    sizes()
    per_response(args.rounds)
    if not args.no_browser:
        browser(args.rounds)


if __name__ == "__main__":
    main()
