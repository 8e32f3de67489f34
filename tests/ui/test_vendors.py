"""Vendor signals and storage rules without a browser: the Consent Mode tag, the consent JSON
that banner.js reads, and the asset tag's settings."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from cookieguard import ConsentCodec, Policy
from cookieguard.core._consent import Consent
from cookieguard.core._policy import Category
from cookieguard.ui._assets import CONSENT_MODE_SCRIPT, load_assets
from cookieguard.ui._banner import asset_tags
from cookieguard.ui._vendors import WAIT_FOR_UPDATE, consent_mode_types, head_tags, storage_rules
from tests.harness import drivers, make_policy

TYPES = (
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)
UNDECIDED = Consent(False, frozenset(), None, 1)
ANALYTICS = Consent(True, frozenset({"analytics"}), "c" * 22, 1)
EVERYTHING = Consent(True, frozenset({"preferences", "analytics", "marketing"}), "c" * 22, 1)
JSON = [("Content-Type", "application/json")]


def attributes(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag in ``markup`` with its attributes, as a browser would read them."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Tags().feed(markup)
    return found


def granted_types(types: dict[str, str]) -> set[str]:
    return {kind for kind, value in types.items() if value == "granted"}


# -- the seven consent types ---------------------------------------------------------------


def test_every_type_denied_while_undecided() -> None:
    types = consent_mode_types(make_policy(), UNDECIDED)
    assert list(types) == list(TYPES)
    assert set(types.values()) == {"denied"}


@pytest.mark.parametrize(
    ("consent", "expected"),
    [
        (ANALYTICS, {"analytics_storage", "security_storage"}),
        (EVERYTHING, set(TYPES)),
        (Consent(True, frozenset(), "c" * 22, 1), {"security_storage"}),
        (
            Consent(True, frozenset({"marketing"}), "c" * 22, 1),
            {"ad_storage", "ad_user_data", "ad_personalization", "security_storage"},
        ),
    ],
)
def test_types_follow_the_default_mapping(consent: Consent, expected: set[str]) -> None:
    assert granted_types(consent_mode_types(make_policy(), consent)) == expected


def test_a_site_can_give_ad_personalization_its_own_category() -> None:
    policy = make_policy(
        categories=(
            Category("analytics", "Analytics"),
            Category("marketing", "Marketing"),
            Category("personal_ads", "Personalised ads"),
        ),
        cookies={},
        consent_mode={"ad_personalization": "personal_ads"},
    )
    marketing = Consent(True, frozenset({"marketing"}), "c" * 22, 1)
    types = consent_mode_types(policy, marketing)
    assert types["ad_storage"] == "granted" and types["ad_personalization"] == "denied"
    # This site has no preferences category: those types stay denied even with everything.
    every = Consent(True, frozenset({"analytics", "marketing", "personal_ads"}), "c" * 22, 1)
    types = consent_mode_types(policy, every)
    assert types["functionality_storage"] == types["personalization_storage"] == "denied"
    assert types["ad_personalization"] == "granted"


# -- the Consent Mode tag ------------------------------------------------------------------


def test_no_tag_unless_consent_mode_is_on() -> None:
    assert head_tags(make_policy(), UNDECIDED) == ""
    assert head_tags(make_policy(google_consent_mode=False), EVERYTHING) == ""


def test_undecided_tag_denies_everything_and_waits() -> None:
    policy = make_policy(google_consent_mode=True)
    markup = head_tags(policy, UNDECIDED)
    ((tag, attrs),) = attributes(markup)
    assert tag == "script" and markup.endswith("></script>")
    # Synchronous, external, no inline code: it must run before any Google tag, under CSP.
    assert "async" not in attrs and "defer" not in attrs and "nonce" not in attrs
    src = attrs["src"] or ""
    version = load_assets()[CONSENT_MODE_SCRIPT].etag.strip('"')[:12]
    assert src == f"/_cookieguard/{CONSENT_MODE_SCRIPT}?v={version}"
    assert attrs["data-cookieguard-granted"] == ""
    assert (attrs["data-cookieguard-denied"] or "").split() == list(TYPES)
    assert attrs["data-cookieguard-wait"] == str(WAIT_FOR_UPDATE)
    assert "data-cookieguard-regions" not in attrs
    assert "data-cookieguard-redact" not in attrs and "data-cookieguard-passthrough" not in attrs


def test_returning_visitor_gets_their_choice_in_the_default() -> None:
    policy = make_policy(google_consent_mode="advanced", consent_mode_regions=["DE", "FR", "US-CA"])
    ((_, attrs),) = attributes(head_tags(policy, ANALYTICS))
    assert attrs["data-cookieguard-granted"] == "analytics_storage security_storage"
    assert "ad_storage" in (attrs["data-cookieguard-denied"] or "").split()
    # Decided: no waiting, and the choice holds everywhere, not only in the listed regions.
    assert "data-cookieguard-wait" not in attrs and "data-cookieguard-regions" not in attrs


def test_regions_and_flags() -> None:
    policy = make_policy(
        google_consent_mode=True,
        consent_mode_regions=["DE", "FR", "US-CA"],
        ads_data_redaction=True,
        url_passthrough=True,
        prefix="/cg",
    )
    ((_, attrs),) = attributes(head_tags(policy, UNDECIDED))
    assert attrs["data-cookieguard-regions"] == "DE FR US-CA"
    assert attrs["data-cookieguard-redact"] == "1"
    assert attrs["data-cookieguard-passthrough"] == "1"
    assert (attrs["src"] or "").startswith("/cg/consent-mode.js?v=")


def test_consent_mode_script_is_served_cacheable() -> None:
    policy = make_policy(google_consent_mode=True)
    ((_, attrs),) = attributes(head_tags(policy, UNDECIDED))
    for driver in drivers(policy).values():
        response = driver.get((attrs["src"] or "").split("?")[0])
        assert response.status == 200
        assert response.header("content-type") == "text/javascript; charset=utf-8"
        assert "max-age=31536000" in (response.header("cache-control") or "")
        assert b"gtag('consent', 'default'" in response.body


# -- what banner.js reads from the consent JSON --------------------------------------------


def consent_cookie(policy: Policy, granted: set[str]) -> str:
    return f"{policy.cookie_name}={ConsentCodec(policy).dumps(frozenset(granted), 'c' * 22)}"


def test_consent_json_carries_types_and_storage_rules() -> None:
    policy = make_policy(storage={"acme_*": "analytics"})
    for driver in drivers(policy).values():
        state = json.loads(
            driver.get("/_cookieguard/consent", cookie=consent_cookie(policy, {"analytics"})).body
        )
        assert granted_types(state["consent_mode"]) == {"analytics_storage", "security_storage"}
        assert re.fullmatch(state["storage"]["analytics"], "acme_visitor")
        # GPC: the sale/sharing categories are denied in every signal too.
        gpc = [("Sec-GPC", "1")]
        saved = driver.request(
            "POST", "/_cookieguard/consent", headers=[*JSON, *gpc], body=b'{"action":"accept_all"}'
        )
        types = json.loads(saved.body)["consent_mode"]
        assert types["analytics_storage"] == "granted"
        assert {types[k] for k in ("ad_storage", "ad_user_data", "ad_personalization")} == {
            "denied"
        }


def matches(rules: dict[str, str], category: str, key: str) -> bool:
    # The rules are JavaScript regexps; the subset used reads the same in Python.
    return category in rules and re.search(rules[category], key) is not None


def test_storage_rules_from_policy_and_catalogue() -> None:
    policy = make_policy(
        storage={
            "acme_*": "analytics",
            "theme?": "preferences",
            "mp_keep": "necessary",
            "a.b+c": "marketing",
        }
    )
    rules = storage_rules(policy)
    assert "necessary" not in rules
    assert matches(rules, "analytics", "acme_visitor")
    assert matches(rules, "preferences", "theme1") and not matches(rules, "preferences", "theme")
    # Everything but * and ? is literal.
    assert matches(rules, "marketing", "a.b+c") and not matches(rules, "marketing", "aXbbc")
    # The catalogue's keys (mixpanel, posthog), by the vendor's category...
    assert matches(rules, "analytics", "mp_0123abcd_mixpanel")
    assert matches(rules, "analytics", "ph_phc_x_posthog")
    # ...except what the site declares itself for another category.
    assert not matches(rules, "analytics", "mp_keep")
    assert matches(rules, "analytics", "mp_keep_not")
    assert not matches(rules, "analytics", "acme") and not matches(rules, "analytics", "x_acme_1")


def test_storage_rule_of_a_site_declared_key_wins_over_the_catalogue() -> None:
    rules = storage_rules(make_policy(storage={"mp_*": "preferences"}))
    assert matches(rules, "preferences", "mp_0123abcd_mixpanel")
    assert not matches(rules, "analytics", "mp_0123abcd_mixpanel")


# -- the asset tag's settings --------------------------------------------------------------


def test_asset_tag_settings() -> None:
    def script(policy: Policy) -> dict[str, str | None]:
        tags = attributes(asset_tags(policy, "v1"))
        return next(attrs for tag, attrs in tags if tag == "script")

    default = script(make_policy())
    assert default["data-cookieguard-reload"] == "1"
    assert "data-cookieguard-csp" not in default
    quiet = script(make_policy(reload_on_withdrawal=False, csp="enforce"))
    assert "data-cookieguard-reload" not in quiet
    assert quiet["data-cookieguard-csp"] == "enforce"
    assert script(make_policy(csp="report"))["data-cookieguard-csp"] == "report"


def test_a_page_with_the_consent_mode_tag_is_never_shared_between_visitors() -> None:
    """Fixed in 4a7a7e1: Vary: Cookie was sent only with auto_block."""
    policy = make_policy(google_consent_mode=True, auto_block=False)
    for driver in drivers(policy).values():
        response = driver.get("/html", cookie=consent_cookie(policy, {"analytics"}))
        assert CONSENT_MODE_SCRIPT in response.text
        vary = ",".join(response.headers_named("vary")).lower()
        private = "private" in (response.header("cache-control") or "")
        assert "cookie" in vary or private
