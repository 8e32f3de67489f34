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
import logging
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
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


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Put the generated configuration reference where docs/configuration.md asks for it."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render())


def main(argv: list[str] | None = None, emit: Callable[[str], object] = print) -> int:
    try:
        emit(render())
    except UndocumentedFields as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
