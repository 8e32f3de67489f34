"""``cookieguard stats``: what counts as a choice, counted in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints
import pytest

from cookieguard import cli
from cookieguard.receipts import (
    SQLiteStore,
    consent_stats,
    open_store,
    parse_when,
    render_stats_text,
)
from cookieguard.receipts._open import is_postgres_url
from cookieguard.wsgi import ConsentMiddleware
from tests.harness import WsgiDriver, make_policy, wsgi_app
from tests.receipts._helpers import make_receipt, raw_store

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "stats.schema.json").read_text())
ALL = ("analytics", "marketing", "preferences")
DAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
FORM = ("Content-Type", "application/x-www-form-urlencoded")


def stats_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert cli.main(["stats", "--json", *argv]) == 0
    out, _ = capsys.readouterr()
    report: dict[str, Any] = json.loads(out)
    jsonschema.validate(report, SCHEMA, format_checker=jsonschema.FormatChecker())
    return report


def consent_cookie(set_cookies: list[str]) -> str:
    return next(c.split(";")[0] for c in set_cookies if c.startswith("cookie_consent="))


def test_choices_made_through_the_middleware(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 22's done-when: 10 Accept all, 5 Reject all, 3 analytics only, 2 withdrawals."""
    store = open_store(store_url, spool_path=tmp_path / "spool.jsonl")
    driver = WsgiDriver(ConsentMiddleware(wsgi_app, make_policy(), receipts=store))

    def post(body: str, cookie: str | None = None) -> str:
        headers = [FORM, ("Accept-Language", "de")]
        if cookie:
            headers.append(("Cookie", cookie))
        reply = driver.request("POST", "/_cookieguard/consent", headers=headers, body=body.encode())
        assert reply.status == 303
        return consent_cookie(reply.set_cookies)

    accepted = [post("action=accept_all") for _ in range(10)]
    for _ in range(5):
        post("action=reject_all")
    for _ in range(3):
        post("action=save&category=analytics")
    post("action=reject_all", accepted[0])  # takes everything back
    post("action=save&category=preferences", accepted[1])  # takes analytics, marketing back
    store.close()
    assert not (tmp_path / "spool.jsonl").exists()  # every receipt reached the store

    report = stats_json(["--store", store_url], capsys)
    assert report["choices"] == {
        "accept_all": 10,
        "reject_all": 5,
        "custom": 3,
        "withdrawal": 2,
        "change": 0,
        "total": 18,
        "rates": {
            "accept_all": round(10 / 18, 4),
            "reject_all": round(5 / 18, 4),
            "custom": round(3 / 18, 4),
            "withdrawal": round(2 / 18, 4),
        },
    }
    assert report["categories"] == {
        "analytics": {"granted": 13, "refused": 5, "rate": round(13 / 18, 4), "withdrawn": 2},
        "marketing": {"granted": 10, "refused": 8, "rate": round(10 / 18, 4), "withdrawn": 2},
        "preferences": {"granted": 10, "refused": 8, "rate": round(10 / 18, 4), "withdrawn": 1},
    }
    assert report["suppressed"] is False
    assert [lang["languages"] for lang in report["languages"]] == [["de"]]
    today = datetime.now(UTC).date()
    (last,) = (s for s in report["series"] if s["choices"]["total"])
    assert last["end"] == (today + timedelta(days=1)).isoformat()
    assert sum(s["choices"]["total"] for s in report["series"]) == 18


def record(url: str, *receipts: Any) -> None:
    store = raw_store(url)
    for receipt in receipts:
        store.record(receipt)
    store.close()


def visitors(prefix: str, count: int, **fields: Any) -> list[Any]:
    return [make_receipt(f"{prefix}-{n:04d}-visitor", **fields) for n in range(count)]


