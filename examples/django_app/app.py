"""Lumen Stock on Django: the same stock-photo site as the Flask and Starlette examples.

It sets a ``likebox`` cookie on every like, ``_ga`` and ``_fbp`` on every page, and its pages
carry an analytics script that sets ``_ga_js`` and sends a beacon to ``/collect``. cookieguard
is one line of ``MIDDLEWARE`` and a ``COOKIEGUARD`` dict in ``lumen_django/settings.py``; the
Django admin (``/admin/``) keeps working after "Reject all".

Run: ``PORT=8002 python examples/django_app/app.py`` (uvicorn, ASGI, on 127.0.0.1;
``SERVER=waitress`` serves the WSGI app instead). It creates the SQLite database, and an admin
user ``admin`` when ``LUMEN_ADMIN_PASSWORD`` is set. ``manage.py runserver`` works too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumen_django.settings")


def prepare() -> None:
    """Create the database tables and, if asked, the admin user."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    password = os.environ.get("LUMEN_ADMIN_PASSWORD")
    if password:
        from django.contrib.auth import get_user_model

        users = get_user_model()
        user = users.objects.filter(username="admin").first()
        if user is None:
            users.objects.create_superuser("admin", "admin@example.com", password)  # type: ignore[attr-defined]
        else:
            user.set_password(password)
            user.save()


def main() -> None:
    prepare()
    port = int(os.environ.get("PORT", "8002"))
    server = os.environ.get("SERVER", "uvicorn")
    print(f"Lumen Stock (Django, {server}) on http://127.0.0.1:{port}/", flush=True)
    if server == "waitress":
        from lumen_django.wsgi import application as wsgi_app
        from waitress import serve  # type: ignore[import-untyped]

        serve(wsgi_app, host="127.0.0.1", port=port)
    elif server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "lumen_django.asgi:application", host="127.0.0.1", port=port, log_level="warning"
        )
    else:
        raise SystemExit(f"SERVER must be uvicorn or waitress, not {server!r}")


if __name__ == "__main__":
    main()
