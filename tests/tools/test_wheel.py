"""The package as a user installs it: the built wheel in a clean virtual environment, running the
README's quick starts for Flask, FastAPI and Django (issue 20, part 3).

The wheel is built from this checkout (``python -m build``), checked (``twine check``), installed
with its framework extras into a new venv without this repository on the path, and each quick
start's code is taken from the README itself, so the README cannot drift from what works. Static
assets, locales and the tracker catalogue must come from inside the wheel: the checks fetch
``banner.js``, ask for German texts and have a tracker snippet neutralised.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GTAG = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>'
PLAIN = "<!doctype html><html><body><p>hi</p></body></html>"
PAGE = f"<!doctype html><html><head>{GTAG}</head><body><p>hello</p></body></html>"


def _section(heading: str) -> str:
    """The README text under ``heading`` up to the next heading (outside code blocks)."""
    lines: list[str] = []
    inside = fenced = False
    for line in README.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            if inside:
                break
            inside = line.lstrip("#").strip() == heading
            continue
        if inside:
            lines.append(line)
    assert lines, f"README has no section {heading!r}"
    return "".join(lines)


def _python_block(heading: str) -> str:
    match = re.search(r"```python\n(.*?)```", _section(heading), re.S)
    assert match, f"README section {heading!r} has no python block"
    return match.group(1)


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    built = sorted(out.iterdir())
    _run(sys.executable, "-m", "twine", "check", "--strict", *built)
    (found,) = [p for p in built if p.suffix == ".whl"]
    return found


@pytest.fixture(scope="module")
def python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A clean venv with the wheel and its extras installed (from the package index)."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True, clear=True)
    interpreter = home / "bin" / "python"
    _run(
        interpreter,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        f"{wheel}[flask,starlette,django]",
        "fastapi",
        "httpx",
    )
    yield interpreter


def _clean_env() -> dict[str, str]:
    # Nothing of this checkout on the path: the package must come from the wheel.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["COOKIEGUARD_SECRET"] = "a-test-secret-that-is-long-enough-1234567890"
    return env


# Each script prints one JSON object: what a visitor's first page, the banner script, German
# texts and a pasted tracker snippet look like through the quick start's app.
_CHECKS = """
import json
GATED = '<script type="text/plain" data-cookieguard="analytics"'
def report(status, page, asset_status, asset_type, german, tracked, origin):
    print(json.dumps({"status": status, "banner": 'id="cookie-consent"' in page,
                      "asset": [asset_status, asset_type], "german": "Alle akzeptieren" in german,
                      "gtag_gated": GATED in tracked,
                      "origin": origin}))
"""


def _flask_script() -> str:
    return "\n".join(
        [
            "from flask import Flask",
            "app = Flask(__name__)",
            _python_block("Quick start"),
            _python_block("Flask"),
            "@app.get('/tracked')",
            f"def tracked():\n    return {PAGE!r}",
            "@app.get('/page')",
            "def page():\n    return '<!doctype html><html><body><p>hi</p></body></html>'",
            _CHECKS,
            "import cookieguard",
            "c = app.test_client()",
            "r = c.get('/page')",
            "a = c.get('/_cookieguard/banner.js')",
            "de = c.get('/page', headers={'Accept-Language': 'de'})",
            "t = c.get('/tracked')",
            "report(r.status_code, r.get_data(as_text=True), a.status_code, a.content_type,",
            "       de.get_data(as_text=True), t.get_data(as_text=True), cookieguard.__file__)",
        ]
    )


def _fastapi_script() -> str:
    return "\n".join(
        [
            "from fastapi import FastAPI",
            "from fastapi.responses import HTMLResponse",
            "app = FastAPI()",
            _python_block("Quick start"),
            _python_block("Starlette / FastAPI"),
            "@app.get('/tracked', response_class=HTMLResponse)",
            f"def tracked():\n    return {PAGE!r}",
            "@app.get('/page', response_class=HTMLResponse)",
            "def page():\n    return '<!doctype html><html><body><p>hi</p></body></html>'",
            _CHECKS,
            "import cookieguard",
            "from starlette.testclient import TestClient",
            "c = TestClient(app)",
            "r = c.get('/page')",
            "a = c.get('/_cookieguard/banner.js')",
            "de = c.get('/page', headers={'Accept-Language': 'de'})",
            "t = c.get('/tracked')",
            "report(r.status_code, r.text, a.status_code, a.headers['content-type'],",
            "       de.text, t.text, cookieguard.__file__)",
        ]
    )


def _django_script() -> str:
    # The README's settings fragment is Python with `...` where the reader's own entries go:
    # run it, drop the ellipses, and put the entries a minimal project needs around it.
    fragment = _python_block("Django")
    settings = textwrap.dedent(
        f"""
        import django
        from django.conf import settings
        readme = {{}}
        exec({fragment!r}, readme)
        apps = [a for a in readme["INSTALLED_APPS"] if a is not ...]
        middleware = [m for m in readme["MIDDLEWARE"] if m is not ...]
        settings.configure(
            DEBUG=False,
            SECRET_KEY="a-django-secret-key-for-the-wheel-test-0123456789",
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth",
                            "django.contrib.sessions", *apps],
            MIDDLEWARE=middleware,
            DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}},
            COOKIEGUARD=readme["COOKIEGUARD"] | {{"receipts": None}},
        )
        django.setup()
        from django.http import HttpResponse
        from django.urls import path
        urlpatterns = [
            path("page", lambda r: HttpResponse({PLAIN!r})),
            path("tracked", lambda r: HttpResponse({PAGE!r})),
        ]
        from django.core.management import call_command
        call_command("check", fail_level="WARNING")  # the README's order passes the checks
        """
    )
    checks = textwrap.dedent(
        """
        import cookieguard
        from django.test import Client
        c = Client()
        r = c.get("/page")
        a = c.get("/_cookieguard/banner.js")
        de = c.get("/page", headers={"accept-language": "de"})
        t = c.get("/tracked")
        report(r.status_code, r.content.decode(), a.status_code, a["content-type"],
               de.content.decode(), t.content.decode(), cookieguard.__file__)
        """
    )
    return "\n".join([settings, _CHECKS, checks])


@pytest.mark.parametrize(
    "script",
    [_flask_script, _fastapi_script, _django_script],
    ids=["flask", "fastapi", "django"],
)
def test_the_readme_quick_start_runs_from_the_wheel(
    python: Path, tmp_path: Path, script: object
) -> None:
    assert callable(script)
    source = tmp_path / "quickstart.py"
    source.write_text(script(), encoding="utf-8")
    out = _run(python, source, cwd=tmp_path, env=_clean_env())
    result = json.loads(out.strip().splitlines()[-1])
    assert str(python.parent.parent) in result["origin"], result["origin"]  # from the wheel
    assert result["status"] == 200
    assert result["banner"], "the banner was not injected"
    assert result["asset"][0] == 200 and result["asset"][1].startswith("text/javascript")
    assert result["german"], "the German locale did not load from the wheel"
    assert result["gtag_gated"], "the catalogue did not gate a tracker snippet"
