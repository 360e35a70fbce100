"""The event card's Request payment: pick confirmed crew, one amount and purpose, confirm.

The pushes and the live summary are the batch service's; this only holds the manager's
choices until Send (in memory, like every half-finished conversation)."""

from __future__ import annotations

import html
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
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
from models import Person
from services.batches import (
    BatchDraft,
    BatchError,
    BatchService,
    Candidate,
    Details,
    details,
    parse_details,
)
from services.errors import CallsheetError
from services.ids import parse_id
from services.money import format_kes


async def manager(update: Update, context: CallsheetContext) -> Person | None:
    """The sender if they are a manager; else told so. (Was borrowed from handlers/events.py,
    which now uses handlers.shared.managers_only; handlers/payments replaces this.)"""
    person = await current_person(update, context)
    if person is not None and person.is_manager:
        return person
    text = "Only managers can do that. Send /help to see what you can do."
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return None


KEY = "batch"
MAX_TOGGLES = 90  # Telegram allows 100 buttons on a message
PAYMENTS_OFF = (
    "M-Pesa payments are not set up on this bot yet. An admin must add the Daraja settings."
)
ASK_DETAILS = (
    "How much should each person pay, and what for? Send it like "
    "<code>1500 | Setup fee</code> (the purpose shows on their M-Pesa prompt)."
)
ASK_PURPOSE = "What is it for? (shown on their M-Pesa prompt, like Setup fee)"
CANCEL = InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="pay:bstop:0")]])


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
    draft: BatchDraft | None = None

    @property
    def payable(self) -> list[Candidate]:
        return [c for c in self.candidates if c.problem is None]


def e(text: object) -> str:
    return html.escape(str(text))


def _service(context: CallsheetContext) -> BatchService | None:
    return context.services.batches


def _choice(context: CallsheetContext) -> Choice | None:
    assert context.user_data is not None
    found = context.user_data.get(KEY)
    return found if isinstance(found, Choice) else None


# --- picking ---------------------------------------------------------------------------------


