"""Regenerate the shipped tracker catalogue from scripts/catalogue_sources/ and the OCD facts.

Reads the hand-written vendor tables (hosts from each vendor's own documentation) and the Open
Cookie Database facts (Apache-2.0) and writes src/cookieguard/data/trackers.json plus the
licence files that must travel with data derived from the Open Cookie Database. The output
depends on nothing but those inputs, so a rebuild of unchanged sources is byte-identical.

Usage: python scripts/build_catalogue.py [--check] [--facts CSV]
Exit codes: 0 written (or up to date with --check), 1 stale (--check), 2 bad source data.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "scripts" / "catalogue_sources"
DATA = ROOT / "src" / "cookieguard" / "data"
FACTS = SOURCES / "open-cookie-database.facts.csv"  # a copy of ../shared/data, see README
FACTS_LICENCE_NAME = "open-cookie-database.LICENSE"
# Read in this order (the first vendor claiming a host or cookie wins); every *.toml but
# catalogue.toml must be listed here, so a new file cannot be left out of the build unnoticed.
VENDOR_FILES = (
    "analytics.toml",
    "marketing.toml",
    "embeds.toml",
    "support.toml",
    "social.toml",
)
CATEGORIES = ("necessary", "preferences", "analytics", "marketing")
FORMAT = 1
MIN_NAME = 4  # shorter plain-word OCD names ("sp", "fid") are taken only from ocd_names

OCD_SOURCE = {
    "name": "Open Cookie Database",
    "url": "https://github.com/jkwakman/Open-Cookie-Database",
    "commit": "0ee5a17",
    "date": "2026-01-21",
    "license": "Apache-2.0",
}

NOTICE = """\
cookieguard tracker catalogue (trackers.json)

