"""What answers an update no feature took, and the one error handler."""

from __future__ import annotations

import logging
import secrets

from telegram import Update
from telegram.error import TelegramError

from bot.context import CallsheetContext
from handlers.shared import render, reply, tell_refusal
from services.errors import CallsheetError

log = logging.getLogger(__name__)


async def unknown_command(update: Update, context: CallsheetContext) -> None:
    await reply(update, context, "common/unknown_command")


async def unknown_text(update: Update, context: CallsheetContext) -> None:
    await reply(update, context, "common/unknown_text")


async def unknown_button(update: Update, context: CallsheetContext) -> None:
    """A press no feature took (an old message, or data a modified client made up):
    answered, or the person's Telegram shows a spinner until it gives up."""
    assert update.callback_query is not None
    await update.callback_query.answer("This button is no longer active.", show_alert=True)


async def on_error(update: object, context: CallsheetContext) -> None:
    if isinstance(context.error, CallsheetError) and isinstance(update, Update):
        # A refusal a handler did not expect (someone deactivated or demoted while a form
        # was open): the user gets the reason, which says what to do, not an error code.
        await tell_refusal(update, context.error)
        return
    error_id = secrets.token_hex(3).upper()
    log.error("error %s while handling an update", error_id, exc_info=context.error)
    if isinstance(update, Update):
        text = render(context, "common/error", error_id=error_id)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text[:200], show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(text)
        except TelegramError:
            log.warning("could not tell the user about error %s", error_id)