def test_first_decision_in_the_period_is_the_choice(store_url: str) -> None:
    """A change after the period starts is a withdrawal; seen from a later period, a choice."""
    accept = {"time": DAY, "granted": ALL, "denied": ()}
    later: dict[str, Any] = {"time": DAY + timedelta(days=3), "granted": (), "denied": ALL}
    record(
        store_url,
        *visitors("a", 12, **accept),
        *[make_receipt(f"a-{n:04d}-visitor", **later) for n in range(4)],
        # Same visitor, same grants again: a change, not a withdrawal.
        make_receipt("a-0011-visitor", time=DAY + timedelta(days=4), granted=ALL, denied=()),
    )
    store = raw_store(store_url)
    whole = consent_stats(
        store, since=DAY.date(), until=DAY.date() + timedelta(days=6), min_group=1
    )
    assert (whole.total.accept_all, whole.total.reject_all) == (12, 0)
    assert (whole.total.withdrawal, whole.total.change) == (4, 1)
    assert whole.total.withdrawn == {"analytics": 4, "marketing": 4, "preferences": 4}
    # From the day of the withdrawals on, those visitors' first decision there is theirs.
    tail = consent_stats(
        store, since=DAY.date() + timedelta(days=3), until="2026-11-08", min_group=1
    )
    assert (tail.total.accept_all, tail.total.reject_all, tail.total.withdrawal) == (1, 4, 0)
    assert tail.total.change == 0
    store.close()


def test_choices_per_vendor_are_not_counted_as_categories(store_url: str) -> None:
    """A receipt names a vendor allowed by name as ``vendor:YouTube`` beside the categories:
    the categories' table counts categories only."""
    record(
        store_url,
        *visitors(
            "v",
            3,
            time=DAY,
            granted=("analytics", "vendor:YouTube"),
            denied=("marketing", "preferences"),
        ),
    )
    store = raw_store(store_url)
    found = consent_stats(store, since=DAY.date(), until=DAY.date(), min_group=1)
    store.close()
    assert set(found.categories) == {"analytics", "marketing", "preferences"}
    assert found.total.granted["analytics"] == 3 and "vendor:YouTube" not in found.total.granted


def test_a_new_policy_revision_asks_again(store_url: str) -> None:
    record(
        store_url,
        *visitors("v", 10, time=DAY, granted=ALL, denied=(), revision=3),
        *visitors("v", 10, time=DAY + timedelta(days=1), granted=(), denied=ALL, revision=4),
    )
    store = raw_store(store_url)
    report = consent_stats(store, since=DAY.date(), until=DAY.date() + timedelta(days=1))
    assert (report.total.accept_all, report.total.reject_all, report.total.withdrawal) == (
        10,
        10,
        0,
    )
    assert [(g.revisions, g.counts.accept_all, g.counts.reject_all) for g in report.revisions] == [
        ((3,), 10, 0),
        ((4,), 0, 10),
    ]
    only = consent_stats(store, since=DAY.date(), until=DAY.date() + timedelta(days=1), revision=4)
    assert (only.total.accept_all, only.total.reject_all) == (0, 10)
    store.close()


def test_small_groups_are_merged_never_shown(store_url: str) -> None:
    """No group under min_group is shown, and none can be had by subtraction."""
    receipts = []
    # Day 0: 10 choices; day 1: 3; day 2: none; day 3: 8; day 4: 2 (a small tail).
    for offset, count in ((0, 10), (1, 3), (3, 8), (4, 2)):
        receipts += visitors(f"d{offset}", count, time=DAY + timedelta(days=offset),
                             granted=ALL, denied=(), language="en")  # fmt: skip
    receipts += visitors("fr", 4, time=DAY, granted=(), denied=ALL, language="fr")
    receipts += visitors("it", 3, time=DAY, granted=(), denied=ALL, language="it")
    receipts += visitors("de", 10, time=DAY, granted=("analytics",), denied=(), language="de")
    record(store_url, *receipts)
    store = raw_store(store_url)
    report = consent_stats(store, since=DAY.date(), until=DAY.date() + timedelta(days=4))
    spans = [(g.start, g.end, g.counts.choices) for g in report.series]
    day = DAY.date()
    assert spans == [
        (day, day + timedelta(days=1), 27),
        (day + timedelta(days=1), day + timedelta(days=5), 13),
    ]
    # "other" (fr 4 + it 3 = 7) was too small: the smallest named language (de) joined it.
    assert [(g.label, g.languages, g.counts.choices) for g in report.languages] == [
        ("en", ("en",), 23),
        ("other", ("de", "fr", "it"), 17),
    ]
    for group in (*report.series, *report.revisions, *report.languages):
        assert group.counts.choices >= report.min_group
    assert sum(g.counts.choices for g in report.series) == report.total.choices == 40
    assert sum(g.counts.choices for g in report.languages) == 40
    few = consent_stats(store, since=DAY.date(), until=DAY.date(), min_group=40)
    assert few.suppressed
    document = few.to_dict()
    jsonschema.validate(document, SCHEMA)
    assert document["choices"] is None and document["series"] == []
    assert "nothing is shown" in render_stats_text(few)
    store.close()


