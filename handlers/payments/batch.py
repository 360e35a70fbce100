"""The event card's Request payment: pick confirmed crew, one amount and purpose, confirm;
and the live summary's Resend failed and Send anyway.

The pushes and the live summary are the batch service's; this only holds the manager's
choices until Send (in memory, like every half-finished conversation)."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetContext
from handlers.common import current_person
from handlers.payments._common import PAYMENTS_OFF, user_data
from handlers.shared import managers_only, plural, render, reply, tell_refusal
from models import Person
from services.batches import (
    BatchDraft,
    BatchService,
    Candidate,
    Details,
    details,
    parse_details,
)
from services.buttons.payments import (
    PickDone,
    RequestForEvent,
    ResendFailed,
    SendAnyway,
    SendBatch,
    StopBatch,
    TogglePerson,
)
from services.errors import CallsheetError, require_manager

KEY = "batch"
MAX_TOGGLES = 90  # Telegram allows 100 buttons on a message
DOING = "ask for payments"
END = ConversationHandler.END


class Step(IntEnum):
    PICK = 30
    DETAILS = 31
    PURPOSE = 32
    CONFIRM = 33


@dataclass
class Choice:
    event_id: int
    title: str
    candidates: list[Candidate]
    picked: set[int] = field(default_factory=set)
    amount: int | None = None
    draft: BatchDraft | None = None  # once the amount and purpose are checked

    @property
    def payable(self) -> list[Candidate]:
        return [c for c in self.candidates if c.problem is None]


def _choice(context: CallsheetContext) -> Choice | None:
    found = user_data(context).get(KEY)
    return found if isinstance(found, Choice) else None


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _cancel() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button("Cancel", StopBatch().pack())]])


async def _manager(update: Update, context: CallsheetContext) -> Person | None:
    """The sender while they are still a manager; otherwise they are told, and the form ends."""
    try:
        return require_manager(await current_person(update, context), DOING)
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return None


def _query(update: Update) -> CallbackQuery:
    assert update.callback_query is not None
    return update.callback_query


# --- picking ---------------------------------------------------------------------------------


def pick_view(context: CallsheetContext, choice: Choice) -> tuple[str, InlineKeyboardMarkup]:
    payable = choice.payable
    rows = []
    for c in payable[:MAX_TOGGLES]:
        ticked = c.person.id in choice.picked
        label = f"✅ {c.person.name}" if ticked else f"{c.person.name} · left out"
        rows.append([_button(label[:60], TogglePerson(c.person.id).pack())])
    rows.append(
        [
            _button(f"Done ({len(choice.picked)})", PickDone().pack()),
            _button("Cancel", StopBatch().pack()),
        ]
    )
    text = render(
        context,
        "payments/batch_pick",
        choice=choice,
        blocked=[c for c in choice.candidates if c.problem is not None],
        hidden=max(0, len(payable) - MAX_TOGGLES),
    )
    return text, InlineKeyboardMarkup(rows)


@managers_only(DOING)
async def begin(update: Update, context: CallsheetContext) -> int:
    query = _query(update)
    actor = await current_person(update, context)
    assert actor is not None
    service = context.services.batches
    if service is None:
        await query.answer(PAYMENTS_OFF, show_alert=True)
        return END
    press = RequestForEvent.parse(query.data)
    assert press is not None
    try:
        event, candidates = await service.crew(actor, press.event_id)
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return END
    await query.answer()
    choice = Choice(event.id, event.title, candidates)
    if not choice.payable:
        reason = "nobody has confirmed yet" if not candidates else "none of them can be asked"
        await reply(update, context, "payments/batch_nobody", event=event, reason=reason)
        return END
    choice.picked = {c.person.id for c in choice.payable}
    user_data(context)[KEY] = choice
    text, markup = pick_view(context, choice)
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, reply_markup=markup)
    return Step.PICK


async def toggle(update: Update, context: CallsheetContext) -> int:
    query = _query(update)
    choice = _choice(context)
    if choice is None or await _manager(update, context) is None:
        return END
    press = TogglePerson.parse(query.data)
    assert press is not None
    if press.person_id not in {c.person.id for c in choice.payable}:
        await query.answer("That person is not on this list.", show_alert=True)
        return Step.PICK
    choice.picked ^= {press.person_id}
    await query.answer()
    text, markup = pick_view(context, choice)
    await query.edit_message_text(text, reply_markup=markup)
    return Step.PICK


async def done(update: Update, context: CallsheetContext) -> int:
    query = _query(update)
    choice = _choice(context)
    if choice is None or await _manager(update, context) is None:
        return END
    if not choice.picked:
        await query.answer("Nobody is ticked. Tick at least one person, or Cancel.", True)
        return Step.PICK
    await query.answer()
    names = [c.person.name for c in choice.payable if c.person.id in choice.picked]
    await query.edit_message_text(
        render(context, "payments/batch_details", choice=choice, names=names),
        reply_markup=_cancel(),
    )
    return Step.DETAILS


# --- amount and purpose ------------------------------------------------------------------------


async def typed_details(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    choice = _choice(context)
    if choice is None:
        return END
    try:
        parsed = parse_details(update.message.text or "")
    except CallsheetError as exc:
        await reply(update, context, "payments/batch_ask_details", _cancel(), error=exc)
        return Step.DETAILS
    if isinstance(parsed, int):
        choice.amount = parsed
        await reply(update, context, "payments/batch_ask_purpose", _cancel(), error=None)
        return Step.PURPOSE
    return await _confirm(update, context, choice, parsed)


async def typed_purpose(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    choice = _choice(context)
    if choice is None or choice.amount is None:
        return END
    try:
        chosen = details(choice.amount, update.message.text or "")
    except CallsheetError as exc:
        await reply(update, context, "payments/batch_ask_purpose", _cancel(), error=exc)
        return Step.PURPOSE
    return await _confirm(update, context, choice, chosen)


async def _confirm(
    update: Update, context: CallsheetContext, choice: Choice, chosen: Details
) -> int:
    actor = await _manager(update, context)
    service = context.services.batches
    if actor is None or service is None:
        user_data(context).pop(KEY, None)
        return END
    try:
        draft = await service.prepare(actor, choice.event_id, sorted(choice.picked), chosen)
    except CallsheetError as exc:
        user_data(context).pop(KEY, None)
        await tell_refusal(update, exc, after="Nothing was sent.")
        return END
    choice.draft = draft
    markup = InlineKeyboardMarkup(
        [[_button("Send", SendBatch().pack()), _button("Cancel", StopBatch().pack())]]
    )
    await reply(update, context, "payments/batch_confirm", markup, draft=draft)
    return Step.CONFIRM


async def send(update: Update, context: CallsheetContext) -> int:
    query = _query(update)
    actor = await _manager(update, context)
    service = context.services.batches
    choice = user_data(context).pop(KEY, None)  # taken at once: a second Send finds nothing
    if actor is None or service is None:
        return END
    if not isinstance(choice, Choice) or choice.draft is None:
        await query.answer("This request has expired; open the event again.", show_alert=True)
        return END
    message = update.effective_message
    chat = update.effective_chat
    try:
        await service.start(
            actor,
            choice.draft,
            chat_id=chat.id if chat else None,
            message_id=message.message_id if message else None,
        )
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return END
    # The summary replaces this message through the outbox as soon as it is written.
    await query.answer(f"Asking {plural(len(choice.draft.people), 'person', 'people')}")
    return END


async def stop(update: Update, context: CallsheetContext) -> int:
    user_data(context).pop(KEY, None)
    if update.callback_query is not None:
        await update.callback_query.answer("Cancelled")
        await update.callback_query.edit_message_text(
            render(context, "payments/cancelled", nothing="sent")
        )
    elif update.effective_message is not None:
        await reply(update, context, "payments/cancelled", nothing="sent")
    return END


# --- the summary's buttons -----------------------------------------------------------------


@managers_only(DOING)
async def resend_failed(update: Update, context: CallsheetContext) -> None:
    press = ResendFailed.parse(_query(update).data)
    assert press is not None
    await _queue_again(
        update,
        context,
        BatchService.resend_failed,
        press.batch_id,
        nobody="Nothing to resend: no one's last prompt failed.",
        done="Sending again to {n}",
    )


@managers_only(DOING)
async def send_anyway(update: Update, context: CallsheetContext) -> None:
    press = SendAnyway.parse(_query(update).data)
    assert press is not None
    await _queue_again(
        update,
        context,
        BatchService.send_anyway,
        press.batch_id,
        nobody="Nobody left to ask: they were all sent already.",
        done="Asking {n} anyway",
    )


async def _queue_again(
    update: Update,
    context: CallsheetContext,
    action: Callable[[BatchService, Person, int], Awaitable[int]],
    batch_id: int,
    *,
    nobody: str,
    done: str,
) -> None:
    """A summary button that asks some of a request's people again; the answer says how many."""
    query = _query(update)
    actor = await current_person(update, context)
    assert actor is not None
    service = context.services.batches
    if service is None:
        await query.answer(PAYMENTS_OFF, show_alert=True)
        return
    queued = await action(service, actor, batch_id)
    if not queued:
        await query.answer(nobody, show_alert=True)
        return
    await query.answer(done.format(n=plural(queued, "person", "people")))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The buttons belong to this user's conversation, not to one message.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        conversation: ConversationHandler[Any] = ConversationHandler(
            entry_points=[CallbackQueryHandler(begin, pattern=RequestForEvent.matches)],
            states={
                Step.PICK: [
                    CallbackQueryHandler(toggle, pattern=TogglePerson.matches),
                    CallbackQueryHandler(done, pattern=PickDone.matches),
                ],
                Step.DETAILS: [MessageHandler(text, typed_details)],
                Step.PURPOSE: [MessageHandler(text, typed_purpose)],
                Step.CONFIRM: [CallbackQueryHandler(send, pattern=SendBatch.matches)],
            },
            fallbacks=[
                CommandHandler("cancel", stop),
                CallbackQueryHandler(stop, pattern=StopBatch.matches),
                # A new Request payment press starts over.
                CallbackQueryHandler(begin, pattern=RequestForEvent.matches),
            ],
            name="payment-batch",
            allow_reentry=True,
        )
    application.add_handler(conversation)
    application.add_handler(CallbackQueryHandler(resend_failed, pattern=ResendFailed.matches))
    application.add_handler(CallbackQueryHandler(send_anyway, pattern=SendAnyway.matches))
