"""The Django project behind real servers: waitress (WSGI) and uvicorn (ASGI) in threads, and
the example site under ``manage.py runserver`` in a subprocess.

Under uvicorn, Django's ASGIHandler sends ``b"Set-Cookie"`` in its original case; the gate
sits inside Django, so it holds whatever the server or the ASGI adapter make of header case.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler

from cookieguard import ConsentCodec
from cookieguard.django import policy_from_settings
from tests.django.conftest import ADMIN_PASSWORD
from tests.django.visitor import Visitor
from tests.harness import ServerProcess, UvicornServer, WaitressServer, raw_get

BANNER = b'id="cookie-consent"'
TRACKERS = {b"_ga", b"likebox", b"_fbp"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=["waitress", "uvicorn"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    server: WaitressServer | UvicornServer
    if request.param == "waitress":
        server = WaitressServer(WSGIHandler())
    else:
        server = UvicornServer(ASGIHandler())
    with server:
        yield server.port


def consent_cookie(*granted: str) -> str:
    policy = policy_from_settings()
    return f"{policy.cookie_name}={ConsentCodec(policy).dumps(set(granted), 'c' * 22)}"


def cookie_names(lines: list[bytes]) -> set[bytes]:
    return {line.split(b"=", 1)[0].strip() for line in lines if b"max-age=0" not in line.lower()}


# A sync stream under ASGI (or an async one under WSGI) makes Django warn that it consumes the
# stream the other way; that is Django's own behaviour, with or without cookieguard.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
@pytest.mark.parametrize(
    "path", ["/page", "/async-page", "/streaming", "/async-streaming", "/file"]
)
def test_undecided_visitor_gets_no_tracking_cookie_and_a_banner(port: int, path: str) -> None:
    response = raw_get(port, path)
    assert response.status == 200
    assert not cookie_names(response.named(b"set-cookie")) & TRACKERS, response.lines
    assert BANNER in response.body
    length = response.named(b"content-length")
    assert length in ([], [str(len(response.body)).encode()])


def test_refused_cookies_are_expired_on_every_domain(port: int) -> None:
    response = raw_get(port, "/page", [("Cookie", f"{consent_cookie()}; _ga=GA1.1.old")])
    ga = [line for line in response.named(b"set-cookie") if line.startswith(b"_ga=")]
    # host-only, shop.example.com, example.com (raw_get sends Host: shop.example.com)
    assert len(ga) == 3 and all(b"max-age=0" in line.lower() for line in ga), ga
    assert BANNER not in response.body


def test_granted_cookies_pass(port: int) -> None:
    response = raw_get(port, "/async-page", [("Cookie", consent_cookie("analytics"))])
    assert cookie_names(response.named(b"set-cookie")) & TRACKERS == {b"_ga"}


def test_a_chunked_choice_over_the_limit_is_refused(port: int) -> None:
    # No Content-Length: the endpoint reads one byte past the limit to tell.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        body = iter([b'{"action": "accept_all", "pad": "', b"x" * 5000, b'"}'])
        conn.request(
            "POST",
            "/_cookieguard/consent",
            body=body,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 413
        assert "cookie_consent" not in (response.getheader("Set-Cookie") or "")
    finally:
        conn.close()


def test_admin_login_after_reject_all(port: int) -> None:
    visitor = Visitor(f"http://127.0.0.1:{port}")
    visitor.choose("reject_all")
    login = visitor.admin_login(ADMIN_PASSWORD)
    assert login.status == 302 and login.header("Location") == "/admin/", login.body[:300]
    assert "sessionid" in visitor.jar
    home = visitor.get("/admin/")
    assert home.status == 200 and b"Site administration" in home.body
    assert not set(visitor.jar) & {"_ga", "likebox", "_fbp"}


# -- the example under runserver ----------------------------------------------------------------


@pytest.fixture(scope="module")
def runserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python examples/django_app/manage.py runserver`` with a fresh database and an admin."""
    state = tmp_path_factory.mktemp("django-runserver")
    manage = str(ROOT / "examples" / "django_app" / "manage.py")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        "PORT": "{port}",
        "COOKIEGUARD_SECRET": "runserver-test-secret-0123456789",
        "COOKIEGUARD_RECEIPTS": str(state / "receipts.sqlite3"),
        "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }
    for command in (
        ["migrate"],
        ["createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"],
    ):
        subprocess.run(
            [sys.executable, manage, *command, "-v", "0"], env=env, check=True, timeout=300
        )
    argv = [sys.executable, manage, "runserver", "--noreload"]
    log = state / "runserver.log"
    with ServerProcess("manage.py runserver", argv, log=log, env=env) as server:
        yield server.url


def test_runserver_sends_no_ga_to_an_undecided_visitor(runserver: str) -> None:
    visitor = Visitor(runserver)
    page = visitor.get("/")
    assert page.status == 200
    assert not page.stored() & {"_ga", "_fbp", "likebox"}, page.all("Set-Cookie")
    assert BANNER in page.body
    assert page.header("Content-Length") == str(len(page.body))


def test_runserver_admin_login_after_reject_all(runserver: str) -> None:
    visitor = Visitor(runserver)
    visitor.choose("reject_all")
    assert not visitor.get("/").stored() & {"_ga", "_fbp"}
    login = visitor.admin_login(ADMIN_PASSWORD)
    assert login.status == 302, login.body[:300]
    home = visitor.get("/admin/")
    assert home.status == 200 and b"Site administration" in home.body


def test_runserver_accept_all_sets_the_sites_cookies(runserver: str) -> None:
    visitor = Visitor(runserver)
    visitor.choose("accept_all")
    page = visitor.get("/photo/harbour")
    assert {"_ga", "_fbp"} <= page.stored()
    assert BANNER not in page.body
