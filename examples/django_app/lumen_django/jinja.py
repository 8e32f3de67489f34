"""The Jinja environment of the shop's pages: the shared templates ask ``cookie_consent()``."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from cookieguard import Consent
from cookieguard.django import consent


@pass_context
def cookie_consent(context: Context) -> Consent:
    """Templates may ask about consent (the like notice does): ``cookie_consent().allows(...)``."""
    return consent(context["request"])


def environment(**options: Any) -> Environment:
    env = Environment(**options)
    env.globals["cookie_consent"] = cookie_consent
    return env
