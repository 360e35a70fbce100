"""/remind and the card's Remind button: confirmed crew reminded now."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import event_id_from, pick_event
from handlers.shared import args_text, chat_id, managers_only, reply
from services.buttons.events import RemindCrew


async def remind(update: Update, context: CallsheetContext, event_id: int) -> None:
    assert context.person is not None
    sent, away = await context.services.assignments.remind_now(
        event_id, actor=context.person, chat_id=chat_id(update)
    )
    if update.callback_query is not None:
        await update.callback_query.answer(f"Reminder sent to {sent} crew")
    await reply(update, context, "events/reminded", sent=sent, away=away)


@managers_only()
async def remind_command(update: Update, context: CallsheetContext) -> None:
    text = args_text(update)
    event_id = event_id_from(text)
    if event_id is None:
        if text:
            await reply(update, context, "events/not_an_event", text=text, command="remind")
        else:
            await pick_event(update, context, RemindCrew, "events/pick_remind")
        return
    await remind(update, context, event_id)


@managers_only()
async def remind_button(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    press = RemindCrew.parse(update.callback_query.data)
    assert press is not None
    await remind(update, context, press.event_id)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("remind", remind_command))
    application.add_handler(CallbackQueryHandler(remind_button, pattern=RemindCrew.matches))
