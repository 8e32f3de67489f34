"""The documentation site: it builds with ``mkdocs build --strict`` (broken links and anchors
fail), every page is in the nav, and the configuration reference is generated from ``Policy``
(an undocumented field fails loudly)."""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cookieguard import Policy
from scripts import docs_hooks

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _nav_files() -> set[str]:
    """The pages mkdocs.yml's nav names (every ``- Title: page.md`` line under ``nav:``)."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = text[text.index("\nnav:\n") :]
    return set(re.findall(r"(?m)^\s+- (?:[^:\n]+: )?(\S+\.md)\s*$", nav))


def test_every_page_is_in_the_nav() -> None:
    """A page nobody can reach from the nav is an orphan: list them all as the error."""
    in_nav = _nav_files()
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    orphans = sorted(pages - in_nav)
    assert not orphans, f"docs pages missing from the nav in mkdocs.yml: {orphans}"


def test_every_nav_entry_exists_or_is_an_announced_page() -> None:
    in_nav = _nav_files()
    missing = sorted(f for f in in_nav if not (DOCS / f).exists())
    assert set(missing) <= docs_hooks.OPTIONAL_PAGES, (
        f"nav entries without a page (only {sorted(docs_hooks.OPTIONAL_PAGES)} may be absent "
        f"while being written): {missing}"
    )


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: a broken link, a missing anchor, a page left out of the nav
    or an undocumented ``Policy`` field fails the build."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "NO_MKDOCS_2_WARNING": "1",
    }
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reference = (site / "configuration" / "index.html").read_text(encoding="utf-8")
    public = [f.name for f in dataclasses.fields(Policy) if f.init and not f.name.startswith("_")]
    absent = [name for name in public if f'id="{name}"' not in reference]
    assert not absent, f"configuration reference lacks sections for {absent}"
    assert docs_hooks.MARKER not in reference
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    names = [
        f"{module}.{name}"
        for module in docs_hooks.PUBLIC_MODULES
        for name in importlib.import_module(module).__all__
    ]
    assert names and not [n for n in names if f'id="{n}"' not in api]
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("cookieguard receipts purge", "cookieguard scan", "cookieguard secret"):
        assert f"usage: {command}" in cli


def test_the_reference_is_read_from_attribute_docstrings() -> None:
    @dataclasses.dataclass(frozen=True)
    class Example:
        mode: str = "calm"
        """How it behaves. Any further sentences stay in the section.

        A second paragraph."""
        size: int = 4096
        """How big.

        Default: 4 KiB"""

    fields = docs_hooks.policy_fields(Example)
    assert [(f.name, f.type, f.default) for f in fields] == [
        ("mode", "str", '`"calm"`'),
        ("size", "int", "4 KiB"),
    ]
    page = docs_hooks.render(fields)
    assert '| [`mode`](#mode) | `"calm"` | How it behaves. |' in page
    assert "### `size` {#size}" in page and "A second paragraph." in page


def test_an_undocumented_field_fails_loudly_naming_every_one() -> None:
    @dataclasses.dataclass(frozen=True)
    class Example:
        documented: int = 1
        """Has its text."""
        bare_one: int = 2
        bare_two: tuple[str, ...] = tuple(f"value-{i}" for i in range(20))
        """Documented, but its default is too long to show without a ``Default:`` line."""

    with pytest.raises(docs_hooks.UndocumentedFields) as caught:
        docs_hooks.policy_fields(Example)
    message = str(caught.value)
    assert re.search(r"bare_one: no docstring", message)
    assert re.search(r"bare_two: default too long", message)
    assert "documented:" not in message


def test_every_policy_field_is_documented_in_the_class() -> None:
    """The same check the docs build makes, with the list of fields in the failure."""
    documented = [f.name for f in docs_hooks.policy_fields(Policy)]
    public = [f.name for f in dataclasses.fields(Policy) if f.init and not f.name.startswith("_")]
    assert documented == public


README = ROOT / "README.md"


def test_the_readme_is_a_five_minute_read_that_links_to_the_site() -> None:
    text = README.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines < 200, f"README.md has {lines} lines; move detail into docs/"
    assert "make test" in text  # CI runs `make test`; the README says how to run it
    for framework in ("### Flask", "### Starlette / FastAPI", "### Django"):
        assert framework in text


def test_every_relative_link_in_the_readme_resolves() -> None:
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?!https?:|#)[^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links to no docs page"
    missing = sorted({t for t in targets if not (ROOT / t).exists()})
    assert not missing, f"README.md links to files that do not exist: {missing}"


def _blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("doc_page", ["flask.md", "starlette.md"])
def test_the_getting_started_example_runs(doc_page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first example of each getting-started page builds a working, guarded app."""
    monkeypatch.setenv("COOKIEGUARD_SECRET", "a-secret-for-the-docs-tests-0123")
    namespace: dict[str, object] = {"__name__": "docs_example"}
    exec(compile(_blocks(doc_page, "python")[0], doc_page, "exec"), namespace)
    assert "app" in namespace