The cookie names, retention periods, data controllers and privacy portals in trackers.json
are derived from the Open Cookie Database
(https://github.com/jkwakman/Open-Cookie-Database, commit 0ee5a17, 2026-01-21),
Copyright the Open Cookie Database contributors, licensed under the Apache License,
Version 2.0 (see open-cookie-database.LICENSE in this folder, or
http://www.apache.org/licenses/LICENSE-2.0).

Changes made: only the factual columns were used; cookies set on a vendor's own domain were
left out; rows were grouped by vendor, wildcard names written as globs ("_ga_*"), and
retention periods converted to seconds where they state one. Script, pixel and iframe hosts,
categories and embed flags are cookieguard's own, taken from each vendor's documentation
(the "docs" of each entry). No tracker list under a non-commercial licence (such as
Disconnect's, or any list under CC BY-NC) was used.

Distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND.
"""

_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_RETENTION = re.compile(r"\b(\d+)\s*(second|minute|hour|day|week|month|year)s?\b", re.I)
# An RFC 6265 cookie name (a token) plus the glob characters "*?[]".
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z?\[\]]+$")
_HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_VENDOR_KEYS = {
    "name",
    "provider",
    "category",
    "hosts",
    "paths",
    "docs",
    "embed",
    "privacy_url",
    "ocd",
    "ocd_names",
    "ocd_skip",
    "cookies",
    "storage",
    "snippet",
}


class SourceError(Exception):
    """A vendor source entry is wrong; the message says which and how."""


def max_age(retention: str) -> int | None:
    """Seconds for "2 years", "24 hours" (the longest of "30 seconds till 1 year").

    ``None`` for session cookies and text that states no duration.
    """
    spans = [int(n) * _UNITS[unit.lower()] for n, unit in _RETENTION.findall(retention)]
    return max(spans) if spans else None


def read_facts(path: Path) -> dict[str, list[dict[str, str]]]:
    """Open Cookie Database rows grouped by platform, in file order."""
    rows: dict[str, list[dict[str, str]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["Platform"].strip(), []).append(row)
    return rows


def _fact(pattern: str, retention: str, *, storage: bool) -> dict[str, Any]:
    fact: dict[str, Any] = {
        "pattern": pattern,
        "retention": retention,
        "max_age": max_age(retention),
    }
    if storage:
        fact["storage"] = True
    return fact


def _cookies(entry: dict[str, Any], facts: dict[str, list[dict[str, str]]]) -> list[Any]:
    name = entry["name"]
    wanted = entry.get("ocd_names")
    skip = set(entry.get("ocd_skip", ()))
    cookies: dict[str, dict[str, Any]] = {}
    for platform in entry.get("ocd", ()):
        if platform not in facts:
            raise SourceError(f"{name}: no Open Cookie Database platform {platform!r}.")
        for row in facts[platform]:
            cookie = row["Cookie / Data Key name"].strip()
            if not cookie or cookie in skip:
                continue
            if wanted is not None:
                if cookie not in wanted:
                    continue
            elif row["Domain"].strip():
                continue  # set on the vendor's own domain: the site's server never sees it
            elif len(cookie) < MIN_NAME and cookie.isalnum():
                continue  # "sp", "i", "fid": too generic to claim a site's own cookie
            if not _COOKIE_NAME.match(cookie):
                continue  # "active_template::*", "Site History": no Cookie header carries it
            pattern = cookie + "*" if row["Wildcard match"].strip() == "1" else cookie
            if pattern not in cookies:
                cookies[pattern] = _fact(pattern, row["Retention period"].strip(), storage=False)
    if wanted is not None:
        found = {pattern.rstrip("*") for pattern in cookies}
        missing = [cookie for cookie in wanted if cookie not in found]
        if missing:
            raise SourceError(f"{name}: ocd_names {missing} are not in its ocd platforms.")
    for key, storage in (("cookies", False), ("storage", True)):
        for item in entry.get(key, ()):
            if not isinstance(item, dict) or set(item) - {"pattern", "retention"}:
                raise SourceError(f"{name}: {key} items are {{ pattern = ..., retention = ... }}.")
            pattern = item["pattern"]
            if not storage and not _COOKIE_NAME.match(pattern):
                raise SourceError(f"{name}: {pattern!r} is not a cookie name (RFC 6265 token).")
            fact = _fact(pattern, item.get("retention", ""), storage=storage)
            cookies[("storage:" if storage else "") + pattern] = fact
    return list(cookies.values())


def _privacy(entry: dict[str, Any], facts: dict[str, list[dict[str, str]]]) -> tuple[str, str]:
    provider = entry.get("provider", "")
    privacy = entry.get("privacy_url", "")
    for platform in entry.get("ocd", ()):
        for row in facts.get(platform, ()):
            provider = provider or row["Data Controller"].strip()
            privacy = privacy or row["User Privacy & GDPR Rights Portals"].strip()
    return provider or entry["name"], privacy


def vendor(entry: dict[str, Any], facts: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    """One catalogue entry from a source table, validated."""
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise SourceError(f"a vendor without a name: {entry!r}")
    unknown = set(entry) - _VENDOR_KEYS
    if unknown:
        raise SourceError(f"{name}: unknown keys {sorted(unknown)}.")
    if entry.get("category") not in CATEGORIES:
        raise SourceError(f"{name}: category must be one of {CATEGORIES}.")
    hosts = entry.get("hosts", [])
    if not hosts or not all(isinstance(h, str) and _HOST.match(h) for h in hosts):
        raise SourceError(f"{name}: hosts must be lower-case host names.")
    paths = entry.get("paths", [])
    if not all(isinstance(p, str) and p.startswith("/") for p in paths):
        raise SourceError(f"{name}: paths must start with '/'.")
    docs = entry.get("docs")
    if not docs or not all(
        isinstance(d, str) and d.startswith(("https://", "http://")) for d in docs
    ):
        raise SourceError(f"{name}: give the vendor documentation the hosts come from (docs URLs).")
    snippet = entry.get("snippet")
    if snippet is not None and not (
        isinstance(snippet, str) and any(host in snippet.lower() for host in hosts)
    ):
        raise SourceError(f"{name}: snippet must be the published tag, loading from its hosts.")
    provider, privacy = _privacy(entry, facts)
    result: dict[str, Any] = {
        "name": name,
        "provider": provider,
        "category": entry["category"],
        "hosts": sorted(hosts),
        "cookies": _cookies(entry, facts),
        "embed": bool(entry.get("embed", False)),
        "privacy_url": privacy,
        "docs": list(entry["docs"]),
    }
    if paths:
        result["paths"] = list(paths)
    return result


def vendor_tables() -> list[dict[str, Any]]:
    """Every ``[[vendor]]`` table of the source files, in build order."""
    unlisted = sorted(
        path.name
        for path in SOURCES.glob("*.toml")
        if path.name != "catalogue.toml" and path.name not in VENDOR_FILES
    )
    if unlisted:
        raise SourceError(f"{unlisted}: not in VENDOR_FILES of scripts/build_catalogue.py.")
    tables: list[dict[str, Any]] = []
    for file_name in VENDOR_FILES:
        tables.extend(tomllib.loads((SOURCES / file_name).read_text("utf-8")).get("vendor", []))
    return tables


def snippets() -> dict[str, str]:
    """Vendor name -> the snippet its documentation publishes (IDs replaced), where given.

    Kept in the sources only: the tests paste each into a page and check that it is gated.
    """
    return {t["name"]: t["snippet"] for t in vendor_tables() if isinstance(t.get("snippet"), str)}


def build(facts_path: Path = FACTS) -> dict[str, str]:
    """File name -> text of every generated file in the data folder."""
    facts = read_facts(facts_path)
    meta = tomllib.loads((SOURCES / "catalogue.toml").read_text("utf-8"))["catalogue"]
    vendors = [vendor(entry, facts) for entry in vendor_tables()]
    names = [v["name"] for v in vendors]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceError(f"vendor names must be unique: {duplicates}")
    catalogue = {
        "format": FORMAT,
        "version": meta["version"],
        "sources": {"cookies": OCD_SOURCE, "hosts": "each vendor's documentation (docs)"},
        "vendors": vendors,
    }
    licence = (facts_path.parent / FACTS_LICENCE_NAME).read_text("utf-8")
    return {
        "trackers.json": json.dumps(catalogue, indent=1, ensure_ascii=False) + "\n",
        "NOTICE": NOTICE,
        FACTS_LICENCE_NAME: licence,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the shipped files are stale"
    )
    parser.add_argument("--facts", type=Path, default=FACTS, help="Open Cookie Database facts CSV")
    args = parser.parse_args(argv)
    try:
        files = build(args.facts)
    except (SourceError, KeyError, tomllib.TOMLDecodeError) as error:
        print(f"build_catalogue: {error}", file=sys.stderr)
        return 2
    stale = [
        name
        for name, text in files.items()
        if not (DATA / name).exists() or (DATA / name).read_text("utf-8") != text
    ]
    if args.check:
        for name in stale:
            print(
                f"build_catalogue: {DATA / name} is stale; run scripts/build_catalogue.py",
                file=sys.stderr,
            )
        return 1 if stale else 0
    DATA.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (DATA / name).write_text(files[name], "utf-8")
    vendors = json.loads(files["trackers.json"])["vendors"]
    print(f"{len(vendors)} vendors, {len(stale)} file(s) written to {DATA}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
