"""`callsheet stats --month 2026-11 [--png FILE]`: what /stats says, printed, and its chart
written to a file."""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from bot.settings import Settings

PROG = "callsheet"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = sub.add_parser(
        "stats",
        help="print a month in numbers (as /stats) and write its chart as a PNG",
        description="Print the month's events, crew confirm rate, late drop-outs (confirmed, "
        "then declined within 48 hours of call time) and money in and out, in the company's "
        "timezone (TIMEZONE); with --png, also write the chart /stats sends: six months of "
        "money in and out, and the confirm rate.",
    )
    stats.add_argument(
        "--month", default="", help="year and month, e.g. 2026-11 (default: this one)"
    )
    stats.add_argument("--png", type=Path, help="write the chart to this file, e.g. stats.png")


def run(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from bot.db import NotMigrated
    from services.errors import CallsheetError

    png: Path | None = args.png
    if png is not None and not png.parent.is_dir():
        print(f"{PROG}: --png {png}: no such folder", file=sys.stderr)
        return 2
    try:
        text, chart = asyncio.run(_stats(settings, args.month, png is not None))
    except (CallsheetError, NotMigrated) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    print(html.unescape(re.sub(r"<[^>]+>", "", text)))
    if png is not None and chart is not None:
        png.write_bytes(chart)
        print(f"wrote {png}")
    return 0


async def _stats(settings: Settings, month: str, draw: bool) -> tuple[str, bytes | None]:
    from bot import db
    from bot.container import build_services
    from services.clock import SystemClock
    from services.insight import LATE_WINDOW

    clock = SystemClock()
    await db.open_db(settings.database_url)
    try:
        services = build_services(settings, clock, bot_username=None)
        wanted = services.stats.parse(month)  # a typo is told before anything is read
        await db.ensure_migrated(settings.database_url)
        report = await services.stats.report(wanted)
    finally:
        await db.close_db()
    text = services.notifier.renderer.reply(
        "insight/stats",
        {"report": report, "late_hours": int(LATE_WINDOW.total_seconds() // 3600)},
    )
    return text, await services.stats.chart(report) if draw else None