def test_weeks_and_months(tmp_path: Path) -> None:
    url = str(tmp_path / "r.sqlite3")
    record(
        url,
        *visitors("w1", 10, time=DAY - timedelta(days=1), granted=ALL, denied=()),  # a Sunday
        *visitors("w2", 10, time=DAY + timedelta(days=6), granted=(), denied=ALL),  # Sunday
        *visitors("m2", 10, time=datetime(2026, 12, 1, tzinfo=UTC), granted=(), denied=ALL),
    )
    store = SQLiteStore(url)
    weeks = consent_stats(store, since="2026-10-26", until="2026-12-06", by="week", min_group=1)
    assert [(g.start, g.counts.choices) for g in weeks.series if g.counts.choices] == [
        (date(2026, 10, 26), 10),
        (date(2026, 11, 2), 10),
        (date(2026, 11, 30), 10),
    ]
    months = consent_stats(store, since="2026-10-15", until="2026-12-31", by="month", min_group=1)
    assert [(g.start, g.end, g.counts.choices) for g in months.series] == [
        (date(2026, 10, 15), date(2026, 11, 1), 0),
        (date(2026, 11, 1), date(2026, 12, 1), 20),
        (date(2026, 12, 1), date(2027, 1, 1), 10),
    ]
    store.close()


