"""MkDocs hooks for the documentation site (mkdocs.yml: ``hooks:``), and the generator of the
configuration reference.

The reference is written from ``Policy`` itself: its fields (name, type, default) come from the
dataclass, and each field's text from the string literal written under the field in the class
body (an attribute docstring, PEP 257/224 style). A field without one fails the build with a
list of every undocumented field, so a new setting cannot ship without its documentation and
nobody copies a table by hand.

    python scripts/docs_hooks.py          # print the generated reference (Markdown)

docs/configuration.md holds the marker ``<!-- policy-reference -->``; the hook replaces it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- policy-reference -->"

#: Pages other helpers or later work add. The nav names them; while one is absent its entry is
#: dropped (with a log line) instead of failing the strict build. Every other nav entry must
#: exist, and every page must be in the nav (mkdocs.yml ``validation: omitted_files``).
OPTIONAL_PAGES = frozenset({"architecture.md", "statistics.md", "abuse.md", "regions.md"})

#: A computed default longer than this must be written by hand in the field's docstring
#: (a ``Default:`` line), so the reference never shows a wall of repr.
_LONGEST_DEFAULT = 40

log = logging.getLogger("mkdocs.hooks.cookieguard")


class UndocumentedFields(Exception):
    """Fields of ``Policy`` whose documentation is missing or unusable."""


@dataclasses.dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str
    default: str  # Markdown; "required" for a field without a default
    text: str  # Markdown, the docstring without its ``Default:`` line


def _policy_class() -> type:
    src = str(ROOT / "src")
    if src not in sys.path:  # this checkout's code, never another install of it
        sys.path.insert(0, src)
    from cookieguard import Policy

    return Policy


def attribute_docstrings(cls: type) -> dict[str, str]:
    """``{field: docstring}`` for every annotated field followed by a string literal."""
    source = textwrap.dedent(inspect.getsource(cls))
    (node,) = ast.parse(source).body
    assert isinstance(node, ast.ClassDef)
    found: dict[str, str] = {}
    for stmt, after in zip(node.body, [*node.body[1:], None], strict=True):
        if (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            found[stmt.target.id] = inspect.cleandoc(after.value.value)
    return found


def format_type(hint: Any) -> str:
    """A type as a reader writes it: ``Sequence[str | bytes]``, ``"Lax" | "Strict"``."""
    if hint is type(None):
        return "None"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return " | ".join(repr(a).replace("'", '"') for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(format_type(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", None) or str(origin)
        return f"{name}[{', '.join(format_type(a) for a in args)}]" if args else name
    if hint is Any:
        return "Any"
    return getattr(hint, "__name__", None) or str(hint)


def _computed_default(field: dataclasses.Field[Any]) -> str | None:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    text = repr(value).replace("'", '"')
    return f"`{text}`" if len(text) <= _LONGEST_DEFAULT else None


def _split_default(doc: str) -> tuple[str | None, str]:
    """A docstring's ``Default: ...`` paragraph (it overrides the computed one) and the rest."""
    kept: list[str] = []
    default: str | None = None
    for paragraph in doc.split("\n\n"):
        if paragraph.startswith("Default:"):
            default = " ".join(paragraph.removeprefix("Default:").split())
        else:
            kept.append(paragraph)
    return default, "\n\n".join(kept).strip()


def policy_fields(cls: type | None = None) -> list[FieldDoc]:
    """Every public ``Policy`` argument with its documentation, in declaration order.

    Raises :class:`UndocumentedFields` naming every field without a docstring, or whose
    default is too long to show and has no ``Default:`` line.
    """
    cls = cls or _policy_class()
    docs = attribute_docstrings(cls)
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]
    result: list[FieldDoc] = []
    problems: list[str] = []
    for field in fields:
        doc = docs.get(field.name, "")
        if not doc:
            problems.append(f"{field.name}: no docstring (a string literal under the field)")
            continue
        written, text = _split_default(doc)
        default = written or _computed_default(field)
        if default is None:
            problems.append(f"{field.name}: default too long to show; add a 'Default:' line")
            continue
        result.append(FieldDoc(field.name, format_type(hints[field.name]), default, text))
    if problems:
        where = inspect.getsourcefile(cls)
        raise UndocumentedFields(
            f"Policy fields lack documentation in {where}:\n  " + "\n  ".join(problems)
        )
    return result


