"""A minimal cookie-keeping HTTP client for the real-server tests (no redirects followed, so
every response's Set-Cookie lines can be checked)."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header(self, name: str) -> str | None:
        found = self.all(name)
        return found[0] if found else None

    def stored(self) -> set[str]:
        """Names of cookies this reply stores (deletions left out)."""
        return {
            line.split("=", 1)[0].strip()
            for line in self.all("Set-Cookie")
            if "max-age=0" not in line.lower()
        }


@dataclass
class Visitor:
    """One browser: a cookie jar (names only; every cookie here has Path=/) and a base URL."""

    base_url: str
    jar: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        parts = urlsplit(self.base_url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=15)
        sent = dict(headers or {})
        if self.jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        data = None
        if form is not None:
            data = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            reply = Reply(response.status, response.getheaders(), response.read())
        finally:
            conn.close()
        for line in reply.all("Set-Cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if re.search(r"max-age=0\b", line, re.IGNORECASE):
                self.jar.pop(name.strip(), None)
            else:
                self.jar[name.strip()] = value
        return reply

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form=form)

    def choose(self, action: str) -> Reply:
        reply = self.post("/_cookieguard/consent", {"action": action, "next": "/"})
        assert reply.status == 303, reply.body
        return reply

    def admin_login(self, password: str) -> Reply:
        """Log in to the Django admin through its real form, CSRF token and all."""
        form = self.get("/admin/login/?next=/admin/")
        assert form.status == 200, form.body[:500]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form.body)
        assert token is not None
        assert "csrftoken" in self.jar
        fields = {"username": "admin", "password": password}
        return self.post(
            "/admin/login/?next=/admin/", {**fields, "csrfmiddlewaretoken": token[1].decode()}
        )
