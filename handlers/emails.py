"""/emails failed, /emails unreachable, /history and the Resend button (managers only)."""

from __future__ import annotations

import html
from enum import IntEnum

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

from bot.context import CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command, current_person
from models import Channel, OutboxStatus
from services.errors import CallsheetError
from services.ids import parse_id
from services.outbox import Delivery

MANAGERS_ONLY = "This command is for managers."
USAGE = (
    "Send <code>/emails failed</code> for emails that could not be sent, or "
    "<code>/emails unreachable</code> for people Telegram messages cannot reach."
)
STATUS = {
    OutboxStatus.PENDING: "⏳ waiting",
    OutboxStatus.SENDING: "⏳ sending",
    OutboxStatus.SENT: "✅ sent",
    OutboxStatus.FAILED: "❌ failed",
    OutboxStatus.SKIPPED: "❌ not sent",
}

MANAGER_COMMANDS.extend(
    [
        Command("emails", "Failed emails and unreachable chats, with Resend", "/emails failed"),
        Command("history", "What was sent to a person, when and how", "/history 12"),
    ]
)


class HistoryState(IntEnum):
    WHO = 0  # waiting for the person's number


def _kind(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def _line(item: Delivery, context: CallsheetContext, *, person: bool = True) -> str:
    channel = "email" if item.channel is Channel.EMAIL else "Telegram"
    head = f"<b>#{item.id}</b>"
    if person:
        head += f" · {html.escape(item.person_name)}"
    head += f" · {html.escape(item.to if item.channel is Channel.EMAIL else channel)}"
    lines = [head, f"{_kind(item.kind)}: {html.escape(item.what)}"]
    when = context.services.when(item.sent_at or item.created_at)
    state = f"{STATUS[item.status]} {when}"
    if item.status is OutboxStatus.FAILED:
        state += f" after {item.attempts} attempt{'s' if item.attempts != 1 else ''}"
    lines.append(state)
    if item.error and item.status is not OutboxStatus.SENT:
        lines.append(f"Reason: {html.escape(item.error[:200])}")
    return "\n".join(lines)


def _resend_buttons(items: list[Delivery]) -> InlineKeyboardMarkup | None:
    buttons = [
        InlineKeyboardButton(f"Resend #{i.id}", callback_data=f"out:resend:{i.id}")
        for i in items
        if i.status is OutboxStatus.FAILED
    ]
    if not buttons:
        return None
    return InlineKeyboardMarkup([buttons[n : n + 2] for n in range(0, len(buttons), 2)])


async def _manager(update: Update, context: CallsheetContext) -> bool:
    person = await current_person(update, context)
    if person is not None and person.is_manager:
        return True
    assert update.effective_message is not None
    await update.effective_message.reply_text(MANAGERS_ONLY)
    return False


async def emails(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    if not await _manager(update, context):
        return
    what = " ".join(context.args or []).strip().lower()
    if what == "failed":
        await _show_failed(update, context)
    elif what == "unreachable":
        await _show_unreachable(update, context)
    elif not what:
        await update.message.reply_text(
            "Which list?",
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("Failed emails", callback_data="out:list:failed"),
                        InlineKeyboardButton(
                            "Unreachable chats", callback_data="out:list:unreachable"
                        ),
                    ]
                ]
            ),
        )
    else:
        await update.message.reply_text(
            f"I don't know the list “{html.escape(what[:40])}”. {USAGE}", parse_mode=ParseMode.HTML
        )


async def _show_failed(update: Update, context: CallsheetContext) -> None:
    assert update.effective_message is not None
    items = await context.services.deliveries.failed_emails(limit=10)
    if not items:
        text = "✅ No failed emails."
    else:
        text = "❌ <b>Emails that could not be sent</b>\n\n" + "\n\n".join(
            _line(i, context) for i in items
        )
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=_resend_buttons(items)
    )


