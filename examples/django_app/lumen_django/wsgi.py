"""WSGI entry point (waitress, gunicorn): ``lumen_django.wsgi:application``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumen_django.settings")
application = get_wsgi_application()