def test_the_configuration_examples_make_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COOKIEGUARD_SECRET", "a-secret-for-the-docs-tests-0123")
    monkeypatch.chdir(tmp_path)
    python = _blocks("configuration.md", "python")
    (tmp_path / "cookieguard.toml").write_text(_blocks("configuration.md", "toml")[0])
    namespace: dict[str, object] = {}
    exec(compile(python[0], "configuration.md", "exec"), namespace)
    exec(compile(python[1], "configuration.md", "exec"), namespace)  # from_toml, same names
    policy = namespace["policy"]
    assert isinstance(policy, Policy) and policy.revision == 2


#: A file of this repository named in the docs: ``tests/e2e/conftest.py``,
#: ``benchmarks/bench_csp.py``, ``cookieguard/locales/en.json`` (inside the package).
_REPO_PATH = re.compile(
    r"(?<![\w/.-])((?:src|tests|benchmarks|scripts|examples|docs|static|cookieguard)/"
    r"[\w/.-]*\w)"
)


def test_files_the_docs_name_exist() -> None:
    """Pages name test files, benchmarks and scripts; after a move they must follow."""
    stale: list[str] = []
    for page in [README, *sorted(DOCS.rglob("*.md"))]:
        for path in set(_REPO_PATH.findall(page.read_text(encoding="utf-8"))):
            if not ((ROOT / path).exists() or (ROOT / "src" / path).exists()):
                stale.append(f"{page.relative_to(ROOT)}: {path}")
    assert not stale, "docs name files that do not exist:\n" + "\n".join(sorted(stale))


def test_the_regions_page_says_planned_exactly_while_policy_lacks_regions() -> None:
    """docs/regions.md was written as the planned contract (issue 21) before the feature: once
    ``Policy`` has the fields, the page must say how they work, not that they are planned."""
    page = (DOCS / "regions.md").read_text(encoding="utf-8")
    planned = "Planned: not in this release yet" in page
    fields = {f.name for f in dataclasses.fields(Policy)}
    shipped = {"region_header", "regions", "unknown_region"} <= fields
    assert planned != shipped, (
        "docs/regions.md still calls regions planned, but Policy has them"
        if planned
        else "docs/regions.md documents regions, but Policy has no region_header/regions/"
        "unknown_region"
    )


def _keywords(text: str, call: str) -> set[str]:
    """The keyword arguments written directly inside every ``call(...)`` in ``text``."""
    found: set[str] = set()
    for start in (m.end() for m in re.finditer(rf"(?<![\w.]){call}\(", text)):
        depth, at, quote = 1, start, ""
        while at < len(text) and depth:
            ch = text[at]
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "\"'`":
                quote = ch
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
            elif depth == 1:
                word = re.match(r"([a-z_]+)\s*=(?!=)", text[at:])
                if word and not re.match(r"[\w.]", text[at - 1]):
                    found.add(word.group(1))
            at += 1
    return found


def test_settings_the_docs_pass_to_policy_and_category_exist() -> None:
    """A setting renamed or removed in the code must not live on in an example."""
    from cookieguard import Category

    known = {
        "Policy": {f.name for f in dataclasses.fields(Policy)},
        "Category": {f.name for f in dataclasses.fields(Category)},
    }
    unknown = []
    for page in [README, *sorted(DOCS.rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for call, names in known.items():
            for keyword in sorted(_keywords(text, call) - names):
                unknown.append(f"{page.relative_to(ROOT)}: {call}({keyword}=...)")
    assert not unknown, "docs pass settings that do not exist:\n" + "\n".join(unknown)
