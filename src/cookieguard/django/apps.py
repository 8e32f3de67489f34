"""``INSTALLED_APPS = [..., "cookieguard.django"]``: makes ``{% load cookieguard %}`` available."""

from __future__ import annotations

from django.apps import AppConfig


class CookieguardConfig(AppConfig):
    """cookieguard as a Django app: template tags only (no models, no migrations)."""

    name = "cookieguard.django"
    label = "cookieguard"
    verbose_name = "cookieguard"
