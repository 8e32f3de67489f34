"""The Jinja environment of the shop's pages: the shared templates ask ``cookie_consent()``."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from cookieguard import Consent
from cookieguard.django import consent
from cookieguard.templates import declaration_html


@pass_context
def cookie_consent(context: Context) -> Consent:
    """Templates may ask about consent (the like notice does): ``cookie_consent().allows(...)``."""
    return consent(context["request"])


@pass_context
def cookie_declaration(context: Context) -> Markup:
    """The cookie declaration in the visitor's language: ``{{ cookie_declaration() }}``."""
    # request.META is the WSGI environ (or its ASGI equivalent) the middleware published to.
    return Markup(declaration_html(context["request"].META, heading_level=4))


def environment(**options: Any) -> Environment:
    env = Environment(**options)
    env.globals["cookie_consent"] = cookie_consent
    env.globals["cookie_declaration"] = cookie_declaration
    return env
