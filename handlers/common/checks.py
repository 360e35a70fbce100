"""What runs before every feature: each update once, private chats only, no edits, and a
linked, active person behind everything past /start and /help."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.context import CallsheetContext
from handlers.shared import reply
from models import Person
from services import updates

log = logging.getLogger(__name__)


async def current_person(update: Update, context: CallsheetContext) -> Person | None:
    """The active Person behind this update, looked up in the database once per update:
    `require_known_person` keeps what it loaded for the feature handler that follows."""
    user = update.effective_user
    if user is None:
        return None
    if context.person is not None and context.person.telegram_id == user.id:
        return context.person
    return await context.services.people.by_telegram_id(user.id)


async def skip_seen_updates(update: Update, context: CallsheetContext) -> None:
    """A redelivered update (webhook retry, a second instance) is acted on once."""
    if not await updates.first_time(update.update_id, context.services.clock):
        log.info("update %s already handled; skipped", update.update_id)
        raise ApplicationHandlerStop


async def only_private_chats(update: Update, context: CallsheetContext) -> None:
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        if update.effective_message is not None and update.message is not None:
            await reply(update, context, "common/private_only")
        raise ApplicationHandlerStop


async def answer_empty_presses(update: Update, context: CallsheetContext) -> None:
    """A press that carries no data (only a modified client sends one) is answered here: PTB
    hands it to every CallbackQueryHandler whatever its pattern, so no feature could parse it."""
    query = update.callback_query
    if query is not None and not query.data and not query.game_short_name:
        await query.answer("This button is no longer active.", show_alert=True)
        raise ApplicationHandlerStop


async def ignore_edits(update: Update, context: CallsheetContext) -> None:
    """An edited message is not a new answer: every step reads what was sent, once."""
    if update.edited_message is not None or update.edited_channel_post is not None:
        raise ApplicationHandlerStop


async def require_known_person(update: Update, context: CallsheetContext) -> None:
    """Everything past /start, /help and contacts needs a linked, active person."""
    if update.effective_user is None:
        raise ApplicationHandlerStop
    person = await current_person(update, context)
    if person is not None:
        context.person = person
        return
    if update.callback_query is not None:
        await update.callback_query.answer(
            "You are not on the crew list. Ask a manager to add you.", show_alert=True
        )
    elif update.effective_message is not None:
        await reply(update, context, "common/unknown_person")
    raise ApplicationHandlerStop


def final(
    callback: Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]],
) -> Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]]:
    """Run a handler and stop there: later groups must not see the update."""

    @functools.wraps(callback)
    async def wrapper(update: Update, context: CallsheetContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    return wrapper
