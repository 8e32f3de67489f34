"""A small Django project for the integration tests, configured once per test process.

Settings are configured in code (no ``DJANGO_SETTINGS_MODULE`` left in the environment, so
servers started by other tests are not affected). The database is a SQLite file, so real
servers in threads share it with the tests.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from django.conf import settings

SECRET = "django-tests-secret-0123456789abcdef"
ADMIN_PASSWORD = "admin-password-for-tests"
COOKIES = {"_ga": "analytics", "_ga_*": "analytics", "likebox": "preferences", "_fbp": "marketing"}
HERE = Path(__file__).resolve().parent
_STATE = Path(tempfile.mkdtemp(prefix="cookieguard-django-tests-"))
atexit.register(shutil.rmtree, _STATE, True)

MIDDLEWARE = [
    "cookieguard.django.ConsentMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

if not settings.configured:
    settings.configure(
        SECRET_KEY="django-insecure-tests-only-0123456789abcdefghijklmnop",
        DEBUG=False,
        ALLOWED_HOSTS=["testserver", "127.0.0.1", "localhost", ".example.com"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "cookieguard.django",
        ],
        MIDDLEWARE=MIDDLEWARE,
        ROOT_URLCONF="tests.django.urls",
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [HERE / "templates"],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(_STATE / "db.sqlite3")}
        },
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        LANGUAGES=[("en", "English"), ("de", "German")],
        MESSAGE_STORAGE="django.contrib.messages.storage.cookie.CookieStorage",
        COOKIEGUARD={"secret_keys": [SECRET], "cookies": COOKIES, "receipts": None},
    )
    django.setup()


@pytest.fixture(scope="package", autouse=True)
def database() -> Iterator[None]:
    """Tables and one admin user, for the whole package."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    users = get_user_model()
    if not users.objects.filter(username="admin").exists():
        users.objects.create_superuser(  # type: ignore[attr-defined]
            "admin", "admin@example.com", ADMIN_PASSWORD
        )
    yield