def _first_sentence(text: str) -> str:
    paragraph = " ".join(text.split("\n\n", 1)[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def render(fields: list[FieldDoc] | None = None) -> str:
    """The reference as Markdown: a summary table, then one section per field."""
    fields = policy_fields() if fields is None else fields
    out = ["| setting | default | |", "|---|---|---|"]
    for f in fields:
        summary = _first_sentence(f.text).replace("|", "\\|")
        default = f.default.replace("|", "\\|")
        out.append(f"| [`{f.name}`](#{f.name}) | {default} | {summary} |")
    for f in fields:
        out += [
            "",
            f"### `{f.name}` {{#{f.name}}}",
            "",
            f"**Type** `{f.type}` · **Default** {f.default}",
            "",
            f.text,
        ]
    return "\n".join(out) + "\n"


# -- the Python API page ---------------------------------------------------------------------

API_MARKER = "<!-- api-reference -->"

#: The public modules (DESIGN: these import paths are a promise), in reading order.
PUBLIC_MODULES = (
    "cookieguard",
    "cookieguard.asgi",
    "cookieguard.wsgi",
    "cookieguard.flask",
    "cookieguard.starlette",
    "cookieguard.django",
    "cookieguard.templates",
    "cookieguard.testing",
    "cookieguard.receipts",
    "cookieguard.scan",
)

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def markdown_from_docstring(doc: str) -> str:
    """The package's docstrings are reST-flavoured prose: make them read right in Markdown
    (roles such as :class:`~a.B` become code, a paragraph ending in ``::`` introduces the
    indented code block after it)."""
    doc = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", doc)
    doc = doc.replace("``", "`")
    doc = re.sub(r"::\n", ":\n", doc)
    # Doctest lines (">>> ") would read as a quote in Markdown: fence them as code.
    return re.sub(
        r"(?m)((?:^>>> .*\n?|^\.\.\. .*\n?)+)",
        lambda m: "```pycon\n" + m.group(1).rstrip("\n") + "\n```\n",
        doc,
    )


class _Shown:
    """An annotation printed as written (``inspect`` would quote a string one)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _as_written(annotation: Any) -> Any:
    if annotation is inspect.Parameter.empty:
        return annotation
    # The modules use ``from __future__ import annotations``: annotations are the source text.
    return _Shown(annotation if isinstance(annotation, str) else format_type(annotation))


def _short_default(default: Any) -> Any:
    if default is inspect.Parameter.empty or len(repr(default)) <= _LONGEST_DEFAULT:
        return default
    return _Shown("...")  # e.g. Policy's categories: the configuration page says what


def _signature(name: str, obj: Any, *, method: bool = False) -> str:
    """``name(params) -> result`` with annotations as written in the source, without
    ``self``/``cls`` for a method."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    params = [
        p.replace(annotation=_as_written(p.annotation), default=_short_default(p.default))
        for p in signature.parameters.values()
    ]
    if method and params and params[0].name in ("self", "cls"):
        params = params[1:]
    signature = signature.replace(
        parameters=params, return_annotation=_as_written(signature.return_annotation)
    )
    one_line = f"{name}{signature}"
    if len(one_line) <= 88:
        return one_line
    # One parameter a line, as ruff-format would write the call.
    shown = [str(p) for p in signature.parameters.values()]
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.KEYWORD_ONLY in kinds and inspect.Parameter.VAR_POSITIONAL not in kinds:
        shown.insert(kinds.index(inspect.Parameter.KEYWORD_ONLY), "*")
    result = signature.return_annotation
    tail = "" if result is inspect.Signature.empty else f" -> {result!r}"
    return f"{name}(\n" + "".join(f"    {p},\n" for p in shown) + f"){tail}"


def _members(cls: type) -> list[str]:
    out = []
    for key, value in vars(cls).items():
        if key.startswith("_"):
            continue
        func = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
        if not callable(func):
            continue
        doc = inspect.getdoc(func) or ""
        summary = markdown_from_docstring(doc.split("\n\n", 1)[0]).replace("\n", " ")
        shown = key if isinstance(value, property) else _signature(key, func, method=True)
        out.append(f"- `{shown}`" + (f": {summary}" if summary else ""))
    return out


def render_api() -> str:
    """Every name in the public modules' ``__all__``: signature and docstring."""
    _policy_class()  # puts this checkout's src first on sys.path
    import importlib

    out: list[str] = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        out += [f"## `{module_name}` {{#{module_name}}}", ""]
        doc = inspect.getdoc(module)
        if doc:
            out += [markdown_from_docstring(doc), ""]
        for name in module.__all__:
            obj = getattr(module, name)
            anchor = f"{module_name}.{name}"
            out += [f"### `{name}` {{#{anchor}}}", ""]
            if inspect.isclass(obj) or callable(obj):
                out += ["```python", _signature(name, obj), "```", ""]
                text = inspect.getdoc(obj) or ""
                if text.startswith(f"{name}("):  # a dataclass's generated __doc__: no docs
                    text = ""
                if text:
                    out += [markdown_from_docstring(text), ""]
                if obj is _policy_class():
                    out += ["Every field: [Configuration](configuration.md#every-setting).", ""]
                elif inspect.isclass(obj) and not issubclass(obj, BaseException):
                    members = _members(obj)
                    if members:
                        out += [*members, ""]
            else:
                value = repr(obj)
                shown = value if len(value) <= 80 else f"{value[:77]}..."
                out += [f"`{shown}`", ""]
    return "\n".join(out)


# -- the command line page ------------------------------------------------------------------

CLI_MARKER = "<!-- cli-reference -->"


def render_cli() -> str:
    """``cookieguard --help`` and every subcommand's help, as the command prints them."""
    _policy_class()  # puts this checkout's src first on sys.path
    import argparse

    from cookieguard import cli

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
        out = [f"## `{' '.join(words)}`", "", "```text", parser.format_help().rstrip(), "```", ""]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    out += walk(sub, [*words, name])
        return out

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "80"  # argparse wraps help to the terminal: make it the page's
    try:
        lines = walk(cli._build_parser(), ["cookieguard"])
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n".join([markdown_from_docstring(inspect.getdoc(cli) or ""), "", *lines])


# -- MkDocs hooks ------------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """Drop nav entries of optional pages that do not exist yet."""
    docs_dir = Path(config["docs_dir"])

    def keep(item: Any) -> Any:
        if isinstance(item, str):
            if item in OPTIONAL_PAGES and not (docs_dir / item).exists():
                log.info("nav: %s is not written yet; left out of the nav", item)
                return None
            return item
        if isinstance(item, Mapping):
            kept = {title: keep(value) for title, value in item.items()}
            kept = {title: value for title, value in kept.items() if value not in (None, [])}
            return kept or None
        if isinstance(item, list):
            return [k for k in (keep(i) for i in item) if k is not None]
        return item

    if config.get("nav"):
        config["nav"] = keep(config["nav"])
    return config


#: The generated pages' Markdown, by marker; made afresh for every build (``on_pre_build``).
_generated: dict[str, str] = {}


def generate_all() -> dict[str, str]:
    """Every generated reference, by the marker it replaces."""
    return {MARKER: render(), API_MARKER: render_api(), CLI_MARKER: render_cli()}


def on_pre_build(config: Any) -> None:
    """Generate the references in a fresh interpreter, from this checkout's ``src``: under
    ``mkdocs serve`` an edited docstring shows on the next rebuild (an import in this process
    would keep the first version), and a problem fails the build with its own message."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, __file__, "--json"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        from mkdocs.exceptions import PluginError

        raise PluginError(
            f"scripts/docs_hooks.py could not generate the references:\n{done.stderr}"
        )
    _generated.clear()
    _generated.update(json.loads(done.stdout))


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Put the generated references where docs/configuration.md, api.md and cli.md ask."""
    for marker, text in _generated.items():
        markdown = markdown.replace(marker, text)
    return markdown


def main(argv: list[str] | None = None) -> int:
    """Print the configuration reference (``--json``: every reference, by marker)."""
    args = sys.argv[1:] if argv is None else argv
    try:
        print(json.dumps(generate_all()) if "--json" in args else render())
    except UndocumentedFields as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