async def _show_unreachable(update: Update, context: CallsheetContext) -> None:
    assert update.effective_message is not None
    found = await context.services.deliveries.unreachable(limit=10)
    if not found.people and not found.failed_chats:
        text = "✅ Everyone is reachable in Telegram, and no chat message failed."
    else:
        parts = []
        if found.people:
            lines = ["❌ <b>Not reachable in Telegram</b>"]
            for p in found.people:
                assert p.chat_unreachable_at is not None
                fallback = f"email only: {html.escape(p.email)}" if p.email else "no email: call"
                lines.append(
                    f"#{p.id} {html.escape(p.name)} · {p.phone} · since "
                    f"{context.services.when(p.chat_unreachable_at)} · {fallback}"
                )
            parts.append("\n".join(lines))
        if found.failed_chats:
            parts.append(
                "❌ <b>Telegram messages that failed</b>\n\n"
                + "\n\n".join(_line(i, context) for i in found.failed_chats)
            )
        text = "\n\n".join(parts)
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=_resend_buttons(found.failed_chats)
    )


async def on_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await current_person(update, context)
    parts = query.data.split(":")
    if person is None or not person.is_manager:
        await query.answer("Only a manager can do this.", show_alert=True)
        return
    if parts[1:2] == ["list"] and len(parts) == 3 and parts[2] in ("failed", "unreachable"):
        await query.answer()
        if parts[2] == "failed":
            await _show_failed(update, context)
        else:
            await _show_unreachable(update, context)
        return
    ident = parse_id(parts[2]) if len(parts) == 3 else None
    if parts[1:2] == ["hist"] and ident is not None:
        await query.answer()
        await _show_history(update, context, parts[2])
        return
    if parts[1:2] != ["resend"] or ident is None:
        await query.answer("This button is not valid any more.", show_alert=True)
        return
    try:
        item = await context.services.deliveries.resend(person, ident)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    where = item.to if item.channel is Channel.EMAIL else f"{item.person_name} in Telegram"
    await query.answer(f"⏳ Message #{item.id} is queued again for {where}."[:200])


async def history(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    if not await _manager(update, context):
        return ConversationHandler.END
    if not context.args:
        await update.message.reply_text(
            "Whose history? Send the person's number (it shows in /crew), or /cancel."
        )
        return HistoryState.WHO
    await _show_history(update, context, " ".join(context.args))
    return ConversationHandler.END


async def history_who(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None and update.message.text is not None
    shown = await _show_history(update, context, update.message.text)
    return ConversationHandler.END if shown else HistoryState.WHO


async def _show_history(update: Update, context: CallsheetContext, typed: str) -> bool:
    assert update.effective_message is not None
    number = parse_id(typed)
    if number is None:
        await update.effective_message.reply_text(
            f"“{html.escape(typed.strip()[:40])}” is not a person's number. Send a number "
            "like 12 (it shows in /crew), or /cancel."
        )
        return False
    service = context.services.deliveries
    try:
        items = await service.history_for(number)
    except CallsheetError as exc:
        await update.effective_message.reply_text(html.escape(str(exc)))
        return False
    who = await service.person(number)
    assert who is not None
    title = f"<b>Messages to {html.escape(who.name)}</b> (#{who.id})"
    if who.chat_unreachable_at is not None:
        title += "\n❌ Not reachable in Telegram: " + ("email only" if who.email else "no email")
    if not items:
        text = f"{title}\n\nNothing was sent yet."
    else:
        text = f"{title}\n\n" + "\n\n".join(_line(i, context, person=False) for i in items[:15])
    await update.effective_message.reply_text(
        text, parse_mode=ParseMode.HTML, reply_markup=_resend_buttons(items[:15])
    )
    return True


async def cancel(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None
    await update.message.reply_text("Cancelled.")
    return ConversationHandler.END


def register(application: Application) -> None:  # type: ignore[type-arg]
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
    application.add_handler(CallbackQueryHandler(on_button, pattern=r"^out:"))
