"""``python -m cookieguard``: the ``cookieguard`` command."""

import sys

from cookieguard.cli import main

if __name__ == "__main__":
    sys.exit(main())
