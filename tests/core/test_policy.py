"""Policy validation: bad configuration fails at start-up with an error naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookieguard import Category, Policy

KEY = "k" * 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret_keys": []}, "secret_keys is empty"),
        ({"secret_keys": KEY}, "list of keys"),
        ({"secret_keys": ["short"]}, "at least 16"),
        ({"cookies": {"_ga": "tracking"}}, "unknown category 'tracking'"),
        ({"cookies": {"bad name": "analytics"}}, "not a cookie name"),
        ({"cookies": {"cookie_consent": "analytics"}}, "consent cookie itself"),
        ({"same_site": "lax"}, "same_site must be"),
        ({"same_site": "None", "secure": False}, "requires secure=True"),
        ({"revision": 0}, "revision must be a positive integer"),
        ({"revision": "2"}, "revision must be a positive integer"),
        ({"cookie_name": "a b"}, "not a valid cookie name"),
        ({"max_age": 5}, "max_age"),
        ({"prefix": "_cg"}, "prefix"),
        ({"prefix": "/cg/"}, "prefix"),
        ({"undeclared": "maybe"}, "undeclared must be"),
        ({"clear_paths": ["relative"]}, "clear_paths"),
        ({"clear_paths": []}, "clear_paths"),
        ({"languages": ["english"]}, "languages"),
        ({"max_body": 10}, "max_body"),
        ({"cache_size": -1}, "cache_size"),
        ({"cookie_domain": "bad domain"}, "cookie_domain"),
        ({"privacy_url": "/x\r\nSet-Cookie: a=b"}, "privacy_url"),
        (
            {"categories": [Category("analytics", "A"), Category("analytics", "B")]},
            "duplicate",
        ),
        ({"auto_block": "yes"}, "auto_block"),
        ({"csp": "strict"}, "csp must be"),
        ({"csp_allow": "cdn.example.com"}, "must be a list"),
        ({"csp_allow": ["'unsafe-inline'"]}, "is not a CSP host"),
        ({"csp_allow": ["a.example; script-src *"]}, "is not a CSP host"),
        ({"trackers": [{"hosts": ["x.example"]}]}, "'name'"),
        ({"trackers": [{"name": "X", "category": "ads"}]}, "unknown category 'ads'"),
        (
            {"trackers": [{"name": "X", "category": "analytics", "hosts": ["bad host!"]}]},
            "hosts must be host names",
        ),
        ({"storage": {"mp_*": "tracking"}}, "unknown category 'tracking'"),
        ({"storage": {"": "analytics"}}, "storage key"),
        ({"reload_on_withdrawal": None}, "reload_on_withdrawal"),
        ({"google_consent_mode": "basic"}, "google_consent_mode"),
        ({"consent_mode": {"ads_storage": "marketing"}}, "not a Google consent type"),
        ({"consent_mode": {"ad_storage": "ads"}}, "unknown category 'ads'"),
        ({"consent_mode_regions": "DE"}, "consent_mode_regions"),
        ({"consent_mode_regions": ["germany"]}, "ISO 3166"),
        ({"url_passthrough": 1}, "url_passthrough"),
    ],
)
def test_invalid_configuration_names_the_field(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"secret_keys": [KEY]}
    settings.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Policy(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Analytics"}, "invalid"),
        ({"name": "x", "label": ""}, "empty"),
        ({"name": "x", "label": {}}, "no translations"),
        ({"name": "x", "label": {"en": 3}}, "string or a mapping"),
        ({"name": "x", "label": "X", "hosts": ["bad host/"]}, "not a host name"),
    ],
)
def test_invalid_category(kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("label", "Label")
    with pytest.raises(ValueError, match=message):
        Category(**kwargs)  # type: ignore[arg-type]


def test_defaults() -> None:
    policy = Policy(secret_keys=[KEY], cookies={"likebox": "preferences"})
    assert [c.name for c in policy.categories] == [
        "necessary",
        "preferences",
        "analytics",
        "marketing",
    ]
    assert policy.cookie_name == "cookie_consent"
    assert policy.same_site == "Lax"
    assert 180 * 86400 <= policy.max_age <= 186 * 86400
    assert policy.prefix == "/_cookieguard"
    assert policy.optional_categories == {"preferences", "analytics", "marketing"}
    assert policy.gpc_denied == {"marketing"}
    assert policy.category("necessary").locked


def test_necessary_always_present() -> None:
    policy = Policy(secret_keys=[KEY], categories=[Category("stats", "Statistics")])
    assert [c.name for c in policy.categories] == ["necessary", "stats"]


def test_category_lookup_exact_beats_glob() -> None:
    policy = Policy(
        secret_keys=[KEY],
        cookies={"_ga_*": "analytics", "_ga_special": "marketing", "likebox": "preferences"},
    )
    assert policy.category_of("_ga_ABC") == "analytics"
    assert policy.category_of("_ga_special") == "marketing"
    assert policy.category_of("likebox") == "preferences"
    assert policy.category_of("cookie_consent") == "necessary"
    assert policy.category_of("unknown") is None
    with pytest.raises(KeyError):
        policy.category("nope")


def test_policy_is_frozen() -> None:
    policy = Policy(secret_keys=[KEY])
    with pytest.raises(AttributeError):
        policy.revision = 2  # type: ignore[misc]


def test_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "cookieguard.toml"
    path.write_text(
        """
