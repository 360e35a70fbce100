"""A guided form for a manager's command: `/command a | b | c` at once, or bare: each field
asked in turn, checked as it comes, with Cancel on every question."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetContext
from handlers.common import current_person
from handlers.payments._common import example, user_data
from handlers.shared import managers_only, render, reply, tell_refusal
from models import Person
from services.buttons.payments import CancelRequest
from services.errors import CallsheetError

Check = Callable[[str, CallsheetContext], Awaitable[object]]  # raises CallsheetError
Finish = Callable[[Update, CallsheetContext, Person, list[str]], Awaitable[None]]
# A press that opens the form with its first answers given: the values, or None (refused
# with an answer to the press already given).
Prefill = Callable[[Update, CallsheetContext], Awaitable[list[str] | None]]
Step = Callable[[Update, CallsheetContext], Coroutine[Any, Any, int]]


@dataclass(frozen=True)
class Field:
    prompt: str
    check: Check


def cancel_markup() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton("Cancel", callback_data=CancelRequest().pack())]]
    )


def guided(
    command: str,
    doing: str,
    fields: list[Field],
    finish: Finish,
    *,
    fill: Callable[[list[str]], list[str]] | None = None,
    button: tuple[Callable[[object], bool], Prefill] | None = None,
) -> ConversationHandler[Any]:
    """The form's conversation; its states are the index of the field being asked.
    `fill` completes a one-line form's parts (an optional part left out); `button` is a
    press (its pattern, and what it answers) that opens the form part way through."""
    key = f"guided:{command}"

    @managers_only(doing)
    async def entry(update: Update, context: CallsheetContext) -> int:
        message = update.message
        assert message is not None
        person = await current_person(update, context)
        assert person is not None
        text = (message.text or "").partition(" ")[2].strip()
        if not text:
            user_data(context)[key] = []
            await ask(update, context, 0)
            return 0
        parts = [p.strip() for p in text.split("|")]
        if fill is not None:
            parts = fill(parts)
        if len(parts) != len(fields):
            await reply(
                update,
                context,
                "payments/form_parts",
                command=command,
                count=len(fields),
                example=example(command),
            )
            return ConversationHandler.END
        # A refusal here reaches the error handler; no form is open yet.
        for field, part in zip(fields, parts, strict=True):
            await field.check(part, context)
        await finish(update, context, person, parts)
        return ConversationHandler.END

    async def ask(
        update: Update, context: CallsheetContext, index: int, error: Exception | None = None
    ) -> None:
        await reply(
            update,
            context,
            "payments/form_step",
            cancel_markup(),
            error=error,
            prompt=fields[index].prompt,
        )

    @managers_only(doing)
    async def pressed(update: Update, context: CallsheetContext) -> int:
        assert button is not None and update.callback_query is not None
        values = await button[1](update, context)
        if values is None:
            return ConversationHandler.END
        await update.callback_query.answer()
        user_data(context)[key] = values
        await ask(update, context, len(values))
        return len(values)

    def step(index: int) -> Step:
        async def answer(update: Update, context: CallsheetContext) -> int:
            assert update.message is not None
            text = (update.message.text or "").strip()
            try:
                await fields[index].check(text, context)
            except CallsheetError as exc:
                await ask(update, context, index, exc)
                return index
            values: list[str] = user_data(context).setdefault(key, [])
            values.append(text)
            if index + 1 < len(fields):
                await ask(update, context, index + 1)
                return index + 1
            person = await current_person(update, context)
            assert person is not None
            user_data(context).pop(key, None)
            try:
                await finish(update, context, person, values)
            except CallsheetError as exc:
                await tell_refusal(update, exc)  # and the form ends
            return ConversationHandler.END

        return answer

    async def cancel(update: Update, context: CallsheetContext) -> int:
        user_data(context).pop(key, None)
        if update.callback_query is not None:
            await update.callback_query.answer("Cancelled")
            await update.callback_query.edit_message_text(
                render(context, "payments/cancelled", nothing="saved")
            )
        elif update.message is not None:
            await reply(update, context, "payments/cancelled", nothing="saved")
        return ConversationHandler.END

    text_only = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The Cancel button is on the latest prompt of this user's own conversation.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        entry_points: list[Any] = [CommandHandler(command, entry)]
        if button is not None:
            entry_points.append(CallbackQueryHandler(pressed, pattern=button[0]))
        return ConversationHandler(
            entry_points=entry_points,
            states={i: [MessageHandler(text_only, step(i))] for i in range(len(fields))},
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=CancelRequest.matches),
            ],
            name=f"{command}-conversation",
        )
