"""Server-rendered banner markup and the preferences page (both work without JavaScript).

``static/banner.js`` only enhances this markup, so the names it relies on are a contract:
the root ``id="cookie-consent"``, the ``data-cookieguard-action`` values, the dialog id
``cookie-preferences-dialog``, ``name="category"`` switches and ``data-cookieguard-note``.
On an element marked ``data-cookieguard="CATS"`` (by the rewriter or by hand), banner.js
gives every other ``data-cookieguard-<name>`` back its name once CATS are granted, except
the names this package writes itself (``-type``, ``-action``, ``-prefix``...); a marked
``<style type="text/plain">`` loses its type.
Everything that comes from the policy or the request is HTML-escaped here; no inline style or
script is ever emitted (pages stay valid under ``Content-Security-Policy: default-src 'self'``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from html import escape
from urllib.parse import quote

from cookieguard.catalogue._catalogue import Vendor
from cookieguard.core._consent import Consent
from cookieguard.core._i18n import TEXTS, direction, text
from cookieguard.core._policy import Category, Policy, text_for
from cookieguard.receipts import Receipt
from cookieguard.ui._declaration import duration, render_declaration, third_parties, with_site_texts


def _t(language: str, key: str) -> str:
    return escape(text(language, key))


def _label(category: Category, language: str) -> str:
    # Policy validation guarantees a non-empty label; the name is a last resort, never blank.
    return text_for(category.label, language).strip() or category.name


def _look(policy: Policy) -> str:
    """The banner's classes: layout, position (when not the layout's default) and scheme
    (when forced), all styled by banner.css (no inline style)."""
    classes = f"cg-banner cg-{policy.layout}"
    if policy.position not in ("bottom", "bottom-end", "center"):
        classes += f" cg-{policy.position}"
    return classes + _scheme(policy)


def _scheme(policy: Policy) -> str:
    return f" cg-{policy.scheme}" if policy.scheme != "auto" else ""


def _preferences_url(policy: Policy, next_path: str) -> str:
    return f"{policy.prefix}/preferences?next={quote(next_path, safe='/')}"


def _lang(language: str) -> str:
    """``lang`` and ``dir`` attributes: Arabic and Hebrew are laid out right to left."""
    return f'lang="{escape(language)}" dir="{direction(language)}"'


def _parties(policy: Policy, language: str, met: frozenset[str] = frozenset()) -> str:
    """Every third party by name, grouped by category (``Analytics: Google Analytics, Hotjar;
    Marketing: Meta Pixel``): catalogued vendors the policy declares or the site's pages were
    met loading (``met``), other declared hosts as written."""
    groups: dict[str, list[str]] = {}
    for party in third_parties(policy, met):
        groups.setdefault(party.categories[0], []).append(party.name)
    parts = []
    for name, members in groups.items():
        try:
            label = _label(policy.category(name), language)
        except KeyError:  # a catalogue vendor's category the site does not have
            label = name
        parts.append(f"{label}: {', '.join(members)}")
    return "; ".join(parts)


def _gpc_refused(policy: Policy, language: str) -> str:
    return ", ".join(_label(c, language) for c in policy.categories if c.sale_or_sharing)


def _gpc_notice(policy: Policy, language: str) -> str:
    """Global Privacy Control honoured, and what it refused (CCPA regulations 7025(c)(6))."""
    refused = _gpc_refused(policy, language)
    if not refused:
        return ""
    notice = text(language, "gpc_honoured").format(categories=refused)
    return f'<p class="cg-gpc" data-cookieguard-gpc>{escape(notice)}</p>'


def _withdraw(policy: Policy, language: str, next_path: str) -> str:
    """The withdrawal sentence with the link to the preferences page in place of ``{settings}``."""
    link = (
        f'<a href="{escape(_preferences_url(policy, next_path))}"'
        f' data-cookieguard-action="open">{_t(language, "settings")}</a>'
    )
    before, found, after = text(language, "withdraw").partition("{settings}")
    sentence = f"{escape(before)}{link}{escape(after)}" if found else f"{escape(before)} {link}"
    if policy.privacy_url:
        sentence += f' <a href="{escape(policy.privacy_url)}">{_t(language, "privacy")}</a>'
    return sentence


def _actions(language: str, *buttons: tuple[str, str]) -> str:
    """Equal first-layer buttons: same element, class and weight for every choice."""
    return (
        '<div class="cg-actions">'
        + "".join(
            f'<button type="submit" class="cg-button" {attrs}>{_t(language, key)}</button>'
            for key, attrs in buttons
        )
        + "</div>"
    )


def _choice(action: str) -> tuple[str, str]:
    return action, f'name="action" value="{action}" data-cookieguard-action="{action}"'


def _purposes(policy: Policy, language: str) -> str:
    """What each optional category is for, from its label and description."""
    items = []
    for category in policy.categories:
        if category.locked:
            continue
        description = text_for(category.description, language).strip()
        label = escape(_label(category, language))
        items.append(
            f"<li><b>{label}</b>: {escape(description)}</li>"
            if description
            else f"<li><b>{label}</b></li>"
        )
    if not items:
        return f"<p>{_t(language, 'intro_necessary')}</p>"
    return f'<p>{_t(language, "purposes")}</p><ul class="cg-purposes">{"".join(items)}</ul>'


@with_site_texts
def render_banner(
    policy: Policy,
    consent: Consent,
    *,
    language: str,
    next_path: str,
    gpc: bool = False,
    met: frozenset[str] = frozenset(),
) -> str:
    """The first-layer banner: a real form with Accept all / Reject all / Customize.

    It informs in short sentences generated from the policy (EDPB cookie banner taskforce
    report, 2023; CNIL guidelines, 2020): the purposes, the third parties by name, how long the
    choice is kept, that it can be withdrawn at any time in "Cookie settings", and the privacy
    policy. ``gpc=True`` (a ``Sec-GPC: 1`` request) adds the notice that the signal was honoured;
    the caller must then not share the markup with other visitors.

    Without JavaScript the first two post the form (303 back to ``next_path``) and Customize
    opens the preferences page; ``banner.js`` turns them into in-page actions.

    A visitor whose region's rule is not opt-in (``consent.rule``) gets that rule's variant
    instead (:func:`_opt_out_notice`, :func:`_notice`), under the same root id.
    """
    if consent.rule == "opt-out":
        return _opt_out_notice(policy, consent, language=language, next_path=next_path, gpc=gpc)
    if consent.rule == "notice":
        return _notice(policy, consent, language=language, next_path=next_path, gpc=gpc)
    parties = _parties(policy, language, met)
    parties_p = (
        f"<p data-cookieguard-parties>{escape(text(language, 'parties').format(hosts=parties))}</p>"
        if parties
        else ""
    )
    kept = escape(text(language, "kept").format(period=duration(language, policy.max_age)))
    gpc_p = _gpc_notice(policy, language) if gpc else ""
    customize = (
        "customize",
        f'formmethod="get" formaction="{escape(policy.prefix)}/preferences"'
        ' data-cookieguard-action="customize"',
    )
    return (
        f'<section id="cookie-consent" class="{_look(policy)}" aria-labelledby="cg-title"'
        f" {_lang(language)}>"
        f'<form method="post" action="{escape(policy.prefix)}/consent">'
        f'<h2 id="cg-title">{_t(language, "title")}</h2>'
        f'<div class="cg-body">{gpc_p}{_purposes(policy, language)}{parties_p}'
        f"<p>{kept} {_withdraw(policy, language, next_path)}</p></div>"
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        + _actions(language, _choice("accept_all"), _choice("reject_all"), customize)
        + "</form>"
        # Shown by banner.js when the browser refuses cookies (nothing to say without JS).
        f'<p class="cg-note" role="status" data-cookieguard-note hidden>'
        f"{_t(language, 'no_cookies')}</p>"
        "</section>"
    )


def _marked(language: str, key: str, escaped: str) -> str:
    """``escaped`` (text ``key``, rendered), with ``lang="en"`` around it while ``language``
    ships the English wording (the opt-out texts follow the California regulations' English
    where no translation is shipped: marked as English, never passed off as translated)."""
    if language != "en" and text(language, key) == TEXTS["en"][key]:
        return f'<span lang="en">{escaped}</span>'
    return escaped


def _t_marked(language: str, key: str) -> str:
    return _marked(language, key, _t(language, key))


def _purpose_names(policy: Policy, language: str) -> str:
    return ", ".join(_label(c, language) for c in policy.categories if not c.locked)


def _keep_granted(granted: frozenset[str]) -> str:
    """The categories a dismissal or an opt-out keeps, as checked switches no one sees: they
    post with the form, and banner.js sends them (it reads ``name="category"``, checked)."""
    return "".join(
        f'<input type="checkbox" name="category" value="{escape(name)}" checked hidden>'
        for name in sorted(granted)
    )


def _variant(
    policy: Policy,
    rule: str,
    language: str,
    next_path: str,
    body: str,
    kept: str,
    actions: str,
) -> str:
    return (
        f'<section id="cookie-consent" class="{_look(policy)} cg-{rule}"'
        f' data-cookieguard-rule="{rule}"'
        f' aria-labelledby="cg-title" {_lang(language)}>'
        f'<form method="post" action="{escape(policy.prefix)}/consent">'
        f'<div class="cg-body">{body}</div>'
        f'<input type="hidden" name="next" value="{escape(next_path)}">{kept}'
        f'<div class="cg-actions">{actions}</div>'
        "</form>"
        f'<p class="cg-note" role="status" data-cookieguard-note hidden>'
        f"{_t(language, 'no_cookies')}</p>"
        "</section>"
    )


def _opt_out_notice(
    policy: Policy, consent: Consent, *, language: str, next_path: str, gpc: bool
) -> str:
    """Where the law lets processing run until the visitor opts out (``rule="opt-out"``): a
    small notice with the "Do Not Sell or Share My Personal Information" control and the
    "Your Privacy Choices" link (California Civil Code 1798.135(a); CCPA Regulations 7013,
    7015) instead of the banner.

    "Do Not Sell or Share" is one click: it saves a choice that keeps every granted category
    except the sale/sharing ones (``Category(sale_or_sharing=True)``). "Your Privacy Choices"
    opens the preferences, where each category can be turned off.
    """
    keep = consent.granted - policy.gpc_denied  # gpc_denied: the sale/sharing categories
    intro = text(language, "optout_intro").format(purposes=_purpose_names(policy, language))
    # A button like the banner's Customize (a link would take the page's link colour): it
    # opens the preferences dialog, or without JavaScript the preferences page.
    choices = (
        f'<button type="submit" class="cg-button" formmethod="get"'
        f' formaction="{escape(policy.prefix)}/preferences" data-cookieguard-action="customize">'
        f"{_t_marked(language, 'privacy_choices')}</button>"
    )
    dnss = (
        '<button type="submit" class="cg-button" name="action" value="save"'
        ' data-cookieguard-action="opt_out" data-cookieguard-dnss>'
        f"{_t_marked(language, 'optout_link')}</button>"
    )
    privacy = (
        f' <a href="{escape(policy.privacy_url)}">{_t(language, "privacy")}</a>'
        if policy.privacy_url
        else ""
    )
    body = (
        f'<h2 id="cg-title">{_t_marked(language, "privacy_choices")}</h2>'
        f"{_gpc_notice(policy, language) if gpc else ''}"
        f"<p>{_marked(language, 'optout_intro', escape(intro))}{privacy}</p>"
    )
    actions = dnss + choices
    return _variant(policy, "opt-out", language, next_path, body, _keep_granted(keep), actions)


def _notice(policy: Policy, consent: Consent, *, language: str, next_path: str, gpc: bool) -> str:
    """Where a notice is enough (``rule="notice"``): what cookies are used for, how to change
    it, and one button that dismisses the notice (saving what is granted)."""
    intro = text(language, "notice_intro").format(purposes=_purpose_names(policy, language))
    body = (
        f'<h2 id="cg-title">{_t(language, "title")}</h2>'
        f"{_gpc_notice(policy, language) if gpc else ''}"
        f"<p>{_marked(language, 'notice_intro', escape(intro))}"
        f" {_withdraw(policy, language, next_path)}</p>"
    )
    ok = (
        '<button type="submit" class="cg-button" name="action" value="save"'
        f' data-cookieguard-action="dismiss">{_t(language, "notice_ok")}</button>'
    )
    return _variant(policy, "notice", language, next_path, body, _keep_granted(consent.granted), ok)


def asset_tags(
    policy: Policy,
    version: str,
    consent: Consent | None = None,
    *,
    storage: str = "",
    ads: bool = False,
    more: bool = False,
) -> str:
    """The stylesheet and script tags every HTML page gets (no inline code: CSP-safe).

    The script tag's data attributes tell ``banner.js`` the policy's page-level settings:
    ``prefix``; ``csp`` (``report``/``enforce``: an enforced consent-aware CSP needs a reload
    after a grant); ``reload`` (reload a page whose running scripts lost consent).

    With ``consent``, the state the page is rendered for rides along, so banner.js asks
    nothing on a page view (issue 24 part 5): ``granted`` (the allowed categories, spaced),
    ``decided``, ``vendors`` (choices per vendor, JSON), ``ads`` (Consent Mode's ad_storage
    granted) and ``storage`` (the version of ``{prefix}/storage.json``, the storage keys to
    clear per category, when there are any).
    Such a page differs per consent state: the caller varies it on ``Cookie``. ``more``: the
    stylesheet of the dialog and the preferences page too (banner.js loads it with the dialog
    elsewhere).
    """
    prefix = escape(policy.prefix)
    v = escape(version)
    extra = ""
    if consent is not None:
        allowed = " ".join(c.name for c in policy.categories if consent.allows(c.name))
        extra += f' data-cookieguard-granted="{escape(allowed)}"'
        refused = " ".join(c.name for c in policy.categories if not consent.allows(c.name))
        if refused:  # so cookieguard.consent.categories says false, not nothing, for these
            extra += f' data-cookieguard-refused="{escape(refused)}"'
        if consent.decided:
            extra += " data-cookieguard-decided"
        if consent.exceptions:  # choices per vendor that differ from their category
            choices = {name: True for name in sorted(consent.vendors)}
            choices.update({name: False for name in sorted(consent.refused_vendors)})
            vendors = json.dumps(choices, separators=(",", ":"))
            extra += f' data-cookieguard-vendors="{escape(vendors)}"'
        if ads:
            extra += " data-cookieguard-ads"
        if storage:
            extra += f' data-cookieguard-storage="{escape(storage)}"'
    more_css = f'<link rel="stylesheet" href="{prefix}/banner-more.css?v={v}">' if more else ""
    if policy.csp:
        extra += f' data-cookieguard-csp="{escape(policy.csp)}"'
    if policy.reload_on_withdrawal:
        extra += ' data-cookieguard-reload="1"'
    return (
        f'<link rel="stylesheet" href="{prefix}/banner.css?v={v}">{more_css}'
        f'<script src="{prefix}/banner.js?v={v}" data-cookieguard-prefix="{prefix}"{extra} defer>'
        "</script>"
    )


def _vendor_facts(vendor: Vendor, language: str) -> str:
    """What the catalogue says of a vendor: its cookies with their retention, its privacy
    policy (the purpose is the category's, said just above)."""
    cookies = []
    for fact in vendor.cookies:
        if fact.storage:
            continue
        kept = duration(language, fact.max_age) if fact.max_age else fact.retention.strip()
        cookies.append(f"{fact.pattern} ({kept})" if kept else fact.pattern)
    parts = []
    if cookies:
        parts.append(escape(text(language, "vendor_cookies").format(cookies=", ".join(cookies))))
    if vendor.privacy_url:
        link = escape(text(language, "vendor_privacy").format(vendor=vendor.name))
        parts.append(f'<a href="{escape(vendor.privacy_url)}">{link}</a>')
    return " ".join(parts)


def _vendor_rows(
    policy: Policy,
    consent: Consent,
    language: str,
    category: Category,
    vendors: Sequence[Vendor],
    locked: bool,
) -> str:
    """A category's vendors, each with its own switch (issue 24): ``name="vendor"``, and a
    hidden ``vendor_was`` for a switch rendered on (so a switch nobody touched follows its
    category when the form is posted without JavaScript)."""
    if not vendors:
        return ""
    name = escape(category.name)
    items = []
    for index, vendor in enumerate(vendors):
        ident = f"cg-v-{name}-{index}"
        on = consent.allows_vendor(vendor.name) or (
            vendor.name not in consent.refused_vendors and consent.allows(category.name)
        )
        checked = " checked" if on else ""
        was = f'<input type="hidden" name="vendor_was" value="{escape(vendor.name)}">' if on else ""
        disabled = " disabled" if locked else ""
        facts = _vendor_facts(vendor, language)
        described = f' aria-describedby="{ident}-d"' if facts else ""
        label = escape(vendor.name)
        if vendor.provider and vendor.provider != vendor.name:
            label += f" ({escape(vendor.provider)})"
        items.append(
            f'<li class="cg-vendor"><input type="checkbox" role="switch" class="cg-switch"'
            f' id="{ident}" name="vendor" value="{escape(vendor.name)}"'
            f' data-cookieguard-category="{name}"{checked}{disabled}{described}>'
            f'<label for="{ident}">{label}</label>{was}'
            + (f'<p id="{ident}-d" class="cg-vendor-facts">{facts}</p>' if facts else "")
            + "</li>"
        )
    return (
        f'<details class="cg-vendors"><summary>{_t(language, "vendors")} ({len(vendors)})'
        f"</summary><ul>{''.join(items)}</ul></details>"
    )


def _vendors_by_category(policy: Policy, met: frozenset[str]) -> dict[str, list[Vendor]]:
    """The catalogue vendors the site serves (declared or met), by their category."""
    by_name = {v.name: v for v in policy.catalogue.vendors}
    found: dict[str, list[Vendor]] = {}
    for party in third_parties(policy, met):
        vendor = by_name.get(party.name)
        if vendor is not None:
            found.setdefault(vendor.category, []).append(vendor)
    return found


def _category_rows(
    policy: Policy, consent: Consent, language: str, met: frozenset[str] = frozenset()
) -> str:
    rows = []
    vendors = _vendors_by_category(policy, met)
    for category in policy.categories:
        name = escape(category.name)
        label = escape(_label(category, language))
        description = text_for(category.description, language).strip()
        described = f' aria-describedby="cg-d-{name}"' if description else ""
        if category.locked:
            # Shown as a switch that is on and cannot be turned off; it is never submitted.
            control = f'<input type="checkbox" role="switch" class="cg-switch" id="cg-c-{name}"'
            control += f" checked disabled{described}>"
            label += f' <span class="cg-always">({_t(language, "always_on")})</span>'
        elif consent.gpc and category.name in policy.gpc_denied:
            # Global Privacy Control refused it: off, and locked for this browser.
            control = f'<input type="checkbox" role="switch" class="cg-switch" id="cg-c-{name}"'
            control += f" disabled data-cookieguard-gpc{described}>"
            label += f' <span class="cg-always">({_t(language, "gpc_locked")})</span>'
        else:
            checked = " checked" if consent.allows(category.name) else ""
            control = (
                f'<input type="checkbox" role="switch" class="cg-switch" id="cg-c-{name}"'
                f' name="category" value="{name}"{checked}{described}>'
            )
        desc = f'<p id="cg-d-{name}">{escape(description)}</p>' if description else ""
        locked = category.locked or bool(consent.gpc and category.name in policy.gpc_denied)
        mine = () if category.locked else vendors.get(category.name, ())
        rows.append(
            f'<div class="cg-category">{control}<label for="cg-c-{name}">{label}</label>'
            f"{desc}{_vendor_rows(policy, consent, language, category, mine, locked)}</div>"
        )
    return "".join(rows)


def _choice_form(
    policy: Policy,
    consent: Consent,
    language: str,
    next_path: str,
    met: frozenset[str] = frozenset(),
) -> str:
    return (
        f'<form method="post" action="{escape(policy.prefix)}/consent">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<input type="hidden" name="source" value="preferences">'
        f'<fieldset class="cg-fieldset"><legend>{_t(language, "choose")}</legend>'
        f"{_category_rows(policy, consent, language, met)}</fieldset>"
        + _actions(language, _choice("save"), _choice("accept_all"), _choice("reject_all"))
        + "</form>"
    )


def _informed(
    policy: Policy,
    consent: Consent,
    language: str,
    id_prefix: str,
    level: int,
    met: frozenset[str] = frozenset(),
) -> tuple[str, str]:
    """What the preferences page and dialog add to the choice: the GPC notice, how long the
    choice is kept, and the cookie declaration (one ``<details>`` per category)."""
    gpc = _gpc_notice(policy, language) if consent.gpc else ""
    kept = escape(text(language, "kept").format(period=duration(language, policy.max_age)))
    return gpc, (
        f"<p>{kept}</p>"
        + render_declaration(policy, language, heading_level=level, id_prefix=id_prefix, met=met)
    )


@with_site_texts
def render_dialog(
    policy: Policy,
    consent: Consent,
    *,
    language: str,
    next_path: str,
    met: frozenset[str] = frozenset(),
) -> str:
    """The preferences form as a dialog fragment (``GET {prefix}/dialog``).

    ``banner.js`` inserts it and calls ``showModal()``; the close button is a
    ``method="dialog"`` form, so closing needs no script of its own.
    """
    gpc, informed = _informed(policy, consent, language, "cg-dialog-decl", 3, met)
    return (
        f'<dialog id="cookie-preferences-dialog" class="cg-dialog{_scheme(policy)}"'
        f' aria-labelledby="cg-dialog-title" {_lang(language)}>'
        f'<h2 id="cg-dialog-title">{_t(language, "preferences_title")}</h2>'
        f"{gpc}{_choice_form(policy, consent, language, next_path, met)}{informed}"
        '<form method="dialog" class="cg-close">'
        f'<button type="submit" class="cg-button">{_t(language, "close")}</button></form>'
        "</dialog>"
    )


@with_site_texts
def render_preferences_page(
    policy: Policy,
    consent: Consent,
    *,
    language: str,
    next_path: str,
    history: Sequence[Receipt],
    version: str,
    met: frozenset[str] = frozenset(),
) -> str:
    """A complete page where a visitor sees, changes or withdraws their choice."""
    if consent.id:
        ident = (
            f'<p>{_t(language, "consent_id")}: <code id="cg-consent-id">{escape(consent.id)}'
            "</code></p>"
        )
    else:
        ident = f"<p>{_t(language, 'undecided')}</p>"
    items = []
    for receipt in history:
        when = receipt.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        granted = ", ".join(receipt.granted) or "-"
        items.append(f"<li>{escape(when)}: {_t(language, 'granted')} {escape(granted)}</li>")
    if items:
        hist = f'<ol class="cg-history">{"".join(items)}</ol>'
    else:
        hist = f"<p>{_t(language, 'no_history')}</p>"
    privacy = (
        f' · <a href="{escape(policy.privacy_url)}">{_t(language, "privacy")}</a>'
        if policy.privacy_url
        else ""
    )
    title = _t(language, "preferences_title")
    gpc, informed = _informed(policy, consent, language, "cg-decl", 2, met)
    return (
        f'<!doctype html><html {_lang(language)}><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{title}</title>{asset_tags(policy, version, more=True)}</head>"
        f'<body class="cg-page{_scheme(policy)}"><main id="cookie-preferences">'
        f"<h1>{title}</h1>{gpc}{ident}"
        f"{_choice_form(policy, consent, language, next_path, met)}{informed}"
        f"<h2>{_t(language, 'history')}</h2>{hist}"
        f'<p><a href="{escape(next_path)}">{_t(language, "back")}</a>{privacy}</p>'
        "</main></body></html>"
    )
