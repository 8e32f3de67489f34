"""The ``cookieguard`` command.

    cookieguard receipts purge --older-than 13mo [--store URL]
    cookieguard receipts export --consent-id ID [--format json|csv] [--store URL]
    cookieguard receipts quarantine [list|retry] [--json] [--store URL] [--quarantine FILE]
    cookieguard scan URL [URL...] [--pages N] [--depth N] [--policy FILE] [--json]
                                  [--html FILE] [--suggest] [--timeout S] [--ignore-robots]
    cookieguard stats [--since WHEN] [--until WHEN] [--by day|week|month] [--revision N]
                      [--min-group N] [--json | --html FILE] [--store URL]
    cookieguard secret

The store defaults to the ``COOKIEGUARD_RECEIPTS`` environment variable. Exit status: 0 on
success, 1 when the store fails (``receipts quarantine retry``: also when the store still
refuses some), 2 for bad arguments (with a message, never a traceback).
``scan`` exits 0 when the site is clean, 1 on violations, 2 when it could not scan or could not
finish a phase (a page that did not load, no banner button, robots.txt unreadable, the time
limit; the reasons are in the output); results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from cookieguard.receipts import (
    ReceiptError,
    ReceiptStore,
    open_store,
    parse_age,
    receipts_to_csv,
    receipts_to_json,
)
from cookieguard.receipts._open import is_postgres_url, sqlite_path

#: Environment variable naming the receipts store when ``--store`` is not given.
STORE_ENV = "COOKIEGUARD_RECEIPTS"

# Consent ids are the URL-safe random tokens the middleware mints. Checking the shape
# here turns a typo or a pasted cookie value into a clear error instead of "no receipts".
_CONSENT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


class _UsageError(Exception):
    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    # argparse calls sys.exit() on bad input; main() must return the status instead.
    def error(self, message: str) -> NoReturn:
        raise _UsageError(self, message)


def _age(text: str) -> str:
    try:
        parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _consent_id(text: str) -> str:
    if not _CONSENT_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"invalid consent id {text!r}: expected 16-64 letters, digits, '-' or '_'"
        )
    return text


def _build_parser() -> _Parser:
    parser = _Parser(prog="cookieguard", description="cookieguard consent tools.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    receipts = commands.add_parser("receipts", help="consent receipts: purge, export, quarantine")
    actions = receipts.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    store_help = f"store URL or SQLite path (default: ${STORE_ENV})"

    purge = actions.add_parser("purge", help="delete receipts older than a retention period")
    purge.add_argument(
        "--older-than",
        required=True,
        type=_age,
        metavar="AGE",
        help="retention period: a number and h, d, w, mo or y (e.g. 13mo, 30d)",
    )
    purge.add_argument("--store", metavar="URL", help=store_help)
    purge.set_defaults(parser=purge)

    export = actions.add_parser("export", help="print one visitor's consent receipts")
    export.add_argument(
        "--consent-id", required=True, type=_consent_id, metavar="ID", help="the consent id"
    )
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("--store", metavar="URL", help=store_help)
    export.set_defaults(parser=export)

    quarantine = actions.add_parser(
        "quarantine", help="list the receipts the store refused for good, or retry them"
    )
    quarantine.add_argument(
        "what",
        nargs="?",
        choices=("list", "retry"),
        default="list",
        help="list (default) them, or offer them to the store again (after fixing it)",
    )
    quarantine.add_argument("--json", action="store_true", help="list as JSON lines")
    quarantine.add_argument("--store", metavar="URL", help=store_help)
    quarantine.add_argument(
        "--quarantine",
        metavar="FILE",
        help="the quarantine file (default: next to the store's spool, as the middleware uses)",
    )
    quarantine.set_defaults(parser=quarantine)

    scan = commands.add_parser(
        "scan", help="scan a site in Chromium: before a choice, after Reject all, Accept all"
    )
    scan.add_argument("urls", nargs="+", metavar="URL", help="start page(s) of the site")
    scan.add_argument("--pages", type=_positive, default=20, help="pages to visit (default 20)")
    scan.add_argument("--depth", type=_natural, default=3, help="link depth (default 3)")
    scan.add_argument("--timeout", type=_positive, default=300, help="seconds for the whole scan")
    scan.add_argument(
        "--settle",
        type=float,
        default=1.0,
        metavar="S",
        help="after each load, wait up to S seconds for the network to go quiet (default 1)",
    )
    scan.add_argument("--policy", metavar="FILE", help="cookieguard.toml to classify with")
    scan.add_argument("--json", action="store_true", help="JSON on stdout instead of a table")
    scan.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
    scan.add_argument("--suggest", action="store_true", help="print a [cookies] TOML block")
    scan.add_argument("--ignore-robots", action="store_true", help="do not honour robots.txt")
    scan.add_argument(
        "--region",
        metavar="CODE",
        help="scan as a visitor from CODE (DE, US-CA): sends the region headers of --region-header"
        " or of the --policy's region_header",
    )
    scan.add_argument(
        "--region-header",
        metavar="NAME",
        help="a provider (cloudflare, cloudfront, vercel, appengine, fastly) or header name",
    )
    scan.set_defaults(parser=scan)

    _add_stats_parser(commands, store_help)

    secret = commands.add_parser("secret", help="print a fresh random secret key")
    secret.set_defaults(parser=secret)
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _open(parser: argparse.ArgumentParser, store: str | None) -> ReceiptStore:
    url = store or os.environ.get(STORE_ENV, "")
    if not url:
        raise _UsageError(parser, f"no receipts store: pass --store URL or set ${STORE_ENV}")
    if not is_postgres_url(url):
        try:
            path = sqlite_path(url)
        except ValueError as exc:
            raise _UsageError(parser, str(exc)) from None
        # Opening a missing SQLite file would create an empty one and report nothing.
        if not os.path.isfile(path):
            raise _UsageError(parser, f"receipts store {path!r} does not exist")
    try:
        return open_store(url)
    except ImportError as exc:
        raise _UsageError(parser, str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cookieguard`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    started = time.monotonic()
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "secret":
            print(secrets.token_urlsafe(32))
            return 0
        if args.command == "scan":
            return _scan(args, started)
        if args.command == "stats":
            return _stats(args)
        store = _open(args.parser, args.store)
        if args.action == "purge":
            return _purge(store, args.older_than)
        if args.action == "quarantine":
            return _quarantine(store, args)
        return _export(store, args.consent_id, args.format)
    except _UsageError as exc:
        exc.parser.print_usage(sys.stderr)
        print(f"{exc.parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except ReceiptError as exc:
        print(f"cookieguard: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


def _purge(store: ReceiptStore, older_than: str) -> int:
    try:
        cutoff = datetime.now(UTC) - parse_age(older_than)
        deleted = store.purge(cutoff)
    finally:
        store.close()
    before = f"{cutoff:%Y-%m-%dT%H:%M:%SZ}"
    print(f"deleted {deleted} receipt(s) older than {older_than} (before {before})")
    return 0


def _quarantine(store: ReceiptStore, args: argparse.Namespace) -> int:
    """List or retry quarantined receipts: exit 0, or 1 when some are still refused."""
    import json

    from cookieguard.receipts import SpooledStore
    from cookieguard.receipts._model import receipt_to_dict
    from cookieguard.scan import printable

    try:
        if not isinstance(store, SpooledStore):  # open_store always spools; a safety net
            raise _UsageError(args.parser, f"{store!r} keeps no quarantine")
        if args.quarantine:
            store.quarantine_path = os.path.abspath(args.quarantine)
        if args.what == "retry":
            stored, refused = store.retry_quarantined()
            print(f"stored {stored} quarantined receipt(s); {refused} still refused")
            return 1 if refused else 0
        entries = store.quarantined()
    finally:
        store.close()
    for receipt, error in entries:
        if args.json:
            print(json.dumps({**receipt_to_dict(receipt), "error": error}))
        else:
            when = f"{receipt.time:%Y-%m-%dT%H:%M:%SZ}"
            # The store's error may quote what a visitor sent: escaped for the terminal.
            print(f"{receipt.receipt_id}  {receipt.consent_id}  {when}  {printable(error)}")
    if not args.json:
        print(f"{len(entries)} quarantined receipt(s) in {store.quarantine_path}", file=sys.stderr)
    return 0


def _export(store: ReceiptStore, consent_id: str, fmt: str) -> int:
    try:
        receipts = store.history(consent_id)
    finally:
        store.close()
    sys.stdout.write(receipts_to_json(receipts) if fmt == "json" else receipts_to_csv(receipts))
    return 0


def _scan(args: argparse.Namespace, started: float) -> int:
    from cookieguard.core._policy import Policy
    from cookieguard.scan import (
        ScanError,
        progress_bar,
        render_html,
        render_suggestion,
        render_text,
        scan,
    )

    policy = None
    if args.policy:
        try:
            # Classifying needs no real key; the policy file usually (rightly) holds none.
            policy = Policy.from_toml(args.policy, secret_keys=["scan-only-" + "x" * 16])
        except (OSError, ValueError) as exc:
            raise _UsageError(args.parser, f"--policy: {exc}") from None
    headers = _region_headers(args, policy)
    try:
        report = scan(
            args.urls,
            policy=policy,
            pages=args.pages,
            depth=args.depth,
            # --timeout counts from the command's start (importing Playwright takes seconds).
            timeout=max(1.0, args.timeout - (time.monotonic() - started)),
            robots=not args.ignore_robots,
            settle=args.settle,
            progress=progress_bar(),
            headers=headers,
        )
    except ScanError as exc:
        print(f"cookieguard: cannot scan: {exc}", file=sys.stderr)
        return 2
    if args.html:
        with open(args.html, "w", encoding="utf-8") as fh:
            fh.write(render_html(report))
    if args.json:
        import json

        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(report))
    if args.suggest:
        sys.stdout.write(render_suggestion(report))
    return report.exit_status


def _region_headers(args: argparse.Namespace, policy: Any) -> dict[str, str] | None:
    """The headers ``--region`` asks for (``None``: scan from nowhere in particular)."""
    from cookieguard.core._regions import RegionLookup, check_regions

    if args.region is None:
        if args.region_header is not None:
            raise _UsageError(args.parser, "--region-header needs --region CODE")
        return None
    header = args.region_header
    if header is None and policy is not None:
        header = policy.region_header
    if header is None:
        raise _UsageError(
            args.parser,
            "--region needs --region-header NAME or a --policy with region_header set",
        )
    try:
        header, _ = check_regions(header, {}, "opt-in")
        return RegionLookup(header, {}, "opt-in").headers_for(args.region)
    except ValueError as exc:
        raise _UsageError(args.parser, f"--region: {exc}") from None


# -- cookieguard stats (issue 22; docs/statistics.md) -------------------------------------------


def _when(text: str) -> str:
    from cookieguard.receipts import parse_when

    try:
        parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _add_stats_parser(commands: argparse._SubParsersAction[_Parser], store_help: str) -> None:
    stats = commands.add_parser(
        "stats", help="consent statistics: choices, grant rates, banner views (counts only)"
    )
    stats.add_argument("--since", type=_when, default="30d", metavar="WHEN",
                       help="first day (UTC): a date or a duration back (default 30d)")  # fmt: skip
    stats.add_argument("--until", type=_when, metavar="WHEN",
                       help="last day, inclusive (default: today)")  # fmt: skip
    stats.add_argument("--by", choices=("day", "week", "month"), default="day")
    stats.add_argument("--revision", type=_natural, metavar="N", help="one policy revision")
    stats.add_argument("--min-group", type=_positive, default=10, metavar="N",
                       help="merge groups of fewer choices than N (default 10)")  # fmt: skip
    output = stats.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="JSON (docs/stats.schema.json)")
    output.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    stats.add_argument("--store", metavar="URL", help=store_help)
    stats.set_defaults(parser=stats)


def _stats(args: argparse.Namespace) -> int:
    from cookieguard.receipts import consent_stats, render_stats_text

    store = _open(args.parser, args.store)
    try:
        report = consent_stats(
            store,
            since=args.since,
            until=args.until,
            by=args.by,
            revision=args.revision,
            min_group=args.min_group,
        )
    except ValueError as exc:
        raise _UsageError(args.parser, str(exc)) from None
    finally:
        store.close()
    if args.json:
        import json

        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif args.html:
        from cookieguard.receipts import render_stats_html

        try:
            page = render_stats_html(report)
        except ImportError as exc:
            raise _UsageError(args.parser, str(exc)) from None
        with open(args.html, "w", encoding="utf-8") as fh:
            fh.write(page)
        print(f"wrote {args.html}", file=sys.stderr)
    else:
        sys.stdout.write(render_stats_text(report))
    return 0
