"""``cookieguard stats --html``: one self-contained page, charts drawn by matplotlib.

The page loads nothing: the charts are matplotlib's SVG, inlined, with text drawn as paths
(no font files) and its ``style`` attributes turned into SVG presentation attributes, so
the page's own Content-Security-Policy (``default-src 'none'``, the one ``<style>``
allowed by its hash) holds: no script, no inline style attribute, no request. matplotlib
is an optional extra: ``pip install 'cookieguard[stats]'``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from cookieguard.receipts._stats import ConsentStats, Counts, Group

_COLOURS = {"accept_all": "#2e7d32", "reject_all": "#c62828", "custom": "#f9a825"}
_LABELS = {"accept_all": "Accept all", "reject_all": "Reject all", "custom": "Custom"}
_CATEGORY_COLOURS = ("#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#4e342e", "#ad1457")

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 1.5rem;
color:#1b1b1b;background:#fff}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:2rem 0 .5rem}
p.note{color:#555;margin:.25rem 0}
figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.25rem}
svg{max-width:100%;height:auto}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}
.kpi{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0;padding:0;list-style:none}
.kpi li{border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:8rem}
.kpi b{display:block;font-size:1.4rem}
"""


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "the HTML report draws its charts with matplotlib, which is not installed:"
            " pip install 'cookieguard[stats]'"
        ) from exc
    return matplotlib


# -- SVG that needs nothing from the page ----------------------------------------------------

_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_STYLE_ELEMENT = re.compile(r"<style[^>]*>.*?</style>\s*", re.S)
_STYLE_ATTR = re.compile(r' style="([^"]*)"')
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|xlink:href="#|href="#)([^)"]+)')


def _attributes(match: re.Match[str]) -> str:
    """``style="fill: #fff; stroke-width: 0.8"`` as ``fill="#fff" stroke-width="0.8"``."""
    out = []
    for declaration in match.group(1).split(";"):
        name, sep, value = declaration.partition(":")
        if sep and name.strip():
            out.append(f' {name.strip()}="{html.escape(value.strip(), quote=True)}"')
    return "".join(out)


def portable_svg(svg: str, prefix: str) -> str:
    """matplotlib's SVG, ready to inline under a strict CSP next to other charts.

    The XML prologue, metadata and ``<style>`` element go; ``style`` attributes become
    presentation attributes (which CSP does not govern); ids get ``prefix`` so two charts
    on a page cannot take each other's clip paths.
    """
    svg = _PROLOGUE.sub("", svg, count=1)
    svg = _METADATA.sub("", svg)
    svg = _STYLE_ELEMENT.sub("", svg)
    svg = _STYLE_ATTR.sub(_attributes, svg)
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{prefix}{m.group(2)}", svg)
    # What the dropped <style> said, as inherited attributes on the root.
    return svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)


# -- charts ----------------------------------------------------------------------------------


def _figure(width: float = 8.0, height: float = 3.2) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def _svg(fig: Any, prefix: str, label: str) -> str:
    matplotlib = _require_matplotlib()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": prefix}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = portable_svg(buffer.getvalue(), prefix)
    return svg.replace(
        "<svg ", f'<svg role="img" aria-label="{html.escape(label, quote=True)}" ', 1
    )


def _span_label(group: Group, by: str) -> str:
    if group.start is None:
        return group.label
    if group.end is not None and (group.end - group.start).days > 1 and by == "day":
        last = group.end - timedelta(days=1)
        return f"{group.start:%m-%d} to {last:%m-%d}"
    return f"{group.start:%Y-%m-%d}" if by != "month" else f"{group.start:%Y-%m}"


def _choices_over_time(stats: ConsentStats) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    groups = stats.series
    labels = [_span_label(g, stats.by) for g in groups]
    positions = list(range(len(groups)))
    bottom = [0] * len(groups)
    for name in ("accept_all", "reject_all", "custom"):
        values = [getattr(g.counts, name) for g in groups]
        ax.bar(positions, values, bottom=bottom, color=_COLOURS[name], label=_LABELS[name])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    withdrawals = [g.counts.withdrawal for g in groups]
    if any(withdrawals):
        ax.plot(positions, withdrawals, color="#212121", marker="o", label="Withdrawals")
    _ticks(ax, positions, labels)
    ax.set_ylabel("visitors")
    ax.legend(loc="upper left", frameon=False, ncols=4, fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "c1-", "Choices over time, stacked: accept all, reject all, custom")


def _ticks(ax: Any, positions: Sequence[int], labels: Sequence[str]) -> None:
    step = max(1, len(positions) // 12)
    ax.set_xticks(positions[::step], labels[::step], rotation=45 if step > 1 else 0,
                  ha="right" if step > 1 else "center", fontsize="small")  # fmt: skip


def _grant_rates(stats: ConsentStats) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    groups = stats.series
    positions = list(range(len(groups)))
    for index, name in enumerate(stats.categories):
        rates = []
        for g in groups:
            granted = g.counts.granted.get(name, 0)
            whole = granted + g.counts.refused.get(name, 0)
            rates.append(100 * granted / whole if whole else float("nan"))
        ax.plot(positions, rates, marker="o", label=name,
                color=_CATEGORY_COLOURS[index % len(_CATEGORY_COLOURS)])  # fmt: skip
    _ticks(ax, positions, [_span_label(g, stats.by) for g in groups])
    ax.set_ylim(0, 100)
    ax.set_ylabel("grant rate (%)")
    ax.legend(loc="lower left", frameon=False, ncols=4, fontsize="small")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "c2-", "Grant rate per category over time, in percent of visitors who chose")


