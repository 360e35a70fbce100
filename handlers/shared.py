"""What every handler module shares: replies rendered from templates, the one answer to a
refusal, and the managers-only check.

    @managers_only("see the crew list")
    async def crew(update: Update, context: CallsheetContext) -> None:
        roster = await context.services.people.roster(context.person, args_text(update))
        await reply(update, context, "people/roster", roster=roster)

A `CallsheetError` a handler does not catch reaches `bot`'s error handler, which answers it
with `tell_refusal`: handlers catch one only to do something more (end a form, say "Nothing
was saved.").
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.context import CallsheetContext
from services.errors import CallsheetError, require_manager

log = logging.getLogger(__name__)

R = TypeVar("R")
Handler = Callable[[Update, CallsheetContext], Coroutine[Any, Any, R]]


def args_text(update: Update) -> str:
    """What follows the command: "/assign 12 | Jane" gives "12 | Jane"."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def chat_id(update: Update) -> int | None:
    return update.effective_chat.id if update.effective_chat else None


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def render(context: CallsheetContext, template: str, **values: Any) -> str:
    """`templates/replies/<template>.j2` as Telegram HTML; `now` lets dates show their year
    only when it is not this year."""
    values.setdefault("now", context.services.clock.now())
    values.setdefault("plural", plural)
    return context.services.notifier.renderer.reply(template, values)


async def reply(
    update: Update,
    context: CallsheetContext,
    template: str,
    markup: InlineKeyboardMarkup | None = None,
    **values: Any,
) -> Message:
    """Answer the message (or the message under a pressed button) with a rendered reply."""
    message = update.effective_message
    assert message is not None
    return await message.reply_text(
        render(context, template, **values), parse_mode=ParseMode.HTML, reply_markup=markup
    )


async def tell_refusal(update: Update, error: CallsheetError, after: str = "") -> None:
    """The one answer to a refusal: an alert on a pressed button, else a reply, starting ❌.
    The error's text says what was wrong and what is expected; `after` adds what happens
    now ("Nothing was saved.")."""
    log.info("refused update %s: %s", update.update_id, type(error).__name__)
    text = f"❌ {error}" + (f"\n\n{after}" if after else "")
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text[:200], show_alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text, parse_mode=None)
    except TelegramError:
        log.warning("could not tell the user why update %s was refused", update.update_id)


def managers_only(
    doing: str = "do that",
) -> Callable[[Handler[R]], Handler[R | None]]:
    """Refuse crew before reading any argument, so they learn nothing about events or
    people. The refusal is "Only managers can <doing>."."""

    def decorate(callback: Handler[R]) -> Handler[R | None]:
        @functools.wraps(callback)
        async def checked(update: Update, context: CallsheetContext) -> R | None:
            try:
                require_manager(context.person, doing)
            except CallsheetError as exc:
                await tell_refusal(update, exc)
                return None
            return await callback(update, context)

        return checked

    return decorate
