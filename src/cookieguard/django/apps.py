"""``INSTALLED_APPS = [..., "cookieguard.django"]``: ``{% load cookieguard %}`` and system checks
(``manage.py check`` reports bad ``COOKIEGUARD`` settings and a leaky middleware order before
the first request does)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class CookieguardConfig(AppConfig):
    """cookieguard as a Django app: template tags and checks (no models, no migrations)."""

    name = "cookieguard.django"
    label = "cookieguard"
    verbose_name = "cookieguard"

    def ready(self) -> None:
        checks.register(check_settings, checks.Tags.security)


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``cookieguard.E001``: ``COOKIEGUARD`` does not make a Policy; ``cookieguard.E002``: the
    middleware order would let cookies out ungated; ``cookieguard.W001``: the middleware is
    not in ``MIDDLEWARE`` (nothing is gated)."""
    from cookieguard.django._middleware import (
        ConfigurationError,
        _is_ours,
        check_middleware_order,
        policy_from_settings,
    )

    found: list[checks.CheckMessage] = []
    try:
        policy_from_settings(log=False)
    except ConfigurationError as exc:
        found.append(checks.Error(str(exc), id="cookieguard.E001"))
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    if not any(_is_ours(path) for path in middleware):
        found.append(
            checks.Warning(
                "cookieguard.django.ConsentMiddleware is not in MIDDLEWARE: no cookie is gated.",
                hint="List 'cookieguard.django.ConsentMiddleware' first in MIDDLEWARE.",
                id="cookieguard.W001",
            )
        )
    try:
        check_middleware_order(middleware)
    except ConfigurationError as exc:
        found.append(checks.Error(str(exc), id="cookieguard.E002"))
    return found
