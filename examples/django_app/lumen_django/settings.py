"""Settings of the Lumen Stock Django example. The cookieguard part is marked below."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SITE = HERE.parent.parent / "site"  # the shop every example serves: lumen.py, templates, static
sys.path.insert(0, str(SITE))
from lumen import COOKIES, policy_settings  # noqa: E402


def _state_dir() -> Path:
    """Where the database lives: next to the receipts file when one is given."""
    receipts = os.environ.get("COOKIEGUARD_RECEIPTS")
    return Path(receipts).parent if receipts else Path(tempfile.gettempdir())


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-lumen-stock-example-only")
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "cookieguard.django",  # {% load cookieguard %}
]

MIDDLEWARE = [
    "cookieguard.django.ConsentMiddleware",  # first: every cookie below it is gated
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lumen_django.urls"
WSGI_APPLICATION = "lumen_django.wsgi.application"

TEMPLATES = [
    {
        # The shop's pages: the same Jinja templates as the Flask and Starlette examples.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [SITE / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "lumen_django.jinja.environment"},
    },
    {
        # The admin's pages.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LUMEN_DB") or str(_state_dir() / "lumen-stock-django.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "/static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"cookieguard": {"handlers": ["console"], "level": "INFO"}},
}

# -- cookieguard: everything the site needs for consent ------------------------------------
# Django's own cookies (sessionid, csrftoken, django_language, messages) are declared
# necessary for you; the admin keeps working after "Reject all".
COOKIEGUARD = {
    # The settings the three examples share (the cookie declaration, regions, the secret):
    # lumen.policy_settings, in examples/site/lumen.py.
    **policy_settings("django"),
    # Every cookie the site sets, with what the cookie declaration on /privacy says about it.
    "cookies": {
        **COOKIES,
        # Django's own cookies (the admin's), declared with their lifetimes for the declaration.
        "sessionid": {
            "category": "necessary",
            "max_age": 14 * 24 * 3600,  # SESSION_COOKIE_AGE
            "purpose": {
                "en": "Keeps staff signed in to the admin.",
                "de": "Hält das Personal im Admin angemeldet.",
                "fr": "Garde le personnel connecté à l'administration.",
            },
        },
        "csrftoken": {
            "category": "necessary",
            "max_age": 31449600,  # CSRF_COOKIE_AGE
            "purpose": {
                "en": "Protects forms against cross-site request forgery.",
                "de": "Schützt Formulare vor Cross-Site-Request-Forgery.",
                "fr": "Protège les formulaires contre la falsification de requête intersite.",
            },
        },
        "messages": {
            "category": "necessary",
            "retention": "session",
            "purpose": {
                "en": "Shows a one-time notice after an admin action.",
                "de": "Zeigt nach einer Admin-Aktion einmalig einen Hinweis.",
                "fr": "Affiche un message unique après une action d'administration.",
            },
        },
    },
}
