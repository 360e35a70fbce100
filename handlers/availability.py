"""/off: crew and managers mark, list and remove their own days off."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import CREW_COMMANDS, Command
from handlers.events._common import button
from handlers.shared import args_text, chat_id, render, reply
from services.availability import OFF_FORMAT, AvailabilityError
from services.buttons.availability import RemoveDayOff

CREW_COMMANDS.append(Command("off", "My days off: /off 24/12 - 26/12 | family", OFF_FORMAT))


async def off_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    text = args_text(update)
    service = context.services.availability
    if not text:
        await update_list(update.effective_message, context, new=True)
        return
    try:
        off = await service.add(context.person, text, chat_id=chat_id(update))
    except AvailabilityError as exc:
        await reply(update, context, "assignments/refused", error=exc, usage=OFF_FORMAT)
        return
    await reply(update, context, "availability/added", off=off, span=service.span(off))


async def update_list(message: object, context: CallsheetContext, *, new: bool) -> None:
    """The person's days off with a Remove button each: a new reply, or the list edited."""
    assert context.person is not None and isinstance(message, Message)
    service = context.services.availability
    offs = await service.mine(context.person)
    rows = [[button(f"Remove {service.span(off)}"[:60], RemoveDayOff(off.id))] for off in offs[:20]]
    text = render(
        context,
        "availability/list",
        offs=[(off, service.span(off)) for off in offs],
        usage=OFF_FORMAT,
    )
    markup = InlineKeyboardMarkup(rows) if rows else None
    if new:
        await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    else:
        await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def remove_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = RemoveDayOff.parse(query.data)
    assert press is not None
    service = context.services.availability
    off = await service.remove(context.person, press.day_off_id, chat_id=chat_id(update))
    await query.answer(f"Removed: {service.span(off)}")
    await update_list(query.message, context, new=False)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("off", off_command))
    application.add_handler(CallbackQueryHandler(remove_pressed, pattern=RemoveDayOff.matches))
