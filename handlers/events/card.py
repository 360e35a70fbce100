"""/event: an event's card, its buttons, and the two that close it (Complete, Cancel event)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import escape
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, WebAppInfo
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import board_url, button, ends_next_day, event_id_from
from handlers.events.views import events_list
from handlers.shared import args_text, chat_id, managers_only, render, reply
from models import Assignment, AssignmentStatus, EventDocument, EventStatus
from services.buttons.events import (
    AssignCrew,
    AttachTo,
    AutoBackups,
    BriefCrew,
    CancelConfirmed,
    CancelEvent,
    CompleteEvent,
    EditEvent,
    OpenCard,
    RemindCrew,
    ShowHistory,
    Turn,
)
from services.buttons.payments import RequestForEvent
from services.buttons.payroll import PayCrew
from services.errors import CallsheetError
from services.events import EventCard

ROSTER_BUDGET = 3_300  # characters of card before the rest of a group is only counted

GROUPS = {
    AssignmentStatus.CONFIRMED: "✅ Confirmed",
    AssignmentStatus.INVITED: "⏳ Invited, no answer yet",
    AssignmentStatus.DECLINED: "❌ Declined",
    AssignmentStatus.COMPLETED: "✅ Worked",
    AssignmentStatus.CANCELLED: "Cancelled",
}


@dataclass
class Group:
    status: AssignmentStatus
    label: str
    shown: list[Assignment] = field(default_factory=list)
    more: int = 0  # left out: Telegram takes 4,096 characters, a big crew is counted


def _line_length(card: EventCard, status: AssignmentStatus, a: Assignment) -> int:
    """A roster line as the card sends it (card.j2), in characters of HTML."""
    extra = 0
    if status is AssignmentStatus.DECLINED and a.decline_reason:
        extra = len(" — “”") + len(escape(a.decline_reason))
    elif card.briefing is not None and status is AssignmentStatus.CONFIRMED:
        extra = len(" — briefing read ✅" if a.briefing_read_at else " — briefing not read ⏳")
    return len("•  ()") + len(escape(a.person.name)) + len(escape(a.role)) + extra


def render_card(
    card: EventCard,
    context: CallsheetContext,
    *,
    payments: bool = False,
    documents: Sequence[EventDocument] = (),
    board: str | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    ev = card.event
    values = {
        "card": card,
        "ev": ev,
        "next_day": ends_next_day(context, ev),
        "documents": documents,
    }
    size = len(render(context, "events/card", groups=[], briefing=None, **values)) + 1
    groups: list[Group] = []
    for status, label in GROUPS.items():
        people = card.by_status.get(status, [])
        if not people:
            continue
        group = Group(status, label)
        groups.append(group)
        size += len(f"\n<b>{label}</b>") + 1
        for index, a in enumerate(people):
            length = _line_length(card, status, a)
            if size + length > ROSTER_BUDGET:
                group.more = len(people) - index
                break
            size += length + 1
            group.shown.append(a)
    confirmed = card.by_status.get(AssignmentStatus.CONFIRMED, [])
    text = render(
        context,
        "events/card",
        groups=groups,
        briefing=card.briefing,
        read=sum(1 for a in confirmed if a.briefing_read_at),
        confirmed=len(confirmed),
        **values,
    )
    history = button("History", ShowHistory(ev.id))
    # Pay crew (handlers/payroll) once call time has passed: the crew have turned up.
    pay = [button("Pay crew", PayCrew(ev.id))] if ev.call_at <= context.services.clock.now() else []
    # The Mini App (handlers/web/board.py): the week, money, charts.
    page = f"{board}?view=/app/view/event/{ev.id}" if board else ""
    open_board = [[InlineKeyboardButton("Open board", web_app=WebAppInfo(page))]] if board else []
    if ev.status is not EventStatus.SCHEDULED:
        return text, InlineKeyboardMarkup(
            [[*pay, history] if ev.status is EventStatus.COMPLETED else [history], *open_board]
        )
    last: list[InlineKeyboardButton] = [*pay, history]
    if payments:  # the confirmed crew, one amount each (handlers/payments/batch.py)
        last.insert(0, button("Request payment", RequestForEvent(ev.id)))
    turn = Turn.OFF if ev.auto_backups else Turn.ON
    backups = f"Auto backups: {'on' if ev.auto_backups else 'off'}"
    rows = [
        [button("Assign crew", AssignCrew(ev.id)), button("Remind", RemindCrew(ev.id))],
        [
            button("Brief", BriefCrew(ev.id)),
            button("Attach", AttachTo(ev.id)),
            button("Edit", EditEvent(ev.id)),
        ],
        [button("Complete", CompleteEvent(ev.id)), button("Cancel event", CancelEvent(ev.id))],
        [button(backups, AutoBackups(ev.id, turn))],
        last,
        *open_board,
    ]
    return text, InlineKeyboardMarkup(rows)


async def show_card(update: Update, context: CallsheetContext, event_id: int) -> None:
    assert context.person is not None and update.effective_message is not None
    try:
        card = await context.services.events.card(event_id, actor=context.person)
    except CallsheetError as exc:  # a pressed button is answered already: say it in the chat
        await reply(update, context, "events/refused", error=exc)
        return
    documents = await context.services.eventdocs.of_event(event_id)
    text, markup = render_card(
        card,
        context,
        payments=context.services.batches is not None,
        documents=documents,
        board=board_url(update, context),
    )
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


@managers_only()
async def event_command(update: Update, context: CallsheetContext) -> None:
    text = args_text(update)
    if not text:
        await events_list(update, context)
        return
    event_id = event_id_from(text)
    if event_id is None:
        await reply(update, context, "events/not_an_event", text=text, command="event")
        return
    await show_card(update, context, event_id)


@managers_only()
async def card_button(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    press = OpenCard.parse(update.callback_query.data)
    assert press is not None
    await update.callback_query.answer()
    await show_card(update, context, press.event_id)


@managers_only()
async def backups_button(update: Update, context: CallsheetContext) -> None:
    """Auto backups on or off; the card is drawn again where it was pressed."""
    query = update.callback_query
    assert query is not None and context.person is not None
    press = AutoBackups.parse(query.data)
    assert press is not None
    on = press.turn is Turn.ON
    await context.services.events.set_auto_backups(
        press.event_id, on, actor=context.person, chat_id=chat_id(update)
    )
    await query.answer("Auto backups on" if on else "Auto backups off")
    card = await context.services.events.card(press.event_id, actor=context.person)
    text, markup = render_card(
        card,
        context,
        payments=context.services.batches is not None,
        board=board_url(update, context),
    )
    await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


@managers_only()
async def complete_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = CompleteEvent.parse(query.data)
    assert press is not None
    done = await context.services.events.complete(
        press.event_id, actor=context.person, chat_id=chat_id(update)
    )
    await query.answer("Completed")
    await reply(update, context, "events/completed", done=done)


@managers_only()
async def cancel_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = CancelEvent.parse(query.data)
    assert press is not None
    await query.answer()
    markup = InlineKeyboardMarkup(
        [
            [
                button("Yes, cancel it", CancelConfirmed(press.event_id)),
                button("No, keep it", OpenCard(press.event_id)),
            ]
        ]
    )
    await reply(update, context, "events/cancel_ask", markup, event_id=press.event_id)


@managers_only()
async def cancel_confirmed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = CancelConfirmed.parse(query.data)
    assert press is not None
    told = await context.services.events.cancel(
        press.event_id, actor=context.person, chat_id=chat_id(update)
    )
    await query.answer("Event cancelled")
    await query.edit_message_text(
        render(context, "events/cancelled", told=told), parse_mode=ParseMode.HTML
    )


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("event", event_command))
    application.add_handler(CallbackQueryHandler(card_button, pattern=OpenCard.matches))
    application.add_handler(CallbackQueryHandler(complete_button, pattern=CompleteEvent.matches))
    application.add_handler(CallbackQueryHandler(backups_button, pattern=AutoBackups.matches))
    application.add_handler(CallbackQueryHandler(cancel_button, pattern=CancelEvent.matches))
    application.add_handler(CallbackQueryHandler(cancel_confirmed, pattern=CancelConfirmed.matches))
