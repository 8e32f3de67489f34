"""The terminal table of ``cookieguard stats``: fits in 80 columns."""

from __future__ import annotations

from datetime import timedelta

from cookieguard.receipts._stats import ConsentStats, Counts, Group

_LABELS = {"accept_all": "Accept all", "reject_all": "Reject all", "custom": "Custom"}


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "     -"


def _span(group: Group) -> str:
    if group.start is None or group.end is None:
        return group.label
    days = (group.end - group.start).days
    if days <= 1:
        return group.start.isoformat()
    return f"{group.start.isoformat()} +{days}d"


def _row(label: str, counts: Counts) -> str:
    total = counts.choices
    return (
        f"{label[:22]:<22} {total:>8} {_pct(counts.accept_all, total):>7}"
        f" {_pct(counts.reject_all, total):>7} {_pct(counts.custom, total):>7}"
        f" {counts.withdrawal:>7} {counts.banner_views:>10}"
    )


_HEADER = (
    f"{'':<22} {'choices':>8} {'accept':>7} {'reject':>7} {'custom':>7}"
    f" {'withdr.':>7} {'views':>10}"
)


def render_stats_text(stats: ConsentStats) -> str:
    """The report as plain text, at most 80 columns wide."""
    last = stats.until - timedelta(days=1)
    scope = "all revisions" if stats.revision is None else f"revision {stats.revision}"
    lines = [
        f"Consent statistics {stats.since} to {last} (UTC), by {stats.by}, {scope}",
        f"Groups of fewer than {stats.min_group} choices are merged with a neighbour.",
        "",
    ]
    if stats.suppressed:
        lines.append(
            f"Fewer than {stats.min_group} visitors chose in this period: nothing is shown,"
        )
        lines.append("so that no single visitor's choice can be read. Try a longer period.")
        return "\n".join(lines) + "\n"
    total = stats.total
    choices = total.choices
    lines.append(f"{'Choices (first decision)':<30} {'count':>8} {'share':>7}")
    for name in ("accept_all", "reject_all", "custom"):
        value = getattr(total, name)
        lines.append(f"  {_LABELS[name]:<28} {value:>8} {_pct(value, choices):>7}")
    lines.append(f"  {'total':<28} {choices:>8}")
    lines.append(
        f"{'Withdrawals':<30} {total.withdrawal:>8} {_pct(total.withdrawal, choices):>7}"
        "  of choices"
    )
    lines.append(f"{'Other changes':<30} {total.change:>8}")
    if total.banner_views:
        lines.append(
            f"{'Banner views (page views)':<30} {total.banner_views:>8}"
            f" {_pct(choices, total.banner_views):>7}  end in a choice"
        )
    else:
        lines.append(f"{'Banner views (page views)':<30} {'none counted':>16}")
    lines += [
        "",
        f"{'Category':<22} {'granted':>9} {'refused':>9} {'grant rate':>11} {'withdrawn':>10}",
    ]
    for name in stats.categories:
        granted = total.granted.get(name, 0)
        refused = total.refused.get(name, 0)
        lines.append(
            f"  {name[:20]:<20} {granted:>9} {refused:>9} {_pct(granted, granted + refused):>11}"
            f" {total.withdrawn.get(name, 0):>10}"
        )
    lines += ["", f"{'By ' + stats.by:<22}" + _HEADER[22:]]
    lines += [_row(_span(group), group.counts) for group in stats.series]
    lines += ["", f"{'By policy revision':<22}" + _HEADER[22:]]
    lines += [_row(group.label, group.counts) for group in stats.revisions]
    for title, groups in (("By language", stats.languages), ("By region", stats.regions)):
        lines += ["", f"{title:<22}" + _HEADER[22:]]
        for group in groups:
            label = group.label
            if label == "other":
                members = group.languages or group.regions
                label = "other: " + ",".join(name or "unknown" for name in members)
            lines.append(_row(label, group.counts))
    return "\n".join(lines) + "\n"
