"""/stats [2026-11]: the month in numbers as a reply, then its chart as a photo.

The chart is drawn in a worker thread (`Stats.chart`), so the bot answers other chats
meanwhile. Like /export, the photo goes straight back as the reply, not through the outbox:
if Telegram refuses it, the manager is told and can send /stats again.
"""

from __future__ import annotations

import logging

from telegram import InputFile, Update
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.shared import args_text, managers_only, render, reply
from services.insight import LATE_WINDOW

log = logging.getLogger(__name__)

MANAGER_COMMANDS += [
    Command(
        "stats",
        "A month in numbers, with a chart: events, confirm rate, late drop-outs, money",
        "/stats 2026-11",
    ),
]


@managers_only("see the stats")
async def stats_command(update: Update, context: CallsheetContext) -> None:
    service = context.services.stats
    report = await service.for_manager(context.person, args_text(update))
    late_hours = int(LATE_WINDOW.total_seconds() // 3600)
    await reply(update, context, "insight/stats", report=report, late_hours=late_hours)
    png = await service.chart(report)
    message = update.effective_message
    assert message is not None
    name = f"stats-{report.month.month.label}.png"
    try:
        await message.reply_photo(
            InputFile(png, filename=name),
            caption=render(context, "insight/stats_chart", report=report),
        )
    except TelegramError as exc:
        log.warning("stats chart %s not sent to chat %s: %s", name, message.chat_id, exc)
        await reply(update, context, "insight/chart_failed", error=exc)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("stats", stats_command))
