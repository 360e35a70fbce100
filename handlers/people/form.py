"""The people conversation: the guided /addcrew form (add.py) and typing a new value on a
card (edit.py) share one ConversationHandler, so starting one ends the other."""

from __future__ import annotations

import warnings

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetApplication, CallsheetContext
from handlers.people import add
from handlers.people._views import DRAFT, EDITING, Step, answer, edit, user_data
from handlers.people.edit import edit_field_start, edit_value
from handlers.shared import render
from services.buttons.people import CancelForm, EditField, SaveDraft, SkipEmail

END = ConversationHandler.END


async def cancel(update: Update, context: CallsheetContext) -> int:
    draft = user_data(context).pop(DRAFT, None)
    editing = user_data(context).pop(EDITING, None)
    had = draft is not None or editing is not None
    if update.callback_query is not None:
        await update.callback_query.answer("Cancelled.")
        await edit(update.callback_query, render(context, "people/cancelled", had=had), None)
    else:
        await answer(update, context, "people/cancelled", had=had)
    return END


def conversation() -> ConversationHandler[CallsheetContext]:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The form belongs to the manager, not to one message: their Skip, Save and Cancel
        # presses count from any message in their chat, which is what per_message=False means.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        return ConversationHandler(
            entry_points=[
                CommandHandler("addcrew", add.add_crew),
                CommandHandler("addmanager", add.add_manager),
                CallbackQueryHandler(edit_field_start, pattern=EditField.matches),
            ],
            states={
                Step.NAME: [MessageHandler(text, add.add_name)],
                Step.PHONE: [MessageHandler(text, add.add_phone)],
                Step.EMAIL: [
                    MessageHandler(text, add.add_email),
                    CallbackQueryHandler(add.add_skip_email, pattern=SkipEmail.matches),
                ],
                Step.ROLES: [MessageHandler(text, add.add_roles)],
                Step.CONFIRM: [
                    CallbackQueryHandler(add.add_save, pattern=SaveDraft.matches),
                    MessageHandler(text, add.add_confirm_text),
                ],
                Step.EDIT_VALUE: [MessageHandler(text, edit_value)],
            },
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=CancelForm.matches),
            ],
            allow_reentry=True,
            name="people",
        )


def register(application: CallsheetApplication) -> None:
    application.add_handler(conversation())