revision = 3
undeclared = "allow"

[cookies]
chat = "support"
"chat_*" = "support"

[[categories]]
name = "support"
label = { en = "Support chat", de = "Support-Chat" }
hosts = ["chat.example.net"]
"""
    )
    policy = Policy.from_toml(path, secret_keys=[KEY])
    assert policy.revision == 3
    assert policy.category_of("chat") == "support"
    assert policy.category("support").hosts == ("chat.example.net",)
    assert [c.name for c in policy.categories] == ["necessary", "support"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("revision = ", "not valid TOML"),
        ("colour = 'red'", r"unknown setting\(s\) \['colour'\]"),
        ("categories = 3", "array of tables"),
        ("[[categories]]\nname = 'x'", "needs a name and a label"),
        ("[[categories]]\nname='x'\nlabel='X'\nicon='y'", "category setting"),
        ("categories = [1]", "must be a table"),
    ],
)
def test_from_toml_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        Policy.from_toml(path, secret_keys=[KEY])


def test_from_mapping_needs_secret() -> None:
    with pytest.raises(ValueError, match="no secret_keys"):
        Policy.from_mapping({})
    policy = Policy.from_mapping({"secret_keys": [KEY]})
    assert policy.secret_keys == (KEY,)


def test_round_two_defaults_and_consent_mode_mapping() -> None:
    policy = Policy(secret_keys=[KEY])
    assert policy.auto_block is True
    assert policy.csp is None
    assert policy.google_consent_mode is False
    assert policy.consent_mode["ad_storage"] == "marketing"
    assert policy.consent_mode["security_storage"] == "necessary"
    # A site may give ad_personalization its own category.
    own = Policy(
        secret_keys=[KEY],
        categories=[*Policy(secret_keys=[KEY]).categories, Category("personal_ads", "Ads")],
        consent_mode={"ad_personalization": "personal_ads"},
        csp_allow=["cdn.example.com", "*.example.org", "https://x.example/a/", "data:"],
        consent_mode_regions=["DE", "US-CA"],
    )
    assert own.consent_mode["ad_personalization"] == "personal_ads"
    assert own.consent_mode["ad_storage"] == "marketing"
    assert own.csp_allow == ("cdn.example.com", "*.example.org", "https://x.example/a/", "data:")
    # Defaults naming a category the site lacks stay denied rather than failing.
    lean = Policy(secret_keys=[KEY], categories=[Category("analytics", "Analytics")])
    assert lean.consent_mode == {
        "analytics_storage": "analytics",
        "security_storage": "necessary",
    }


def test_secret_keys_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from cookieguard import secret_keys_from_env

    monkeypatch.delenv("CG_TEST_SECRET", raising=False)
    with pytest.raises(ValueError, match=r"CG_TEST_SECRET is not set.*python -m cookieguard"):
        secret_keys_from_env("CG_TEST_SECRET")
    monkeypatch.setenv("CG_TEST_SECRET", "new" * 8 + ", " + "old" * 8)
    assert secret_keys_from_env("CG_TEST_SECRET") == ["new" * 8, "old" * 8]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"csp_allow": ["cdn.example.com\n"]},
        {"cookies": {"_ga\n": "analytics"}},
        {"storage": {"": "analytics"}},
        {"prefix": "/cg\n"},
        {"cookie_name": "consent\n"},
        {"languages": ["en\n"]},
        {"consent_mode_regions": ["DE\n"]},
        {"cookie_domain": "shop.example\n"},
    ],
)
def test_a_trailing_newline_is_never_accepted(kwargs: dict[str, object]) -> None:
    # `re.match` with `$` accepts a final newline; a setting that carries one ends up in a
    # header (CSP, Set-Cookie) and every page fails in the server (red-team K9).
    with pytest.raises(ValueError):
        Policy(secret_keys=[KEY], **kwargs)  # type: ignore[arg-type]


def test_a_category_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(ValueError):
        Category("analytics\n", "Analytics")
    with pytest.raises(ValueError):
        Category("analytics", "Analytics", hosts=("stats.example\n",))
