"""Finding and launching a Chromium for the browser tests.

A system Chromium (Debian's ``chromium``) is preferred where there is one: CI machines that can
reach PyPI, apt and npm but not Playwright's browser downloads still run the browser tests.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

#: Keep a test browser off the network except for the pages under test.
QUIET_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


def chromium_executable() -> str | None:
    """The Chromium to use: ``$COOKIEGUARD_CHROMIUM``, ``/usr/bin/chromium``, or one on PATH.

    ``None`` means none was found: use Playwright's own browser (``playwright install chromium``).
    """
    configured = os.environ.get("COOKIEGUARD_CHROMIUM")
    if configured:
        return configured
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def launch_args() -> dict[str, Any]:
    """Keyword arguments for Playwright's ``chromium.launch()``: headless, quiet, found binary.

    Chromium refuses to start its sandbox as root (containers, CI), hence ``--no-sandbox`` there.
    """
    args = list(QUIET_ARGS)
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and geteuid() == 0:
        args.insert(0, "--no-sandbox")
    options: dict[str, Any] = {"headless": True, "args": args}
    executable = chromium_executable()
    if executable is not None:
        options["executable_path"] = executable
    return options
