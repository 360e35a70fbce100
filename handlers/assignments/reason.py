"""Plain text no feature took: the reason for an invitation just declined (typed without
using Reply), or else the usual "Send /help". Registered after every feature."""

from __future__ import annotations

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.context import CallsheetApplication, CallsheetContext
from handlers.assignments.answer import take_reason
from handlers.common import current_person, unknown_text


async def reason_or_unknown(update: Update, context: CallsheetContext) -> None:
    person = await current_person(update, context)
    waiting = (
        await context.services.assignments.awaiting_reason(person) if person is not None else None
    )
    if waiting is None:
        await unknown_text(update, context)
        return
    await take_reason(update, context, waiting)


def register(application: CallsheetApplication) -> None:
    """After every feature (so no conversation loses its text), before the fallbacks."""
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, reason_or_unknown))
