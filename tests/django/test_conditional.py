"""Django's ConditionalGetMiddleware after ours computed one ETag from the unedited page for every
consent state and answered 304 to another state's copy (issue 19 item 2)."""

from __future__ import annotations

from typing import Any

from django.test import Client, override_settings

from cookieguard import ConsentCodec
from cookieguard.django import policy_from_settings
from tests.django.conftest import MIDDLEWARE

INSIDE = [MIDDLEWARE[0], "django.middleware.http.ConditionalGetMiddleware", *MIDDLEWARE[1:]]
DOCUMENT: dict[str, Any] = {"HTTP_SEC_FETCH_DEST": "document", "HTTP_ACCEPT": "text/html"}


def client(*granted: str) -> Client:
    policy = policy_from_settings()
    visitor = Client()
    visitor.cookies[policy.cookie_name] = ConsentCodec(policy).dumps(set(granted), "c" * 22)
    return visitor


def test_conditional_get_after_ours_never_resurrects_another_state() -> None:
    with override_settings(MIDDLEWARE=INSIDE):
        accepted = client("analytics", "marketing", "preferences").get("/page", **DOCUMENT)
        tag = accepted["ETag"]
        rejecting = client()
        again = rejecting.get("/page", HTTP_IF_NONE_MATCH=tag, **DOCUMENT)
        assert again.status_code == 200
        assert again["ETag"] != tag
        # The same state's tag: Django's own 304, with the tag as we sent it.
        same = rejecting.get("/page", HTTP_IF_NONE_MATCH=again["ETag"], **DOCUMENT)
        assert same.status_code == 304
        assert same["ETag"] == again["ETag"]
