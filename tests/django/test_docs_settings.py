"""The settings docs/django.md and the README tell readers to copy pass cookieguard's own
system checks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.test import override_settings

from cookieguard.django.apps import check_settings

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "django.md"


def _documented_middleware(page: Path = PAGE) -> list[str]:
    """The ``MIDDLEWARE = [...]`` list of a page's settings example, as Python data."""
    text = page.read_text(encoding="utf-8")
    found = re.search(r"(?ms)^MIDDLEWARE = (\[.*?^\])", text)
    assert found, f"{page.name} has no MIDDLEWARE = [...] example"
    value = ast.literal_eval(found.group(1))
    assert isinstance(value, list)
    return [str(path) for path in value]


@pytest.mark.parametrize("doc", [PAGE, ROOT / "README.md"], ids=lambda p: p.name)
def test_the_documented_middleware_order_passes_the_system_checks(doc: Path) -> None:
    middleware = _documented_middleware(doc)
    assert "cookieguard.django.ConsentMiddleware" in middleware
    # The example shows compression, which must come before ours (E002 otherwise).
    assert middleware.index("django.middleware.gzip.GZipMiddleware") < middleware.index(
        "cookieguard.django.ConsentMiddleware"
    )
    with override_settings(MIDDLEWARE=middleware):
        problems = check_settings()
    assert [p.id for p in problems] == [], [p.msg for p in problems]


def test_consent_middleware_first_is_refused_when_gzip_is_used() -> None:
    """The README used to say to list ConsentMiddleware "FIRST": with GZipMiddleware in the
    list that order is refused (E002), which is why the page puts compression before it."""
    middleware = _documented_middleware()
    middleware.remove("cookieguard.django.ConsentMiddleware")
    with override_settings(MIDDLEWARE=["cookieguard.django.ConsentMiddleware", *middleware]):
        problems = check_settings()
    assert [p.id for p in problems] == ["cookieguard.E002"]
