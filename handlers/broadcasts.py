"""/broadcast: a manager previews a message to an audience, then Send or Cancel. The preview
message becomes the live summary (services/broadcasts/_summary.py keeps it up to date)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.events._common import button
from handlers.shared import args_text, chat_id, managers_only, render, reply
from services.broadcasts import BROADCAST_FORMAT, BroadcastError
from services.buttons.availability import CancelBroadcast, SendBroadcast

MANAGER_COMMANDS.append(
    Command(
        "broadcast",
        "Message many crew at once: all, a role, event 12, free 24/12",
        "/broadcast rigger | Load-in moved to 2pm",
    )
)


@managers_only("send broadcasts")
async def broadcast_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    try:
        preview = await context.services.broadcasts.preview(context.person, args_text(update))
    except BroadcastError as exc:
        await reply(update, context, "assignments/refused", error=exc, usage=BROADCAST_FORMAT)
        return
    broadcast_id = preview.broadcast.id
    markup = InlineKeyboardMarkup(
        [
            [
                button("Send", SendBroadcast(broadcast_id)),
                button("Cancel", CancelBroadcast(broadcast_id)),
            ]
        ]
    )
    await reply(update, context, "broadcasts/preview", markup, preview=preview)


@managers_only("send broadcasts")
async def send_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = SendBroadcast.parse(query.data)
    assert press is not None
    message = query.message
    broadcast = await context.services.broadcasts.send(
        context.person,
        press.broadcast_id,
        chat_id=chat_id(update),
        message_id=message.message_id if isinstance(message, Message) else None,
    )
    await query.answer("Sending")
    if isinstance(message, Message):
        text = render(
            context, "broadcasts/sending", broadcast=broadcast, total=len(broadcast.recipients)
        )
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=None)


@managers_only("send broadcasts")
async def cancel_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = CancelBroadcast.parse(query.data)
    assert press is not None
    await context.services.broadcasts.cancel(context.person, press.broadcast_id)
    await query.answer("Cancelled")
    if isinstance(query.message, Message):
        text = render(context, "broadcasts/cancelled")
        await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=None)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("broadcast", broadcast_command))
    application.add_handler(CallbackQueryHandler(send_pressed, pattern=SendBroadcast.matches))
    application.add_handler(CallbackQueryHandler(cancel_pressed, pattern=CancelBroadcast.matches))
