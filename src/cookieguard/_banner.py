"""Server-rendered banner markup and the preferences page (both work without JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from html import escape

from cookieguard._consent import Consent
from cookieguard._i18n import text
from cookieguard._policy import Policy, text_for
from cookieguard.receipts import Receipt


def _purposes(policy: Policy, language: str) -> str:
    return ", ".join(
        text_for(c.label, language) for c in policy.categories if not c.locked
    )


def _hosts(policy: Policy) -> list[str]:
    seen: list[str] = []
    for category in policy.categories:
        for host in category.hosts:
            if host not in seen:
                seen.append(host)
    return seen


def render_banner(policy: Policy, consent: Consent, *, language: str, next_path: str) -> str:
    """The first-layer banner: a real form with Accept all / Reject all / Customize."""
    t = lambda key: escape(text(language, key))  # noqa: E731
    action = escape(policy.prefix + "/consent")
    prefs = escape(policy.prefix + "/preferences")
    hosts = _hosts(policy)
    parties = (
        f'<p>{escape(text(language, "parties").format(hosts=", ".join(hosts)))}</p>'
        if hosts
        else ""
    )
    return (
        f'<div id="cookie-consent" class="cg-banner" role="region" aria-labelledby="cg-title"'
        f' lang="{escape(language)}">'
        f'<form method="post" action="{action}">'
        f'<h2 id="cg-title">{t("title")}</h2>'
        f'<p>{escape(text(language, "intro").format(purposes=_purposes(policy, language)))}</p>'
        f"{parties}"
        f'<p>{t("withdraw")} <a href="{prefs}" data-cookieguard-action="open">{t("settings")}</a>'
        "</p>"
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<input type="hidden" name="source" value="banner">'
        '<div class="cg-actions">'
        '<button type="submit" name="action" value="accept_all"'
        f' data-cookieguard-action="accept_all">{t("accept_all")}</button>'
        '<button type="submit" name="action" value="reject_all"'
        f' data-cookieguard-action="reject_all">{t("reject_all")}</button>'
        f'<button type="submit" formmethod="get" formaction="{prefs}"'
        f' data-cookieguard-action="customize">{t("customize")}</button>'
        "</div></form></div>"
    )


def asset_tags(policy: Policy, version: str) -> str:
    """The stylesheet and script tags every HTML page gets (no inline code: CSP-safe)."""
    prefix = escape(policy.prefix)
    v = escape(version)
    return (
        f'<link rel="stylesheet" href="{prefix}/banner.css?v={v}">'
        f'<script src="{prefix}/banner.js?v={v}" data-cookieguard-prefix="{prefix}" defer>'
        "</script>"
    )


def _category_rows(policy: Policy, consent: Consent, language: str) -> str:
    t = lambda key: escape(text(language, key))  # noqa: E731
    rows = []
    for category in policy.categories:
        name = escape(category.name)
        label = escape(text_for(category.label, language))
        desc = escape(text_for(category.description, language))
        if category.locked:
            control = (
                f'<input type="checkbox" id="cg-c-{name}" checked disabled>'
                f' <span class="cg-always">{t("always_on")}</span>'
            )
        else:
            checked = " checked" if consent.allows(category.name) else ""
            control = (
                f'<input type="checkbox" id="cg-c-{name}" name="category" value="{name}"{checked}>'
            )
        rows.append(
            f'<div class="cg-category">{control} <label for="cg-c-{name}">{label}</label>'
            f'<p id="cg-d-{name}">{desc}</p></div>'
        )
    return "".join(rows)


def _choice_form(policy: Policy, consent: Consent, language: str, next_path: str) -> str:
    t = lambda key: escape(text(language, key))  # noqa: E731
    action = escape(policy.prefix + "/consent")
    return (
        f'<form method="post" action="{action}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<input type="hidden" name="source" value="preferences">'
        f"<fieldset><legend>{t('settings')}</legend>"
        f"{_category_rows(policy, consent, language)}</fieldset>"
        '<div class="cg-actions">'
        f'<button type="submit" name="action" value="save" data-cookieguard-action="save">'
        f'{t("save")}</button>'
        f'<button type="submit" name="action" value="accept_all"'
        f' data-cookieguard-action="accept_all">{t("accept_all")}</button>'
        f'<button type="submit" name="action" value="reject_all"'
        f' data-cookieguard-action="reject_all">{t("reject_all")}</button>'
        "</div></form>"
    )


def render_dialog(policy: Policy, consent: Consent, *, language: str, next_path: str) -> str:
    """The preferences form as a dialog fragment (``GET {prefix}/dialog``)."""
    title = escape(text(language, "preferences_title"))
    return (
        f'<dialog id="cookie-preferences-dialog" aria-labelledby="cg-dialog-title"'
        f' lang="{escape(language)}"><h2 id="cg-dialog-title">{title}</h2>'
        f"{_choice_form(policy, consent, language, next_path)}</dialog>"
    )


def render_preferences_page(
    policy: Policy,
    consent: Consent,
    *,
    language: str,
    next_path: str,
    history: Sequence[Receipt],
    version: str,
) -> str:
    """A complete page where a visitor sees, changes or withdraws their choice."""
    t = lambda key: escape(text(language, key))  # noqa: E731
    if consent.id:
        ident = f'<p>{t("consent_id")}: <code id="cg-consent-id">{escape(consent.id)}</code></p>'
    else:
        ident = f'<p>{t("undecided")}</p>'
    items = []
    for receipt in history:
        when = receipt.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        granted = ", ".join(receipt.granted) or "-"
        items.append(f"<li>{escape(when)}: {t('granted')} {escape(granted)}</li>")
    hist = (
        f'<ol class="cg-history">{"".join(items)}</ol>' if items else f'<p>{t("no_history")}</p>'
    )
    nxt = escape(next_path)
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{t("preferences_title")}</title>{asset_tags(policy, version)}</head>'
        f'<body class="cg-page"><main id="cookie-preferences">'
        f'<h1>{t("preferences_title")}</h1>{ident}'
        f"{_choice_form(policy, consent, language, next_path)}"
        f'<h2>{t("history")}</h2>{hist}'
        f'<p><a href="{nxt}">{t("back")}</a></p>'
        f"</main></body></html>"
    )
