"""Framework cookies declared for you: the session, CSRF and login cookies a web framework
sets itself are strictly necessary unless the policy says otherwise.

The framework helpers (``cookieguard.django``, ``cookieguard.flask``) read the cookie names
from the app's own configuration and call :func:`declare_necessary`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from cookieguard.core._cookies import COOKIE_NAME
from cookieguard.core._policy import NECESSARY, Policy

logger = logging.getLogger("cookieguard")


def declare_necessary(
    policy: Policy, names: Iterable[str | None], *, framework: str, log: bool = True
) -> Policy:
    """``policy`` with each of ``names`` declared ``necessary``, unless the policy already
    declares it (by name or glob) or it is not a cookie name at all.

    Logs one line naming the cookies it declared (unless ``log`` is false), so a site owner
    sees it once at start-up.
    Policies are frozen: the result is a new one (``policy`` itself when nothing changes).
    """
    added: list[str] = []
    for name in names:
        if not name or not COOKIE_NAME.match(name) or name in added:
            continue
        if policy.category_of(name) is None:
            added.append(name)
    if not added:
        return policy
    cookies = {**policy.cookies, **dict.fromkeys(added, NECESSARY)}
    if not log:
        return dataclasses.replace(policy, cookies=cookies)
    logger.info(
        "%s's own cookies %s are declared necessary (session, CSRF, login); declare them in "
        "the policy's cookies to put them in another category.",
        framework,
        ", ".join(added),
    )
    return dataclasses.replace(policy, cookies=cookies)
