"""pytest plugin entry point (registered as ``cookieguard`` in the ``pytest11`` group)."""
