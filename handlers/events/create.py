"""/newevent: the whole event in one line, or a guided form one question at a time."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import CANCEL_BUTTON, SKIP_AND_CANCEL, button, ends_next_day
from handlers.shared import args_text, chat_id, managers_only, reply, tell_refusal
from models import Event
from services.buttons.events import AssignCrew, OpenCard, SkipStep, StopForm
from services.errors import CallsheetError
from services.events import INLINE_FORMAT, EventDraft

NOTHING_SAVED = "Nothing was saved."

Step = Callable[[Update, CallsheetContext], Coroutine[Any, Any, int]]
Apply = Callable[[CallsheetContext, EventDraft, str], None]


class NewEvent(IntEnum):
    TITLE = 1
    START = 2
    END = 3
    VENUE = 4
    CALL = 5
    NOTES = 6
    TARGET = 7


@managers_only()
async def newevent(update: Update, context: CallsheetContext) -> int:
    assert context.person is not None and context.user_data is not None
    inline = args_text(update)
    service = context.services.events
    if inline:
        try:
            draft = service.parse_inline(inline)
            event = await service.create(draft, actor=context.person, chat_id=chat_id(update))
        except CallsheetError as exc:
            await tell_refusal(update, exc, after=NOTHING_SAVED)
            return ConversationHandler.END
        await created(update, context, event)
        return ConversationHandler.END
    context.user_data["draft"] = EventDraft()
    await reply(update, context, "events/new", CANCEL_BUTTON, inline_format=INLINE_FORMAT)
    return NewEvent.TITLE


async def created(update: Update, context: CallsheetContext, event: Event) -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                button("Assign crew", AssignCrew(event.id)),
                button("Open the event", OpenCard(event.id)),
            ]
        ]
    )
    await reply(
        update,
        context,
        "events/created",
        markup,
        event=event,
        next_day=ends_next_day(context, event),
        needs=await context.services.events.needs_of(event),
    )


def step(state: NewEvent, apply: Apply, question: str | None, next_state: NewEvent | None) -> Step:
    """One answer of the form: checked, kept in the draft, then the next question (`question`
    names its template); the last answer creates the event."""

    async def handle(update: Update, context: CallsheetContext) -> int:
        assert context.user_data is not None
        draft: EventDraft | None = context.user_data.get("draft")
        if draft is None:
            return ConversationHandler.END
        if update.callback_query is not None:
            await update.callback_query.answer()
            text = "-"
        else:
            assert update.message is not None
            text = update.message.text or ""
        try:
            apply(context, draft, text)
        except CallsheetError as exc:
            await reply(update, context, "events/try_again", CANCEL_BUTTON, error=exc)
            return state
        if next_state is None or question is None:
            context.user_data.pop("draft", None)
            assert context.person is not None
            try:
                event = await context.services.events.create(
                    draft, actor=context.person, chat_id=chat_id(update)
                )
            except CallsheetError as exc:  # demoted or deactivated while the form was open
                await tell_refusal(update, exc, after=NOTHING_SAVED)
                return ConversationHandler.END
            await created(update, context, event)
            return ConversationHandler.END
        skippable = next_state in (NewEvent.CALL, NewEvent.NOTES, NewEvent.TARGET)
        await reply(update, context, question, SKIP_AND_CANCEL if skippable else CANCEL_BUTTON)
        return next_state

    return handle


def _title(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.title = c.services.events.clean_title(t)


def _start(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.starts_at = c.services.events.parse_start(t)


def _end(c: CallsheetContext, d: EventDraft, t: str) -> None:
    assert d.starts_at is not None
    d.ends_at = c.services.events.parse_end(t, d.starts_at)


def _venue(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.venue = c.services.events.clean_venue(t)


def _call(c: CallsheetContext, d: EventDraft, t: str) -> None:
    assert d.starts_at is not None
    d.call_at = c.services.events.parse_call(t, d.starts_at)


def _notes(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.notes = c.services.events.clean_notes(t)


def _target(c: CallsheetContext, d: EventDraft, t: str) -> None:
    needs = c.services.events.parse_needs(t)
    d.crew_target, d.needs = needs.total, needs.roles


async def stop(update: Update, context: CallsheetContext) -> int:
    """Cancel (the button or /cancel) in any of the event forms."""
    if context.user_data is not None:
        context.user_data.pop("draft", None)
        context.user_data.pop("typed", None)
    if update.callback_query is not None:
        await update.callback_query.answer("Cancelled")
    await reply(update, context, "events/form_cancelled")
    return ConversationHandler.END


def cancel_handlers() -> list[Any]:
    return [CommandHandler("cancel", stop), CallbackQueryHandler(stop, pattern=StopForm.matches)]


def register(application: CallsheetApplication) -> None:
    text = filters.TEXT & ~filters.COMMAND
    # Each state: (what it keeps, the next question's template, the next state).
    form: list[tuple[NewEvent, Apply, str | None, NewEvent | None]] = [
        (NewEvent.TITLE, _title, "events/ask_start", NewEvent.START),
        (NewEvent.START, _start, "events/ask_end", NewEvent.END),
        (NewEvent.END, _end, "events/ask_venue", NewEvent.VENUE),
        (NewEvent.VENUE, _venue, "events/ask_call", NewEvent.CALL),
        (NewEvent.CALL, _call, "events/ask_notes", NewEvent.NOTES),
        (NewEvent.NOTES, _notes, "events/ask_crew", NewEvent.TARGET),
        (NewEvent.TARGET, _target, None, None),
    ]
    states: dict[object, list[Any]] = {}
    for state, apply, question, next_state in form:
        answer = step(state, apply, question, next_state)
        states[state] = [MessageHandler(text, answer)]
        if state in (NewEvent.CALL, NewEvent.NOTES, NewEvent.TARGET):  # asked with a Skip
            states[state].append(CallbackQueryHandler(answer, pattern=SkipStep.matches))
    # PTB warns that callback buttons in a per-chat conversation are not tracked per
    # message; that is what we want (Skip/Cancel belong to the conversation, not a message).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)
        new_event = ConversationHandler(
            entry_points=[CommandHandler("newevent", newevent)],
            states=states,
            fallbacks=cancel_handlers(),
            name="newevent",
        )
    application.add_handler(new_event)