def test_receipts_kept_before_the_statistics_are_counted(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store made by schema 1 is migrated; its receipts are counted by the first report."""
    old = [
        *visitors("o", 11, time=DAY, granted=("analytics",), denied=("marketing",)),
        make_receipt("o-0000-visitor", time=DAY + timedelta(hours=1), granted=(), denied=ALL),
    ]
    _schema_1_store(store_url, old)
    record(store_url, *visitors("n", 2, time=DAY, granted=ALL, denied=()))
    report = stats_json(["--store", store_url, "--since", "2026-11-01", "--until",
                         "2026-11-30"], capsys)  # fmt: skip
    assert report["choices"]["custom"] == 11
    assert report["choices"]["accept_all"] == 2
    assert report["choices"]["withdrawal"] == 1
    store = raw_store(store_url)
    twice = consent_stats(store, since="2026-11-01", until="2026-11-30")
    assert twice.total.custom == 11  # the backlog was counted once, not again
    store.close()


def _schema_1_store(url: str, receipts: list[Any]) -> None:
    """``url`` as cookieguard 0.x left it: schema version 1, no statistics."""
    if is_postgres_url(url):
        import psycopg

        from cookieguard.receipts import _postgres

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE cookieguard_meta (key text PRIMARY KEY, value text NOT NULL)"
            )
            for statement in _postgres._MIGRATIONS[0]:
                conn.execute(statement)
            conn.execute("INSERT INTO cookieguard_meta VALUES ('schema_version', '1')")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO cookieguard_receipts ({V1_COLUMNS})"
                    f" VALUES ({', '.join(['%s'] * 11)})",
                    [_postgres._row(r)[:11] for r in receipts],  # schema 1's columns
                )
        return
    from cookieguard.receipts import _sqlite

    with sqlite3.connect(url) as lite:
        for statement in _sqlite._MIGRATIONS[0]:
            lite.execute(statement)
        lite.execute("PRAGMA user_version = 1")
        lite.executemany(
            f"INSERT INTO receipts ({V1_COLUMNS}) VALUES ({', '.join('?' * 11)})",
            [_sqlite._row(r)[:11] for r in receipts],  # schema 1's columns
        )
    lite.close()


#: The receipts columns of schema 1 (later migrations add more).
V1_COLUMNS = (
    "receipt_id, consent_id, time, granted, denied, revision, language, method, path,"
    " user_agent, ip_hash"
)


def test_terminal_table_fits_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = str(tmp_path / "r.sqlite3")
    record(
        url,
        *visitors("a", 30, time=DAY, granted=ALL, denied=(), language="zh-Hant-TW"),
        *visitors(
            "b",
            12,
            time=DAY + timedelta(days=40),
            granted=("analytics",),
            denied=("marketing", "preferences"),
            revision=12345678,
        ),
    )
    assert (
        cli.main(["stats", "--store", url, "--since", "2026-10-01", "--until", "2027-01-01"]) == 0
    )
    out, _ = capsys.readouterr()
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Accept all" in out and "analytics" in out and "12345678" in out


def test_arguments_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = str(tmp_path / "r.sqlite3")
    record(url, make_receipt())
    assert cli.main(["stats", "--store", url, "--since", "yesterday"]) == 2
    assert "expected a date" in capsys.readouterr().err
    assert (
        cli.main(["stats", "--store", url, "--since", "2026-12-01", "--until", "2026-11-01"]) == 2
    )
    assert "the period is empty" in capsys.readouterr().err
    assert cli.main(["stats", "--store", url, "--json", "--html", "x.html"]) == 2
    assert cli.main(["stats", "--store", url, "--by", "year"]) == 2
    assert cli.main(["stats", "--store", str(tmp_path / "missing.sqlite3")]) == 2


def test_durations_back_from_today() -> None:
    today = date(2026, 3, 31)
    assert parse_when("30d", today=today) == date(2026, 3, 1)
    assert parse_when("2w", today=today) == date(2026, 3, 17)
    assert parse_when("1mo", today=today) == date(2026, 2, 28)
    assert parse_when("1y", today=today) == date(2025, 3, 31)
    assert parse_when("2026-01-05", today=today) == date(2026, 1, 5)


def test_a_receipt_written_late_is_counted_in_its_place(store_url: str) -> None:
    """A withdrawal kept before the choice it follows (a spool replayed late, a clock behind)."""
    first: dict[str, Any] = {"granted": ALL, "denied": ()}
    late = [make_receipt(f"late-{n:04d}-visitor", time=DAY, **first) for n in range(10)]
    withdrawals = [
        make_receipt(f"late-{n:04d}-visitor", time=DAY + timedelta(hours=2), granted=(), denied=ALL)
        for n in range(10)
    ]
    # Written in the wrong order: the withdrawals first, their choices after them.
    record(store_url, *withdrawals[:6], *late, *withdrawals[6:])
    # And one visitor's three receipts written last, middle, first.
    middle = make_receipt(
        "mixed-0000-visitor",
        time=DAY + timedelta(hours=1),
        granted=("analytics",),
        denied=("marketing", "preferences"),
    )
    record(
        store_url,
        make_receipt("mixed-0000-visitor", time=DAY + timedelta(hours=3), granted=ALL, denied=()),
        middle,
        make_receipt("mixed-0000-visitor", time=DAY, granted=ALL, denied=()),
    )
    store = raw_store(store_url)
    report = consent_stats(store, since=DAY.date(), until=DAY.date())
    total = report.total
    assert (total.accept_all, total.reject_all, total.custom) == (11, 0, 0)
    assert (total.withdrawal, total.change) == (11, 1)
    assert total.withdrawn == {"analytics": 10, "marketing": 11, "preferences": 11}
    store.close()


def test_regions_are_a_breakdown_too(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Receipts record a region (issue 21); small regions are pooled like languages."""
    record(
        store_url,
        *visitors("de", 12, time=DAY, granted=ALL, denied=(), region="DE", rule="opt-in"),
        *visitors("fr", 3, time=DAY, granted=(), denied=ALL, region="FR", rule="opt-in"),
        *visitors("xx", 10, time=DAY, granted=(), denied=ALL),  # no region recorded
    )
    report = stats_json(["--store", store_url, "--since", "2026-11-02", "--until",
                         "2026-11-02"], capsys)  # fmt: skip
    regions = [(r["label"], r["regions"], r["choices"]["total"]) for r in report["regions"]]
    # FR (3) alone is too small; with the smallest named group ("unknown", 10) it is not.
    assert regions == [("DE", ["DE"], 12), ("other", ["", "FR"], 13)]
    assert report["regions"][0]["choices"]["accept_all"] == 12
    assert cli.main(["stats", "--store", store_url, "--since", "2026-11-02"]) == 0
    assert "By region" in capsys.readouterr().out
