#!/usr/bin/env python
"""Django's command line for the Lumen Stock example.

``PORT=8002 python examples/django_app/manage.py runserver`` serves on 127.0.0.1:$PORT (set up
the database first: ``python examples/django_app/manage.py migrate``, and
``... createsuperuser`` for the admin). ``python examples/django_app/app.py`` does both and
serves with uvicorn (``SERVER=waitress`` for WSGI).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lumen_django.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    # `runserver` without an address: 127.0.0.1 and $PORT, like the other examples.
    if argv[1:2] == ["runserver"] and not any(a[:1].isdigit() for a in argv[2:]):
        argv.append(f"127.0.0.1:{os.environ.get('PORT', '8002')}")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