def pick_view(choice: Choice) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        f"<b>Request payment · #{choice.event_id} {e(choice.title)}</b>",
        "Who should pay? Everyone confirmed is ticked: tap a name to leave them out "
        "(or back in), then Done.",
    ]
    blocked = [c for c in choice.candidates if c.problem is not None]
    if blocked:
        lines.append("")
        lines.append("Cannot be asked:")
        lines += [f"❌ {e(c.person.name)} · {e(c.problem)}" for c in blocked[:20]]
        if len(blocked) > 20:
            lines.append(f"…and {len(blocked) - 20} more.")
    rows = []
    payable = choice.payable
    for c in payable[:MAX_TOGGLES]:
        ticked = c.person.id in choice.picked
        label = f"✅ {c.person.name}" if ticked else f"{c.person.name} · left out"
        rows.append([InlineKeyboardButton(label[:60], callback_data=f"pay:tog:{c.person.id}")])
    if len(payable) > MAX_TOGGLES:
        lines.append(f"\nThe {len(payable) - MAX_TOGGLES} not shown as buttons stay ticked.")
    rows.append(
        [
            InlineKeyboardButton(f"Done ({len(choice.picked)})", callback_data="pay:done:0"),
            InlineKeyboardButton("Cancel", callback_data="pay:bstop:0"),
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def begin(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    actor = await manager(update, context)
    if actor is None:
        return ConversationHandler.END
    service = _service(context)
    if service is None:
        await query.answer(PAYMENTS_OFF, show_alert=True)
        return ConversationHandler.END
    event_id = parse_id(query.data.rsplit(":", 1)[1])
    try:
        if event_id is None:
            raise BatchError("There is no such event. Send /events to see the list.")
        event, candidates = await service.crew(actor, event_id)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return ConversationHandler.END
    await query.answer()
    message = update.effective_message
    assert message is not None
    choice = Choice(event.id, event.title, candidates)
    if not choice.payable:
        reason = "nobody has confirmed yet" if not candidates else "none of them can be asked"
        await message.reply_text(
            f"❌ Nobody to ask on #{event.id} {e(event.title)}: {reason}.",
            parse_mode=ParseMode.HTML,
        )
        return ConversationHandler.END
    choice.picked = {c.person.id for c in choice.payable}
    context.user_data[KEY] = choice
    text, markup = pick_view(choice)
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    return Step.PICK


async def pick(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    choice = _choice(context)
    if choice is None or await manager(update, context) is None:
        return ConversationHandler.END
    _, action, ref = query.data.split(":", 2)
    if action == "tog":
        ids = {c.person.id for c in choice.payable}
        person_id = parse_id(ref)
        if person_id is None or person_id not in ids:
            await query.answer("That person is not on this list.", show_alert=True)
            return Step.PICK
        choice.picked ^= {person_id}
        await query.answer()
        text, markup = pick_view(choice)
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        return Step.PICK
    if not choice.picked:
        await query.answer("Nobody is ticked. Tick at least one person, or Cancel.", True)
        return Step.PICK
    await query.answer()
    names = [c.person.name for c in choice.payable if c.person.id in choice.picked]
    shown = ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
    await query.edit_message_text(
        f"<b>Request payment · #{choice.event_id} {e(choice.title)}</b>\n"
        f"{len(names)} {'person' if len(names) == 1 else 'people'}: {e(shown)}\n\n{ASK_DETAILS}",
        parse_mode=ParseMode.HTML,
        reply_markup=CANCEL,
    )
    return Step.DETAILS


# --- amount and purpose ------------------------------------------------------------------------


async def typed_details(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    choice = _choice(context)
    if choice is None:
        return ConversationHandler.END
    try:
        parsed = parse_details(update.message.text or "")
    except CallsheetError as exc:
        await update.message.reply_text(
            f"❌ {e(exc)}\n\n{ASK_DETAILS}", parse_mode=ParseMode.HTML, reply_markup=CANCEL
        )
        return Step.DETAILS
    if isinstance(parsed, int):
        choice.amount = parsed
        await update.message.reply_text(ASK_PURPOSE, reply_markup=CANCEL)
        return Step.PURPOSE
    return await _confirm(update, context, choice, parsed)


async def typed_purpose(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    choice = _choice(context)
    if choice is None or choice.amount is None:
        return ConversationHandler.END
    try:
        chosen = details(choice.amount, update.message.text or "")
    except CallsheetError as exc:
        await update.message.reply_text(f"❌ {e(exc)}\n\n{ASK_PURPOSE}", reply_markup=CANCEL)
        return Step.PURPOSE
    return await _confirm(update, context, choice, chosen)


async def _confirm(
    update: Update, context: CallsheetContext, choice: Choice, chosen: Details
) -> int:
    assert update.message is not None and context.user_data is not None
    actor = await manager(update, context)
    service = _service(context)
    if actor is None or service is None:
        context.user_data.pop(KEY, None)
        return ConversationHandler.END
    try:
        draft = await service.prepare(actor, choice.event_id, sorted(choice.picked), chosen)
    except CallsheetError as exc:
        context.user_data.pop(KEY, None)
        await update.message.reply_text(f"❌ {e(exc)}\n\nNothing was sent.")
        return ConversationHandler.END
    choice.draft = draft
    count = len(draft.people)
    lines = [
        f"Ask {count} {'person' if count == 1 else 'people'} for "
        f"<b>{format_kes(chosen.amount)}</b> each ({e(chosen.purpose)})?",
        f"Event #{draft.event.id} {e(draft.event.title)}. Each gets an M-Pesa prompt on their "
        f"phone showing “{e(chosen.reference)}”.",
    ]
    lines += [f"⏳ {e(w)}" for w in draft.warnings[:20]]
    await update.message.reply_text(
        "\n".join(lines),
        parse_mode=ParseMode.HTML,
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Send", callback_data="pay:bsend:0"),
                    InlineKeyboardButton("Cancel", callback_data="pay:bstop:0"),
                ]
            ]
        ),
    )
    return Step.CONFIRM


async def send(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    actor = await manager(update, context)
    service = _service(context)
    choice = context.user_data.pop(KEY, None)  # taken at once: a second Send finds nothing
    if actor is None or service is None:
        return ConversationHandler.END
    if not isinstance(choice, Choice) or choice.draft is None:
        await query.answer("This request has expired; open the event again.", show_alert=True)
        return ConversationHandler.END
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
        await query.answer(str(exc)[:200], show_alert=True)
        return ConversationHandler.END
    count = len(choice.draft.people)
    # The summary replaces this message through the outbox as soon as it is written.
    await query.answer(f"Asking {count} {'person' if count == 1 else 'people'}")
    return ConversationHandler.END


async def stop(update: Update, context: CallsheetContext) -> int:
    assert context.user_data is not None
    context.user_data.pop(KEY, None)
    if update.callback_query is not None:
        await update.callback_query.answer("Cancelled")
        await update.callback_query.edit_message_text("Cancelled. Nothing was sent.")
    elif update.effective_message is not None:
        await update.effective_message.reply_text("Cancelled. Nothing was sent.")
    return ConversationHandler.END


# --- the summary's button ------------------------------------------------------------------


async def resend_failed(update: Update, context: CallsheetContext) -> None:
    await _queue_again(
        update,
        context,
        lambda service: service.resend_failed,
        nobody="Nothing to resend: no one's last prompt failed.",
        done="Sending again to {n}",
    )


async def send_anyway(update: Update, context: CallsheetContext) -> None:
    await _queue_again(
        update,
        context,
        lambda service: service.send_anyway,
        nobody="Nobody left to ask: they were all sent already.",
        done="Asking {n} anyway",
    )


async def _queue_again(
    update: Update,
    context: CallsheetContext,
    action: Callable[[BatchService], Callable[[Person, int], Awaitable[int]]],
    *,
    nobody: str,
    done: str,
) -> None:
    """A summary button that asks some of a request's people again; the answer says how many."""
    query = update.callback_query
    assert query is not None and query.data is not None
    actor = await current_person(update, context)
    assert actor is not None
    service = _service(context)
    if service is None:
        await query.answer(PAYMENTS_OFF, show_alert=True)
        return
    batch_id = parse_id(query.data.rsplit(":", 1)[1])
    try:
        if batch_id is None:
            raise BatchError("That button is not valid.")
        queued = await action(service)(actor, batch_id)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    if not queued:
        await query.answer(nobody, show_alert=True)
        return
    await query.answer(done.format(n=f"{queued} {'person' if queued == 1 else 'people'}"))


def register(application: Application) -> None:  # type: ignore[type-arg]
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The buttons belong to this user's conversation, not to one message.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        conversation: ConversationHandler[Any] = ConversationHandler(
            entry_points=[CallbackQueryHandler(begin, pattern=r"^pay:event:\d+$")],
            states={
                Step.PICK: [CallbackQueryHandler(pick, pattern=r"^pay:(tog|done):")],
                Step.DETAILS: [MessageHandler(text, typed_details)],
                Step.PURPOSE: [MessageHandler(text, typed_purpose)],
                Step.CONFIRM: [CallbackQueryHandler(send, pattern=r"^pay:bsend:")],
            },
            fallbacks=[
                CommandHandler("cancel", stop),
                CallbackQueryHandler(stop, pattern=r"^pay:bstop:"),
                # A new Request payment press starts over.
                CallbackQueryHandler(begin, pattern=r"^pay:event:\d+$"),
            ],
            name="payment-batch",
            allow_reentry=True,
        )
    application.add_handler(conversation)
    application.add_handler(CallbackQueryHandler(resend_failed, pattern=r"^pay:bresend:"))
    application.add_handler(CallbackQueryHandler(send_anyway, pattern=r"^pay:banyway:"))
