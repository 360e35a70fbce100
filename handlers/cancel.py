"""/cancel when no guided conversation is open (an open one answers its own /cancel)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.shared import reply


async def nothing_to_cancel(update: Update, context: CallsheetContext) -> None:
    await reply(update, context, "conversations/nothing_to_cancel")


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("cancel", nothing_to_cancel))