def _shares(groups: Sequence[Group], prefix: str, label: str, axis_label: str) -> str:
    """Horizontal 100 % bars: the share of each choice per group (revision, language)."""
    fig = _figure(height=max(1.6, 0.5 * len(groups) + 1.0))
    ax = fig.add_subplot()
    names = [g.label for g in groups]
    positions = list(range(len(groups)))
    left = [0.0] * len(groups)
    for name in ("accept_all", "reject_all", "custom"):
        shares = [
            100 * getattr(g.counts, name) / g.counts.choices if g.counts.choices else 0
            for g in groups
        ]
        ax.barh(positions, shares, left=left, color=_COLOURS[name], label=_LABELS[name])
        left = [a + b for a, b in zip(left, shares, strict=True)]
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of choices (%)")
    ax.set_ylabel(axis_label)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, ncols=3,
              fontsize="small")  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, prefix, label)


def _regions(stats: ConsentStats) -> str:
    if all(group.regions == ("",) for group in stats.regions):
        return (
            "<p class=note>No receipt in this period records a region"
            " (set <code>Policy.region_header</code> to record one).</p>"
        )
    labels = [
        g.label
        if g.label != "other"
        else "other (" + ", ".join(r or "unknown" for r in g.regions) + ")"
        for g in stats.regions
    ]
    chart = _shares(stats.regions, "c5-", "Share of each choice per region", "region")
    head = _GROUP_HEAD[:-1]
    rows = [row[:-1] for row in _group_rows(stats.regions, labels)]
    return f"<figure>{chart}</figure>" + _table(head, rows)


# -- the page --------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f"<th scope=col>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(value))}</td>" for value in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _group_rows(groups: Sequence[Group], labels: Sequence[str]) -> list[list[object]]:
    rows: list[list[object]] = []
    for label, g in zip(labels, groups, strict=True):
        c: Counts = g.counts
        rows.append([label, c.choices, _pct(c.accept_all, c.choices),
                     _pct(c.reject_all, c.choices), _pct(c.custom, c.choices), c.withdrawal,
                     c.banner_views or "-"])  # fmt: skip
    return rows


_GROUP_HEAD = ("", "choices", "accept all", "reject all", "custom", "withdrawals", "banner views")


def render_stats_html(stats: ConsentStats) -> str:
    """The report as one HTML page with inline SVG charts (needs matplotlib)."""
    _require_matplotlib()
    last = stats.until - timedelta(days=1)
    scope = "all policy revisions" if stats.revision is None else f"revision {stats.revision}"
    title = f"Consent statistics, {stats.since} to {last}"
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p class=note>UTC days, by {stats.by}, {scope}. Counts and rates only: groups"
        f" with fewer than {stats.min_group} choices are merged with a neighbour. How each"
        " number is computed: docs/statistics.md in cookieguard.</p>",
    ]
    if stats.suppressed:
        parts.append(
            f"<p>Fewer than {stats.min_group} visitors chose in this period, so nothing is"
            " shown: no single visitor's choice may be readable. Choose a longer period.</p>"
        )
    else:
        total = stats.total
        choices = total.choices
        kpis = [
            ("visitors who chose", str(choices)),
            ("accept all", _pct(total.accept_all, choices)),
            ("reject all", _pct(total.reject_all, choices)),
            ("custom", _pct(total.custom, choices)),
            ("withdrawals", str(total.withdrawal)),
            (
                "banner views ending in a choice (page views)",
                _pct(choices, total.banner_views),
            ),
        ]
        parts.append(
            "<ul class=kpi>"
            + "".join(f"<li><b>{html.escape(v)}</b>{html.escape(k)}</li>" for k, v in kpis)
            + "</ul>"
        )
        spans = [_span_label(g, stats.by) for g in stats.series]
        parts += [
            "<h2>Choices over time</h2>",
            f"<figure>{_choices_over_time(stats)}</figure>",
            "<h2>Grant rate per category over time</h2>",
            f"<figure>{_grant_rates(stats)}</figure>",
            _table(
                ("category", "granted", "refused", "grant rate", "withdrawn"),
                [
                    [
                        name,
                        total.granted.get(name, 0),
                        total.refused.get(name, 0),
                        _pct(
                            total.granted.get(name, 0),
                            total.granted.get(name, 0) + total.refused.get(name, 0),
                        ),
                        total.withdrawn.get(name, 0),
                    ]
                    for name in stats.categories
                ],
            ),
            "<h2>Each policy revision (before and after a change)</h2>",
            "<figure>"
            + _shares(
                stats.revisions,
                "c3-",
                "Share of each choice per policy revision",
                "revision",
            )
            + "</figure>",
            _table(_GROUP_HEAD, _group_rows(stats.revisions, [g.label for g in stats.revisions])),
            "<h2>By language</h2>",
            "<figure>"
            + _shares(stats.languages, "c4-", "Share of each choice per language", "language")
            + "</figure>",
            _table(
                _GROUP_HEAD,
                _group_rows(
                    stats.languages,
                    [
                        g.label if g.label != "other" else "other (" + ", ".join(g.languages) + ")"
                        for g in stats.languages
                    ],
                ),
            ),
            "<h2>By region</h2>",
            _regions(stats),
            f"<h2>Every {stats.by}</h2>",
            _table(_GROUP_HEAD, _group_rows(stats.series, spans)),
        ]
    digest = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    csp = f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f'<meta name=referrer content="no-referrer"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
