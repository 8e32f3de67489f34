"""Consent statistics for the site owner: counts and rates, computed in the database.

Every receipt the middleware writes is also counted, by a trigger in the same transaction,
into a small table of counts (``consent_stats`` in SQLite, ``cookieguard_consent_stats`` in
PostgreSQL): one row per UTC day, policy revision, language, region, granted and refused
categories, the day of the same visitor's previous receipt for that revision (or
``0001-01-01`` for none) and the categories that receipt withdrew, with how many receipts
fall into it. A report reads only that table, one GROUP BY per breakdown, so it costs the
same for a million receipts as for a hundred; Python only arranges the few grouped rows.
See ``docs/statistics.md`` for how each number is defined.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from cookieguard.receipts._model import ReceiptStore

#: The ``--by`` choices.
Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = ("day", "week", "month")
#: Groups with fewer choices than this are merged with a neighbour (see ``docs/statistics.md``).
DEFAULT_MIN_GROUP = 10
#: Version of the JSON document (``docs/stats.schema.json``).
SCHEMA_VERSION = 1


class StatsSource(Protocol):
    """What a store gives the report: grouped rows of the counts table."""

    def statistics_rows(
        self, since: date, until: date, by: Period, revision: int | None, group: str
    ) -> list[tuple[Any, ...]]:
        """Rows ``(key, kind, granted, denied, withdrawn, n)`` of one grouping: ``series``
        (key: the period's first day), ``revision``, ``language`` or ``region``."""

    def impression_rows(
        self, since: date, until: date, by: Period, revision: int | None, group: str
    ) -> list[tuple[Any, ...]]:
        """Rows ``(key, n)`` of banner views, grouped the same way."""


# -- the numbers of one group ----------------------------------------------------------------


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Counts:
    """Choices, withdrawals, per-category grants and banner views of one group of receipts."""

    accept_all: int = 0
    reject_all: int = 0
    custom: int = 0
    withdrawal: int = 0
    change: int = 0
    granted: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    withdrawn: dict[str, int] = field(default_factory=dict)
    banner_views: int = 0

    @property
    def choices(self) -> int:
        """How many visitors chose (the group's size for suppression)."""
        return self.accept_all + self.reject_all + self.custom

    @property
    def empty(self) -> bool:
        """Nobody chose, withdrew or changed anything (banner views may still be counted)."""
        return not (self.choices or self.withdrawal or self.change)

    def add(self, other: Counts) -> None:
        for name in ("accept_all", "reject_all", "custom", "withdrawal", "change", "banner_views"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in (
            (self.granted, other.granted),
            (self.refused, other.refused),
            (self.withdrawn, other.withdrawn),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value

    def count(self, kind: str, granted: Sequence[str], denied: Sequence[str],
              withdrawn: Sequence[str], n: int) -> None:  # fmt: skip
        if kind == "choice":
            if not denied:
                self.accept_all += n
            elif not granted:
                self.reject_all += n
            else:
                self.custom += n
            for name in granted:
                self.granted[name] = self.granted.get(name, 0) + n
            for name in denied:
                self.refused[name] = self.refused.get(name, 0) + n
        elif kind == "withdrawal":
            self.withdrawal += n
            for name in withdrawn:
                self.withdrawn[name] = self.withdrawn.get(name, 0) + n
        else:
            self.change += n

    def to_dict(self, categories: Sequence[str]) -> dict[str, Any]:
        total = self.choices
        return {
            "choices": {
                "accept_all": self.accept_all,
                "reject_all": self.reject_all,
                "custom": self.custom,
                "withdrawal": self.withdrawal,
                "change": self.change,
                "total": total,
                "rates": {
                    name: _rate(getattr(self, name), total)
                    for name in ("accept_all", "reject_all", "custom", "withdrawal")
                },
            },
            "categories": {
                name: {
                    "granted": self.granted.get(name, 0),
                    "refused": self.refused.get(name, 0),
                    "rate": _rate(
                        self.granted.get(name, 0),
                        self.granted.get(name, 0) + self.refused.get(name, 0),
                    ),
                    "withdrawn": self.withdrawn.get(name, 0),
                }
                for name in categories
            },
            "impressions": {
                "banner_views": self.banner_views,
                "choices": total,
                "choice_rate": _rate(total, self.banner_views),
                "basis": "page views",
            },
        }


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One row of a breakdown: a time span, or a set of revisions, languages or regions."""

    label: str
    counts: Counts
    start: date | None = None
    end: date | None = None  # exclusive
    revisions: tuple[int, ...] = ()
    languages: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsentStats:
    """The report: totals, a series over time, breakdowns by revision, language and region.

    Every group holds at least ``min_group`` choices: smaller ones were merged with a
    neighbour (``docs/statistics.md``). If the whole period has fewer, ``suppressed`` is
    true and no count is given at all.
    """

    since: date
    until: date  # exclusive
    by: Period
    revision: int | None
    min_group: int
    categories: tuple[str, ...]
    total: Counts
    series: tuple[Group, ...]
    revisions: tuple[Group, ...]
    languages: tuple[Group, ...]
    regions: tuple[Group, ...]
    generated_at: datetime

    @property
    def suppressed(self) -> bool:
        """True when the period has fewer than ``min_group`` choices: nothing is shown."""
        return self.total.choices < self.min_group

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (``docs/stats.schema.json``)."""
        cats = self.categories
        head: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "by": self.by,
            "revision": self.revision,
            "min_group": self.min_group,
            "suppressed": self.suppressed,
        }
        if self.suppressed:
            return {
                **head,
                "choices": None,
                "categories": None,
                "impressions": None,
                "series": [],
                "revisions": [],
                "languages": [],
                "regions": [],
            }
        return {
            **head,
            **self.total.to_dict(cats),
            "series": [
                {
                    "start": g.start.isoformat() if g.start else None,
                    "end": g.end.isoformat() if g.end else None,
                    **g.counts.to_dict(cats),
                }
                for g in self.series
            ],
            "revisions": [
                {"revisions": list(g.revisions), **g.counts.to_dict(cats)} for g in self.revisions
            ],
            "languages": [
                {"languages": list(g.languages), "label": g.label, **g.counts.to_dict(cats)}
                for g in self.languages
            ],
            "regions": [
                {"regions": list(g.regions), "label": g.label, **g.counts.to_dict(cats)}
                for g in self.regions
            ],
        }


# -- periods ---------------------------------------------------------------------------------


def bucket_start(day: date, by: Period) -> date:
    """The first day of the period holding ``day`` (weeks start on Monday, ISO 8601)."""
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def next_bucket(start: date, by: Period) -> date:
    if by == "day":
        return start + timedelta(days=1)
    if by == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def parse_when(text: str, *, today: date | None = None) -> date:
    """``2026-11-01``, or a duration back from today: ``30d``, ``12w``, ``6mo``, ``1y``."""
    today = today or datetime.now(UTC).date()
    value = text.strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    for suffix, days in (("mo", 30), ("d", 1), ("w", 7), ("y", 365)):
        number = value.removesuffix(suffix)
        if number != value and number.isdigit():
            if suffix == "mo":
                month = today.year * 12 + today.month - 1 - int(number)
                return today.replace(year=month // 12, month=month % 12 + 1, day=1) + timedelta(
                    days=min(today.day, 28) - 1
                )
            return today - timedelta(days=int(number) * days)
    raise ValueError(
        f"expected a date (2026-11-01) or a duration back from today (30d, 12w, 6mo, 1y),"
        f" got {text!r}"
    )


# -- merging small groups --------------------------------------------------------------------


def _merge_runs(groups: list[Group], min_group: int, join: Any) -> list[Group]:
    """Merge neighbours (in order) until every group holds at least ``min_group`` choices.

    A run of small groups is added to the next until it is big enough; a small run left at
    the end joins the last big group (or the last one, if no group is big enough). A group
    in which nobody chose, withdrew or changed anything stays as it is, unless a small run
    is waiting for a neighbour. Nothing is dropped, so no group can be recovered by
    subtracting the shown ones from the total.
    """
    merged: list[Group] = []
    pending: Group | None = None
    for group in groups:
        if pending is None and group.counts.empty:
            merged.append(group)  # nobody acted: a zero tells nothing about anyone
            continue
        pending = group if pending is None else join(pending, group)
        if pending.counts.choices >= min_group:
            merged.append(pending)
            pending = None
    if pending is not None:
        while merged and pending.counts.choices < min_group:
            pending = join(merged.pop(), pending)
        merged.append(pending)
    return merged


def _sum(a: Counts, b: Counts) -> Counts:
    total = Counts()
    total.add(a)
    total.add(b)
    return total


def _join_spans(a: Group, b: Group) -> Group:
    return Group(label=a.label, counts=_sum(a.counts, b.counts), start=a.start, end=b.end)


def _join_revisions(a: Group, b: Group) -> Group:
    revisions = a.revisions + b.revisions
    label = str(revisions[0]) if len(revisions) == 1 else f"{revisions[0]}-{revisions[-1]}"
    return Group(label=label, counts=_sum(a.counts, b.counts), revisions=revisions)


def _pooled(
    by_name: Mapping[str, Counts], min_group: int, field: Literal["languages", "regions"]
) -> list[Group]:
    """Languages (or regions) with enough choices by name, the rest pooled as ``other``.

    If ``other`` itself is too small (but not empty), the smallest named one joins it until
    it is big enough, so ``other`` can never be worked out by subtraction. ``field`` names
    the :class:`Group` attribute listing the members.
    """
    ranked = sorted(by_name.items(), key=lambda item: (-item[1].choices, item[0]))
    named = [(name, counts) for name, counts in ranked if counts.choices >= min_group]
    other = [(name, counts) for name, counts in ranked if counts.choices < min_group]

    def pooled() -> Counts:
        total = Counts()
        for _, counts in other:
            total.add(counts)
        return total

    while other and pooled().choices < min_group and named:
        other.insert(0, named.pop())

    def group(label: str, counts: Counts, members: tuple[str, ...]) -> Group:
        if field == "regions":
            return Group(label=label, counts=counts, regions=members)
        return Group(label=label, counts=counts, languages=members)

    groups = [group(name or "unknown", counts, (name,)) for name, counts in named]
    if other:
        groups.append(group("other", pooled(), tuple(sorted(name for name, _ in other))))
    return groups


# -- building the report ---------------------------------------------------------------------


#: Receipts name a visitor's choices per vendor as ``vendor:NAME`` beside the categories.
VENDOR_PREFIX = "vendor:"


def _names(value: Any) -> list[str]:
    """The categories in a list as a store keeps it: JSON text (SQLite) or a list (PostgreSQL).

    Per-vendor choices (``vendor:YouTube``) are left out: a category's rates count the
    visitors who granted or refused the category itself.
    """
    loaded = json.loads(value) if isinstance(value, str) else value
    return [str(name) for name in loaded if not str(name).startswith(VENDOR_PREFIX)]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def source_of(store: ReceiptStore | StatsSource) -> StatsSource:
    """The store that can count: the primary behind a spool, else the store itself."""
    inner: Any = getattr(store, "primary", store)
    if not hasattr(inner, "statistics_rows"):
        raise TypeError(f"{inner!r} keeps no statistics (use SQLiteStore or PostgresStore)")
    source: StatsSource = inner
    return source


def consent_stats(
    store: ReceiptStore | StatsSource,
    *,
    since: date | str | None = None,
    until: date | str | None = None,
    by: Period = "day",
    revision: int | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
    now: datetime | None = None,
) -> ConsentStats:
    """Consent statistics of ``store`` from ``since`` (default: 30 days ago) to ``until``.

    ``since`` and ``until`` are UTC dates (or strings for :func:`parse_when`: ``30d``,
    ``2026-11-01``); ``until`` is inclusive here (default: today) and is reported as the
    exclusive end. ``by`` picks the series' period. ``revision`` keeps one policy
    revision. Groups with fewer than ``min_group`` choices are merged (see
    ``docs/statistics.md``). The counting runs in the database.
    """
    if by not in PERIODS:
        raise ValueError(f"by must be one of {', '.join(PERIODS)}, got {by!r}")
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise ValueError(f"min_group must be a whole number >= 1, got {min_group!r}")
    moment = now or datetime.now(UTC)
    today = moment.astimezone(UTC).date()
    first = (
        parse_when(since, today=today) if isinstance(since, str) else since
    ) or today - timedelta(days=30)
    last = (parse_when(until, today=today) if isinstance(until, str) else until) or today
    end = last + timedelta(days=1)
    if end <= first:
        raise ValueError(f"the period is empty: since {first} is after until {last}")
    source = source_of(store)
    names: dict[Any, tuple[str, ...]] = {}

    def category_names(value: Any) -> tuple[str, ...]:
        key = value if isinstance(value, str) else tuple(value)
        if key not in names:
            names[key] = tuple(_names(value))
        return names[key]

    def breakdown(group: str, key: Any) -> dict[Any, Counts]:
        """One grouping, counted by SQL: a few rows per key, whatever the number of receipts."""
        result: dict[Any, Counts] = {}
        for value, kind, granted, denied, withdrawn, n in source.statistics_rows(
            first, end, by, revision, group
        ):
            g, d, w = category_names(granted), category_names(denied), category_names(withdrawn)
            categories.update(g, d, w)
            result.setdefault(key(value), Counts()).count(kind, g, d, w, int(n))
        for value, n in source.impression_rows(first, end, by, revision, group):
            result.setdefault(key(value), Counts()).banner_views += int(n)
        return result

    categories: set[str] = set()
    per_bucket = breakdown("series", _as_date)
    per_revision = breakdown("revision", int)
    per_language = breakdown("language", str)
    per_region = breakdown("region", str)
    total = Counts()
    for counts in per_revision.values():
        total.add(counts)

    spans = []
    start = bucket_start(first, by)
    while start < end:
        stop = next_bucket(start, by)
        spans.append(
            Group(
                label=start.isoformat(),
                counts=per_bucket.get(start, Counts()),
                start=max(start, first),
                end=min(stop, end),
            )
        )
        start = stop
    revisions = [
        Group(label=str(rev), counts=counts, revisions=(rev,))
        for rev, counts in sorted(per_revision.items())
    ]
    return ConsentStats(
        since=first,
        until=end,
        by=by,
        revision=revision,
        min_group=min_group,
        categories=tuple(sorted(categories)),
        total=total,
        series=tuple(_merge_runs(spans, min_group, _join_spans)),
        revisions=tuple(_merge_runs(revisions, min_group, _join_revisions)),
        languages=tuple(_pooled(per_language, min_group, "languages")),
        regions=tuple(_pooled(per_region, min_group, "regions")),
        generated_at=moment.astimezone(UTC),
    )
