"""/export 2026-11: the month's ledger as two documents, CSV and XLSX, for the accountant.

The files go straight back as the command's reply, not through the outbox (which carries
text): an export is asked for and waited on, so a failure is said at once and the manager
asks again; nothing is lost, the files are built from the ledger each time.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.context import CallsheetContext
from handlers.shared import args_text, managers_only, reply

log = logging.getLogger(__name__)


@managers_only("export the books")
async def export(update: Update, context: CallsheetContext) -> None:
    books = await context.services.exports.for_manager(context.person, args_text(update))
    message = update.effective_message
    assert message is not None
    files = (
        (books.csv_bytes(), f"{books.base_name}.csv"),
        (books.xlsx_bytes(), f"{books.base_name}.xlsx"),
    )
    try:
        for content, name in files:
            await message.reply_document(content, filename=name)
    except TelegramError as exc:
        log.warning("export %s not sent to chat %s: %s", books.month.label, message.chat_id, exc)
        await reply(update, context, "payments/export_failed", error=exc, month=books.month.label)
        return
    await reply(update, context, "payments/exported", export=books, tz=context.services.settings.tz)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("export", export))
