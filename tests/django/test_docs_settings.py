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
    # The example shows compression before ours (after it works too: pages are decoded).
    assert middleware.index("django.middleware.gzip.GZipMiddleware") < middleware.index(
        "cookieguard.django.ConsentMiddleware"
    )
    with override_settings(MIDDLEWARE=middleware):
        problems = check_settings()
    assert [p.id for p in problems] == [], [p.msg for p in problems]


def test_consent_middleware_first_passes_with_gzip_after_it() -> None:
    """ConsentMiddleware first, GZipMiddleware after it (inside): compressed pages are
    decoded, edited and compressed again, so this order is no longer refused (issue 19)."""
    middleware = _documented_middleware()
    middleware.remove("cookieguard.django.ConsentMiddleware")
    with override_settings(MIDDLEWARE=["cookieguard.django.ConsentMiddleware", *middleware]):
        problems = check_settings()
    assert [p.id for p in problems] == []
