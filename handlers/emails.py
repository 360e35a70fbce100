"""/emails failed, /emails unreachable, /history and the Resend button (managers only)."""

from __future__ import annotations

from enum import IntEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.shared import args_text, managers_only, reply
from models import Channel, OutboxStatus
from services.buttons import in_area
from services.buttons.emails import AREA, OutboxList, Resend, ShowHistory, ShowList
from services.errors import CallsheetError
from services.ids import parse_id
from services.outbox import Delivery

MANAGER_COMMANDS.extend(
    [
        Command("emails", "Failed emails and unreachable chats, with Resend", "/emails failed"),
        Command("history", "What was sent to a person, when and how", "/history 12"),
    ]
)
BUTTONS = "see or resend messages"


class HistoryState(IntEnum):
    WHO = 0  # waiting for the person's number


def _resend_buttons(items: list[Delivery]) -> InlineKeyboardMarkup | None:
    buttons = [
        InlineKeyboardButton(f"Resend #{i.id}", callback_data=Resend(i.id).pack())
        for i in items
        if i.status is OutboxStatus.FAILED
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[n : n + 2] for n in range(0, len(buttons), 2)])


@managers_only("see failed emails and unreachable chats")
async def emails(update: Update, context: CallsheetContext) -> None:
    what = " ".join(args_text(update).split()).lower()
    if what == OutboxList.FAILED:
        await _show_failed(update, context)
    elif what == OutboxList.UNREACHABLE:
        await _show_unreachable(update, context)
    elif not what:
        lists = [
            InlineKeyboardButton("Failed emails", callback_data=ShowList(OutboxList.FAILED).pack()),
            InlineKeyboardButton(
                "Unreachable chats", callback_data=ShowList(OutboxList.UNREACHABLE).pack()
            ),
        ]
        await reply(update, context, "emails/which_list", InlineKeyboardMarkup([lists]))
    else:
        await reply(update, context, "emails/unknown_list", what=what[:40])


async def _show_failed(update: Update, context: CallsheetContext) -> None:
    items = await context.services.deliveries.failed_emails(limit=10)
    await reply(update, context, "emails/failed", _resend_buttons(items), items=items)


async def _show_unreachable(update: Update, context: CallsheetContext) -> None:
    found = await context.services.deliveries.unreachable(limit=10)
    markup = _resend_buttons(found.failed_chats)
    await reply(update, context, "emails/unreachable", markup, found=found)


@managers_only(BUTTONS)
async def show_list(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = ShowList.parse(query.data)
    assert press is not None
    await query.answer()
    if press.which is OutboxList.FAILED:
        await _show_failed(update, context)
    else:
        await _show_unreachable(update, context)


@managers_only(BUTTONS)
async def show_history(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = ShowHistory.parse(query.data)
    assert press is not None
    await query.answer()
    await _show_history(update, context, str(press.person_id))


@managers_only(BUTTONS)
async def resend(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = Resend.parse(query.data)
    assert press is not None
    item = await context.services.deliveries.resend(context.person, press.outbox_id)
    where = item.to if item.channel is Channel.EMAIL else f"{item.person_name} in Telegram"
    await query.answer(f"⏳ Message #{item.id} is queued again for {where}."[:200])


@managers_only(BUTTONS)
async def stale(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer("This button is not valid any more.", show_alert=True)


@managers_only("see what was sent to people")
async def history(update: Update, context: CallsheetContext) -> int:
    typed = " ".join(args_text(update).split())
    if not typed:
        await reply(update, context, "emails/history_who")
        return HistoryState.WHO
    await _show_history(update, context, typed)
    return ConversationHandler.END


async def history_who(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None and update.message.text is not None
    shown = await _show_history(update, context, update.message.text)
    return ConversationHandler.END if shown else HistoryState.WHO


async def _show_history(update: Update, context: CallsheetContext, typed: str) -> bool:
    number = parse_id(typed)
    if number is None:
        await reply(update, context, "emails/not_a_number", typed=typed.strip()[:40])
        return False
    service = context.services.deliveries
    try:
        items = await service.history_for(number)
    except CallsheetError as exc:  # the question stays open: they may type another number
        await reply(update, context, "emails/history_refused", error=str(exc))
        return False
    who = await service.person(number)
    assert who is not None
    shown = items[:15]
    await reply(update, context, "emails/history", _resend_buttons(shown), who=who, items=shown)
    return True


async def cancel(update: Update, context: CallsheetContext) -> int:
    await reply(update, context, "emails/cancelled")
    return ConversationHandler.END


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("emails", emails))
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("history", history)],
            states={
                HistoryState.WHO: [MessageHandler(filters.TEXT & ~filters.COMMAND, history_who)]
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="history",
        )
    )
    application.add_handler(CallbackQueryHandler(show_list, pattern=ShowList.matches))
    application.add_handler(CallbackQueryHandler(show_history, pattern=ShowHistory.matches))
    application.add_handler(CallbackQueryHandler(resend, pattern=Resend.matches))
    application.add_handler(CallbackQueryHandler(stale, pattern=in_area(AREA)))
