"""The `callsheet` command."""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import stats_cli
from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from services.ledger import MonthExport

PROG = "callsheet"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Callsheet: a Telegram bot that runs event crews and M-Pesa payments. "
        "Configuration comes from the environment and .env (see .env.example).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "run",
        help="run the bot and the HTTP server (webhook, Daraja callbacks, /healthz, /readyz)",
        description="Run the bot (polling, or webhook when TELEGRAM_MODE=webhook) and the "
        "HTTP server on HTTP_HOST:HTTP_PORT until SIGINT or SIGTERM. "
        "Refuses to start on a database that needs `callsheet migrate`.",
    )
    demo = sub.add_parser(
        "demo",
        help="play a manager and two crew through the system, offline, and print it all",
        description="Run the whole system against local stand-ins for Telegram (and Daraja, "
        "email) with a temporary SQLite database; needs no configuration. It ends with "
        "/stats, whose chart it saves as a PNG and names.",
    )
    demo.add_argument(
        "--png",
        type=Path,
        help="where to save the /stats chart (default: callsheet-demo-stats.png in the "
        "system's temporary folder)",
    )
    sub.add_parser("migrate", help="apply database migrations (DATABASE_URL)")
    add = sub.add_parser(
        "add-manager",
        help="add a manager (the first one, or any later one)",
        description="Add a manager and print their one-time Telegram link.",
    )
    add.add_argument("--name", required=True, help="full name, e.g. 'Achieng Otieno'")
    add.add_argument("--phone", required=True, help="Kenyan mobile number, e.g. 0712345678")
    add.add_argument("--email", help="email address for copies of every message")
    add.add_argument(
        "--telegram-id", type=int, help="numeric Telegram user id, to link without a link"
    )
    sub.add_parser(
        "audit",
        help="check every balance, payment and callback against the ledger",
        description="Exit 1 and print each mismatch: a balance that differs from the sum of "
        "its ledger entries; a completed payment without exactly one entry, or whose entry is "
        "for another person or amount; a failed or flagged payment still credited; a completed "
        "payment without a receipt after an hour; a flagged payment not resolved (/resolve); "
        "a success callback that matched no payment; a recorded payment (/record) without its "
        "ledger entry, an undone one without its reversing entry, a reference recorded twice; "
        "a completed payment or paid payout without exactly one receipt (R-…); a year whose "
        "receipt or invoice numbers are not 1..N.",
    )
    sub.add_parser(
        "receipts",
        help="number receipts for payments and payouts made before receipts existed",
        description="Issue a receipt (R-YYYY-NNNNNN, in the company year of each movement) "
        "for every completed payment and paid payout that has none, oldest first; no email "
        "is sent. Run once after upgrading; a second run finds nothing to do.",
    )
    export = sub.add_parser(
        "export",
        help="write a month's ledger as CSV and XLSX for the accountant",
        description="Write ledger-YYYY-MM.csv and ledger-YYYY-MM.xlsx (the files /export sends): "
        "date, person, kind, method, amount, receipt, reference for every ledger entry of the "
        "month in the company's timezone (TIMEZONE), and the money from clients (deposits, "
        "invoices, their refunds) as rows of kind client. Amounts are signed: positive raises "
        "what the person owes, negative lowers it. Existing files of that name are replaced.",
    )
    export.add_argument("--month", required=True, help="year and month, e.g. 2026-11")
    export.add_argument(
        "--out", default=".", help="folder to write the two files in (default: the current one)"
    )
    stats_cli.add_parser(sub)
    reconcile = sub.add_parser(
        "reconcile",
        help="reconcile an M-Pesa statement (CSV or XLSX) against the books",
        description="Match the statement exported from the M-Pesa org portal against "
        "completed payments and payouts, keep the result, alert the managers when our books "
        "have something the statement lacks, and print the report (as /statement shows it). "
        "The same file twice changes nothing. Exit 0 when every row matched, 1 when some did "
        "not, 2 when the file is not a statement.",
    )
    reconcile.add_argument("file", help="the statement file, e.g. ORG_600000_Utility….csv")
    sub.add_parser(
        "check",
        help="validate the configuration and try the database, Telegram, Daraja and SMTP",
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("callsheet")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # PTB's future behaviour: durations such as RetryAfter.retry_after are timedeltas.
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    from bot.logs import setup_logging

    level = logging.DEBUG if args.verbose else logging.INFO
    if args.command == "demo":
        from bot.demo import run_demo

        setup_logging(logging.WARNING)
        return int(asyncio.run(run_demo(args.png)))
    try:
        settings = load_settings()
        setup_logging(level, _secrets(settings))
        if args.command == "run":
            settings.require_bot_token()
            return asyncio.run(_run(settings))
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "add-manager":
            return asyncio.run(_add_manager(settings, args))
        if args.command == "audit":
            return asyncio.run(_audit(settings))
        if args.command == "reconcile":
            try:
                content = Path(args.file).read_bytes()
            except OSError as exc:
                print(f"{PROG}: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
                return 2
            return asyncio.run(_reconcile(settings, Path(args.file).name, content))
        if args.command == "export":
            return _export(settings, args.month, Path(args.out))
        if args.command == "stats":
            return stats_cli.run(settings, args)
        if args.command == "receipts":
            return asyncio.run(_receipts(settings))
        if args.command == "check":
            from bot.check import run_checks

            return asyncio.run(run_checks(settings))
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    raise AssertionError(args.command)


def _secrets(settings: Settings) -> list[str]:
    values = [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.daraja_consumer_secret,
        settings.daraja_consumer_key,
        settings.daraja_passkey,
        settings.daraja_callback_secret,
        settings.daraja_initiator_password,
        settings.smtp_password,
    ]
    return [v.get_secret_value() for v in values if v is not None] + [
        settings.database_password or ""
    ]


async def _run(settings: Settings) -> int:
    from bot.app import Callsheet
    from bot.db import NotMigrated

    try:
        await Callsheet(settings).serve()
    except NotMigrated as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    return 0


async def _migrate(settings: Settings) -> int:
    from bot.db import migrate

    applied = await migrate(settings.database_url)
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("the database is up to date")
    return 0


async def _add_manager(settings: Settings, args: argparse.Namespace) -> int:
    from bot import db
    from bot.container import build_services
    from models import Access
    from services.clock import SystemClock
    from services.errors import CallsheetError

    await db.open_db(settings.database_url)
    try:
        await db.ensure_migrated(settings.database_url)
        username = await _bot_username(settings)
        services = build_services(settings, SystemClock(), bot_username=username)
        invite = await services.people.add_person(
            name=args.name,
            phone=args.phone,
            email=args.email,
            access=Access.MANAGER,
            telegram_id=args.telegram_id,
        )
    except (CallsheetError, db.NotMigrated) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.close_db()
    person = invite.person
    print(f"Added manager #{person.id} {person.name} ({person.phone}).")
    if person.telegram_id:
        print("Their Telegram account is linked: they can send /start to the bot now.")
    else:
        print(f"Telegram link (works once, until {invite.expires_at:%Y-%m-%d %H:%M} UTC):")
        print(f"  {invite.link}")
        print("Or they send /start to the bot and tap 'Share my phone number'.")
        if person.email:
            print(f"The link is also queued by email to {person.email}: sent when the bot runs.")
    return 0


async def _audit(settings: Settings) -> int:
    from bot import db
    from services.clock import SystemClock
    from services.ledger import LedgerService

    await db.open_db(settings.database_url)
    try:
        await db.ensure_migrated(settings.database_url)
        mismatches = await LedgerService(SystemClock()).audit()
    except db.NotMigrated as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.close_db()
    if not mismatches:
        print("audit: every balance matches its ledger and every payment has its entry")
        return 0
    for mismatch in mismatches:
        print(f"mismatch: {mismatch}")
    print(f"audit: {len(mismatches)} mismatch(es)")
    return 1


async def _reconcile(settings: Settings, name: str, content: bytes) -> int:
    from bot import db
    from bot.container import build_services
    from services.books import NotAStatement
    from services.books.reconcile import SHOWN
    from services.clock import SystemClock

    await db.open_db(settings.database_url)
    try:
        await db.ensure_migrated(settings.database_url)
        clock = SystemClock()
        services = build_services(settings, clock, bot_username=None)
        report = await services.reconciler.reconcile(name, content, None)

        shown = services.notifier.renderer.reply(
            "books/reconciliation", {"report": report, "shown": SHOWN, "now": clock.now()}
        )
    except (db.NotMigrated, NotAStatement) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.close_db()
    print(html.unescape(re.sub(r"<[^>]+>", "", shown)))
    recon = report.reconciliation
    return 1 if recon.not_in_books or recon.not_in_statement or recon.amount_differs else 0


def _export(settings: Settings, month: str, out: Path) -> int:
    from bot.db import NotMigrated
    from services.errors import CallsheetError

    if not out.is_dir():
        print(f"{PROG}: --out {out}: no such folder", file=sys.stderr)
        return 2
    try:
        books = asyncio.run(_month_books(settings, month))
    except (CallsheetError, NotMigrated) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    for content, suffix in ((books.csv_bytes(), "csv"), (books.xlsx_bytes(), "xlsx")):
        path = out / f"{books.base_name}.{suffix}"
        path.write_bytes(content)
        print(f"wrote {path}")
    if books.rows:
        print(
            f"{books.month.name} ({settings.tz}): {len(books.rows)} ledger entries, "
            f"net {books.total:+,} KES"
        )
    elif not books.clients:
        print(f"{books.month.name} ({settings.tz}): no ledger entries; the files hold the header")
    if books.clients:
        print(
            f"clients: {len(books.clients)} rows (kind client), {books.received:,} KES received, "
            f"{books.given_back:,} KES given back"
        )
    return 0


async def _month_books(settings: Settings, month: str) -> MonthExport:
    from bot import db
    from services.ledger import Exports, parse_month

    parse_month(month)  # a typo is told before the database is opened
    await db.open_db(settings.database_url)
    try:
        await db.ensure_migrated(settings.database_url)
        return await Exports(settings.tz).month(month)
    finally:
        await db.close_db()


async def _receipts(settings: Settings) -> int:
    from bot import db
    from services.clock import SystemClock
    from services.documents.backfill import issue_missing_receipts

    await db.open_db(settings.database_url)
    try:
        await db.ensure_migrated(settings.database_url)
        issued = await issue_missing_receipts(SystemClock(), settings.tz)
    except db.NotMigrated as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.close_db()
    for receipt in issued:
        print(f"receipt {receipt.number}: {receipt.kind.value} · KES {receipt.amount:,}")
    print(f"receipts: {len(issued)} issued")
    return 0


async def _bot_username(settings: Settings) -> str | None:

    if settings.telegram_bot_token is None:
        return None
    from telegram import Bot
    from telegram.error import TelegramError

    bot = Bot(settings.require_bot_token(), base_url=settings.telegram_api_base_url)
    try:
        async with bot:
            return bot.username
    except TelegramError:
        logging.getLogger(__name__).warning("could not reach Telegram for the bot's username")
        return None


if __name__ == "__main__":
    sys.exit(main())
